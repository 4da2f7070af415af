/**
 * Requests counted by kind through S3Client's `onRequest` hook (every
 * attempt counts), for the benchmarks.
 *
 * @module
 */

import type { RequestEvent } from "../src/s3/client.ts";
import { type Requests, zeroRequests } from "./config.ts";

/** Requests counted through S3Client's onRequest hook. */
export class RequestCounter {
  requests: Requests = zeroRequests();
  /** The hook to pass as `onRequest`. */
  readonly hook = (e: RequestEvent): void => {
    const r = this.requests;
    const n = Math.max(1, e.attempts);
    switch (e.kind) {
      case "GET":
      case "GET_COND":
        r.get += n;
        break;
      case "PUT":
        r.put += n;
        break;
      case "LIST":
        r.list += n;
        break;
      case "DELETE":
        r.delete += n;
        break;
      case "DELETE_MANY":
        r.deleteMany += n;
        break;
      case "HEAD":
        r.head += n;
        break;
      default:
        r.other += n;
    }
    r.total += n;
  };
  /** Zeroes the counts. */
  reset(): void {
    this.requests = zeroRequests();
  }
}

/**
 * Error types shared by every layer. A leaf module: it imports only the
 * result codes.
 *
 * @module
 */

import { SQLITE_IOERR } from "./codes.ts";

/** Fields describing one failed S3 request. */
export interface S3ErrorInit {
  /** HTTP status (0 when no response arrived: network error or timeout). */
  status: number;
  /** S3 error code from the XML body (e.g. `NoSuchBucket`, `SlowDown`), or a local code. */
  code: string;
  /** Human readable message (from S3 when it sent one). */
  message: string;
  /** HTTP method of the request. */
  method: string;
  /** Bucket the request addressed. */
  bucket?: string;
  /** Object key the request addressed, if any. */
  key?: string;
  /** `x-amz-request-id` of the failed response, if any. */
  requestId?: string;
  /** Underlying error (network failure, abort...). */
  cause?: unknown;
}

/**
 * A failed S3 request: HTTP status, S3 error code, message, key and request id.
 * Never contains credentials.
 *
 * @example Inspecting a failure
 * ```ts
 * import { S3Error } from "@s3vfs/sqlite";
 * const err = new S3Error({ status: 503, code: "SlowDown", message: "Please reduce your request rate.", method: "GET", bucket: "b", key: "db/0000000003" });
 * console.log(err.message); // S3 503 SlowDown on GET b/db/0000000003: Please reduce your request rate.
 * ```
 */
export class S3Error extends Error {
  /** HTTP status, 0 when no response arrived. */
  readonly status: number;
  /** S3 error code, or a local one: `NetworkError`, `Timeout`. */
  readonly code: string;
  /** HTTP method. */
  readonly method: string;
  /** Bucket addressed. */
  readonly bucket?: string;
  /** Key addressed. */
  readonly key?: string;
  /** Request id reported by the server. */
  readonly requestId?: string;
  /** The server's (or local) message without the prefix. */
  readonly detail: string;

  /** Builds the error; the message names status, code, method and key. */
  constructor(init: S3ErrorInit) {
    const where = init.bucket ? `${init.bucket}${init.key ? "/" + init.key : ""}` : init.key ?? "";
    const status = init.status ? `${init.status} ` : "";
    super(
      `S3 ${status}${init.code} on ${init.method} ${where}${
        init.message ? ": " + init.message : ""
      }${init.requestId ? ` (request id ${init.requestId})` : ""}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.name = "S3Error";
    this.status = init.status;
    this.code = init.code;
    this.method = init.method;
    this.bucket = init.bucket;
    this.key = init.key;
    this.requestId = init.requestId;
    this.detail = init.message;
  }

  /** True for a failed `If-Match` / `If-None-Match` condition (412 or 409 conflict). */
  get isPreconditionFailed(): boolean {
    return this.status === 412 || this.code === "ConditionalRequestConflict";
  }

  /** A plain-object form that survives `postMessage`. */
  toJSON(): S3ErrorInit {
    return {
      status: this.status,
      code: this.code,
      message: this.detail,
      method: this.method,
      bucket: this.bucket,
      key: this.key,
      requestId: this.requestId,
    };
  }
}

/**
 * A failure inside the VFS that is not itself one S3 response: a closed VFS,
 * a bridge timeout, a malformed database source. `sqliteCode` is the
 * `SQLITE_*` result code reported to SQLite when it happened in a callback.
 */
export class VfsError extends Error {
  /** SQLite result code (extended) reported for this failure. */
  readonly sqliteCode: number;

  /** Builds the error. */
  constructor(message: string, options?: { sqliteCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VfsError";
    this.sqliteCode = options?.sqliteCode ?? SQLITE_IOERR;
  }
}

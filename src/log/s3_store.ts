/**
 * The protocol's store over a real S3 endpoint: each {@linkcode StoreOp} is
 * one signed request through {@linkcode S3Client.send}, answered as a
 * {@linkcode StoreResult} (statuses, never exceptions: 404, 409, 412 and 416
 * are answers; a request that got no answer is status 0). Idempotent
 * requests are retried by the client with backoff; conditional PUTs only when
 * the server said it did not process them (429, 503), since the protocol
 * resolves every other doubt itself (put ids, read-back).
 *
 * @module
 */

import { elapsed } from "../clock.ts";
import { S3Error } from "../errors.ts";
import type { S3Client } from "../s3/client.ts";
import type { Reply } from "../s3/transport.ts";
import { xmlElements, xmlText } from "../s3/xml.ts";
import type { AsyncStore } from "./driver.ts";
import type { ListEntry, Metadata, StoreOp, StoreResult } from "./store.ts";
import { gateWrite, type StoreCheckMode, type StoreCheckResult } from "./store_check.ts";

/** Options of {@linkcode S3LogStore}: the store check before the first write. */
export interface S3LogStoreOptions {
  /** What the check does (default `enforce`: writes to a store that fails it are refused). */
  storeCheck?: StoreCheckMode;
  /** The client the check's requests go through (default the store's; the VFS counts them apart). */
  checkClient?: S3Client;
  /** Called when this store ran the check. */
  onCheck?: (result: StoreCheckResult) => void;
}

const ANSWERS = [304, 404, 409, 412, 416];
/** Pauses before the extra attempts of a read that kept failing. */
const READ_DELAYS_MS = [100, 300, 900];
const decoder = new TextDecoder();

/** User metadata, ETag, sizes and times of an answer. */
function describeAnswer(h: Headers): Omit<StoreResult, "status"> {
  const meta: Metadata = {};
  for (const [name, value] of h) {
    if (name.startsWith("x-amz-meta-")) meta[name.slice("x-amz-meta-".length)] = value;
  }
  const out: Omit<StoreResult, "status"> = { meta };
  const date = h.get("date");
  if (date) out.date = Date.parse(date);
  const lm = h.get("last-modified");
  if (lm) out.lastModified = Date.parse(lm);
  const etag = h.get("etag");
  if (etag) out.etag = etag;
  const range = /\/(\d+)\s*$/.exec(h.get("content-range") ?? "");
  const length = h.get("content-length");
  if (range) out.size = Number(range[1]);
  else if (length !== null) out.size = Number(length);
  return out;
}

/**
 * Throws the S3Error of a 404 that names something other than a missing key
 * (NoSuchBucket; an unknown access key, which versitygw answers with 404):
 * only NoSuchKey, or a 404 without a code, means "absent".
 */
function notAbsent(method: string, bucket: string, key: string, r: Reply): void {
  const text = decoder.decode(r.body);
  const code = r.headers.get("x-minio-error-code") ?? xmlText(text, "Code");
  if (!code || code === "NoSuchKey") return;
  throw new S3Error({
    status: r.status,
    code,
    message: xmlText(text, "Message") ?? "",
    method,
    bucket,
    key,
    requestId: r.headers.get("x-amz-request-id") ?? undefined,
  });
}

/** Runs protocol operations against one bucket of an S3 endpoint. */
export class S3LogStore implements AsyncStore {
  #check: S3LogStoreOptions;
  #probe?: S3LogStore;

  /** Uses `client` (its retries, timeouts and accounting) on `bucket`. */
  constructor(readonly client: S3Client, readonly bucket: string, options: S3LogStoreOptions = {}) {
    this.#check = options;
  }

  /**
   * Performs one operation; S3 failures become results. Reads (GET, HEAD,
   * LIST) that still fail transiently after the client's own attempts are
   * tried again after 0.1, 0.3 and 0.9 s, then reported as final, so the
   * protocol does not repeat them at once.
   */
  async run(op: StoreOp): Promise<StoreResult> {
    if (op.kind === "put" || op.kind === "delete") {
      // Before the first write to the bucket: does the store enforce what writers rely on?
      this.#probe ??= new S3LogStore(this.#check.checkClient ?? this.client, this.bucket, {
        storeCheck: "off",
      });
      const probe = this.#probe;
      const answer = await gateWrite(
        op,
        {
          endpoint: this.client.config.endpoint,
          bucket: this.bucket,
          mode: this.#check.storeCheck ?? "enforce",
        },
        (o) => probe.run(o),
        this.#check.onCheck,
      );
      if (answer) return answer;
    }
    const read = op.kind === "get" || op.kind === "head" || op.kind === "list";
    for (let round = 0;; round++) {
      const r = await this.#attempt(op);
      const transient = r.status === 0 || r.status === 429 || r.status >= 500;
      if (!read || !transient) return r;
      if (round >= READ_DELAYS_MS.length) return { ...r, final: true };
      await new Promise((resolve) => setTimeout(resolve, READ_DELAYS_MS[round]));
    }
  }

  async #attempt(op: StoreOp): Promise<StoreResult> {
    try {
      return await this.#run(op);
    } catch (e) {
      if (e instanceof S3Error) return { status: e.status, message: e.message, error: e.toJSON() };
      return { status: 0, message: e instanceof Error ? e.message : String(e) };
    }
  }

  async #run(op: StoreOp): Promise<StoreResult> {
    const bucket = this.bucket;
    switch (op.kind) {
      case "get": {
        const headers: Record<string, string> = {};
        if (op.range) {
          if (op.range.length <= 0) return { status: 416 };
          headers.range = `bytes=${op.range.offset}-${op.range.offset + op.range.length - 1}`;
        }
        const r = await this.client.send({
          kind: "GET",
          method: "GET",
          bucket,
          key: op.key,
          headers,
          idempotent: true,
          accept: ANSWERS,
        });
        const info = describeAnswer(r.headers);
        if (r.status === 404) notAbsent("GET", bucket, op.key, r);
        if (r.status === 404 || r.status === 416) return { status: r.status, date: info.date };
        return { status: r.status === 206 ? 200 : r.status, body: r.body, ...info };
      }
      case "head": {
        const r = await this.client.send({
          kind: "HEAD",
          method: "HEAD",
          bucket,
          key: op.key,
          idempotent: true,
          accept: ANSWERS,
        });
        const info = describeAnswer(r.headers);
        if (r.status === 404) notAbsent("HEAD", bucket, op.key, r);
        return r.status === 404 ? { status: 404, date: info.date } : { status: r.status, ...info };
      }
      case "put": {
        const headers: Record<string, string> = {};
        if (op.ifNoneMatch) headers["if-none-match"] = "*";
        if (op.ifMatch !== undefined) {
          // An empty ETag would make the PUT unconditional: refuse it, never send it.
          if (op.ifMatch === "") {
            return { status: 400, message: `PUT ${op.key}: If-Match without an ETag (not sent)` };
          }
          headers["if-match"] = op.ifMatch;
        }
        for (const [name, value] of Object.entries(op.meta ?? {})) {
          headers[`x-amz-meta-${name}`] = value;
        }
        const conditional = !!(op.ifNoneMatch || op.ifMatch !== undefined);
        const r = await this.client.send({
          kind: "PUT",
          method: "PUT",
          bucket,
          key: op.key,
          headers,
          body: op.body,
          idempotent: !conditional,
          accept: ANSWERS,
          // A fenced write is sent once: a retry would go out later than the protocol checked.
          ...(op.sendBy !== undefined ? { maxAttempts: 1 } : {}),
          ...(op.timeoutMs !== undefined ? { timeoutMs: op.timeoutMs } : {}),
        });
        const info = describeAnswer(r.headers);
        return { status: r.status, date: info.date, etag: info.etag };
      }
      case "delete": {
        const r = await this.client.send({
          kind: "DELETE",
          method: "DELETE",
          bucket,
          key: op.key,
          idempotent: true,
          accept: [404],
        });
        return { status: r.status === 404 ? 204 : r.status, date: describeAnswer(r.headers).date };
      }
      case "list": {
        const query: Record<string, string> = { "list-type": "2", prefix: op.prefix };
        if (op.startAfter) query["start-after"] = op.startAfter;
        const r = await this.client.send({
          kind: "LIST",
          method: "GET",
          bucket,
          query,
          idempotent: true,
        });
        const text = decoder.decode(r.body);
        const entries: ListEntry[] = xmlElements(text, "Contents").map((c) => ({
          key: xmlText(c, "Key") ?? "",
          size: Number(xmlText(c, "Size") ?? 0),
          etag: xmlText(c, "ETag") ?? "",
          lastModified: Date.parse(xmlText(c, "LastModified") ?? ""),
        }));
        return {
          status: r.status,
          date: describeAnswer(r.headers).date,
          entries,
          truncated: xmlText(text, "IsTruncated") === "true",
        };
      }
      case "clock":
        return { status: 200, clock: elapsed() };
    }
  }
}

/**
 * The object-store interface the protocol speaks, sans-IO. An algorithm is a
 * generator that yields a batch of {@linkcode StoreOp}s (operations that may
 * run concurrently) and receives one {@linkcode StoreResult} per operation, in
 * the same order. A driver performs them: the VFS over S3, or the
 * deterministic simulator one operation at a time.
 *
 * Results are never thrown: a failed request is a result whose `status` says
 * what happened (0 when no answer arrived: the request may or may not have been
 * applied). The helpers here retry idempotent operations on transient failures.
 *
 * @module
 */

import { S3Error, type S3ErrorInit } from "../errors.ts";
import { LogStoreError } from "./errors.ts";

/** User metadata (`x-amz-meta-<name>`), names in lower case without the prefix. */
export type Metadata = Record<string, string>;

/** A byte range of an object. */
export interface ByteRange {
  /** First byte. */
  offset: number;
  /** Number of bytes (a range past the end returns what exists). */
  length: number;
}

/** GET an object (or a byte range): body, ETag, metadata, Last-Modified; 404 when absent. */
export interface GetOp {
  /** Operation. */
  kind: "get";
  /** Object key. */
  key: string;
  /** Only these bytes. */
  range?: ByteRange;
}

/** HEAD an object: ETag, size, metadata, Last-Modified; 404 when absent. */
export interface HeadOp {
  /** Operation. */
  kind: "head";
  /** Object key. */
  key: string;
}

/**
 * PUT an object. `ifNoneMatch` creates only (412 if it exists); `ifMatch`
 * replaces only that version (412 if changed; 404 on MinIO if absent). A lost
 * race may also answer 409 ConditionalRequestConflict.
 */
export interface PutOp {
  /** Operation. */
  kind: "put";
  /** Object key. */
  key: string;
  /** The whole object. */
  body: Uint8Array;
  /** `If-None-Match: *`. */
  ifNoneMatch?: true;
  /** `If-Match: <etag>`. */
  ifMatch?: string;
  /** User metadata. */
  meta?: Metadata;
  /**
   * A fenced write (the checkpoint claim, docs/protocol.md 16): the driver
   * must not send it once its local clock reads this value or more (it
   * answers `unsent` instead), and the store sends it once, without retries.
   */
  sendBy?: number;
  /** Upper bound on the attempt timeout of this request, in ms. */
  timeoutMs?: number;
}

/** DELETE an object (204 also when absent). The protocol never relies on `If-Match` here. */
export interface DeleteOp {
  /** Operation. */
  kind: "delete";
  /** Object key. */
  key: string;
}

/** One page of ListObjectsV2, keys in byte order. */
export interface ListOp {
  /** Operation. */
  kind: "list";
  /** Only keys starting with this. */
  prefix: string;
  /** Only keys sorting after this. */
  startAfter?: string;
}

/** Not a request: the local monotonic clock in ms (only ever used to measure elapsed time). */
export interface ClockOp {
  /** Operation. */
  kind: "clock";
}

/** Everything an algorithm may ask its driver for. */
export type StoreOp = GetOp | HeadOp | PutOp | DeleteOp | ListOp | ClockOp;

/** One object of a listing. */
export interface ListEntry {
  /** Full key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** ETag. */
  etag: string;
  /** Last-Modified in ms (a listing has ms precision; headers have seconds). */
  lastModified: number;
}

/** Why writes are refused (the store check's answer to a write; drivers throw it). */
export interface Refusal {
  /** The store's endpoint. */
  endpoint: string;
  /** The bucket. */
  bucket: string;
  /** Missing capabilities. */
  missing: string[];
  /** What each answered, and what that means. */
  detail: string;
}

/** The answer to one {@linkcode StoreOp}. */
export interface StoreResult {
  /** HTTP status: 2xx done, 404 absent, 412/409 lost race, 5xx/429 transient, 0 no answer. */
  status: number;
  /** The server's clock (the `Date` header), ms since the epoch, when an answer arrived. */
  date?: number;
  /** ETag of the object (GET, HEAD, PUT). */
  etag?: string;
  /** Body (GET). */
  body?: Uint8Array;
  /** Total object size (GET, HEAD). */
  size?: number;
  /** Last-Modified in ms (GET, HEAD). */
  lastModified?: number;
  /** User metadata (GET, HEAD). */
  meta?: Metadata;
  /** Listed objects (LIST). */
  entries?: ListEntry[];
  /** More keys follow (LIST). */
  truncated?: boolean;
  /** Local monotonic clock in ms (CLOCK). */
  clock?: number;
  /** What went wrong, for messages. */
  message?: string;
  /** The S3 failure behind a failed answer (status, code, key, request id), when known. */
  error?: S3ErrorInit;
  /** The driver already retried this read with backoff: a transient failure is final. */
  final?: boolean;
  /** The request was not sent at all (a fenced write past its `sendBy`); `status` is 0. */
  unsent?: boolean;
  /** Not sent: the store check refuses writes to this store (drivers throw `UnsafeStoreError`). */
  refused?: Refusal;
}

/** The answer a driver gives a fenced write it did not send. */
export const UNSENT: Readonly<StoreResult> = Object.freeze({
  status: 0,
  unsent: true,
  message: "not sent: its send-by time had passed",
});

/** The S3 failure behind a result, as an error to chain as a cause. */
export function causeOf(r: StoreResult): S3Error | undefined {
  return r.error ? new S3Error(r.error) : undefined;
}

/** An algorithm: yields batches of operations, receives their results, returns a `T`. */
export type Step<T> = Generator<StoreOp[], T, StoreResult[]>;

/** 2xx. */
export function isSuccess(r: StoreResult): boolean {
  return r.status >= 200 && r.status < 300;
}

/**
 * 404 NoSuchKey (or a 404 without a code): the object does not exist. A 404
 * naming something else (NoSuchBucket; versitygw's answer to an unknown
 * access key) is a failure, never an absence.
 */
export function isAbsent(r: StoreResult): boolean {
  return r.status === 404 && (r.error === undefined || r.error.code === "NoSuchKey");
}

/** 412 PreconditionFailed or 409 ConditionalRequestConflict: a conditional write lost. */
export function isLostRace(r: StoreResult): boolean {
  return r.status === 412 || r.status === 409;
}

/** No answer, 429 or 5xx: the request may be repeated (and may have been applied). */
export function isTransient(r: StoreResult): boolean {
  return r.status === 0 || r.status === 429 || r.status >= 500;
}

/** Default attempts of an idempotent request before giving up. */
export const DEFAULT_ATTEMPTS = 8;

/** A short description of an operation, for error messages. */
export function describe(op: StoreOp): string {
  if (op.kind === "clock") return "CLOCK";
  if (op.kind === "list") {
    return `LIST ${op.prefix}${op.startAfter ? ` after ${op.startAfter}` : ""}`;
  }
  return `${op.kind.toUpperCase()} ${op.key}`;
}

/** Reads the local monotonic clock. */
export function* clock(): Step<number> {
  const [r] = yield [{ kind: "clock" }];
  if (r.clock === undefined) throw new LogStoreError("the driver gave no clock reading", 0);
  return r.clock;
}

/**
 * Runs idempotent operations concurrently, repeating those that failed
 * transiently (up to `attempts` rounds). Any other status is returned as is.
 * Throws {@linkcode LogStoreError} when a transient failure persists.
 */
export function* idempotent(ops: StoreOp[], attempts = DEFAULT_ATTEMPTS): Step<StoreResult[]> {
  const results: StoreResult[] = new Array(ops.length);
  let todo = ops.map((_, i) => i);
  for (let round = 1; todo.length > 0; round++) {
    const got = yield todo.map((i) => ops[i]);
    const again: number[] = [];
    todo.forEach((i, k) => {
      results[i] = got[k];
      if (isTransient(got[k]) && !got[k].final) again.push(i);
    });
    const gaveUp = todo.find((i) => isTransient(results[i]) && results[i].final);
    if (gaveUp !== undefined || (again.length > 0 && round >= attempts)) {
      const i = gaveUp ?? again[0];
      const r = results[i];
      throw new LogStoreError(
        `${describe(ops[i])} failed${
          gaveUp === undefined ? ` ${attempts} times` : ""
        }: ${r.status} ${r.message ?? ""}`,
        r.status,
        causeOf(r),
      );
    }
    todo = again;
  }
  return results;
}

/** One idempotent operation (see {@linkcode idempotent}). */
export function* request(op: StoreOp, attempts = DEFAULT_ATTEMPTS): Step<StoreResult> {
  const [r] = yield* idempotent([op], attempts);
  return r;
}

/** Throws unless `r` is 2xx (or 404 when `absentOk`). */
export function expectOk(op: StoreOp, r: StoreResult, absentOk = false): StoreResult {
  if (isSuccess(r) || (absentOk && isAbsent(r))) return r;
  throw new LogStoreError(
    `${describe(op)}: unexpected ${r.status} ${r.message ?? ""}`,
    r.status,
    causeOf(r),
  );
}

/** The result of {@linkcode listAll}. */
export interface Listing {
  /** Every entry, in key order. */
  entries: ListEntry[];
  /** Server time of the first page (no later than anything done after the listing). */
  date: number;
}

/**
 * Lists every key under `prefix` after `startAfter`, page by page, stopping
 * early once a page ends at or past `stopAt`.
 */
export function* listAll(prefix: string, startAfter?: string, stopAt?: string): Step<Listing> {
  const entries: ListEntry[] = [];
  let date: number | undefined;
  let after = startAfter;
  for (;;) {
    const op: ListOp = { kind: "list", prefix, startAfter: after };
    const r = expectOk(op, yield* request(op));
    date ??= r.date;
    const page = r.entries ?? [];
    entries.push(...page);
    if (!r.truncated || page.length === 0) break;
    after = page[page.length - 1].key;
    if (stopAt !== undefined && after >= stopAt) break;
  }
  if (date === undefined) throw new LogStoreError(`LIST ${prefix}: no Date header`, 0);
  return { entries, date };
}

/**
 * Runs several algorithms side by side: each round gathers the operations all
 * of them are waiting for into one batch. Returns their results in order.
 */
export function* parallel<T>(steps: Step<T>[]): Step<T[]> {
  const out: T[] = new Array(steps.length);
  const current = steps.map((s) => s.next());
  for (;;) {
    const batch: StoreOp[] = [];
    const spans: [number, number, number][] = [];
    current.forEach((c, i) => {
      if (c.done) {
        out[i] = c.value;
      } else {
        spans.push([i, batch.length, c.value.length]);
        batch.push(...c.value);
      }
    });
    if (spans.length === 0) return out;
    const results = yield batch;
    for (const [i, start, n] of spans) current[i] = steps[i].next(results.slice(start, start + n));
  }
}

/**
 * Throws a clear {@linkcode LogStoreError} unless the answer `r` to `op`
 * carries each of `fields` (an ETag, a `Date`, a `Last-Modified`): the
 * protocol never goes on without what it relies on (an ETag missing from a
 * conditional write's answer must never turn into an unconditional write).
 */
export function requireFields(
  op: StoreOp,
  r: StoreResult,
  fields: ("etag" | "date" | "lastModified")[],
): StoreResult {
  const names = { etag: "an ETag", date: "a Date header", lastModified: "a Last-Modified" };
  for (const f of fields) {
    if (r[f] === undefined || r[f] === "") {
      throw new LogStoreError(
        `${describe(op)} answered ${r.status} without ${names[f]}: the store does not give ` +
          "what the commit log relies on (docs/protocol.md section 2)",
        r.status,
      );
    }
  }
  return r;
}

/** The `Date` of a result, which every answer must carry. */
export function dateOf(op: StoreOp, r: StoreResult): number {
  if (r.date === undefined) throw new LogStoreError(`${describe(op)}: no Date header`, r.status);
  return r.date;
}

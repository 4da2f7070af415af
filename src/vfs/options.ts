/**
 * Options of {@linkcode S3VFS} and the open flags users pass to `@db/sqlite`.
 *
 * @module
 */

import {
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
} from "../ffi/constants.ts";
import { checkBlockSize, DEFAULT_BLOCK_SIZE } from "../blocks.ts";
import { checkLeaseTtl } from "../log/lease.ts";
import { checkTiming, DEFAULT_TIMING, type Timing } from "../log/rules.ts";
import { type ResolvedS3Config, resolveS3Config, type S3ConnectionOptions } from "../s3/config.ts";

/** Options of `new S3VFS(...)`. Unset connection fields come from the environment. */
export interface S3VFSOptions extends S3ConnectionOptions {
  /** Bucket holding the databases. Default: env `S3VFS_BUCKET`. */
  bucket?: string;
  /** Bytes per block object (default 4096, as sqlite-s3vfs; independent of the page size). */
  blockSize?: number;
  /** Name to register under (default `s3vfs-<n>`). Must be unique in the process. */
  name?: string;
  /** Register as the default VFS, so plain paths open through S3 (default false). */
  makeDefault?: boolean;
  /** libsqlite3 to register in (default: the copy already loaded, DENO_SQLITE_PATH, the system one). */
  libraryPath?: string;
  /** Byte budget of the block cache shared by this VFS's connections (default 64 MiB; 0 disables). */
  cacheBytes?: number;
  /**
   * Read-ahead on sequential reads: the window starts at `initial` blocks and
   * doubles up to `max` (default 4 and 64). `false` disables it.
   */
  readAhead?: false | { initial?: number; max?: number };
  /** S3 requests in flight per batch (default 64); when set, also the serialize/deserialize window (default 16 MiB of blocks, at most 64 requests). */
  concurrency?: number;
  /**
   * Timing of the commit-log protocol recorded in databases this VFS creates
   * (docs/protocol.md section 5): grace period before a commit is folded,
   * commit lag, history kept, stage age, margin; whole seconds. Defaults:
   * 60 s, 30 s, 15 min, 1 h, 2 s. An existing database keeps its own.
   */
  timing?: Partial<Timing>;
  /**
   * Background maintenance (folding the log into the block objects, deleting
   * old history) is asked for whenever this process knows of a commit older
   * than the grace period, after a commit, when a read-write connection opens
   * a database and when its last connection closes; and at least every
   * `checkpointEvery` commits (default 32).
   */
  checkpointEvery?: number;
  /**
   * How long `close()` lets background maintenance in progress go on (default
   * 10,000 ms). Past it the run stops at its next batch and gives its claim up;
   * the blocks it wrote stay, and the next process goes on from there.
   */
  closeWaitMs?: number;
  /**
   * Bytes of changed blocks a write transaction keeps in memory (default 64
   * MiB); past it they are staged in S3 as chunks, which COMMIT references.
   */
  maxDirtyBytes?: number;
  /** Upper bound on one batch of S3 I/O, retries included (default: timeoutMs x maxAttempts + 10 s). */
  bridgeTimeoutMs?: number;
  /**
   * The writer lease (docs/protocol.md 15). On by default: a process takes
   * it at its first write transaction, keeps it while writes keep coming and
   * gives it up after `idleMs` (default 30 s) without one, or when its last
   * connection to the database closes. While it holds it, read transactions
   * make no S3 request and a commit is one PUT; other writers get
   * SQLITE_BUSY (`PRAGMA busy_timeout` waits) until it is released, or
   * `ttlMs` (default W + 4 M + 2 s of the database's timing: 40 s; at least W + 4 M)
   * after its holder stopped renewing it. `false`: never take it, never wait
   * for it (use the same setting in every process writing a database).
   */
  lease?: false | { ttlMs?: number; idleMs?: number };
  /**
   * The store check before the first write to a bucket (once per process):
   * about 15 small requests that try the conditional PUTs concurrent writers
   * rely on. `"enforce"` (default): a store that ignores them gets no write
   * at all (`UnsafeStoreError`; reads keep working). `"single-writer"`:
   * written anyway, with a warning; only safe when exactly one process ever
   * writes the bucket.
   */
  storeCheck?: "enforce" | "single-writer";
  /**
   * Read transactions may use a snapshot proven current at most this many ms
   * ago without asking S3 (default 0: every read transaction sees every
   * commit acknowledged before it began). Per connection: the `staleness`
   * URI parameter ({@linkcode UriOptions}).
   */
  staleness?: number;
}

/** Options of `S3VFS.uri`. */
export interface UriOptions {
  /** This connection's staleness bound in ms (see {@linkcode S3VFSOptions.staleness}). */
  staleness?: number;
  /**
   * Open the database as it was at this txid, or at this time (the state
   * after the newest commit written at or before it): a read-only snapshot
   * of the kept history (see `S3VFS.history`).
   */
  at?: number | Date;
}

/** Checks a staleness bound: a whole number of ms, at least 0. */
export function checkStaleness(ms: number, what: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`${what} must be a whole number of ms >= 0, got ${ms}`);
  }
  return ms;
}

/** Lease settings from the option (null: off); the TTL is checked against `timing`. */
export function resolveLease(
  option: S3VFSOptions["lease"],
  timing: Timing,
): { ttlMs?: number; idleMs: number } | null {
  if (option === false) return null;
  if (option !== undefined && (typeof option !== "object" || option === null)) {
    throw new TypeError(`lease must be false or { ttlMs?, idleMs? }, got ${option}`);
  }
  // Unset: derived from each database's own timing (W + 4 M + 2 s).
  const ttlMs = option?.ttlMs === undefined ? undefined : checkLeaseTtl(option.ttlMs, timing);
  const idleMs = option?.idleMs ?? 30_000;
  if (!Number.isSafeInteger(idleMs) || idleMs < 0) {
    throw new RangeError(`lease.idleMs must be a whole number of ms >= 0, got ${idleMs}`);
  }
  return { ttlMs, idleMs };
}

/**
 * The open flags users pass: `SQLITE_OPEN_READONLY`, `SQLITE_OPEN_READWRITE`,
 * `SQLITE_OPEN_CREATE` and `SQLITE_OPEN_URI` (needed for `file:...?vfs=` names),
 * defined in src/ffi/constants.ts.
 */
export {
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
} from "../ffi/constants.ts";

/**
 * Open flags for a read-write connection (created if absent) by
 * {@linkcode S3VFS.uri}: pass as `@db/sqlite`'s `flags` option.
 */
export const OPEN_READWRITE: number = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI;
/** Open flags for a read-only connection by {@linkcode S3VFS.uri}. */
export const OPEN_READONLY: number = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;

/** Every option of an S3VFS, checked and with its default, before anything starts. */
export interface ResolvedVfsOptions {
  /** Bucket. */
  bucket: string;
  /** Endpoint, region, credentials, timeouts. */
  s3: ResolvedS3Config;
  /** Block size of new databases. */
  blockSize: number;
  /** Requests in flight per batch. */
  concurrency: number;
  /** Cache budget in bytes. */
  cacheBytes: number;
  /** Read-ahead window, or null. */
  readAhead: { initial: number; max: number } | null;
  /** Timing recorded in new databases (undefined: the defaults). */
  timing?: Timing;
  /** Commits between background checkpoint requests. */
  checkpointEvery: number;
  /** How long close() lets background maintenance go on. */
  closeWaitMs: number;
  /** Bytes of changed blocks kept in memory. */
  spillBytes: number;
  /** Writer lease settings, or null (off). */
  lease: { ttlMs?: number; idleMs: number } | null;
  /** The store check's mode. */
  storeCheck: "enforce" | "single-writer";
  /** Staleness bound of read transactions. */
  staleness: number;
  /** Upper bound on one bridge call. */
  bridgeTimeoutMs: number;
}

/**
 * Checks every option of `new S3VFS(options)` and fills in the defaults:
 * TypeError or RangeError naming the option, before the library is loaded or
 * the worker started.
 */
export function resolveVfsOptions(options: S3VFSOptions): ResolvedVfsOptions {
  const s3 = resolveS3Config(options);
  let bucket = options.bucket;
  if (bucket === undefined) {
    try {
      bucket = Deno.env.get("S3VFS_BUCKET");
    } catch { /* no env permission */ }
  }
  if (!bucket) throw new TypeError("S3VFS needs a bucket: pass `bucket` or set S3VFS_BUCKET");
  const blockSize = checkBlockSize(options.blockSize ?? DEFAULT_BLOCK_SIZE);
  if (blockSize < 512) {
    throw new RangeError(`blockSize must be at least 512 for a VFS, got ${blockSize}`);
  }
  const concurrency = options.concurrency ?? 64;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const readAhead = options.readAhead === false ? null : {
    initial: options.readAhead?.initial ?? 4,
    max: options.readAhead?.max ?? 64,
  };
  if (readAhead && !(readAhead.initial >= 1 && readAhead.max >= readAhead.initial)) {
    throw new RangeError(`readAhead needs 1 <= initial <= max, got ${JSON.stringify(readAhead)}`);
  }
  const timing = options.timing ? checkTiming({ ...DEFAULT_TIMING, ...options.timing }) : undefined;
  const checkpointEvery = options.checkpointEvery ?? 32;
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 1)) {
    throw new RangeError(`checkpointEvery must be a positive integer, got ${checkpointEvery}`);
  }
  const closeWaitMs = options.closeWaitMs ?? 10_000;
  if (!Number.isSafeInteger(closeWaitMs) || closeWaitMs < 0) {
    throw new RangeError(`closeWaitMs must be a whole number of ms >= 0, got ${closeWaitMs}`);
  }
  const storeCheck = options.storeCheck ?? "enforce";
  if (storeCheck !== "enforce" && storeCheck !== "single-writer") {
    throw new TypeError(`storeCheck must be "enforce" or "single-writer", got ${storeCheck}`);
  }
  const spillBytes = options.maxDirtyBytes ?? 64 * 1024 * 1024;
  if (!(spillBytes >= blockSize)) {
    throw new RangeError(
      `maxDirtyBytes must be at least the block size, got ${options.maxDirtyBytes}`,
    );
  }
  return {
    bucket,
    s3,
    blockSize,
    concurrency,
    cacheBytes: options.cacheBytes ?? 64 * 1024 * 1024,
    readAhead,
    timing,
    checkpointEvery,
    closeWaitMs,
    spillBytes,
    lease: resolveLease(options.lease, timing ?? DEFAULT_TIMING),
    storeCheck,
    staleness: checkStaleness(options.staleness ?? 0, "staleness"),
    bridgeTimeoutMs: options.bridgeTimeoutMs ?? s3.timeoutMs * s3.maxAttempts + 10_000,
  };
}

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
import { checkLeaseTtl } from "../log/lease.ts";
import type { Timing } from "../log/rules.ts";
import type { S3ConnectionOptions } from "../s3/config.ts";

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
  /** Commits of one process between two background checkpoint runs (default 32). */
  checkpointEvery?: number;
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

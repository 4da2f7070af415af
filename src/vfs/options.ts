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

/**
 * SQLite databases that live in S3, for Deno.
 *
 * {@linkcode S3VFS} is a SQLite VFS registered in libsqlite3 through Deno FFI:
 * every database is stored as fixed-size block objects
 * (`<prefix>/<10-digit block index>`, the layout of the Python
 * sqlite-s3vfs, so databases move freely between the two). Open connections
 * with `@db/sqlite` by key prefix; stream whole databases to and from S3 as
 * Web Streams.
 *
 * @example Open a database in S3 with @db/sqlite
 * ```ts
 * import { Database } from "@db/sqlite";
 * import { OPEN_READWRITE, S3VFS } from "@s3vfs/sqlite";
 *
 * // bucket from S3VFS_BUCKET; endpoint, region and credentials from the AWS_* variables
 * using vfs = new S3VFS();
 * const db = new Database(vfs.uri("my/path/cool.sqlite"), { flags: OPEN_READWRITE });
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
 * db.exec("INSERT INTO notes (body) VALUES (?)", "hello from S3");
 * const row = db.prepare("SELECT count(*) AS n FROM notes").get<{ n: number }>();
 * if (!row || row.n < 1) throw new Error("the row is not there");
 * db.close(); // close connections before the VFS
 * ```
 *
 * @example Back up and restore a whole database as a stream
 * ```ts
 * import { Database } from "@db/sqlite";
 * import { OPEN_READWRITE, S3VFS } from "@s3vfs/sqlite";
 *
 * using vfs = new S3VFS();
 * const db = new Database(vfs.uri("my/path/stream.sqlite"), { flags: OPEN_READWRITE });
 * db.exec("CREATE TABLE IF NOT EXISTS t (x)");
 * db.close();
 * const file = await Deno.makeTempFile({ suffix: ".sqlite" });
 * await vfs.serializeToFile("my/path/stream.sqlite", file, {
 *   onProgress: ({ bytes, total }) => console.log(`${bytes} / ${total} bytes`),
 * });
 * await vfs.deserializeFromFile("my/path/copy.sqlite", file, { overwrite: true });
 * await Deno.remove(file);
 * ```
 *
 * @module
 */

export { S3VFS } from "./src/vfs/vfs.ts";
export type { CheckpointCallOptions } from "./src/vfs/checkpoint_call.ts";
export {
  type CapabilityId,
  type CapabilityRow,
  checkStore,
  type CheckStoreOptions,
  type Latency,
  type Need,
  type StoreReport,
  type Verdict,
} from "./src/vfs/check_store.ts";
export {
  OPEN_READONLY,
  OPEN_READWRITE,
  type S3VFSOptions,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
  type UriOptions,
} from "./src/vfs/options.ts";
export type { MaintenanceStats, VfsStats } from "./src/vfs/stats.ts";
export type {
  DatabaseInfo,
  HistoryEntry,
  LeaseInfo,
  RestoreOptions,
  RestoreResult,
} from "./src/vfs/time_travel.ts";
export {
  DatabaseReplacedError,
  HistoryGoneError,
  LeaseBusyError,
  StoreContractError,
  UnsafeStoreError,
} from "./src/log/errors.ts";
export type { CacheCounters } from "./src/vfs/cache.ts";
export { S3Error, type S3ErrorInit, VfsError } from "./src/errors.ts";
export type { S3ConnectionOptions, S3Credentials } from "./src/s3/config.ts";
export type { Timing } from "./src/log/rules.ts";
export type { CheckpointOutcome, CheckpointProgress } from "./src/log/checkpoint.ts";
export type { RetentionOutcome } from "./src/log/retention.ts";
export {
  type DeserializeFromObjectOptions,
  type DeserializeOptions,
  type DeserializeResult,
  type DeserializeSource,
  parseS3Url,
  type S3ObjectLocation,
  type SerializeOptions,
  type SerializeToObjectOptions,
  type SerializeToObjectResult,
  type TransferProgress,
} from "./src/streams/mod.ts";

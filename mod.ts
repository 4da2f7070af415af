/**
 * SQLite databases that live in S3, for Deno.
 *
 * {@linkcode S3VFS} is a SQLite VFS registered in libsqlite3 through Deno FFI:
 * every database is stored as fixed-size block objects
 * (`<prefix>/<10-digit block index>`, the layout of the Python
 * sqlite-s3vfs, so databases move freely between the two). Open connections
 * with `@db/sqlite` by key prefix. Writes are buffered and written back at
 * commit, reads go through a revalidated block cache with read-ahead, and
 * whole databases stream to and from S3 as Web Streams.
 *
 * @example Open a database in S3 with @db/sqlite
 * ```ts ignore
 * import { Database } from "@db/sqlite";
 * import { OPEN_READWRITE, S3VFS } from "@s3vfs/sqlite";
 *
 * // endpoint, region and credentials default to the AWS_* environment variables
 * using vfs = new S3VFS({ bucket: "my-bucket", endpoint: "http://127.0.0.1:9000" });
 * const db = new Database(vfs.uri("my/path/cool.sqlite"), { flags: OPEN_READWRITE });
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
 * db.exec("INSERT INTO notes (body) VALUES (?)", "hello from S3");
 * console.log(db.prepare("SELECT count(*) AS n FROM notes").get());
 * db.close(); // close connections before the VFS
 * console.log(vfs.stats().requests);
 * ```
 *
 * @example Back up and restore a whole database as a stream
 * ```ts ignore
 * import { S3VFS } from "@s3vfs/sqlite";
 * using vfs = new S3VFS({ bucket: "my-bucket" });
 * await vfs.serializeToFile("my/path/cool.sqlite", "backup.sqlite", {
 *   onProgress: ({ bytes, total }) => console.log(`${bytes} / ${total} bytes`),
 * });
 * await vfs.deserializeFromFile("my/path/copy.sqlite", "backup.sqlite");
 * await vfs.serializeToObject("my/path/cool.sqlite", "s3://archive-bucket/cool.sqlite");
 * ```
 *
 * @module
 */

export { S3VFS } from "./src/vfs/vfs.ts";
export {
  OPEN_READONLY,
  OPEN_READWRITE,
  type S3VFSOptions,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
} from "./src/vfs/options.ts";
export type { VfsStats } from "./src/vfs/stats.ts";
export type { CacheCounters } from "./src/vfs/cache.ts";
export { S3Error, type S3ErrorInit, VfsError } from "./src/errors.ts";
export {
  type CompletedPart,
  type GetOptions,
  type GetResult,
  type HeadResult,
  type ListEntry,
  type ListOptions,
  type PutOptions,
  type RequestEvent,
  type RequestKind,
  S3Client,
  type S3ClientOptions,
} from "./src/s3/client.ts";
export type { ResolvedS3Config, S3ConnectionOptions, S3Credentials } from "./src/s3/config.ts";
export { mapLimit } from "./src/s3/retry.ts";
export { blockKey, DEFAULT_BLOCK_SIZE } from "./src/blocks.ts";
export {
  type BlockStoreContext,
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
export { parseSqliteHeader, type SqliteHeader } from "./src/header.ts";

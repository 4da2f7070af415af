/**
 * Whole-database transfer between a database in S3 and plain SQLite bytes:
 * {@linkcode serialize} (a database -> a `ReadableStream` of the file's bytes)
 * and {@linkcode deserialize} (any byte source -> a database), plus file and
 * S3-object conveniences. Both go through the database's commit log
 * (docs/protocol.md): the base blocks keep the layout of the Python
 * sqlite-s3vfs, objects `<prefix>/<10-digit block index>`, every block
 * `blockSize` bytes except the last, and the log's companion objects live
 * under `<prefix>.s3vfs/`, so databases move freely between the two (Python
 * reads what was written here once a checkpoint has folded the log).
 *
 * Memory stays bounded whatever the database size: serialize holds at most
 * two windows of `concurrency` blocks (one handed out, the next one
 * fetching); deserialize one staged chunk being filled plus two uploading
 * (together about `concurrency` blocks, 1 to 4 MiB each; chunk buffers are
 * reused). Each request in flight costs a few times its body inside `fetch`,
 * and V8 frees those copies only some tens of MiB later, so with large
 * blocks keep `concurrency` small. Chunks handed out by
 * {@linkcode serialize} belong to the reader; {@linkcode serializeToFile} and
 * {@linkcode serializeToObject} free each one as soon as it is written.
 *
 * Consistency of {@linkcode serialize}: it is one snapshot. It cold-opens the
 * database through the log (3 round trips; a database without companion
 * objects, e.g. Python's, is read at txid 0 from its blocks) and reads every
 * block at that txid: commits landing meanwhile (from the VFS, another
 * process, or a concurrent deserialize) are never mixed in. A serialize that
 * outlives the database's grace period (60 s by default) while a checkpoint
 * folds newer commits may meet "snapshot too old": before the first chunk it
 * starts over from a fresh snapshot (up to `maxRetries` times), later the
 * stream errors with a {@linkcode VfsError} "database ... changed during
 * serialize (snapshot too old ...)". It never ends normally with a torn file.
 *
 * Failure guarantees of {@linkcode deserialize}: it is one commit. A
 * non-SQLite source is refused before anything is written, an existing
 * database without `overwrite` before anything is read. The source is
 * staged as chunk objects under `<prefix>.s3vfs/stage/<txid>.<putid>/`,
 * invisible to readers, and one create-only PUT of the commit object
 * `<prefix>.s3vfs/log/<txid>` then makes the whole new content and size
 * visible at once to every reader (blocks past a smaller new end are dropped
 * by the commit; a checkpoint later turns them into empty tombstones). A
 * truncated or failing source, an S3 error while staging or an abort leave
 * the target exactly as it was (new or existing; the staged chunks are
 * deleted). If another commit took the txid meanwhile, the deserialize fails
 * with "database ... changed during deserialize ...; retry" and changes
 * nothing; other commit outcomes (not applied, or unknown after a lost
 * answer) are clear errors too. Staged chunks of a failed commit are removed
 * by the log's retention.
 *
 * @module
 */

export type {
  BlockStoreContext,
  DeserializeFromObjectOptions,
  DeserializeOptions,
  DeserializeResult,
  DeserializeSource,
  S3ObjectLocation,
  SerializeOptions,
  SerializeToObjectOptions,
  SerializeToObjectResult,
  TransferProgress,
} from "./types.ts";
export { serialize } from "./serialize.ts";
export { deserialize } from "./deserialize.ts";
export {
  deserializeFromFile,
  deserializeFromObject,
  parseS3Url,
  serializeToFile,
  serializeToObject,
} from "./endpoints.ts";

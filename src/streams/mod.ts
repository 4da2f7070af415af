/**
 * Whole-database transfer between a block prefix in S3 and plain SQLite
 * bytes: {@linkcode serialize} (blocks -> a `ReadableStream` of the file's
 * bytes) and {@linkcode deserialize} (any byte source -> blocks), plus
 * file and S3-object conveniences. The layout is the one of the Python
 * sqlite-s3vfs: objects `<prefix>/<10-digit block index>`, every block
 * `blockSize` bytes except the last, so databases move freely between the two.
 *
 * Memory stays bounded whatever the database size: serialize keeps at most
 * `concurrency` blocks in flight, deserialize at most `concurrency` blocks
 * uploading plus the block being filled and block 0 (block buffers are
 * reused). Each request in flight costs a few times `blockSize` inside
 * `fetch`, and V8 frees those copies only some tens of MiB later, so with
 * large blocks keep `concurrency` small: 1 MiB blocks x 2 in flight moved a
 * 268 MiB database both ways at about 130 MiB/s with a peak RSS of about
 * 115 MiB (bench/memory_stream.ts). Chunks handed out by {@linkcode serialize}
 * belong to the reader; {@linkcode serializeToFile} and
 * {@linkcode serializeToObject} free each one as soon as it is written.
 *
 * Consistency of {@linkcode serialize}: it LISTs the prefix (a snapshot of
 * every block's ETag), checks every GET against that snapshot, and before
 * handing out the last chunk LISTs again and checks the journal
 * (`<prefix>-journal`): any change, or a hot journal (a write transaction in
 * progress or interrupted), errors the stream with a {@linkcode VfsError}
 * `database ... changed during serialize ...; retry`. A change seen before the
 * first chunk was handed out restarts from a fresh LIST (up to `maxRetries`
 * times) instead, so a reader never gets a torn file that ends normally.
 *
 * Failure guarantees of {@linkcode deserialize}: a non-SQLite source and an
 * existing target without `overwrite` are refused before anything is written.
 * Block 0 (the header) is written last. Into an empty prefix, blocks go in
 * place and any failure (a truncated source, a source that errors, an S3
 * error, an abort) deletes every block written, leaving the prefix empty.
 * Over an existing database (`overwrite: true`), blocks are staged under
 * `<prefix>.s3vfs-staging-<random>/` and the target is not touched until the
 * whole source has arrived and been validated, so the same failures leave the
 * target exactly as it was; only then are the staged blocks moved into place
 * with server-side copies, block 0 last, and stale blocks past the new end
 * deleted. A failure during that final move (an S3 error after retries) leaves
 * the target inconsistent and is reported as such, with the complete staged
 * copy kept for a re-run.
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

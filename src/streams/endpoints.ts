/**
 * The file and S3-object ends of the stream transfers:
 * {@linkcode serializeToFile}, {@linkcode deserializeFromFile},
 * {@linkcode serializeToObject}, {@linkcode deserializeFromObject}, and
 * {@linkcode parseS3Url} for their `s3://bucket/key` arguments.
 *
 * @module
 */

import { bareEtag, blockIndexOf } from "../blocks.ts";
import { VfsError } from "../errors.ts";
import { deserialize } from "./deserialize.ts";
import { serialize } from "./serialize.ts";
import { randomHex, release } from "./shared.ts";
import type {
  BlockStoreContext,
  DeserializeFromObjectOptions,
  DeserializeOptions,
  DeserializeResult,
  S3ObjectLocation,
  SerializeOptions,
  SerializeToObjectOptions,
  SerializeToObjectResult,
} from "./types.ts";
import { BlockFiller, UploadWindow } from "./uploads.ts";

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * MiB;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
const DEFAULT_PIECE_SIZE = 8 * MiB;
const FILE_BUFFER_SIZE = 256 * 1024;

/**
 * Parses `s3://bucket/key`. Throws a TypeError naming the problem for
 * anything else (another scheme, no bucket, no key).
 *
 * @example Splitting a URL
 * ```ts
 * import { parseS3Url } from "@s3vfs/sqlite";
 * const { bucket, key } = parseS3Url("s3://backups/2024/app.db");
 * if (bucket !== "backups" || key !== "2024/app.db") throw new Error(`${bucket} ${key}`);
 * ```
 */
export function parseS3Url(url: string): S3ObjectLocation {
  if (typeof url !== "string") {
    throw new TypeError(`an S3 URL must be a string like s3://bucket/key, got ${typeof url}`);
  }
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/is.exec(url);
  if (!m) throw new TypeError(`not an S3 URL: ${JSON.stringify(url)} (expected s3://bucket/key)`);
  const [, bucket, key] = m;
  if (!bucket) {
    throw new TypeError(
      `S3 URL without a bucket: ${JSON.stringify(url)} (expected s3://bucket/key)`,
    );
  }
  if (!/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(bucket)) {
    throw new TypeError(
      `S3 URL with an invalid bucket name ${JSON.stringify(bucket)}: ${JSON.stringify(url)}`,
    );
  }
  if (!key) {
    throw new TypeError(
      `S3 URL without an object key: ${JSON.stringify(url)} (expected s3://bucket/key)`,
    );
  }
  return { bucket, key };
}

/**
 * Writes the database stored under `prefix` to the local file `path`
 * (see {@linkcode serialize}). The bytes go to a temporary file next to it,
 * renamed over `path` only once the whole database has been read and checked,
 * so a failed serialize never leaves a partial file at `path`.
 *
 * Users call it as the matching `S3VFS` method.
 */
export async function serializeToFile(
  ctx: BlockStoreContext,
  prefix: string,
  path: string | URL,
  options: SerializeOptions = {},
): Promise<{ bytes: number }> {
  const tmp = typeof path === "string"
    ? `${path}.s3vfs-partial-${randomHex(6)}`
    : new URL(`${path.href}.s3vfs-partial-${randomHex(6)}`);
  const reader = serialize(ctx, prefix, options).getReader();
  let file: Deno.FsFile | undefined;
  let bytes = 0;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      const chunk = r.value;
      for (let o = 0; o < chunk.length;) o += await file.write(chunk.subarray(o));
      bytes += chunk.length;
      release(chunk);
    }
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    closeQuietly(file);
    await Deno.remove(tmp).catch(() => {});
    // A file-system failure names the temporary file: say it about the file asked for.
    if (err instanceof Error && err.message.includes(String(tmp))) {
      const named = new Error(err.message.replaceAll(String(tmp), String(path)));
      named.name = err.name;
      throw named;
    }
    throw err;
  }
  return { bytes };
}

/**
 * Stores the local SQLite file `path` under `prefix` (see
 * {@linkcode deserialize}; the file's size is the progress total).
 *
 * Users call it as the matching `S3VFS` method.
 */
export async function deserializeFromFile(
  ctx: BlockStoreContext,
  prefix: string,
  path: string | URL,
  options: DeserializeOptions = {},
): Promise<DeserializeResult> {
  const file = await Deno.open(path, { read: true });
  let size: number;
  try {
    size = (await file.stat()).size;
  } catch (err) {
    file.close();
    throw err;
  }
  try {
    return await deserialize(ctx, prefix, readChunks(file, FILE_BUFFER_SIZE), {
      ...options,
      size: options.size ?? size,
    });
  } finally {
    closeQuietly(file);
  }
}

/** Closes `file` unless it is undefined or already closed. */
function closeQuietly(file: Deno.FsFile | undefined): void {
  try {
    file?.close();
  } catch {
    // already closed
  }
}

/** Reads `file` into one reused buffer (deserialize copies each chunk before asking for the next). */
async function* readChunks(file: Deno.FsFile, bufferSize: number): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(bufferSize);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) return;
    if (n > 0) yield buffer.subarray(0, n);
  }
}

/**
 * Writes the database stored under `prefix` to the S3 object `s3url`
 * (`s3://bucket/key`) with a multipart upload fed by {@linkcode serialize}:
 * memory stays at one part being filled plus at most two uploading. A
 * database smaller than one part is sent with a single PUT. On any failure
 * the multipart upload is aborted, so no object (or the previous one) is
 * left at `s3url`.
 *
 * Users call it as the matching `S3VFS` method.
 */
export async function serializeToObject(
  ctx: BlockStoreContext,
  prefix: string,
  s3url: string,
  options: SerializeToObjectOptions = {},
): Promise<SerializeToObjectResult> {
  const { bucket, key } = parseS3Url(s3url);
  const partSize = options.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new RangeError(
      `partSize must be an integer between ${MIN_PART_SIZE} and ${MAX_PART_SIZE}, got ${partSize}`,
    );
  }
  if (
    bucket === ctx.bucket &&
    (blockIndexOf(prefix, key) !== undefined || key.startsWith(prefix + "/") ||
      key.startsWith(prefix + ".s3vfs/"))
  ) {
    throw new TypeError(
      `serializeToObject target ${s3url} is inside the database's own prefix ${prefix}/ ` +
        `or its companion objects ${prefix}.s3vfs/`,
    );
  }
  const { client } = ctx;
  const contentType = options.contentType ?? "application/vnd.sqlite3";
  const reader = serialize(ctx, prefix, options).getReader();
  const filler = new BlockFiller(partSize); // part buffers are reused once their upload settled
  let bytes = 0;
  let uploadId: string | undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  let partCount = 0;
  const uploads = new UploadWindow();

  const sendPart = async (body: Uint8Array): Promise<void> => {
    uploadId ??= await client.createMultipartUpload(bucket, key, contentType);
    await uploads.waitBelow(2);
    uploads.throwIfFailed();
    const partNumber = ++partCount;
    if (partNumber > MAX_PARTS) {
      throw new RangeError(
        `the database needs more than ${MAX_PARTS} parts of ${partSize} bytes: raise partSize`,
      );
    }
    const id = uploadId;
    uploads.add(
      client.uploadPart(bucket, key, id, partNumber, body),
      (done) => {
        parts.push(done);
      },
      () => filler.recycle(body),
    );
  };

  try {
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      const chunk = r.value;
      bytes += chunk.length;
      await filler.write(chunk, sendPart);
      release(chunk);
      uploads.throwIfFailed();
    }
    if (uploadId === undefined) {
      const { etag } = await client.put(bucket, key, filler.rest(), { contentType });
      return { bytes, etag, parts: 0 };
    }
    if (filler.filled > 0) await sendPart(filler.rest());
    await uploads.settle();
    uploads.throwIfFailed();
    const { etag } = await client.completeMultipartUpload(bucket, key, uploadId, parts);
    return { bytes, etag, parts: parts.length };
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    await uploads.settle();
    if (uploadId !== undefined) {
      await client.abortMultipartUpload(bucket, key, uploadId).catch(() => {});
    }
    throw err;
  }
}

/**
 * Stores the SQLite database held in the S3 object `s3url`
 * (`s3://bucket/key`) under `prefix`, reading it with ranged GETs of
 * `pieceSize` bytes (one piece prefetched) into {@linkcode deserialize}. The
 * source object must not change while it is read (its ETag is checked on
 * every piece).
 *
 * Users call it as the matching `S3VFS` method.
 */
export async function deserializeFromObject(
  ctx: BlockStoreContext,
  prefix: string,
  s3url: string,
  options: DeserializeFromObjectOptions = {},
): Promise<DeserializeResult> {
  const { bucket, key } = parseS3Url(s3url);
  const pieceSize = options.pieceSize ?? DEFAULT_PIECE_SIZE;
  if (!Number.isInteger(pieceSize) || pieceSize < 1) {
    throw new RangeError(`pieceSize must be a positive integer, got ${pieceSize}`);
  }
  const { client } = ctx;
  const info = await client.head(bucket, key);
  if (!info) throw new VfsError(`the source object ${s3url} does not exist`);
  const size = info.size;
  const etag = bareEtag(info.etag);
  const internal = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, internal.signal])
    : internal.signal;

  const fetchPiece = async (offset: number): Promise<Uint8Array> => {
    const length = Math.min(pieceSize, size - offset);
    const r = await client.get(bucket, key, { range: { offset, length }, signal });
    if (r.status !== "ok") {
      throw new VfsError(`the source object ${s3url} was deleted while it was read`);
    }
    if (bareEtag(r.etag) !== etag || r.size !== size) {
      throw new VfsError(`the source object ${s3url} changed while it was read`);
    }
    if (r.body.length !== length) {
      throw new VfsError(
        `short read of ${s3url} at ${offset}: ${r.body.length} of ${length} bytes`,
      );
    }
    return r.body;
  };

  async function* pieces(): AsyncGenerator<Uint8Array> {
    let offset = 0;
    let nextPiece: Promise<Uint8Array> | undefined;
    try {
      while (offset < size) {
        const current = nextPiece ?? fetchPiece(offset);
        const after = offset + Math.min(pieceSize, size - offset);
        nextPiece = after < size ? fetchPiece(after) : undefined;
        nextPiece?.catch(() => {}); // observed when awaited; never unhandled
        const piece = await current;
        yield piece; // deserialize copies it before asking for more
        release(piece);
        offset = after;
      }
    } finally {
      internal.abort();
    }
  }

  return await deserialize(ctx, prefix, pieces(), { ...options, size: options.size ?? size });
}

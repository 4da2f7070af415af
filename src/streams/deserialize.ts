/**
 * {@linkcode deserialize}: a plain SQLite database from any byte source,
 * stored as blocks under a prefix - in place into an empty prefix, through a
 * staging prefix over an existing database - with the failure guarantees
 * described in the streams module documentation.
 *
 * @module
 */

import { blockKey, checkBlockSize, listBlocks } from "../blocks.ts";
import { SQLITE_NOTADB } from "../codes.ts";
import { VfsError } from "../errors.ts";
import { HEADER_SIZE, parseSqliteHeader, SQLITE_MAGIC, type SqliteHeader } from "../header.ts";
import { mapLimit } from "../s3/retry.ts";
import { checkConcurrency, errorText, raceAbort, randomHex } from "./shared.ts";
import type {
  BlockStoreContext,
  DeserializeOptions,
  DeserializeResult,
  DeserializeSource,
} from "./types.ts";
import { BlockFiller, UploadWindow } from "./uploads.ts";

/** An async iterator over the source's chunks (nothing is read yet). */
function sourceIterator(source: DeserializeSource): AsyncIterator<Uint8Array> {
  if (source instanceof Uint8Array) {
    return (async function* (): AsyncGenerator<Uint8Array> {
      yield source;
    })();
  }
  if (source instanceof ReadableStream) return source[Symbol.asyncIterator]();
  if (source && typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function") {
    return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }
  if (source && typeof (source as Iterable<Uint8Array>)[Symbol.iterator] === "function") {
    const it = (source as Iterable<Uint8Array>)[Symbol.iterator]();
    return {
      next: (): Promise<IteratorResult<Uint8Array>> => Promise.resolve(it.next()),
      return: (): Promise<IteratorResult<Uint8Array>> =>
        Promise.resolve(it.return?.() ?? { done: true, value: undefined }),
    };
  }
  throw new TypeError(
    "deserialize source must be a ReadableStream, an (async) iterable of Uint8Array or a Uint8Array",
  );
}

/** Why the source was not accepted, decided once the source has ended. */
function checkComplete(total: number, head: Uint8Array, header: SqliteHeader | undefined): void {
  if (!header) {
    const n = Math.min(head.length, SQLITE_MAGIC.length);
    const looksLikeSqlite = head.subarray(0, n).every((b, i) => b === SQLITE_MAGIC[i]);
    throw new VfsError(
      looksLikeSqlite
        ? `truncated SQLite database: the source ended after ${total} bytes, inside the ${HEADER_SIZE}-byte header`
        : `not a SQLite database: the source is only ${total} bytes and does not start with "SQLite format 3\\0"`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  if (total % header.pageSize !== 0) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes is not a multiple of the page size ${header.pageSize}`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  if (header.pageCountValid && total < header.pageCount * header.pageSize) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes, but the header says ${header.pageCount} pages of ` +
        `${header.pageSize} bytes (${header.pageCount * header.pageSize} bytes)`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
}

/**
 * Stores a plain SQLite database read from `source` as blocks of
 * `ctx.blockSize` bytes under `prefix`, at most `ctx.concurrency` uploads in
 * flight. Chunks may have any size. The header is validated before anything
 * is written, block 0 is written last, and a completed overwrite deletes the
 * old blocks past the new end. A zero-byte source is the empty database (it
 * stores no block); 1 to 99 bytes are refused as truncated.
 *
 * Refused with a {@linkcode VfsError}, leaving the target as it was (see the
 * module documentation for the exact guarantees): a source that is not a
 * SQLite database, a truncated one (shorter than 100 bytes, not a multiple of
 * the page size, or shorter than the header's page count), a source that
 * errors, an existing database under `prefix` without `overwrite: true`.
 *
 * Users call it as `S3VFS.deserialize`.
 */
export async function deserialize(
  ctx: BlockStoreContext,
  prefix: string,
  source: DeserializeSource,
  options: DeserializeOptions = {},
): Promise<DeserializeResult> {
  const it = sourceIterator(source);
  let sourceDone = false;
  const closeSource = async (): Promise<void> => {
    if (sourceDone) return;
    sourceDone = true;
    try {
      await it.return?.();
    } catch {
      // the source failed; nothing more to release
    }
  };
  try {
    return await deserializeFrom(ctx, prefix, it, options, () => (sourceDone = true));
  } finally {
    await closeSource();
  }
}

async function deserializeFrom(
  ctx: BlockStoreContext,
  prefix: string,
  it: AsyncIterator<Uint8Array>,
  options: DeserializeOptions,
  markDone: () => void,
): Promise<DeserializeResult> {
  const { client, bucket } = ctx;
  const blockSize = checkBlockSize(ctx.blockSize);
  const concurrency = checkConcurrency(ctx.concurrency, ctx.blockSize);
  const { signal, onProgress } = options;
  const where = `s3://${bucket}/${prefix}`;
  signal?.throwIfAborted();

  const existing = await listBlocks(client, bucket, prefix);
  if (existing.length > 0 && !options.overwrite) {
    throw new VfsError(
      `${where} already holds a database (${existing.length} blocks); pass overwrite: true to replace it`,
    );
  }
  const staging = existing.length > 0 ? `${prefix}.s3vfs-staging-${randomHex(8)}` : undefined;
  const writePrefix = staging ?? prefix;

  // --- state
  const head = new Uint8Array(HEADER_SIZE);
  let headLength = 0;
  let header: SqliteHeader | undefined;
  let total = 0;
  // Full block buffers are reused once their PUT has settled: no garbage per block.
  const filler = new BlockFiller(blockSize);
  let index = 0;
  let block0: Uint8Array | undefined;
  const pending: { index: number; data: Uint8Array }[] = []; // blocks seen before the header was
  const written = new Set<number>(); // indices whose PUT under writePrefix started
  const uploads = new UploadWindow();
  let stored = 0;
  let progressTotal = options.size;

  const report = (): void => onProgress?.({ bytes: stored, total: progressTotal });

  const upload = async (i: number, data: Uint8Array): Promise<void> => {
    await uploads.waitBelow(concurrency, signal);
    uploads.throwIfFailed();
    signal?.throwIfAborted();
    written.add(i);
    uploads.add(
      client.put(bucket, blockKey(writePrefix, i), data),
      () => {
        stored += data.length;
        report();
      },
      () => filler.recycle(data),
    );
  };

  const emit = async (i: number, data: Uint8Array): Promise<void> => {
    if (i === 0) block0 = data;
    else if (!header) pending.push({ index: i, data });
    else await upload(i, data);
  };

  const cleanup = async (): Promise<string> => {
    await uploads.settle();
    const keys = [...written].map((i) => blockKey(writePrefix, i));
    try {
      if (keys.length) await client.deleteMany(bucket, keys);
      return staging
        ? `the existing database at ${where} was not modified`
        : `nothing was left under ${where}`;
    } catch (err) {
      return `cleaning up the ${keys.length} blocks written under s3://${bucket}/${writePrefix}/ also failed ` +
        `(${errorText(err)}); delete them by hand`;
    }
  };

  // --- phase 1: read the whole source, uploading (to staging when overwriting)
  try {
    while (true) {
      const r = await raceAbort(it.next(), signal);
      if (r.done) break;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`deserialize source yielded a ${typeof chunk}, not a Uint8Array`);
      }
      if (options.size !== undefined && total + chunk.length > options.size) {
        throw new VfsError(`the source is longer than its stated size of ${options.size} bytes`);
      }
      if (!header && headLength < HEADER_SIZE) {
        const n = Math.min(HEADER_SIZE - headLength, chunk.length);
        head.set(chunk.subarray(0, n), headLength);
        headLength += n;
        if (
          headLength >= SQLITE_MAGIC.length &&
          !head.subarray(0, SQLITE_MAGIC.length).every((b, i) => b === SQLITE_MAGIC[i])
        ) {
          parseSqliteHeader(head); // throws "not a SQLite database"
        }
        if (headLength === HEADER_SIZE) {
          header = parseSqliteHeader(head);
          if (progressTotal === undefined && header.pageCountValid) {
            progressTotal = header.pageCount * header.pageSize;
          }
        }
      }
      total += chunk.length;
      await filler.write(chunk, (block) => emit(index++, block));
      if (header && pending.length) {
        for (const p of pending.splice(0)) await upload(p.index, p.data);
      }
      uploads.throwIfFailed();
    }
    markDone();
    if (filler.filled > 0) await emit(index++, filler.rest().slice());
    if (total > 0) checkComplete(total, head.subarray(0, headLength), header);
    if (options.size !== undefined && total !== options.size) {
      throw new VfsError(
        `the source ended after ${total} bytes, short of its stated size of ${options.size} bytes`,
      );
    }
    for (const p of pending.splice(0)) await upload(p.index, p.data);
    await uploads.settle();
    uploads.throwIfFailed();
  } catch (err) {
    const outcome = await cleanup();
    if (signal?.aborted) throw signal.reason;
    throw new VfsError(`deserialize into ${where} failed: ${errorText(err)}; ${outcome}`, {
      cause: err,
      sqliteCode: err instanceof VfsError ? err.sqliteCode : undefined,
    });
  }

  // --- phase 2: commit (block 0 last)
  const blocks = index;
  progressTotal = total;
  if (!staging) {
    try {
      if (block0) {
        signal?.throwIfAborted();
        written.add(0);
        await client.put(bucket, blockKey(prefix, 0), block0);
        stored += block0.length;
      }
    } catch (err) {
      const outcome = await cleanup();
      if (signal?.aborted) throw signal.reason;
      throw new VfsError(
        `deserialize into ${where} failed writing block 0: ${errorText(err)}; ${outcome}`,
        {
          cause: err,
        },
      );
    }
    report();
    return { bytes: total, blocks };
  }
  try {
    await mapLimit(
      [...written].sort((a, b) => a - b),
      concurrency,
      (i) => client.copy(bucket, blockKey(staging, i), blockKey(prefix, i)),
    );
    if (block0) {
      await client.put(bucket, blockKey(prefix, 0), block0);
      stored += block0.length;
    }
  } catch (err) {
    throw new VfsError(
      `deserialize into ${where} failed while moving the staged blocks into place (${
        errorText(err)
      }): ` +
        `the database at ${where} is now INCONSISTENT (old header, partly new pages); the complete new ` +
        `database minus block 0 is still staged under s3://${bucket}/${staging}/ - run the deserialize again`,
      { cause: err },
    );
  }
  try {
    const now = await listBlocks(client, bucket, prefix);
    const stale = now.filter((b) => b.index >= blocks).map((b) => b.key);
    if (stale.length) await client.deleteMany(bucket, stale);
  } catch (err) {
    throw new VfsError(
      `the database at ${where} was replaced, but deleting the old blocks past its new end (block ${blocks} ` +
        `on) failed (${errorText(err)}); the staged copy under s3://${bucket}/${staging}/ was kept`,
      { cause: err },
    );
  }
  if (written.size) {
    try {
      await client.deleteMany(bucket, [...written].map((i) => blockKey(staging, i)));
    } catch (err) {
      throw new VfsError(
        `the database at ${where} was replaced completely, but deleting the staged copy under ` +
          `s3://${bucket}/${staging}/ failed (${errorText(err)}); delete it by hand`,
        { cause: err },
      );
    }
  }
  report();
  return { bytes: total, blocks };
}

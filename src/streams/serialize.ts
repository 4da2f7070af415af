/**
 * {@linkcode serialize}: one consistent snapshot of a database, read back as
 * one `ReadableStream` of the plain SQLite file's bytes (see the streams
 * module documentation).
 *
 * @module
 */

import { blockCount } from "../blocks.ts";
import { VfsError } from "../errors.ts";
import { SnapshotTooOldError } from "../log/errors.ts";
import { openAt } from "../log/history.ts";
import { checkDatabaseName } from "../log/keys.ts";
import type { DbState } from "../log/snapshot.ts";
import { readBlocks } from "../log/read.ts";
import { ANY_BLOCK_SIZE, logRunner, openStored } from "./log_io.ts";
import { checkConcurrency, errorText, release } from "./shared.ts";
import type { BlockStoreContext, SerializeOptions } from "./types.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Default bytes of blocks fetched per window (two windows are in flight at once). */
const WINDOW_BYTES = 8 * 1024 * 1024;

/** Most bytes of one chunk handed out (consecutive blocks joined). */
const CHUNK_BYTES = 1024 * 1024;

/** Blocks per window: those that fit in `windowBytes`, at least one. */
function windowBlocks(windowBytes: number, blockSize: number): number {
  return Math.max(1, Math.floor(windowBytes / blockSize));
}

/** `parts` joined into one array of `size` bytes. */
function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Streams the exact bytes of the database stored under `prefix`, as of one
 * snapshot: a cold open through the commit log (a database without companion
 * objects, e.g. written by Python sqlite-s3vfs, is read at txid 0 from its
 * blocks), then the blocks in order, fetched in windows of
 * `options.windowBytes` (8 MiB; the next window fetched while one is handed
 * out) with at most `ctx.concurrency` requests in flight; blocks whose
 * versions lie side by side in one commit object or chunk come in one ranged
 * GET. Chunks are consecutive blocks, up to 1 MiB (or one block when bigger),
 * never empty; an absent database gives an empty stream.
 * Nothing is requested until the stream is first read. A write committed
 * meanwhile is never seen: the bytes are exactly those of one committed
 * version.
 *
 * A serialize lasting longer than the database's grace period while a
 * checkpoint folds newer commits may meet "snapshot too old": it starts over
 * from a fresh snapshot when nothing was handed out yet (up to `maxRetries`
 * times), else the stream errors with a {@linkcode VfsError} "database ...
 * changed during serialize (snapshot too old ...)". Stored objects that
 * contradict the layout (a missing block, a block of the wrong size) error
 * the stream too; it never ends normally with a torn file.
 *
 * @example Read a database's bytes (an absent prefix gives an empty stream)
 * ```ts
 * import { S3Client } from "../s3/client.ts";
 * import { serialize } from "./serialize.ts";
 * const ctx = { client: new S3Client(), bucket: Deno.env.get("S3VFS_BUCKET")!, blockSize: 4096 };
 * const bytes = await new Response(serialize(ctx, "no/such/db.sqlite")).bytes();
 * if (bytes.length !== 0) throw new Error(`${bytes.length} bytes`);
 * ```
 */
export function serialize(
  ctx: BlockStoreContext,
  prefix: string,
  options: SerializeOptions = {},
): ReadableStream<Uint8Array> {
  checkDatabaseName(prefix);
  const concurrency = checkConcurrency(ctx.concurrency, ctx.blockSize);
  const maxRetries = options.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(`maxRetries must be a non-negative integer, got ${maxRetries}`);
  }
  const windowBytes = options.windowBytes ?? WINDOW_BYTES;
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 1) {
    throw new RangeError(`windowBytes must be a positive integer, got ${windowBytes}`);
  }
  const chunkBytes = Math.min(CHUNK_BYTES, windowBytes);
  const { signal, onProgress } = options;
  const where = `s3://${ctx.bucket}/${prefix}`;

  let attempt = new AbortController();
  let st: DbState | null | undefined;
  let count = 0;
  let window = 1;
  let next = 0;
  let windows = new Map<number, Promise<Uint8Array[]>>();
  let bytesOut = 0;
  let retries = 0;
  let onAbort: (() => void) | undefined;

  const runner = () =>
    logRunner(
      ctx,
      signal ? AbortSignal.any([signal, attempt.signal]) : attempt.signal,
      concurrency,
    );
  let run = runner();

  const stop = (): void => {
    attempt.abort();
    windows = new Map();
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    onAbort = undefined;
  };

  /** Starts fetching the window of blocks beginning at `start` (if it exists and is not started). */
  const fetchWindow = (state: DbState, start: number): void => {
    if (start >= count || windows.has(start)) return;
    const indexes: number[] = [];
    for (let i = start; i < Math.min(start + window, count); i++) indexes.push(i);
    const p = run(readBlocks(state, indexes)).then((blocks) => {
      for (const i of indexes) state.cache.delete(i); // memory stays bounded by the windows
      return blocks;
    });
    p.catch(() => {}); // observed when awaited; never unhandled
    windows.set(start, p);
  };

  /** Hands out the next chunk (consecutive blocks of one window), or closes the stream. */
  const step = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    if (st === undefined) {
      st = options.at === undefined
        ? await openStored(run, prefix, [undefined, ANY_BLOCK_SIZE])
        : await run(openAt(prefix, options.at));
      count = st ? blockCount(st.size, st.config.blockSize) : 0;
      if (st) window = windowBlocks(windowBytes, st.config.blockSize);
    }
    const state = st;
    if (!state || next >= count) {
      stop();
      controller.close();
      return;
    }
    const start = next - (next % window);
    fetchWindow(state, start);
    fetchWindow(state, start + window);
    const blocks = await windows.get(start)!;
    const parts: Uint8Array[] = [];
    let size = 0;
    const bs = state.config.blockSize;
    while (next < start + blocks.length && (size === 0 || size + bs <= chunkBytes)) {
      const block = blocks[next - start];
      if (block.length === 0) throw new VfsError(`block ${next} is empty below the end`);
      parts.push(block);
      size += block.length;
      next++;
    }
    if (next === start + blocks.length) windows.delete(start);
    const chunk = parts.length === 1 ? parts[0] : concat(parts, size);
    if (parts.length > 1) parts.forEach(release); // copied; out of the cache since the window came
    controller.enqueue(chunk);
    bytesOut += chunk.length;
    onProgress?.({ bytes: bytesOut, total: state.size });
    if (next === count) {
      stop();
      controller.close();
    }
  };

  return new ReadableStream<Uint8Array>({
    start(controller): void {
      if (!signal) return;
      if (signal.aborted) {
        controller.error(signal.reason);
        return;
      }
      onAbort = (): void => {
        stop();
        try {
          controller.error(signal.reason);
        } catch {
          // already closed or errored
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller): Promise<void> {
      while (true) {
        try {
          signal?.throwIfAborted();
          await step(controller);
          return;
        } catch (err) {
          if (signal?.aborted) {
            stop();
            throw signal.reason;
          }
          if (err instanceof SnapshotTooOldError && bytesOut === 0 && retries < maxRetries) {
            // Nothing handed out yet: start again from a fresh snapshot.
            attempt.abort();
            attempt = new AbortController();
            run = runner();
            windows = new Map();
            st = undefined;
            next = count = 0;
            await sleep(Math.random() * 100 * 2 ** retries++);
            continue;
          }
          stop();
          if (err instanceof SnapshotTooOldError) {
            throw new VfsError(
              `database ${where} changed during serialize (${
                err.message.replace(/; retry the transaction$/, "")
              }); ` +
                (bytesOut > 0
                  ? `the ${bytesOut} bytes already read are not a consistent copy; `
                  : "") +
                "retry the serialize",
              { cause: err, sqliteCode: err.sqliteCode },
            );
          }
          if (err instanceof VfsError) {
            throw new VfsError(`cannot serialize ${where}: ${errorText(err)}`, {
              cause: err,
              sqliteCode: err.sqliteCode,
            });
          }
          throw err;
        }
      }
    },
    cancel(): void {
      stop();
    },
  }, { highWaterMark: 0 });
}

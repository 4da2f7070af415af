/**
 * {@linkcode serialize}: the blocks of a database under a prefix, read back
 * as one `ReadableStream` of the plain SQLite file's bytes, with the
 * consistency checks described in the streams module documentation.
 *
 * @module
 */

import { bareEtag, type BlockEntry, hasHotJournal, listBlocks } from "../blocks.ts";
import { VfsError } from "../errors.ts";
import { checkConcurrency } from "./shared.ts";
import type { BlockStoreContext, SerializeOptions } from "./types.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Checks that the blocks are 0..n-1 with every block but the last of equal size; returns the total size. */
function checkLayout(blocks: readonly BlockEntry[], bucket: string, prefix: string): number {
  let total = 0;
  const full = blocks.length ? blocks[0].size : 0;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (b.index !== i) {
      throw new VfsError(
        `cannot serialize s3://${bucket}/${prefix}: block ${i} is missing (the next block stored is ${b.index}); ` +
          "the stored database has a gap and is not a complete file",
      );
    }
    if (i < blocks.length - 1 && (b.size !== full || full === 0)) {
      throw new VfsError(
        `cannot serialize s3://${bucket}/${prefix}: block ${i} holds ${b.size} bytes but block 0 holds ${full}; ` +
          "every block except the last must be full",
      );
    }
    total += b.size;
  }
  return total;
}

/** A concurrent change seen by serialize (retried when nothing was handed out yet). */
class ChangedError extends VfsError {}

type Fetched =
  | { ok: true; body: Uint8Array; etag: string; present: boolean }
  | { ok: false; error: unknown };

/**
 * Streams the exact bytes of the plain SQLite file stored under `prefix`:
 * one LIST, then GETs of the blocks with at most `ctx.concurrency` in flight
 * (a sliding window), handed out in order, one chunk per block. Chunks are
 * never empty; a prefix without blocks gives an empty stream. Nothing is
 * requested until the stream is first read.
 *
 * The stream errors with a {@linkcode VfsError} when the stored layout is
 * not a complete file (a missing block in the middle, a short block that is
 * not the last) and when the database changes while it is read (see the
 * module documentation); it never ends normally with a torn file.
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
  const { client, bucket } = ctx;
  const concurrency = checkConcurrency(ctx.concurrency, ctx.blockSize);
  const maxRetries = options.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(`maxRetries must be a non-negative integer, got ${maxRetries}`);
  }
  const journal = options.journalPrefix === undefined ? `${prefix}-journal` : options.journalPrefix;
  const { signal, onProgress } = options;
  const where = `s3://${bucket}/${prefix}`;

  let attempt = new AbortController();
  let blocks: BlockEntry[] | undefined;
  let total = 0;
  let next = 0;
  let started = 0;
  let fetches = new Map<number, Promise<Fetched>>();
  let bytesOut = 0;
  let retries = 0;
  let onAbort: (() => void) | undefined;

  const stop = (): void => {
    attempt.abort();
    fetches = new Map();
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    onAbort = undefined;
  };

  const fill = (list: BlockEntry[]): void => {
    while (started < list.length && started < next + concurrency) {
      const b = list[started++];
      fetches.set(
        b.index,
        client.get(bucket, b.key, { signal: attempt.signal }).then(
          (r): Fetched =>
            r.status === "ok"
              ? { ok: true, body: r.body, etag: bareEtag(r.etag), present: true }
              : { ok: true, body: new Uint8Array(0), etag: "", present: false },
          (error): Fetched => ({ ok: false, error }),
        ),
      );
    }
  };

  const verifyUnchanged = async (list: BlockEntry[]): Promise<void> => {
    if (journal !== null && await hasHotJournal(client, bucket, journal, attempt.signal)) {
      throw new ChangedError(`a write transaction started: hot journal under ${journal}/`);
    }
    const now = await listBlocks(client, bucket, prefix);
    if (now.length !== list.length) {
      throw new ChangedError(`it now has ${now.length} blocks instead of ${list.length}`);
    }
    for (let i = 0; i < now.length; i++) {
      const a = list[i];
      const b = now[i];
      if (a.index !== b.index || a.etag !== b.etag || a.size !== b.size) {
        throw new ChangedError(`block ${a.index} was rewritten`);
      }
    }
  };

  /** Hands out the next chunk, or closes the stream. */
  const step = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    if (!blocks) {
      if (journal !== null && await hasHotJournal(client, bucket, journal, attempt.signal)) {
        throw new ChangedError(
          `hot journal under ${journal}/: a write transaction is in progress or was interrupted`,
        );
      }
      const list = await listBlocks(client, bucket, prefix);
      total = checkLayout(list, bucket, prefix);
      blocks = list;
    }
    const list = blocks;
    while (true) {
      if (next >= list.length) {
        stop();
        controller.close();
        return;
      }
      fill(list);
      const b = list[next];
      const f = await fetches.get(b.index)!;
      fetches.delete(b.index);
      if (!f.ok) throw f.error;
      if (!f.present) throw new ChangedError(`block ${b.index} was deleted`);
      if (f.etag !== b.etag || f.body.length !== b.size) {
        throw new ChangedError(`block ${b.index} was rewritten`);
      }
      next++;
      const last = next === list.length;
      if (last) await verifyUnchanged(list);
      if (f.body.length > 0) {
        controller.enqueue(f.body);
        bytesOut += f.body.length;
        onProgress?.({ bytes: bytesOut, total });
      }
      if (last) {
        stop();
        controller.close();
        return;
      }
      if (f.body.length > 0) return;
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
          if (err instanceof ChangedError && bytesOut === 0 && retries < maxRetries) {
            // Nothing handed out yet: start again from a fresh LIST.
            attempt.abort();
            attempt = new AbortController();
            fetches = new Map();
            blocks = undefined;
            next = started = 0;
            await sleep(Math.random() * 100 * 2 ** retries++);
            continue;
          }
          stop();
          if (err instanceof ChangedError) {
            throw new VfsError(
              `database ${where} changed during serialize (${err.message}); ` +
                (bytesOut > 0
                  ? `the ${bytesOut} bytes already read are not a consistent copy; `
                  : "") +
                "retry the serialize",
              { cause: err },
            );
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

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
 * uploading plus the block being filled and block 0.
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

import { blockIndexOf, blockKey, checkBlockSize } from "./blocks.ts";
import { VfsError } from "./errors.ts";
import { HEADER_SIZE, parseSqliteHeader, SQLITE_MAGIC, type SqliteHeader } from "./header.ts";
import type { S3Client } from "./s3/client.ts";
import { mapLimit } from "./s3/retry.ts";

/** Where the blocks of a database live and how they are transferred. */
export interface BlockStoreContext {
  /** The S3 client. */
  client: S3Client;
  /** Bucket holding the block objects. */
  bucket: string;
  /** Block size used when writing (deserialize). Serialize reads whatever block size is stored. */
  blockSize: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
}

/** Progress of a transfer. */
export interface TransferProgress {
  /** Bytes of the database done so far. */
  bytes: number;
  /** Total size of the database in bytes, when known. */
  total?: number;
}

/** Options of {@linkcode serialize}. */
export interface SerializeOptions {
  /** Called after every chunk with the bytes handed out so far and the total (known from the LIST). */
  onProgress?: (progress: TransferProgress) => void;
  /** Aborts the transfer: the stream errors with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Fresh starts allowed when a concurrent change is seen before the first
   * chunk has been handed out (default 3). Later changes always error the stream.
   */
  maxRetries?: number;
  /**
   * Block prefix of the database's rollback journal, checked for a hot
   * journal at the start and the end (default `<prefix>-journal`, as SQLite
   * names it); `null` skips the check.
   */
  journalPrefix?: string | null;
}

/** A byte source for {@linkcode deserialize}: chunks of any size, in order. */
export type DeserializeSource =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array;

/** Options of {@linkcode deserialize}. */
export interface DeserializeOptions {
  /** Replace a database already stored under the prefix (default false: refuse). */
  overwrite?: boolean;
  /** Called after every block stored with the bytes stored so far and the total, when known. */
  onProgress?: (progress: TransferProgress) => void;
  /** Aborts the transfer; what was written is cleaned up, then the signal's reason is thrown. */
  signal?: AbortSignal;
  /** Size of the source in bytes, when known (for progress; checked against the source). */
  size?: number;
}

/** Result of {@linkcode deserialize}. */
export interface DeserializeResult {
  /** Bytes stored (the database's size). */
  bytes: number;
  /** Block objects written. */
  blocks: number;
}

/** Options of {@linkcode serializeToObject}. */
export interface SerializeToObjectOptions extends SerializeOptions {
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
  partSize?: number;
  /** Content-Type of the object (default `application/vnd.sqlite3`). */
  contentType?: string;
}

/** Result of {@linkcode serializeToObject}. */
export interface SerializeToObjectResult {
  /** Bytes written (the database's size). */
  bytes: number;
  /** ETag of the object written. */
  etag: string;
  /** Parts uploaded (0 when the database fit one part and was sent with a single PUT). */
  parts: number;
}

/** Options of {@linkcode deserializeFromObject}. */
export interface DeserializeFromObjectOptions extends DeserializeOptions {
  /** Bytes per ranged GET of the source object (default 8 MiB). */
  pieceSize?: number;
}

/** A parsed `s3://bucket/key` URL. */
export interface S3ObjectLocation {
  /** Bucket name. */
  bucket: string;
  /** Object key (not percent-decoded). */
  key: string;
}

const MiB = 1024 * 1024;
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_PART_SIZE = 8 * MiB;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
const DEFAULT_PIECE_SIZE = 8 * MiB;

interface BlockEntry {
  index: number;
  key: string;
  size: number;
  etag: string;
}

function checkConcurrency(concurrency: number | undefined): number {
  const c = concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(c) || c < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${c}`);
  }
  return c;
}

function bareEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/"/g, "");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every block object under `prefix/`, sorted by index (other keys ignored). */
async function listBlocks(client: S3Client, bucket: string, prefix: string): Promise<BlockEntry[]> {
  const out: BlockEntry[] = [];
  for await (const e of client.list(bucket, { prefix: prefix + "/" })) {
    const index = blockIndexOf(prefix, e.key);
    if (index !== undefined) out.push({ index, key: e.key, size: e.size, etag: bareEtag(e.etag) });
  }
  return out.sort((a, b) => a.index - b.index);
}

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

/** True when the journal's first byte exists and is non-zero (SQLite's test for a hot journal). */
async function hasHotJournal(
  client: S3Client,
  bucket: string,
  journalPrefix: string,
  signal: AbortSignal,
): Promise<boolean> {
  const r = await client.get(bucket, blockKey(journalPrefix, 0), {
    range: { offset: 0, length: 1 },
    signal,
  });
  return r.status === "ok" && r.body.length > 0 && r.body[0] !== 0;
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
 * @example Save a database to a local file
 * ```ts ignore
 * import { S3Client, serialize } from "@s3vfs/sqlite";
 * const ctx = { client: new S3Client(), bucket: "my-bucket", blockSize: 4096 };
 * await serialize(ctx, "dbs/app.db").pipeTo((await Deno.create("app.db")).writable);
 * ```
 */
export function serialize(
  ctx: BlockStoreContext,
  prefix: string,
  options: SerializeOptions = {},
): ReadableStream<Uint8Array> {
  const { client, bucket } = ctx;
  const concurrency = checkConcurrency(ctx.concurrency);
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

/** Resolves with `p`, or rejects with the signal's reason as soon as it aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Copies `src` to `dst` server-side when the client can, else by GET + PUT. */
async function copyObject(
  client: S3Client,
  bucket: string,
  src: string,
  dst: string,
): Promise<void> {
  if (typeof client.copy === "function") {
    await client.copy(bucket, src, dst);
    return;
  }
  const r = await client.get(bucket, src);
  if (r.status !== "ok") throw new VfsError(`staged block s3://${bucket}/${src} disappeared`);
  await client.put(bucket, dst, r.body);
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
      { sqliteCode: 26 },
    );
  }
  if (total % header.pageSize !== 0) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes is not a multiple of the page size ${header.pageSize}`,
      { sqliteCode: 26 },
    );
  }
  if (header.pageCountValid && total < header.pageCount * header.pageSize) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes, but the header says ${header.pageCount} pages of ` +
        `${header.pageSize} bytes (${header.pageCount * header.pageSize} bytes)`,
      { sqliteCode: 26 },
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
 * @example Upload a local database
 * ```ts ignore
 * import { deserialize, S3Client } from "@s3vfs/sqlite";
 * const ctx = { client: new S3Client(), bucket: "my-bucket", blockSize: 65536 };
 * const { bytes, blocks } = await deserialize(ctx, "dbs/app.db", (await Deno.open("app.db")).readable);
 * ```
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
  const concurrency = checkConcurrency(ctx.concurrency);
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
  const pool: Uint8Array[] = [];
  const take = (): Uint8Array => pool.pop() ?? new Uint8Array(blockSize);
  let block = take();
  let fill = 0;
  let index = 0;
  let block0: Uint8Array | undefined;
  const pending: { index: number; data: Uint8Array }[] = []; // blocks seen before the header was
  const written = new Set<number>(); // indices whose PUT under writePrefix started
  const inflight = new Set<Promise<void>>();
  let uploadError: { error: unknown } | undefined;
  let stored = 0;
  let progressTotal = options.size;

  const report = (): void => onProgress?.({ bytes: stored, total: progressTotal });

  const upload = async (i: number, data: Uint8Array): Promise<void> => {
    while (inflight.size >= concurrency) await raceAbort(Promise.race(inflight), signal);
    if (uploadError) throw uploadError.error;
    signal?.throwIfAborted();
    written.add(i);
    const p: Promise<void> = client.put(bucket, blockKey(writePrefix, i), data).then(
      () => {
        stored += data.length;
        report();
      },
      (error) => {
        uploadError ??= { error };
      },
    ).finally(() => {
      inflight.delete(p);
      if (data.length === blockSize) pool.push(data);
    });
    inflight.add(p);
  };

  const emit = async (i: number, data: Uint8Array): Promise<void> => {
    if (i === 0) block0 = data;
    else if (!header) pending.push({ index: i, data });
    else await upload(i, data);
  };

  const settle = async (): Promise<void> => {
    while (inflight.size) await Promise.race(inflight);
  };

  const cleanup = async (): Promise<string> => {
    await settle();
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
      let pos = 0;
      while (pos < chunk.length) {
        const n = Math.min(blockSize - fill, chunk.length - pos);
        block.set(chunk.subarray(pos, pos + n), fill);
        fill += n;
        pos += n;
        if (fill === blockSize) {
          await emit(index++, block);
          block = take();
          fill = 0;
        }
      }
      if (header && pending.length) {
        for (const p of pending.splice(0)) await upload(p.index, p.data);
      }
      if (uploadError) throw uploadError.error;
    }
    markDone();
    if (fill > 0) await emit(index++, block.slice(0, fill));
    if (total > 0) checkComplete(total, head.subarray(0, headLength), header);
    if (options.size !== undefined && total !== options.size) {
      throw new VfsError(
        `the source ended after ${total} bytes, short of its stated size of ${options.size} bytes`,
      );
    }
    for (const p of pending.splice(0)) await upload(p.index, p.data);
    await settle();
    if (uploadError) throw uploadError.error;
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
      (i) => copyObject(client, bucket, blockKey(staging, i), blockKey(prefix, i)),
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
    const stale = (await listBlocks(client, bucket, prefix)).filter((b) => b.index >= blocks).map((
      b,
    ) => b.key);
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

/**
 * Parses `s3://bucket/key`. Throws a TypeError naming the problem for
 * anything else (another scheme, no bucket, no key).
 *
 * @example
 * ```ts
 * import { parseS3Url } from "@s3vfs/sqlite";
 * console.log(parseS3Url("s3://backups/2024/app.db")); // { bucket: "backups", key: "2024/app.db" }
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
 * @example
 * ```ts ignore
 * const { bytes } = await serializeToFile(ctx, "dbs/app.db", "./app.db");
 * ```
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
  let bytes = 0;
  const source = serialize(ctx, prefix, options);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  } catch (err) {
    await source.cancel();
    throw err;
  }
  const stream = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller): void {
        bytes += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  try {
    await stream.pipeTo(file.writable);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return { bytes };
}

/**
 * Stores the local SQLite file `path` under `prefix` (see
 * {@linkcode deserialize}; the file's size is the progress total).
 *
 * @example
 * ```ts ignore
 * await deserializeFromFile(ctx, "dbs/app.db", "./app.db", { overwrite: true });
 * ```
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
  return await deserialize(ctx, prefix, file.readable, { ...options, size: options.size ?? size });
}

/**
 * Writes the database stored under `prefix` to the S3 object `s3url`
 * (`s3://bucket/key`) with a multipart upload fed by {@linkcode serialize}:
 * memory stays at one part being filled plus at most two uploading. A
 * database smaller than one part is sent with a single PUT. On any failure
 * the multipart upload is aborted, so no object (or the previous one) is
 * left at `s3url`.
 *
 * @example
 * ```ts ignore
 * await serializeToObject(ctx, "dbs/app.db", "s3://backups/app-2024-06-01.db");
 * ```
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
    (blockIndexOf(prefix, key) !== undefined || key.startsWith(prefix + "/"))
  ) {
    throw new TypeError(
      `serializeToObject target ${s3url} is inside the database's own prefix ${prefix}/`,
    );
  }
  const { client } = ctx;
  const contentType = options.contentType ?? "application/vnd.sqlite3";
  const reader = serialize(ctx, prefix, options).getReader();
  let part = new Uint8Array(partSize);
  let fill = 0;
  let bytes = 0;
  let uploadId: string | undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  let partCount = 0;
  const inflight = new Set<Promise<void>>();
  let uploadError: { error: unknown } | undefined;

  const sendPart = async (body: Uint8Array): Promise<void> => {
    uploadId ??= await client.createMultipartUpload(bucket, key, contentType);
    while (inflight.size >= 2) await Promise.race(inflight);
    if (uploadError) throw uploadError.error;
    const partNumber = ++partCount;
    if (partNumber > MAX_PARTS) {
      throw new RangeError(
        `the database needs more than ${MAX_PARTS} parts of ${partSize} bytes: raise partSize`,
      );
    }
    const id = uploadId;
    const p: Promise<void> = client.uploadPart(bucket, key, id, partNumber, body).then(
      (done) => {
        parts.push(done);
      },
      (error) => {
        uploadError ??= { error };
      },
    ).finally(() => inflight.delete(p));
    inflight.add(p);
  };

  try {
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      const chunk = r.value;
      bytes += chunk.length;
      let pos = 0;
      while (pos < chunk.length) {
        const n = Math.min(partSize - fill, chunk.length - pos);
        part.set(chunk.subarray(pos, pos + n), fill);
        fill += n;
        pos += n;
        if (fill === partSize) {
          await sendPart(part);
          part = new Uint8Array(partSize);
          fill = 0;
        }
      }
      if (uploadError) throw uploadError.error;
    }
    if (uploadId === undefined) {
      const { etag } = await client.put(bucket, key, part.subarray(0, fill), { contentType });
      return { bytes, etag, parts: 0 };
    }
    if (fill > 0) await sendPart(part.subarray(0, fill));
    while (inflight.size) await Promise.race(inflight);
    if (uploadError) throw uploadError.error;
    const { etag } = await client.completeMultipartUpload(bucket, key, uploadId, parts);
    return { bytes, etag, parts: parts.length };
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    while (inflight.size) await Promise.race(inflight);
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
 * @example
 * ```ts ignore
 * await deserializeFromObject(ctx, "dbs/app.db", "s3://backups/app-2024-06-01.db", { overwrite: true });
 * ```
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
        yield await current;
        offset = after;
      }
    } finally {
      internal.abort();
    }
  }

  return await deserialize(ctx, prefix, pieces(), { ...options, size: options.size ?? size });
}

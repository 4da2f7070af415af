/**
 * {@linkcode deserialize}: a plain SQLite database from any byte source,
 * stored as ONE commit of the database's log: the source is staged as chunk
 * objects, then a single create-only PUT of the commit object makes the whole
 * new content visible at once, to every reader (see the streams module
 * documentation for the guarantees).
 *
 * @module
 */

import { blockCount, checkBlockSize } from "../blocks.ts";
import { elapsed } from "../clock.ts";
import { VfsError } from "../errors.ts";
import { LeaseBusyError } from "../log/errors.ts";
import { crc32 } from "../log/crc32.ts";
import type { BlockRef } from "../log/format.ts";
import { logNamespace, newPutId, stageKey } from "../log/keys.ts";
import {
  acquireLease,
  defaultLeaseTtl,
  type HeldLease,
  type LeaseView,
  localIdentity,
  releaseLease,
} from "../log/lease.ts";
import { openForWrite } from "../log/open.ts";
import { DEFAULT_TIMING } from "../log/rules.ts";
import { refresh } from "../log/snapshot.ts";
import type { DbState } from "../log/snapshot.ts";
import { commit, type CommitOutcome, commitStaged, stageChunk } from "../log/writer.ts";
import { logRunner, openStored } from "./log_io.ts";
import { checkConcurrency, errorText, raceAbort } from "./shared.ts";
import { checkComplete, HeaderReader, sourceIterator } from "./source.ts";
import type {
  BlockStoreContext,
  DeserializeOptions,
  DeserializeResult,
  DeserializeSource,
} from "./types.ts";
import { BlockFiller, UploadWindow } from "./uploads.ts";

/** Another process holds the writer lease: the database is busy. */
function leaseBusy(prefix: string, o: LeaseView): LeaseBusyError {
  return new LeaseBusyError({
    prefix,
    host: o.record.host,
    pid: o.record.pid,
    expiresAt: o.expiresAt,
  });
}

/** Most bytes of staged chunks uploading at once (4 chunks of 4 MiB by default). */
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** Bytes in flight each request of `concurrency` may account for, at least. */
const MIN_BYTES_PER_REQUEST = 256 * 1024;
/** Most chunks uploading at once (fewer when `concurrency` is lower). */
const STAGE_WINDOW = 4;

/**
 * Stores a plain SQLite database read from `source` under `prefix`, as one
 * commit of the database's log. Chunks may have any size. The header is
 * validated before anything is written; the source is staged under
 * `<prefix>.s3vfs/stage/` in chunks of whole blocks (memory: one chunk being
 * filled plus the chunks uploading); then one create-only PUT of the commit
 * object references them: the whole new content and size, atomically (blocks
 * past a smaller new end are dropped). A new database is created with
 * `ctx.blockSize` and `ctx.timing`; an existing one keeps its recorded block
 * size and timing. A zero-byte source is the empty database (into a new prefix it
 * stores nothing); 1 to 99 bytes are refused as truncated.
 *
 * Refused with a {@linkcode VfsError}, leaving the target as it was (new or
 * existing; the chunks staged so far are deleted): a source that is not a
 * SQLite database, a truncated one (shorter than 100 bytes, not a multiple of
 * the page size, or shorter than the header's page count), a source that
 * errors, an abort before the commit starts, an existing database under `prefix` without
 * `overwrite: true` (before anything is read or written). A database that
 * changed while the source was read (another commit) is a VfsError
 * "database changed during deserialize ...; retry"; its chunks are left for
 * the log's retention to remove.
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
  try {
    return await deserializeFrom(ctx, prefix, it, options, () => (sourceDone = true));
  } finally {
    if (!sourceDone) {
      sourceDone = true;
      try {
        await it.return?.();
      } catch {
        // the source failed; nothing more to release
      }
    }
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
  checkBlockSize(ctx.blockSize);
  const concurrency = checkConcurrency(ctx.concurrency, ctx.blockSize);
  const { signal, onProgress } = options;
  const where = `s3://${bucket}/${prefix}`;
  signal?.throwIfAborted();
  const run = logRunner(ctx, signal);

  const existing = await openStored(run, prefix, [ctx.blockSize, undefined]);
  if (existing && existing.size > 0 && !options.overwrite) {
    throw new VfsError(
      `${where} already holds a database (${existing.size} bytes); pass overwrite: true to replace it`,
    );
  }
  const blockSize = existing?.config.blockSize ?? ctx.blockSize;
  const txid = (existing?.adopted ? existing.head : 0) + 1;
  const putId = newPutId();
  // The chunks go to the log namespace of the database: the existing one's, or the one this
  // deserialize will create (if another process creates it first, the commit is a conflict).
  const createId = existing?.adopted ? undefined : newPutId();
  const ns = existing?.adopted ? logNamespace(existing.config) : createId;
  // Up to 16 MiB uploading, in up to four chunks of whole blocks: 4 x 4 MiB by default; a low
  // `concurrency` means fewer, smaller chunks (2 with 1 MiB blocks: 2 x 1 MiB).
  const window = Math.min(STAGE_WINDOW, concurrency);
  const inFlight = Math.min(
    MAX_BYTES_IN_FLIGHT,
    concurrency * Math.max(blockSize, MIN_BYTES_PER_REQUEST),
  );
  const chunkBytes = Math.max(1, Math.floor(inFlight / window / blockSize)) * blockSize;

  const reader = new HeaderReader();
  const filler = new BlockFiller(chunkBytes); // chunk buffers are reused once their PUT settled
  const uploads = new UploadWindow();
  const refs: BlockRef[] = [];
  let chunks = 0;
  let total = 0;
  let stored = 0;
  let stagedAt = Infinity;
  let stagedClock: number | undefined;
  let progressTotal = options.size;
  const report = (): void => onProgress?.({ bytes: stored, total: progressTotal });

  const stage = async (body: Uint8Array): Promise<void> => {
    await uploads.waitBelow(window, signal);
    uploads.throwIfFailed();
    signal?.throwIfAborted();
    const seq = chunks++;
    const first = (seq * chunkBytes) / blockSize;
    for (let o = 0; o < body.length; o += blockSize) {
      const length = Math.min(blockSize, body.length - o);
      const crc = crc32(body.subarray(o, o + length));
      refs.push({ index: first + o / blockSize, offset: o, length, crc, chunk: seq });
    }
    stagedClock ??= elapsed(); // the clock runAsync answers with
    uploads.add(
      logRunner(ctx)(stageChunk(prefix, txid, putId, seq, body, ns)),
      (date) => {
        stagedAt = Math.min(stagedAt, date);
        stored += body.length;
        report();
      },
      () => filler.recycle(body),
    );
  };

  const cleanup = async (): Promise<string> => {
    await uploads.settle();
    const keys = Array.from({ length: chunks }, (_, n) => stageKey(prefix, txid, putId, n, ns));
    try {
      if (keys.length) await client.deleteMany(bucket, keys);
    } catch (err) {
      return `deleting the ${keys.length} chunks staged under s3://${bucket}/${
        keys[0].slice(0, keys[0].lastIndexOf("/") + 1)
      } also failed (${errorText(err)}); retention removes them later`;
    }
    return existing
      ? `the database at ${where} was not modified`
      : `nothing was left under ${where}`;
  };

  // --- phase 1: read the whole source, staging chunks of whole blocks
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
      if (!reader.header) {
        const h = reader.take(chunk);
        if (h && progressTotal === undefined && h.pageCountValid) {
          progressTotal = h.pageCount * h.pageSize;
        }
      }
      total += chunk.length;
      await filler.write(chunk, stage); // a chunk is far longer than the header
      uploads.throwIfFailed();
    }
    markDone();
    if (total > 0) checkComplete(total, reader.head.subarray(0, reader.length), reader.header);
    if (options.size !== undefined && total !== options.size) {
      throw new VfsError(
        `the source ended after ${total} bytes, short of its stated size of ${options.size} bytes`,
      );
    }
    if (filler.filled > 0) await stage(filler.rest());
    await uploads.settle();
    uploads.throwIfFailed();
    signal?.throwIfAborted();
  } catch (err) {
    const outcome = await cleanup();
    if (signal?.aborted) throw signal.reason;
    throw new VfsError(`deserialize into ${where} failed: ${errorText(err)}; ${outcome}`, {
      cause: err,
      sqliteCode: err instanceof VfsError ? err.sqliteCode : undefined,
    });
  }
  progressTotal = total;
  const blocks = blockCount(total, blockSize);
  if (total === 0 && (!existing || existing.size === 0)) {
    report();
    return { bytes: 0, blocks: 0, txid: existing?.head ?? 0 };
  }

  // --- phase 2: one commit referencing the chunks
  let outcome: CommitOutcome;
  let lease: HeldLease | undefined;
  let committing = false;
  // An adopted database's recorded timing; else the one this call records (a Python database, made
  // of blocks only, has none yet).
  const timing = existing?.adopted ? existing.config.timing : { ...DEFAULT_TIMING, ...ctx.timing };
  try {
    if (ctx.lease !== false) {
      const att = await run(
        acquireLease(prefix, localIdentity(defaultLeaseTtl(timing)), timing),
      );
      if (att.kind === "busy") throw leaseBusy(prefix, att.other);
      lease = att.lease;
    }
    let st: DbState;
    if (existing?.adopted) {
      st = existing;
      await run(refresh(st));
    } else {
      st = await run(openForWrite(prefix, { blockSize, timing: ctx.timing, id: createId }));
    }
    if (logNamespace(st.config) !== ns) {
      // Our chunks are in a namespace nobody reads: delete them now (no retention will).
      await cleanup();
      throw new VfsError(
        `database ${where} was created by another process during deserialize; nothing was ` +
          "written; retry the deserialize",
      );
    }
    const pageSize = reader.header?.pageSize ?? 0;
    signal?.throwIfAborted();
    // From here on an abort is not heard: the commit's outcome must be learnt, never guessed.
    const decide = logRunner(ctx);
    const opts = { validBefore: lease?.date };
    committing = true;
    outcome = total === 0
      ? await decide(commit(st, { putId, size: 0, pageSize, blocks: new Map() }, opts))
      : await decide(commitStaged(st, {
        txid,
        putId,
        size: total,
        pageSize,
        refs,
        stagedAt,
        stagedClock: stagedClock!,
      }, opts));
  } catch (err) {
    // Once the commit PUT may have been sent, its outcome is not known here: let the lease expire
    // (a PUT still in flight is then void) instead of releasing it (docs/protocol.md 15).
    if (lease && !committing) await run(releaseLease(lease, timing)).catch(() => {});
    if (signal?.aborted) throw signal.reason;
    throw new VfsError(`deserialize into ${where} failed before its commit: ${errorText(err)}`, {
      cause: err,
      sqliteCode: err instanceof VfsError ? err.sqliteCode : undefined,
    });
  }
  if (lease && outcome.kind !== "unknown") {
    await logRunner(ctx)(releaseLease(lease, timing)).catch(() => {});
  }
  switch (outcome.kind) {
    case "committed":
      report();
      return { bytes: total, blocks, txid: outcome.txid };
    case "conflict":
    case "expired":
      throw new VfsError(
        `database ${where} changed during deserialize (another commit took txid ${outcome.txid}` +
          `${outcome.kind === "expired" ? ", or ours came too late" : ""}); nothing was ` +
          "written; retry the deserialize",
      );
    case "aborted":
      throw new VfsError(
        `deserialize into ${where} was not applied: ${outcome.reason}; retry the deserialize`,
      );
    case "replaced":
      throw new VfsError(`deserialize into ${where} was not applied: ${outcome.reason}`);
    case "unknown":
      throw new VfsError(
        `deserialize into ${where}: outcome unknown (${outcome.reason}); read the database to ` +
          "see whether it was applied",
      );
  }
}

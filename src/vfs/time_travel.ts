/**
 * The kept history of a database, from the public API: its commits
 * ({@linkcode history}), the database as it was at one of them
 * ({@linkcode restore} makes that state current again, as one new commit),
 * and a summary of its storage state ({@linkcode databaseInfo}). Opening a
 * past snapshot in SQL is `S3VFS.uri(prefix, { at })` (src/vfs/handlers.ts).
 *
 * @module
 */

import { runAsync } from "../log/driver.ts";
import { type HistoryEntry, iterateHistory, listHistory, resolveIn } from "../log/history.ts";
import { readLease } from "../log/lease.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { Step } from "../log/store.ts";
import { deserialize } from "../streams/deserialize.ts";
import { ANY_BLOCK_SIZE, openStored } from "../streams/log_io.ts";
import { serialize } from "../streams/serialize.ts";
import type { BlockStoreContext, TransferProgress } from "../streams/types.ts";

export type { HistoryEntry } from "../log/history.ts";

/** Who holds a database's writer lease (see `S3VFSOptions.lease`). */
export interface LeaseInfo {
  /** Random id of the holder. */
  holder: string;
  /** Its host name ("" when it could not read it). */
  host: string;
  /** Its process id. */
  pid: number;
  /** Take-overs so far (1 for the first holder). */
  generation: number;
  /** When it stops counting unless renewed (server time). */
  expiresAt: Date;
  /** Given up by its holder. */
  released: boolean;
  /** Held right now: neither released nor expired. */
  live: boolean;
}

/** A database's storage state, as {@linkcode databaseInfo} reads it. */
export interface DatabaseInfo {
  /** Database name (key prefix). */
  prefix: string;
  /** Bytes per block object. */
  blockSize: number;
  /** Database size in bytes at the newest commit. */
  size: number;
  /** SQLite page size (0 for an empty database). */
  pageSize: number;
  /** Newest txid (0: no commit through the log yet). */
  txid: number;
  /** What the block objects hold: the txid folded into them and the size then. */
  checkpoint: { txid: number; size: number };
  /** Commits after the checkpoint (still only in the log). */
  logLength: number;
  /** Oldest txid a past snapshot can be opened at. */
  historyFrom: number;
  /** The writer lease, or null when none was ever taken. */
  lease: LeaseInfo | null;
  /** False: a database only Python sqlite-s3vfs wrote (no log yet). */
  adopted: boolean;
}

/** Options of `S3VFS.restore`. */
export interface RestoreOptions {
  /** The txid, or the time, whose state becomes current. */
  at: number | Date;
  /** Progress of the copy (bytes of the past state written so far, and its size). */
  onProgress?: (progress: TransferProgress) => void;
  /** Stops the restore before its commit: nothing changes. */
  signal?: AbortSignal;
}

/** What `S3VFS.restore` did. */
export interface RestoreResult {
  /** The new commit that holds the restored state. */
  txid: number;
  /** The past txid restored. */
  from: number;
  /** Database size restored, in bytes. */
  bytes: number;
}

function runner(ctx: BlockStoreContext): <T>(step: Step<T>) => Promise<T> {
  const store = new S3LogStore(ctx.client, ctx.bucket, { storeCheck: ctx.storeCheck });
  return (step) => runAsync(step, store);
}

/** The kept commits of `prefix`, oldest first (nothing when there is no database). */
export function history(ctx: BlockStoreContext, prefix: string): AsyncIterable<HistoryEntry> {
  return iterateHistory(prefix, runner(ctx));
}

/**
 * Makes the state of `prefix` at `options.at` current again: that snapshot is
 * read whole and committed as one new commit (readers see it at once; it can
 * itself be undone by restoring the txid before it).
 */
export async function restore(
  ctx: BlockStoreContext,
  prefix: string,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const run = runner(ctx);
  const listing = await run(listHistory(prefix));
  if (!listing) throw new TypeError(`no database at s3://${ctx.bucket}/${prefix}`);
  const from = resolveIn(listing, options.at);
  const source = serialize(ctx, prefix, { at: from, signal: options.signal });
  const r = await deserialize(ctx, prefix, source, {
    overwrite: true,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  return { txid: r.txid, from, bytes: r.bytes };
}

/** The storage state of `prefix`, or null when there is no database. */
export async function databaseInfo(
  ctx: BlockStoreContext,
  prefix: string,
): Promise<DatabaseInfo | null> {
  const run = runner(ctx);
  const st = await openStored(run, prefix, [undefined, ANY_BLOCK_SIZE]);
  if (!st) return null;
  const base = {
    prefix,
    blockSize: st.config.blockSize,
    size: st.size,
    pageSize: st.pageSize,
    txid: st.head,
    adopted: st.adopted,
  };
  if (!st.adopted) {
    return {
      ...base,
      checkpoint: { txid: 0, size: st.size },
      logLength: 0,
      historyFrom: 0,
      lease: null,
    };
  }
  const [listing, lease] = await Promise.all([
    run(listHistory(prefix)),
    run(readLease(prefix, st.config.timing)),
  ]);
  const ck = listing?.checkpoint ?? { txid: st.floor, size: st.size };
  return {
    ...base,
    checkpoint: { txid: ck.txid, size: ck.size },
    logLength: Math.max(0, st.head - ck.txid),
    historyFrom: listing?.oldest ?? st.floor,
    lease: lease && {
      holder: lease.record.holder,
      host: lease.record.host,
      pid: lease.record.pid,
      generation: lease.record.generation,
      expiresAt: new Date(lease.expiresAt),
      released: lease.record.released,
      live: lease.live,
    },
  };
}

/**
 * Time travel's reading of the kept commit indexes (./history.ts;
 * docs/history.md section 5 argues it): fetching them once per listing, and
 * which blocks of a past snapshot depend on a base block that a later commit
 * may have rewritten.
 *
 * The snapshot at t reads block i < n(t) from the base when no effective
 * commit in the kept run `from..t` wrote it. The base then holds i's version
 * at t unless a commit after t that changed i (wrote it, or cut the database
 * below it) was folded. Such a block is **at risk** when a possibly folded
 * commit after t changed it; the others are surely right.
 *
 * @module
 */

import { blockCount, blockKey } from "../blocks.ts";
import { fetchCommit, type FetchedCommit, type FetchResult, isEffective } from "./commits.ts";
import { HistoryGoneError, LogCorruptError } from "./errors.ts";
import { blockTxid, type CheckpointRecord, type ConfigRecord } from "./format.ts";
import { floorSec, foldable } from "./rules.ts";
import type { DbState } from "./snapshot.ts";
import { expectOk, type HeadOp, idempotent, isAbsent, parallel, type Step } from "./store.ts";

/** Options of the history functions. */
export interface HistoryOptions {
  /** Bytes fetched first from each commit object. Default {@linkcode HISTORY_PROBE_BYTES}. */
  probeBytes?: number;
  /** Commit objects fetched at once. Default 32. */
  concurrency?: number;
}

/** One kept commit object, as listed. */
export interface KeptCommit {
  /** Its txid. */
  txid: number;
  /** Last-Modified from the LIST (ms). */
  lastModified: number;
  /** Object size in bytes. */
  bytes: number;
}

/** What {@linkcode listHistory} found: the kept commits and the range of openable txids. */
export interface HistoryListing {
  /** Database name. */
  prefix: string;
  /** Its config (provisional for a database never adopted). */
  config: ConfigRecord;
  /** False: no checkpoint record (Python's database, or not yet adopted): txid 0 only. */
  adopted: boolean;
  /** The checkpoint record, read after the LIST ({txid: 0, ...} when not adopted). */
  checkpoint: CheckpointRecord;
  /** Newest txid: the last listed commit, or the checkpoint if every commit was deleted. */
  head: number;
  /** Oldest kept commit (`head + 1` when none is kept). */
  first: number;
  /** Oldest txid a snapshot can be opened at: `first`, or `first - 1` when the checkpoint is there. */
  oldest: number;
  /** Commits `first..head`, oldest first. */
  commits: KeptCommit[];
  /** Server time of the LIST (ms). */
  date: number;
  /** Not adopted: the database at txid 0 (its base blocks). */
  base?: DbState;
}

/** Bytes fetched first from each commit object: its index, and the blocks of a small commit. */
export const HISTORY_PROBE_BYTES = 16 * 1024;

/** What one commit did to the blocks; null: unknown (its object was left out). */
export interface BlockChange {
  /** Database size before it. */
  prevSize: number;
  /** Database size after it (`prevSize` for a void commit or an abort marker). */
  size: number;
  /** The blocks it wrote (none for a void commit or an abort marker). */
  written: readonly number[];
}

/**
 * The at-risk blocks of a snapshot, ascending: blocks below its size without
 * a `known` version, changed by one of the commits `after` it (the possibly
 * folded ones, in order). An unknown commit may have changed any block.
 */
export function atRiskBlocks(
  known: { has(block: number): boolean },
  size: number,
  after: readonly (BlockChange | null)[],
  blockSize: number,
): number[] {
  const n = blockCount(size, blockSize);
  let cut = Infinity; // blocks from here on were cut after the snapshot
  const written = new Set<number>();
  for (const c of after) {
    cut = Math.min(cut, c ? blockCount(c.size, blockSize) : 0);
    for (const i of c?.written ?? []) written.add(i);
  }
  const out = new Set<number>();
  for (const i of written) if (i < n && !known.has(i)) out.add(i);
  for (let i = cut; i < n; i++) if (!known.has(i)) out.add(i);
  return [...out].sort((a, b) => a - b);
}

/**
 * For each commit k of `changes` (a run of consecutive commits): whether the
 * snapshot after it has no at-risk block with respect to the commits after it
 * in the run. Its known versions are the writes since the last unknown commit
 * before it; a snapshot before an unknown commit is never complete. Linear in
 * the blocks written (plus a sort), however long the run.
 */
export function completeFlags(
  changes: readonly (BlockChange | null)[],
  blockSize: number,
): boolean[] {
  const len = changes.length;
  const flags = new Array<boolean>(len).fill(false);
  const from = changes.findLastIndex((c) => c === null) + 1;
  if (from >= len) return flags;
  // count[k]: blocks after commit k; firstWrite: the first commit of the run writing each block.
  const count: number[] = [];
  const firstWrite = new Map<number, number>();
  const writesAt: number[][] = [];
  for (let k = from; k < len; k++) {
    const c = changes[k]!;
    count[k] = blockCount(c.size, blockSize);
    writesAt[k] = [];
    for (const i of c.written) {
      if (firstWrite.has(i)) continue;
      firstWrite.set(i, k);
      writesAt[k].push(i);
    }
  }
  // cutFrom[k]: the fewest blocks after any commit past k (blocks from there were cut after k).
  const cutFrom: number[] = [];
  cutFrom[len - 1] = Infinity;
  for (let k = len - 2; k >= from; k--) cutFrom[k] = Math.min(cutFrom[k + 1], count[k + 1]);
  // (a) a block first written after k (so unknown at k, and rewritten after it): the smallest
  // such block, a pointer over the blocks by index that only moves forward.
  const byIndex = [...firstWrite.keys()].sort((a, b) => a - b);
  let p = 0;
  // (b) a block at or past cutFrom[k] not written up to k: "next block not yet written", a
  // union-find over the written blocks (each points past itself).
  const next = new Map<number, number>();
  const unwritten = (x: number): number => {
    let r = x;
    while (next.has(r)) r = next.get(r)!;
    while (x !== r) {
      const n = next.get(x)!;
      next.set(x, r);
      x = n;
    }
    return r;
  };
  for (let k = from; k < len; k++) {
    for (const i of writesAt[k]) next.set(i, i + 1);
    while (p < byIndex.length && firstWrite.get(byIndex[p])! <= k) p++;
    const rewritten = p < byIndex.length && byIndex[p] < count[k];
    const cut = cutFrom[k] < count[k] && unwritten(cutFrom[k]) < count[k];
    flags[k] = !rewritten && !cut;
  }
  return flags;
}

/**
 * Fetches the indexes of `slots` (`concurrency` at a time). An entry is
 * undefined when the slot no longer holds what was listed: deleted since,
 * another object, or (at or below the checkpoint) maybe a late re-creation of
 * a deleted commit: void and written more than R - 3M after its proof (I3:
 * a re-creation lands more than R - M after it), so what decided that txid is
 * unknown. Effective commits are never suspected (R - 3M > W).
 */
export function* fetchKept(
  listing: HistoryListing,
  slots: KeptCommit[],
  opts: HistoryOptions,
): Step<(FetchedCommit | undefined)[]> {
  const { prefix, config } = listing;
  const { keepHistoryMs: r, marginMs: m } = config.timing;
  const step = opts.concurrency ?? 32;
  const out: (FetchedCommit | undefined)[] = [];
  for (let k = 0; k < slots.length; k += step) {
    const batch = slots.slice(k, k + step);
    const got = yield* parallel<FetchResult>(
      batch.map((s) => fetchCommit(prefix, s.txid, config, opts.probeBytes ?? HISTORY_PROBE_BYTES)),
    );
    got.forEach((f, n) => {
      const s = batch[n];
      if (f.absent) {
        out.push(undefined);
        return;
      }
      const c = f.commit;
      const moved = Math.abs(floorSec(c.lastModified) - floorSec(s.lastModified)) > m;
      const lag = floorSec(c.lastModified) - floorSec(c.index.validatedAt);
      const suspect = s.txid <= listing.checkpoint.txid && lag > r - 3 * m;
      out.push(moved || suspect ? undefined : c);
    });
  }
  return out;
}

/** Per listing: the indexes fetched so far (null: left out) and the `complete` flags. */
export interface Fetched {
  slots: Map<number, FetchedCommit | null>;
  flags?: boolean[];
}

const fetchedFor = new WeakMap<HistoryListing, Fetched>();

/**
 * Fetches, in one pass, the indexes of the kept commits in `ranges` (txids,
 * inclusive) not yet fetched for `listing`; returns all fetched so far.
 */
export function* fetchRanges(
  listing: HistoryListing,
  ranges: [number, number][],
  opts: HistoryOptions,
): Step<Fetched> {
  let memo = fetchedFor.get(listing);
  if (!memo) fetchedFor.set(listing, memo = { slots: new Map() });
  const todo = new Map<number, KeptCommit>();
  for (const [lo, hi] of ranges) {
    const from = Math.max(lo - listing.first, 0);
    for (const s of listing.commits.slice(from, Math.max(hi - listing.first + 1, from))) {
      if (!memo.slots.has(s.txid)) todo.set(s.txid, s);
    }
  }
  const slots = [...todo.values()].sort((x, y) => x.txid - y.txid);
  const got = yield* fetchKept(listing, slots, opts);
  slots.forEach((s, k) => memo.slots.set(s.txid, got[k] ?? null));
  return memo;
}

/** The fetched indexes of txids `lo..hi` (undefined: left out). */
export function indexRange(memo: Fetched, lo: number, hi: number): (FetchedCommit | undefined)[] {
  return Array.from(
    { length: Math.max(hi - lo + 1, 0) },
    (_, k) => memo.slots.get(lo + k) ?? undefined,
  );
}

/** What a fetched commit did to the blocks (null: left out). */
export function changeOf(c: FetchedCommit | undefined, config: ConfigRecord): BlockChange | null {
  if (!c) return null;
  const { index } = c;
  return isEffective(c, config)
    ? { prevSize: index.prevSize, size: index.size, written: index.blocks.map((b) => b.index) }
    : { prevSize: index.prevSize, size: index.prevSize, written: [] };
}

/**
 * The newest txid a checkpointer may have folded by server time `now`: the
 * record's, or the newest kept commit foldable then (older than G + M; a
 * checkpointer folds nothing younger, and what is foldable stays so).
 */
export function foldedEnd(listing: HistoryListing, now: number): number {
  let end = listing.checkpoint.txid;
  for (const c of listing.commits) {
    if (c.txid > end && foldable(c.lastModified, now, listing.config.timing)) end = c.txid;
  }
  return end;
}

/**
 * HEADs the base blocks `blocks` of the frozen state `st` (`concurrency` at a
 * time): one holding a txid past the snapshot means its version there is gone.
 */
export function* checkAtRisk(
  st: DbState,
  blocks: number[],
  at: string | undefined,
  opts: HistoryOptions,
): Step<void> {
  const step = opts.concurrency ?? 32;
  for (let k = 0; k < blocks.length; k += step) {
    const batch = blocks.slice(k, k + step);
    const ops = batch.map((i): HeadOp => ({ kind: "head", key: blockKey(st.prefix, i) }));
    const got = yield* idempotent(ops);
    batch.forEach((block, n) => {
      const r = expectOk(ops[n], got[n], true);
      if (isAbsent(r)) throw new LogCorruptError(`base block ${block} is missing`);
      const found = blockTxid(r.meta, st.config.id);
      if (found <= st.head) return;
      const keepHistoryMs = st.config.timing.keepHistoryMs;
      const txid = st.head;
      throw new HistoryGoneError({
        prefix: st.prefix,
        txid,
        keepHistoryMs,
        block,
        found,
        at,
        atOpen: true,
      });
    });
  }
}

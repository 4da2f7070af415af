/**
 * Time travel, sans-IO: the commits a database still keeps, and read-only
 * snapshots at past txids. docs/history.md argues why the reads are right.
 *
 * {@linkcode listHistory} LISTs the log and reads the config and checkpoint
 * record: the kept commits are the contiguous run of commit objects ending at
 * the head. {@linkcode historyEntries} fetches the indexes of some of them
 * (a small ranged GET each, concurrently) and describes each commit;
 * {@linkcode resolveIn} turns a txid or a `Date` into a kept txid;
 * {@linkcode openInListing} builds a frozen {@linkcode DbState} at that txid
 * for `readBlocks`. {@linkcode listHistory} + {@linkcode resolveIn} is
 * {@linkcode resolveAt}, and with {@linkcode openInListing} {@linkcode openAt}.
 *
 * A frozen state must never be refreshed or committed: it is a snapshot of the
 * past. (It carries no proof, so a mistaken commit renews one first: a
 * conflict, unless its txid is still the head, and never a commit into a
 * past txid.)
 *
 * @module
 */

import { isEffective } from "./commits.ts";
import { HistoryGoneError, LogCorruptError, LogOpenError } from "./errors.ts";
import type { CheckpointRecord, ConfigRecord } from "./format.ts";
import {
  atRiskBlocks,
  changeOf,
  checkAtRisk,
  completeFlags,
  fetchRanges,
  foldedEnd,
  HISTORY_PROBE_BYTES,
  indexRange,
} from "./history_blocks.ts";
import { checkDatabaseName, logNamespace, logPrefix, txidOfLogKey } from "./keys.ts";
import { coldOpen } from "./open.ts";
import { type CheckpointRead, readCheckpoint, readConfig } from "./records.ts";
import { floorSec } from "./rules.ts";
import { applyCommit, type DbState } from "./snapshot.ts";
import type { HistoryListing, HistoryOptions, KeptCommit } from "./history_blocks.ts";

export type { HistoryListing, HistoryOptions, KeptCommit } from "./history_blocks.ts";
import { listAll, type ListEntry, parallel, type Step } from "./store.ts";

export { HISTORY_PROBE_BYTES };

/** One commit of the history. */
export interface HistoryEntry {
  /** Its txid. */
  txid: number;
  /** When its object was written (server time, from the LIST). */
  time: Date;
  /** "commit": effective; "void": written too late, a no-op; "abort": a writer's abort marker. */
  kind: "commit" | "void" | "abort";
  /** Size of the commit object in bytes. */
  bytes: number;
  /** Database size after the commit (for "void" and "abort": before, which is the same). */
  size: number;
  /** Bytes of the blocks it changed, in pages (rounded up; 0 unless "commit"). */
  pagesChanged: number;
  /**
   * The snapshot after it needs no base block that a commit after it, folded
   * by the listing's time, may have rewritten: it opens, and every block reads
   * (until such a commit is folded). False: it may still open (nothing folded
   * over it yet); opening checks (docs/history.md, section 5).
   */
  complete: boolean;
}

/**
 * LISTs the log, then reads config and checkpoint record: the kept commits.
 * Null when there is no database at `prefix`. Cost: 1 LIST per 1,000 commit
 * objects, then 2 GETs in one round trip (a never-adopted database: its cold
 * open instead).
 */
export function* listHistory(prefix: string): Step<HistoryListing | null> {
  checkDatabaseName(prefix);
  for (let attempt = 0; attempt < 10; attempt++) {
    // Every namespace under log/ (one LIST: the config, read next, says which one is ours).
    const listing = yield* listAll(logPrefix(prefix));
    let [config, ck] = (yield* parallel<ConfigRecord | null | CheckpointRead>([
      readConfig(prefix),
      readCheckpoint(prefix),
    ])) as [ConfigRecord | null, CheckpointRead];
    if (!ck.record) {
      const base = yield* coldOpen(prefix);
      if (!base) return null;
      if (base.adopted) continue; // adopted meanwhile: list again
      return {
        prefix,
        config: base.config,
        adopted: false,
        checkpoint: { txid: 0, size: base.size, pageSize: 0 },
        head: 0,
        first: 1,
        oldest: 0,
        commits: [],
        date: base.provenAt,
        base,
      };
    }
    config ??= yield* readConfig(prefix); // written before the record: it exists now
    if (!config) throw new LogCorruptError(`${prefix}: a checkpoint record without a config`);
    return keptRun(prefix, config, ck.record, listing.entries, listing.date);
  }
  throw new LogCorruptError(`${prefix}: could not list a consistent history`);
}

/**
 * The contiguous run of listed commit objects ending at the head. At or below
 * the checkpoint a slot may hold a late re-creation of a deleted commit, not
 * the original (protocol I3); one written more than 2M after its successor
 * surely is one, so the run stops there.
 */
function keptRun(
  prefix: string,
  config: ConfigRecord,
  ck: CheckpointRecord,
  entries: ListEntry[],
  date: number,
): HistoryListing {
  const slots = new Map<number, ListEntry>();
  const ns = logNamespace(config);
  for (const e of entries) {
    const t = txidOfLogKey(prefix, e.key, ns);
    if (t !== undefined && t >= 1) slots.set(t, e);
  }
  const head = Math.max(ck.txid, ...slots.keys());
  const slack = 2 * config.timing.marginMs;
  let first = head + 1;
  while (slots.has(first - 1)) {
    const s = first - 1;
    const next = slots.get(first);
    const late = next && floorSec(slots.get(s)!.lastModified) > floorSec(next.lastModified) + slack;
    if (s <= ck.txid && late) break;
    first = s;
  }
  const commits: KeptCommit[] = [];
  for (let t = first; t <= head; t++) {
    const e = slots.get(t)!;
    commits.push({ txid: t, lastModified: e.lastModified, bytes: e.size });
  }
  const oldest = ck.txid <= first - 1 ? first - 1 : first;
  return { prefix, config, adopted: true, checkpoint: ck, head, first, oldest, commits, date };
}

/**
 * Describes the kept commits `listing.commits[start .. start + count)`: one
 * batch of an iteration over the history (fetches their indexes). A slot that
 * no longer holds its original object (see `fetchKept`) is left out.
 * `complete` is as of the listing's time: for a commit older than the newest
 * one foldable then, it needs the indexes of every kept commit up to that
 * one, fetched by the first batch that needs them (and kept with the listing,
 * for the next batches and {@linkcode openInListing}).
 */
export function* historyEntries(
  listing: HistoryListing,
  start = 0,
  count: number = listing.commits.length - start,
  opts: HistoryOptions = {},
): Step<HistoryEntry[]> {
  const slots = listing.commits.slice(start, start + count);
  if (slots.length === 0) return [];
  const { first, config } = listing;
  const lo = slots[0].txid;
  const hi = slots[slots.length - 1].txid;
  const end = foldedEnd(listing, listing.date);
  const memo = yield* fetchRanges(listing, lo < end ? [[first, end], [lo, hi]] : [[lo, hi]], opts);
  if (lo < end) {
    memo.flags ??= completeFlags(
      indexRange(memo, first, end).map((c) => changeOf(c, config)),
      config.blockSize,
    );
  }
  const out: HistoryEntry[] = [];
  for (const s of slots) {
    const c = memo.slots.get(s.txid);
    if (!c) continue;
    const { index } = c;
    const effective = isEffective(c, config);
    const changed = effective ? index.blocks.reduce((n, b) => n + b.length, 0) : 0;
    out.push({
      txid: index.txid,
      time: new Date(s.lastModified),
      kind: effective ? "commit" : index.kind === "abort" ? "abort" : "void",
      bytes: s.bytes,
      size: effective ? index.size : index.prevSize,
      pagesChanged: Math.ceil(changed / (index.pageSize || config.blockSize)),
      complete: s.txid >= end || memo.flags![s.txid - first],
    });
  }
  return out;
}

/**
 * Every kept commit, oldest first, fetched in batches of `batch` (default 32)
 * as the iteration goes (the first batch also fetches every index `complete`
 * needs: those up to the newest commit foldable at the listing's time). `run`
 * drives a step (e.g. `(s) => runAsync(s, store)`).
 */
export async function* iterateHistory(
  prefix: string,
  run: <T>(step: Step<T>) => Promise<T>,
  opts: HistoryOptions & { batch?: number } = {},
): AsyncGenerator<HistoryEntry> {
  const listing = await run(listHistory(prefix));
  if (!listing) return;
  const batch = opts.batch ?? 32;
  for (let k = 0; k < listing.commits.length; k += batch) {
    yield* await run(historyEntries(listing, k, batch, opts));
  }
}

/**
 * The txid of the snapshot `at` names in `listing`. A txid is taken as given
 * if kept (`oldest..head`). A `Date` names the newest commit written at or
 * before it (effective or not; the snapshot is the state after it); before
 * every kept commit, the state before the first one when that is surely where
 * it falls (nothing was deleted, or `at` is within R of the LIST: every
 * deleted commit is older). Dates are compared with the server's clock: a
 * date more than M past the LIST's `Date` (whole seconds) is in the future.
 * Throws RangeError for a txid past the head, a bad txid, a future date or a
 * date before the database existed (made through the log: empty at txid 0),
 * {@linkcode HistoryGoneError} for what is no longer kept.
 */
export function resolveIn(listing: HistoryListing, at: number | Date): number {
  const { prefix, head, oldest, first } = listing;
  const { keepHistoryMs, marginMs } = listing.config.timing;
  if (typeof at === "number") {
    if (!Number.isSafeInteger(at) || at < 0) throw new RangeError(`bad txid ${at}`);
    if (at > head) throw new RangeError(`txid ${at} of ${prefix} is past its head, txid ${head}`);
    if (at < oldest) throw new HistoryGoneError({ prefix, txid: at, oldest, keepHistoryMs });
    return at;
  }
  const ms = at.getTime();
  if (Number.isNaN(ms)) throw new RangeError("invalid Date");
  if (ms >= floorSec(listing.date) + 1000 + marginMs) {
    throw new RangeError(
      `${at.toISOString()} is in the future of ${prefix} (server time ` +
        `${new Date(listing.date).toISOString()})`,
    );
  }
  let found = -1;
  for (const c of listing.commits) if (c.lastModified <= ms) found = c.txid;
  if (found < 0 && (first === 1 || ms >= listing.date - keepHistoryMs + 2 * marginMs)) {
    found = first - 1;
  }
  if (
    found === 0 && listing.adopted && listing.checkpoint.txid === 0 &&
    listing.checkpoint.size === 0 && listing.commits.length > 0
  ) {
    // Before its first commit a database made through the log did not exist (txid 0 is empty).
    throw new RangeError(
      `${prefix} did not exist at ${at.toISOString()}: its first commit was written at ` +
        `${new Date(listing.commits[0].lastModified).toISOString()}`,
    );
  }
  if (found < oldest) {
    throw new HistoryGoneError({
      prefix,
      txid: Math.max(found, 0),
      oldest,
      keepHistoryMs,
      at: at.toISOString(),
    });
  }
  return found;
}

/** {@linkcode listHistory}, then {@linkcode resolveIn}; LogOpenError when there is no database. */
export function* resolveAt(prefix: string, at: number | Date): Step<number> {
  return resolveIn(yield* needListing(prefix), at);
}

function* needListing(prefix: string): Step<HistoryListing> {
  const listing = yield* listHistory(prefix);
  if (!listing) throw new LogOpenError(`${prefix}: no database`);
  return listing;
}

/**
 * A frozen, read-only state at `at` (see {@linkcode resolveIn}), for
 * `readBlocks`: `floor = head` = the txid, the newest version of each block
 * among the effective kept commits up to it, and the size and page size
 * then. Fetches the indexes of the kept commits up to the txid and of those
 * after it that may be folded, then HEADs the base blocks at risk (read from
 * the base, changed by such a commit; docs/history.md, section 5). Throws
 * {@linkcode HistoryGoneError} if one of them holds a txid past the snapshot
 * (its version there is gone), or if a commit up to the txid is gone since
 * the listing. A fold after the open can still make a read fail (the same
 * error, lazily).
 */
export function* openInListing(
  listing: HistoryListing,
  at: number | Date,
  opts: HistoryOptions = {},
): Step<DbState> {
  const t = resolveIn(listing, at);
  const { prefix, config, checkpoint: ck, first } = listing;
  const probeBytes = opts.probeBytes ?? HISTORY_PROBE_BYTES;
  const frozen = (head: number, size: number, pageSize: number): DbState => ({
    prefix,
    config,
    adopted: true,
    floor: head,
    head,
    size,
    pageSize,
    provenAt: 0, // no proof: a mistaken commit renews it and finds the slot taken
    provenClock: -Infinity,
    versions: new Map(),
    cache: new Map(),
    probeBytes,
    frozen: true,
  });
  if (!listing.adopted) {
    const base = listing.base!;
    return { ...base, versions: new Map(), cache: new Map(base.cache), frozen: true };
  }
  // One pass: the indexes up to t, and those after t that may be folded by the LIST's time.
  let end = Math.max(t, foldedEnd(listing, listing.date));
  let memo = yield* fetchRanges(listing, [[first, end]], opts);
  const fetched = indexRange(memo, first, t);
  const start = fetched.findLastIndex((c) => !c) + 1;
  let st: DbState;
  if (start === fetched.length) {
    if (t !== ck.txid) {
      throw new HistoryGoneError({
        prefix,
        txid: t,
        oldest: t + 1,
        keepHistoryMs: config.timing.keepHistoryMs,
      });
    }
    st = frozen(t, ck.size, ck.pageSize); // the record's state (t < first, or all before gone)
  } else {
    const from = first + start;
    st = frozen(from - 1, fetched[start]!.index.prevSize, ck.txid === from - 1 ? ck.pageSize : 0);
    for (const c of fetched.slice(start)) applyCommit(st, c!);
    if (st.pageSize === 0 && ck.txid >= from - 1 && ck.txid <= t) st.pageSize = ck.pageSize;
    st.floor = st.head;
    st.provenAt = 0;
  }
  // The fetches took time: commits foldable by the newest server time seen count too.
  for (;;) {
    let seen = listing.date;
    for (const c of memo.slots.values()) if (c && c.date > seen) seen = c.date;
    const more = foldedEnd(listing, seen);
    if (more <= end) break;
    memo = yield* fetchRanges(listing, [[end + 1, more]], opts);
    end = more;
  }
  const after = indexRange(memo, t + 1, end).map((c) => changeOf(c, config));
  const risky = atRiskBlocks(st.versions, st.size, after, config.blockSize);
  yield* checkAtRisk(st, risky, typeof at === "number" ? undefined : at.toISOString(), opts);
  return st;
}

/** {@linkcode listHistory}, then {@linkcode openInListing}; LogOpenError when there is no database. */
export function* openAt(
  prefix: string,
  at: number | Date,
  opts: HistoryOptions = {},
): Step<DbState> {
  return yield* openInListing(yield* needListing(prefix), at, opts);
}

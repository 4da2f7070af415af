/**
 * A process's view of one database. The state knows every effective commit
 * in (floor, head]: for each block, the newest version in that range and
 * where to read it (reads: ./read.ts).
 *
 * `refresh` starts a read transaction: one GET of `log/<head+1>`, a 404 means
 * the snapshot is current; otherwise it applies commits until a 404. An answer
 * observed too long after the last proof is confirmed with the checkpoint
 * record (retention may have deleted what it looks for); if the checkpoint
 * passed `head`, the state is reloaded from it.
 *
 * @module
 */

import { blockCount } from "../blocks.ts";
import {
  type BlockVersion,
  DEFAULT_PROBE_BYTES,
  fetchCommit,
  type FetchedCommit,
  type FetchResult,
  inlineBytes,
  isEffective,
  versionsOf,
} from "./commits.ts";
import { LogCorruptError, LogStoreError } from "./errors.ts";
import type { CheckpointRecord, ConfigRecord } from "./format.ts";
import { logKey, logNamespace, logPrefix, txidOfLogKey } from "./keys.ts";
import {
  checkIdentity,
  checkIncarnation,
  type CheckpointRead,
  type Identity,
  readCheckpoint,
  readConfig,
  readIdentity,
} from "./records.ts";
import { floorSec, foldable, foreignIncarnation, freshEnough, type Timing } from "./rules.ts";
import { clock, listAll, parallel, type Step } from "./store.ts";

/** What a process knows about one database. Algorithms update it in place. */
export interface DbState {
  /** Database name (key prefix of the base blocks). */
  prefix: string;
  /** The config (provisional while `adopted` is false and none exists). */
  config: ConfigRecord;
  /** False: a database without a checkpoint record (written by Python): txid 0, read-only. */
  adopted: boolean;
  /** Every base block holds its version at `floor` or newer; all commits after it are known. */
  floor: number;
  /** The snapshot: the newest txid applied. */
  head: number;
  /** Database size in bytes at `head`. */
  size: number;
  /** Page size at `head` (0 if unknown). */
  pageSize: number;
  /** Server time (ms) such that every commit after `head` was created after it. */
  provenAt: number;
  /** Local clock when that proof was requested (to decide when to renew it). */
  provenClock: number;
  /** Newest known version of each block changed in (floor, head]. */
  versions: Map<number, BlockVersion>;
  /** Block contents at `head`. */
  cache: Map<number, Uint8Array>;
  /** Bytes fetched first from a commit object. */
  probeBytes: number;
  /**
   * A past snapshot opened by `openAt` (./history.ts), `floor = head`: never
   * refreshed nor written; a base block newer than `head` is history retention
   * deleted (HistoryGoneError), not "snapshot too old".
   */
  frozen?: boolean;
  /** The checkpoint record as last read (its incarnation checked), for maintenance decisions. */
  record?: CheckpointRecord;
  /** Local clock of that read: the record is read again, with a refresh, every `recordCheckMs`. */
  recordClock?: number;
  /** Server time (`Date`) of that read: no commit is sent proven more than `recordCheckMs` after it. */
  recordDate?: number;
  /** Last-Modified of each commit applied after `floor` (txid `floor + 1 + k` at `k`). */
  times?: number[];
  /** Incarnations found in base block tags and known to be older than ours (not a replacement). */
  oldIds?: Set<string>;
  /**
   * Something this process trusted turned out wrong (a read found a block
   * newer than the snapshot): the next refresh checks the checkpoint record.
   */
  suspect?: boolean;
}

/**
 * How often a process re-reads the checkpoint record while it works (with a
 * refresh or a commit, in the same round trip): max(W / 2, 10 s). It bounds
 * how long a process keeps using a database that was deleted (and maybe
 * created again) under it, and keeps its view of the checkpoint current.
 */
export function recordCheckMs(t: Timing): number {
  return Math.max(t.maxCommitLagMs / 2, 10_000);
}

/**
 * Whether this process should ask for maintenance now (local clock `now`), by
 * what it knows: a commit past the checkpoint it last read is older than
 * the grace period, or the last retention pass was more than
 * keepHistory/4 ago. A hint: the run itself decides by the server's answers.
 */
export function maintenanceDue(st: DbState, now: number): boolean {
  if (!st.adopted || st.frozen) return false;
  const t = st.config.timing;
  const serverNow = st.provenAt + Math.max(0, now - st.provenClock);
  const folded = Math.max(st.record?.txid ?? st.floor, st.floor);
  const lm = st.head > folded ? st.times?.[folded - st.floor] : undefined;
  if (lm !== undefined && foldable(lm, serverNow, t)) return true;
  const at = st.record?.retainedAt;
  return st.record !== undefined &&
    (at === undefined || floorSec(serverNow) - floorSec(at) > t.keepHistoryMs / 4);
}

/**
 * Records a checkpoint record read at local clock `clock`, after checking
 * that it belongs to the state's incarnation (DatabaseReplacedError).
 */
export function noteRecord(st: DbState, id: Identity, clock: number): void {
  checkIdentity(st.prefix, st.config, id);
  const ck = id.ck;
  st.record = ck.record!;
  st.recordClock = clock;
  st.recordDate = ck.date;
  st.suspect = false;
}

/** Applies commit `head + 1` to the state (a void one only advances `head`). */
export function applyCommit(st: DbState, c: FetchedCommit): void {
  const { index } = c;
  if (index.txid !== st.head + 1) {
    throw new LogCorruptError(`applying txid ${index.txid} on ${st.head}`);
  }
  if (isEffective(c, st.config)) {
    if (index.prevSize !== st.size) {
      throw new LogCorruptError(
        `log/${index.txid} was written on a database of ${index.prevSize} bytes, not ${st.size}`,
      );
    }
    versionsOf(st.prefix, c).forEach((v, k) => {
      const i = index.blocks[k].index;
      st.versions.set(i, v);
      const bytes = inlineBytes(c, v);
      if (bytes) st.cache.set(i, bytes);
      else st.cache.delete(i);
    });
    const n = blockCount(index.size, st.config.blockSize);
    for (const i of st.versions.keys()) if (i >= n) st.versions.delete(i);
    for (const i of st.cache.keys()) if (i >= n) st.cache.delete(i);
    st.size = index.size;
    st.pageSize = index.pageSize;
  }
  st.head = index.txid;
  st.provenAt = Math.max(st.provenAt, c.lastModified);
  st.times?.push(c.lastModified);
}

/**
 * Builds the state from a checkpoint record: LIST the log after it, then fetch
 * those commits while re-reading the record. If the record did not move, no
 * commit after it can have been deleted, so the listing is the whole story.
 * If it moved within what was listed, the state starts from the new record
 * with the commits already fetched (a busy log cannot make this spin). The
 * listing ends at the first gap: an object past a gap was written by a process
 * of another incarnation of the database (it is void; the state reaches it,
 * and decides it, when the log gets there).
 */
export function* loadFrom(
  prefix: string,
  config: ConfigRecord,
  first: CheckpointRead,
  probeBytes = DEFAULT_PROBE_BYTES,
): Step<DbState> {
  let ck = first;
  for (let attempt = 0; attempt < 20; attempt++) {
    checkIncarnation(prefix, config, ck);
    const rec = ck.record!;
    const t0 = yield* clock();
    const ns = logNamespace(config);
    const listing = yield* listAll(logPrefix(prefix, ns), logKey(prefix, rec.txid, ns));
    const txids: number[] = [];
    for (const e of listing.entries) {
      const t = txidOfLogKey(prefix, e.key, ns);
      if (t === undefined) continue; // not a commit object (a store's temporary file, say)
      if (t !== rec.txid + 1 + txids.length) break;
      txids.push(t);
    }
    const got = yield* parallel<FetchResult | CheckpointRead>([
      ...txids.map((t) => fetchCommit(prefix, t, config, probeBytes)),
      readCheckpoint(prefix),
    ]);
    const again = got.pop() as CheckpointRead;
    checkIncarnation(prefix, config, again);
    const base = again.record!;
    const last = rec.txid + txids.length;
    // Commits after the record now: all listed, none gone (retention stays at or below it).
    const fetched = (got as FetchResult[]).slice(Math.max(0, base.txid - rec.txid));
    if (base.txid < rec.txid || base.txid > last || fetched.some((f) => f.absent)) {
      ck = again;
      continue;
    }
    const st: DbState = {
      prefix,
      config,
      adopted: true,
      floor: base.txid,
      head: base.txid,
      size: base.size,
      pageSize: base.pageSize,
      provenAt: listing.date,
      provenClock: t0,
      versions: new Map(),
      cache: new Map(),
      probeBytes,
      record: base,
      recordClock: t0,
      recordDate: again.date,
      times: [],
      oldIds: new Set(),
    };
    for (const f of fetched) if (!f.absent) applyCommit(st, f.commit);
    return st;
  }
  throw new LogStoreError(`${prefix}: the log kept moving while loading it`, 0);
}

/**
 * Starts a read transaction: brings `head` to the newest commit. Costs one GET
 * when nothing changed, one more per new commit; every `recordCheckMs` (and
 * after a read found a block newer than the snapshot) the checkpoint record
 * is read in the same round trip.
 */
export function* refresh(st: DbState): Step<void> {
  if (!st.adopted) return yield* refreshUnadopted(st);
  const timing = st.config.timing;
  for (;;) {
    const t0 = yield* clock();
    const due = st.suspect || !(t0 - (st.recordClock ?? -Infinity) <= recordCheckMs(timing));
    const next = fetchCommit(st.prefix, st.head + 1, st.config, st.probeBytes);
    let f: FetchResult;
    let ck: Identity | undefined;
    if (due) {
      [f, ck] = (yield* parallel<FetchResult | Identity>([
        next,
        readIdentity(st.prefix),
      ])) as [FetchResult, Identity];
    } else {
      f = yield* next;
    }
    if (ck) noteRecord(st, ck, t0);
    const fresh = freshEnough(st.provenAt, f.absent ? f.date : f.commit.date, timing);
    const foreign = !f.absent && foreignIncarnation(f.commit.index, st.config.id);
    if (!fresh || (foreign && !ck)) {
      // Read after the answer it confirms (retention deletes only at or below the record, which
      // only moves forward), or to tell a stale process's void object from a replacement.
      ck = yield* readIdentity(st.prefix);
      noteRecord(st, ck, t0);
    }
    // The record past the snapshot while the next slot looks empty (a 404 wrongly trusted, or
    // commits since) or may have been emptied: load from the record.
    if (ck && ck.ck.record!.txid > st.head && (f.absent || !fresh)) {
      Object.assign(st, yield* loadFrom(st.prefix, st.config, ck.ck, st.probeBytes));
      return;
    }
    if (f.absent) {
      st.provenAt = Math.max(st.provenAt, f.date);
      st.provenClock = t0;
      return;
    }
    try {
      applyCommit(st, f.commit);
    } catch (e) {
      // A commit that does not follow ours: corruption, unless our database was deleted and
      // this object was written by another of its stale processes (then say that).
      if (e instanceof LogCorruptError) noteRecord(st, yield* readIdentity(st.prefix), t0);
      throw e;
    }
  }
}

function* refreshUnadopted(st: DbState): Step<void> {
  const t0 = yield* clock();
  const ck = yield* readCheckpoint(st.prefix);
  if (!ck.record) {
    st.provenAt = ck.date;
    st.provenClock = t0;
    return;
  }
  const config = yield* readConfig(st.prefix);
  if (!config) throw new LogCorruptError("a checkpoint record without a config object");
  Object.assign(st, yield* loadFrom(st.prefix, config, ck, st.probeBytes));
}

/**
 * A process's view of one database and its snapshot reads. The state knows
 * every effective commit in (floor, head]: for each block, the newest version
 * in that range and where to read it. A read at snapshot `head` resolves each
 * block to that version, else to the base block, whose recorded txid must be
 * at most `floor` (newer than `head`: "snapshot too old"; in between: a bug).
 *
 * `refresh` starts a read transaction: one GET of `log/<head+1>`, a 404 means
 * the snapshot is current; otherwise it applies commits until a 404. An answer
 * observed too long after the last proof is confirmed with the checkpoint
 * record (retention may have deleted what it looks for); if the checkpoint
 * passed `head`, the state is reloaded from it.
 *
 * @module
 */

import { blockCount, blockKey, blockLength } from "../blocks.ts";
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
import { crc32 } from "./crc32.ts";
import { HistoryGoneError, LogCorruptError, LogStoreError, SnapshotTooOldError } from "./errors.ts";
import { blockTxid, type ConfigRecord, META } from "./format.ts";
import { logKey, logPrefix, txidOfLogKey } from "./keys.ts";
import { type CheckpointRead, readCheckpoint, readConfig } from "./records.ts";
import { freshEnough } from "./rules.ts";
import {
  clock,
  expectOk,
  type GetOp,
  idempotent,
  isAbsent,
  listAll,
  parallel,
  type Step,
  type StoreResult,
} from "./store.ts";

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
   * deleted ({@linkcode HistoryGoneError}), not "snapshot too old".
   */
  frozen?: boolean;
}

/** Applies commit `head + 1` to the state (a void one only advances `head`). */
export function applyCommit(st: DbState, c: FetchedCommit): void {
  const { index } = c;
  if (index.txid !== st.head + 1) {
    throw new LogCorruptError(`applying txid ${index.txid} on ${st.head}`);
  }
  if (isEffective(c, st.config.timing)) {
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
}

/**
 * Builds the state from a checkpoint record: LIST the log after it, then fetch
 * those commits while re-reading the record. If the record did not move, no
 * commit after it can have been deleted, so the listing is the whole story.
 */
export function* loadFrom(
  prefix: string,
  config: ConfigRecord,
  first: CheckpointRead,
  probeBytes = DEFAULT_PROBE_BYTES,
): Step<DbState> {
  let ck = first;
  for (let attempt = 0; attempt < 100; attempt++) {
    const rec = ck.record;
    if (!rec) throw new LogCorruptError("the checkpoint record disappeared");
    const t0 = yield* clock();
    const listing = yield* listAll(logPrefix(prefix), logKey(prefix, rec.txid));
    const txids = listing.entries.map((e) => txidOfLogKey(prefix, e.key) ?? -1);
    const contiguous = txids.every((t, k) => t === rec.txid + 1 + k);
    const got = yield* parallel<FetchResult | CheckpointRead>([
      ...txids.map((t) => fetchCommit(prefix, t, config.blockSize, probeBytes)),
      readCheckpoint(prefix),
    ]);
    const again = got.pop() as CheckpointRead;
    const fetched = got as FetchResult[];
    if (!contiguous || again.record?.txid !== rec.txid || fetched.some((f) => f.absent)) {
      ck = again;
      continue;
    }
    const st: DbState = {
      prefix,
      config,
      adopted: true,
      floor: rec.txid,
      head: rec.txid,
      size: rec.size,
      pageSize: rec.pageSize,
      provenAt: listing.date,
      provenClock: t0,
      versions: new Map(),
      cache: new Map(),
      probeBytes,
    };
    for (const f of fetched) if (!f.absent) applyCommit(st, f.commit);
    return st;
  }
  throw new LogStoreError(`${prefix}: the log kept moving while loading it`, 0);
}

/**
 * Starts a read transaction: brings `head` to the newest commit. Costs one GET
 * when nothing changed, one more per new commit.
 */
export function* refresh(st: DbState): Step<void> {
  if (!st.adopted) return yield* refreshUnadopted(st);
  const timing = st.config.timing;
  for (;;) {
    const t0 = yield* clock();
    const f = yield* fetchCommit(st.prefix, st.head + 1, st.config.blockSize, st.probeBytes);
    const observed = f.absent ? f.date : f.commit.date;
    if (!freshEnough(st.provenAt, observed, timing)) {
      const ck = yield* readCheckpoint(st.prefix);
      if (!ck.record) throw new LogCorruptError("the checkpoint record disappeared");
      if (ck.record.txid > st.head) {
        Object.assign(st, yield* loadFrom(st.prefix, st.config, ck, st.probeBytes));
        return;
      }
    }
    if (f.absent) {
      st.provenAt = Math.max(st.provenAt, f.date);
      st.provenClock = t0;
      return;
    }
    applyCommit(st, f.commit);
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

/**
 * Reads blocks at snapshot `head` (empty past the end). Every block comes from
 * the cache, from the newest commit that changed it, or from its base block
 * checked against the snapshot.
 */
export function* readBlocks(st: DbState, indexes: number[]): Step<Uint8Array[]> {
  const bs = st.config.blockSize;
  const count = blockCount(st.size, bs);
  const wanted = [...new Set(indexes)].filter((i) => i < count && !st.cache.has(i));
  const ops: GetOp[] = wanted.map((i) => {
    const v = st.versions.get(i);
    return v
      ? { kind: "get", key: v.key, range: { offset: v.offset, length: v.length } }
      : { kind: "get", key: blockKey(st.prefix, i) };
  });
  const results = yield* idempotent(ops);
  if (!st.adopted) yield* checkTags(st, wanted, results);
  const fallback: number[] = [];
  wanted.forEach((i, k) => {
    const r = results[k].status === 416 ? results[k] : expectOk(ops[k], results[k], true);
    const v = st.versions.get(i);
    if (!v) {
      st.cache.set(i, checkBase(st, i, r, undefined));
    } else if (
      isAbsent(r) || r.status === 416 || (v.putId !== undefined && r.meta?.[META.putId] !== v.putId)
    ) {
      fallback.push(i); // deleted by retention (maybe re-created since): use the base
    } else {
      const body = r.body ?? new Uint8Array(0);
      if (body.length !== v.length || crc32(body) !== v.crc) {
        throw new LogCorruptError(`block ${i} of txid ${v.txid} in ${v.key} fails its checksum`);
      }
      st.cache.set(i, body);
    }
  });
  if (fallback.length > 0) {
    const ops2: GetOp[] = fallback.map((i) => ({ kind: "get", key: blockKey(st.prefix, i) }));
    const results2 = yield* idempotent(ops2);
    fallback.forEach((i, k) => {
      const r = expectOk(ops2[k], results2[k], true);
      st.cache.set(i, checkBase(st, i, r, st.versions.get(i)!.txid));
    });
  }
  return indexes.map((i) => i < count ? st.cache.get(i)! : new Uint8Array(0));
}

/**
 * A database without a checkpoint record is its base blocks, but a block
 * tagged with a txid was written by a checkpoint: of an earlier incarnation of
 * the log (its companion objects removed since: the tag is stale, the block is
 * the database's) or of one that began after this snapshot (adopted
 * meanwhile). The checkpoint record tells: absent now, no incarnation can have
 * written the block (a record precedes every commit, and a fold needs one).
 */
function* checkTags(st: DbState, indexes: number[], results: StoreResult[]): Step<void> {
  const k = indexes.findIndex((_, n) => blockTxid(results[n].meta) > 0);
  if (k < 0) return;
  const ck = yield* readCheckpoint(st.prefix);
  if (ck.record) throw tooNew(st, indexes[k], blockTxid(results[k].meta), ck.date);
}

/** A base block newer than the snapshot: "snapshot too old", or history gone for a frozen one. */
function tooNew(st: DbState, block: number, found: number, observedAt: number): Error {
  if (st.frozen) {
    const keepHistoryMs = st.config.timing.keepHistoryMs;
    return new HistoryGoneError({ prefix: st.prefix, txid: st.head, keepHistoryMs, block, found });
  }
  return new SnapshotTooOldError({
    snapshot: st.head,
    block,
    found,
    observedAt,
    provenAt: st.provenAt,
  });
}

/** Checks a base block against the snapshot; `expected`: the exact txid it must hold. */
function checkBase(
  st: DbState,
  i: number,
  r: StoreResult,
  expected: number | undefined,
): Uint8Array {
  if (isAbsent(r)) throw new LogCorruptError(`base block ${i} is missing`);
  // Not adopted: the base blocks are the database, whatever their (stale) tags; see checkTags.
  const found = st.adopted ? blockTxid(r.meta, st.config.id) : 0;
  if (found > st.head) throw tooNew(st, i, found, r.date ?? 0);
  if (expected !== undefined ? found !== expected : found > st.floor) {
    throw new LogCorruptError(
      `base block ${i} holds txid ${found}, expected ${expected ?? `<= ${st.floor}`}`,
    );
  }
  const body = r.body ?? new Uint8Array(0);
  if (body.length !== blockLength(i, st.size, st.config.blockSize)) {
    throw new LogCorruptError(`base block ${i} has ${body.length} bytes at size ${st.size}`);
  }
  return body;
}

/**
 * Snapshot reads: a block at snapshot `head` comes from the cache, from the
 * newest commit in (floor, head] that changed it, or from its base block,
 * whose recorded txid must be at most `floor` (newer than `head`: "snapshot
 * too old"; in between: a bug). What contradicts the protocol may be a
 * database deleted (and created again) under the reader: the checkpoint
 * record and config decide, and the error says which.
 *
 * @module
 */

import { blockCount, blockKey, blockLength } from "../blocks.ts";
import {
  DatabaseReplacedError,
  HistoryGoneError,
  LogCorruptError,
  SnapshotTooOldError,
} from "./errors.ts";
import { blockTxid, parseBlockTag } from "./format.ts";
import { coalesce, MAX_RANGE_BYTES, splitRun } from "./ranges.ts";
import { readCheckpoint, readIdentity } from "./records.ts";
import { type DbState, noteRecord } from "./snapshot.ts";
import {
  clock,
  expectOk,
  type GetOp,
  idempotent,
  isAbsent,
  type Step,
  type StoreResult,
} from "./store.ts";

/**
 * Reads blocks at snapshot `head` (empty past the end). Every block comes from
 * the cache, from the newest commit that changed it, or from its base block
 * checked against the snapshot. Versions side by side in one commit object or
 * chunk are fetched together, up to `maxRangeBytes` per GET (./ranges.ts).
 */
export function* readBlocks(
  st: DbState,
  indexes: number[],
  maxRangeBytes: number = MAX_RANGE_BYTES,
): Step<Uint8Array[]> {
  try {
    return yield* readAt(st, indexes, maxRangeBytes);
  } catch (e) {
    // What contradicts the protocol may be a database deleted (and created again) under us:
    // the record says which; if it is still ours, the corruption is reported as it is.
    if (e instanceof LogCorruptError && st.adopted && !st.frozen) {
      noteRecord(st, yield* readIdentity(st.prefix), yield* clock());
    }
    throw e;
  }
}

function* readAt(st: DbState, indexes: number[], maxRangeBytes: number): Step<Uint8Array[]> {
  const bs = st.config.blockSize;
  const count = blockCount(st.size, bs);
  const wanted = [...new Set(indexes)].filter((i) => i < count && !st.cache.has(i));
  const base = wanted.filter((i) => !st.versions.has(i));
  const runs = coalesce(
    wanted.filter((i) => st.versions.has(i)).map((index) => ({
      index,
      version: st.versions.get(index)!,
    })),
    maxRangeBytes,
  );
  const baseOps: GetOp[] = base.map((i) => ({ kind: "get", key: blockKey(st.prefix, i) }));
  const results = yield* idempotent([...baseOps, ...runs.map((r) => r.op)]);
  const baseResults = results.slice(0, base.length);
  if (!st.adopted) yield* checkTags(st, base, baseResults);
  yield* vetBase(st, baseResults);
  base.forEach((i, k) => {
    st.cache.set(i, checkBase(st, i, expectOk(baseOps[k], baseResults[k], true), undefined));
  });
  const fallback: number[] = [];
  runs.forEach((run, k) => {
    const r = results[base.length + k];
    const got = splitRun(run, r.status === 416 ? r : expectOk(run.op, r, true));
    // Gone: deleted by retention (maybe re-created since): use the base blocks.
    if (got === "gone") fallback.push(...run.blocks.map((b) => b.index));
    else run.blocks.forEach((b, j) => st.cache.set(b.index, got[j]));
  });
  if (fallback.length > 0) {
    const ops2: GetOp[] = fallback.map((i) => ({ kind: "get", key: blockKey(st.prefix, i) }));
    const results2 = yield* idempotent(ops2);
    yield* vetBase(st, results2);
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

/**
 * Base blocks that are missing, or tagged by an incarnation of the log this
 * process does not know, mean that the database may have been deleted (and
 * created again) under it: the checkpoint record tells
 * ({@linkcode DatabaseReplacedError}), else the tag is of an older
 * incarnation (a database adopted with stale tags) and is remembered as such.
 */
function* vetBase(st: DbState, results: StoreResult[]): Step<void> {
  if (!st.adopted || st.frozen) return;
  const odd = results.filter((r) => isAbsent(r) || unknownTag(st, r) !== undefined);
  if (odd.length === 0) return;
  const t0 = yield* clock();
  noteRecord(st, yield* readIdentity(st.prefix), t0);
  st.oldIds ??= new Set();
  for (const r of odd) {
    const id = unknownTag(st, r);
    if (id !== undefined) st.oldIds.add(id);
  }
}

/** The incarnation a base block's tag names, when it is neither ours nor known to be older. */
function unknownTag(st: DbState, r: StoreResult): string | undefined {
  if (r.status !== 200 || st.config.id === undefined) return undefined;
  const id = parseBlockTag(r.meta).id;
  return id !== undefined && id !== st.config.id && !st.oldIds?.has(id) ? id : undefined;
}

/** A base block newer than the snapshot: "snapshot too old", or history gone for a frozen one. */
function tooNew(st: DbState, block: number, found: number, observedAt: number): Error {
  // Within G of a proof this cannot happen (I11): the proof may have been wrong. Either way the
  // next refresh checks the checkpoint record, so a retry does not meet the same error forever.
  st.suspect = true;
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
  if (isAbsent(r)) {
    // Not adopted, the blocks are the whole database: one gone means it was deleted (or changed
    // by another tool) since it was listed. Adopted, vetBase checked the record: corruption.
    if (!st.adopted && !st.frozen) throw new DatabaseReplacedError({ prefix: st.prefix });
    throw new LogCorruptError(`base block ${i} is missing`);
  }
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

/**
 * The writer's commit. A transaction made on snapshot S commits as txid S+1
 * with ONE create-only PUT of `log/<S+1>` (`If-None-Match: *`): exactly one
 * writer wins each txid. Big transactions first stage their block data as
 * chunk objects (bounded memory); the commit object then only references them.
 *
 * The outcome is never misreported: after a 412 or an unanswered attempt the
 * writer reads the slot's metadata back and recognises its own put id; if no
 * attempt landed it closes the slot with an abort marker (create-only too), so
 * a delayed attempt can never land afterwards. A commit is void (a no-op for
 * everyone) when written more than W after its snapshot was proven current:
 * that makes a paused writer's late PUT harmless, even into a slot retention
 * has emptied.
 *
 * @module
 */

import { blockCount, blockLength } from "../blocks.ts";
import { locateBlocks } from "./commits.ts";
import { crc32 } from "./crc32.ts";
import { LogOpenError, LogStoreError } from "./errors.ts";
import {
  type BlockRef,
  type CommitIndex,
  commitIndexEnd,
  commitMeta,
  encodeCommit,
  stampFromMeta,
} from "./format.ts";
import { logKey, stageKey } from "./keys.ts";
import { readCheckpoint } from "./records.ts";
import { commitEffective, freshEnough, surelyInTime } from "./rules.ts";
import type { DbState } from "./snapshot.ts";
import {
  clock,
  dateOf,
  expectOk,
  idempotent,
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  type PutOp,
  request,
  type Step,
} from "./store.ts";

/** What a write transaction changed, relative to the state's snapshot. */
export interface Transaction {
  /** Random id of this attempt ([0-9a-z], up to 40 characters; see `newPutId`). */
  putId: string;
  /** Database size in bytes after the transaction. */
  size: number;
  /** Page size after the transaction. */
  pageSize: number;
  /** Full new content of every changed block (each of its length at `size`). */
  blocks: Map<number, Uint8Array>;
}

/** Options of {@linkcode commit}. */
export interface CommitOptions {
  /** Block bytes kept inline in the commit object; more are staged first. Default 1 MiB. */
  inlineLimit?: number;
  /** Target size of one staged chunk. Default 8 MiB. */
  chunkBytes?: number;
  /** PUT attempts of the commit object before closing the slot. Default 5. */
  attempts?: number;
}

/** How a commit ended. Only "committed" means the transaction is durable and visible. */
export type CommitOutcome =
  | { kind: "committed"; txid: number }
  | { kind: "conflict"; txid: number }
  | { kind: "expired"; txid: number }
  | { kind: "aborted"; txid: number; reason: string }
  | { kind: "unknown"; txid: number; reason: string };

/** Throws RangeError unless `tx` holds every block whose content or length changes. */
export function checkTransaction(st: DbState, tx: Transaction): void {
  checkBlocks(st, tx.size, [...tx.blocks].map(([i, b]) => [i, b.length]));
}

/** Throws RangeError unless `blocks` ([index, length]) fit `size` and hold every block whose length changes. */
function checkBlocks(st: DbState, size: number, blocks: [number, number][]): void {
  const bs = st.config.blockSize;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  const seen = new Set<number>();
  for (const [i, length] of blocks) {
    if (length !== blockLength(i, size, bs) || length === 0) {
      throw new RangeError(
        `block ${i} has ${length} bytes, ${blockLength(i, size, bs)} at size ${size}`,
      );
    }
    seen.add(i);
  }
  const from = Math.floor(Math.min(st.size, size) / bs);
  for (let i = from; i < blockCount(size, bs); i++) {
    if (blockLength(i, size, bs) !== blockLength(i, st.size, bs) && !seen.has(i)) {
      throw new RangeError(`block ${i} changes length at size ${size} and must be included`);
    }
  }
}

/**
 * Commits `tx`, made on snapshot `st.head`, as txid `st.head + 1`. On
 * "committed" the state moves to the new txid; on any other outcome it is
 * unchanged (refresh before the next transaction).
 */
export function* commit(
  st: DbState,
  tx: Transaction,
  opts: CommitOptions = {},
): Step<CommitOutcome> {
  if (!st.adopted) throw new LogOpenError(`${st.prefix}: open it with openForWrite before writing`);
  checkTransaction(st, tx);
  const txid = st.head + 1;
  const timing = st.config.timing;
  const entries = [...tx.blocks.entries()].sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((n, [, b]) => n + b.length, 0);
  const refs: BlockRef[] = [];
  const inline: Uint8Array[] = [];
  let stagedAt: number | undefined;
  if (total > (opts.inlineLimit ?? 1 << 20)) {
    const before = yield* clock();
    try {
      stagedAt = yield* stage(st, tx.putId, txid, entries, refs, opts.chunkBytes ?? 8 << 20);
    } catch (e) {
      if (e instanceof LogStoreError) return { kind: "aborted", txid, reason: e.message };
      throw e;
    }
    // A commit written more than X after its staging would be void: do not even try.
    if ((yield* clock()) - before > timing.maxStageAgeMs / 2) {
      return { kind: "aborted", txid, reason: "staging took too long" };
    }
  } else {
    let offset = 0;
    for (const [index, b] of entries) {
      refs.push({ index, offset, length: b.length, crc: crc32(b) });
      inline.push(b);
      offset += b.length;
    }
  }
  return yield* decide(
    st,
    {
      txid,
      putId: tx.putId,
      kind: "commit",
      validatedAt: st.provenAt,
      ...(stagedAt === undefined ? {} : { stagedAt }),
      size: tx.size,
      prevSize: st.size,
      pageSize: tx.pageSize,
      blockSize: st.config.blockSize,
      blocks: refs,
    },
    inline,
    opts,
    tx.blocks,
  );
}

/**
 * Renews the proof when old, PUTs the commit object, resolves the outcome and
 * moves the state on "committed" (`validatedAt` is set from the state here).
 */
function* decide(
  st: DbState,
  index: CommitIndex,
  inline: Uint8Array[],
  opts: CommitOptions,
  blocks?: Map<number, Uint8Array>,
): Step<CommitOutcome> {
  const { txid } = index;
  const timing = st.config.timing;
  // Renew the proof that S is current when it is getting old (a long transaction).
  const now = yield* clock();
  if (now - st.provenClock > timing.maxCommitLagMs / 2) {
    try {
      const op = { kind: "head", key: logKey(st.prefix, txid) } as const;
      const r = expectOk(op, yield* request(op), true);
      if (!isAbsent(r)) return { kind: "conflict", txid };
      if (!freshEnough(st.provenAt, dateOf(op, r), timing)) {
        const ck = yield* readCheckpoint(st.prefix);
        if ((ck.record?.txid ?? 0) > st.head) return { kind: "conflict", txid };
      }
      st.provenAt = dateOf(op, r);
      st.provenClock = now;
    } catch (e) {
      if (e instanceof LogStoreError) return { kind: "aborted", txid, reason: e.message };
      throw e;
    }
  }
  index.validatedAt = st.provenAt;
  const body = encodeCommit(index, inline);
  const put: PutOp = {
    kind: "put",
    key: logKey(st.prefix, txid),
    body,
    ifNoneMatch: true,
    meta: commitMeta(index),
  };
  let occupied = false;
  let mayHaveLanded = false; // an unanswered attempt may have been applied
  for (let a = 0; a < (opts.attempts ?? 5); a++) {
    const [r] = yield [put];
    if (isSuccess(r) && r.date !== undefined && surelyInTime(index, r.date, timing)) {
      return finish(st, index, body, blocks);
    }
    if (isSuccess(r) || isLostRace(r)) {
      occupied = true;
      break;
    }
    if (!isTransient(r) && a === 0) return { kind: "aborted", txid, reason: `PUT ${r.status}` };
    if (!isTransient(r)) break;
    mayHaveLanded = true;
  }
  const outcome = yield* resolve(st, index, { occupied, mayHaveLanded }, opts.attempts ?? 5);
  return outcome.kind === "committed" ? finish(st, index, body, blocks) : outcome;
}

/**
 * A transaction whose block data the caller staged itself, chunk by chunk,
 * with {@linkcode stageChunk} under `stage/<txid>.<putId>/` (to stream a
 * whole database in with bounded memory), committed by
 * {@linkcode commitStaged}.
 */
export interface StagedTransaction {
  /** The txid the chunks were staged for: the state's `head + 1` at commit. */
  txid: number;
  /** Put id the chunks were staged under (see `newPutId`). */
  putId: string;
  /** Database size in bytes after the transaction. */
  size: number;
  /** Page size after the transaction. */
  pageSize: number;
  /** Every changed block, ascending, each in a staged chunk (`chunk` set). */
  refs: BlockRef[];
  /** Earliest server time (`Date`) among the answers to the chunk PUTs. */
  stagedAt: number;
  /** Local clock (a `clock` reading) taken before the first chunk was staged. */
  stagedClock: number;
}

/**
 * PUTs chunk `seq` of a writer's staged data for `txid` (a plain PUT of a
 * unique key, retried freely); returns the server's `Date` of the answer.
 * Throws {@linkcode LogStoreError} when it keeps failing.
 */
export function* stageChunk(
  prefix: string,
  txid: number,
  putId: string,
  seq: number,
  body: Uint8Array,
): Step<number> {
  const op: PutOp = { kind: "put", key: stageKey(prefix, txid, putId, seq), body };
  return dateOf(op, expectOk(op, yield* request(op)));
}

/**
 * Commits a transaction staged with {@linkcode stageChunk}, made on snapshot
 * `st.head`, with one create-only PUT of a commit object that references the
 * chunks: the same rules and outcomes as {@linkcode commit}. "conflict" at
 * once (nothing sent) when the state is no longer at `tx.txid - 1`;
 * "aborted" when staging began more than X/2 ago on the local clock (the
 * commit would likely be void). The state's cache drops the blocks written.
 */
export function* commitStaged(
  st: DbState,
  tx: StagedTransaction,
  opts: CommitOptions = {},
): Step<CommitOutcome> {
  if (!st.adopted) throw new LogOpenError(`${st.prefix}: open it with openForWrite before writing`);
  const txid = st.head + 1;
  if (tx.txid !== txid) return { kind: "conflict", txid: tx.txid };
  checkBlocks(st, tx.size, tx.refs.map((r) => [r.index, r.length]));
  tx.refs.forEach((r, k) => {
    if (r.chunk === undefined || (k > 0 && r.index <= tx.refs[k - 1].index)) {
      throw new RangeError(
        `staged refs must be ascending and each name its chunk (block ${r.index})`,
      );
    }
  });
  if ((yield* clock()) - tx.stagedClock > st.config.timing.maxStageAgeMs / 2) {
    return { kind: "aborted", txid, reason: "staging took too long" };
  }
  return yield* decide(
    st,
    {
      txid,
      putId: tx.putId,
      kind: "commit",
      validatedAt: st.provenAt,
      stagedAt: tx.stagedAt,
      size: tx.size,
      prevSize: st.size,
      pageSize: tx.pageSize,
      blockSize: st.config.blockSize,
      blocks: tx.refs,
    },
    [],
    opts,
  );
}

/** PUTs the chunks of a big transaction; returns the earliest server time among them. */
function* stage(
  st: DbState,
  putId: string,
  txid: number,
  entries: [number, Uint8Array][],
  refs: BlockRef[],
  chunkBytes: number,
): Step<number> {
  const chunks: Uint8Array[][] = [[]];
  let fill = 0;
  for (const [index, b] of entries) {
    if (fill > 0 && fill + b.length > chunkBytes) {
      chunks.push([]);
      fill = 0;
    }
    refs.push({ index, offset: fill, length: b.length, crc: crc32(b), chunk: chunks.length - 1 });
    chunks[chunks.length - 1].push(b);
    fill += b.length;
  }
  const ops: PutOp[] = chunks.map((parts, seq) => {
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let pos = 0;
    for (const p of parts) {
      body.set(p, pos);
      pos += p.length;
    }
    return { kind: "put", key: stageKey(st.prefix, txid, putId, seq), body };
  });
  const results = yield* idempotent(ops);
  return Math.min(...results.map((r, k) => dateOf(ops[k], expectOk(ops[k], r))));
}

/**
 * Reads the slot back to learn what happened; closes it with an abort marker if
 * none of our attempts landed. An effective object is always the first one in
 * its slot. A void object or an empty slot may instead be what is left after
 * our own earlier attempt landed, was folded and deleted by retention: when an
 * attempt may have landed and the answer came more than R - M after our proof
 * with the checkpoint past our txid, the outcome is unknown.
 */
function* resolve(
  st: DbState,
  index: CommitIndex,
  seen: { occupied: boolean; mayHaveLanded: boolean },
  attempts: number,
): Step<CommitOutcome> {
  const { txid, putId } = index;
  const timing = st.config.timing;
  const key = logKey(st.prefix, txid);
  const marker: CommitIndex = { ...index, kind: "abort", size: st.size, blocks: [] };
  delete marker.stagedAt;
  const abort: PutOp = {
    kind: "put",
    key,
    body: encodeCommit(marker, []),
    ifNoneMatch: true,
    meta: commitMeta(marker),
  };
  const unknown = (reason: string): CommitOutcome => ({ kind: "unknown", txid, reason });
  const erased =
    `our commit may have landed and been folded and deleted before ${key} was read back`;
  function* ambiguous(date: number | undefined): Step<boolean> {
    if (!seen.mayHaveLanded) return false;
    if (date !== undefined && freshEnough(index.validatedAt, date, timing)) return false;
    return ((yield* readCheckpoint(st.prefix)).record?.txid ?? 0) >= txid;
  }
  try {
    for (let round = 0; round < attempts; round++) {
      const r = yield* request({ kind: "head", key });
      if (isSuccess(r)) {
        const stamp = stampFromMeta(r.meta);
        if (stamp && commitEffective(r.lastModified ?? Infinity, stamp, timing)) {
          return stamp.putId === putId ? { kind: "committed", txid } : { kind: "conflict", txid };
        }
        if (yield* ambiguous(r.date)) return unknown(erased);
        if (stamp?.putId !== putId) return { kind: "conflict", txid };
        return stamp.kind === "abort"
          ? { kind: "aborted", txid, reason: "no attempt got through" }
          : { kind: "expired", txid };
      }
      if (!isAbsent(r)) return unknown(`HEAD ${key}: ${r.status}`);
      if (seen.occupied || (yield* ambiguous(r.date))) return unknown(erased);
      const [a] = yield [abort];
      if (isSuccess(a)) {
        if (yield* ambiguous(a.date)) return unknown(erased);
        return { kind: "aborted", txid, reason: "no attempt got through" };
      }
      if (isLostRace(a)) seen.occupied = true;
      else if (!isTransient(a)) return unknown(`PUT ${key}: ${a.status}`);
    }
  } catch (e) {
    if (e instanceof LogStoreError) return unknown(e.message);
    throw e;
  }
  return unknown(`${key} could not be read back`);
}

/** Moves the state to the writer's own commit. */
function finish(
  st: DbState,
  index: CommitIndex,
  body: Uint8Array,
  blocks: Map<number, Uint8Array> | undefined,
): CommitOutcome {
  const n = blockCount(index.size, st.config.blockSize);
  locateBlocks(st.prefix, index, commitIndexEnd(body)).forEach((v, k) => {
    const i = index.blocks[k].index;
    st.versions.set(i, v);
    const bytes = blocks?.get(i);
    if (bytes) st.cache.set(i, bytes);
    else st.cache.delete(i);
  });
  for (const i of st.versions.keys()) if (i >= n) st.versions.delete(i);
  for (const i of st.cache.keys()) if (i >= n) st.cache.delete(i);
  st.size = index.size;
  st.pageSize = index.pageSize;
  st.head = index.txid;
  return { kind: "committed", txid: index.txid };
}

/**
 * The commit point of a writer (docs/protocol.md 6.1 steps 3-6): renew the
 * proof of the snapshot when it is getting old, PUT the commit object
 * create-only, and decide the outcome so it is never misreported: read the
 * slot back after a 412 or an unanswered attempt (the put id tells our own
 * object), and close an empty slot with an abort marker. Used by `commit`
 * and `commitStaged` (./writer.ts).
 *
 * @module
 */

import { blockCount } from "../blocks.ts";
import { locateBlocks } from "./commits.ts";
import { LogStoreError } from "./errors.ts";
import {
  type CommitIndex,
  commitIndexEnd,
  commitMeta,
  encodeCommit,
  stampFromMeta,
} from "./format.ts";
import { logKey } from "./keys.ts";
import { readCheckpoint } from "./records.ts";
import { commitEffective, freshEnough, surelyInTime } from "./rules.ts";
import type { DbState } from "./snapshot.ts";
import {
  clock,
  dateOf,
  expectOk,
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  type PutOp,
  request,
  type Step,
} from "./store.ts";

/** Options of {@linkcode commit}. */
export interface CommitOptions {
  /** Block bytes kept inline in the commit object; more are staged first. Default 1 MiB. */
  inlineLimit?: number;
  /** Target size of one staged chunk. Default 8 MiB. */
  chunkBytes?: number;
  /** PUT attempts of the commit object before closing the slot. Default 5. */
  attempts?: number;
  /**
   * A lease holder's cap on `validatedAt`: the server time of its last take
   * or renewal of the lease (docs/protocol.md 15), so a commit it sends after
   * losing the lease is void.
   */
  validBefore?: number;
}

/** How a commit ended. Only "committed" means the transaction is durable and visible. */
export type CommitOutcome =
  | { kind: "committed"; txid: number }
  | { kind: "conflict"; txid: number }
  | { kind: "expired"; txid: number }
  | { kind: "aborted"; txid: number; reason: string }
  | { kind: "unknown"; txid: number; reason: string };

/**
 * Renews the proof when old, PUTs the commit object, resolves the outcome and
 * moves the state on "committed" (`validatedAt` is set from the state here).
 */
export function* decide(
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
  index.validatedAt = Math.min(st.provenAt, opts.validBefore ?? Infinity);
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

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
import { DatabaseReplacedError, LogStoreError, StoreContractError } from "./errors.ts";
import {
  type CommitIndex,
  commitIndexEnd,
  commitMeta,
  encodeCommit,
  stampFromMeta,
} from "./format.ts";
import { logKey, logNamespace } from "./keys.ts";
import { type Identity, readCheckpoint, readIdentity } from "./records.ts";
import { commitEffective, freshEnough, surelyInTime } from "./rules.ts";
import { type DbState, noteRecord, recordCheckMs } from "./snapshot.ts";
import {
  clock,
  dateOf,
  expectOk,
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  parallel,
  type PutOp,
  request,
  type Step,
  type StoreResult,
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

/**
 * How a commit ended. Only "committed" means the transaction is durable and
 * visible. "replaced": the database was deleted (and maybe created again)
 * under this process; the transaction is not part of any database.
 */
export type CommitOutcome =
  | { kind: "committed"; txid: number }
  | { kind: "replaced"; txid: number; reason: string }
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
  const ns = logNamespace(st.config);
  const now = yield* clock();
  // Every recordCheckMs, the checkpoint record is read with the first request of the commit
  // (same round trip): a database deleted (and maybe created again) under this process is
  // never written for long. Its commit, if it lands, is void for every reader there.
  let check = now - (st.recordClock ?? -Infinity) > recordCheckMs(timing);
  let replaced: string | undefined;
  function* withCheck<T>(step: Step<T>): Step<T> {
    if (!check) return yield* step;
    check = false;
    const [r, ck] = yield* parallel<T | Identity | undefined>([step, maybeIdentity(st.prefix)]);
    if (ck) {
      try {
        noteRecord(st, ck as Identity, now);
      } catch (e) {
        if (!(e instanceof DatabaseReplacedError)) throw e;
        replaced = e.message;
      }
    }
    return r as T;
  }
  // Renew the proof that S is current when it is getting old (a long transaction).
  if (now - st.provenClock > timing.maxCommitLagMs / 2) {
    try {
      const op = { kind: "head", key: logKey(st.prefix, txid, ns) } as const;
      const r = expectOk(op, yield* withCheck(request(op)), true);
      if (replaced) return { kind: "replaced", txid, reason: replaced };
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
  // On the server's clock too: a commit proven more than recordCheckMs after the last check of
  // the record (say, after a long pause of this process) checks it again. So no commit is
  // acknowledged more than recordCheckMs + W after its database was deleted.
  if (index.validatedAt - (st.recordDate ?? -Infinity) > recordCheckMs(timing)) check = true;
  if (ns !== undefined) index.incarnation = ns;
  const body = encodeCommit(index, inline);
  const put: PutOp = {
    kind: "put",
    key: logKey(st.prefix, txid, ns),
    body,
    ifNoneMatch: true,
    meta: commitMeta(index),
  };
  let occupied = false;
  let landings = 0; // attempts that may have been applied
  let acked = 0; // attempts the store answered 2xx: ours was the first object in the slot
  for (let a = 0; a < (opts.attempts ?? 5); a++) {
    const r = yield* withCheck(once(put));
    if (replaced) return { kind: "replaced", txid, reason: replaced };
    if (isSuccess(r) && r.date !== undefined && surelyInTime(index, r.date, timing)) {
      return finish(st, index, body, blocks, r.date);
    }
    if (isSuccess(r) || isLostRace(r)) {
      occupied = true;
      // A 2xx not surely in time was applied all the same: if its object is gone when it is
      // read back (folded and deleted), the outcome is unknown, never "not applied".
      if (isSuccess(r)) landings++, acked++;
      break;
    }
    if (!isTransient(r) && a === 0) return { kind: "aborted", txid, reason: `PUT ${r.status}` };
    if (!isTransient(r)) break;
    landings++;
  }
  const seen = { occupied, landings, acked, lastModified: undefined as number | undefined };
  const outcome = yield* resolve(st, index, seen, opts.attempts ?? 5);
  return outcome.kind === "committed"
    ? finish(st, index, body, blocks, seen.lastModified)
    : outcome;
}

/** One attempt of `op`, its answer as is. */
function* once(op: PutOp): Step<StoreResult> {
  const [r] = yield [op];
  return r;
}

/** Record and config, or undefined when they cannot be read now (no conclusion drawn). */
function* maybeIdentity(prefix: string): Step<Identity | undefined> {
  try {
    return yield* readIdentity(prefix);
  } catch (e) {
    if (e instanceof Error) return undefined;
    throw e;
  }
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
  seen: { occupied: boolean; landings: number; acked: number; lastModified?: number },
  attempts: number,
): Step<CommitOutcome> {
  const { txid, putId } = index;
  const timing = st.config.timing;
  const key = logKey(st.prefix, txid, logNamespace(st.config));
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
    if (seen.landings === 0) return false;
    if (date !== undefined && freshEnough(index.validatedAt, date, timing)) return false;
    return ((yield* readCheckpoint(st.prefix)).record?.txid ?? 0) >= txid;
  }
  try {
    for (let round = 0; round < attempts; round++) {
      const r = yield* request({ kind: "head", key });
      if (isSuccess(r)) {
        const stamp = stampFromMeta(r.meta);
        if (stamp && commitEffective(r.lastModified ?? Infinity, stamp, timing, st.config.id)) {
          seen.lastModified = r.lastModified;
          if (stamp.putId === putId) return { kind: "committed", txid };
          // Our create-only PUT was answered 2xx, so ours was the first object in the slot, and
          // the first one in time is the effective one: another can only be there if the store
          // let two create-only PUTs succeed.
          if (seen.acked > 0) {
            throw new StoreContractError(
              `${key}: the store answered 2xx to this commit's PUT If-None-Match: *, yet the slot ` +
                `holds another writer's commit (${stamp.putId})`,
            );
          }
          return { kind: "conflict", txid };
        }
        // Our own void commit, and no other attempt of ours can have landed: it is the one.
        if (stamp?.putId === putId && stamp.kind === "commit" && seen.landings <= 1) {
          return { kind: "expired", txid };
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

/** Moves the state to the writer's own commit (`lastModified`: its Last-Modified, or a bound). */
function finish(
  st: DbState,
  index: CommitIndex,
  body: Uint8Array,
  blocks: Map<number, Uint8Array> | undefined,
  lastModified: number | undefined,
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
  st.times?.push(lastModified ?? index.validatedAt);
  return { kind: "committed", txid: index.txid };
}

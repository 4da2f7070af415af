/**
 * The checkpoint claim (docs/protocol.md section 16): at most one
 * checkpointer at a time writes a database's base blocks. The claim lives in
 * the checkpoint record, so taking, renewing, releasing it and moving the
 * record forward are all one conditional write of one object (`If-Match` its
 * ETag; a new nonce in every write gives every write a new ETag).
 *
 * It counts until the server's clock passes the record's Last-Modified plus
 * its TTL plus M, unless released. Its holder sends a block write only while
 * `sentClock + ttl - M - T` lies ahead on its local clock, where `sentClock`
 * was read just before the record write that last renewed it and T bounds
 * how long that block write can take to land (its attempt timeout): every
 * block write of a holder lands before anyone else can take the claim.
 *
 * @module
 */

import { floorSec, type Timing } from "./rules.ts";
import { type CheckpointClaim, type CheckpointRecord, encodeCheckpoint } from "./format.ts";
import { LogStoreError } from "./errors.ts";
import { checkpointKey, newPutId } from "./keys.ts";
import { type CheckpointRead, readCheckpoint } from "./records.ts";
import {
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  type PutOp,
  type Step,
  type StoreResult,
} from "./store.ts";

/** Who claims: a random id per run, and for people the host and process. */
export interface ClaimIdentity {
  /** Random id of the run (see `newPutId`). */
  holder: string;
  /** Host name (may be empty). */
  host: string;
  /** Process id. */
  pid: number;
}

/** A claim this run holds. */
export interface HeldClaim {
  /** The record as we last wrote it (its `claim` is ours). */
  record: CheckpointRecord;
  /** ETag of that write. */
  etag: string;
  /** Local clock read just before that write was sent. */
  sentClock: number;
}

/** Smallest default TTL of a claim. */
const MIN_DEFAULT_TTL_MS = 30_000;

/**
 * The default TTL of a claim for block writes that take at most
 * `requestTimeoutMs` to land: 3 (T + M), at least 30 s, whole seconds.
 */
export function defaultClaimTtl(t: Timing, requestTimeoutMs: number): number {
  const ms = Math.max(MIN_DEFAULT_TTL_MS, 3 * (requestTimeoutMs + t.marginMs));
  return Math.ceil(ms / 1000) * 1000;
}

/**
 * Throws RangeError unless `ttlMs` is whole seconds and leaves a window to
 * send in: TTL - M - T must exceed M + T.
 */
export function checkClaimTtl(ttlMs: number, t: Timing, requestTimeoutMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs % 1000 !== 0) {
    throw new RangeError("claimTtlMs must be a positive whole number of seconds in ms");
  }
  if (ttlMs <= 2 * (t.marginMs + requestTimeoutMs)) {
    throw new RangeError(
      `claimTtlMs ${ttlMs} must exceed 2 * (marginMs + requestTimeoutMs) = ${
        2 * (t.marginMs + requestTimeoutMs)
      }`,
    );
  }
  return ttlMs;
}

/**
 * Whether the record's claim counts at server time `ck.date`: present, not
 * released, and the server's clock not past Last-Modified + TTL + M (whole
 * seconds, as every protocol time).
 */
export function claimLive(ck: CheckpointRead, t: Timing): boolean {
  const c = ck.record?.claim;
  if (!c || c.released) return false;
  const lm = ck.lastModified ?? ck.date; // no Last-Modified: as if just written
  return floorSec(ck.date) - floorSec(lm) <= c.ttlMs + t.marginMs;
}

/** Server time from which the record's claim no longer counts, unless renewed. */
export function claimExpiresAt(ck: CheckpointRead, t: Timing): number {
  const c = ck.record?.claim;
  const lm = ck.lastModified ?? ck.date;
  return floorSec(lm) + (c?.ttlMs ?? 0) + t.marginMs + 1000;
}

/**
 * The local clock until which a fenced write that may take `timeoutMs` to
 * land can still be sent under `held`.
 */
export function sendBy(held: HeldClaim, t: Timing, timeoutMs: number): number {
  return held.sentClock + held.record.claim!.ttlMs - t.marginMs - timeoutMs;
}

/** What one conditional write of the record did. */
type WriteResult =
  | { kind: "ok"; held: HeldClaim }
  | { kind: "lost" }
  | { kind: "unknown"; status: StoreResult; sentClock: number };

/** One PUT of `record` with `If-Match: etag`, the local clock read just before it is sent. */
function* writeRecord(
  prefix: string,
  record: CheckpointRecord,
  etag: string,
): Step<WriteResult> {
  const op: PutOp = {
    kind: "put",
    key: checkpointKey(prefix),
    body: encodeCheckpoint(record),
    ifMatch: etag,
  };
  const [c, r] = yield [{ kind: "clock" }, op];
  if (c.clock === undefined) throw new LogStoreError("the driver gave no clock reading", 0);
  if (isSuccess(r)) {
    if (!r.etag) {
      throw new LogStoreError(
        `PUT ${op.key} answered ${r.status} without an ETag: the store does not support ` +
          "the conditional writes the protocol needs",
        r.status,
      );
    }
    return { kind: "ok", held: { record, etag: r.etag, sentClock: c.clock } };
  }
  if (isLostRace(r) || isAbsent(r)) return { kind: "lost" };
  if (isTransient(r)) return { kind: "unknown", status: r, sentClock: c.clock };
  throw new LogStoreError(`PUT ${op.key}: unexpected ${r.status} ${r.message ?? ""}`, r.status);
}

/**
 * Writes `record` (whose claim carries a fresh nonce) over the version read
 * as `etag`. An unanswered write is resolved by reading the record back: our
 * nonce there means it landed (and `sentClock` still bounds its
 * Last-Modified from below). Null: not written (someone else wrote first).
 */
function* conditionalWrite(
  prefix: string,
  record: CheckpointRecord,
  etag: string,
): Step<HeldClaim | null> {
  let firstSent: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const w = yield* writeRecord(prefix, record, etag);
    if (w.kind === "ok") return { ...w.held, sentClock: firstSent ?? w.held.sentClock };
    if (w.kind === "lost") return null;
    firstSent ??= w.sentClock;
    const now = yield* readCheckpoint(prefix);
    if (now.record?.claim?.nonce === record.claim?.nonce && now.etag) {
      // One of our attempts landed: the clock read before the first one bounds its send.
      return { record, etag: now.etag, sentClock: firstSent };
    }
    if (now.etag !== etag) return null; // someone else wrote (or ours lands later: it fails then)
  }
  return null;
}

/** The record `rec` with `claim` in it (and the incarnation `id` when it had none). */
function withClaim(rec: CheckpointRecord, claim: CheckpointClaim, id?: string): CheckpointRecord {
  return { ...rec, ...(rec.id === undefined && id !== undefined ? { id } : {}), claim };
}

/**
 * Takes the claim over the record read as `ck` (which must show no live
 * claim): generation + 1, our identity, `ttlMs`. Null when another write
 * came first.
 */
export function* takeClaim(
  prefix: string,
  ck: CheckpointRead,
  me: ClaimIdentity,
  ttlMs: number,
  id?: string,
): Step<HeldClaim | null> {
  const rec = ck.record;
  if (!rec) throw new LogStoreError(`${prefix}: no checkpoint record to claim`, 0);
  if (!ck.etag) {
    throw new LogStoreError(
      `GET ${checkpointKey(prefix)} answered without an ETag: the store does not support the ` +
        "conditional writes the protocol needs",
      0,
    );
  }
  const claim: CheckpointClaim = {
    holder: me.holder,
    host: me.host,
    pid: me.pid,
    generation: (rec.claim?.generation ?? 0) + 1,
    ttlMs,
    released: false,
    nonce: newPutId(),
  };
  return yield* conditionalWrite(prefix, withClaim(rec, claim, id), ck.etag);
}

/**
 * Writes the record under our claim: `changes` applied (a new txid, size,
 * retention time), the claim renewed, or released when `release`. Null: the
 * claim was lost (another took it after it expired).
 */
export function* writeUnderClaim(
  prefix: string,
  held: HeldClaim,
  changes: Partial<CheckpointRecord> = {},
  release = false,
): Step<HeldClaim | null> {
  const claim = { ...held.record.claim!, released: release, nonce: newPutId() };
  return yield* conditionalWrite(prefix, { ...held.record, ...changes, claim }, held.etag);
}

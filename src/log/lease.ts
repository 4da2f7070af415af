/**
 * The writer lease (docs/protocol.md section 15): one small JSON object,
 * `<prefix>.s3vfs/lease`, that says which process may commit. It is taken
 * with `If-None-Match: *` (or `If-Match` a released or expired version),
 * renewed with `If-Match` its own ETag, and released by writing it back
 * marked released. Expiry is judged on the S3 server's clock: the object's
 * Last-Modified plus its TTL.
 *
 * The lease never decides a commit (the create-only PUT does); it makes the
 * holder's cache authoritative. A holder's commit carries a `validatedAt` no
 * later than the server time of its last successful take or renewal, and the
 * TTL exceeds the commit lag W by at least 4 M, so a commit its holder sends
 * after losing the lease (paused past the TTL) is void: it cannot land after
 * another process took the lease and refreshed.
 *
 * @module
 */

import { LogStoreError } from "./errors.ts";
import { localHost, localPid } from "./host.ts";
import { leaseKey, newPutId } from "./keys.ts";
import { floorSec, type Timing } from "./rules.ts";
import {
  expectOk,
  type GetOp,
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  type PutOp,
  request,
  requireFields,
  type Step,
  type StoreResult,
} from "./store.ts";

/** The lease object's content. */
export interface LeaseRecord {
  /** Format version (1). */
  version: 1;
  /** Random id of the holding process's handle on the database. */
  holder: string;
  /** Host name of the holder (for people). */
  host: string;
  /** Process id of the holder (for people). */
  pid: number;
  /** Incremented by every take-over; renewals keep it. */
  generation: number;
  /** Time to live after each renewal, in ms (whole seconds). */
  ttlMs: number;
  /** Given up by its holder: anyone may take it at once. */
  released: boolean;
  /**
   * New on every write, renewals included: S3's ETag of a single-part PUT is
   * the MD5 of its body, so without it a renewal would keep the ETag and a
   * take-over conditional on the old one would still succeed after it.
   */
  nonce?: string;
}

/** The lease as read from S3. */
export interface LeaseView {
  /** Its content. */
  record: LeaseRecord;
  /** Server time it was last written (Last-Modified). */
  lastModified: number;
  /** Server time it stops counting, unless renewed: Last-Modified + TTL + M. */
  expiresAt: number;
  /** Server time of the read. */
  observedAt: number;
  /** Held (not released, not expired) at `observedAt`. */
  live: boolean;
  /** Its ETag. */
  etag: string;
}

/** A lease this process holds. */
export interface HeldLease {
  /** Database name. */
  prefix: string;
  /** What is stored. */
  record: LeaseRecord;
  /** ETag of our last write of it. */
  etag: string;
  /** Server time (`Date`) of the answer to the last take or renewal: caps `validatedAt`. */
  date: number;
  /** Local clock just before that request was sent. */
  sentClock: number;
}

/** Who asks for a lease. */
export interface LeaseIdentity {
  /** Random id (see `newPutId`). */
  holder: string;
  /** Host name. */
  host: string;
  /** Process id. */
  pid: number;
  /** TTL to record (checked with {@linkcode checkLeaseTtl}). */
  ttlMs: number;
}

/** An identity for this process: a new random holder id, the host name (if allowed) and pid. */
export function localIdentity(ttlMs: number): LeaseIdentity {
  return { holder: newPutId(), host: localHost(), pid: localPid(), ttlMs };
}

/** What {@linkcode acquireLease} got. */
export type LeaseAttempt =
  /** Held; `continued`: we held it without a gap since our last take (a renewal). */
  | { kind: "held"; lease: HeldLease; continued: boolean }
  /** Another process holds it. */
  | { kind: "busy"; other: LeaseView };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Default TTL: W + 4 M + 2 s (40 s with the default timing), the smallest safe one plus 2 s. */
export function defaultLeaseTtl(t: Timing): number {
  return t.maxCommitLagMs + 4 * t.marginMs + 2000;
}

/**
 * Throws RangeError unless `ttlMs` is whole seconds, at least W + 4 M of `t`
 * (what makes a lost holder's commits void before another can take it) and
 * at most keepHistory R (a holder that dies keeps every other writer waiting
 * for up to the TTL; past R a renewal's probe proves nothing anyway).
 */
export function checkLeaseTtl(ttlMs: number, t: Timing): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs % 1000 !== 0) {
    throw new RangeError(`lease.ttlMs must be a positive whole number of seconds in ms`);
  }
  const min = t.maxCommitLagMs + 4 * t.marginMs;
  if (ttlMs < min) {
    throw new RangeError(
      `lease.ttlMs ${ttlMs} must be at least maxCommitLagMs + 4 * marginMs = ${min}`,
    );
  }
  if (ttlMs > t.keepHistoryMs) {
    throw new RangeError(
      `lease.ttlMs ${ttlMs} must be at most keepHistoryMs = ${t.keepHistoryMs} (a holder that ` +
        "dies keeps every other writer waiting that long)",
    );
  }
  return ttlMs;
}

/** Encodes a record. */
export function encodeLease(r: LeaseRecord): Uint8Array {
  return enc.encode(JSON.stringify(r));
}

/** Decodes a record; throws LogStoreError on anything else. */
export function decodeLease(bytes: Uint8Array): LeaseRecord {
  try {
    const v = JSON.parse(dec.decode(bytes));
    if (
      v?.version === 1 && typeof v.holder === "string" && Number.isSafeInteger(v.generation) &&
      Number.isSafeInteger(v.ttlMs) && typeof v.released === "boolean"
    ) {
      return {
        version: 1,
        holder: v.holder,
        host: String(v.host ?? ""),
        pid: Number(v.pid ?? 0),
        generation: v.generation,
        ttlMs: v.ttlMs,
        released: v.released,
        ...(typeof v.nonce === "string" ? { nonce: v.nonce } : {}),
      };
    }
  } catch { /* below */ }
  throw new LogStoreError("the lease object is not a lease record", 0);
}

/** Whether a lease written at `lastModified` with `ttlMs` has expired at server time `now`. */
export function leaseExpired(lastModified: number, ttlMs: number, now: number, t: Timing): boolean {
  return floorSec(now) - floorSec(lastModified) > ttlMs + t.marginMs;
}

/**
 * Whether we still hold `lease` at local clock `now`: until its TTL minus M
 * after we sent the request that last wrote it (its Last-Modified is later
 * than that, and another process may take it only once the server's clock is
 * past Last-Modified + TTL + M).
 */
export function leaseHeld(lease: HeldLease, now: number, t: Timing): boolean {
  return !lease.record.released && now - lease.sentClock < lease.record.ttlMs - t.marginMs;
}

/** GETs the lease (null when there is none). */
export function* readLease(prefix: string, t: Timing): Step<LeaseView | null> {
  const op: GetOp = { kind: "get", key: leaseKey(prefix) };
  const r = expectOk(op, yield* request(op), true);
  if (isAbsent(r)) return null;
  return view(requireFields(op, r, ["etag", "date", "lastModified"]), t);
}

/** The lease as an answer to its GET (ETag, Date and Last-Modified checked present). */
function view(r: StoreResult, t: Timing): LeaseView {
  const record = decodeLease(r.body ?? new Uint8Array(0));
  const lm = r.lastModified!;
  const observedAt = r.date!;
  return {
    record,
    lastModified: lm,
    expiresAt: floorSec(lm) + record.ttlMs + t.marginMs + 1000,
    observedAt,
    live: !record.released && !leaseExpired(lm, record.ttlMs, observedAt, t),
    etag: r.etag!,
  };
}

/**
 * Takes or renews the lease. With `known` (a lease we held), first renews it
 * with one conditional PUT; otherwise, or when that fails, reads the lease:
 * absent, released or expired, it is taken (a new generation); ours, renewed;
 * another's and live: "busy". A PUT without an answer is resolved by reading
 * the lease again (our holder id tells whether it landed).
 */
export function* acquireLease(
  prefix: string,
  me: LeaseIdentity,
  t: Timing,
  known?: HeldLease,
): Step<LeaseAttempt> {
  const key = leaseKey(prefix);
  if (known) {
    const got = yield* put(key, known.record, { ifMatch: known.etag }, prefix);
    if (got) return { kind: "held", lease: got, continued: true };
  }
  for (let attempt = 0; attempt < 8; attempt++) {
    const cur = yield* readLease(prefix, t);
    let record: LeaseRecord;
    let cond: { ifMatch: string } | { ifNoneMatch: true };
    let continued = false;
    if (!cur) {
      record = { version: 1, ...ident(me), generation: 1, released: false };
      cond = { ifNoneMatch: true };
    } else if (cur.record.holder === me.holder && !cur.record.released) {
      record = cur.record;
      cond = { ifMatch: cur.etag };
      continued = known?.record.generation === cur.record.generation;
    } else if (!cur.live) {
      record = { version: 1, ...ident(me), generation: cur.record.generation + 1, released: false };
      cond = { ifMatch: cur.etag };
    } else {
      return { kind: "busy", other: cur };
    }
    const got = yield* put(key, record, cond, prefix);
    if (got) return { kind: "held", lease: got, continued };
  }
  throw new LogStoreError(`${key}: could not take or read the lease`, 0);
}

function ident(me: LeaseIdentity): Pick<LeaseRecord, "holder" | "host" | "pid" | "ttlMs"> {
  return { holder: me.holder, host: me.host, pid: me.pid, ttlMs: me.ttlMs };
}

/** One conditional PUT of the lease; the held lease, or null (lost, or no answer). */
function* put(
  key: string,
  record: LeaseRecord,
  cond: { ifMatch: string } | { ifNoneMatch: true },
  prefix: string,
): Step<HeldLease | null> {
  record = { ...record, nonce: newPutId() }; // every write changes the body, so the ETag
  const op: PutOp = { kind: "put", key, body: encodeLease(record), ...cond };
  const [c, r] = yield [{ kind: "clock" }, op]; // the clock is read before the PUT is sent
  if (c.clock === undefined) throw new LogStoreError("the driver gave no clock reading", 0);
  const sentClock = c.clock;
  if (isSuccess(r)) {
    requireFields(op, r, ["etag", "date"]);
    return { prefix, record, etag: r.etag!, date: r.date!, sentClock };
  }
  if (isLostRace(r) || isAbsent(r) || isTransient(r)) return null;
  throw new LogStoreError(`PUT ${key}: unexpected ${r.status} ${r.message ?? ""}`, r.status);
}

/**
 * Gives the lease up: writes it back marked released, conditional on our
 * ETag (a lease taken over meanwhile is left alone). Best effort: returns
 * whether the release was written.
 */
export function* releaseLease(lease: HeldLease, t: Timing): Step<boolean> {
  const key = leaseKey(lease.prefix);
  const record = { ...lease.record, released: true };
  if (yield* put(key, record, { ifMatch: lease.etag }, lease.prefix)) return true;
  // No answer or a stale ETag (a renewal whose answer was lost): read and retry once.
  const cur = yield* readLease(lease.prefix, t);
  if (!cur || cur.record.holder !== lease.record.holder || cur.record.released) return false;
  return (yield* put(
    key,
    { ...cur.record, released: true },
    { ifMatch: cur.etag },
    lease.prefix,
  )) !==
    null;
}

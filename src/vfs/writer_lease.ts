/**
 * The writer lease of one database in one process (docs/protocol.md 15), as
 * the VFS uses it: taken at the first write transaction (SQLite's RESERVED
 * lock), renewed lazily at transaction boundaries once a third of the TTL or
 * of the commit lag W has passed (with a probe of the next log slot in the
 * same round trip), released after `idleMs` without a write transaction and
 * when the last connection closes. While it is held, and after one refresh
 * made under it, the process's snapshot is current: read transactions make
 * no request and a commit is its PUT alone.
 *
 * @module
 */

import { elapsed } from "../clock.ts";
import { fetchCommit, type FetchResult } from "../log/commits.ts";
import {
  acquireLease,
  defaultLeaseTtl,
  type HeldLease,
  type LeaseAttempt,
  leaseHeld,
  type LeaseIdentity,
  type LeaseView,
  localIdentity,
  readLease,
  releaseLease,
} from "../log/lease.ts";
import { LeaseBusyError } from "../log/errors.ts";
import { freshEnough, type Timing } from "../log/rules.ts";
import type { DbState } from "../log/snapshot.ts";
import { parallel, type Step } from "../log/store.ts";

/** Lease settings of a VFS (`S3VFSOptions.lease`), resolved. */
export interface LeaseSettings {
  /** TTL in ms (raised to the database's minimum W + 4 M when lower); default from its timing. */
  ttlMs?: number;
  /** Released after this long without a write transaction. */
  idleMs: number;
}

/** How long a "held by another process" answer is reused before asking S3 again. */
const BUSY_RECHECK_MS = 200;

/** One database's lease in this process. */
export class WriterLease {
  #held: HeldLease | null = null;
  /** A refresh was made while holding it: the snapshot is authoritative. */
  fresh = false;
  #me = localIdentity(0);
  #busyUntil = 0;
  #busy: LeaseView | null = null;
  #lastWrite = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `run` drives a protocol step through the bridge; `idle` is called when the timer fires. */
  constructor(
    readonly prefix: string,
    readonly settings: LeaseSettings,
    readonly run: <T>(step: Step<T>) => T,
  ) {}

  /** The lease as held now (null: not held). */
  get held(): HeldLease | null {
    return this.#held;
  }

  /** Whether it is held at local time `now` (and counts: not past its TTL minus M). */
  holding(now: number, t: Timing): boolean {
    return this.#held !== null && leaseHeld(this.#held, now, t);
  }

  /** Whether the snapshot can be trusted without asking S3. */
  authoritative(now: number, t: Timing): boolean {
    return this.fresh && this.holding(now, t);
  }

  #renewEvery(t: Timing): number {
    return Math.min(this.#identity(t).ttlMs, t.maxCommitLagMs) / 3;
  }

  #identity(t: Timing): LeaseIdentity {
    const min = t.maxCommitLagMs + 4 * t.marginMs;
    // Within the database's bounds (its timing may differ from the VFS's): [W + 4 M, R].
    const ttlMs = Math.min(
      t.keepHistoryMs,
      Math.max(this.settings.ttlMs ?? defaultLeaseTtl(t), min),
    );
    return { ...this.#me, ttlMs };
  }

  /**
   * Renews the lease if due, together with a probe of `log/<head+1>` (one
   * round trip). Afterwards the snapshot is authoritative only if the lease
   * was held without a gap and the slot is still empty.
   */
  renewIfDue(st: DbState, now: number): boolean {
    const t = st.config.timing;
    if (!this.#held || now - this.#held.sentClock <= this.#renewEvery(t)) return true;
    const [att, probe] = this.run(
      parallel<unknown>([
        acquireLease(this.prefix, this.#identity(t), t, this.#held),
        fetchCommit(st.prefix, st.head + 1, st.config, st.probeBytes),
      ] as Step<unknown>[]),
    ) as [LeaseAttempt, FetchResult];
    this.#take(att);
    // A 404 proves the snapshot only within R - M of the last proof (docs/protocol.md 5): past
    // that, the commit after it may have been folded and deleted; the next read refreshes.
    if (probe.absent && freshEnough(st.provenAt, probe.date, t)) {
      st.provenAt = Math.max(st.provenAt, probe.date);
      st.provenClock = now;
    } else {
      this.fresh = false; // a commit made without the lease, or an old proof: refresh
    }
    return att.kind === "held" && att.continued;
  }

  /**
   * Makes sure the lease is held for a write transaction: renews it when
   * due, takes it when not held. Throws a VfsError with SQLITE_BUSY while
   * another process holds it (SQLite's busy handler then waits and retries).
   */
  forWrite(st: DbState | null, t: Timing, now: number): void {
    this.#lastWrite = now;
    if (st && this.holding(now, t)) {
      this.renewIfDue(st, now);
      if (this.holding(now, t)) return;
    }
    if (now < this.#busyUntil) throw this.#busyError();
    this.#take(this.run(acquireLease(this.prefix, this.#identity(t), t, this.#held ?? undefined)));
    if (!this.#held) {
      this.#busyUntil = now + BUSY_RECHECK_MS;
      throw this.#busyError();
    }
  }

  /**
   * Before COMMIT: the cap on `validatedAt` (the server time of the last take
   * or renewal), renewing first when due or lapsed. Null: the lease was lost
   * (taken over while this process was paused); the transaction must not be
   * committed.
   */
  forCommit(st: DbState, now: number): number | null {
    const t = st.config.timing;
    this.#lastWrite = now;
    if (!this.#held) return null;
    if (!this.holding(now, t)) {
      const att = this.run(acquireLease(this.prefix, this.#identity(t), t, this.#held));
      if (att.kind !== "held" || !att.continued) {
        this.#take(att);
        this.fresh = false;
        return null;
      }
      this.#take(att);
    } else if (!this.renewIfDue(st, now)) {
      this.fresh = false; // not held without a gap: not committed (docs/protocol.md 15)
      return null;
    }
    return this.#held?.date ?? null;
  }

  #take(att: LeaseAttempt): void {
    if (att.kind === "held") {
      if (!att.continued) this.fresh = false;
      this.#held = att.lease;
      this.#busy = null;
    } else {
      this.#held = null;
      this.fresh = false;
      this.#busy = att.other;
    }
  }

  #busyError(): LeaseBusyError {
    const o = this.#busy;
    return new LeaseBusyError({
      prefix: this.prefix,
      host: o?.record.host ?? "",
      pid: o?.record.pid ?? 0,
      expiresAt: o?.expiresAt,
    });
  }

  /**
   * Arms the idle timer after a write transaction: `onIdle` is called once
   * `idleMs` passed since the last write (it decides whether to release).
   */
  armIdle(onIdle: () => void): void {
    if (this.#timer !== undefined || !this.#held) return;
    const fire = (): void => {
      this.#timer = undefined;
      const left = this.settings.idleMs - (elapsed() - this.#lastWrite);
      if (left > 0) {
        const t = this.#timer = setTimeout(fire, left);
        Deno.unrefTimer(t);
        return;
      }
      onIdle();
    };
    const t = this.#timer = setTimeout(fire, this.settings.idleMs);
    Deno.unrefTimer(t);
  }

  /**
   * Forgets the lease without releasing it, after a commit with an unknown
   * outcome: a PUT of ours may still land, which a successor taking a
   * released lease at once would not see. It expires after its TTL instead,
   * by when such a PUT is void (docs/protocol.md 15).
   */
  abandon(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = null;
    this.fresh = false;
    this.#me = localIdentity(0); // a new holder id: our old lease is not ours to renew at once
  }

  /** Gives the lease up (best effort) and stops the timer. */
  release(t: Timing): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const held = this.#held;
    this.#held = null;
    this.fresh = false;
    if (held) {
      try {
        this.run(releaseLease(held, t));
      } catch { /* it expires by itself */ }
    }
  }
}

/** Who holds the writer lease of `prefix`, as one line (PRAGMA s3vfs_lease). */
export function describeLease(
  prefix: string,
  lease: WriterLease | null,
  t: Timing,
  run: <T>(step: Step<T>) => T,
): string {
  const held = lease?.held;
  if (held && lease!.holding(elapsed(), t)) {
    return `held by this process (generation ${held.record.generation})`;
  }
  const v = run(readLease(prefix, t));
  if (!v) return "none";
  if (!v.live) return v.record.released ? "released" : "expired";
  const { host, pid, generation } = v.record;
  return `held by ${host || "?"} pid ${pid} (generation ${generation}) until ${
    new Date(v.expiresAt).toISOString()
  } unless renewed`;
}

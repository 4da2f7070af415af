/**
 * The writer lease's bookkeeping in the simulation: the lease processes of a
 * run, their counters, their local clock rates, and the lease's invariants
 * (holder freshness, beliefs inside the server's lease, lease object
 * transitions), described in tests/log_sim_lease.ts.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { leaseKey } from "../src/log/keys.ts";
import {
  decodeLease,
  type HeldLease,
  leaseExpired,
  leaseHeld,
  type LeaseIdentity,
  type LeaseRecord,
} from "../src/log/lease.ts";
import type { DbState } from "../src/log/snapshot.ts";
import { type Env, PREFIX, SIM_TIMING } from "./log_sim_actors.ts";
import type { Model } from "./log_sim_model.ts";
import type { MemStore, StoredObject } from "./log_sim_store.ts";
import type { World } from "./log_sim_world.ts";

/** What the lease did in one run. */
export interface LeaseStats {
  /** Takes by a writer (a new generation, or its own lease after a gap). */
  leaseTakes: number;
  /** Renewals (held without a gap). */
  leaseRenewals: number;
  /** Lease objects written over another's released lease. */
  leaseTakeoversReleased: number;
  /** Lease objects written over another's expired lease. */
  leaseTakeoversExpired: number;
  /** "Busy" answers (another's live lease). */
  leaseBusy: number;
  /** Releases that landed. */
  leaseReleases: number;
  /** Read transactions of a holder with no request (authoritative, checked fresh). */
  leaseHolderReads: number;
  /** Renewal probes that found a commit (made without the lease, or void). */
  leaseProbeHits: number;
  /** Transactions not committed because the lease was lost before COMMIT. */
  leaseLostAtCommit: number;
  /** Commits sent right after a renewal in forCommit that gave a new generation. */
  leaseNewGenAtCommit: number;
  /** Explicit pauses longer than the TTL inside a write transaction. */
  leasePausesPastTtl: number;
  /** Of those, pauses between the lease check (forCommit) and the commit PUT. */
  leasePausesPastTtlBeforePut: number;
  /** Write transactions rolled back after taking the lease. */
  leaseRollbacks: number;
  /** Leases abandoned after an unknown outcome. */
  leaseAbandons: number;
  /** Authoritative reads that missed commits of lease-off writers (allowed). */
  leaseMissedOff: number;
  /** Seeds with lease writers. */
  leaseSeeds: number;
}

/** Zero counts. */
export function leaseStats(): LeaseStats {
  return {
    leaseTakes: 0,
    leaseRenewals: 0,
    leaseTakeoversReleased: 0,
    leaseTakeoversExpired: 0,
    leaseBusy: 0,
    leaseReleases: 0,
    leaseHolderReads: 0,
    leaseProbeHits: 0,
    leaseLostAtCommit: 0,
    leaseNewGenAtCommit: 0,
    leasePausesPastTtl: 0,
    leasePausesPastTtlBeforePut: 0,
    leaseRollbacks: 0,
    leaseAbandons: 0,
    leaseMissedOff: 0,
    leaseSeeds: 0,
  };
}

/** One lease writer process (what src/vfs/writer_lease.ts keeps). */
export interface LeaseProc {
  /** Its actor name. */
  name: string;
  /** Its identity (a new holder id per process). */
  me: LeaseIdentity;
  /** The lease as it believes it holds it. */
  held: HeldLease | null;
  /** A refresh was sent while holding this generation. */
  fresh: boolean;
  /** False once crashed or exited. */
  alive: boolean;
  /** Started before the database was deleted: its beliefs are about a lease that is gone. */
  old?: boolean;
}

/**
 * Local clock rate of a lease process. `leaseHeld` counts TTL - M of local
 * time from just before the PUT; a take-over needs the server's clock past
 * Last-Modified + TTL + M. So beliefs stay inside the lease iff rate >=
 * (TTL - M) / (TTL + M): mostly within 10 %, sometimes just above that bound.
 */
export function clockRate(env: Env, ttlMs: number): number {
  const m = SIM_TIMING.marginMs;
  const edge = (ttlMs - m) / (ttlMs + m) + 0.002;
  return env.rng.chance(0.15) ? edge : 0.9 + 0.2 * env.rng.next();
}

function fail(message: string): never {
  throw new AssertionError({ message });
}

/** The lease processes of a run, and the lease's invariants. */
export class LeaseBook {
  /** Every lease process started. */
  readonly procs: LeaseProc[] = [];
  /** Put ids of the commits lease writers sent. */
  readonly leasePutIds: Set<string> = new Set();
  readonly #clockSeq = new Map<string, number>();
  #decoded?: { etag: string; r: LeaseRecord };

  /** Hooks into the world's clock readings. */
  constructor(
    readonly world: World,
    readonly store: MemStore,
    readonly model: Model,
    readonly ttlMs: number,
    readonly stats: LeaseStats,
  ) {
    world.onClock = (name) => this.#clockSeq.set(name, model.changes);
  }

  /** A new process (its own holder id). */
  newProc(name: string): LeaseProc {
    const id = this.world.rng.id();
    const p: LeaseProc = {
      name,
      me: { holder: id, host: "sim", pid: this.procs.length + 1, ttlMs: this.ttlMs },
      held: null,
      fresh: false,
      alive: true,
    };
    this.procs.push(p);
    return p;
  }

  /** Store changes seen when `name` last read its clock. */
  clockSeq(name: string): number {
    return this.#clockSeq.get(name) ?? 0;
  }

  /** Checks a change of the lease object (the store's hook). */
  onChange(key: string, before?: StoredObject, after?: StoredObject): void {
    if (key !== leaseKey(PREFIX)) return;
    if (!after) fail("the lease object was deleted");
    const b = before && decodeLease(before.body);
    const a = decodeLease(after.body);
    if (a.ttlMs !== this.ttlMs) fail(`lease written with TTL ${a.ttlMs}`);
    if (!b) {
      if (a.generation !== 1 || a.released) fail(`lease created as ${JSON.stringify(a)}`);
      return;
    }
    const same = a.holder === b.holder && a.generation === b.generation;
    if (same && !b.released) {
      if (a.released) this.stats.leaseReleases++;
      return;
    }
    if (a.generation !== b.generation + 1 || a.released) {
      fail(`lease went from ${JSON.stringify(b)} to ${JSON.stringify(a)}`);
    }
    if (b.released) this.stats.leaseTakeoversReleased++;
    else if (leaseExpired(before!.lastModified, b.ttlMs, this.store.now, SIM_TIMING)) {
      this.stats.leaseTakeoversExpired++;
    } else fail(`lease generation ${b.generation} of ${b.holder} taken over while live`);
  }

  /** The database is deleted: the processes running now held or waited for a lease now gone. */
  reset(): void {
    for (const p of this.procs) p.old = true;
  }

  /** After every step: whoever believes it holds the lease does hold it on the server. */
  checkBeliefs(): void {
    const obj = this.store.objects.get(leaseKey(PREFIX));
    for (const p of this.procs) {
      if (
        p.old || !p.alive || !p.held ||
        !leaseHeld(p.held, this.world.localNow(p.name), SIM_TIMING)
      ) {
        continue;
      }
      const g = p.held.record.generation;
      if (!obj) fail(`${p.name} believes it holds generation ${g}, there is no lease`);
      if (this.#decoded?.etag !== obj.etag) {
        this.#decoded = { etag: obj.etag, r: decodeLease(obj.body) };
      }
      const r = this.#decoded.r;
      if (r.holder !== p.me.holder || r.generation !== g || r.released) {
        fail(`${p.name} believes it holds generation ${g}; the lease is ${JSON.stringify(r)}`);
      }
      if (leaseExpired(obj.lastModified, r.ttlMs, this.store.now, SIM_TIMING)) {
        fail(`${p.name} believes it holds generation ${g} past its expiry on the server`);
      }
    }
  }

  /**
   * Holder freshness: `p` starts a read transaction at snapshot `st` without
   * asking S3. Every effective commit a lease writer made must be in it if it
   * landed before `p`'s last clock reading (the one the decision rests on, or
   * a later one of the renewal made for it).
   */
  checkFresh(p: LeaseProc, st: DbState): void {
    this.model.checkSnapshot(st.head, st.size, 0, st.config.id);
    if (p.old) return; // its lease is of a deleted database: its reads are checked above
    const missed = this.model.effectiveAfter(st.head, this.clockSeq(p.name));
    const bad = missed.filter((m) => this.leasePutIds.has(m.putId));
    if (bad.length > 0) {
      fail(
        `holder freshness: ${p.name} read snapshot ${st.head} without asking S3, but txid ` +
          `${bad[0].txid} (a lease writer's commit) was already effective`,
      );
    }
    if (missed.length > 0) this.stats.leaseMissedOff++;
  }
}

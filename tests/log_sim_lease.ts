/**
 * The writer lease in the simulation (docs/protocol.md 15): lease-holding
 * writer processes, written after src/vfs/writer_lease.ts and the lease
 * parts of src/vfs/log_file.ts with the real sans-IO steps, and the lease's
 * invariants.
 *
 * A lease writer's transaction: `beginRead` (while it holds the lease per its
 * own local clock, renew when due with a probe of `log/<head+1>` in the same
 * batch; authoritative: no request at all, else `refresh`), the reads and
 * changes, `forWrite` (take or renew; another's live lease: busy, sleep and
 * start again), sometimes a pause (often past the TTL), `forCommit` (renew
 * a lapsed lease; lost or taken after a gap: not committed), sometimes a pause
 * between that check and the commit PUT, `commit` with `validBefore`, and now
 * and then an idle sleep and a release. An unknown outcome abandons the lease.
 * Each process has its own local clock: skewed, and running at a rate within
 * what the lease assumes (see `clockRate`).
 *
 * Checked (`LeaseBook`, tests/log_sim_lease_book.ts):
 *
 * - Holder freshness: when a holder starts a read transaction without asking
 *   S3, no effective commit past its snapshot had landed when it read its
 *   clock for that decision, except commits of writers with the lease off
 *   (caveat (a) of section 15; with the lease on everywhere: none at all).
 *   Void objects and abort markers are decided no-ops and may be missed.
 * - Beliefs: at every step, every live process that believes it holds the
 *   lease (`leaseHeld` on its own clock, paused or not) is the holder of the
 *   stored lease object, in the generation it believes, not released, and
 *   not expired by the server's clock. Hence no two processes ever believe
 *   at once, and nobody believes past the server's expiry.
 * - Lease object: created at generation 1; a renewal keeps holder and
 *   generation; a release is by its holder; a take-over adds one to the
 *   generation and lands only on a released or expired (server clock) lease.
 *
 * @module
 */

import { fetchCommit, type FetchResult } from "../src/log/commits.ts";
import { DatabaseReplacedError, LogStoreError, SnapshotTooOldError } from "../src/log/errors.ts";
import { acquireLease, type LeaseAttempt, leaseHeld, releaseLease } from "../src/log/lease.ts";
import { openForWrite } from "../src/log/open.ts";
import { freshEnough } from "../src/log/rules.ts";
import { type DbState, refresh } from "../src/log/snapshot.ts";
import { clock, parallel, type Step } from "../src/log/store.ts";
import { commit } from "../src/log/writer.ts";
import {
  buildTransaction,
  type Env,
  leftovers,
  PREFIX,
  replaced,
  SIM_TIMING,
  tooOld,
} from "./log_sim_actors.ts";
import type { LeaseBook, LeaseProc } from "./log_sim_lease_book.ts";

type Ctx = { env: Env; book: LeaseBook; p: LeaseProc };

function holding(p: LeaseProc, now: number): boolean {
  return p.held !== null && leaseHeld(p.held, now, SIM_TIMING);
}

function take({ book, p }: Ctx, att: LeaseAttempt): void {
  if (att.kind === "held") {
    if (att.continued) book.stats.leaseRenewals++;
    else {
      book.stats.leaseTakes++;
      p.fresh = false;
    }
    p.held = att.lease;
  } else {
    book.stats.leaseBusy++;
    p.held = null;
    p.fresh = false;
  }
}

/**
 * How a renewal's probe of `log/<head+1>` is used. "checked" (the default): its
 * 404 is a proof only when fresh (docs/protocol.md 5: past R - M after the
 * proof a 404 may be a folded and deleted commit; then the next read
 * refreshes, which consults the checkpoint record), as src/vfs/writer_lease.ts
 * now does. "src": as it did before this simulation found the bug, a proof
 * whatever its age, which loses commits (`LOG_SIM_LEASE_PROBE=src LOG_SIM_SEED=3275`; stale snapshots: 578).
 */
export const PROBE_MODE: "src" | "checked" = (() => {
  try {
    return Deno.env.get("LOG_SIM_LEASE_PROBE") === "src" ? "src" : "checked";
  } catch {
    return "checked";
  }
})();

/** WriterLease.renewIfDue: renew with a probe of the next slot, one batch. */
function* renewIfDue(c: Ctx, st: DbState, now: number): Step<void> {
  const t = SIM_TIMING;
  if (!c.p.held || now - c.p.held.sentClock <= Math.min(c.book.ttlMs, t.maxCommitLagMs) / 3) {
    return;
  }
  const [att, probe] = (yield* parallel<unknown>([
    acquireLease(PREFIX, c.p.me, t, c.p.held),
    fetchCommit(PREFIX, st.head + 1, st.config, st.probeBytes),
  ] as Step<unknown>[])) as [LeaseAttempt, FetchResult];
  take(c, att);
  if (probe.absent && PROBE_MODE === "checked" && !freshEnough(st.provenAt, probe.date, t)) {
    c.p.fresh = false; // the next read refreshes, which consults the checkpoint record
  } else if (probe.absent) {
    st.provenAt = Math.max(st.provenAt, probe.date);
    st.provenClock = now;
  } else {
    c.book.stats.leaseProbeHits++;
    c.p.fresh = false;
  }
}

/** LogFile.beginRead with the lease: no request while authoritative. */
function* beginRead(c: Ctx, st: DbState): Step<void> {
  const { p, book, env } = c;
  const now = yield* clock();
  if (holding(p, now)) {
    yield* renewIfDue(c, st, now);
    if (p.fresh && holding(p, now)) {
      book.stats.leaseHolderReads++;
      return book.checkFresh(p, st);
    }
  }
  const leased = holding(p, now);
  const saw = env.model.seen();
  yield* refresh(st);
  env.model.checkSnapshot(st.head, st.size, saw, st.config.id);
  if (leased) p.fresh = true;
}

/** WriterLease.forWrite: whether the lease is held (else busy). */
function* forWrite(c: Ctx, st: DbState): Step<boolean> {
  const now = yield* clock();
  if (holding(c.p, now)) {
    yield* renewIfDue(c, st, now);
    if (holding(c.p, now)) return true;
  }
  take(c, yield* acquireLease(PREFIX, c.p.me, SIM_TIMING, c.p.held ?? undefined));
  return c.p.held !== null;
}

/** WriterLease.forCommit: the cap on validatedAt, or null (lost: do not commit). */
function* forCommit(c: Ctx, st: DbState): Step<number | null> {
  const { p } = c;
  const now = yield* clock();
  if (!p.held) return null;
  if (!holding(p, now)) {
    const att = yield* acquireLease(PREFIX, p.me, SIM_TIMING, p.held);
    take(c, att);
    if (att.kind !== "held" || !att.continued) {
      p.fresh = false;
      return null;
    }
  } else {
    const gen = p.held.record.generation;
    yield* renewIfDue(c, st, now);
    if (p.held && p.held.record.generation !== gen) c.book.stats.leaseNewGenAtCommit++;
  }
  return p.held?.date ?? null;
}

/** Sleeps `ms`; `inTx`: an explicit pause inside a write transaction (counted). */
function* pause(c: Ctx, ms: number, inTx?: "tx" | "put"): Step<void> {
  if (inTx && ms > c.book.ttlMs) c.book.stats.leasePausesPastTtl++;
  if (inTx === "put" && ms > c.book.ttlMs) c.book.stats.leasePausesPastTtlBeforePut++;
  c.env.world.sleep(c.p.name, ms);
  yield* clock();
}

function* release(c: Ctx): Step<void> {
  const held = c.p.held;
  c.p.held = null;
  c.p.fresh = false;
  if (held) yield* releaseLease(held, SIM_TIMING);
}

/** A pause inside a write transaction: past the TTL (up to 4 TTL) 60 % of the time. */
function pauseMs(c: Ctx): number {
  const { rng } = c.env;
  const l = c.book.ttlMs;
  return rng.chance(0.6) ? rng.int(l, 4 * l) : rng.int(100, l);
}

/** A writer process with the lease on: `left.tx` acknowledged commits. */
export function* leaseWriter(
  env: Env,
  book: LeaseBook,
  p: LeaseProc,
  left: { tx: number },
): Step<void> {
  const { rng, model, stats, blockSize } = env;
  const c: Ctx = { env, book, p };
  const pauses = rng.pick([0, 0.05, 0.15]);
  const readOnly = rng.pick([0.1, 0.3]);
  let st: DbState | null = null;
  let extra = 0; // read-only and rolled-back transactions
  for (let tries = 0, busy = 0; left.tx > 0 && tries < 40 && busy < 300; tries++) {
    try {
      st ??= yield* openForWrite(PREFIX, {
        blockSize,
        timing: SIM_TIMING,
        probeBytes: env.probeBytes,
      });
      yield* beginRead(c, st);
      const tx = yield* buildTransaction(env, st);
      if (extra < 20 && rng.chance(readOnly)) {
        extra++, tries--; // a read transaction: the reads were all
        continue;
      }
      if (!(yield* forWrite(c, st))) {
        busy++;
        tries--;
        yield* pause(c, rng.int(200, 1500));
        continue;
      }
      if (extra < 20 && rng.chance(0.1)) {
        extra++, tries--; // ROLLBACK: the lease was taken, nothing is committed
        book.stats.leaseRollbacks++;
        continue;
      }
      if ([...tx.blocks.values()].reduce((n, b) => n + b.length, 0) > 3 * blockSize) {
        stats.staged++;
      }
      if (rng.chance(pauses)) yield* pause(c, pauseMs(c), "tx"); // inside the write transaction
      const validBefore = yield* forCommit(c, st);
      if (validBefore === null) {
        book.stats.leaseLostAtCommit++; // SQLITE_BUSY_SNAPSHOT; the next read refreshes
        continue;
      }
      if (rng.chance(pauses)) yield* pause(c, pauseMs(c), "put"); // after the lease check, before the PUT
      book.leasePutIds.add(tx.putId);
      const out = yield* commit(st, tx, {
        inlineLimit: 3 * blockSize,
        chunkBytes: 2 * blockSize,
        attempts: rng.int(2, 5),
        validBefore,
      });
      model.checkOutcome(tx.putId, out, st.config.id);
      stats.outcomes[out.kind]++;
      if (out.kind === "committed") left.tx--;
      else p.fresh = false;
      if (out.kind === "unknown" || out.kind === "replaced") {
        book.stats.leaseAbandons++; // WriterLease.abandon: it expires by itself
        p.held = null;
        p.fresh = false;
        if (out.kind === "replaced") st = null; // as the VFS: reopen what is there now
      } else if (rng.chance(0.2)) {
        yield* pause(c, rng.int(0, 2 * book.ttlMs)); // idle ...
        yield* release(c); // ... then the idle timer releases it
      }
    } catch (e) {
      if (e instanceof DatabaseReplacedError) {
        replaced(env, st, e);
        st = null;
        p.held = null; // the VFS abandons the lease of the deleted database
        p.fresh = false;
      } else if (e instanceof SnapshotTooOldError) tooOld(env, e, st);
      else if (e instanceof LogStoreError) stats.storeErrors++;
      else if (leftovers(env, e)) continue;
      else if (!env.model.tainted) throw e; // after a documented residual: anything goes
    }
  }
  try {
    if (rng.chance(0.8)) yield* release(c); // the last connection closes
  } catch (e) {
    if (!(e instanceof LogStoreError)) throw e;
  }
  p.alive = false;
}

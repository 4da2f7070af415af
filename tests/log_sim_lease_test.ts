/**
 * Writer-lease scenarios replayed step by step against the real `WriterLease`
 * (src/vfs/writer_lease.ts) on the simulation's in-memory store; each asserts
 * what docs/protocol.md 15 promises. The first two were found with the
 * simulation (tests/log_sim_lease.ts) and fail on the code as of this writing:
 *
 * 1. A renewal's probe of `log/<head+1>` is taken as a proof of the snapshot
 *    without the freshness check of section 5, so a holder whose snapshot is
 *    older than R trusts the 404 of a folded and deleted commit: its refresh
 *    stays stale and its commit re-decides a txid (a lost update).
 *    Simulation: `LOG_SIM_LEASE_PROBE=src LOG_SIM_SEED=3275`.
 * 2. `abandon` after an unknown outcome keeps the process's holder id, so its
 *    next write transaction renews its own lease at once instead of waiting
 *    for the TTL; its delayed commit PUT then lands effective under its new
 *    authoritative snapshot (holder freshness broken).
 *
 * The third pins `validBefore`: a holder paused past its TTL between its lease
 * check and its commit PUT lands a void commit (rarely reached at random: the
 * simulation's renewal probes, every W/3 = 1.3 s, usually see it first).
 *
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { checkpoint } from "../src/log/checkpoint.ts";
import { runSync } from "../src/log/driver.ts";
import { openForWrite } from "../src/log/open.ts";
import { retention } from "../src/log/retention.ts";
import { refresh } from "../src/log/snapshot.ts";
import type { Step, StoreOp, StoreResult } from "../src/log/store.ts";
import { commit, type Transaction } from "../src/log/writer.ts";
import { WriterLease } from "../src/vfs/writer_lease.ts";
import { PREFIX, SIM_TIMING as t } from "./log_sim_actors.ts";
import { commitKey } from "./log_helpers.ts";
import { MemStore } from "./log_sim_store.ts";

function setup(): {
  store: MemStore;
  run: <T>(g: Step<T>) => T;
  fault: { on?: (op: StoreOp) => StoreResult | undefined };
} {
  const store = new MemStore(Date.UTC(2030, 0, 1));
  const fault: { on?: (op: StoreOp) => StoreResult | undefined } = {};
  const sync = { runBatch: (ops: StoreOp[]) => ops.map((op) => fault.on?.(op) ?? store.apply(op)) };
  return { store, fault, run: <T>(g: Step<T>): T => runSync(g, sync, () => store.now) };
}

function tx(putId: string, counter: number): Transaction {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, counter);
  return { putId, size: 8, pageSize: 4, blocks: new Map([[0, b]]) };
}

Deno.test("lease: a renewal probe's 404 long after the proof is no proof (no re-decided txid)", () => {
  const { store, run } = setup();
  const a = run(openForWrite(PREFIX, { blockSize: 8, timing: t }));
  const h = run(openForWrite(PREFIX, { blockSize: 8, timing: t })); // snapshot 0, then idle
  for (let i = 1; i <= 2; i++) {
    store.now += 100;
    equal(run(commit(a, tx(`a${i}`, i))).kind, "committed");
  }
  store.now += t.graceMs + t.marginMs + 2000;
  equal(run(checkpoint(PREFIX, a.config)).kind, "folded");
  store.now += t.keepHistoryMs + t.marginMs + 2000;
  run(retention(PREFIX, a.config)); // log/1 and log/2 are gone
  const lease = new WriterLease(PREFIX, { ttlMs: 8000, idleMs: 30_000 }, run);
  lease.forWrite(h, t, store.now); // BEGIN IMMEDIATE: takes the lease
  store.now += 2000;
  lease.renewIfDue(h, store.now); // next transaction: renewal + probe of log/1 (404)
  run(refresh(h)); // beginRead: the lease is held but not yet authoritative
  equal(h.head, 2, "the holder's refresh must reach the head");
  const out = run(commit(h, tx("h1", 1), { validBefore: lease.held!.date }));
  ok(out.txid !== 1 || out.kind !== "committed", "txid 1 was decided a second time");
});

Deno.test("lease: after an unknown outcome the process does not renew its abandoned lease at once", () => {
  const { store, run, fault } = setup();
  const h = run(openForWrite(PREFIX, { blockSize: 8, timing: t }));
  const lease = new WriterLease(PREFIX, { ttlMs: 8000, idleMs: 30_000 }, run);
  lease.forWrite(h, t, store.now);
  run(refresh(h));
  lease.fresh = true;
  const validBefore = lease.forCommit(h, store.now)!;
  let delayed: StoreOp | undefined;
  fault.on = (op) => {
    if (op.kind === "put" && op.key === commitKey(store, PREFIX, 1)) {
      delayed = op; // times out; lands later
      return { status: 0, message: "timeout" };
    }
    return op.kind === "head" ? { status: 0, message: "S3 unreachable" } : undefined;
  };
  equal(run(commit(h, tx("h1", 1), { validBefore, attempts: 1 })).kind, "unknown");
  fault.on = undefined;
  lease.abandon();
  store.now += 500;
  try {
    lease.forWrite(h, t, store.now); // the next write transaction
  } catch { /* busy: what the protocol wants until the abandoned lease expires */ }
  if (lease.held) {
    run(refresh(h)); // beginRead under the lease: authoritative from now on
    lease.fresh = true;
  }
  store.now += 500;
  store.apply(delayed!); // the delayed PUT lands within W of its validatedAt: effective
  ok(
    !lease.authoritative(store.now, t) || h.head >= 1,
    `authoritative at snapshot ${h.head} while log/1 is effective`,
  );
});

Deno.test("lease: a holder paused past its TTL between its lease check and its commit PUT commits nothing", () => {
  const { store, run } = setup();
  const p = run(openForWrite(PREFIX, { blockSize: 8, timing: t }));
  const h = run(openForWrite(PREFIX, { blockSize: 8, timing: t }));
  const leaseP = new WriterLease(PREFIX, { ttlMs: 8000, idleMs: 30_000 }, run);
  const leaseH = new WriterLease(PREFIX, { ttlMs: 8000, idleMs: 30_000 }, run);
  leaseP.forWrite(p, t, store.now);
  const validBefore = leaseP.forCommit(p, store.now)!;
  store.now += 8000 + t.marginMs + 2000; // P is paused past its TTL before its PUT
  leaseH.forWrite(h, t, store.now); // H takes the expired lease over ...
  run(refresh(h)); // ... and refreshes under it: authoritative
  leaseH.fresh = true;
  equal(leaseH.held?.record.generation, 2);
  const out = run(commit(p, tx("p1", 1), { validBefore })); // P wakes and sends its commit
  equal(out.kind, "expired", "the late commit must be void");
  ok(leaseH.authoritative(store.now, t) && h.head === 0, "H's snapshot is still the database");
  equal(run(commit(h, tx("h1", 1), { validBefore: leaseH.held!.date })).kind, "conflict");
});

/**
 * The writer lease across real processes (issue 11, "Tests"), against MinIO
 * through @db/sqlite. The databases use FAST_TIMING (W 2 s, M 1 s, R 6 s), so
 * the lease TTL is 6 s (the default W + 4 M + 2 s = 8 s, capped at R).
 *
 * - A second writer waits with `PRAGMA busy_timeout` while the first holds
 *   the lease, and commits only after the first closed.
 * - The holder is killed with SIGKILL: the second takes over once the TTL
 *   passed; nothing the first acknowledged is lost.
 * - The holder is stopped with SIGSTOP inside a write transaction, past its
 *   TTL; another process takes over and commits; resumed, the first one's
 *   COMMIT is refused with SQLITE_BUSY, it re-reads and goes on: the counter
 *   equals the acknowledged increments exactly.
 *
 * Children: tests/child/mp_writer.ts, tests/child/mp_counter.ts.
 *
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import { FAST_TIMING } from "./_vfs.ts";
import {
  auditWriters,
  type Child,
  type ChildEvent,
  createSchema,
  dbPrefix,
  describe,
  eventsWith,
  readFinal,
  spawnChild,
  waitForEvent,
} from "./mp_lib.ts";

/** The lease TTL under FAST_TIMING: min(W + 4 M + 2 s, R). */
const TTL_MS = 6000;

/** A child and when it was spawned (local ms), so event times compare across children. */
function spawnAt(o: Parameters<typeof spawnChild>[0]): { child: Child; at: number } {
  const at = Date.now();
  return { child: spawnChild(o), at };
}

/** Absolute time (parent's clock) an event was read. */
function when(at: number, e: ChildEvent | undefined): number {
  return at + Number(e?._ms ?? NaN);
}

Deno.test("lease: a second writer process waits with busy_timeout and commits only after the holder closed", async () => {
  await using b = await freshBucket("mp-lease-wait");
  const prefix = dbPrefix("lease-wait");
  createSchema(b.bucket, prefix, { timing: FAST_TIMING });
  const first = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "holder",
    script: "mp_writer.ts",
    env: { MP_COUNT: 100_000, MP_DEADLINE_MS: 4000 },
  });
  ok(await waitForEvent(first.child, "ack", 30_000), "the holder committed");
  const second = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "waiter",
    script: "mp_writer.ts",
    env: { MP_COUNT: 5, MP_DEADLINE_MS: 40_000, MP_BUSY_TIMEOUT_MS: 30_000 },
  });
  const [r1, r2] = await Promise.all([first.child.done, second.child.done]);
  const acks1 = eventsWith(r1.events, "ack");
  const acks2 = eventsWith(r2.events, "ack");
  const lastOfFirst = when(first.at, acks1[acks1.length - 1]);
  const firstOfSecond = when(second.at, acks2[0]);
  const final = readFinal(b.bucket, prefix);
  const audit = auditWriters([...r1.events, ...r2.events], final);
  console.log(JSON.stringify({
    test: "lease wait",
    holderCommits: acks1.length,
    waiterCommits: acks2.length,
    waiterFailures: eventsWith(r2.events, "failed").length,
    waitedMs: firstOfSecond - second.at,
    gapAfterHolderMs: firstOfSecond - lastOfFirst,
    integrity: final.integrity,
  }));
  const info = `\n${describe(r1)}\n${describe(r2)}`;
  equal(r1.code, 0, info);
  equal(r2.code, 0, info);
  equal(acks2.length, 5, `the waiter committed its 5 rows${info}`);
  equal(eventsWith(r2.events, "failed").length, 0, `busy_timeout absorbed every BUSY${info}`);
  ok(acks1.length >= 10, `the holder kept committing: ${acks1.length}`);
  ok(firstOfSecond > lastOfFirst, `the waiter committed while the holder held the lease${info}`);
  equal(final.integrity, "ok");
  equal(audit.lost.length, 0, `lost: ${audit.lost}`);
  equal(audit.misreported.length, 0, `misreported: ${audit.misreported}`);
  // (seq numbers overlap: the waiter read max(seq) while the holder was still writing)
  equal(final.rows?.length, acks1.length + acks2.length, "every acknowledged row, nothing else");
});

Deno.test("lease: after the holder is killed (-9), another writer takes over once the TTL passed, losing nothing", async () => {
  await using b = await freshBucket("mp-lease-kill");
  const prefix = dbPrefix("lease-kill");
  createSchema(b.bucket, prefix, { timing: FAST_TIMING });
  const first = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "holder",
    script: "mp_writer.ts",
    env: { MP_COUNT: 100_000, MP_DEADLINE_MS: 30_000 },
  });
  for (let i = 0; i < 200 && eventsWith(first.child.events, "ack").length < 5; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  first.child.kill("SIGKILL");
  const killedAt = Date.now();
  const r1 = await first.child.done;
  const second = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "successor",
    script: "mp_writer.ts",
    env: { MP_COUNT: 5, MP_DEADLINE_MS: 40_000, MP_BUSY_TIMEOUT_MS: 30_000 },
  });
  const r2 = await second.child.done;
  const acks2 = eventsWith(r2.events, "ack");
  const tookOver = when(second.at, acks2[0]) - killedAt;
  const final = readFinal(b.bucket, prefix);
  const audit = auditWriters([...r1.events, ...r2.events], final);
  console.log(JSON.stringify({
    test: "lease kill -9",
    holderAcked: eventsWith(r1.events, "ack").length,
    successorAcked: acks2.length,
    tookOverAfterMs: tookOver,
    ttlMs: TTL_MS,
    integrity: final.integrity,
    lost: audit.lost.length,
  }));
  const info = `\n${describe(r1)}\n${describe(r2)}`;
  equal(r1.signal, "SIGKILL");
  equal(r2.code, 0, info);
  equal(acks2.length, 5, info);
  // The successor waits until the TTL after the holder's last renewal (at most W/3 before the kill).
  ok(tookOver >= TTL_MS - 3000, `took over ${tookOver} ms after the kill, TTL ${TTL_MS}`);
  ok(tookOver <= TTL_MS + 8000, `took over only ${tookOver} ms after the kill`);
  equal(final.integrity, "ok");
  equal(audit.lost.length, 0, `acknowledged and lost: ${audit.lost}`);
  equal(audit.misreported.length, 0, `misreported: ${audit.misreported}`);
  equal(audit.duplicates.length + audit.holes.length, 0, JSON.stringify(audit));
});

Deno.test("lease: a holder stopped (SIGSTOP) inside a write transaction past its TTL loses nothing and corrupts nothing", async () => {
  await using b = await freshBucket("mp-lease-stop");
  const prefix = dbPrefix("lease-stop");
  createSchema(b.bucket, prefix, { timing: FAST_TIMING });
  const first = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "stopped holder",
    script: "mp_counter.ts",
    env: { MP_COUNT: 40, MP_DEADLINE_MS: 60_000, MP_AUDIT: 1, MP_PAUSE_AT: 10, MP_PAUSE_MS: 500 },
    hardLimitMs: 90_000,
  });
  ok(await waitForEvent(first.child, "inTx", 30_000), "the holder reached transaction 10");
  first.child.kill("SIGSTOP");
  const stoppedAt = Date.now();
  const other = spawnAt({
    bucket: b.bucket,
    prefix,
    label: "other writer",
    script: "mp_counter.ts",
    env: { MP_COUNT: 20, MP_DEADLINE_MS: 40_000, MP_AUDIT: 1, MP_BUSY_TIMEOUT_MS: 30_000 },
  });
  const r2 = await other.child.done;
  const resumedAt = Date.now();
  first.child.kill("SIGCONT");
  const r1 = await first.child.done;
  const final = readFinal(b.bucket, prefix);
  const acked = eventsWith(r1.events, "ack").length + eventsWith(r2.events, "ack").length;
  const afterResume = r1.events.filter((e) => when(first.at, e) >= resumedAt);
  const firstAfter = afterResume.find((e) => "failed" in e || "ack" in e);
  const ackedToks = new Set(
    [...r1.events, ...r2.events].filter((e) => "ack" in e).map((e) => String(e.tok)),
  );
  const incToks = new Set(final.incToks ?? []);
  console.log(JSON.stringify({
    test: "lease SIGSTOP",
    stoppedMs: resumedAt - stoppedAt,
    otherTookOverAfterMs: when(other.at, eventsWith(r2.events, "ack")[0]) - stoppedAt,
    firstAfterResume: firstAfter,
    acknowledged: acked,
    finalN: final.counter,
    incRows: incToks.size,
    integrity: final.integrity,
  }));
  const info = `\n${describe(r1)}\n${describe(r2)}`;
  equal(r1.code, 0, info);
  equal(r2.code, 0, info);
  ok(resumedAt - stoppedAt > TTL_MS, "stopped past the TTL");
  ok(firstAfter && "failed" in firstAfter, `the stopped transaction's COMMIT failed${info}`);
  equal(firstAfter.failed, 10, info);
  equal(firstAfter.stage, "commit", info);
  equal(firstAfter.busy, true, `reported as SQLITE_BUSY: ${JSON.stringify(firstAfter)}`);
  equal(eventsWith(r1.events, "ack").length, 40, `it re-read and went on${info}`);
  equal(final.integrity, "ok");
  equal(final.counter, acked, "n = acknowledged increments exactly");
  equal(incToks.size, acked, "one inc row per acknowledged increment");
  for (const t of ackedToks) ok(incToks.has(t), `acknowledged ${t} is missing`);
});

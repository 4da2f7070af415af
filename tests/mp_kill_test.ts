/**
 * kill -9 (issue 10, "Tests", crashes): writer processes are killed with
 * SIGKILL at seeded random instants (during start-up, open, single-row
 * commits, big transactions of 1.2 MB that the new VFS stages, and
 * checkpoints when `vfs.checkpoint` exists) and restarted, 41 times in all
 * over 5 databases in parallel: 3 without the writer lease (11 kills each)
 * and 2 with it (4 kills each, every one of a lease holder after its first
 * commit; its successor waits out the TTL with busy_timeout). Each restart
 * continues after max(seq).
 * Proves: integrity ok, every acknowledged commit present, seq exactly 1..max
 * once each (nothing lost that a later run saw, nothing applied twice), and no
 * transaction half applied (every big row has its t row and the reverse).
 *
 * Child: tests/child/mp_writer.ts.
 *
 * @module
 */

import { equal } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import { FAST_TIMING } from "./_vfs.ts";
import { seededRandom } from "./_fault_proxy.ts";
import {
  auditWriters,
  type ChildEvent,
  type ChildResult,
  createSchema,
  dbPrefix,
  describe,
  eventsWith,
  readFinal,
  sample,
  spawnChild,
  waitForEvent,
} from "./mp_lib.ts";

const LANES = 5;
/** Lanes from this one on run with the writer lease (FAST_TIMING: TTL 8 s); the others without. */
const LEASE_LANES_FROM = 3;
const KILLS_PER_LANE = 11;
/** A killed holder makes its successor wait out the TTL: fewer kills in the lease lanes. */
const KILLS_PER_LEASE_LANE = 4;
const BIG_EVERY = 10;
const SEED = 20261126;
/**
 * A run may legitimately last its deadline (20 s), plus a transaction waiting
 * out busy_timeout (20 s) at the deadline, plus close() letting a maintenance
 * run finish (closeWaitMs 10 s + a request's timeout 10 s + 5 s), plus start-up.
 */
const HARD_LIMIT_MS = 75_000;

Deno.test("kill -9 at random instants, 41 times, with and without the writer lease: integrity ok, every acknowledged commit present, none half applied", async () => {
  await using b = await freshBucket("mp-kill");
  const started = Date.now();
  const lanes = await Promise.all(Array.from({ length: LANES }, async (_, lane) => {
    const random = seededRandom(SEED + lane);
    const prefix = dbPrefix(`kill${lane}`);
    const leased = lane >= LEASE_LANES_FROM;
    createSchema(b.bucket, prefix, leased ? { timing: FAST_TIMING } : {});
    const leaseEnv: Record<string, string | number> = leased
      ? { MP_BUSY_TIMEOUT_MS: 20_000, MP_DEADLINE_MS: 20_000 }
      : { MP_LEASE: "off", MP_DEADLINE_MS: 8_000 };
    const events: ChildEvent[] = [];
    const runs: ChildResult[] = [];
    let kills = 0;
    for (let k = 0; k < (leased ? KILLS_PER_LEASE_LANE : KILLS_PER_LANE); k++) {
      const child = spawnChild({
        bucket: b.bucket,
        prefix,
        label: `lane ${lane} run ${k + 1}`,
        script: "mp_writer.ts",
        env: {
          MP_COUNT: 1000,
          MP_BIG_EVERY: BIG_EVERY,
          MP_BIG_BYTES: 1_200_000,
          MP_MAX_DIRTY_BYTES: 256 * 1024, // big transactions spill: kills land mid-staging too
          MP_CHECKPOINT_EVERY: 5,
          ...leaseEnv,
        },
        hardLimitMs: HARD_LIMIT_MS,
      });
      // One kill in six lands during start-up or open (a random instant after spawn); the
      // others at a random instant after the writer opened the database and read max(seq),
      // while it commits (single rows, big transactions, checkpoints).
      let timer: ReturnType<typeof setTimeout>;
      if (random() < 1 / 6) {
        timer = setTimeout(() => child.kill("SIGKILL"), 50 + random() * 900);
      } else {
        const delay = random() * 2500;
        // With the lease, after its first commit (it may first wait out a killed holder's TTL).
        await waitForEvent(child, leased ? "ack" : "start", 30_000);
        timer = setTimeout(() => child.kill("SIGKILL"), delay);
      }
      const r = await child.done;
      clearTimeout(timer);
      if (r.signal === "SIGKILL" && !r.timedOut) kills++;
      runs.push(r);
      events.push(...r.events);
    }
    // One last clean run, short, so the database is also used after the last kill.
    const last = await spawnChild({
      bucket: b.bucket,
      prefix,
      label: `lane ${lane} final run`,
      script: "mp_writer.ts",
      env: { MP_COUNT: 5, MP_BIG_EVERY: BIG_EVERY, ...leaseEnv },
      hardLimitMs: HARD_LIMIT_MS,
    }).done;
    runs.push(last);
    events.push(...last.events);
    const final = readFinal(b.bucket, prefix);
    return {
      lane,
      prefix,
      runs,
      events,
      kills,
      final,
      audit: auditWriters(events, final, BIG_EVERY),
    };
  }));
  const elapsed = Date.now() - started;

  const runs = lanes.flatMap((l) => l.runs);
  const figures = {
    test: "kill -9",
    processes: runs.length,
    databases: LANES,
    seconds: Math.round(elapsed / 100) / 10,
    kills: lanes.reduce((n, l) => n + l.kills, 0),
    killedWithAckedCommits:
      runs.filter((r) => r.signal === "SIGKILL" && eventsWith(r.events, "ack").length > 0).length,
    commits: lanes.reduce((n, l) => n + l.audit.acked, 0),
    bigCommits: lanes.reduce(
      (n, l) =>
        n + eventsWith(l.events, "ack").filter((e) => Number(e.ack) % BIG_EVERY === 0).length,
      0,
    ),
    checkpoints: lanes.reduce((n, l) => n + eventsWith(l.events, "checkpoint").length, 0),
    lost: lanes.reduce((n, l) => n + l.audit.lost.length, 0),
    duplicates: lanes.reduce((n, l) => n + l.audit.duplicates.length, 0),
    holes: lanes.reduce((n, l) => n + l.audit.holes.length, 0),
    torn: lanes.reduce((n, l) => n + l.audit.halfApplied.length, 0),
    integrity: lanes.map((l) => l.final.integrity.slice(0, 120)),
  };
  console.log(JSON.stringify(figures));
  const startMs = runs.map((r) => r.events.find((e) => "start" in e)?._ms).filter((x) =>
    x !== undefined
  ) as number[];
  console.log(JSON.stringify({
    runsThatOpened: startMs.length,
    medianOpenMs: startMs.sort((a, b) => a - b)[Math.floor(startMs.length / 2)],
    ackedPerRun: runs.map((r) => eventsWith(r.events, "ack").length).join(","),
    secondsPerRun: runs.map((r) => Math.round(r.ms / 1000)).join(","),
    exits: runs.filter((r) => r.signal !== "SIGKILL").map((r) => `${r.label}: ${r.code}`),
  }));

  const problems: string[] = [];
  const check = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  check(figures.kills >= 38, `only ${figures.kills} SIGKILLs landed (want >= 38)`);
  check(
    figures.killedWithAckedCommits >= 10,
    `only ${figures.killedWithAckedCommits} killed runs had acknowledged commits`,
  );
  for (const r of runs) {
    check(
      !r.timedOut,
      `${r.label} hit the hard time limit:\n${describe(r)}\nlast events: ${
        JSON.stringify(r.events.slice(-3))
      }`,
    );
    check(r.signal === "SIGKILL" || r.code === 0, `${r.label} failed:\n${describe(r)}`);
  }
  for (const l of lanes) {
    const a = l.audit;
    const name = `database ${l.lane} (${l.prefix})`;
    check(l.final.errors.length === 0, `${name}: final read failed: ${l.final.errors.join("; ")}`);
    check(l.final.integrity === "ok", `${name}: integrity_check: ${l.final.integrity}`);
    check(a.lost.length === 0, `${name}: lost acknowledged commits ${sample(a.lost)}`);
    check(a.duplicates.length === 0, `${name}: seq present twice ${sample(a.duplicates)}`);
    check(a.holes.length === 0, `${name}: seq missing below max ${sample(a.holes)}`);
    check(
      a.halfApplied.length === 0,
      `${name}: half-applied big transactions ${sample(a.halfApplied)}`,
    );
    check(a.rows === a.max, `${name}: count(*) ${a.rows} != max(seq) ${a.max}`);
  }
  equal(
    problems.length,
    0,
    `${problems.length} problems:\n- ${problems.join("\n- ")}\nfigures: ${JSON.stringify(figures)}`,
  );
});

/**
 * Faults (issue 10, "Tests"): writer processes reach S3 through
 * tests/_fault_proxy.ts, which answers 503 SlowDown, resets connections and
 * drops responses after MinIO acted (the lost response) for 12% of requests,
 * seeded. The children make 2 attempts per S3 request, so faults reach the
 * VFS's commit path. Proves: 0 corruption (integrity ok, read straight from
 * MinIO afterwards) and no misreported outcome: every acknowledged commit is
 * present, and an attempt reported failed is absent unless its error said the
 * outcome is unknown.
 *
 * - one writer of single-row commits (tests/child/mp_writer.ts);
 * - two counter writers on one database (tests/child/mp_counter.ts with an
 *   audit row per increment): n = number of audit rows, n = acknowledged
 *   increments plus at most the unknown ones.
 *
 * @module
 */

import { equal } from "node:assert/strict";
import { freshBucket, testS3Options } from "./_harness.ts";
import { type FaultCounts, startFaultProxy } from "./_fault_proxy.ts";
import {
  auditWriters,
  type ChildResult,
  createSchema,
  dbPrefix,
  describe,
  eventsWith,
  readFinal,
  sample,
  spawnChild,
} from "./mp_lib.ts";

const RATE = 0.12;
const RUN_MS = 15_000;
/** S3 settings of the children: few attempts, so injected faults reach the VFS. */
const CHILD_S3 = { MP_MAX_ATTEMPTS: 2, MP_TIMEOUT_MS: 10_000 };

interface FaultFigures {
  requests: number;
  faultsInjected: number;
  faultRate: number;
  slowDown: number;
  reset: number;
  droppedResponses: number;
}

function faultFigures(c: FaultCounts): FaultFigures {
  const injected = c.slowDown + c.reset + c.dropped;
  return {
    requests: c.requests,
    faultsInjected: injected,
    faultRate: Math.round((injected / Math.max(1, c.requests)) * 1000) / 1000,
    slowDown: c.slowDown,
    reset: c.reset,
    droppedResponses: c.dropped,
  };
}

function report(problems: string[], figures: object, results: ChildResult[]): string {
  return `${problems.length} problems:\n- ${problems.join("\n- ")}\nfigures: ${
    JSON.stringify(figures)
  }\n${results.map((r) => describe(r)).join("\n")}`;
}

Deno.test("faults: a writer through 12% injected 503s, resets and dropped responses: no corruption, no misreported commit", async () => {
  await using b = await freshBucket("mp-faults-writer");
  const prefix = dbPrefix("faults");
  createSchema(b.bucket, prefix);
  await using proxy = startFaultProxy({
    upstream: testS3Options().endpoint,
    rate: RATE,
    seed: 1010,
  });
  const started = Date.now();
  const r = await spawnChild({
    bucket: b.bucket,
    prefix,
    endpoint: proxy.url,
    label: "writer via fault proxy",
    script: "mp_writer.ts",
    env: { ...CHILD_S3, MP_COUNT: 150, MP_DEADLINE_MS: RUN_MS },
    hardLimitMs: RUN_MS + 40_000,
  }).done;
  const elapsed = Date.now() - started;
  await proxy.close();
  const final = readFinal(b.bucket, prefix);
  const audit = auditWriters(r.events, final);
  const failedCommit = eventsWith(r.events, "failed").filter((e) => e.stage === "commit");
  const figures = {
    test: "faults, one writer",
    processes: 1,
    seconds: Math.round(elapsed / 100) / 10,
    ...faultFigures(proxy.counts),
    commits: audit.acked,
    failedAttempts: audit.failed,
    failedAtCommit: failedCommit.length,
    unknownOutcomes: audit.failedUnknown,
    failureCodes: [...new Set(eventsWith(r.events, "failed").map((e) => e.code))],
    lost: audit.lost.length,
    misreported: audit.misreported.length,
    duplicates: audit.duplicates.length,
    holes: audit.holes.length,
    integrity: final.integrity,
  };
  console.log(JSON.stringify(figures));

  const problems: string[] = [];
  const check = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  check(!r.timedOut, "the writer hit the hard time limit");
  check(r.code === 0, `the writer exited with ${r.code}`);
  check(
    figures.faultRate >= 0.1,
    `only ${figures.faultsInjected} of ${figures.requests} requests got a fault`,
  );
  check(audit.acked >= 10, `only ${audit.acked} commits acknowledged`);
  check(final.errors.length === 0, `final read failed: ${final.errors.join("; ")}`);
  check(final.integrity === "ok", `integrity_check: ${final.integrity}`);
  check(audit.lost.length === 0, `acknowledged commits absent: ${sample(audit.lost)}`);
  check(
    audit.misreported.length === 0,
    `commits reported failed (outcome not said unknown) but applied: ${sample(audit.misreported)}`,
  );
  check(audit.duplicates.length === 0, `seq present twice: ${sample(audit.duplicates)}`);
  check(audit.holes.length === 0, `seq missing below max: ${sample(audit.holes)}`);
  equal(problems.length, 0, report(problems, figures, [r]));
});

Deno.test("faults: two counter writers through 12% injected faults: n = acknowledged increments (+ unknown ones at most), no misreported commit", async () => {
  await using b = await freshBucket("mp-faults-counter");
  const prefix = dbPrefix("faults-counter");
  createSchema(b.bucket, prefix);
  await using proxy = startFaultProxy({
    upstream: testS3Options().endpoint,
    rate: RATE,
    seed: 2020,
  });
  const started = Date.now();
  const results = await Promise.all([1, 2].map((i) =>
    spawnChild({
      bucket: b.bucket,
      prefix,
      endpoint: proxy.url,
      label: `counter ${i} via fault proxy`,
      script: "mp_counter.ts",
      env: { ...CHILD_S3, MP_COUNT: 60, MP_DEADLINE_MS: RUN_MS, MP_AUDIT: 1 },
      hardLimitMs: RUN_MS + 40_000,
    }).done
  ));
  const elapsed = Date.now() - started;
  await proxy.close();
  const final = readFinal(b.bucket, prefix);
  const events = results.flatMap((r) => r.events);
  const acks = eventsWith(events, "ack");
  const fails = eventsWith(events, "failed");
  const incToks = new Set(final.incToks ?? []);
  const ackedToks = new Set(acks.map((e) => String(e.tok)));
  const lost = [...ackedToks].filter((t) => !incToks.has(t));
  const misreported = fails.filter((e) => !e.unknown && incToks.has(String(e.tok))).map((e) =>
    String(e.tok)
  );
  const unknownApplied = fails.filter((e) => e.unknown && incToks.has(String(e.tok))).length;
  const strays = [...incToks].filter((t) => !ackedToks.has(t) && !fails.some((e) => e.tok === t));
  const figures = {
    test: "faults, two counter writers",
    processes: 2,
    seconds: Math.round(elapsed / 100) / 10,
    ...faultFigures(proxy.counts),
    acknowledged: acks.length,
    failedAttempts: fails.length,
    busy: fails.filter((e) => e.busy).length,
    unknownOutcomes: fails.filter((e) => e.unknown).length,
    unknownApplied,
    failureCodes: [...new Set(fails.map((e) => e.code))],
    finalN: final.counter,
    auditRows: incToks.size,
    lost: lost.length,
    misreported: misreported.length,
    integrity: final.integrity,
  };
  console.log(JSON.stringify(figures));

  const problems: string[] = [];
  const check = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  for (const r of results) {
    check(!r.timedOut, `${r.label} hit the hard time limit`);
    check(r.code === 0, `${r.label} exited with ${r.code}`);
  }
  check(
    figures.faultRate >= 0.1,
    `only ${figures.faultsInjected} of ${figures.requests} requests got a fault`,
  );
  check(acks.length >= 10, `only ${acks.length} increments acknowledged`);
  check(final.errors.length === 0, `final read failed: ${final.errors.join("; ")}`);
  check(final.integrity === "ok", `integrity_check: ${final.integrity}`);
  check(
    final.counter === incToks.size,
    `n = ${final.counter} but ${incToks.size} audit rows: an increment was half applied`,
  );
  check(lost.length === 0, `acknowledged increments absent: ${sample(lost)}`);
  check(
    misreported.length === 0,
    `increments reported failed (outcome not said unknown) but applied: ${sample(misreported)}`,
  );
  check(strays.length === 0, `audit rows of no attempt: ${sample(strays)}`);
  check(
    final.counter === acks.length + unknownApplied,
    `n = ${final.counter}, acknowledged = ${acks.length}, unknown outcomes applied = ${unknownApplied}`,
  );
  equal(problems.length, 0, report(problems, figures, results));
});

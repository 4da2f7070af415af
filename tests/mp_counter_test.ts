/**
 * Four writer processes increment one counter (issue 10, "Tests"): each runs
 * `BEGIN; UPDATE counter SET n = n + 1; COMMIT` in a loop, retrying a
 * transaction that fails with SQLITE_BUSY (BUSY_SNAPSHOT when it lost the
 * commit race). Proves: the final n equals the sum of acknowledged increments
 * exactly (no lost update, no increment applied twice or applied while
 * reported failed), the only failures are BUSY, and integrity_check is ok.
 *
 * Child: tests/child/mp_counter.ts.
 *
 * @module
 */

import { equal } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import {
  type ChildResult,
  createSchema,
  dbPrefix,
  describe,
  eventsWith,
  readFinal,
  spawnChild,
} from "./mp_lib.ts";

const WRITERS = 4;
const PER_WRITER = 50;
const RUN_MS = 25_000;

Deno.test("four writer processes incrementing one counter: final n = acknowledged increments exactly, integrity ok", async () => {
  await using b = await freshBucket("mp-counter");
  const prefix = dbPrefix("counter");
  createSchema(b.bucket, prefix);
  const started = Date.now();
  const children = Array.from({ length: WRITERS }, (_, i) =>
    spawnChild({
      bucket: b.bucket,
      prefix,
      label: `counter ${i + 1}`,
      script: "mp_counter.ts",
      env: { MP_COUNT: PER_WRITER, MP_DEADLINE_MS: RUN_MS },
      hardLimitMs: RUN_MS + 30_000,
    }));
  const results: ChildResult[] = await Promise.all(children.map((c) => c.done));
  const elapsed = Date.now() - started;
  const final = readFinal(b.bucket, prefix);

  const acked = results.map((r) => eventsWith(r.events, "ack").length);
  const fails = results.flatMap((r) => eventsWith(r.events, "failed"));
  const busy = fails.filter((e) => e.busy);
  const other = fails.filter((e) => !e.busy);
  const sum = acked.reduce((a, b) => a + b, 0);
  const figures = {
    test: "counter",
    processes: WRITERS,
    seconds: Math.round(elapsed / 100) / 10,
    acknowledged: sum,
    perWriter: acked,
    finalN: final.counter,
    lostOrExtra: final.counter === undefined ? null : final.counter - sum,
    busyRetries: busy.length,
    busyCodes: [...new Set(busy.map((e) => e.code))],
    otherFailures: other.length,
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
  check(sum >= WRITERS, `only ${sum} increments acknowledged`);
  check(final.errors.length === 0, `final read failed: ${final.errors.join("; ")}`);
  check(final.integrity === "ok", `integrity_check: ${final.integrity}`);
  check(
    final.counter === sum,
    `final n = ${final.counter}, acknowledged increments = ${sum} ` +
      `(${sum - (final.counter ?? 0)} acknowledged increments lost or overwritten)`,
  );
  check(
    other.length === 0,
    `${other.length} failures other than SQLITE_BUSY, e.g. ${JSON.stringify(other.slice(0, 3))}`,
  );
  equal(
    problems.length,
    0,
    `${problems.length} problems:\n- ${problems.join("\n- ")}\nfigures: ${
      JSON.stringify(figures)
    }\n${results.map((r) => describe(r)).join("\n")}`,
  );
});

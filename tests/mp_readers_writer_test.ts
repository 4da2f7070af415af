/**
 * Many processes on one database (issue 10, "Tests"): one writer process
 * commits single-row transactions in a loop while reader processes read it:
 * one opening a fresh read-write connection per read (as an app does), one
 * opening fresh read-only, and one long-lived read-write connection with a
 * warm cache. Every read checks `count(*) = max(seq)` and `PRAGMA
 * quick_check`. Proves: 0 read errors, 0 torn reads, 0 lost acknowledged
 * commits, every seq present exactly once, integrity ok at the end.
 *
 * Children: tests/child/mp_writer.ts, tests/child/mp_reader.ts.
 *
 * @module
 */

import { equal } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import {
  auditReads,
  auditWriters,
  type ChildResult,
  createSchema,
  dbPrefix,
  describe,
  readFinal,
  sample,
  spawnChild,
} from "./mp_lib.ts";

const RUN_MS = 15_000;

Deno.test("many processes: a writer and fresh rw, fresh ro and long-lived readers see only whole snapshots and lose no acknowledged commit", async () => {
  await using b = await freshBucket("mp-readers-writer");
  const prefix = dbPrefix("rw");
  createSchema(b.bucket, prefix);
  const common = { bucket: b.bucket, prefix, hardLimitMs: RUN_MS + 30_000 };
  const started = Date.now();
  const writer = spawnChild({
    ...common,
    label: "writer",
    script: "mp_writer.ts",
    env: { MP_COUNT: 400, MP_DEADLINE_MS: RUN_MS },
  });
  const readers = [
    { label: "reader fresh rw", env: { MP_MODE: "fresh", MP_FLAGS: "rw" } },
    { label: "reader fresh ro", env: { MP_MODE: "fresh", MP_FLAGS: "ro" } },
    { label: "reader long rw", env: { MP_MODE: "long", MP_FLAGS: "rw" } },
  ].map((r) =>
    spawnChild({
      ...common,
      label: r.label,
      script: "mp_reader.ts",
      env: { ...r.env, MP_COUNT: 5000, MP_DEADLINE_MS: RUN_MS, MP_PAUSE_MS: 5 },
    })
  );
  const results: ChildResult[] = await Promise.all([writer.done, ...readers.map((r) => r.done)]);
  const elapsed = Date.now() - started;
  const all = results.map((r) => describe(r)).join("\n");
  const w = results[0];

  const final = readFinal(b.bucket, prefix);
  const audit = auditWriters(w.events, final);
  const readerStats = results.slice(1).map((r) => {
    const a = auditReads(r.events);
    const done = r.events.find((e) => "done" in e);
    const s = (done?.stats ?? {}) as Record<string, number>;
    return {
      label: r.label,
      exit: r.code,
      reads: a.reads,
      torn: a.torn.length,
      errors: a.errors.length,
      s3Writes: (s.put ?? 0) + (s.delete ?? 0) + (s.deleteMany ?? 0),
      tornSample: a.torn.slice(0, 3),
      errorSample: a.errors.slice(0, 3),
    };
  });
  const figures = {
    test: "many processes",
    processes: results.length,
    seconds: Math.round(elapsed / 100) / 10,
    commits: audit.acked,
    writerFailures: audit.failed,
    reads: readerStats.reduce((n, r) => n + r.reads, 0),
    torn: readerStats.reduce((n, r) => n + r.torn, 0),
    readErrors: readerStats.reduce((n, r) => n + r.errors, 0),
    readerS3Writes: readerStats.reduce((n, r) => n + r.s3Writes, 0),
    lost: audit.lost.length,
    duplicates: audit.duplicates.length,
    holes: audit.holes.length,
    integrity: final.integrity,
  };
  console.log(JSON.stringify(figures));
  for (const r of readerStats) console.log(JSON.stringify(r));
  const msg = (what: string): string => `${what}\nfigures: ${JSON.stringify(figures)}\n${all}`;

  const problems: string[] = [];
  const check = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  for (const r of results) {
    check(!r.timedOut, `${r.label} hit the hard time limit`);
    check(r.code === 0, `${r.label} exited with ${r.code}`);
  }
  check(audit.acked >= 20, `the writer acknowledged only ${audit.acked} commits`);
  check(final.errors.length === 0, `final read failed: ${final.errors.join("; ")}`);
  check(final.integrity === "ok", `integrity_check after the run: ${final.integrity}`);
  check(audit.lost.length === 0, `lost acknowledged commits: ${sample(audit.lost)}`);
  check(audit.duplicates.length === 0, `seq present twice: ${sample(audit.duplicates)}`);
  check(audit.holes.length === 0, `seq missing below max: ${sample(audit.holes)}`);
  check(audit.rows === audit.max, `count(*) ${audit.rows} != max(seq) ${audit.max} at the end`);
  for (const r of readerStats) {
    check(r.reads > 0, `${r.label} made no successful read`);
    check(
      r.errors === 0,
      `${r.label}: ${r.errors} read errors, e.g. ${JSON.stringify(r.errorSample)}`,
    );
    check(r.torn === 0, `${r.label}: ${r.torn} torn reads, e.g. ${JSON.stringify(r.tornSample)}`);
  }
  equal(problems.length, 0, msg(`${problems.length} problems:\n- ${problems.join("\n- ")}`));
});

/**
 * Maintenance without a long-lived process (issue 16): every writer is a
 * short-lived process (open, insert one row, close), as a CLI call, a cron
 * job or a serverless function is. Folding and retention must still keep up:
 * after a burst and the grace period, the next writers fold what is due, the
 * log past the checkpoint stays bounded, and Python sqlite-s3vfs reads the
 * rows from the block objects.
 */

import assert from "node:assert/strict";
import { decodeCheckpoint } from "../src/log/format.ts";
import { checkpointKey, logPrefix } from "../src/log/keys.ts";
import { freshBucket, type TestBucket } from "./_harness.ts";
import { type ChildResult, createSchema, spawnChild } from "./mp_lib.ts";
import { py, type PyRead, requirePython } from "./_python.ts";

/** G = 2 s (as the issue measured), the rest as small as the rules allow. */
const TIMING = {
  graceMs: 2000,
  maxCommitLagMs: 2000,
  keepHistoryMs: 20_000,
  maxStageAgeMs: 2000,
  marginMs: 1000,
};
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The checkpoint record's txid and the log's head (the newest commit object). */
async function state(b: TestBucket, prefix: string): Promise<{ record: number; head: number }> {
  const got = await b.client.get(b.bucket, checkpointKey(prefix));
  assert.equal(got.status, "ok");
  const record = decodeCheckpoint(got.status === "ok" ? got.body : new Uint8Array()).txid;
  let head = record;
  for await (const e of b.client.list(b.bucket, { prefix: logPrefix(prefix) })) {
    head = Math.max(head, Number(e.key.slice(-20)));
  }
  return { record, head };
}

/** Runs `n` short-lived writers, `parallel` at a time; every one must succeed. */
async function writers(
  b: TestBucket,
  prefix: string,
  from: number,
  n: number,
  parallel: number,
  write = true,
): Promise<ChildResult[]> {
  const out: ChildResult[] = [];
  for (let k = 0; k < n; k += parallel) {
    const batch = Array.from({ length: Math.min(parallel, n - k) }, (_, j) =>
      spawnChild({
        label: `writer ${from + k + j}`,
        script: "mp_once.ts",
        bucket: b.bucket,
        prefix,
        env: {
          MP_TOKEN: `w${from + k + j}`,
          MP_TIMING: JSON.stringify(TIMING),
          MP_WRITE: write ? 1 : 0,
          MP_BUSY_TIMEOUT_MS: 30_000, // writers at once take turns with the writer lease
        },
      }).done);
    for (const r of await Promise.all(batch)) {
      assert.equal(r.code, 0, `${r.label} failed: ${r.stderr}`);
      assert.ok(r.events.some((e) => e.done), `${r.label} did not finish`);
      out.push(r);
    }
  }
  return out;
}

Deno.test("short-lived writers only: after a burst of 40 and the grace period, the next writers fold it; Python reads the rows from the blocks", async () => {
  requirePython();
  await using b = await freshBucket("burst");
  const prefix = "mp/burst.sqlite";
  createSchema(b.bucket, prefix, { timing: TIMING });
  const started = Date.now();
  await writers(b, prefix, 0, 40, 4);
  const burst = await state(b, prefix);
  console.log(`burst of 40 in ${Date.now() - started} ms: ${JSON.stringify(burst)}`);
  assert.ok(burst.head >= 41, "schema + 40 commits");
  await wait(TIMING.graceMs + TIMING.marginMs + 2500); // + 1 s: the store's Date may lag
  const more = await writers(b, prefix, 40, 3, 1);
  const after = await state(b, prefix);
  console.log(
    `after 3 more: ${JSON.stringify(after)}; maintenance of the first: ${
      JSON.stringify(more[0].events.find((e) => e.done)?.maintenance)
    }`,
  );
  assert.ok(
    after.record >= burst.head,
    `the record reached the burst's last txid ${burst.head}: ${after.record}`,
  );
  // One more process that only opens and closes, once the last commits aged: all folded.
  await wait(TIMING.graceMs + TIMING.marginMs + 2500); // + 1 s: the store's Date may lag
  await writers(b, prefix, 43, 1, 1, false);
  const end = await state(b, prefix);
  assert.equal(end.record, end.head, "nothing left in the log");
  const got = await py(b.bucket, prefix, 4096, "read", 4096, [
    "SELECT count(*), min(tok), max(tok) FROM t",
  ]) as PyRead;
  assert.equal(got.integrity, "ok");
  assert.deepEqual(got.results[0], [[43, "w0", "w9"]]);
});

Deno.test("short-lived writers only: the log past the checkpoint stays within the commits of the last grace period", async () => {
  await using b = await freshBucket("bound");
  const prefix = "mp/bound.sqlite";
  createSchema(b.bucket, prefix, { timing: TIMING });
  const seen: { unfolded: number; young: number }[] = [];
  const start = Date.now();
  while (Date.now() - start < 25_000) {
    const [r] = await writers(b, prefix, seen.length, 1, 1);
    // Commits that may still wait: younger than G + M + 1 s (rounding) + 1 s (the store's
    // Date may trail its clock by up to a second) when this writer listed the log (at its
    // start), plus those made since.
    const since = Date.now() - r.ms - (TIMING.graceMs + TIMING.marginMs + 2000);
    let young = 0;
    for await (const e of b.client.list(b.bucket, { prefix: logPrefix(prefix) })) {
      if (e.lastModified && e.lastModified.getTime() >= since) young++;
    }
    const s = await state(b, prefix);
    seen.push({ unfolded: s.head - s.record, young });
    await wait(200);
  }
  console.log(
    `${seen.length} writers; log past the checkpoint after each: ${
      seen.map((s) => s.unfolded).join(" ")
    }; max ${Math.max(...seen.map((s) => s.unfolded))}`,
  );
  for (const [k, s] of seen.entries()) {
    assert.ok(s.unfolded <= s.young, `after writer ${k}: ${s.unfolded} unfolded, ${s.young} young`);
  }
});

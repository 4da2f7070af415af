/** Unit tests of src/s3/retry.ts: backoff bounds, retry decisions, mapLimit. */

import assert from "node:assert/strict";
import {
  type AttemptOutcome,
  backoffDelay,
  DEFAULT_RETRY,
  mapLimit,
  type RetryPolicy,
  shouldRetry,
} from "./retry.ts";

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5000 };

// --- backoffDelay ---

Deno.test("backoffDelay: random 0 gives 0, random ~1 gives just under the ceiling", () => {
  const almostOne = 1 - Number.EPSILON;
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
    assert.equal(backoffDelay(attempt, policy, () => 0), 0);
    assert.equal(backoffDelay(attempt, policy, () => almostOne), ceiling - 1, `attempt ${attempt}`);
  }
});

Deno.test("backoffDelay: ceiling doubles from the base and is capped", () => {
  const half = (): number => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => backoffDelay(a, policy, half)),
    [50, 100, 200, 400, 800, 1600, 2500, 2500, 2500],
  );
});

Deno.test("backoffDelay: always an integer in [0, ceiling) for many random draws", () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, policy, rnd);
      assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `attempt ${attempt}: ${d}`);
    }
  }
});

Deno.test("backoffDelay: default random source stays in bounds; DEFAULT_RETRY values", () => {
  assert.deepEqual(DEFAULT_RETRY, { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5000 });
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, DEFAULT_RETRY);
    assert.ok(d >= 0 && d < 800);
  }
});

// --- shouldRetry ---

Deno.test("shouldRetry: decision table", () => {
  const r = (status: number, code?: string): AttemptOutcome => ({ kind: "response", status, code });
  const table: [string, AttemptOutcome, boolean, boolean][] = [
    // label, outcome, retry when idempotent, retry when not idempotent
    ["500 InternalError", r(500, "InternalError"), true, false],
    ["500 without code", r(500), true, false],
    ["502", r(502), true, false],
    ["503 SlowDown", r(503, "SlowDown"), true, true],
    ["503 ServiceUnavailable", r(503, "ServiceUnavailable"), true, true],
    ["504", r(504), true, false],
    ["429", r(429), true, true],
    ["400 SlowDown code", r(400, "SlowDown"), true, true],
    ["400 RequestTimeout", r(400, "RequestTimeout"), true, false],
    ["400 BadRequest", r(400, "BadRequest"), false, false],
    ["403 AccessDenied", r(403, "AccessDenied"), false, false],
    ["403 SignatureDoesNotMatch", r(403, "SignatureDoesNotMatch"), false, false],
    ["404 NoSuchBucket", r(404, "NoSuchBucket"), false, false],
    ["409 ConditionalRequestConflict", r(409, "ConditionalRequestConflict"), false, false],
    ["412 PreconditionFailed", r(412, "PreconditionFailed"), false, false],
    ["network error", { kind: "network" }, true, false],
    ["timeout", { kind: "timeout" }, true, false],
  ];
  for (const [label, outcome, idem, nonIdem] of table) {
    assert.equal(shouldRetry(outcome, true), idem, `${label}, idempotent`);
    assert.equal(shouldRetry(outcome, false), nonIdem, `${label}, not idempotent`);
  }
});

// --- mapLimit ---

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

Deno.test("mapLimit: results keep input order whatever the completion order", async () => {
  const items = [30, 5, 20, 0, 10, 1, 15];
  const out = await mapLimit(items, 3, async (ms, i) => {
    await tick(ms);
    return `${i}:${ms}`;
  });
  assert.deepEqual(out, items.map((ms, i) => `${i}:${ms}`));
});

Deno.test("mapLimit: never more than `limit` in flight, and it reaches the limit", async () => {
  for (const limit of [1, 2, 4, 50]) {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    await mapLimit(items, limit, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick(i % 3);
      inFlight--;
      return i;
    });
    assert.equal(peak, Math.min(limit, items.length), `limit ${limit}`);
    assert.equal(inFlight, 0);
  }
});

Deno.test("mapLimit: every item is processed exactly once; index argument is right", async () => {
  const seen = new Map<string, number>();
  const items = Array.from({ length: 37 }, (_, i) => `k${i}`);
  await mapLimit(items, 5, async (item, index) => {
    assert.equal(item, `k${index}`);
    seen.set(item, (seen.get(item) ?? 0) + 1);
    await tick();
  });
  assert.equal(seen.size, 37);
  assert.ok([...seen.values()].every((n) => n === 1));
});

Deno.test("mapLimit: empty input resolves to []", async () => {
  let calls = 0;
  assert.deepEqual(
    await mapLimit([], 4, () => {
      calls++;
      return Promise.resolve(1);
    }),
    [],
  );
  assert.equal(calls, 0);
});

Deno.test("mapLimit: first error propagates, no new items start, started ones settle first", async () => {
  const started: number[] = [];
  const settled: number[] = [];
  const boom = new Error("boom at 3");
  const items = Array.from({ length: 20 }, (_, i) => i);
  await assert.rejects(
    mapLimit(items, 4, async (i) => {
      started.push(i);
      await tick(i === 3 ? 1 : 10);
      settled.push(i);
      if (i === 3) throw boom;
      return i;
    }),
    (err) => err === boom,
  );
  // Items 0..3 start together; 3 fails first; no worker takes another item after that.
  assert.deepEqual(started.sort((a, b) => a - b), [0, 1, 2, 3]);
  // Rejection waits for the in-flight calls: all started calls had settled.
  assert.deepEqual(settled.sort((a, b) => a - b), [0, 1, 2, 3]);
});

Deno.test("mapLimit: with several failures the first one wins", async () => {
  await assert.rejects(
    mapLimit([0, 1, 2], 3, async (i) => {
      await tick(i === 1 ? 1 : 20);
      throw new Error(`fail ${i}`);
    }),
    { message: "fail 1" },
  );
});

Deno.test("mapLimit: synchronous throw inside fn is caught like a rejection", async () => {
  await assert.rejects(
    mapLimit([1, 2], 1, (i) => {
      if (i === 2) throw new TypeError("sync");
      return Promise.resolve(i);
    }),
    TypeError,
  );
});

Deno.test("mapLimit: rejects a bad limit", async () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    await assert.rejects(mapLimit([1], bad, (x) => Promise.resolve(x)), RangeError, `limit ${bad}`);
  }
});

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { DEFAULT_TIMING } from "../log/rules.ts";
import { UsageError } from "./errors.ts";
import { formatTiming, parseTiming, sameTiming } from "./timing.ts";

Deno.test("parseTiming() takes name=duration pairs with units; the rest stay default", () => {
  const t = parseTiming("grace=2m, keep-history=1h,max-stage-age=1d,margin=2000ms", "import");
  deepEqual(t, {
    ...DEFAULT_TIMING,
    graceMs: 120_000,
    keepHistoryMs: 3_600_000,
    maxStageAgeMs: 86_400_000,
    marginMs: 2000,
  });
  ok(sameTiming(t, { ...t }));
  ok(!sameTiming(t, DEFAULT_TIMING));
});

Deno.test("parseTiming() refuses what checkTiming refuses, in the tool's words", () => {
  throws(() => parseTiming("grace=0s", "cp"), UsageError);
  throws(() => parseTiming("grace=1h", "cp"), /--timing: keep-history 900000 must be >= grace/);
  throws(() => parseTiming("", "cp"), /name=duration pairs/);
});

Deno.test("formatTiming() names every field in seconds", () => {
  equal(
    formatTiming(DEFAULT_TIMING),
    "grace 60 s, max-commit-lag 30 s, keep-history 900 s, max-stage-age 3600 s, margin 2 s",
  );
});

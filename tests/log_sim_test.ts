/**
 * The deterministic simulation of the commit-log protocol (src/log/): for
 * thousands of seeds, writers, readers, checkpointers and retention run one
 * store operation at a time against an in-memory S3, with crashes, lost
 * responses, 503s, delayed requests and long pauses; every step is checked
 * against the model (tests/log_sim_model.ts). A failing seed is printed with
 * the command that replays it:
 *
 *   LOG_SIM_SEED=1234 deno test -A tests/log_sim_test.ts
 *
 * `LOG_SIM_SEEDS` sets how many seeds the normal run covers (default 4000),
 * `LOG_SIM_FROM` the first one (default 1: a soak runs other seeds).
 * Half the seeds run writers with the writer lease (tests/log_sim_lease.ts);
 * `LOG_SIM_LEASE_PROBE=src` makes their renewal probe behave as
 * src/vfs/writer_lease.ts did before the fix it found (a 404 taken as a
 * proof however old; see `PROBE_MODE` in tests/log_sim_lease.ts).
 *
 * @module
 */

import { ok } from "node:assert/strict";
import type { RunStats } from "./log_sim_actors.ts";
import { runSeed } from "./log_sim_run.ts";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

Deno.test("commit, refresh, readBlocks, checkpoint, retention, writer lease: every invariant holds over thousands of simulated seeds with faults", () => {
  const only = env("LOG_SIM_SEED");
  const from = Number(env("LOG_SIM_FROM") ?? 1);
  const seeds = only ? [Number(only)] : Array.from(
    { length: Number(env("LOG_SIM_SEEDS") ?? 4000) },
    (_, i) => i + from,
  );
  const total: Record<string, number> = {};
  const add = (s: RunStats): void => {
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === "number") total[k] = (total[k] ?? 0) + v;
      else for (const [k2, v2] of Object.entries(v as object)) total[k2] = (total[k2] ?? 0) + v2;
    }
  };
  const t0 = performance.now();
  for (const seed of seeds) {
    try {
      add(runSeed(seed));
    } catch (e) {
      const how = `replay: LOG_SIM_SEED=${seed} deno test -A tests/log_sim_test.ts`;
      throw new Error(`seed ${seed} failed (${how}): ${(e as Error).message}`, { cause: e });
    }
  }
  console.log(
    `${seeds.length} seeds in ${Math.round(performance.now() - t0)} ms: ` +
      Object.entries(total).map(([k, v]) => `${k} ${v}`).join(", "),
  );
  if (!only) {
    // The runs must have exercised the paths that matter, not only the happy one.
    for (
      const k of [
        "committed",
        "conflict",
        "expired",
        "aborted",
        "tooOld",
        "reloads",
        "staged",
        "folds",
        "voids",
        "recreated",
        "crash",
        "lost",
        "delay",
        "pause",
        "leaseTakes",
        "leaseRenewals",
        "leaseTakeoversReleased",
        "leaseTakeoversExpired",
        "leaseBusy",
        "leaseReleases",
        "leaseHolderReads",
        "leaseProbeHits",
        "leaseLostAtCommit",
        "leasePausesPastTtl",
      ]
    ) ok((total[k] ?? 0) > 0, `no run produced any "${k}"`);
  }
});

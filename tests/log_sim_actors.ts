/**
 * The simulation's actors: writers (processes that open, refresh, read their
 * snapshot, commit a counter increment plus random block changes, sometimes
 * big staged ones), readers (snapshot transactions of several reads each),
 * checkpointers and retention. Every snapshot, read and outcome is checked
 * against the model as it happens.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { blockCount, blockLength } from "../src/blocks.ts";
import { checkpoint, type CheckpointOutcome } from "../src/log/checkpoint.ts";
import {
  DatabaseReplacedError,
  LogOpenError,
  LogStoreError,
  SnapshotTooOldError,
} from "../src/log/errors.ts";
import type { ConfigRecord } from "../src/log/format.ts";
import { FoldMemory } from "../src/log/fold_memory.ts";
import { coldOpen, openForWrite } from "../src/log/open.ts";
import { readConfig } from "../src/log/records.ts";
import { retention } from "../src/log/retention.ts";
import type { Timing } from "../src/log/rules.ts";
import { type DbState, refresh } from "../src/log/snapshot.ts";
import { readBlocks } from "../src/log/read.ts";
import { clock, parallel, type Step } from "../src/log/store.ts";
import { commit, type CommitOutcome, type Transaction } from "../src/log/writer.ts";
import type { LeaseStats } from "./log_sim_lease_book.ts";
import { counterOf, type Model } from "./log_sim_model.ts";
import type { Rng, World, WorldStats } from "./log_sim_world.ts";

/** Timing of the simulated databases (seconds, so runs cover many periods). */
export const SIM_TIMING: Timing = {
  graceMs: 5_000,
  maxCommitLagMs: 4_000,
  keepHistoryMs: 24_000,
  maxStageAgeMs: 12_000,
  marginMs: 1_000,
};

/** What one run did. */
export interface RunStats extends WorldStats {
  /** Outcomes of commits, by kind. */
  outcomes: Record<CommitOutcome["kind"], number>;
  /** Read calls checked against the model. */
  reads: number;
  /** Read transactions that failed with "snapshot too old". */
  tooOld: number;
  /** Requests that kept failing (the actor gave up that transaction). */
  storeErrors: number;
  /** Checkpoint runs that folded something. */
  folds: number;
  /** Checkpoint runs that found the claim held by another. */
  claimBusy: number;
  /** Processes that learnt their database was deleted (DatabaseReplacedError, "replaced"). */
  replacedErrors: number;
  /** Database deletions (incarnation changes). */
  resets: number;
  /** Commits of a deleted incarnation acknowledged shortly after the deletion (lost with it). */
  lateAcks: number;
  /** Base blocks of a deleted incarnation written past the new database's end. */
  staleBlocks: number;
  /** Opens refused because a deleted database's checkpointer left block objects behind. */
  leftoverRefusals: number;
  /** Seeds where a database was created again over blocks a stale checkpointer still wrote. */
  staleInside: number;
  /** Seeds where a delayed config PUT brought a deleted incarnation back. */
  resurrections: number;
  /** Commits that staged their data. */
  staged: number;
  /** Reloads from the checkpoint record seen by readers (far behind). */
  reloads: number;
  /** Final txid. */
  head: number;
  /** Void commit objects that took a slot. */
  voids: number;
  /** Commit objects re-created in an emptied slot (void). */
  recreated: number;
  /** The writer lease (tests/log_sim_lease.ts). */
  lease: LeaseStats;
}

/** The simulated database. */
export const PREFIX = "db/sim.sqlite";
/** Page size of the simulated database (sizes are multiples of it). */
export const PAGE = 4;

/** What every actor of a run shares. */
export type Env = {
  rng: Rng;
  world: World;
  model: Model;
  stats: RunStats;
  blockSize: number;
  probeBytes: number;
};

/** A writer process: open, refresh, read, commit, `left.tx` acknowledged commits. */
export function* writer(env: Env, left: { tx: number }): Step<void> {
  const { rng, model, stats, blockSize } = env;
  let st: DbState | null = null;
  for (let tries = 0; left.tx > 0 && tries < 40; tries++) {
    try {
      st ??= yield* openForWrite(PREFIX, {
        blockSize,
        timing: SIM_TIMING,
        probeBytes: env.probeBytes,
      });
      const saw = model.seen();
      yield* refresh(st);
      model.checkSnapshot(st.head, st.size, saw, st.config.id);
      const tx = yield* buildTransaction(env, st);
      if (
        tx.blocks.size > 0 &&
        [...tx.blocks.values()].reduce((n, b) => n + b.length, 0) > 3 * blockSize
      ) {
        stats.staged++;
      }
      const out = yield* commit(st, tx, {
        inlineLimit: 3 * blockSize,
        chunkBytes: 2 * blockSize,
        attempts: rng.int(2, 5),
      });
      model.checkOutcome(tx.putId, out, st.config.id);
      stats.outcomes[out.kind]++;
      if (out.kind === "committed") left.tx--;
      if (out.kind === "replaced") st = null; // as the VFS: reopen what is there now
    } catch (e) {
      if (e instanceof DatabaseReplacedError) {
        replaced(env, st, e);
        st = null;
      } else if (e instanceof SnapshotTooOldError) tooOld(env, e, st);
      else if (e instanceof LogStoreError) stats.storeErrors++;
      else if (leftovers(env, e)) continue;
      else if (!env.model.tainted) throw e; // after a documented residual: anything goes
    }
  }
}

/**
 * After a deletion, a checkpointer of the deleted database may have left a
 * block object behind (docs/protocol.md 16.7): opening the prefix then fails
 * clearly (its blocks do not make a database) instead of adopting it.
 */
export function leftovers(env: Env, e: unknown): boolean {
  if (!(e instanceof LogOpenError) || env.model.resets === 0) return false;
  env.stats.leftoverRefusals++;
  return true;
}

/** A process learnt that its database was deleted: only ever after a deletion. */
export function replaced(env: Env, st: DbState | null, e?: unknown): void {
  env.stats.replacedErrors++;
  if (env.model.tainted) return;
  const id = st?.config.id;
  if (env.model.resets === 0 || (id !== undefined && !env.model.stale(id))) {
    throw new AssertionError({
      message: `DatabaseReplacedError without a deletion: ${(e as Error)?.message}`,
    });
  }
}

/** Reads block 0 and two others at the snapshot, then changes the counter and random blocks. */
export function* buildTransaction(env: Env, st: DbState): Step<Transaction> {
  const { rng, model, blockSize: bs } = env;
  const old = st.size;
  let size = old;
  const p = rng.next();
  if (old === 0) size = PAGE * rng.int(1, 8);
  else if (p < 0.25) size = Math.min(old + PAGE * rng.int(1, 2 * bs), 12 * bs);
  else if (p < 0.4) size = Math.max(PAGE, old - PAGE * rng.int(1, 2 * bs));
  const oldCount = blockCount(old, bs);
  const look = [0, rng.int(0, oldCount + 1), rng.int(0, oldCount + 1)];
  const got = yield* readBlocks(st, look);
  model.checkRead(st.head, look, got, st.config.id);
  env.stats.reads++;
  const blocks = new Map<number, Uint8Array>();
  const fresh = (i: number): Uint8Array => rng.bytes(blockLength(i, size, bs));
  const b0 = fresh(0);
  b0.set(got[0].subarray(0, Math.min(got[0].length, b0.length)));
  const counter = counterOf({ size: old, blocks: [got[0]] }) ?? rng.int(0, 1000);
  new DataView(b0.buffer).setUint32(0, (counter + 1) >>> 0);
  blocks.set(0, b0);
  const n = blockCount(size, bs);
  const big = rng.chance(0.12);
  for (let k = big ? n : rng.int(0, 3); k > 0; k--) {
    const i = big ? k - 1 : rng.int(0, n - 1);
    if (!blocks.has(i)) blocks.set(i, fresh(i));
  }
  for (let i = Math.floor(Math.min(old, size) / bs); i < n; i++) {
    if (blockLength(i, size, bs) !== blockLength(i, old, bs) && !blocks.has(i)) {
      blocks.set(i, fresh(i));
    }
  }
  return { putId: rng.id(), size, pageSize: PAGE, blocks };
}

/** Counts a "snapshot too old", which may only come more than G after the proof. */
export function tooOld(env: Env, e: SnapshotTooOldError, st?: DbState | null): void {
  env.stats.tooOld++;
  if (env.model.tainted) return; // a documented residual happened (Model.tainted)
  // A state of block objects left by a deleted database: their tags are from its history.
  if (env.model.resets > 0 && st && !st.adopted) return;
  // The claim of docs/protocol.md: only a transaction older than G can meet a too-new block.
  if (e.observedAt - e.provenAt <= SIM_TIMING.graceMs) {
    throw new AssertionError({
      message: `snapshot too old after only ${e.observedAt - e.provenAt} ms: ${e.message}`,
    });
  }
}

/** A reader process: read transactions of several reads each. */
export function* reader(env: Env, name: string, transactions: number): Step<void> {
  const { rng, world, model, stats } = env;
  let st: DbState | null = null;
  for (let t = 0, tries = 0; t < transactions && tries < 60; tries++) {
    try {
      const saw = model.seen();
      if (!st) {
        st = yield* coldOpen(PREFIX, { blockSize: env.blockSize, probeBytes: env.probeBytes });
        if (!st) {
          world.sleep(name, 1000);
          yield* clock();
          continue;
        }
      } else {
        const floor = st.floor;
        yield* refresh(st);
        if (st.floor !== floor) stats.reloads++;
      }
      model.checkSnapshot(st.head, st.size, saw, st.config.id);
      t++;
      for (let r = rng.int(1, 5); r > 0; r--) {
        const count = blockCount(st.size, env.blockSize);
        const look = Array.from({ length: rng.int(1, 3) }, () => rng.int(0, count));
        const got = yield* readBlocks(st, look);
        model.checkRead(st.head, look, got, st.config.id);
        stats.reads++;
      }
    } catch (e) {
      if (e instanceof DatabaseReplacedError) {
        replaced(env, st, e);
        st = null;
      } else if (e instanceof SnapshotTooOldError) tooOld(env, e, st);
      else if (e instanceof LogStoreError) stats.storeErrors++;
      else if (leftovers(env, e)) continue;
      else if (!env.model.tainted) throw e; // after a documented residual: anything goes
    }
  }
}

/**
 * A checkpoint run as a simulated process makes it: the claim's request
 * timeout (how late a block write may land) of 1-3 s, and a claim TTL a
 * little above the least the rules allow.
 */
export function checkpointRun(
  env: Env,
  config: ConfigRecord,
  memory?: FoldMemory,
): Step<CheckpointOutcome> {
  const { rng } = env;
  const requestTimeoutMs = rng.int(1, 3) * 1000;
  return checkpoint(PREFIX, config, {
    ...(memory ? { memory } : {}),
    maxCommits: rng.int(1, 6),
    maxBlocks: rng.pick([3, 8, 1000]),
    concurrency: rng.int(1, 4),
    probeBytes: env.probeBytes,
    requestTimeoutMs,
    claimTtlMs: 2 * (SIM_TIMING.marginMs + requestTimeoutMs) + rng.int(1, 6) * 1000,
  });
}

/** A checkpointer or retention process, running `runs` times with sleeps between. */
export function* maintainer(
  env: Env,
  name: string,
  runs: number,
  what: "checkpoint" | "retention",
): Step<void> {
  const { rng, world, stats } = env;
  let config: ConfigRecord | null = null;
  // Most processes remember blocks between their runs (as the VFS does); a crash forgets.
  const memory = rng.chance(0.7) ? new FoldMemory() : undefined;
  for (let run = 0; run < runs; run++) {
    try {
      config ??= yield* readConfig(PREFIX);
      if (config && what === "checkpoint") {
        // Now and then two runs at once in one process (a PRAGMA beside the background run).
        const outs = rng.chance(0.2)
          ? yield* parallel([
            checkpointRun(env, config, memory),
            checkpointRun(env, config, memory),
          ])
          : [yield* checkpointRun(env, config, memory)];
        for (const out of outs) {
          if (out.kind === "folded") stats.folds++;
          if (out.kind === "busy") stats.claimBusy++;
        }
      } else if (config) {
        yield* retention(PREFIX, config, { concurrency: rng.int(1, 4) });
      }
    } catch (e) {
      if (e instanceof LogStoreError) stats.storeErrors++;
      else if (!env.model.tainted) throw e; // after a documented residual: anything goes
    }
    world.sleep(name, rng.int(500, 6000));
    yield* clock();
  }
}

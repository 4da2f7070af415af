/**
 * `S3VFS.checkpoint`'s loop: one checkpoint run folds a bounded
 * number of commits, so it runs again while it folds, and waits (bounded)
 * while another checkpointer holds the claim.
 *
 * @module
 */

import { checkpoint, type CheckpointOutcome, type CheckpointProgress } from "../log/checkpoint.ts";
import { type AsyncStore, runAsync } from "../log/driver.ts";
import type { FoldMemory } from "../log/fold_memory.ts";
import { readConfig } from "../log/records.ts";

/** Options of `S3VFS.checkpoint`. */
export interface CheckpointCallOptions {
  /** While another checkpointer holds the claim, wait for it up to this long (default 60,000 ms). */
  waitMs?: number;
  /** Called after each batch of blocks written. */
  onProgress?: (progress: CheckpointProgress) => void;
}

/** How the VFS runs it: its concurrency and request timeout. */
export interface CheckpointRunSettings {
  concurrency?: number;
  requestTimeoutMs: number;
  /** The caller's memory of the database's blocks between runs (src/log/fold_memory.ts). */
  memory?: FoldMemory;
}

/** Checkpoints `prefix` until nothing is due; the folds of several runs add up into one outcome. */
export async function checkpointUntilDone(
  store: AsyncStore,
  prefix: string,
  settings: CheckpointRunSettings,
  options: CheckpointCallOptions = {},
): Promise<CheckpointOutcome> {
  const waitMs = options.waitMs ?? 60_000;
  if (!Number.isSafeInteger(waitMs) || waitMs < 0) {
    throw new RangeError(`waitMs must be a whole number of ms >= 0, got ${waitMs}`);
  }
  const config = await runAsync(readConfig(prefix), store);
  if (!config) return { kind: "none" };
  const started = performance.now();
  let total: Extract<CheckpointOutcome, { kind: "folded" }> | undefined;
  for (;;) {
    const out = await runAsync(
      checkpoint(prefix, config, { ...settings, onProgress: options.onProgress }),
      store,
    );
    if (out.kind === "folded") {
      total = total
        ? {
          ...out,
          from: total.from,
          written: total.written + out.written,
          blocks: total.blocks + out.blocks,
        }
        : out;
      continue;
    }
    const left = waitMs - (performance.now() - started);
    if (out.kind === "busy" && left > 0) {
      await new Promise((r) => setTimeout(r, Math.min(1000, out.waitMs + 100, left)));
      continue;
    }
    return total ?? out;
  }
}

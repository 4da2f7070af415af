/**
 * Helpers for the log protocol's scenario tests: run a generator to the end
 * against a {@linkcode MemStore}, or step it batch by batch to stop it in the
 * middle (a paused process) while others proceed.
 *
 * @module
 */

import { blockKey } from "../src/blocks.ts";
import { decodeConfig } from "../src/log/format.ts";
import { configKey, logKey, logNamespace } from "../src/log/keys.ts";
import { runSync, type SyncStore } from "../src/log/driver.ts";
import { type Step, type StoreOp, type StoreResult, UNSENT } from "../src/log/store.ts";
import { SIM_TIMING } from "./log_sim_actors.ts";
import { MemStore } from "./log_sim_store.ts";

export { SIM_TIMING as TIMING };

/** A database name for the scenarios. */
export const DB = "scenario/app.sqlite";

/** A store at a fixed server time, LIST pages of 2 keys. */
export function newStore(): MemStore {
  return new MemStore(Date.UTC(2030, 0, 1), 2);
}

/** The store as a blocking store, with an optional per-operation interceptor. */
export function syncOf(
  store: MemStore,
  intercept?: (op: StoreOp) => StoreResult | undefined,
): SyncStore {
  return { runBatch: (ops) => ops.map((op) => intercept?.(op) ?? store.apply(op)) };
}

/** Runs `gen` to the end; local clock = server clock. */
export function drive<T>(
  gen: Step<T>,
  store: MemStore,
  intercept?: (op: StoreOp) => StoreResult | undefined,
): T {
  return runSync(gen, syncOf(store, intercept), () => store.now);
}

/** Steps a generator one batch at a time, so a test can pause it anywhere. */
export class Stepper<T> {
  #gen: Step<T>;
  #next: IteratorResult<StoreOp[], T>;

  /** Starts `gen` (nothing is performed yet). */
  constructor(gen: Step<T>, readonly store: MemStore) {
    this.#gen = gen;
    this.#next = gen.next();
  }

  /** The batch waiting to be performed (undefined when finished). */
  get pending(): StoreOp[] | undefined {
    return this.#next.done ? undefined : this.#next.value;
  }

  /**
   * Performs the pending batch against the store (local clock = server
   * clock; a fenced write past its send-by time is not sent, as the drivers do).
   */
  step(): void {
    const ops = this.pending;
    if (!ops) throw new Error("already finished");
    this.#next = this.#gen.next(
      ops.map((op) =>
        op.kind === "clock"
          ? { status: 200, clock: this.store.now }
          : op.kind === "put" && op.sendBy !== undefined && this.store.now >= op.sendBy
          ? { ...UNSENT }
          : this.store.apply(op)
      ),
    );
  }

  /** Answers the pending batch with `results` instead of performing it. */
  answer(results: StoreResult[]): void {
    if (!this.pending) throw new Error("already finished");
    this.#next = this.#gen.next(results);
  }

  /** Performs batches until the pending one contains an operation matching `pred`. */
  until(pred: (op: StoreOp) => boolean): StoreOp[] {
    while (this.pending && !this.pending.some(pred)) this.step();
    if (!this.pending) throw new Error("finished before the awaited operation");
    return this.pending;
  }

  /** Performs everything left and returns the result. */
  finish(): T {
    while (this.pending) this.step();
    return (this.#next as IteratorReturnResult<T>).value;
  }
}

/** The key of commit `txid` of the database at `prefix` in `store` (its log namespace from its config). */
export function commitKey(store: MemStore, prefix: string, txid: number): string {
  const config = store.objects.get(configKey(prefix));
  return logKey(prefix, txid, config ? logNamespace(decodeConfig(config.body)) : undefined);
}

/** Bytes filled with `v`. */
export function fill(length: number, v: number): Uint8Array {
  return new Uint8Array(length).fill(v);
}

/** Stores base blocks the way Python sqlite-s3vfs does (no metadata). */
export function putPythonDatabase(store: MemStore, prefix: string, blocks: Uint8Array[]): void {
  blocks.forEach((body, i) =>
    store.objects.set(blockKey(prefix, i), {
      body,
      etag: `"py${i}"`,
      meta: {},
      lastModified: store.now,
    })
  );
}

/** What Python sqlite-s3vfs reads: every object under `<prefix>/` in key order, concatenated. */
export function pythonView(store: MemStore, prefix: string): Uint8Array {
  const keys = [...store.objects.keys()].filter((k) => k.startsWith(`${prefix}/`)).sort();
  return Uint8Array.from(keys.flatMap((k) => [...store.objects.get(k)!.body]));
}

/**
 * Drivers: run a protocol generator against a real store. `runAsync` performs
 * each yielded batch concurrently (the I/O worker's way); `runSync` hands each
 * batch to a blocking store (the VFS's way, through its bridge). Local clock
 * readings are answered here, from the process's suspend-aware clock
 * (`elapsed`, src/clock.ts) unless given.
 *
 * @module
 */

import { elapsed } from "../clock.ts";
import { UnsafeStoreError } from "./errors.ts";
import { type Step, type StoreOp, type StoreResult, UNSENT } from "./store.ts";

/** A store the async driver can call: one operation, one answer (never rejects on S3 errors). */
export interface AsyncStore {
  /** Performs one operation; a network failure should be a result with status 0. */
  run(op: StoreOp): Promise<StoreResult>;
}

/** A store the sync driver can call: a whole batch, answered in order. */
export interface SyncStore {
  /** Performs a batch (concurrently if it likes) and blocks until every answer is in. */
  runBatch(ops: StoreOp[]): StoreResult[];
}

function clockResult(now: () => number): StoreResult {
  return { status: 200, clock: now() };
}

/** Throws when the store check refused a write of the batch (no write of it was sent). */
function checkRefused(results: StoreResult[]): StoreResult[] {
  const r = results.find((x) => x.refused);
  if (r) throw new UnsafeStoreError(r.refused!);
  return results;
}

/** Whether a fenced write must not be sent any more at local time `t`. */
function late(op: StoreOp, t: number): boolean {
  return op.kind === "put" && op.sendBy !== undefined && t >= op.sendBy;
}

/**
 * Runs `gen` to completion with `store`; a rejected operation counts as "no
 * answer" (status 0). A fenced write whose `sendBy` has passed is not sent.
 */
export async function runAsync<T>(
  gen: Step<T>,
  store: AsyncStore,
  now: () => number = elapsed,
): Promise<T> {
  let next = gen.next();
  while (!next.done) {
    const results = await Promise.all(
      next.value.map((op) =>
        op.kind === "clock"
          ? clockResult(now)
          : late(op, now())
          ? { ...UNSENT }
          : store.run(op).catch((e): StoreResult => ({
            status: 0,
            message: e instanceof Error ? e.message : String(e),
          }))
      ),
    );
    next = gen.next(checkRefused(results));
  }
  return next.value;
}

/** Runs `gen` to completion with a blocking store. */
export function runSync<T>(
  gen: Step<T>,
  store: SyncStore,
  now: () => number = elapsed,
): T {
  let next = gen.next();
  while (!next.done) {
    const ops = next.value;
    // A clock in a batch is read before any of its requests is sent (as runAsync does).
    const clocks = ops.filter((op) => op.kind === "clock").map(() => clockResult(now));
    const t = now();
    const io = ops.filter((op) => op.kind !== "clock" && !late(op, t));
    const answers = io.length > 0 ? checkRefused(store.runBatch(io)) : [];
    let k = 0;
    let c = 0;
    next = gen.next(
      ops.map((op) =>
        op.kind === "clock" ? clocks[c++] : late(op, t) ? { ...UNSENT } : answers[k++]
      ),
    );
  }
  return next.value;
}

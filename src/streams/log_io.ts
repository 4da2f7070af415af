/**
 * How the stream transfers talk to the commit log: protocol steps run with
 * {@linkcode runAsync} on an {@linkcode S3LogStore} over the context's
 * client, stopped by an abort signal, and the opening of a database whatever
 * block size it was stored with.
 *
 * @module
 */

import { coldOpen } from "../log/open.ts";
import { LogOpenError } from "../log/errors.ts";
import { runAsync } from "../log/driver.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { DbState } from "../log/snapshot.ts";
import type { Step, StoreOp, StoreResult } from "../log/store.ts";
import { raceAbort } from "./shared.ts";
import type { BlockStoreContext } from "./types.ts";

/** Runs one protocol step to its end. */
export type LogRunner = <T>(step: Step<T>) => Promise<T>;

/**
 * A runner over `ctx`'s client and bucket. Once `signal` aborts, the running
 * step rejects with its reason at once and sends no further request (requests
 * already sent finish in the background). `limit`: most requests in flight at
 * once (default: no limit; a batch is sent whole).
 */
export function logRunner(ctx: BlockStoreContext, signal?: AbortSignal, limit?: number): LogRunner {
  const store = new S3LogStore(ctx.client, ctx.bucket, { storeCheck: ctx.storeCheck });
  const slots = limit === undefined ? undefined : new Semaphore(limit);
  const send = (op: StoreOp): Promise<StoreResult> =>
    signal?.aborted ? new Promise<StoreResult>(() => {}) : store.run(op);
  const guarded = {
    run: (op: StoreOp): Promise<StoreResult> => slots ? slots.use(() => send(op)) : send(op),
  };
  return <T>(step: Step<T>): Promise<T> => raceAbort(runAsync(step, guarded), signal);
}

/** At most `n` tasks at once, the others queued in order. */
class Semaphore {
  #free: number;
  #queue: (() => void)[] = [];

  constructor(n: number) {
    this.#free = n;
  }

  async use<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#queue.push(r));
    try {
      return await task();
    } finally {
      const wake = this.#queue.shift();
      if (wake) wake();
      else this.#free++;
    }
  }
}

/** Largest block size (see `checkBlockSize`): a single stored block of any allowed size fits. */
export const ANY_BLOCK_SIZE = 64 * 1024 * 1024;

/**
 * Cold-opens `prefix` (null: nothing stored there), trying each block size
 * of `tries` in turn (undefined: none expected) while the open fails with a
 * {@linkcode LogOpenError} (a mismatch); the first such error is thrown if
 * every try fails. A recorded block size must match; a database without
 * companion objects (Python's) has its block size inferred from its blocks,
 * a single block taken with the size tried.
 */
export async function openStored(
  run: LogRunner,
  prefix: string,
  tries: (number | undefined)[],
): Promise<DbState | null> {
  let first: unknown;
  for (const blockSize of tries) {
    try {
      return await run(coldOpen(prefix, blockSize === undefined ? {} : { blockSize }));
    } catch (e) {
      if (!(e instanceof LogOpenError)) throw e;
      first ??= e;
    }
  }
  throw first;
}

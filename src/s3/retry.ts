/**
 * Retry decisions, full-jitter exponential backoff and a bounded-concurrency
 * helper. Pure functions, unit tested with a stubbed clock and random source.
 *
 * @module
 */

/** Backoff settings. */
export interface RetryPolicy {
  /** Attempts in all, including the first (default 5). */
  maxAttempts: number;
  /** Base delay in ms for attempt 1 (default 100). */
  baseDelayMs: number;
  /** Cap on one delay in ms (default 5000). */
  maxDelayMs: number;
}

/** The default retry policy. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5000 };

/**
 * Full-jitter backoff ("Exponential Backoff And Jitter", AWS architecture blog):
 * a uniform delay in [0, min(cap, base * 2^attempt)).
 * `attempt` counts retries from 0.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** What one attempt produced, as far as the retry decision cares. */
export type AttemptOutcome =
  | { kind: "response"; status: number; code?: string }
  | { kind: "network" }
  | { kind: "timeout" };

/**
 * Whether an attempt should be retried.
 *
 * Idempotent requests (GET, HEAD, unconditional PUT, DELETE, LIST, UploadPart)
 * retry on 5xx, 429, SlowDown, network errors and timeouts. Requests that are
 * not idempotent (conditional writes, multipart create/complete) retry only
 * when the server said it did not process them: 429, 503 and SlowDown.
 */
export function shouldRetry(outcome: AttemptOutcome, idempotent: boolean): boolean {
  if (outcome.kind !== "response") return idempotent;
  const { status, code } = outcome;
  if (status === 429 || status === 503 || code === "SlowDown") return true;
  if (!idempotent) return false;
  return status >= 500 || code === "RequestTimeout" || code === "InternalError";
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep
 * the input order. The first rejection rejects the whole call once every
 * started call has settled (so nothing keeps running behind the caller's back).
 *
 * @example Four at a time
 * ```ts
 * import { mapLimit } from "./retry.ts";
 * const doubled = await mapLimit([1, 2, 3, 4, 5], 4, async (n) => n * 2);
 * if (doubled.join() !== "2,4,6,8,10") throw new Error(doubled.join());
 * ```
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/**
 * Small helpers shared by the stream transfers: option checks, error text, random names and the early release of GET buffers.
 *
 * @module
 */

/** Bytes in flight the default concurrency allows: latency hides behind many small blocks. */
const DEFAULT_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * `concurrency` checked (a positive integer). The default is 16 MiB worth of
 * blocks in flight, between 2 and 64 requests: 64 for blocks up to 256 KiB
 * (request latency, not bytes, limits small blocks), 16 for 1 MiB blocks.
 */
export function checkConcurrency(concurrency: number | undefined, blockSize: number): number {
  const c = concurrency ??
    Math.max(2, Math.min(64, Math.floor(DEFAULT_BYTES_IN_FLIGHT / blockSize)));
  if (!Number.isInteger(c) || c < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${c}`);
  }
  return c;
}

/** The message of an error, or the thrown value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `bytes` random bytes as lowercase hex (for temporary names). */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Frees a chunk a stream transfer has finished with (src/buffers.ts). */
export { release } from "../buffers.ts";

/** Resolves with `p`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * The bounded-memory write path shared by {@linkcode deserialize} (blocks)
 * and {@linkcode serializeToObject} (multipart parts): a {@linkcode BlockFiller}
 * cuts chunks of any size into fixed-size buffers, reused once their upload
 * has settled, and an {@linkcode UploadWindow} keeps a bounded number of
 * uploads in flight and remembers the first one that failed.
 *
 * @module
 */

import { raceAbort } from "./shared.ts";

/**
 * Copies chunks of any size into buffers of exactly `size` bytes, handing
 * each one out as soon as it is full. A buffer handed out belongs to the
 * caller until it gives it back with {@linkcode BlockFiller.recycle}, which
 * lets the next block reuse it instead of allocating: no garbage per block.
 */
export class BlockFiller {
  readonly #size: number;
  readonly #pool: Uint8Array[] = [];
  #block: Uint8Array;
  #fill = 0;

  /** A filler of `size`-byte buffers. */
  constructor(size: number) {
    this.#size = size;
    this.#block = this.#take();
  }

  /** Bytes in the buffer being filled (less than `size`). */
  get filled(): number {
    return this.#fill;
  }

  /** Copies `chunk` in, awaiting `onFull` with every buffer that fills up. */
  async write(chunk: Uint8Array, onFull: (block: Uint8Array) => Promise<void>): Promise<void> {
    const size = this.#size;
    let pos = 0;
    while (pos < chunk.length) {
      const n = Math.min(size - this.#fill, chunk.length - pos);
      this.#block.set(chunk.subarray(pos, pos + n), this.#fill);
      this.#fill += n;
      pos += n;
      if (this.#fill === size) {
        await onFull(this.#block);
        this.#block = this.#take();
        this.#fill = 0;
      }
    }
  }

  /** The bytes of the buffer being filled (a view, not a copy). */
  rest(): Uint8Array {
    return this.#block.subarray(0, this.#fill);
  }

  /** Gives back a buffer handed out by {@linkcode BlockFiller.write} (other buffers are ignored). */
  recycle(block: Uint8Array): void {
    if (block.length === this.#size) this.#pool.push(block);
  }

  #take(): Uint8Array {
    return this.#pool.pop() ?? new Uint8Array(this.#size);
  }
}

/**
 * Uploads running in the background, a bounded number at a time. A failed
 * upload does not reject anything by itself: its error is kept (the first
 * one only) for {@linkcode UploadWindow.throwIfFailed}.
 */
export class UploadWindow {
  readonly #inflight = new Set<Promise<void>>();
  #error: { error: unknown } | undefined;

  /** Waits until fewer than `limit` uploads are in flight; rejects with the signal's reason if it aborts first. */
  async waitBelow(limit: number, signal?: AbortSignal): Promise<void> {
    while (this.#inflight.size >= limit) await raceAbort(Promise.race(this.#inflight), signal);
  }

  /** Throws the error of the first upload that failed, if any. */
  throwIfFailed(): void {
    if (this.#error) throw this.#error.error;
  }

  /**
   * Tracks `upload`: `onDone` gets its result, a failure is kept, and
   * `onSettled` runs once it has settled either way.
   */
  add<T>(upload: Promise<T>, onDone: (result: T) => void, onSettled: () => void): void {
    const p: Promise<void> = upload.then(
      onDone,
      (error) => {
        this.#error ??= { error };
      },
    ).finally(() => {
      this.#inflight.delete(p);
      onSettled();
    });
    this.#inflight.add(p);
  }

  /** Waits until no upload is in flight. */
  async settle(): Promise<void> {
    while (this.#inflight.size) await Promise.race(this.#inflight);
  }
}

/**
 * The local clock the protocol measures elapsed time with (the writer
 * lease, the checkpoint claim, proofs of a snapshot). A monotonic clock
 * alone stops while a machine sleeps (a laptop lid, a paused VM that
 * corrects its clock on resume): a process waking from a suspend would think
 * no time passed and keep using a lease that expired meanwhile. A wall clock
 * alone jumps back when it is set.
 *
 * This clock follows the monotonic clock and adds every increase of the
 * wall clock's lead over it (a suspend: the wall clock ran on while the
 * monotonic one stood still; or a wall clock set forward). A wall clock set
 * back is ignored (the lead is measured from there on). So it never goes
 * backwards, never runs slower than the monotonic clock, and errs on the
 * side of "more time has passed": a lease looks older, never younger. Both
 * clocks are slewed together by NTP on Linux; their jitter adds at most its
 * amplitude, once.
 *
 * @module
 */

/** A drop of the wall clock's lead larger than this is the wall clock set back. */
export const WALL_STEP_BACK_MS = 1000;

/** Combines monotonic and wall-clock readings into one elapsed-time clock. */
export class ElapsedClock {
  #mono: number | undefined;
  /** The wall clock's lead over the monotonic one, as counted so far. */
  #ref = 0;
  #offset = 0;

  /**
   * The clock's value (ms, the monotonic clock's origin) given a monotonic
   * reading `mono` and a wall-clock reading `wall` taken together.
   */
  read(mono: number, wall: number): number {
    const [offset, ref] = this.#next(mono, wall);
    this.#offset = offset;
    this.#ref = ref;
    this.#mono = Math.max(mono, this.#mono ?? mono);
    return this.#mono + this.#offset;
  }

  /** What {@linkcode ElapsedClock.read} would return, without reading (nothing changes). */
  peek(mono: number, wall: number): number {
    return Math.max(mono, this.#mono ?? mono) + this.#next(mono, wall)[0];
  }

  #next(mono: number, wall: number): [offset: number, ref: number] {
    const lead = wall - mono;
    if (this.#mono === undefined) return [0, lead];
    if (lead > this.#ref) return [this.#offset + lead - this.#ref, lead];
    if (lead < this.#ref - WALL_STEP_BACK_MS) return [this.#offset, lead];
    return [this.#offset, this.#ref];
  }
}

const processClock = new ElapsedClock();

/**
 * Elapsed time in ms for this thread: `performance.now()`, advanced also by
 * wall-clock time that passed while the machine was suspended.
 */
export function elapsed(): number {
  return processClock.read(performance.now(), Date.now());
}

/**
 * Read-ahead of sequential reads: after 3 forward cache misses in a row, the
 * blocks after a miss are fetched with it in the same batch, in a window
 * that doubles up to a cap (the `readAhead` option), and never more than a
 * quarter of the cache.
 *
 * @module
 */

/** Per-handle sequential-read detector. */
export interface ReadCursor {
  /** Last block index read (-1 before any). */
  last: number;
  /** Consecutive forward reads that missed the cache. */
  run: number;
  /** Read-ahead window last used, in blocks (0: none). */
  window?: number;
}

/** What {@linkcode readAhead} needs to know. */
export interface ReadAheadContext {
  /** Initial and largest window in blocks, or null: read-ahead off. */
  window: { initial: number; max: number } | null;
  /** Cache budget in bytes. */
  budget: number;
  /** Bytes per block. */
  blockSize: number;
  /** Blocks in the database. */
  count: number;
  /** Whether block `i` is already at hand (in the transaction or the cache). */
  have(i: number): boolean;
}

/** Blocks to fetch along with a forward miss: a doubling window after 3 forward misses in a row. */
export function readAhead(
  missing: number[],
  cursor: ReadCursor | undefined,
  c: ReadAheadContext,
): number[] {
  const ra = c.window;
  if (!cursor || !ra) return [];
  const first = missing[0];
  const forward = first === cursor.last + 1 ||
    (first > cursor.last && first <= cursor.last + (cursor.window ?? 0) + 1);
  cursor.run = forward ? cursor.run + 1 : 0;
  if (cursor.run < 3) {
    cursor.window = 0;
    return [];
  }
  const cap = Math.min(ra.max, Math.floor(c.budget / 4 / c.blockSize));
  const window = Math.min(cap, Math.max(ra.initial, (cursor.window ?? 0) * 2));
  cursor.window = window;
  const out: number[] = [];
  for (let i = missing[missing.length - 1] + 1; out.length < window && i < c.count; i++) {
    if (!c.have(i)) out.push(i);
  }
  return out;
}

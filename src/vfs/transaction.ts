/**
 * A write transaction as whole blocks: what COMMIT sends, computed from the
 * dirty blocks, the snapshot's size and a reader of the snapshot's blocks.
 * Pure functions, so LogFile keeps only the protocol.
 *
 * @module
 */

import { blockCount, blockLength } from "../blocks.ts";
import { newPutId } from "../log/keys.ts";
import type { Transaction } from "../log/writer.ts";

/** Reads block `i` of the snapshot the transaction started from. */
export type BlockReader = (i: number) => Uint8Array;

/**
 * The database size page 1's header says, when it is valid
 * (version-valid-for = change counter) and smaller than `size`; else
 * undefined. SQLite truncates a shrunk database (VACUUM, auto-vacuum) only
 * after the commit's sync: cutting the transaction to the header's size makes
 * the shrink part of the one commit object.
 */
export function shrunkSize(page1: Uint8Array | undefined, size: number): number | undefined {
  if (!page1 || page1.length < 100) return undefined;
  const v = new DataView(page1.buffer, page1.byteOffset, 100);
  if (v.getUint32(92) !== v.getUint32(24)) return undefined;
  const raw = v.getUint16(16);
  const bytes = v.getUint32(28) * (raw === 1 ? 65536 : raw);
  return bytes > 0 && bytes < size ? bytes : undefined;
}

/** Whether the dirty blocks at `size` leave the snapshot (of `prevSize`) exactly as it is. */
export function unchanged(
  dirty: ReadonlyMap<number, Uint8Array>,
  prevSize: number,
  size: number,
  bs: number,
  block: BlockReader,
): boolean {
  if (size !== prevSize) return false;
  for (const [i, buf] of dirty) {
    const n = blockLength(i, size, bs);
    const old = block(i);
    if (old.length !== n) return false;
    for (let k = 0; k < n; k++) if (buf[k] !== old[k]) return false;
  }
  return true;
}

/**
 * The commit: dirty blocks cut to their length, plus every block whose length
 * changes (`staged` blocks excepted: they were spilled to the staging area).
 */
export function buildTransaction(
  dirty: ReadonlyMap<number, Uint8Array>,
  prevSize: number,
  size: number,
  bs: number,
  block: BlockReader,
  staged: (i: number) => boolean,
): Transaction {
  const count = blockCount(size, bs);
  const blocks = new Map<number, Uint8Array>();
  for (const [i, buf] of dirty) {
    if (i < count) blocks.set(i, buf.slice(0, blockLength(i, size, bs)));
  }
  for (let i = Math.floor(Math.min(prevSize, size) / bs); i < count; i++) {
    if (blocks.has(i) || staged(i)) continue;
    if (blockLength(i, size, bs) === blockLength(i, prevSize, bs)) continue;
    const b = new Uint8Array(blockLength(i, size, bs));
    const old = block(i);
    b.set(old.subarray(0, Math.min(old.length, b.length)));
    blocks.set(i, b);
  }
  const head = blocks.get(0) ?? block(0);
  const raw = head.length >= 18 ? (head[16] << 8) | head[17] : 0;
  return { putId: newPutId(), size, pageSize: raw === 1 ? 65536 : raw, blocks };
}

/**
 * Coalesced reads of block versions: blocks whose bytes lie side by side in
 * one commit object or stage chunk are fetched with one ranged GET (at most
 * `maxBytes`), then cut apart and each checked against its CRC-32. A commit
 * that wrote hundreds of consecutive blocks (an import, a bulk insert) is
 * then read in a few requests instead of one per block.
 *
 * @module
 */

import { release } from "../buffers.ts";
import type { BlockVersion } from "./commits.ts";
import { crc32 } from "./crc32.ts";
import { LogCorruptError } from "./errors.ts";
import { META } from "./format.ts";
import { type GetOp, isAbsent, type StoreResult } from "./store.ts";

/** Default most bytes of one coalesced GET. */
export const MAX_RANGE_BYTES = 1024 * 1024;

/** A block and its version (and whatever else the caller keeps with it). */
export interface Located {
  /** Block index. */
  index: number;
  /** Where its bytes are. */
  version: BlockVersion;
}

/** One ranged GET covering the versions of several blocks, contiguous in one object. */
export interface RangeRun<T extends Located = Located> {
  /** The GET. */
  op: GetOp;
  /** The blocks it covers, in offset order. */
  blocks: T[];
}

/**
 * Groups `wanted` (block index and its version) into runs: same object,
 * each version starting where the previous one ended, at most `maxBytes` in
 * all (a single larger version is a run of its own). Order: by object key,
 * then offset.
 */
export function coalesce<T extends Located>(
  wanted: T[],
  maxBytes: number = MAX_RANGE_BYTES,
): RangeRun<T>[] {
  const sorted = [...wanted].sort((a, b) =>
    a.version.key < b.version.key
      ? -1
      : a.version.key > b.version.key
      ? 1
      : a.version.offset - b.version.offset
  );
  const runs: RangeRun<T>[] = [];
  let cur: RangeRun<T> | undefined;
  let end = 0;
  for (const w of sorted) {
    const v = w.version;
    const range = cur?.op.range;
    if (
      cur && range && cur.op.key === v.key && v.offset === end &&
      range.length + v.length <= maxBytes
    ) {
      range.length += v.length;
      cur.blocks.push(w);
    } else {
      cur = {
        op: { kind: "get", key: v.key, range: { offset: v.offset, length: v.length } },
        blocks: [w],
      };
      runs.push(cur);
    }
    end = v.offset + v.length;
  }
  return runs;
}

/**
 * The bytes of each block of `run` from its GET's answer, each checked
 * against its CRC-32; "gone" when the object is absent, shorter than the
 * range (416) or another object than the one indexed (its put id differs):
 * deleted by retention, maybe created again since.
 */
export function splitRun(run: RangeRun, r: StoreResult): Uint8Array[] | "gone" {
  if (isAbsent(r) || r.status === 416) return "gone";
  const first = run.blocks[0].version;
  if (first.putId !== undefined && r.meta?.[META.putId] !== first.putId) return "gone";
  const body = r.body ?? new Uint8Array(0);
  const out = run.blocks.map(({ index, version: v }) => {
    const at = v.offset - first.offset;
    // One block: the answer itself. Several: copies (a view would keep the whole range alive as
    // long as any one block is cached), and the range freed at once.
    const bytes = run.blocks.length === 1 ? body : body.slice(at, at + v.length);
    if (bytes.length !== v.length || crc32(bytes) !== v.crc) {
      throw new LogCorruptError(`block ${index} of txid ${v.txid} in ${v.key} fails its checksum`);
    }
    return bytes;
  });
  if (run.blocks.length > 1) release(body);
  return out;
}

/**
 * The part of a big write transaction that does not fit in memory
 * (docs/protocol.md 6.1, big transactions): past `maxDirtyBytes`, the
 * changed full blocks are staged in S3 as chunk objects under
 * `stage/<txid>.<putid>/`, read back with one ranged GET when SQLite needs
 * one again, and referenced by the commit object at COMMIT.
 *
 * @module
 */

import { VfsError } from "../errors.ts";
import { crc32 } from "../log/crc32.ts";
import type { BlockRef } from "../log/format.ts";
import { newPutId, stageKey } from "../log/keys.ts";
import { clock, expectOk, request, type Step } from "../log/store.ts";
import { stageChunk, type StagedTransaction } from "../log/writer.ts";

/** Where a staged block of the write transaction is. */
interface Spilled {
  /** Chunk number. */
  seq: number;
  /** Offset in the chunk. */
  offset: number;
  /** Length staged (the block size: only full blocks are spilled). */
  length: number;
  /** CRC-32 of those bytes. */
  crc: number;
}

/** The staging of one write transaction: its txid, put id, next chunk and times. */
interface Staging {
  txid: number;
  putId: string;
  /** The log namespace the chunks go to (the database's, see `logNamespace`). */
  ns?: string;
  seq: number;
  stagedAt: number;
  stagedClock: number;
}

/** The staged blocks of one database's write transaction. */
export class SpillArea {
  readonly #spilled = new Map<number, Spilled>();
  #staging: Staging | undefined;

  /** `run` drives a protocol step through the bridge. */
  constructor(readonly name: string, readonly run: <T>(step: Step<T>) => T) {}

  /** Whether anything was staged (COMMIT is then a staged commit). */
  get active(): boolean {
    return this.#staging !== undefined;
  }

  /** Number of staged blocks. */
  get size(): number {
    return this.#spilled.size;
  }

  /** Whether block `i` is staged (not in memory). */
  has(i: number): boolean {
    return this.#spilled.has(i);
  }

  /** Indexes of the staged blocks. */
  keys(): number[] {
    return [...this.#spilled.keys()];
  }

  /** Forgets staged block `i` (overwritten whole, or cut off). */
  drop(i: number): void {
    this.#spilled.delete(i);
  }

  /** Forgets everything (the chunks of a transaction that did not commit: garbage for retention). */
  clear(): void {
    this.#spilled.clear();
    this.#staging = undefined;
  }

  /**
   * Stages `blocks` (full blocks of `bs` bytes, ascending) as one chunk for
   * txid `txid` of the log namespace `ns`.
   */
  spill(txid: number, blocks: [number, Uint8Array][], bs: number, ns?: string): void {
    if (blocks.length === 0) return;
    const staging = this.#staging ??= {
      txid,
      ns,
      putId: newPutId(),
      seq: 0,
      stagedAt: Infinity,
      stagedClock: this.run(clock()),
    };
    const body = new Uint8Array(blocks.length * bs);
    blocks.forEach(([i, b], k) => {
      body.set(b, k * bs);
      this.#spilled.set(i, { seq: staging.seq, offset: k * bs, length: bs, crc: crc32(b) });
    });
    const date = this.run(
      stageChunk(this.name, staging.txid, staging.putId, staging.seq, body, staging.ns),
    );
    staging.stagedAt = Math.min(staging.stagedAt, date);
    staging.seq++;
  }

  /** Brings staged block `i` back (one ranged GET) as a `bs`-byte buffer and forgets it here. */
  unspill(i: number, bs: number): Uint8Array {
    const s = this.#spilled.get(i)!;
    const g = this.#staging!;
    const op = {
      kind: "get",
      key: stageKey(this.name, g.txid, g.putId, s.seq, g.ns),
      range: { offset: s.offset, length: s.length },
    } as const;
    const r = expectOk(op, this.run(request(op)));
    const body = r.body ?? new Uint8Array(0);
    if (body.length !== s.length || crc32(body) !== s.crc) {
      throw new VfsError(`s3vfs: staged block ${i} of ${this.name} came back damaged`);
    }
    const buf = new Uint8Array(bs);
    buf.set(body);
    this.#spilled.delete(i);
    return buf;
  }

  /**
   * Stages `rest` (the blocks still in memory) as the last chunk; the staged
   * transaction referencing every staged block, for `commitStaged`.
   */
  finish(
    rest: Map<number, Uint8Array>,
    size: number,
    pageSize: number,
  ): StagedTransaction {
    const g = this.#staging!;
    const refs: BlockRef[] = [];
    for (const [index, s] of this.#spilled) {
      refs.push({ index, offset: s.offset, length: s.length, crc: s.crc, chunk: s.seq });
    }
    const entries = [...rest.entries()].sort((a, b) => a[0] - b[0]);
    if (entries.length > 0) {
      const body = new Uint8Array(entries.reduce((n, [, b]) => n + b.length, 0));
      let offset = 0;
      for (const [index, b] of entries) {
        body.set(b, offset);
        refs.push({ index, offset, length: b.length, crc: crc32(b), chunk: g.seq });
        offset += b.length;
      }
      const date = this.run(stageChunk(this.name, g.txid, g.putId, g.seq, body, g.ns));
      g.stagedAt = Math.min(g.stagedAt, date);
      g.seq++;
    }
    refs.sort((a, b) => a.index - b.index);
    return {
      txid: g.txid,
      putId: g.putId,
      size,
      pageSize,
      refs,
      stagedAt: g.stagedAt,
      stagedClock: g.stagedClock,
    };
  }
}

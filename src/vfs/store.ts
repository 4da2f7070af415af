/**
 * One file (a database or a journal) as S3 block objects: tracked size,
 * dirty blocks written back at sync, the shared block cache, read-ahead and
 * revalidation. All I/O goes through one bridge call per operation, however
 * many blocks it touches.
 *
 * @module
 */

import { blockCount, blockKey, blockLength, blockSpans } from "../blocks.ts";
import type { BridgeOp } from "../bridge/protocol.ts";
import { type OpResult, resultError } from "../bridge/protocol.ts";
import type { BlockCache } from "./cache.ts";
import { LockTable } from "./locks.ts";

/** What every store of one VFS shares. */
export interface StoreContext {
  /** Runs one bridge call (phases of concurrent operations). */
  call(phases: BridgeOp[][]): OpResult[][];
  /** The VFS's block cache. */
  cache: BlockCache;
  /** Block size in bytes. */
  blockSize: number;
  /** Read-ahead window in blocks (initial, cap), or null when disabled. */
  readAhead: { initial: number; max: number } | null;
}

/** Per-handle sequential-read detector. */
export interface ReadCursor {
  /** Last block index read (-1 before any). */
  last: number;
  /** Consecutive forward reads that missed the cache. */
  run: number;
  /** Read-ahead window last used, in blocks (0: none). */
  window?: number;
}

const EMPTY = new Uint8Array(0);
let nextId = 1;

/** One file stored as blocks under the key prefix `name`. */
export class FileStore {
  /** Identity in the block cache. */
  readonly id: number = nextId++;
  /** File size in bytes; undefined until a LIST told it. */
  size: number | undefined;
  /** Block objects that may exist in S3 are [0, remoteEnd). */
  remoteEnd = 0;
  /** Blocks written since the last flush, each a full blockSize buffer. */
  readonly dirty: Map<number, Uint8Array> = new Map();
  /** ETag of block 0 as last read or written (for revalidation). */
  block0Etag: string | undefined;
  /** Lock levels of the handles on this file. */
  readonly locks: LockTable = new LockTable();
  /** Open handles. */
  openCount = 0;
  /** A LIST just told the size: the next revalidation has nothing to learn. */
  #fresh = false;

  /** Creates the store; nothing is fetched until needed. */
  constructor(readonly name: string, readonly ctx: StoreContext) {}

  #call(phases: BridgeOp[][]): OpResult[][] {
    const out = this.ctx.call(phases);
    for (const phase of out) {
      for (const r of phase) if (r.status === "error" && !r.skipped) throw resultError(r);
    }
    return out;
  }

  #key(i: number): string {
    return blockKey(this.name, i);
  }

  /** The file size, from one LIST of the prefix the first time. */
  known(): number {
    if (this.size === undefined) {
      const [[r]] = this.#call([[{ op: "stat", prefix: this.name }]]);
      this.size = r.size ?? 0;
      this.remoteEnd = r.end ?? 0;
      this.#fresh = true;
    }
    return this.size;
  }

  /** Declares the file absent without asking S3 (names this VFS never creates remotely). */
  assumeAbsent(): void {
    if (this.size === undefined) {
      this.size = 0;
      this.remoteEnd = 0;
    }
  }

  /** Whether the file exists: at least one byte (as sqlite-s3vfs: any block object). */
  exists(): boolean {
    return this.known() > 0;
  }

  /** Fetches blocks in one bridge call; `ahead` ones are cached as prefetched. */
  #fetch(needed: number[], ahead: number[] = []): Map<number, Uint8Array> {
    const all = [...needed, ...ahead];
    const out = new Map<number, Uint8Array>();
    if (!all.length) return out;
    const [results] = this.#call([all.map((i) => ({ op: "get", key: this.#key(i) }))]);
    results.forEach((r, n) => {
      const i = all[n];
      const data = r.status === "ok" ? r.data! : EMPTY;
      out.set(i, data);
      if (i === 0 && r.etag) this.block0Etag = r.etag;
      this.ctx.cache.set(this.id, i, { data, etag: r.etag ?? "", prefetched: n >= needed.length });
    });
    return out;
  }

  /**
   * Reads into `dst` from `offset`; returns the bytes that exist there
   * (the rest of `dst` is zero-filled, for SQLITE_IOERR_SHORT_READ).
   */
  read(dst: Uint8Array, offset: number, cursor?: ReadCursor): number {
    const size = this.known();
    const end = Math.min(offset + dst.length, size);
    if (end <= offset) {
      dst.fill(0);
      return 0;
    }
    const B = this.ctx.blockSize;
    const spans = blockSpans(offset, end - offset, B);
    const have = new Map<number, Uint8Array>();
    const missing: number[] = [];
    for (const s of spans) {
      const d = this.dirty.get(s.index) ?? this.ctx.cache.get(this.id, s.index)?.data;
      if (d) have.set(s.index, d);
      else missing.push(s.index);
    }
    const first = spans[0].index, lastIdx = spans[spans.length - 1].index;
    const ahead: number[] = [];
    if (cursor && missing.length) {
      const ra = this.ctx.readAhead;
      // Forward: just past the last block read, or within the last window (a
      // scan skips the index pages interleaved with the table's).
      const forward = cursor.last >= 0 && first > cursor.last &&
        first - cursor.last <= 2 + (cursor.window ?? 0);
      cursor.run = forward ? cursor.run + 1 : 0;
      if (!forward) cursor.window = 0;
      // Three forward misses in a row make a scan; a point lookup (header,
      // root, interior, leaf) rarely does. The window doubles per miss, capped
      // by `max` and by a quarter of the cache, so prefetched blocks survive
      // until they are read.
      const cacheCap = Math.floor(this.ctx.cache.budget / B / 4);
      if (ra && cursor.run >= 3 && cacheCap >= 1) {
        const window = Math.min(ra.max, cacheCap, ra.initial * 2 ** (cursor.run - 3));
        cursor.window = window;
        const limit = Math.min(blockCount(size, B), lastIdx + 1 + window);
        for (let i = lastIdx + 1; i < limit; i++) {
          if (!this.dirty.has(i) && !this.ctx.cache.peek(this.id, i)) ahead.push(i);
        }
      }
    }
    if (cursor) cursor.last = lastIdx;
    if (missing.length) { for (const [i, d] of this.#fetch(missing, ahead)) have.set(i, d); }
    for (const s of spans) {
      const d = have.get(s.index)!;
      const n = Math.max(0, Math.min(s.length, d.length - s.inBlock));
      dst.set(d.subarray(s.inBlock, s.inBlock + n), s.inBuffer);
      if (n < s.length) dst.fill(0, s.inBuffer + n, s.inBuffer + s.length);
    }
    dst.fill(0, end - offset);
    return end - offset;
  }

  /** Buffers a write; blocks between the old end and `offset` are zero-filled (lock-byte page). */
  write(src: Uint8Array, offset: number): void {
    const size = this.known();
    const B = this.ctx.blockSize;
    const end = offset + src.length;
    const newSize = Math.max(size, end);
    const first = Math.floor(offset / B);
    const last = Math.floor((end - 1) / B);
    const from = end > size ? Math.min(first, Math.floor(size / B)) : first;
    const toFetch: number[] = [];
    for (let i = from; i <= last; i++) {
      if (this.dirty.has(i) || i * B >= size) continue;
      const covered = i >= first && offset <= i * B && end >= i * B + blockLength(i, newSize, B);
      if (!covered && !this.ctx.cache.peek(this.id, i)) toFetch.push(i);
    }
    const fetched = this.#fetch(toFetch);
    for (let i = from; i <= last; i++) {
      let blk = this.dirty.get(i);
      if (!blk) {
        blk = new Uint8Array(B);
        if (i * B < size) {
          const base = this.ctx.cache.get(this.id, i)?.data ?? fetched.get(i) ?? EMPTY;
          blk.set(base.subarray(0, Math.min(base.length, size - i * B)));
        }
        this.dirty.set(i, blk);
      }
      const lo = Math.max(offset, i * B), hi = Math.min(end, (i + 1) * B);
      if (hi > lo) blk.set(src.subarray(lo - offset, hi - offset), lo - i * B);
    }
    this.size = newSize;
  }

  /** Shrinks (deleting blocks past the end, shortening the last) or zero-extends the file. */
  truncate(newSize: number): void {
    const size = this.known();
    const B = this.ctx.blockSize;
    if (newSize > size) {
      this.write(new Uint8Array(newSize - size), size);
      return;
    }
    if (newSize === size) return;
    const keep = blockCount(newSize, B);
    if (newSize % B !== 0) {
      const i = keep - 1;
      let blk = this.dirty.get(i);
      if (!blk) {
        const base = this.ctx.cache.get(this.id, i)?.data ?? this.#fetch([i]).get(i) ?? EMPTY;
        blk = new Uint8Array(B);
        blk.set(base.subarray(0, Math.min(base.length, B)));
        this.dirty.set(i, blk);
      }
      blk.fill(0, newSize - i * B);
    }
    for (const i of [...this.dirty.keys()]) if (i >= keep) this.dirty.delete(i);
    this.ctx.cache.invalidate(this.id, keep);
    this.size = newSize;
    const stale: string[] = [];
    for (let i = Math.max(keep, 1); i < this.remoteEnd; i++) stale.push(this.#key(i));
    const phases: BridgeOp[][] = [];
    // A journal truncated to 0 is a commit point: block 0 goes first, alone.
    if (keep === 0 && this.remoteEnd > 0) phases.push([{ op: "delete", key: this.#key(0) }]);
    if (stale.length) phases.push([{ op: "deleteMany", keys: stale }]);
    if (keep === 0) this.block0Etag = undefined;
    this.remoteEnd = Math.min(this.remoteEnd, keep);
    if (phases.length) this.#call(phases);
  }

  /**
   * Writes every dirty block: all but block 0 concurrently, then block 0
   * (unless `keepBlock0`: an early write-back during a big transaction).
   */
  flush(keepBlock0 = false): void {
    if (!this.dirty.size || (keepBlock0 && this.dirty.size === 1 && this.dirty.has(0))) return;
    const size = this.known();
    const B = this.ctx.blockSize;
    const others = [...this.dirty.keys()].filter((i) => i !== 0).sort((a, b) => a - b);
    const order = [others, this.dirty.has(0) && !keepBlock0 ? [0] : []].filter((p) => p.length);
    const data = (i: number): Uint8Array => this.dirty.get(i)!.subarray(0, blockLength(i, size, B));
    const out = this.#call(
      order.map((p) => p.map((i): BridgeOp => ({ op: "put", key: this.#key(i), data: data(i) }))),
    );
    order.forEach((p, n) =>
      p.forEach((i, k) => {
        const etag = out[n][k].etag ?? "";
        if (i === 0) this.block0Etag = etag;
        this.ctx.cache.set(this.id, i, { data: data(i).slice(), etag, prefetched: false });
        this.dirty.delete(i);
      })
    );
    this.remoteEnd = Math.max(this.remoteEnd, blockCount(size, B));
  }

  /** Deletes the file: block 0 first (the commit point for a journal), then the rest in batches. */
  deleteAll(): void {
    this.truncate(0);
  }

  /**
   * On a new shared lock: one conditional GET of block 0 decides whether the
   * cache (and the tracked size) still hold. 304 keeps everything; a new
   * block 0 drops this file's cached blocks and re-reads the size.
   */
  revalidate(): void {
    if (this.dirty.size || this.size === undefined) return;
    if (this.#fresh) {
      this.#fresh = false;
      return;
    }
    if (this.block0Etag === undefined) {
      // Never seen block 0 (an empty or just-listed file): one plain GET tells
      // whether a database appeared since; SQLite reads that block next anyway.
      const [[r]] = this.#call([[{ op: "get", key: this.#key(0) }]]);
      if (r.status !== "ok") return;
      this.block0Etag = r.etag;
      this.ctx.cache.set(this.id, 0, { data: r.data!, etag: r.etag ?? "", prefetched: false });
      if (this.size > 0) return; // listed just now, block 0 read with it: nothing to drop
      this.ctx.cache.invalidate(this.id, 1);
      this.size = undefined;
      this.known();
      return;
    }
    const [[r]] = this.#call([[{ op: "get", key: this.#key(0), ifNoneMatch: this.block0Etag }]]);
    if (r.status === "not-modified") return;
    this.ctx.cache.invalidate(this.id);
    this.size = undefined;
    this.block0Etag = undefined;
    if (r.status === "ok") {
      this.block0Etag = r.etag;
      this.ctx.cache.set(this.id, 0, { data: r.data!, etag: r.etag ?? "", prefetched: false });
    }
    this.known();
  }
}

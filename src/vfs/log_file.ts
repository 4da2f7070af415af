/**
 * One database as the commit-log protocol sees it (docs/protocol.md), for the
 * VFS's handlers: a snapshot refreshed when a read transaction starts, reads
 * of blocks at that snapshot (through the shared block cache, with
 * read-ahead), a write transaction buffered as whole blocks, and COMMIT as
 * one create-only commit object. Every S3 request is a protocol operation run
 * synchronously through the bridge (`ctx.run`).
 *
 * Connections of one process share the state; SQLite's own lock levels (kept
 * per process in {@linkcode LockTable}) make that safe: a commit needs
 * EXCLUSIVE, so no other connection of the process is reading then, and the
 * snapshot moves only when no connection holds a lock.
 *
 * @module
 */

import { blockCount, blockLength, blockSpans } from "../blocks.ts";
import { SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC, SQLITE_READONLY } from "../codes.ts";
import { elapsed } from "../clock.ts";
import { VfsError } from "../errors.ts";
import { DatabaseReplacedError } from "../log/errors.ts";
import type { ConfigRecord } from "../log/format.ts";
import { logNamespace } from "../log/keys.ts";
import { coldOpen, openForWrite } from "../log/open.ts";
import { DEFAULT_TIMING, type Timing } from "../log/rules.ts";
import { checkpoint, type CheckpointOutcome } from "../log/checkpoint.ts";
import { type DbState, maintenanceDue, refresh } from "../log/snapshot.ts";
import { readBlocks } from "../log/read.ts";
import type { Step } from "../log/store.ts";
import { commit, type CommitOutcome, commitStaged } from "../log/writer.ts";
import type { BlockCache } from "./cache.ts";
import { LockTable } from "./locks.ts";
import { SpillArea } from "./spill.ts";
import { describeLease, type LeaseSettings, WriterLease } from "./writer_lease.ts";
import { readAhead, type ReadCursor } from "./read_ahead.ts";
import { buildTransaction, shrunkSize, unchanged } from "./transaction.ts";

export type { ReadCursor } from "./read_ahead.ts";

/** What every database of one VFS shares. */
export interface LogContext {
  /** Runs a protocol algorithm to completion through the bridge (blocking). */
  run<T>(gen: Step<T>): T;
  /** The VFS's block cache. */
  cache: BlockCache;
  /** Block size of new databases, and the one expected of existing ones. */
  blockSize: number;
  /** Timing recorded in the config of databases this VFS creates. */
  timing?: Timing;
  /** Read-ahead window in blocks (initial, cap), or null when disabled. */
  readAhead: { initial: number; max: number } | null;
  /** Asks for a background checkpoint of a database. */
  maintain(prefix: string, config: ConfigRecord): void;
  /** Commits between two background checkpoint requests. */
  checkpointEvery: number;
  /** The S3 client's attempt timeout: how late a block write of a checkpoint may land. */
  requestTimeoutMs: number;
  /** Bytes of changed blocks a write transaction keeps in memory; past it they are staged. */
  spillBytes: number;
  /** The writer lease, or null: this process neither takes nor waits for it. */
  lease: LeaseSettings | null;
  /** Read transactions may use a snapshot proven current at most this many ms ago. */
  staleness: number;
}

const EMPTY = new Uint8Array(0);
let nextId = 1;

/** A lost commit: SQLITE_BUSY_SNAPSHOT, the application retries its transaction. */
function busySnapshot(detail: string): VfsError {
  return new VfsError(`${detail}: another process committed first; retry the transaction`, {
    sqliteCode: SQLITE_BUSY_SNAPSHOT,
  });
}

/** One database under the key prefix `name`. */
export class LogFile {
  /** Identity in the block cache. */
  readonly id: number = nextId++;
  /** Lock levels of the handles on this database (this process). */
  readonly locks: LockTable = new LockTable();
  /** Open handles. */
  openCount = 0;
  /** Blocks written by the current write transaction, each a full blockSize buffer. */
  readonly dirty: Map<number, Uint8Array> = new Map();
  #st: DbState | null | undefined;
  #txSize: number | undefined;
  #doomed = false;
  #commits = 0;
  /** Blocks of the write transaction staged in S3 (not in `dirty`). */
  readonly #spill: SpillArea;
  /** The writer lease (null when the VFS has it off). */
  readonly lease: WriterLease | null;
  /** The next read transaction must ask S3 (a commit was lost on an old snapshot). */
  #mustRefresh = false;

  /** Creates it; nothing is fetched until needed. */
  constructor(readonly name: string, readonly ctx: LogContext, frozen?: DbState) {
    this.#spill = new SpillArea(name, (s) => ctx.run(s));
    this.frozen = frozen !== undefined;
    if (frozen) this.#st = frozen;
    this.lease = ctx.lease && !frozen ? new WriterLease(name, ctx.lease, (s) => ctx.run(s)) : null;
  }

  /** A past snapshot (time travel): never refreshed, never written. */
  readonly frozen: boolean;

  #readOnly(): void {
    if (this.frozen) {
      throw new VfsError(`s3vfs: ${this.name} at txid ${this.head} is a past snapshot: read-only`, {
        sqliteCode: SQLITE_READONLY,
      });
    }
  }

  /** Bumped when the database turns out deleted or replaced: older handles are stale. */
  epoch = 0;
  /** Why the handles of earlier epochs fail. */
  replacedError: DatabaseReplacedError | undefined;

  /** Runs a protocol step; a database found deleted or replaced drops every state kept. */
  #run<T>(step: Step<T>): T {
    try {
      return this.ctx.run(step);
    } catch (e) {
      if (e instanceof DatabaseReplacedError) this.#replaced(e);
      throw e;
    }
  }

  /**
   * The database was deleted (and maybe created again) under this process:
   * forget the state, the cached blocks and the lease; the connections open
   * now fail from here on (their SQLite caches hold the old database), new
   * ones open what is there now.
   */
  #replaced(e: DatabaseReplacedError): void {
    this.epoch++;
    this.replacedError = e;
    this.#st = undefined;
    this.ctx.cache.invalidate(this.id);
    this.lease?.abandon();
    this.endWrite();
  }

  /** Timing of the database (the VFS's for one not created yet). */
  get timing(): Timing {
    return this.#st?.config.timing ?? this.ctx.timing ?? DEFAULT_TIMING;
  }

  /** The protocol state (opened on first use); null when no database exists. */
  #state(): DbState | null {
    if (this.#st === undefined) {
      this.#st = this.#run(coldOpen(this.name, { blockSize: this.ctx.blockSize }));
    }
    return this.#st;
  }

  get #bs(): number {
    return this.#st?.config.blockSize ?? this.ctx.blockSize;
  }

  /** Whether a database exists under the name (a cold open while none is known). */
  exists(): boolean {
    if (this.#st === null && this.openCount === 0) this.#st = undefined; // created since?
    return this.#state() !== null;
  }

  /** The size SQLite sees: the write transaction's, else the snapshot's. */
  size(): number {
    return this.#txSize ?? this.#state()?.size ?? 0;
  }

  /** The snapshot txid (0 before the first commit). */
  get head(): number {
    return this.#st?.head ?? 0;
  }

  /**
   * Starts a read transaction: brings the snapshot up to date (one GET when
   * nothing changed) and drops cached blocks that newer commits changed. No
   * request while this process holds the writer lease (after one refresh
   * under it), or while the snapshot was proven current within `staleness` ms.
   */
  beginRead(staleness: number = this.ctx.staleness): void {
    if (this.frozen) return;
    const st = this.#st;
    if (!st) {
      this.#st = undefined; // absent or never opened: look again
      this.#state();
      return;
    }
    const now = elapsed();
    const lease = this.lease;
    if (st.adopted && lease?.holding(now, st.config.timing)) {
      lease.renewIfDue(st, now);
      if (lease.authoritative(now, st.config.timing)) return;
    } else if (
      st.adopted && !this.#mustRefresh && staleness > 0 && now - st.provenClock <= staleness
    ) {
      return;
    }
    const { head, versions } = st;
    const leased = lease?.holding(now, st.config.timing) ?? false;
    this.#run(refresh(st));
    this.#mustRefresh = false;
    if (lease && leased) lease.fresh = true;
    const cache = this.ctx.cache;
    if (st.versions !== versions) {
      cache.invalidate(this.id); // reloaded from a newer checkpoint
    } else if (st.head !== head) {
      for (const [i, v] of st.versions) if (v.txid > head) cache.delete(this.id, i);
      cache.invalidate(this.id, blockCount(st.size, st.config.blockSize));
    }
    this.#absorb();
  }

  /** Moves blocks the protocol state picked up (inline commit data) into the shared cache. */
  #absorb(): void {
    const st = this.#st;
    if (!st) return;
    for (const [i, data] of st.cache) {
      this.ctx.cache.set(this.id, i, { data, etag: "", prefetched: false });
    }
    st.cache.clear();
  }

  /** Fetches blocks at the snapshot in one bridge call; `ahead` ones are cached as prefetched. */
  #fetch(needed: number[], ahead: number[] = []): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    const st = this.#st;
    const all = [...needed, ...ahead];
    if (!st || all.length === 0) return out;
    const got = this.#run(readBlocks(st, all));
    st.cache.clear();
    all.forEach((i, k) => {
      out.set(i, got[k]);
      this.ctx.cache.set(this.id, i, { data: got[k], etag: "", prefetched: k >= needed.length });
    });
    return out;
  }

  /** Block `i` at the snapshot (empty past its end). */
  #block(i: number): Uint8Array {
    return this.ctx.cache.get(this.id, i)?.data ?? this.#fetch([i]).get(i) ?? EMPTY;
  }

  /**
   * Reads into `dst` from `offset`; returns the bytes that exist there (the
   * rest of `dst` is zero-filled, for SQLITE_IOERR_SHORT_READ).
   */
  read(dst: Uint8Array, offset: number, cursor?: ReadCursor): number {
    const size = this.size();
    const avail = Math.max(0, Math.min(dst.length, size - offset));
    const bs = this.#bs;
    const spans = blockSpans(offset, avail, bs);
    const have = new Map<number, Uint8Array>();
    const missing: number[] = [];
    for (const s of spans) {
      if (this.#spill.has(s.index)) this.#unspill(s.index);
      const d = this.dirty.get(s.index) ?? this.ctx.cache.get(this.id, s.index)?.data;
      if (d) have.set(s.index, d);
      else missing.push(s.index);
    }
    if (missing.length > 0) {
      const ahead = readAhead(missing, cursor, {
        window: this.ctx.readAhead,
        budget: this.ctx.cache.budget,
        blockSize: this.#bs,
        count: blockCount(this.size(), this.#bs),
        have: (i) => this.dirty.has(i) || this.ctx.cache.peek(this.id, i) !== undefined,
      });
      for (const [i, d] of this.#fetch(missing, ahead)) if (missing.includes(i)) have.set(i, d);
    }
    if (cursor && spans.length > 0) cursor.last = spans[spans.length - 1].index;
    for (const s of spans) {
      const d = have.get(s.index) ?? EMPTY;
      const n = Math.max(0, Math.min(s.length, d.length - s.inBlock));
      dst.set(d.subarray(s.inBlock, s.inBlock + n), s.inBuffer);
      dst.fill(0, s.inBuffer + n, s.inBuffer + s.length);
    }
    dst.fill(0, avail);
    return avail;
  }

  /** Writes `src` at `offset` into the transaction's blocks. */
  write(src: Uint8Array, offset: number): void {
    this.#readOnly();
    const size = this.size();
    const bs = this.#bs;
    for (const s of blockSpans(offset, src.length, bs)) {
      if (this.#spill.has(s.index)) {
        if (s.inBlock === 0 && s.length === bs) this.#spill.drop(s.index); // replaced whole
        else this.#unspill(s.index);
      }
      let buf = this.dirty.get(s.index);
      if (!buf) {
        buf = new Uint8Array(bs);
        const covers = s.inBlock === 0 && s.length >= blockLength(s.index, size, bs);
        if (!covers && blockLength(s.index, size, bs) > 0) {
          buf.set(this.#block(s.index).subarray(0, blockLength(s.index, size, bs)));
        }
        this.dirty.set(s.index, buf);
      }
      buf.set(src.subarray(s.inBuffer, s.inBuffer + s.length), s.inBlock);
    }
    this.#txSize = Math.max(size, offset + src.length);
    if (this.dirty.size * bs > this.ctx.spillBytes) this.#spillFull();
  }

  /**
   * Stages the transaction's full blocks (all but a partial last one) as one
   * chunk in S3 and drops them from memory: a big transaction keeps at most
   * `spillBytes` of blocks in memory. COMMIT then references the chunks.
   */
  #spillFull(): void {
    const st = this.#adopted();
    const bs = st.config.blockSize;
    const full = Math.floor(this.size() / bs);
    const blocks = [...this.dirty.keys()].filter((i) => i < full).sort((a, b) => a - b);
    this.#spill.spill(
      st.head + 1,
      blocks.map((i) => [i, this.dirty.get(i)!]),
      bs,
      logNamespace(st.config),
    );
    for (const i of blocks) this.dirty.delete(i);
  }

  /** Brings a staged block of the transaction back into memory (one ranged GET). */
  #unspill(i: number): void {
    this.dirty.set(i, this.#spill.unspill(i, this.#bs));
  }

  /** Sets the transaction's size (blocks past it are dropped at COMMIT). */
  truncate(size: number): void {
    this.#readOnly();
    const bs = this.#bs;
    for (const i of this.#spill.keys()) {
      if (i >= blockCount(size, bs)) this.#spill.drop(i);
      else if (i === Math.floor(size / bs)) this.#unspill(i); // becomes the partial last block
    }
    for (const i of [...this.dirty.keys()]) {
      if (i >= blockCount(size, bs)) this.dirty.delete(i);
    }
    const last = this.dirty.get(Math.floor(size / bs));
    if (last) last.fill(0, size % bs);
    this.#txSize = size;
  }

  /**
   * Starts a write transaction (SQLite's RESERVED lock): takes or renews the
   * writer lease. Throws a VfsError with SQLITE_BUSY while another process
   * holds it.
   */
  beginWrite(): void {
    this.#readOnly();
    this.lease?.forWrite(this.#st ?? null, this.timing, elapsed());
    this.lease?.armIdle(() => this.releaseLease());
  }

  /** Folds the log into the block objects now (PRAGMA s3vfs_checkpoint). */
  checkpointNow(): CheckpointOutcome {
    const st = this.#state();
    if (!st?.adopted) return { kind: "none" };
    return this.#run(
      checkpoint(this.name, st.config, { requestTimeoutMs: this.ctx.requestTimeoutMs }),
    );
  }

  /** Who holds the writer lease, as one line (PRAGMA s3vfs_lease). */
  describeLease(): string {
    return describeLease(this.name, this.lease, this.timing, (st) => this.#run(st));
  }

  /** Gives the writer lease up (last connection closed, the VFS closes, or idle). */
  releaseLease(): void {
    if (this.locks.reservedHeld()) return;
    this.lease?.release(this.timing);
  }

  /** Gives the writer lease up whatever the locks (the process is exiting: nothing commits now). */
  releaseLeaseAtExit(): void {
    this.lease?.release(this.timing);
  }

  /** Forgets the write transaction (after COMMIT or ROLLBACK, when the write lock goes). */
  endWrite(): void {
    this.lease?.armIdle(() => this.releaseLease());
    this.#spill.clear(); // chunks of a transaction that did not commit: garbage for retention
    this.dirty.clear();
    this.#txSize = undefined;
    this.#doomed = false;
  }

  /**
   * COMMIT: one create-only commit object with every changed block. Throws a
   * VfsError with SQLITE_BUSY_SNAPSHOT when another commit came first (the
   * transaction is not applied), SQLITE_IOERR_FSYNC when S3 failed or the
   * outcome is unknown. After a lost commit, only a write-back of the
   * snapshot's own content (SQLite's rollback) succeeds, as a no-op.
   */
  sync(): void {
    if (this.dirty.size === 0 && this.#txSize === undefined) return;
    const shrunk = shrunkSize(this.dirty.get(0), this.size());
    if (shrunk !== undefined) this.truncate(shrunk);
    const size = this.size();
    const same = (): boolean =>
      this.#spill.size === 0 &&
      unchanged(this.dirty, this.#st?.size ?? 0, size, this.#bs, (i) => this.#block(i));
    if (this.#doomed) {
      if (same()) return this.endWrite();
      throw busySnapshot(`s3vfs: ${this.name}: this transaction already lost its commit`);
    }
    if (same()) return;
    const st = this.#adopted();
    const tx = buildTransaction(
      this.dirty,
      st.size,
      size,
      st.config.blockSize,
      (i) => this.#block(i),
      (i) => this.#spill.has(i),
    );
    let validBefore: number | undefined;
    if (this.lease) {
      const cap = this.lease.forCommit(st, elapsed());
      if (cap === null) {
        this.#doomed = true;
        this.#mustRefresh = true;
        throw busySnapshot(`s3vfs: ${this.name}: this process lost the writer lease`);
      }
      validBefore = cap;
    }
    const opts = { validBefore };
    const staged = this.#spill.active;
    const spilled = this.#spill.keys();
    let outcome: CommitOutcome;
    try {
      outcome = staged
        ? this.#run(commitStaged(st, this.#spill.finish(tx.blocks, tx.size, tx.pageSize), opts))
        : this.#run(commit(st, tx, opts));
    } catch (e) {
      // No outcome (a bridge timeout, a store error while staging): treated as unknown.
      this.#doomed = true;
      this.#mustRefresh = true;
      this.lease?.abandon();
      throw e;
    }
    if (outcome.kind !== "committed") {
      this.#doomed = true;
      this.#mustRefresh = true;
      if (this.lease) this.lease.fresh = false;
      if (outcome.kind === "unknown") this.lease?.abandon();
      if (outcome.kind === "replaced") {
        const e = new DatabaseReplacedError({ prefix: this.name, opened: st.config.id });
        this.#replaced(e);
        throw e;
      }
      if (outcome.kind === "conflict" || outcome.kind === "expired") {
        throw busySnapshot(
          `s3vfs: commit of txid ${outcome.txid} of ${this.name} (${outcome.kind})`,
        );
      }
      throw new VfsError(
        `s3vfs: commit of txid ${outcome.txid} of ${this.name} ${
          outcome.kind === "unknown" ? "has an unknown outcome" : "was not applied"
        }: ${outcome.reason}`,
        { sqliteCode: SQLITE_IOERR_FSYNC },
      );
    }
    for (const i of [...tx.blocks.keys(), ...spilled]) {
      this.ctx.cache.delete(this.id, i);
    }
    this.ctx.cache.invalidate(this.id, blockCount(st.size, st.config.blockSize));
    for (const [i, b] of tx.blocks) {
      this.ctx.cache.set(this.id, i, { data: b, etag: "", prefetched: false });
    }
    st.cache.clear();
    this.endWrite(); // also forgets the staging: the next transaction stages afresh
    if (++this.#commits % this.ctx.checkpointEvery === 0) this.ctx.maintain(this.name, st.config);
    else this.maintainIfDue(true);
  }

  /**
   * Asks for background maintenance when this process knows a commit old
   * enough to fold, or retention is due: after a commit, when a read-write
   * connection opens the database, and when the last one closes. Never for a
   * process that only reads (it may lack write permission).
   */
  maintainIfDue(afterCommit = false): void {
    const st = this.#st;
    const now = elapsed();
    if (!st || !this.writable || this.frozen) return;
    // After commits at most once a second: the worker decides, and knows the record better.
    if (afterCommit && now - this.#askedAt < 1000) return;
    if (!maintenanceDue(st, now)) return;
    if (afterCommit) this.#askedAt = now;
    this.ctx.maintain(this.name, st.config);
  }

  #askedAt = -Infinity;

  /** A read-write connection opened it: this process may fold and clean up. */
  writable = false;

  /**
   * The state, adopted: a new database (or one Python wrote) gets its config
   * and checkpoint record first. If it changed meanwhile, this transaction
   * lost (SQLITE_BUSY_SNAPSHOT); the snapshot stays as it was for SQLite's
   * rollback, and the next read transaction loads the new state.
   */
  #adopted(): DbState {
    const st = this.#state();
    if (st?.adopted) return st;
    const before = { head: st?.head ?? 0, size: st?.size ?? 0 };
    const opened = this.#run(
      openForWrite(this.name, { blockSize: this.ctx.blockSize, timing: this.ctx.timing }),
    );
    if (opened.head !== before.head || opened.size !== before.size) {
      this.#doomed = true;
      throw busySnapshot(`s3vfs: ${this.name}`);
    }
    return this.#st = opened;
  }
}

/**
 * The simulation's model of the database and its invariant checks. The model
 * is built from what lands in the store: every commit object ever created
 * (retention deletes them from the store, never from the model), decided by
 * the protocol's own validity rule. Every change to a key and every step is
 * checked against it; any breach throws with a description.
 *
 * A run may delete the database and create it again (an incarnation change,
 * {@linkcode Model.reset}): the model keeps one history per incarnation.
 * Processes of an old one are checked against its history (frozen at the
 * reset) until they learn about the replacement; the only thing they may do
 * wrong is acknowledge a commit shortly after the reset (within the
 * protocol's record-check interval), which is lost with the old database.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { blockCount, blockIndexOf, blockLength } from "../src/blocks.ts";
import { crc32 } from "../src/log/crc32.ts";
import {
  commitIndexEnd,
  decodeCheckpoint,
  decodeCommitIndex,
  decodeConfig,
  META,
  parseBlockTag,
  stampFromMeta,
} from "../src/log/format.ts";
import { checkpointKey, configKey, logKey, logPrefix, stageKey } from "../src/log/keys.ts";

/** The log namespace and txid of a commit object key, of any namespace (undefined: not one). */
export function parseLogKey(
  prefix: string,
  key: string,
): { ns?: string; txid: number } | undefined {
  const lp = logPrefix(prefix);
  if (!key.startsWith(lp)) return undefined;
  const m = /^(?:([0-9a-z]+)\/)?(\d{20})$/.exec(key.slice(lp.length));
  return m ? { ...(m[1] ? { ns: m[1] } : {}), txid: Number(m[2]) } : undefined;
}
import { commitEffective, type Timing } from "../src/log/rules.ts";
import { recordCheckMs } from "../src/log/snapshot.ts";
import type { CommitOutcome } from "../src/log/writer.ts";
import type { MemStore, StoredObject } from "./log_sim_store.ts";

/** The database at one txid: its size and every block's content. */
export interface DbVersion {
  /** Size in bytes. */
  size: number;
  /** Content of each block (blockCount(size) of them). */
  blocks: Uint8Array[];
}

/** One commit object as it landed. */
interface Landing {
  putId: string;
  effective: boolean;
  chunks: string[];
  /** Its number in the order of store changes ({@linkcode Model.changes}). */
  seq: number;
  /** Server time it landed. */
  at: number;
}

/** The history of one incarnation of the database. */
interface Epoch {
  /** Its config id (undefined until its config lands). */
  id?: string;
  /** The database at each txid. */
  states: DbVersion[];
  /** Every object that landed in each slot, first first. */
  history: Map<number, Landing[]>;
  /** The checkpoint record's txid (-1: none yet). */
  checkpoint: number;
  /** Highest base block index ever written. */
  maxBlock: number;
  /** Server time it was deleted (undefined: the current one). */
  deletedAt?: number;
  /** Commit objects that landed before its config: decided when the config lands. */
  early: { txid: number; obj: StoredObject; ns?: string }[];
}

function fail(message: string): never {
  throw new AssertionError({ message });
}

function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads the 4-byte counter at the start of block 0 (undefined if the database is shorter). */
export function counterOf(v: DbVersion): number | undefined {
  const b = v.blocks[0];
  return b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : undefined;
}

/** What a process saw of the model when it began a transaction. */
export interface Seen {
  /** The incarnation then. */
  id?: string;
  /** Its head then. */
  head: number;
}

/** The model and its checks. */
export class Model {
  /** Put ids reported as not applied (conflict, expired, aborted). */
  readonly failed: Set<string> = new Set();
  /** Commits reported committed, by put id. */
  readonly acked: Map<string, number> = new Map();
  /** Void commit objects that took a free slot (late writers, abort markers). */
  voids = 0;
  /** Commit objects re-created in a slot retention had emptied (all void). */
  recreated = 0;
  /** Store changes seen so far (a logical clock of the store). */
  changes = 0;
  /** Incarnation changes (the database deleted and created again). */
  resets = 0;
  /** Commits of a deleted incarnation acknowledged after it was deleted (lost with it). */
  lateAcks = 0;
  /** Base blocks a checkpointer of a deleted incarnation wrote past the new one's end. */
  staleBlocks = 0;
  /** ... and into the new database (created again over them at once): see `tainted`. */
  staleInside = 0;
  /** Config ids brought back by a delayed PUT after a deletion: see `tainted`. */
  resurrections = 0;
  /** A documented residual happened: the run goes on, its checks stop. */
  tainted = false;
  /** Every incarnation, the current one last. */
  readonly epochs: Epoch[];

  /** A model of `prefix` starting from `initial` at txid 0. */
  constructor(
    readonly store: MemStore,
    readonly prefix: string,
    readonly blockSize: number,
    readonly timing: Timing,
    initial: DbVersion,
  ) {
    this.epochs = [this.#epoch(initial)];
  }

  #epoch(initial: DbVersion): Epoch {
    return {
      states: [initial],
      history: new Map(),
      checkpoint: -1,
      maxBlock: initial.blocks.length - 1,
      early: [],
    };
  }

  /** The current incarnation. */
  get cur(): Epoch {
    return this.epochs[this.epochs.length - 1];
  }

  /** The database at each txid of the current incarnation. */
  get states(): DbVersion[] {
    return this.cur.states;
  }

  /** The newest txid decided in the current incarnation. */
  get head(): number {
    return this.cur.states.length - 1;
  }

  /** The checkpoint record's txid (-1: none yet). */
  get checkpoint(): number {
    return this.cur.checkpoint;
  }

  /** What a process sees now, before a transaction. */
  seen(): Seen {
    return { id: this.cur.id, head: this.head };
  }

  /**
   * The incarnation of config id `id`: the current one when absent (a
   * database not adopted yet) or unknown.
   */
  #of(id: string | undefined): Epoch {
    if (id === undefined) return this.cur;
    // The newest with that id: a config PUT delayed past a deletion can bring an id back.
    return this.epochs.findLast((e) => e.id === id) ?? this.cur;
  }

  /**
   * A state not adopted (no config id) after a deletion, before the new
   * database's record: it reads whatever block objects were left (as
   * Python's), which this model does not follow.
   */
  #leftovers(id: string | undefined): boolean {
    return id === undefined && this.epochs.length > 1 && this.cur.checkpoint < 0;
  }

  /**
   * Whether a snapshot at `head` of the deleted incarnation `e` may include a
   * commit made after the deletion (its process's own lost fork, not the
   * history the model froze): not checked.
   */
  #forked(e: Epoch, head: number): boolean {
    if (e === this.cur) return false;
    if (head >= e.states.length) return true;
    for (const [t, ls] of e.history) {
      if (t <= head && ls.some((l) => l.at >= e.deletedAt!)) return true;
    }
    return false;
  }

  /** Whether `id` names an incarnation deleted since. */
  stale(id: string | undefined): boolean {
    return this.#of(id) !== this.cur;
  }

  /**
   * The database is deleted now (every object, at once) and starts again
   * empty; the caller removes the objects without the change hook.
   */
  reset(): void {
    this.cur.deletedAt = this.store.now;
    this.resets++;
    this.epochs.push(this.#epoch({ size: 0, blocks: [] }));
  }

  /** Checks one change of one key (the store's hook). */
  onChange(key: string, before?: StoredObject, after?: StoredObject): void {
    this.changes++;
    if (this.tainted) return;
    const cur = this.cur;
    const log = parseLogKey(this.prefix, key);
    if (log) return after ? this.#landed(log.txid, after, log.ns) : undefined;
    if (key === checkpointKey(this.prefix)) {
      if (!after) fail("the checkpoint record was deleted");
      const rec = decodeCheckpoint(after.body);
      // A record of a deleted incarnation (its creator was between its config and its record):
      // an orphan, which a new one replaces. Not the current database's.
      if (rec.id !== undefined && rec.id !== cur.id) return;
      if (cur.checkpoint < 0 && rec.size > 0 && this.epochs.length > 1 && cur.states.length === 1) {
        // A database created again over block objects left behind (by a checkpointer of the
        // deleted one, past its end): adopted as its content at txid 0, like Python's.
        cur.states[0] = this.#blocksNow(rec.size);
      }
      if (rec.txid < cur.checkpoint) {
        fail(`checkpoint record regressed from ${cur.checkpoint} to ${rec.txid}`);
      }
      if (rec.txid > this.head) fail(`checkpoint record ${rec.txid} is past the head ${this.head}`);
      cur.checkpoint = rec.txid;
      return;
    }
    if (key === configKey(this.prefix)) {
      if (before) fail("the config object was replaced or deleted");
      if (after) cur.id = decodeConfig(after.body).id;
      if (this.epochs.some((e) => e !== cur && e.id === cur.id)) {
        // A config PUT delayed past the deletion brought the deleted incarnation back: its stale
        // processes take the new database for theirs (docs/protocol.md 16.7). Not checked.
        this.resurrections++;
        this.tainted = true;
      }
      for (const e of cur.early.splice(0)) if (!this.tainted) this.#landed(e.txid, e.obj, e.ns);
      return;
    }
    const j = blockIndexOf(this.prefix, key);
    if (j === undefined) return;
    if (!after) fail(`base block ${j} was deleted`);
    const tag = parseBlockTag(after.meta);
    if (tag.id !== undefined && tag.id !== cur.id) {
      // A checkpointer of a deleted incarnation, in its last seconds: never into the database.
      if (!this.epochs.some((e) => e.id === tag.id)) fail(`block ${j} of an unknown incarnation`);
      this.staleBlocks++;
      const rec = this.store.objects.get(checkpointKey(this.prefix));
      const size = rec ? decodeCheckpoint(rec.body) : undefined;
      if (size && (size.id === undefined || size.id === cur.id)) {
        if (j < blockCount(cur.states[size.txid].size, this.blockSize)) {
          // The residual of docs/protocol.md 16.7: a database created again over the blocks a
          // checkpointer of the deleted one still writes. From here on nothing is checked.
          this.staleInside++;
          this.tainted = true;
        }
      }
      return;
    }
    cur.maxBlock = Math.max(cur.maxBlock, j);
    const was = before && parseBlockTag(before.meta).id === cur.id
      ? parseBlockTag(before.meta).txid
      : -1;
    if (tag.txid < was) fail(`base block ${j} regressed from txid ${was} to ${tag.txid}`);
    if (tag.txid > this.head) {
      fail(`base block ${j} holds txid ${tag.txid}, past the head ${this.head}`);
    }
    const v = cur.states[tag.txid];
    const want = j < blockCount(v.size, this.blockSize) ? v.blocks[j] : new Uint8Array(0);
    if (!same(after.body, want)) {
      fail(`base block ${j} written with wrong content for txid ${tag.txid}`);
    }
  }

  /** The block objects stored now, as the database of `size` bytes they make. */
  #blocksNow(size: number): DbVersion {
    const n = blockCount(size, this.blockSize);
    const blocks = Array.from({ length: n }, (_, j) => {
      const o = this.store.objects.get(`${this.prefix}/${String(j).padStart(10, "0")}`);
      if (o?.body.length !== blockLength(j, size, this.blockSize)) {
        fail(`adopted block ${j} has ${o?.body.length} bytes at size ${size}`);
      }
      return o.body.slice();
    });
    this.cur.maxBlock = Math.max(this.cur.maxBlock, n - 1);
    return { size, blocks };
  }

  /**
   * A commit object landed in the log namespace `ns`: the current database's
   * log (the slot's history), or the log of a deleted incarnation (a stale
   * process's commit, lost with it: recorded in that incarnation's history).
   */
  #landed(txid: number, obj: StoredObject, ns: string | undefined): void {
    const index = decodeCommitIndex(obj.body, this.blockSize);
    const stamp = stampFromMeta(obj.meta);
    if (!stamp || stamp.putId !== index.putId || stamp.kind !== index.kind) {
      fail(`log/${txid}: metadata and index disagree`);
    }
    if (index.incarnation !== ns) fail(`log/${txid}: incarnation ${index.incarnation} in ${ns}`);
    const cur = this.cur;
    const old = this.#of(ns);
    if (cur.id === undefined && this.epochs.length > 1) {
      // Deleted, and no config yet: decided once one lands (a config PUT delayed past the
      // deletion may bring this very namespace back). For its own process, a commit now.
      if (old !== cur) this.#record(old, txid, obj, index, ns);
      cur.early.push({ txid, obj, ns });
      return;
    }
    const chunks = index.blocks.filter((b) => b.chunk !== undefined).map((b) =>
      stageKey(this.prefix, txid, index.putId, b.chunk!, ns)
    );
    const landing: Landing = {
      putId: index.putId,
      effective: commitEffective(obj.lastModified, index, this.timing, ns),
      chunks: [...new Set(chunks)],
      seq: this.changes,
      at: obj.lastModified,
    };
    if (ns !== cur.id) {
      if (old === cur) fail(`log/${txid} written into an unknown namespace ${ns}`);
      if (!old.history.get(txid)?.some((l) => l.putId === index.putId)) {
        this.#record(old, txid, obj, index, ns);
      }
      return;
    }
    if (landing.effective && this.failed.has(index.putId)) {
      fail(
        `log/${txid} (put id ${index.putId}) landed effective after its writer reported failure`,
      );
    }
    const prior = cur.history.get(txid) ?? [];
    prior.push(landing);
    cur.history.set(txid, prior);
    if (txid < cur.states.length) {
      if (landing.effective) fail(`a second effective commit landed at txid ${txid}`);
      this.recreated++;
      return;
    }
    if (txid > cur.states.length) fail(`log/${txid} landed past the head ${this.head}`);
    const prev = cur.states[txid - 1];
    if (!landing.effective) {
      this.voids++;
      cur.states.push(prev);
    } else {
      cur.states.push(this.#apply(txid, index, obj, prev));
    }
  }

  /** Notes a commit object in the history of the (deleted) incarnation `e`. */
  #record(
    e: Epoch,
    txid: number,
    obj: StoredObject,
    index: ReturnType<typeof decodeCommitIndex>,
    ns: string | undefined,
  ): void {
    const h = e.history.get(txid) ?? [];
    h.push({
      putId: index.putId,
      effective: commitEffective(obj.lastModified, index, this.timing, ns),
      chunks: [],
      seq: this.changes,
      at: obj.lastModified,
    });
    e.history.set(txid, h);
  }

  #apply(
    txid: number,
    index: ReturnType<typeof decodeCommitIndex>,
    obj: StoredObject,
    prev: DbVersion,
  ): DbVersion {
    if (index.prevSize !== prev.size) {
      fail(`log/${txid}: prevSize ${index.prevSize} != ${prev.size}`);
    }
    const n = blockCount(index.size, this.blockSize);
    const blocks = prev.blocks.slice(0, n);
    const dataStart = commitIndexEnd(obj.body);
    for (const b of index.blocks) {
      const src = b.chunk === undefined
        ? obj.body.subarray(dataStart + b.offset, dataStart + b.offset + b.length)
        : this.store.objects.get(
          stageKey(this.prefix, txid, index.putId, b.chunk, index.incarnation),
        )?.body
          .subarray(b.offset, b.offset + b.length);
      if (!src || src.length !== b.length || crc32(src) !== b.crc) {
        fail(`log/${txid}: block ${b.index} data missing or damaged when the commit landed`);
      }
      blocks[b.index] = src.slice();
    }
    for (let j = 0; j < n; j++) {
      if (blocks[j]?.length !== blockLength(j, index.size, this.blockSize)) {
        fail(`log/${txid}: block ${j} missing or of the wrong length after the commit`);
      }
    }
    const next = { size: index.size, blocks };
    const before = counterOf(prev);
    if (before !== undefined && counterOf(next) !== ((before + 1) >>> 0)) {
      fail(`log/${txid}: counter ${counterOf(next)} after ${before}: a lost update`);
    }
    this.cur.maxBlock = Math.max(this.cur.maxBlock, n - 1);
    return next;
  }

  /** Invariants over the whole store, checked after every simulation step. */
  checkStore(): void {
    if (this.tainted) return;
    const cur = this.cur;
    const ck = this.store.objects.get(checkpointKey(this.prefix));
    if (!ck) return;
    const rec = decodeCheckpoint(ck.body);
    if (rec.id !== undefined && rec.id !== cur.id) return; // an orphan (see onChange)
    const at = cur.states[rec.txid];
    if (rec.size !== at.size) {
      fail(`checkpoint ${rec.txid} records size ${rec.size}, not ${at.size}`);
    }
    const n = blockCount(at.size, this.blockSize);
    for (let j = 0; j <= cur.maxBlock; j++) {
      const o = this.store.objects.get(`${this.prefix}/${String(j).padStart(10, "0")}`);
      if (!o) {
        if (j < n) fail(`checkpoint ${rec.txid}: base block ${j} is missing`);
        continue;
      }
      const tag = parseBlockTag(o.meta);
      // A block of a deleted incarnation: left past the end (model.staleBlocks), or adopted (it
      // holds what the database had at txid 0).
      const foreign = tag.id !== undefined && tag.id !== cur.id;
      if (foreign && j >= n) continue;
      const txid = foreign ? 0 : tag.txid;
      if (txid > rec.txid) continue; // folded ahead by a checkpointer still running
      const want = j < n ? at.blocks[j] : new Uint8Array(0);
      if (!same(o.body, want)) {
        fail(
          `checkpoint ${rec.txid}: base block ${j} (txid ${tag.txid}) differs from the database`,
        );
      }
    }
    for (let t = rec.txid + 1; t <= this.head; t++) {
      const first = cur.history.get(t)?.[0];
      if (!first?.effective) continue;
      const o = this.store.objects.get(logKey(this.prefix, t, cur.id));
      if (o?.meta[META.putId] !== first.putId) {
        fail(`unfolded commit log/${t} is gone`);
      }
      for (const c of first.chunks) {
        if (!this.store.objects.has(c)) fail(`staged chunk ${c} of unfolded log/${t} is gone`);
      }
    }
  }

  /**
   * The effective commits past snapshot `head` that had landed by store change
   * `seq` (void slots and abort markers are decided no-ops, not listed).
   */
  effectiveAfter(head: number, seq: number): { txid: number; putId: string }[] {
    const out: { txid: number; putId: string }[] = [];
    for (let t = head + 1; t <= this.head; t++) {
      const first = this.cur.history.get(t)?.[0];
      if (first?.effective && first.seq <= seq) out.push({ txid: t, putId: first.putId });
    }
    return out;
  }

  /**
   * A process's snapshot of incarnation `id`: at least what it `saw` when it
   * began (same incarnation), not past the head, the right size. Processes of
   * a deleted incarnation are checked against its history as it was.
   */
  checkSnapshot(head: number, size: number, saw: Seen | number, id?: string): void {
    if (this.tainted) return;
    if (this.#leftovers(id)) return;
    const e = this.#of(id);
    // A process of a deleted incarnation cannot see the commits deleted with it.
    const minHead = typeof saw === "number" || saw.id !== e.id || e !== this.cur ? 0 : saw.head;
    if (typeof saw === "number" && e === this.cur && head < saw) {
      fail(`stale snapshot ${head}: txid ${saw} was committed before it began`);
    }
    if (head < minHead) {
      fail(`stale snapshot ${head}: txid ${minHead} was committed before it began`);
    }
    if (this.#forked(e, head)) return;
    if (head >= e.states.length) fail(`snapshot ${head} is past the head ${e.states.length - 1}`);
    if (size !== e.states[head].size) {
      fail(`snapshot ${head} has size ${size}, the database ${e.states[head].size}`);
    }
  }

  /** A read at snapshot `head` must return exactly the database's blocks at that txid. */
  checkRead(head: number, indexes: number[], got: Uint8Array[], id?: string): void {
    if (this.tainted) return;
    if (this.#leftovers(id)) return;
    const e = this.#of(id);
    if (this.#forked(e, head)) return;
    const v = e.states[head];
    indexes.forEach((i, k) => {
      const want = i < blockCount(v.size, this.blockSize) ? v.blocks[i] : new Uint8Array(0);
      if (!same(got[k], want)) fail(`read of block ${i} at snapshot ${head} returned wrong bytes`);
    });
  }

  /** A writer's reported outcome must match what landed (in its incarnation). */
  checkOutcome(putId: string, out: CommitOutcome, id?: string): void {
    if (this.tainted) return;
    const e = this.#of(id);
    if (e !== this.cur) {
      // A process of a deleted incarnation: it may acknowledge a commit only until its next
      // check of the checkpoint record, recordCheckMs after the deletion at the latest.
      if (out.kind === "committed") {
        const landed = [...e.history.values()].flat().find((l) => l.putId === putId);
        if (!landed) fail(`put id ${putId} reported committed, never landed`);
        if (landed.at >= e.deletedAt!) {
          this.lateAcks++;
          // Its last record check before the deletion, then a proof at most recordCheckMs later
          // (server time), then its commit within W of that proof (else void), whole seconds.
          const bound = e.deletedAt! + recordCheckMs(this.timing) + this.timing.maxCommitLagMs +
            2000;
          if (landed.at > bound) {
            fail(`put id ${putId} acknowledged ${landed.at - e.deletedAt!} ms after its deletion`);
          }
        }
      }
      return;
    }
    const landings = e.history.get(out.txid) ?? [];
    const ours = [...e.history.values()].flat().filter((l) => l.putId === putId);
    if (out.kind === "committed") {
      if (landings[0]?.putId !== putId || !landings[0].effective) {
        fail(`put id ${putId} reported committed at ${out.txid} but is not the effective commit`);
      }
      this.acked.set(putId, out.txid);
      return;
    }
    if (out.kind === "unknown" || out.kind === "replaced") return;
    if (ours.some((l) => l.effective)) fail(`put id ${putId} reported ${out.kind} but was applied`);
    if (out.kind === "conflict" && landings[0]?.putId === putId) {
      fail(`put id ${putId} reported conflict but holds txid ${out.txid}`);
    }
    if (out.kind === "expired" && !ours.length) {
      fail(`put id ${putId} reported expired, never landed`);
    }
    this.failed.add(putId);
  }
}

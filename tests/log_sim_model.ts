/**
 * The simulation's model of the database and its invariant checks. The model
 * is built from what lands in the store: every commit object ever created
 * (retention deletes them from the store, never from the model), decided by
 * the protocol's own validity rule. Every change to a key and every step is
 * checked against it; any breach throws with a description.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { blockCount, blockIndexOf, blockLength } from "../src/blocks.ts";
import { crc32 } from "../src/log/crc32.ts";
import {
  blockTxid,
  commitIndexEnd,
  decodeCheckpoint,
  decodeCommitIndex,
  META,
  stampFromMeta,
} from "../src/log/format.ts";
import { checkpointKey, configKey, logKey, stageKey, txidOfLogKey } from "../src/log/keys.ts";
import { commitEffective, type Timing } from "../src/log/rules.ts";
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

/** The model and its checks. */
export class Model {
  /** The database at each txid (a void commit repeats the previous state). */
  readonly states: DbVersion[];
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
  readonly #history = new Map<number, Landing[]>();
  #checkpoint = -1;
  #maxBlock = -1;

  /** A model of `prefix` starting from `initial` at txid 0. */
  constructor(
    readonly store: MemStore,
    readonly prefix: string,
    readonly blockSize: number,
    readonly timing: Timing,
    initial: DbVersion,
  ) {
    this.states = [initial];
    this.#maxBlock = initial.blocks.length - 1;
  }

  /** The newest txid decided. */
  get head(): number {
    return this.states.length - 1;
  }

  /** The checkpoint record's txid (-1: none yet). */
  get checkpoint(): number {
    return this.#checkpoint;
  }

  /** Checks one change of one key (the store's hook). */
  onChange(key: string, before?: StoredObject, after?: StoredObject): void {
    this.changes++;
    const txid = txidOfLogKey(this.prefix, key);
    if (txid !== undefined) return after ? this.#landed(txid, after) : undefined;
    if (key === checkpointKey(this.prefix)) {
      if (!after) fail("the checkpoint record was deleted");
      const t = decodeCheckpoint(after.body).txid;
      if (t < this.#checkpoint) {
        fail(`checkpoint record regressed from ${this.#checkpoint} to ${t}`);
      }
      if (t > this.head) fail(`checkpoint record ${t} is past the head ${this.head}`);
      this.#checkpoint = t;
      return;
    }
    if (key === configKey(this.prefix) && before) fail("the config object was replaced or deleted");
    const j = blockIndexOf(this.prefix, key);
    if (j === undefined) return;
    if (!after) fail(`base block ${j} was deleted`);
    this.#maxBlock = Math.max(this.#maxBlock, j);
    const b = blockTxid(after.meta);
    const was = before ? blockTxid(before.meta) : -1;
    if (b < was) fail(`base block ${j} regressed from txid ${was} to ${b}`);
    if (b > this.head) fail(`base block ${j} holds txid ${b}, past the head ${this.head}`);
    const v = this.states[b];
    const want = j < blockCount(v.size, this.blockSize) ? v.blocks[j] : new Uint8Array(0);
    if (!same(after.body, want)) fail(`base block ${j} written with wrong content for txid ${b}`);
  }

  #landed(txid: number, obj: StoredObject): void {
    const index = decodeCommitIndex(obj.body, this.blockSize);
    const stamp = stampFromMeta(obj.meta);
    if (!stamp || stamp.putId !== index.putId || stamp.kind !== index.kind) {
      fail(`log/${txid}: metadata and index disagree`);
    }
    const effective = commitEffective(obj.lastModified, index, this.timing);
    const prior = this.#history.get(txid) ?? [];
    const chunks = index.blocks.filter((b) => b.chunk !== undefined).map((b) =>
      stageKey(this.prefix, txid, index.putId, b.chunk!)
    );
    prior.push({ putId: index.putId, effective, chunks: [...new Set(chunks)], seq: this.changes });
    this.#history.set(txid, prior);
    if (effective && this.failed.has(index.putId)) {
      fail(
        `log/${txid} (put id ${index.putId}) landed effective after its writer reported failure`,
      );
    }
    if (txid < this.states.length) {
      if (effective) fail(`a second effective commit landed at txid ${txid}`);
      this.recreated++;
      return;
    }
    if (txid > this.states.length) fail(`log/${txid} landed past the head ${this.head}`);
    const prev = this.states[txid - 1];
    if (!effective) {
      this.voids++;
      return void this.states.push(prev);
    }
    if (index.prevSize !== prev.size) {
      fail(`log/${txid}: prevSize ${index.prevSize} != ${prev.size}`);
    }
    const n = blockCount(index.size, this.blockSize);
    const blocks = prev.blocks.slice(0, n);
    const dataStart = commitIndexEnd(obj.body);
    for (const b of index.blocks) {
      const src = b.chunk === undefined
        ? obj.body.subarray(dataStart + b.offset, dataStart + b.offset + b.length)
        : this.store.objects.get(stageKey(this.prefix, txid, index.putId, b.chunk))?.body
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
    this.states.push(next);
    this.#maxBlock = Math.max(this.#maxBlock, n - 1);
  }

  /** Invariants over the whole store, checked after every simulation step. */
  checkStore(): void {
    const ck = this.store.objects.get(checkpointKey(this.prefix));
    if (!ck) return;
    const rec = decodeCheckpoint(ck.body);
    const at = this.states[rec.txid];
    if (rec.size !== at.size) {
      fail(`checkpoint ${rec.txid} records size ${rec.size}, not ${at.size}`);
    }
    const n = blockCount(at.size, this.blockSize);
    for (let j = 0; j <= this.#maxBlock; j++) {
      const o = this.store.objects.get(`${this.prefix}/${String(j).padStart(10, "0")}`);
      if (!o) {
        if (j < n) fail(`checkpoint ${rec.txid}: base block ${j} is missing`);
        continue;
      }
      const b = blockTxid(o.meta);
      if (b > rec.txid) continue; // folded ahead by a checkpointer still running
      const want = j < n ? at.blocks[j] : new Uint8Array(0);
      if (!same(o.body, want)) {
        fail(`checkpoint ${rec.txid}: base block ${j} (txid ${b}) differs from the database`);
      }
    }
    for (let t = rec.txid + 1; t <= this.head; t++) {
      const first = this.#history.get(t)?.[0];
      if (!first?.effective) continue;
      const o = this.store.objects.get(logKey(this.prefix, t));
      if (o?.meta[META.putId] !== first.putId) fail(`unfolded commit log/${t} is gone`);
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
      const first = this.#history.get(t)?.[0];
      if (first?.effective && first.seq <= seq) out.push({ txid: t, putId: first.putId });
    }
    return out;
  }

  /** A reader's snapshot: at least `minHead` (all it could see when it began), right size. */
  checkSnapshot(head: number, size: number, minHead: number): void {
    if (head < minHead) {
      fail(`stale snapshot ${head}: txid ${minHead} was committed before it began`);
    }
    if (head > this.head) fail(`snapshot ${head} is past the head ${this.head}`);
    if (size !== this.states[head].size) {
      fail(`snapshot ${head} has size ${size}, the database ${this.states[head].size}`);
    }
  }

  /** A read at snapshot `head` must return exactly the database's blocks at that txid. */
  checkRead(head: number, indexes: number[], got: Uint8Array[]): void {
    const v = this.states[head];
    indexes.forEach((i, k) => {
      const want = i < blockCount(v.size, this.blockSize) ? v.blocks[i] : new Uint8Array(0);
      if (!same(got[k], want)) fail(`read of block ${i} at snapshot ${head} returned wrong bytes`);
    });
  }

  /** A writer's reported outcome must match what landed. */
  checkOutcome(putId: string, out: CommitOutcome): void {
    const landings = this.#history.get(out.txid) ?? [];
    const ours = [...this.#history.values()].flat().filter((l) => l.putId === putId);
    if (out.kind === "committed") {
      if (landings[0]?.putId !== putId || !landings[0].effective) {
        fail(`put id ${putId} reported committed at ${out.txid} but is not the effective commit`);
      }
      this.acked.set(putId, out.txid);
      return;
    }
    if (out.kind === "unknown") return;
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

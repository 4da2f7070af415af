/**
 * The two halves of folding commits into base blocks, for the checkpointer
 * (./checkpoint.ts): the plan (each block's version at the fold target) and
 * the fenced write of one block (HEAD, then a conditional PUT sent only
 * within the checkpoint claim's fence).
 *
 * @module
 */

import { blockCount, blockKey } from "../blocks.ts";
import {
  type BlockVersion,
  type FetchedCommit,
  type FetchResult,
  inlineBytes,
  isEffective,
  versionsOf,
} from "./commits.ts";
import { crc32 } from "./crc32.ts";
import { LogCorruptError, LogStoreError } from "./errors.ts";
import {
  blockTag,
  blockTxid,
  type CheckpointRecord,
  type ConfigRecord,
  META,
  parseBlockTag,
} from "./format.ts";
import type { FoldMemory } from "./fold_memory.ts";
import { coalesce, splitRun } from "./ranges.ts";
import {
  expectOk,
  type GetOp,
  idempotent,
  isAbsent,
  isLostRace,
  isSuccess,
  type PutOp,
  request,
  type Step,
  type StoreResult,
} from "./store.ts";

/** The version of one block at the fold target: content from a commit, or absent. */
export interface Want {
  /** The txid the block must hold at least. */
  txid: number;
  /** Where its content is (absent: past the end, a tombstone). */
  version?: BlockVersion;
  /** The fetched commit holding it, when inline. */
  commit?: FetchedCommit;
  /** Its bytes, when fetched ahead ({@linkcode prefetchBytes}; dropped after the write). */
  bytes?: Uint8Array;
}

/** What a run will fold: up to `to`, the size then, and each changed block's version. */
export interface FoldPlan {
  /** The fold target. */
  to: number;
  /** Database size at `to`. */
  size: number;
  /** Page size at `to`. */
  pageSize: number;
  /** Every block changed in (record, to], ascending. */
  blocks: [number, Want][];
}

/**
 * Plans a fold of the fetched commits after `rec` (`fetched[k]` is txid
 * `rec.txid + 1 + k`): whole commits, stopping before the one that would
 * take the plan past `maxBlocks` distinct blocks (the first one always
 * counts). "raced": a commit was deleted meanwhile (another got further).
 */
export function planFold(
  prefix: string,
  config: ConfigRecord,
  rec: CheckpointRecord,
  fetched: FetchResult[],
  maxBlocks: number,
): FoldPlan | "raced" {
  const bs = config.blockSize;
  const plan = new Map<number, Want>();
  let { size, pageSize } = rec;
  let to = rec.txid;
  for (const f of fetched) {
    if (f.absent) return "raced";
    const c = f.commit;
    if (isEffective(c, config)) {
      if (c.index.prevSize !== size) {
        throw new LogCorruptError(
          `log/${c.index.txid} was written on ${c.index.prevSize} bytes, not ${size}`,
        );
      }
      const adds: [number, Want][] = versionsOf(prefix, c).map((version, k) => [
        c.index.blocks[k].index,
        { txid: c.index.txid, version, commit: c },
      ]);
      for (let j = blockCount(c.index.size, bs); j < blockCount(size, bs); j++) {
        adds.push([j, { txid: c.index.txid }]);
      }
      const fresh = adds.filter(([j]) => !plan.has(j)).length;
      if (plan.size + fresh > maxBlocks && to > rec.txid) break;
      for (const [j, w] of adds) plan.set(j, w);
      size = c.index.size;
      pageSize = c.index.pageSize;
    }
    to = c.index.txid;
  }
  return { to, size, pageSize, blocks: [...plan.entries()].sort((a, b) => a[0] - b[0]) };
}

/**
 * The fence of a claim's block writes: the local clock by which a write must
 * be sent, its attempt timeout, and until when a write of ours that got no
 * answer may still land (the claim is then not given up before).
 */
export interface Fence {
  /** Local clock by which a block write must be sent. */
  sendBy: number;
  /** Attempt timeout of a block write (how late it may land). */
  timeoutMs: number;
  /** Local clock until which an unanswered block write of ours may still land. */
  taintedUntil: number;
}

/** What every block write of a run shares. */
export interface FoldRun {
  /** Database name. */
  prefix: string;
  /** The log incarnation (config id) the run folds. */
  id: string | undefined;
  /** Blocks below the checkpointed size when the run began: each must exist. */
  baseCount: number;
  /**
   * The checkpoint record was read again during this run and is still of
   * our incarnation: blocks tagged by another one are older (a database
   * adopted with stale tags), not a sign that ours was deleted.
   */
  verified: boolean;
  /** The claim's fence. */
  fence: Fence;
  /** What the checkpointer remembers of the blocks (./fold_memory.ts), if anything. */
  memory?: FoldMemory;
}

/** What a block past the old end is taken to be before its first write (no HEAD sent). */
const ASSUMED_ABSENT: StoreResult = Object.freeze({ status: 404 });

/**
 * Fetches the bytes of the blocks of `batch` that are neither inline nor
 * fetched yet, coalesced (blocks side by side in one commit object or chunk:
 * one ranged GET, ./ranges.ts), into each `Want.bytes`. "raced": an object
 * is gone (another checkpointer got further and retention deleted it).
 */
export function* prefetchBytes(batch: [number, Want][]): Step<"ok" | "raced"> {
  const need: { index: number; version: BlockVersion; want: Want }[] = [];
  for (const [index, want] of batch) {
    const v = want.version;
    if (!v || want.bytes) continue;
    const inline = want.commit ? inlineBytes(want.commit, v) : undefined;
    if (inline) want.bytes = inline;
    else need.push({ index, version: v, want });
  }
  if (need.length === 0) return "ok";
  const runs = coalesce(need);
  const results = yield* idempotent(runs.map((r) => r.op));
  for (const [k, run] of runs.entries()) {
    const r = results[k];
    const got = splitRun(run, r.status === 416 ? r : expectOk(run.op, r, true));
    if (got === "gone") return "raced";
    run.blocks.forEach((b, j) => b.want.bytes = got[j]);
  }
  return "ok";
}

/** A PUT answer after which the write may have been applied. */
function ambiguous(r: StoreResult): boolean {
  if (r.unsent) return false;
  // 429 and 503 mean "not processed" (S3's SlowDown); any other failure may have been applied.
  return r.status === 0 || (r.status >= 500 && r.status !== 503);
}

/**
 * Brings base block `i` to at least version `want.txid` (of the run's log
 * incarnation) with fenced writes. "late": the write was not sent in time
 * (renew the claim and try again); "raced": its data is gone (another
 * checkpointer got further); "verify": the block is missing or tagged by
 * another incarnation: check that the database was not deleted (and maybe
 * created again) before writing it.
 */
export function* foldBlock(
  run: FoldRun,
  i: number,
  want: Want,
): Step<"done" | "written" | "raced" | "late" | "verify" | "missing"> {
  const { prefix, id, fence } = run;
  const key = blockKey(prefix, i);
  let body: Uint8Array | undefined = want.version ? want.bytes : new Uint8Array(0);
  // No HEAD when the block's state is known: remembered from this checkpointer's own last run
  // (exact, ./fold_memory.ts), or past the end when the run began in a database the run verified
  // (expected absent: If-None-Match: *). Known wrong (a 412: a tombstone, a crashed run's write),
  // the block is forgotten and looked at with a HEAD as usual.
  const known = run.memory?.get(i);
  let assumed: StoreResult | undefined = known
    ? { status: 200, etag: known.etag, meta: { [META.txid]: blockTag(known.txid, id) } }
    : run.verified && i >= run.baseCount
    ? ASSUMED_ABSENT
    : undefined;
  for (let round = 0; round < 50; round++) {
    const head = { kind: "head", key } as const;
    const h = assumed ?? expectOk(head, yield* request(head), true);
    if (!assumed && run.memory) {
      const tag = isSuccess(h) ? parseBlockTag(h.meta).id : undefined;
      if (isSuccess(h) && tag === id) run.memory.note(i, h.etag, blockTxid(h.meta, id));
      else run.memory.forget(i);
    }
    assumed = undefined;
    if (isSuccess(h) && blockTxid(h.meta, id) >= want.txid) return "done";
    if (!run.verified) {
      // Missing, or of another incarnation, or about to be created: is the database still ours?
      // (Once per run: a run of a database deleted meanwhile would leave blocks behind.)
      const tag = isSuccess(h) ? parseBlockTag(h.meta).id : undefined;
      if (isAbsent(h) || (tag !== undefined && tag !== id)) return "verify";
    } else if (isAbsent(h) && i < run.baseCount) {
      return "missing"; // deleted since the run verified the database, or corrupt
    }
    if (isSuccess(h) && !h.etag) {
      throw new LogStoreError(
        `HEAD ${key} answered without an ETag: the store does not support the conditional ` +
          "writes the protocol needs",
        h.status,
      );
    }
    if (body === undefined) {
      const got = yield* blockBytes(i, want);
      if (got === "raced") return "raced";
      body = got;
    }
    const put: PutOp = {
      kind: "put",
      key,
      body,
      meta: { [META.txid]: blockTag(want.txid, id) },
      ...(isAbsent(h) ? { ifNoneMatch: true as const } : { ifMatch: h.etag! }),
      sendBy: fence.sendBy,
      timeoutMs: fence.timeoutMs,
    };
    const [r] = yield [put];
    if (isSuccess(r)) {
      run.memory?.note(i, r.etag, want.txid);
      return "written";
    }
    run.memory?.forget(i); // a lost race, no answer, ...: unknown until the next HEAD
    if (r.unsent) return "late";
    if (ambiguous(r)) {
      // It may land up to its timeout after it was sent (before sendBy): the claim is not given
      // up before then. Within this run nothing else writes this block, so looking again is safe.
      fence.taintedUntil = Math.max(fence.taintedUntil, put.sendBy! + fence.timeoutMs);
      continue;
    }
    // Lost race, If-Match on a key deleted meanwhile (404), 429/503: look again.
    if (!isLostRace(r) && !isAbsent(r) && r.status !== 429 && r.status !== 503) {
      expectOk(put, r);
    }
  }
  return "raced";
}

/** The bytes of the version `want` names (from the fetched commit, or a ranged GET). */
function* blockBytes(i: number, want: Want): Step<Uint8Array | "raced"> {
  const v = want.version!;
  const inline = want.commit ? inlineBytes(want.commit, v) : undefined;
  if (inline) return inline;
  const get: GetOp = { kind: "get", key: v.key, range: { offset: v.offset, length: v.length } };
  const g = yield* request(get);
  if (isAbsent(g) || g.status === 416) return "raced";
  expectOk(get, g);
  if (v.putId !== undefined && g.meta?.[META.putId] !== v.putId) return "raced";
  const body = g.body ?? new Uint8Array(0);
  if (body.length !== v.length || crc32(body) !== v.crc) {
    throw new LogCorruptError(`block ${i} of txid ${v.txid} fails its checksum`);
  }
  return body;
}

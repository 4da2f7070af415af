/**
 * The checkpointer: folds old commits into the base blocks (the Python
 * sqlite-s3vfs layout), off the commit path, under the checkpoint claim
 * (./claim.ts, docs/protocol.md 16): one checkpointer at a time writes
 * base blocks, and each block write is sent only while the claim surely
 * counts, so that no paused, delayed or concurrent checkpointer can ever put
 * a block back to an older version (S3's ETag of a block is the MD5 of its
 * bytes, so `If-Match` alone cannot tell two writes of the same bytes apart).
 *
 * Only commits older than the grace period G (server time) are folded. Each
 * base block records in its metadata the txid whose content it holds and is
 * replaced only by a newer version, conditionally (`If-Match` its ETag,
 * `If-None-Match: *` when absent). A block past the end becomes an empty
 * "tombstone" carrying its txid (never a DELETE). The checkpoint record
 * moves forward, and the claim is given up, in one write once every block up
 * to the new txid is written. Retention (./retention.ts) runs in the same
 * claim when it is due.
 *
 * @module
 */

import {
  claimExpiresAt,
  type ClaimIdentity,
  claimLive,
  defaultClaimTtl,
  type HeldClaim,
  sendBy,
  takeClaim,
  writeUnderClaim,
} from "./claim.ts";
import { DEFAULT_PROBE_BYTES, fetchCommit, type FetchResult } from "./commits.ts";
import { LogCorruptError } from "./errors.ts";
import type { ConfigRecord } from "./format.ts";
import { blockCount } from "../blocks.ts";
import { type Fence, foldBlock, type FoldRun, planFold, prefetchBytes } from "./fold.ts";
import type { FoldMemory } from "./fold_memory.ts";
import { localHost, localPid } from "./host.ts";
import { logKey, logNamespace, logPrefix, newPutId, txidOfLogKey } from "./keys.ts";
import { type CheckpointRead, readCheckpoint, readIdentity } from "./records.ts";
import { retention, type RetentionOutcome } from "./retention.ts";
import { floorSec, foldable, type Timing } from "./rules.ts";
import { clock, listAll, parallel, type Step } from "./store.ts";

/** Progress of a checkpoint run, after every batch of blocks. */
export interface CheckpointProgress {
  /** Blocks handled so far (written or found up to date). */
  done: number;
  /** Blocks to handle in this run. */
  total: number;
  /** Blocks written so far. */
  written: number;
}

/** Options of {@linkcode checkpoint}. */
export interface CheckpointOptions {
  /** Most commits folded in one run. Default 1,000. */
  maxCommits?: number;
  /**
   * Most distinct blocks written in one run (whole commits: a single bigger
   * commit is still folded whole). Default 8,192.
   */
  maxBlocks?: number;
  /** Blocks written at once. Default 32. */
  concurrency?: number;
  /** Bytes fetched first from each commit object. */
  probeBytes?: number;
  /** Who runs it (a fresh random holder id for every run when absent). */
  identity?: Partial<ClaimIdentity>;
  /**
   * Attempt timeout of a block write in ms (default 10,000): the longest a
   * block write may take to land, which the claim's fence takes off.
   */
  requestTimeoutMs?: number;
  /** TTL of the claim (default: 3 (T + M), at least 30 s). */
  claimTtlMs?: number;
  /** Run retention in the same claim when it is due (default true). */
  retention?: boolean;
  /** Keep folded commits this long (at least the config's keepHistoryMs). */
  keepHistoryMs?: number;
  /** Called after each batch of blocks. */
  onProgress?: (p: CheckpointProgress) => void;
  /**
   * What this checkpointer remembers of the database's blocks from its last
   * run (./fold_memory.ts): pass the same object to every run on one
   * database to write changed blocks without a HEAD.
   */
  memory?: FoldMemory;
  /** Asked between batches: true stops the run (claim given up, record not moved). */
  shouldStop?: () => boolean;
}

/** What a checkpoint run did. */
export type CheckpointOutcome =
  /** No database in the log protocol (no checkpoint record). */
  | { kind: "none" }
  /**
   * Nothing to fold yet (`retention`: a retention pass ran; `nextInMs`: the
   * next commit may be folded in this many ms of server time, when known).
   */
  | { kind: "idle"; txid: number; retention?: RetentionOutcome; nextInMs?: number }
  /** Folded commits `from + 1` to `to`, writing `written` of `blocks` blocks. */
  | {
    kind: "folded";
    from: number;
    to: number;
    written: number;
    blocks: number;
    retention?: RetentionOutcome;
  }
  /**
   * Another checkpointer holds the claim until `until` (server time) unless it
   * renews it: `waitMs` from when the record was read.
   */
  | { kind: "busy"; holder: string; until: number; waitMs: number }
  /** Lost the claim or the record to another checkpointer; nothing wrong was written. */
  | { kind: "raced"; reason: string }
  /** Stopped when asked (`shouldStop`): blocks may be written, the record was not moved. */
  | { kind: "stopped"; written: number }
  /** The database was deleted or replaced: the record is of another incarnation, or gone. */
  | { kind: "replaced"; reason: string };

/** Default attempt timeout of a block write (the fence's T). */
export const DEFAULT_BLOCK_TIMEOUT_MS = 10_000;

/** Whether retention is due by the record read at `ck.date`: never ran, or R/4 ago. */
export function retentionDue(ck: CheckpointRead, t: Timing): boolean {
  const at = ck.record?.retainedAt;
  return at === undefined || floorSec(ck.date) - floorSec(at) > t.keepHistoryMs / 4;
}

/** Who holds the claim, for messages. */
function holderOf(ck: CheckpointRead): string {
  const c = ck.record?.claim;
  return c ? `${c.host || "?"} pid ${c.pid} (generation ${c.generation})` : "?";
}

/**
 * Folds the commits after the checkpoint that are older than G (at most
 * `maxCommits`, `maxBlocks`), and runs retention when due, under the
 * checkpoint claim. Costs, beyond the reads and block writes: one PUT to
 * take the claim, one per renewal (a long run), none to give it up (the
 * record's move does).
 */
export function* checkpoint(
  prefix: string,
  config: ConfigRecord,
  opts: CheckpointOptions = {},
): Step<CheckpointOutcome> {
  const { memory } = opts;
  if (!memory?.acquire()) return yield* oneRun(prefix, config, { ...opts, memory: undefined });
  try {
    return yield* oneRun(prefix, config, opts);
  } finally {
    memory.release();
  }
}

/** One checkpoint run ({@linkcode checkpoint}), `opts.memory` its own for the run. */
function* oneRun(
  prefix: string,
  config: ConfigRecord,
  opts: CheckpointOptions,
): Step<CheckpointOutcome> {
  const t = config.timing;
  // The record, and the config with it: both must be of our incarnation (a create-only PUT
  // delayed past a deletion can bring one back, or a record of a deleted database be left).
  const { ck, config: now } = yield* readIdentity(prefix);
  const rec = ck.record;
  if (!rec) return { kind: "none" };
  if (
    (rec.id !== undefined && config.id !== undefined && rec.id !== config.id) ||
    !now || now.id !== config.id
  ) {
    return { kind: "replaced", reason: `${prefix} is not the database of config ${config.id}` };
  }
  if (claimLive(ck, t)) {
    const until = claimExpiresAt(ck, t);
    return { kind: "busy", holder: holderOf(ck), until, waitMs: Math.max(0, until - ck.date) };
  }
  const from = rec.txid;
  const ns = logNamespace(config);
  const listing = yield* listAll(logPrefix(prefix, ns), logKey(prefix, from, ns));
  let to = from;
  for (const e of listing.entries) {
    const txid = txidOfLogKey(prefix, e.key, ns);
    if (txid === undefined) continue; // not a commit object (a store's temporary file, say)
    if (txid !== to + 1) break;
    if (!foldable(e.lastModified, listing.date, t)) break;
    if (to - from >= (opts.maxCommits ?? 1000)) break;
    to++;
  }
  const keep = opts.retention !== false && retentionDue(ck, t);
  if (to === from && !keep) {
    const next = listing.entries.find((e) => txidOfLogKey(prefix, e.key, ns) === from + 1);
    if (!next) return { kind: "idle", txid: from };
    const dueAt = floorSec(next.lastModified) + t.graceMs + t.marginMs + 1000;
    return { kind: "idle", txid: from, nextInMs: Math.max(0, dueAt - floorSec(listing.date)) };
  }
  const fetched = yield* parallel<FetchResult>(
    Array.from(
      { length: to - from },
      (_, k) => fetchCommit(prefix, from + 1 + k, config, opts.probeBytes ?? DEFAULT_PROBE_BYTES),
    ),
  );
  opts.memory?.begin(config.id, ck.etag); // kept only if the record is still our last write
  const plan = planFold(prefix, config, rec, fetched, opts.maxBlocks ?? 8192);
  if (plan === "raced") return { kind: "raced", reason: "a commit to fold was deleted" };

  // The claim: from here on, block writes are fenced by it.
  const T = opts.requestTimeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS;
  const me: ClaimIdentity = {
    holder: opts.identity?.holder ?? newPutId(),
    host: opts.identity?.host ?? localHost(),
    pid: opts.identity?.pid ?? localPid(),
  };
  const taken = yield* takeClaim(
    prefix,
    ck,
    me,
    opts.claimTtlMs ?? defaultClaimTtl(t, T),
    config.id,
  );
  if (!taken) return { kind: "raced", reason: "another checkpointer took the claim first" };
  let held: HeldClaim = taken;
  const fence: Fence = { sendBy: sendBy(held, t, T), timeoutMs: T, taintedUntil: -Infinity };
  const run: FoldRun = {
    prefix,
    id: config.id,
    baseCount: blockCount(rec.size, config.blockSize),
    verified: false,
    fence,
    ...(opts.memory ? { memory: opts.memory } : {}),
  };
  if (plan.blocks.some(([i]) => i >= run.baseCount)) {
    // Blocks past the old end are written without a HEAD (fold.ts): first make sure the database
    // is still ours (one GET), which a HEAD finding such a block absent would otherwise ask.
    const now = yield* readCheckpoint(prefix);
    if (!now.record || (now.record.id ?? config.id) !== config.id) {
      return { kind: "replaced", reason: `${prefix} was deleted or created again` };
    }
    run.verified = true;
  }
  const renewEvery = (held.record.claim!.ttlMs - t.marginMs - T) / 2;
  const step = opts.concurrency ?? 32;
  let written = 0;
  let lateRounds = 0;
  const total = plan.blocks.length;
  for (let k = 0; k < total;) {
    if (opts.shouldStop?.()) {
      return yield* giveUp(prefix, held, fence, { kind: "stopped", written });
    }
    const now = yield* clock();
    if (now - held.sentClock >= renewEvery) {
      const renewed: HeldClaim | null = yield* writeUnderClaim(prefix, held);
      if (!renewed) return { kind: "raced", reason: "the checkpoint claim was lost" };
      held = renewed;
      fence.sendBy = sendBy(held, t, T);
    }
    const batch = plan.blocks.slice(k, k + step);
    if ((yield* prefetchBytes(batch)) === "raced") {
      return yield* giveUp(prefix, held, fence, {
        kind: "raced",
        reason: "block data of a commit was deleted",
      });
    }
    const results = yield* parallel(
      batch.map(([i, want]) => foldBlock(run, i, want)),
    );
    let retry = false;
    if (results.includes("verify") || results.includes("missing")) {
      // A block is missing, or of another incarnation: was our database deleted meanwhile?
      const now = yield* readCheckpoint(prefix);
      if (!now.record || (now.record.id ?? config.id) !== config.id) {
        return { kind: "replaced", reason: `${prefix} was deleted or created again` };
      }
      if (results.includes("missing")) {
        throw new LogCorruptError(`${prefix}: a base block below the checkpointed size is missing`);
      }
      run.verified = true;
      continue; // the batch again, verified
    }
    for (const r of results) {
      if (r === "raced") {
        return yield* giveUp(prefix, held, fence, {
          kind: "raced",
          reason: "block data of a commit was deleted",
        });
      }
      if (r === "late") retry = true;
      if (r === "written") written++;
    }
    if (retry) {
      // A write found its send-by time passed: renew, then do this batch again.
      if (++lateRounds > 5) {
        return yield* giveUp(prefix, held, fence, { kind: "stopped", written });
      }
      const renewed: HeldClaim | null = yield* writeUnderClaim(prefix, held);
      if (!renewed) return { kind: "raced", reason: "the checkpoint claim was lost" };
      held = renewed;
      fence.sendBy = sendBy(held, t, T);
      continue;
    }
    for (const [, want] of batch) want.bytes = undefined; // memory: one batch of bytes at a time
    k += batch.length;
    opts.onProgress?.({ done: k, total, written });
  }
  let kept: RetentionOutcome | undefined;
  let retainedAt = rec.retainedAt;
  if (keep) {
    const started = yield* readCheckpoint(prefix); // its Date: when this pass starts
    kept = yield* retention(prefix, config, {
      concurrency: step,
      keepHistoryMs: opts.keepHistoryMs,
    });
    retainedAt = started.date;
  }
  const release = (yield* clock()) >= fence.taintedUntil;
  const moved = yield* writeUnderClaim(prefix, held, {
    txid: plan.to,
    size: plan.size,
    pageSize: plan.pageSize,
    ...(retainedAt === undefined ? {} : { retainedAt }),
  }, release);
  if (!moved) {
    return { kind: "raced", reason: "the checkpoint claim was lost before the record moved" };
  }
  // Released: the next run finds this ETag unless someone took the claim since. Not released (a
  // write of ours may still land): the claim lapses, and the next taker's write changes the ETag.
  if (release) opts.memory?.end(moved.etag);
  return plan.to === from ? { kind: "idle", txid: from, ...(kept ? { retention: kept } : {}) } : {
    kind: "folded",
    from,
    to: plan.to,
    written,
    blocks: total,
    ...(kept ? { retention: kept } : {}),
  };
}

/**
 * Ends a run early: gives the claim up unless a block write of ours may still
 * land (then it is left to expire, by when such a write has landed).
 */
function* giveUp<T>(prefix: string, held: HeldClaim, fence: Fence, out: T): Step<T> {
  if ((yield* clock()) >= fence.taintedUntil) yield* writeUnderClaim(prefix, held, {}, true);
  return out;
}

/**
 * The checkpointer: folds old commits into the base blocks (the Python
 * sqlite-s3vfs layout), off the commit path. Only commits older than the
 * grace period G (server time) are folded. Each base block records in its
 * metadata the txid whose content it holds and is replaced only by a newer
 * version, conditionally (`If-Match` its ETag, `If-None-Match: *` when absent),
 * re-reading on a lost race: several checkpointers, or one paused for
 * minutes, never move a block back. A block past the end becomes an empty
 * "tombstone" carrying its txid (never a DELETE: an absent key has no version
 * to protect it). The checkpoint record moves forward (`If-Match`) only after
 * every block up to it is written.
 *
 * @module
 */

import { blockCount, blockKey } from "../blocks.ts";
import {
  type BlockVersion,
  DEFAULT_PROBE_BYTES,
  fetchCommit,
  type FetchedCommit,
  type FetchResult,
  inlineBytes,
  isEffective,
  versionsOf,
} from "./commits.ts";
import { crc32 } from "./crc32.ts";
import { LogCorruptError } from "./errors.ts";
import {
  blockTag,
  blockTxid,
  type CheckpointRecord,
  type ConfigRecord,
  encodeCheckpoint,
  META,
} from "./format.ts";
import { checkpointKey, logKey, logPrefix, txidOfLogKey } from "./keys.ts";
import { type CheckpointRead, readCheckpoint } from "./records.ts";
import { foldable } from "./rules.ts";
import {
  expectOk,
  type GetOp,
  isAbsent,
  isLostRace,
  isSuccess,
  isTransient,
  listAll,
  parallel,
  type PutOp,
  request,
  type Step,
} from "./store.ts";

/** Options of {@linkcode checkpoint}. */
export interface CheckpointOptions {
  /** Most commits folded in one run. Default 1,000. */
  maxCommits?: number;
  /** Blocks written at once. Default 32. */
  concurrency?: number;
  /** Bytes fetched first from each commit object. */
  probeBytes?: number;
}

/** What a checkpoint run did. */
export type CheckpointOutcome =
  | { kind: "none" }
  | { kind: "idle"; txid: number }
  | { kind: "folded"; from: number; to: number; written: number }
  | { kind: "raced"; reason: string };

/** The version of one block at the fold target: content from a commit, or absent. */
interface Want {
  txid: number;
  version?: BlockVersion;
  commit?: FetchedCommit;
}

/** Folds every commit after the checkpoint that is older than G (at most `maxCommits`). */
export function* checkpoint(
  prefix: string,
  config: ConfigRecord,
  opts: CheckpointOptions = {},
): Step<CheckpointOutcome> {
  const ck = yield* readCheckpoint(prefix);
  if (!ck.record) return { kind: "none" };
  const from = ck.record.txid;
  const listing = yield* listAll(logPrefix(prefix), logKey(prefix, from));
  let to = from;
  for (const e of listing.entries) {
    if (txidOfLogKey(prefix, e.key) !== to + 1) break;
    if (!foldable(e.lastModified, listing.date, config.timing)) break;
    if (to - from >= (opts.maxCommits ?? 1000)) break;
    to++;
  }
  if (to === from) return { kind: "idle", txid: from };
  const fetched = yield* parallel<FetchResult>(
    Array.from(
      { length: to - from },
      (_, k) =>
        fetchCommit(prefix, from + 1 + k, config.blockSize, opts.probeBytes ?? DEFAULT_PROBE_BYTES),
    ),
  );
  const plan = new Map<number, Want>();
  let { size, pageSize } = ck.record;
  for (const f of fetched) {
    if (f.absent) return { kind: "raced", reason: "a commit to fold was deleted" };
    const c = f.commit;
    if (!isEffective(c, config.timing)) continue;
    if (c.index.prevSize !== size) {
      throw new LogCorruptError(
        `log/${c.index.txid} was written on ${c.index.prevSize} bytes, not ${size}`,
      );
    }
    versionsOf(prefix, c).forEach((version, k) => {
      plan.set(c.index.blocks[k].index, { txid: c.index.txid, version, commit: c });
    });
    const n = blockCount(c.index.size, config.blockSize);
    for (let j = n; j < blockCount(size, config.blockSize); j++) {
      plan.set(j, { txid: c.index.txid });
    }
    size = c.index.size;
    pageSize = c.index.pageSize;
  }
  const todo = [...plan.entries()].sort((a, b) => a[0] - b[0]);
  const step = opts.concurrency ?? 32;
  let written = 0;
  for (let k = 0; k < todo.length; k += step) {
    const batch = todo.slice(k, k + step).map(([i, want]) => foldBlock(prefix, config.id, i, want));
    for (const r of yield* parallel(batch)) {
      if (r === "raced") return { kind: "raced", reason: "block data of a commit was deleted" };
      if (r === "written") written++;
    }
  }
  const done = yield* advance(prefix, ck, { txid: to, size, pageSize });
  return done
    ? { kind: "folded", from, to, written }
    : { kind: "raced", reason: "checkpoint record" };
}

/** Brings base block `i` to at least version `want.txid` (of the log incarnation `id`). */
function* foldBlock(
  prefix: string,
  id: string | undefined,
  i: number,
  want: Want,
): Step<"done" | "written" | "raced"> {
  const key = blockKey(prefix, i);
  let body: Uint8Array | undefined = want.version ? undefined : new Uint8Array(0);
  for (let round = 0; round < 50; round++) {
    const head = { kind: "head", key } as const;
    const h = expectOk(head, yield* request(head), true);
    if (isSuccess(h) && blockTxid(h.meta, id) >= want.txid) return "done";
    if (body === undefined) {
      const v = want.version!;
      body = want.commit ? inlineBytes(want.commit, v) : undefined;
      if (body === undefined) {
        const get: GetOp = {
          kind: "get",
          key: v.key,
          range: { offset: v.offset, length: v.length },
        };
        const g = yield* request(get);
        if (isAbsent(g) || g.status === 416) return "raced";
        expectOk(get, g);
        if (v.putId !== undefined && g.meta?.[META.putId] !== v.putId) return "raced";
        body = g.body ?? new Uint8Array(0);
        if (body.length !== v.length || crc32(body) !== v.crc) {
          throw new LogCorruptError(`block ${i} of txid ${v.txid} fails its checksum`);
        }
      }
    }
    const put: PutOp = {
      kind: "put",
      key,
      body,
      meta: { [META.txid]: blockTag(want.txid, id) },
      ...(isAbsent(h) ? { ifNoneMatch: true as const } : { ifMatch: h.etag ?? "" }),
    };
    const [r] = yield [put];
    if (isSuccess(r)) return "written";
    // Lost race, If-Match on a key deleted meanwhile (404), or no answer: look again.
    if (!isLostRace(r) && !isAbsent(r) && !isTransient(r)) expectOk(put, r);
  }
  return "raced";
}

/** Moves the checkpoint record to `rec` unless it is already there or past it. */
function* advance(prefix: string, first: CheckpointRead, rec: CheckpointRecord): Step<boolean> {
  let etag = first.etag ?? "";
  for (let round = 0; round < 50; round++) {
    const put: PutOp = {
      kind: "put",
      key: checkpointKey(prefix),
      body: encodeCheckpoint(rec),
      ifMatch: etag,
    };
    const [r] = yield [put];
    if (isSuccess(r)) return true;
    if (!isLostRace(r) && !isAbsent(r) && !isTransient(r)) expectOk(put, r);
    const now = yield* readCheckpoint(prefix);
    if (!now.record) throw new LogCorruptError("the checkpoint record disappeared");
    if (now.record.txid >= rec.txid) return true;
    etag = now.etag ?? "";
  }
  return false;
}

/**
 * Retention and cleanup: deletes commit objects at or below the checkpoint
 * once they are older than R (keepHistory, server time), with their staged
 * chunks, and deletes staged chunks no effective commit references: those of
 * a writer that lost its txid or closed it, and those older than X whose
 * commit never came. Base blocks, the config and the checkpoint record are
 * never deleted. Unconditional DELETEs are safe here: commit objects and
 * chunks are never rewritten, only re-created under the same key by a late
 * writer, and such a late commit is void.
 *
 * @module
 */

import type { ConfigRecord } from "./format.ts";
import { stampFromMeta } from "./format.ts";
import {
  logKey,
  logNamespace,
  logPrefix,
  parseStageKey,
  stagePrefix,
  txidOfLogKey,
} from "./keys.ts";
import { readCheckpoint } from "./records.ts";
import { commitEffective, retentionExpired, stageExpired } from "./rules.ts";
import {
  type DeleteOp,
  expectOk,
  type HeadOp,
  idempotent,
  isAbsent,
  listAll,
  type ListEntry,
  type Step,
} from "./store.ts";

/** Options of {@linkcode retention}. */
export interface RetentionOptions {
  /** Keep folded commits this long (at least the config's keepHistoryMs, which is the default). */
  keepHistoryMs?: number;
  /** Requests at once. Default 32. */
  concurrency?: number;
}

/** What a retention run deleted. */
export interface RetentionOutcome {
  /** Commit objects deleted. */
  commits: number;
  /** Stage chunks deleted. */
  chunks: number;
}

/** One retention and cleanup pass. */
export function* retention(
  prefix: string,
  config: ConfigRecord,
  opts: RetentionOptions = {},
): Step<RetentionOutcome> {
  const ck = yield* readCheckpoint(prefix);
  if (!ck.record) return { commits: 0, chunks: 0 };
  // The record of a database created again: not ours to clean (its log is elsewhere anyway).
  if (ck.record.id !== undefined && config.id !== undefined && ck.record.id !== config.id) {
    return { commits: 0, chunks: 0 };
  }
  const floor = ck.record.txid;
  const timing = {
    ...config.timing,
    keepHistoryMs: Math.max(config.timing.keepHistoryMs, opts.keepHistoryMs ?? 0),
  };
  const step = opts.concurrency ?? 32;
  const ns = logNamespace(config);
  const log = yield* listAll(logPrefix(prefix, ns), undefined, logKey(prefix, floor, ns));
  const victims = new Set<number>();
  for (const e of log.entries) {
    const t = txidOfLogKey(prefix, e.key, ns);
    if (t !== undefined && t <= floor && retentionExpired(e.lastModified, log.date, timing)) {
      victims.add(t);
    }
  }
  // Staged chunks, grouped by the txid and put id they were staged for.
  const staged = yield* listAll(stagePrefix(prefix, ns));
  const dirs = new Map<string, { txid: number; putId: string; chunks: ListEntry[] }>();
  for (const e of staged.entries) {
    const p = parseStageKey(prefix, e.key, ns);
    if (!p) continue;
    const id = `${p.txid}.${p.putId}`;
    if (!dirs.has(id)) dirs.set(id, { txid: p.txid, putId: p.putId, chunks: [] });
    dirs.get(id)!.chunks.push(e);
  }
  const open = [...dirs.values()].filter((d) => !victims.has(d.txid));
  const heads: HeadOp[] = open.map((d) => ({ kind: "head", key: logKey(prefix, d.txid, ns) }));
  const doomed: string[] = [];
  for (let k = 0; k < heads.length; k += step) {
    const results = yield* idempotent(heads.slice(k, k + step));
    results.forEach((r, n) => {
      const d = open[k + n];
      expectOk(heads[k + n], r, true);
      if (!isAbsent(r)) {
        const stamp = stampFromMeta(r.meta);
        const referenced = stamp?.putId === d.putId &&
          commitEffective(r.lastModified ?? Infinity, stamp, timing, config.id);
        if (!referenced) doomed.push(...d.chunks.map((c) => c.key));
      } else if (d.txid <= floor) {
        doomed.push(...d.chunks.map((c) => c.key)); // its slot was folded and deleted
      } else {
        for (const c of d.chunks) {
          if (stageExpired(c.lastModified, staged.date, timing)) doomed.push(c.key);
        }
      }
    });
  }
  for (const d of dirs.values()) {
    if (victims.has(d.txid)) doomed.push(...d.chunks.map((c) => c.key));
  }
  const sorted = [...victims].sort((a, b) => a - b);
  const deletes: DeleteOp[] = [
    ...doomed.map((key): DeleteOp => ({ kind: "delete", key })),
    ...sorted.map((t): DeleteOp => ({ kind: "delete", key: logKey(prefix, t, ns) })),
  ];
  for (let k = 0; k < deletes.length; k += step) {
    const ops = deletes.slice(k, k + step);
    (yield* idempotent(ops)).forEach((r, n) => expectOk(ops[n], r, true));
  }
  return { commits: victims.size, chunks: doomed.length };
}

/**
 * The writer's commit. A transaction made on snapshot S commits as txid S+1
 * with ONE create-only PUT of `log/<S+1>` (`If-None-Match: *`): exactly one
 * writer wins each txid. Big transactions first stage their block data as
 * chunk objects (bounded memory); the commit object then only references them.
 *
 * The outcome is never misreported: after a 412 or an unanswered attempt the
 * writer reads the slot's metadata back and recognises its own put id; if no
 * attempt landed it closes the slot with an abort marker (create-only too), so
 * a delayed attempt can never land afterwards. A commit is void (a no-op for
 * everyone) when written more than W after its snapshot was proven current:
 * that makes a paused writer's late PUT harmless, even into a slot retention
 * has emptied.
 *
 * @module
 */

import { blockCount, blockLength } from "../blocks.ts";
import { crc32 } from "./crc32.ts";
import { LogOpenError, LogStoreError } from "./errors.ts";
import type { BlockRef } from "./format.ts";
import { logNamespace, stageKey } from "./keys.ts";
import { type CommitOptions, type CommitOutcome, decide } from "./decide.ts";
import type { DbState } from "./snapshot.ts";
import { clock, dateOf, expectOk, idempotent, type PutOp, request, type Step } from "./store.ts";

/** What a write transaction changed, relative to the state's snapshot. */
export interface Transaction {
  /** Random id of this attempt ([0-9a-z], up to 40 characters; see `newPutId`). */
  putId: string;
  /** Database size in bytes after the transaction. */
  size: number;
  /** Page size after the transaction. */
  pageSize: number;
  /** Full new content of every changed block (each of its length at `size`). */
  blocks: Map<number, Uint8Array>;
}

export type { CommitOptions, CommitOutcome } from "./decide.ts";

/** Throws RangeError unless `tx` holds every block whose content or length changes. */
export function checkTransaction(st: DbState, tx: Transaction): void {
  checkBlocks(st, tx.size, [...tx.blocks].map(([i, b]) => [i, b.length]));
}

/** Throws RangeError unless `blocks` ([index, length]) fit `size` and hold every block whose length changes. */
function checkBlocks(st: DbState, size: number, blocks: [number, number][]): void {
  const bs = st.config.blockSize;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  const seen = new Set<number>();
  for (const [i, length] of blocks) {
    if (length !== blockLength(i, size, bs) || length === 0) {
      throw new RangeError(
        `block ${i} has ${length} bytes, ${blockLength(i, size, bs)} at size ${size}`,
      );
    }
    seen.add(i);
  }
  const from = Math.floor(Math.min(st.size, size) / bs);
  for (let i = from; i < blockCount(size, bs); i++) {
    if (blockLength(i, size, bs) !== blockLength(i, st.size, bs) && !seen.has(i)) {
      throw new RangeError(`block ${i} changes length at size ${size} and must be included`);
    }
  }
}

/**
 * Commits `tx`, made on snapshot `st.head`, as txid `st.head + 1`. On
 * "committed" the state moves to the new txid; on any other outcome it is
 * unchanged (refresh before the next transaction).
 */
export function* commit(
  st: DbState,
  tx: Transaction,
  opts: CommitOptions = {},
): Step<CommitOutcome> {
  if (!st.adopted) throw new LogOpenError(`${st.prefix}: open it with openForWrite before writing`);
  checkTransaction(st, tx);
  const txid = st.head + 1;
  const timing = st.config.timing;
  const entries = [...tx.blocks.entries()].sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((n, [, b]) => n + b.length, 0);
  const refs: BlockRef[] = [];
  const inline: Uint8Array[] = [];
  let stagedAt: number | undefined;
  if (total > (opts.inlineLimit ?? 1 << 20)) {
    const before = yield* clock();
    try {
      stagedAt = yield* stage(st, tx.putId, txid, entries, refs, opts.chunkBytes ?? 8 << 20);
    } catch (e) {
      if (e instanceof LogStoreError) return { kind: "aborted", txid, reason: e.message };
      throw e;
    }
    // A commit written more than X after its staging would be void: do not even try.
    if ((yield* clock()) - before > timing.maxStageAgeMs / 2) {
      return { kind: "aborted", txid, reason: "staging took too long" };
    }
  } else {
    let offset = 0;
    for (const [index, b] of entries) {
      refs.push({ index, offset, length: b.length, crc: crc32(b) });
      inline.push(b);
      offset += b.length;
    }
  }
  return yield* decide(
    st,
    {
      txid,
      putId: tx.putId,
      kind: "commit",
      validatedAt: st.provenAt,
      ...(stagedAt === undefined ? {} : { stagedAt }),
      size: tx.size,
      prevSize: st.size,
      pageSize: tx.pageSize,
      blockSize: st.config.blockSize,
      blocks: refs,
    },
    inline,
    opts,
    tx.blocks,
  );
}

/**
 * A transaction whose block data the caller staged itself, chunk by chunk,
 * with {@linkcode stageChunk} under `stage/<txid>.<putId>/` (to stream a
 * whole database in with bounded memory), committed by
 * {@linkcode commitStaged}.
 */
export interface StagedTransaction {
  /** The txid the chunks were staged for: the state's `head + 1` at commit. */
  txid: number;
  /** Put id the chunks were staged under (see `newPutId`). */
  putId: string;
  /** Database size in bytes after the transaction. */
  size: number;
  /** Page size after the transaction. */
  pageSize: number;
  /** Every changed block, ascending, each in a staged chunk (`chunk` set). */
  refs: BlockRef[];
  /** Earliest server time (`Date`) among the answers to the chunk PUTs. */
  stagedAt: number;
  /** Local clock (a `clock` reading) taken before the first chunk was staged. */
  stagedClock: number;
}

/**
 * PUTs chunk `seq` of a writer's staged data for `txid` (a plain PUT of a
 * unique key, retried freely); returns the server's `Date` of the answer.
 * Throws {@linkcode LogStoreError} when it keeps failing.
 */
export function* stageChunk(
  prefix: string,
  txid: number,
  putId: string,
  seq: number,
  body: Uint8Array,
  ns?: string,
): Step<number> {
  const op: PutOp = { kind: "put", key: stageKey(prefix, txid, putId, seq, ns), body };
  return dateOf(op, expectOk(op, yield* request(op)));
}

/**
 * Commits a transaction staged with {@linkcode stageChunk}, made on snapshot
 * `st.head`, with one create-only PUT of a commit object that references the
 * chunks: the same rules and outcomes as {@linkcode commit}. "conflict" at
 * once (nothing sent) when the state is no longer at `tx.txid - 1`;
 * "aborted" when staging began more than X/2 ago on the local clock (the
 * commit would likely be void). The state's cache drops the blocks written.
 */
export function* commitStaged(
  st: DbState,
  tx: StagedTransaction,
  opts: CommitOptions = {},
): Step<CommitOutcome> {
  if (!st.adopted) throw new LogOpenError(`${st.prefix}: open it with openForWrite before writing`);
  const txid = st.head + 1;
  if (tx.txid !== txid) return { kind: "conflict", txid: tx.txid };
  checkBlocks(st, tx.size, tx.refs.map((r) => [r.index, r.length]));
  tx.refs.forEach((r, k) => {
    if (r.chunk === undefined || (k > 0 && r.index <= tx.refs[k - 1].index)) {
      throw new RangeError(
        `staged refs must be ascending and each name its chunk (block ${r.index})`,
      );
    }
  });
  if ((yield* clock()) - tx.stagedClock > st.config.timing.maxStageAgeMs / 2) {
    return { kind: "aborted", txid, reason: "staging took too long" };
  }
  return yield* decide(
    st,
    {
      txid,
      putId: tx.putId,
      kind: "commit",
      validatedAt: st.provenAt,
      stagedAt: tx.stagedAt,
      size: tx.size,
      prevSize: st.size,
      pageSize: tx.pageSize,
      blockSize: st.config.blockSize,
      blocks: tx.refs,
    },
    [],
    opts,
  );
}

/** PUTs the chunks of a big transaction; returns the earliest server time among them. */
function* stage(
  st: DbState,
  putId: string,
  txid: number,
  entries: [number, Uint8Array][],
  refs: BlockRef[],
  chunkBytes: number,
): Step<number> {
  const chunks: Uint8Array[][] = [[]];
  let fill = 0;
  for (const [index, b] of entries) {
    if (fill > 0 && fill + b.length > chunkBytes) {
      chunks.push([]);
      fill = 0;
    }
    refs.push({ index, offset: fill, length: b.length, crc: crc32(b), chunk: chunks.length - 1 });
    chunks[chunks.length - 1].push(b);
    fill += b.length;
  }
  const ops: PutOp[] = chunks.map((parts, seq) => {
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let pos = 0;
    for (const p of parts) {
      body.set(p, pos);
      pos += p.length;
    }
    return {
      kind: "put",
      key: stageKey(st.prefix, txid, putId, seq, logNamespace(st.config)),
      body,
    };
  });
  const results = yield* idempotent(ops);
  return Math.min(...results.map((r, k) => dateOf(ops[k], expectOk(ops[k], r))));
}

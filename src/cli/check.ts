/**
 * The storage invariants `check` verifies, read directly from S3 (the
 * protocol is in docs/protocol.md): the config and checkpoint record parse;
 * every block below the checkpoint's size is present with its length at the
 * checkpoint (or at the newer txid it is tagged with), blocks past the end
 * are empty tombstones; the log after the checkpoint has contiguous txids;
 * every commit object kept parses (magic, index CRC, block entries), names
 * its own txid, carries its inline blocks with the right CRCs and finds its
 * staged chunks; the log's cold open (size chain of the effective commits)
 * succeeds. A database written by Python (no log) only needs its blocks
 * numbered 0..n-1, all full but the last.
 *
 * @module
 */

import { blockCount, blockIndexOf, blockLength } from "../blocks.ts";
import { runAsync } from "../log/driver.ts";
import { crc32 } from "../log/crc32.ts";
import {
  blockTxid,
  type CheckpointRecord,
  type CommitIndex,
  type ConfigRecord,
  decodeCommitIndex,
} from "../log/format.ts";
import {
  logKey,
  logNamespace,
  logPrefix,
  stageKey,
  stagePrefix,
  txidOfLogKey,
} from "../log/keys.ts";
import { coldOpen } from "../log/open.ts";
import { readCheckpoint, readConfig } from "../log/records.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { S3Client } from "../s3/client.ts";
import type { ListEntry } from "../s3/types.ts";
import { describeError } from "./errors.ts";
import { formatBytes, plural } from "./format.ts";

/** What `check` found in the storage. */
export interface StorageReport {
  /** Whether there is a database at all. */
  exists: boolean;
  /** Block size (config or inferred). */
  blockSize: number;
  /** Things verified, one line each. */
  passed: string[];
  /** Broken invariants, one line each. */
  problems: string[];
  /** Worth knowing, not broken (garbage left by interrupted transactions), one line each. */
  notes: string[];
}

/** Every object under `prefix`. */
async function listAll(client: S3Client, bucket: string, prefix: string): Promise<ListEntry[]> {
  return await Array.fromAsync(client.list(bucket, { prefix }));
}

/** Bytes of `entries`. */
function sum(entries: ListEntry[]): number {
  return entries.reduce((n, e) => n + e.size, 0);
}

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Checks the objects of `prefix` in `bucket`. */
export async function checkStorage(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<StorageReport> {
  const store = new S3LogStore(client, bucket);
  const report: StorageReport = {
    exists: true,
    blockSize: 0,
    passed: [],
    problems: [],
    notes: [],
  };
  const { passed, problems } = report;
  let config: ConfigRecord | null = null;
  let ck: CheckpointRecord | null = null;
  try {
    config = await runAsync(readConfig(prefix), store);
  } catch (e) {
    problems.push(`config: ${describeError(e)}`);
  }
  try {
    ck = (await runAsync(readCheckpoint(prefix), store)).record;
  } catch (e) {
    problems.push(`checkpoint record: ${describeError(e)}`);
  }
  const blocks = new Map<number, number>();
  const foreign: string[] = [];
  for await (const e of client.list(bucket, { prefix: `${prefix}/` })) {
    const i = blockIndexOf(prefix, e.key);
    if (i !== undefined) blocks.set(i, e.size);
    else foreign.push(e.key);
  }
  if (foreign.length) {
    // Another database named inside this one (`<prefix>/...`), or stray objects: Python's
    // sqlite-s3vfs counts every object under `<prefix>/` as a block.
    problems.push(
      `${plural(foreign.length, "object")} under ${prefix}/ that are not its blocks (e.g. ` +
        `${foreign[0]}): a database named inside this one? Python sqlite-s3vfs would read them ` +
        `as blocks; move it to another name`,
    );
  }
  const logTxids: number[] = [];
  const ns = config ? logNamespace(config) : undefined;
  const orphans = new Map<string, number>();
  for await (const e of client.list(bucket, { prefix: logPrefix(prefix) })) {
    const t = txidOfLogKey(prefix, e.key, ns);
    const other = /^([0-9a-z]+)\/\d{20}$/.exec(e.key.slice(logPrefix(prefix).length))?.[1];
    if (t !== undefined) logTxids.push(t);
    else if (other !== undefined && other !== ns) orphans.set(other, (orphans.get(other) ?? 0) + 1);
    else problems.push(`unexpected object in the log: ${e.key}`);
  }
  for (const [id, n] of orphans) {
    passed.push(
      `${n} commit object(s) of a deleted incarnation ${id} under ${logPrefix(prefix, id)} ` +
        "(left by a process that wrote after the database was deleted; safe to delete)",
    );
  }

  if (!config && !ck) {
    // Python's layout: blocks 0..n-1, every one full but the last.
    if (blocks.size === 0) return { ...report, exists: false };
    const sizes = [...blocks.keys()].sort((a, b) => a - b).map((i) => [i, blocks.get(i)!]);
    const bs = sizes[0][1];
    report.blockSize = bs;
    sizes.forEach(([i, size], k) => {
      if (i !== k) {
        problems.push(`block ${k} is missing (blocks are numbered 0..${sizes.length - 1})`);
      } else if (k < sizes.length - 1 && size !== bs) {
        problems.push(`block ${i} holds ${size} bytes, not the block size ${bs}`);
      }
    });
    if (!problems.length) {
      passed.push(`${sizes.length} blocks of ${bs} bytes (no log: Python's layout)`);
    }
    return report;
  }
  if (!config || !ck) {
    problems.push(
      config ? "a config without a checkpoint record" : "a checkpoint record without a config",
    );
    return report;
  }
  const bs = report.blockSize = config.blockSize;
  passed.push(`config: block size ${bs}; checkpoint record: txid ${ck.txid}, ${ck.size} bytes`);

  // Commit objects: parse every one kept, check inline CRCs and staged chunks.
  const commits = new Map<number, CommitIndex>();
  await eachLimit(logTxids, 8, async (txid) => {
    const key = logKey(prefix, txid, ns);
    try {
      const r = await client.get(bucket, key);
      if (r.status !== "ok") return void problems.push(`commit ${txid}: disappeared while checked`);
      const index = decodeCommitIndex(r.body, bs);
      if (index.txid !== txid) return void problems.push(`${key} holds txid ${index.txid}`);
      commits.set(txid, index);
      const dataStart = 24 + new DataView(r.body.buffer, r.body.byteOffset).getUint32(12);
      for (const b of index.blocks) {
        if (b.chunk !== undefined) {
          const head = await client.head(bucket, stageKey(prefix, txid, index.putId, b.chunk, ns));
          if (!head && txid > ck!.txid) {
            problems.push(`commit ${txid}: staged chunk ${b.chunk} of block ${b.index} is missing`);
          } else if (head && head.size < b.offset + b.length) {
            problems.push(
              `commit ${txid}: staged chunk ${b.chunk} is shorter than block ${b.index}`,
            );
          }
          continue;
        }
        const bytes = r.body.subarray(dataStart + b.offset, dataStart + b.offset + b.length);
        if (bytes.length !== b.length || crc32(bytes) !== b.crc) {
          problems.push(`commit ${txid}: block ${b.index} fails its CRC`);
        }
      }
    } catch (e) {
      problems.push(`commit ${txid}: ${describeError(e)}`);
    }
  });
  // Staged chunks no kept commit references: left by transactions that never committed (an
  // interrupted import, a big transaction rolled back); retention deletes them in time.
  const referenced = new Set<string>();
  for (const [txid, index] of commits) {
    for (const b of index.blocks) {
      if (b.chunk !== undefined) referenced.add(stageKey(prefix, txid, index.putId, b.chunk, ns));
    }
  }
  const staged = await listAll(client, bucket, stagePrefix(prefix));
  const garbage = staged.filter((e) => !referenced.has(e.key));
  if (staged.length > garbage.length) {
    const used = staged.filter((e) => referenced.has(e.key));
    passed.push(
      `staged: ${plural(used.length, "chunk")} (${formatBytes(sum(used))}) referenced by commits`,
    );
  }
  if (garbage.length) {
    const mins = Math.round((config.timing.maxStageAgeMs + 2 * config.timing.marginMs) / 60_000);
    report.notes.push(
      `staged garbage: ${plural(garbage.length, "chunk")} (${formatBytes(sum(garbage))}) that ` +
        `no commit references (transactions that never committed); retention deletes them ` +
        `once older than ${mins} min`,
    );
  }

  const after = logTxids.filter((t) => t > ck!.txid).sort((a, b) => a - b);
  const gap = after.findIndex((t, k) => t !== ck!.txid + 1 + k);
  if (gap >= 0) problems.push(`the log has a gap: txid ${ck.txid + 1 + gap} is missing`);
  else {
    passed.push(
      `log: ${plural(logTxids.length, "commit object")} parsed and checked` +
        (after.length
          ? `, txids ${ck.txid + 1}..${ck.txid + after.length} after the checkpoint`
          : ""),
    );
  }

  // Blocks: present with their length at the checkpoint, or at the newer txid they hold.
  const n = blockCount(ck.size, bs);
  const odd: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!blocks.has(i)) problems.push(`block ${i} is missing (the checkpoint's size needs ${n})`);
    else if (blocks.get(i) !== blockLength(i, ck.size, bs)) odd.push(i);
  }
  for (const [i, size] of blocks) if (i >= n && size !== 0) odd.push(i);
  await eachLimit(odd, 16, async (i) => {
    const head = await client.head(bucket, `${prefix}/${String(i).padStart(10, "0")}`);
    if (!head) return;
    const t = blockTxid(head.meta, config!.id);
    const at = t > ck!.txid ? commits.get(t) : undefined;
    if (!at || blockLength(i, at.size, bs) !== head.size) {
      problems.push(
        `block ${i} holds ${head.size} bytes (txid ${t}), not ${blockLength(i, ck!.size, bs)}`,
      );
    }
  });
  if (!problems.some((p) => p.startsWith("block "))) {
    const past = Math.max(0, blocks.size - n);
    passed.push(
      n === 0
        ? "blocks: none needed yet (the log holds the data until a checkpoint folds it)"
        : `blocks: the ${n} the checkpoint's ${ck.size} bytes need are present with the right sizes` +
          (past ? `, ${past} past the end` : ""),
    );
  }

  // The log's own reading: the size chain of the effective commits.
  try {
    const st = await runAsync(coldOpen(prefix, { blockSize: bs }), store);
    if (st) passed.push(`snapshot: txid ${st.head}, ${st.size} bytes`);
  } catch (e) {
    problems.push(`opening the log: ${describeError(e)}`);
  }
  return report;
}

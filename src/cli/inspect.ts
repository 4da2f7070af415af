/**
 * What a database's objects say, read directly from S3 (no SQLite): the
 * config, the checkpoint record, the log (commits after the checkpoint and
 * the history kept before it), the current snapshot through the log's cold
 * open, the SQLite header of block 0 at that snapshot, and the block objects.
 * Used by `info`, `ls` and `check`; also how `ls` finds databases under a
 * prefix (a `<name>.s3vfs/config` object, or Python's `<name>/0000000000`).
 *
 * @module
 */

import { blockIndexOf } from "../blocks.ts";
import { parseSqliteHeader, type SqliteHeader } from "../header.ts";
import { runAsync } from "../log/driver.ts";
import type { CheckpointRecord, ConfigRecord } from "../log/format.ts";
import {
  checkDatabaseName,
  COMPANION_SUFFIX,
  logNamespace,
  logPrefix,
  stagePrefix,
  txidOfLogKey,
} from "../log/keys.ts";
import { coldOpen } from "../log/open.ts";
import { readCheckpoint } from "../log/records.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { DbState } from "../log/snapshot.ts";
import { readBlocks } from "../log/read.ts";
import type { ListEntry, S3Client } from "../s3/client.ts";

/** One database as its objects describe it. */
export interface Inspection {
  /** Database name. */
  prefix: string;
  /** Whether it uses the commit log (false: Python's blocks only, txid 0). */
  adopted: boolean;
  /** The config (provisional when not adopted). */
  config: ConfigRecord;
  /** The checkpoint record (null when not adopted). */
  checkpoint: CheckpointRecord | null;
  /** Current txid (the snapshot a new reader sees). */
  txid: number;
  /** Size in bytes at that txid. */
  size: number;
  /** Page size at that txid (from the header when the log does not say). */
  pageSize: number;
  /** Commit objects after the checkpoint (not yet folded into the blocks). */
  logLength: number;
  /** Every commit object kept, txids ascending (history before the checkpoint included). */
  logTxids: number[];
  /** The SQLite header at the current txid (null for an empty database). */
  header: SqliteHeader | null;
  /** Block objects under `<prefix>/` (tombstones included). */
  blockObjects: number;
  /** Bytes they hold. */
  blockBytes: number;
  /**
   * Staged chunks under `<prefix>.s3vfs/stage/`: data of big transactions and
   * imports, referenced by commits or garbage of ones that never committed
   * (`check` tells which).
   */
  stagedObjects: number;
  /** Bytes they hold. */
  stagedBytes: number;
  /** The log's view, for further reads at this snapshot. */
  state: DbState;
}

/** Every object under `prefix` (a folder: `<name>/`). */
async function listAll(client: S3Client, bucket: string, prefix: string): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const e of client.list(bucket, { prefix })) out.push(e);
  return out;
}

/** Reads the database `prefix` in `bucket`; null when there is none. */
export async function inspect(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<Inspection | null> {
  const store = new S3LogStore(client, bucket);
  const state = await runAsync(coldOpen(prefix), store);
  if (!state) return null;
  const [ck, log, blocks, staged] = await Promise.all([
    runAsync(readCheckpoint(prefix), store),
    listAll(client, bucket, logPrefix(prefix, logNamespace(state.config))),
    listAll(client, bucket, `${prefix}/`),
    listAll(client, bucket, stagePrefix(prefix)),
  ]);
  const ns = logNamespace(state.config);
  const logTxids = log.map((e) => txidOfLogKey(prefix, e.key, ns)).filter((t) => t !== undefined);
  const checkpoint = ck.record;
  let header: SqliteHeader | null = null;
  if (state.size >= 100) {
    const [block0] = await runAsync(readBlocks(state, [0]), store);
    header = parseSqliteHeader(block0.subarray(0, 100));
  }
  const own = blocks.filter((e) => blockIndexOf(prefix, e.key) !== undefined);
  return {
    prefix,
    adopted: state.adopted,
    config: state.config,
    checkpoint,
    txid: state.head,
    size: state.size,
    pageSize: state.pageSize || header?.pageSize || 0,
    logLength: logTxids.filter((t) => t > (checkpoint?.txid ?? 0)).length,
    logTxids,
    header,
    blockObjects: own.length,
    blockBytes: own.reduce((n, e) => n + e.size, 0),
    stagedObjects: staged.length,
    stagedBytes: staged.reduce((n, e) => n + e.size, 0),
    state,
  };
}

const CONFIG_TAIL = `${COMPANION_SUFFIX}/config`;
const FIRST_BLOCK = "/0000000000";

/** Names of the databases stored under `prefix` in `bucket`, sorted. */
export async function findDatabases(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const names = new Set<string>();
  for await (const e of client.list(bucket, prefix ? { prefix } : {})) {
    let name: string | undefined;
    if (e.key.endsWith(CONFIG_TAIL)) name = e.key.slice(0, -CONFIG_TAIL.length);
    else if (e.key.endsWith(FIRST_BLOCK)) name = e.key.slice(0, -FIRST_BLOCK.length);
    if (name === undefined) continue;
    try {
      names.add(checkDatabaseName(name));
    } catch { /* inside a companion folder, or not a database name */ }
  }
  return [...names].sort();
}

/**
 * Opening a database: cold open of a process that knows nothing yet, and the
 * first write, which creates the companion objects (config, then a checkpoint
 * record at txid 0) for a new database or for one written by Python
 * sqlite-s3vfs (base blocks only: txid 0, block size inferred from the blocks).
 *
 * Cold open of a database in the log protocol: GET config and checkpoint
 * (together), LIST the log after the checkpoint, GET those commits while
 * re-reading the checkpoint: 3 round trips.
 *
 * @module
 */

import { blockIndexOf, DEFAULT_BLOCK_SIZE } from "../blocks.ts";
import { DEFAULT_PROBE_BYTES } from "./commits.ts";
import { LogCorruptError, LogOpenError } from "./errors.ts";
import {
  type ConfigRecord,
  encodeCheckpoint,
  encodeConfig,
  FORMAT_VERSION,
  LOG_LAYOUT,
} from "./format.ts";
import { checkDatabaseName, checkpointKey, configKey, newPutId } from "./keys.ts";
import { type CheckpointRead, readCheckpoint, readConfig } from "./records.ts";
import { checkTiming, DEFAULT_TIMING, type Timing } from "./rules.ts";
import { type DbState, loadFrom } from "./snapshot.ts";
import {
  clock,
  expectOk,
  isAbsent,
  isLostRace,
  listAll,
  type ListEntry,
  parallel,
  type PutOp,
  request,
  type Step,
} from "./store.ts";

/** Options of {@linkcode coldOpen} and {@linkcode openForWrite}. */
export interface OpenOptions {
  /** The block size the caller expects (a different recorded one is an error). */
  blockSize?: number;
  /** Timing for a database this call creates (an existing config's wins). */
  timing?: Timing;
  /** Bytes fetched first from each commit object. */
  probeBytes?: number;
  /** The config id of a database this call creates (default: a new random one). */
  id?: string;
}

function checkBlockSize(prefix: string, found: number, wanted: number | undefined): void {
  if (wanted !== undefined && wanted !== found) {
    throw new LogOpenError(
      `${prefix}: the database has block size ${found}, opened with blockSize ${wanted}`,
    );
  }
}

/**
 * Opens a database for reading. Returns null when there is nothing at the
 * prefix. A database without a checkpoint record (Python's) opens at txid 0
 * with `adopted: false`, its size the sum of its blocks.
 */
export function* coldOpen(prefix: string, opts: OpenOptions = {}): Step<DbState | null> {
  checkDatabaseName(prefix);
  const probe = opts.probeBytes ?? DEFAULT_PROBE_BYTES;
  for (let attempt = 0; attempt < 10; attempt++) {
    let [config, ck] = (yield* parallel<ConfigRecord | null | CheckpointRead>([
      readConfig(prefix),
      readCheckpoint(prefix),
    ])) as [ConfigRecord | null, CheckpointRead];
    // The config is written before the checkpoint record: read it again if it was not there yet.
    if (ck.record) config ??= yield* readConfig(prefix);
    if (ck.record && config) {
      checkBlockSize(prefix, config.blockSize, opts.blockSize);
      return yield* loadFrom(prefix, config, ck, probe);
    }
    // Not adopted: the base blocks are the whole database, unless someone adopts it meanwhile. A
    // record without a config is left from a database deleted while it was being created (no
    // process can have committed without the config): the same as none.
    const t0 = yield* clock();
    const listing = yield* listAll(`${prefix}/`);
    const again = yield* readCheckpoint(prefix);
    if (again.record && (yield* readConfig(prefix))) continue;
    const blocks = listing.entries.filter((e) => blockIndexOf(prefix, e.key) !== undefined);
    if (blocks.length === 0) return null;
    const blockSize = inferBlockSize(prefix, blocks, config?.blockSize ?? opts.blockSize);
    if (config) checkBlockSize(prefix, config.blockSize, blockSize);
    checkBlockSize(prefix, blockSize, opts.blockSize);
    return {
      prefix,
      config: config ??
        { version: FORMAT_VERSION, blockSize, timing: checkTiming(opts.timing ?? DEFAULT_TIMING) },
      adopted: false,
      floor: 0,
      head: 0,
      size: blocks.reduce((n, e) => n + e.size, 0),
      pageSize: 0,
      provenAt: again.date,
      provenClock: t0,
      versions: new Map(),
      cache: new Map(),
      probeBytes: probe,
    };
  }
  throw new LogCorruptError(`${prefix}: could not open a consistent state`);
}

/**
 * The block size of a database made of base blocks only: every block but the
 * last is full, blocks are numbered 0..n-1 (empty objects, which Python never
 * writes, are ignored). A single block fits any block size >= its length.
 */
export function inferBlockSize(
  prefix: string,
  blocks: ListEntry[],
  fallback: number | undefined,
): number {
  const real = blocks.filter((e) => e.size > 0);
  real.forEach((e, k) => {
    if (blockIndexOf(prefix, e.key) !== k) {
      throw new LogOpenError(`${prefix}: block objects are not numbered 0..${real.length - 1}`);
    }
  });
  const bs = real.length >= 2 ? real[0].size : Math.max(fallback ?? DEFAULT_BLOCK_SIZE, 1);
  real.forEach((e, k) => {
    if (k < real.length - 1 ? e.size !== bs : e.size > bs) {
      throw new LogOpenError(`${prefix}: block ${k} has ${e.size} bytes, block size is ${bs}`);
    }
  });
  return bs;
}

/**
 * Opens a database for writing, creating it (empty) if absent, or adopting a
 * Python one: PUT the config, then the checkpoint record at txid 0, both
 * create-only (a lost race means another process did it first: use theirs).
 */
export function* openForWrite(prefix: string, opts: OpenOptions = {}): Step<DbState> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const st = yield* coldOpen(prefix, opts);
    if (st?.adopted) return st;
    const config: ConfigRecord = {
      ...(st?.config ?? {
        version: FORMAT_VERSION,
        blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE,
        timing: checkTiming(opts.timing ?? DEFAULT_TIMING),
      }),
      // A new incarnation of the log; if a config exists, its PUT fails and the record takes its
      // id. Never reuse an id read earlier: that config may have been deleted since.
      id: opts.id ?? newPutId(),
      layout: LOG_LAYOUT,
    };
    const putConfig: PutOp = {
      kind: "put",
      key: configKey(prefix),
      body: encodeConfig(config),
      ifNoneMatch: true,
    };
    const rc = yield* request(putConfig);
    let id = config.id;
    if (isLostRace(rc)) {
      const theirs = yield* readConfig(prefix);
      if (!theirs) continue; // deleted again meanwhile: look again
      checkBlockSize(prefix, theirs.blockSize, st ? config.blockSize : opts.blockSize);
      id = theirs.id;
    } else {
      expectOk(putConfig, rc);
    }
    const putCheckpoint: PutOp = {
      kind: "put",
      key: checkpointKey(prefix),
      body: encodeCheckpoint({
        txid: 0,
        size: st?.size ?? 0,
        pageSize: st?.pageSize ?? 0,
        ...(id === undefined ? {} : { id }),
        // Nothing to clean up yet: the first retention pass is due keepHistory/4 from now.
        ...(rc.date === undefined ? {} : { retainedAt: rc.date }),
      }),
      ifNoneMatch: true,
    };
    const rk = yield* request(putCheckpoint);
    if (!isLostRace(rk)) expectOk(putCheckpoint, rk);
    else if (!isLostRace(rc)) {
      // We created the config, yet a record is there: if the config is still ours (not a
      // database deleted and created again since), the record is left from a deleted database
      // (its creator was between its config and its record): replace it.
      const [orphan, now] = (yield* parallel<CheckpointRead | ConfigRecord | null>([
        readCheckpoint(prefix),
        readConfig(prefix),
      ])) as [CheckpointRead, ConfigRecord | null];
      if (now?.id === id && orphan.record && orphan.record.id !== id && orphan.etag) {
        const replace: PutOp = { ...putCheckpoint, ifNoneMatch: undefined, ifMatch: orphan.etag };
        delete replace.ifNoneMatch;
        const rr = yield* request(replace);
        if (!isLostRace(rr) && !isAbsent(rr)) expectOk(replace, rr);
      }
    }
  }
  throw new LogCorruptError(`${prefix}: could not create or adopt the database`);
}

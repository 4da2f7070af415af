/**
 * Reading the two small records of a database: the immutable config object
 * and the checkpoint record (with its ETag, for `If-Match` updates).
 *
 * @module
 */

import {
  type CheckpointRecord,
  type ConfigRecord,
  decodeCheckpoint,
  decodeConfig,
} from "./format.ts";
import { checkpointKey, configKey } from "./keys.ts";
import { DatabaseReplacedError } from "./errors.ts";
import { dateOf, expectOk, type GetOp, isAbsent, parallel, request, type Step } from "./store.ts";

/** The checkpoint record as read (`record` null when there is none). */
export interface CheckpointRead {
  /** The record, or null: the database was never adopted by the log protocol. */
  record: CheckpointRecord | null;
  /** Its ETag. */
  etag?: string;
  /** Server time of the read. */
  date: number;
  /** Its Last-Modified (ms), when it exists. */
  lastModified?: number;
}

/** GETs the checkpoint record. */
export function* readCheckpoint(prefix: string): Step<CheckpointRead> {
  const op: GetOp = { kind: "get", key: checkpointKey(prefix) };
  const r = expectOk(op, yield* request(op), true);
  const date = dateOf(op, r);
  if (isAbsent(r)) return { record: null, date };
  return {
    record: decodeCheckpoint(r.body ?? new Uint8Array(0)),
    etag: r.etag,
    date,
    lastModified: r.lastModified,
  };
}

/** The two records that say which database is there: the checkpoint record and the config. */
export interface Identity {
  /** The checkpoint record. */
  ck: CheckpointRead;
  /** The config (null when absent). */
  config: ConfigRecord | null;
}

/** GETs the checkpoint record and the config together (one round trip). */
export function* readIdentity(prefix: string): Step<Identity> {
  const [ck, config] = (yield* parallel<CheckpointRead | ConfigRecord | null>([
    readCheckpoint(prefix),
    readConfig(prefix),
  ])) as [CheckpointRead, ConfigRecord | null];
  return { ck, config };
}

/**
 * Throws {@linkcode DatabaseReplacedError} unless both the record and the
 * config read are of the log incarnation `config.id`. Both: a create-only
 * PUT delayed past a deletion can bring one of them back, not the other.
 */
export function checkIdentity(prefix: string, config: { id?: string }, id: Identity): void {
  checkIncarnation(prefix, config, id.ck);
  if (!id.config) throw new DatabaseReplacedError({ prefix, opened: config.id });
  if (config.id !== undefined && id.config.id !== config.id) {
    throw new DatabaseReplacedError({ prefix, opened: config.id, found: id.config.id });
  }
}

/**
 * Throws {@linkcode DatabaseReplacedError} unless the record read belongs to
 * the log incarnation `config.id` (a record without an incarnation, of an
 * older release, matches any).
 */
export function checkIncarnation(
  prefix: string,
  config: { id?: string },
  ck: CheckpointRead,
): void {
  const rec = ck.record;
  if (!rec) throw new DatabaseReplacedError({ prefix, opened: config.id });
  if (rec.id !== undefined && config.id !== undefined && rec.id !== config.id) {
    throw new DatabaseReplacedError({ prefix, opened: config.id, found: rec.id });
  }
}

/** GETs the config object (null when absent). */
export function* readConfig(prefix: string): Step<ConfigRecord | null> {
  const op: GetOp = { kind: "get", key: configKey(prefix) };
  const r = expectOk(op, yield* request(op), true);
  return isAbsent(r) ? null : decodeConfig(r.body ?? new Uint8Array(0));
}

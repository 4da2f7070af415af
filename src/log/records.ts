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
import { dateOf, expectOk, type GetOp, isAbsent, request, type Step } from "./store.ts";

/** The checkpoint record as read (`record` null when there is none). */
export interface CheckpointRead {
  /** The record, or null: the database was never adopted by the log protocol. */
  record: CheckpointRecord | null;
  /** Its ETag. */
  etag?: string;
  /** Server time of the read. */
  date: number;
}

/** GETs the checkpoint record. */
export function* readCheckpoint(prefix: string): Step<CheckpointRead> {
  const op: GetOp = { kind: "get", key: checkpointKey(prefix) };
  const r = expectOk(op, yield* request(op), true);
  const date = dateOf(op, r);
  if (isAbsent(r)) return { record: null, date };
  return { record: decodeCheckpoint(r.body ?? new Uint8Array(0)), etag: r.etag, date };
}

/** GETs the config object (null when absent). */
export function* readConfig(prefix: string): Step<ConfigRecord | null> {
  const op: GetOp = { kind: "get", key: configKey(prefix) };
  const r = expectOk(op, yield* request(op), true);
  return isAbsent(r) ? null : decodeConfig(r.body ?? new Uint8Array(0));
}

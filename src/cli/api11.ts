/**
 * The time-travel and lease API of issue 11 (`S3VFS.history`, `restore`,
 * `info`, `uri(prefix, { at })`), as the CLI uses it. The commands reach it
 * through {@linkcode timeTravel}, which reports a clear error when the
 * S3VFS in use does not have a method yet, instead of failing to compile.
 *
 * @module
 */

import { S3VFS } from "../vfs/vfs.ts";
import { CliError } from "./errors.ts";

/** One commit still kept in a database's log. */
export interface HistoryEntry {
  /** Its txid. */
  txid: number;
  /** When it was written (server time). */
  time: Date;
  /** An effective commit, a void one, or an abort marker. */
  kind: "commit" | "void" | "abort";
  /** Size of the commit object. */
  bytes: number;
  /** Database size after it. */
  size: number;
  /** Pages it changed. */
  pagesChanged: number;
}

/** The writer lease of a database. */
export interface LeaseInfo {
  /** Who holds it. */
  holder: string;
  /** Host of the holder. */
  host: string;
  /** Process id of the holder. */
  pid: number;
  /** Lease generation. */
  generation: number;
  /** When it expires unless renewed. */
  expiresAt: Date;
  /** Whether the holder released it. */
  released: boolean;
}

/** A database's state, as `S3VFS.info` reports it. */
export interface DatabaseInfo {
  /** Database name. */
  prefix: string;
  /** Block size. */
  blockSize: number;
  /** Size in bytes at the current txid. */
  size: number;
  /** Page size. */
  pageSize: number;
  /** Current txid. */
  txid: number;
  /** What the base blocks hold. */
  checkpoint: { txid: number; size: number };
  /** Commit objects after the checkpoint. */
  logLength: number;
  /** Oldest txid still readable. */
  historyFrom: number;
  /** The writer lease, if any. */
  lease: LeaseInfo | null;
}

/** The issue-11 methods of S3VFS. */
export interface TimeTravel {
  /** A URI for a read-only snapshot at a past txid or time. */
  uri(prefix: string, options?: { at?: number | Date; staleness?: number }): string;
  /** The commits still kept, oldest first. */
  history(prefix: string): AsyncIterable<HistoryEntry>;
  /** Makes the state at `at` current, as one new commit. */
  restore(prefix: string, options: { at: number | Date }): Promise<{ txid: number; from: number }>;
  /** The database's state, or null when there is none. */
  info(prefix: string): Promise<DatabaseInfo | null>;
}

/** Whether this S3VFS has the issue-11 method `name` (`uri`: whether it takes `at`). */
export function hasTimeTravel(name: keyof TimeTravel): boolean {
  const proto = S3VFS.prototype as unknown as Record<string, unknown>;
  if (name === "uri") return typeof proto.history === "function";
  return typeof proto[name] === "function";
}

/** `vfs` as {@linkcode TimeTravel}; throws a CliError if it lacks `name`. */
export function timeTravel(vfs: S3VFS, name: keyof TimeTravel): TimeTravel {
  if (!hasTimeTravel(name)) {
    throw new CliError(
      `this version of @s3vfs/sqlite has no S3VFS.${name} (time travel, issue 11)`,
    );
  }
  return vfs as unknown as TimeTravel;
}

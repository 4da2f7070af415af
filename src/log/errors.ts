/**
 * Errors of the commit-log protocol. Each one is a {@linkcode VfsError}, so
 * the VFS can hand its `sqliteCode` straight to SQLite.
 *
 * @module
 */

import { VfsError } from "../errors.ts";

/** SQLITE_IOERR_READ: what a read that cannot be served at its snapshot reports. */
const SQLITE_IOERR_READ = 266;
/** SQLITE_CORRUPT. */
const SQLITE_CORRUPT = 11;
/** SQLITE_IOERR. */
const SQLITE_IOERR = 10;
/** SQLITE_CANTOPEN. */
const SQLITE_CANTOPEN = 14;

/**
 * A read transaction met a base block folded from a commit newer than its
 * snapshot (it lasted longer than the checkpoint grace period, or its process
 * was paused). The transaction must be retried; nothing wrong was read.
 */
export class SnapshotTooOldError extends VfsError {
  /** The reader's snapshot txid. */
  readonly snapshot: number;
  /** The block asked for. */
  readonly block: number;
  /** The txid the base block holds. */
  readonly found: number;
  /** Server time (ms) of the response that revealed it. */
  readonly observedAt: number;
  /** Server time (ms) at which the snapshot was proven current. */
  readonly provenAt: number;

  /** Builds the error. */
  constructor(init: {
    snapshot: number;
    block: number;
    found: number;
    observedAt: number;
    provenAt: number;
  }) {
    const age = Math.round((init.observedAt - init.provenAt) / 1000);
    super(
      `snapshot too old: block ${init.block} now holds txid ${init.found}, newer than this ` +
        `transaction's snapshot ${init.snapshot} (taken ${age} s earlier); retry the transaction`,
      { sqliteCode: SQLITE_IOERR_READ },
    );
    this.name = "SnapshotTooOldError";
    this.snapshot = init.snapshot;
    this.block = init.block;
    this.found = init.found;
    this.observedAt = init.observedAt;
    this.provenAt = init.provenAt;
  }
}

/** The stored objects contradict the protocol's invariants (a bug, or foreign writes). */
export class LogCorruptError extends VfsError {
  /** Builds the error. */
  constructor(message: string) {
    super(`corrupt database log: ${message}`, { sqliteCode: SQLITE_CORRUPT });
    this.name = "LogCorruptError";
  }
}

/** A store request kept failing (after retries), or answered something unexpected. */
export class LogStoreError extends VfsError {
  /** HTTP status of the last answer (0: none arrived). */
  readonly status: number;

  /** Builds the error; `cause`: the S3 failure behind it, when there is one. */
  constructor(message: string, status: number, cause?: Error) {
    super(message, { sqliteCode: SQLITE_IOERR, cause });
    this.name = "LogStoreError";
    this.status = status;
  }
}

/** The database cannot be opened as asked: block size mismatch, no database, bad config. */
export class LogOpenError extends VfsError {
  /** Builds the error. */
  constructor(message: string) {
    super(message, { sqliteCode: SQLITE_CANTOPEN });
    this.name = "LogOpenError";
  }
}

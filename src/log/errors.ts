/**
 * Errors of the commit-log protocol. Each one is a {@linkcode VfsError}, so
 * the VFS can hand its `sqliteCode` straight to SQLite.
 *
 * @module
 */

import { VfsError } from "../errors.ts";

/** SQLITE_BUSY: another process holds the writer lease. */
const SQLITE_BUSY = 5;
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

/**
 * The database was deleted, or deleted and created again, after this process
 * opened it: its checkpoint record is gone or names another incarnation of
 * the log. What this process knows (its snapshot, its cache) belongs to the
 * old database; close every connection to it and open it again.
 */
export class DatabaseReplacedError extends VfsError {
  /** Database name. */
  readonly prefix: string;
  /** The incarnation (config id) this process opened. */
  readonly opened?: string;
  /** The incarnation found now (undefined: the database is gone). */
  readonly found?: string;

  /** Builds the error. */
  constructor(init: { prefix: string; opened?: string; found?: string }) {
    super(
      `${init.prefix} was ${
        init.found === undefined ? "deleted" : "deleted and created again"
      } after this process opened it (log incarnation ${init.opened ?? "?"}${
        init.found === undefined ? "" : `, now ${init.found}`
      }); nothing more is read or written through the old state: close every connection ` +
        "to it and open it again",
      { sqliteCode: SQLITE_IOERR },
    );
    this.name = "DatabaseReplacedError";
    this.prefix = init.prefix;
    if (init.opened !== undefined) this.opened = init.opened;
    if (init.found !== undefined) this.found = init.found;
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

/** "15 min", "6 s", "1 h 30 min": a duration for messages. */
function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [h ? `${h} h` : "", min ? `${min} min` : "", rest ? `${rest} s` : ""]
    .filter((p) => p).join(" ");
}

/**
 * A past snapshot (time travel, ./history.ts) asks for history retention has
 * deleted: a txid or time older than the kept commits, or a block whose
 * version at that txid was only in a deleted commit object (the base block
 * now holds a newer one). Nothing wrong was read.
 */
export class HistoryGoneError extends VfsError {
  /** Database name. */
  readonly prefix: string;
  /** The snapshot asked for. */
  readonly txid: number;
  /** Oldest txid a snapshot can be opened at, when known. */
  readonly oldest?: number;
  /** The block that cannot be read at `txid` (found by a read, or by the open). */
  readonly block?: number;
  /** The txid that block now holds. */
  readonly found?: number;

  /**
   * Builds the error. `at`: how the snapshot was asked for when not by txid
   * (e.g. an ISO date); `keepHistoryMs`: the database's R, for the message;
   * `atOpen`: the open found the block gone (else a read did).
   */
  constructor(init: {
    prefix: string;
    txid: number;
    keepHistoryMs: number;
    oldest?: number;
    at?: string;
    block?: number;
    found?: number;
    atOpen?: boolean;
  }) {
    const keep = `keepHistory ${duration(init.keepHistoryMs)}`;
    const what = init.at ? `${init.at} (txid ${init.txid})` : `txid ${init.txid}`;
    const message = init.block !== undefined && init.atOpen
      ? `${what} of ${init.prefix} cannot be opened: block ${init.block}'s version at txid ` +
        `${init.txid} is gone (its base block holds txid ${init.found} and the commit that ` +
        `wrote it before is no longer kept); history is complete only for snapshots whose ` +
        `blocks were all written by kept commits or not rewritten by a folded one since ` +
        `(\`complete\` in the history); a database created with timing.graceMs equal to ` +
        `timing.keepHistoryMs keeps every snapshot of the last keepHistory complete (${keep})`
      : init.block !== undefined
      ? `block ${init.block} of ${init.prefix} at txid ${init.txid} is no longer kept: the base ` +
        `block now holds txid ${init.found} and the commit that wrote its version at txid ` +
        `${init.txid} was deleted (${keep})`
      : `${init.at ?? what} of ${init.prefix} is no longer kept: history starts at txid ` +
        `${init.oldest} (${keep})`;
    const read = init.block !== undefined && !init.atOpen;
    super(message, { sqliteCode: read ? SQLITE_IOERR_READ : SQLITE_CANTOPEN });
    this.name = "HistoryGoneError";
    this.prefix = init.prefix;
    this.txid = init.txid;
    if (init.oldest !== undefined) this.oldest = init.oldest;
    if (init.block !== undefined) this.block = init.block;
    if (init.found !== undefined) this.found = init.found;
  }
}

/** SQLITE_READONLY: writes are refused, reads keep working. */
const SQLITE_READONLY = 8;

/**
 * The store does not enforce what concurrent writers rely on (conditional
 * PUTs, found by the store check before the first write): nothing was
 * written, reads keep working. `s3vfs doctor` shows the whole check.
 */
export class UnsafeStoreError extends VfsError {
  /** The store's endpoint. */
  readonly endpoint: string;
  /** The bucket. */
  readonly bucket: string;
  /** The capabilities it lacks (ids of src/log/capabilities.ts). */
  readonly missing: string[];

  /** Builds the error; `detail` says what each missing capability answered. */
  constructor(init: { endpoint: string; bucket: string; missing: string[]; detail: string }) {
    super(
      `s3vfs: refusing to write to bucket ${init.bucket} at ${init.endpoint}: ${init.detail}. ` +
        "Nothing was written; reads keep working. Use a store that enforces conditional writes " +
        "(`s3vfs doctor` checks one), or, only if exactly one process ever writes this bucket, " +
        'set the S3VFS option storeCheck: "single-writer"',
      { sqliteCode: SQLITE_READONLY },
    );
    this.name = "UnsafeStoreError";
    this.endpoint = init.endpoint;
    this.bucket = init.bucket;
    this.missing = init.missing;
  }
}

/**
 * An answer the store cannot have given if it enforced conditional writes:
 * e.g. a 2xx to a create-only PUT of a commit whose slot then holds another
 * writer's commit. Two writers were told they won; `s3vfs doctor` checks the
 * store.
 */
export class StoreContractError extends VfsError {
  /** Builds the error. */
  constructor(message: string) {
    super(
      `${message}: the store does not enforce conditional writes (\`s3vfs doctor\` checks it)`,
      {
        sqliteCode: SQLITE_IOERR,
      },
    );
    this.name = "StoreContractError";
  }
}

/**
 * Another process holds the writer lease of a database: a write waits (the
 * VFS answers SQLITE_BUSY, so `PRAGMA busy_timeout` retries) until it is
 * given up or expires. `S3VFS.lastError` after a "database is locked".
 */
export class LeaseBusyError extends VfsError {
  /** The database. */
  readonly prefix: string;
  /** The holder's host name ("" when it did not record one). */
  readonly host: string;
  /** The holder's process id. */
  readonly pid: number;
  /** Server time (ms) at which the lease stops counting unless renewed, when known. */
  readonly expiresAt: number | undefined;

  /** Builds the error. */
  constructor(o: { prefix: string; host: string; pid: number; expiresAt?: number }) {
    const until = o.expiresAt === undefined
      ? ""
      : ` until ${new Date(o.expiresAt).toISOString()} unless renewed`;
    super(
      `s3vfs: ${o.prefix}: the writer lease is held by ${o.host || "?"} pid ${o.pid}${until}; ` +
        "the database is busy",
      { sqliteCode: SQLITE_BUSY },
    );
    this.name = "LeaseBusyError";
    this.prefix = o.prefix;
    this.host = o.host;
    this.pid = o.pid;
    this.expiresAt = o.expiresAt;
  }
}

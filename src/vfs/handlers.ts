/**
 * The handlers of one S3VFS: one per `sqlite3_vfs` / `sqlite3_io_methods`
 * method, each with a one-line comment, as in SQLite's test_demovfs.c. Plain
 * TypeScript: src/vfs/facade.ts turns the pointers into strings, byte arrays
 * and numbers before calling them, and turns an exception into the method's
 * SQLITE_IOERR_* code through {@link S3Handlers.fail}, keeping the cause in
 * `lastError`.
 *
 * Main databases follow the commit-log protocol (src/vfs/log_file.ts,
 * docs/protocol.md): a snapshot per read transaction, COMMIT as one
 * create-only object. Rollback journals are local temporary files of the
 * default VFS: never stored in S3, so no process can take another's journal
 * for a hot one, and a crash leaves nothing to roll back.
 *
 * What is left out: WAL (no shared-memory methods), memory mapping. Temporary
 * files and the OS-level methods are the default VFS's.
 *
 * @module
 */

import { S3Error, VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { listHistory, openInListing, resolveIn } from "../log/history.ts";
import { checkDatabaseName } from "../log/keys.ts";
import { DEFAULT_VFS, DEFAULT_VFS_TEMP, type VfsHandlers } from "./facade.ts";
import { type LogContext, LogFile, type ReadCursor } from "./log_file.ts";

/** One open database file. */
interface Handle {
  id: number;
  file: LogFile;
  /** The file's epoch when opened: a later one means the database was replaced since. */
  epoch: number;
  level: number;
  cursor: ReadCursor;
  /** Staleness bound of this connection's read transactions (ms; undefined: the VFS's). */
  staleness?: number;
}

const encoder = new TextEncoder();

/** Writes `text` as a NUL-terminated C string into `out`, cut to fit. */
function setCString(out: Uint8Array, text: string): void {
  const bytes = encoder.encode(text).subarray(0, out.length - 1);
  out.set(bytes);
  out[bytes.length] = 0;
}

/** Journals: local temporary files, invisible to every other process. */
const JOURNALS = F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_SUPER_JOURNAL | F.SQLITE_OPEN_WAL;
/** Names SQLite derives for a database's other files; refused as database names. */
const COMPANION_SUFFIXES = ["-journal", "-wal", "-shm"];
/** Writes reach S3 only at COMMIT, as one object: appends are safe, nothing tears. */
const DEVICE_CHARACTERISTICS = F.SQLITE_IOCAP_SAFE_APPEND | F.SQLITE_IOCAP_SEQUENTIAL |
  F.SQLITE_IOCAP_POWERSAFE_OVERWRITE;

/**
 * Checks a database name (the key prefix) before any request: the protocol's
 * rules (no leading or trailing "/", no empty, "." or ".." segment, no
 * control character, no segment ending in ".s3vfs") and no name SQLite uses
 * for a database's other files. Throws a TypeError naming the problem.
 */
export function checkName(name: string): string {
  checkDatabaseName(name);
  const suffix = COMPANION_SUFFIXES.find((x) => name.endsWith(x));
  if (suffix) {
    throw new TypeError(
      `database name ${JSON.stringify(name)} ends in "${suffix}", which SQLite (and Python ` +
        "sqlite-s3vfs) use for a database's other files",
    );
  }
  return name;
}

/** A non-negative integer URI parameter (undefined when absent); TypeError otherwise. */
function uriNumber(params: Map<string, string>, key: string): number | undefined {
  const v = params.get(key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw new VfsError(`s3vfs: ${key}=${v} must be a whole number of ms`, {
      sqliteCode: F.SQLITE_CANTOPEN,
    });
  }
  return n;
}

/** The `at` URI parameter: a txid (digits) or a time (ISO 8601 or ms since the epoch with a `ms` suffix). */
function parseAt(v: string): number | Date {
  if (/^\d+$/.test(v)) return Number(v);
  const ms = /^(\d+)ms$/.exec(v);
  const d = ms ? new Date(Number(ms[1])) : new Date(v);
  if (Number.isNaN(d.getTime())) {
    throw new VfsError(`s3vfs: at=${v} is neither a txid nor a time`, {
      sqliteCode: F.SQLITE_CANTOPEN,
    });
  }
  return d;
}

/** What the handlers need from their S3VFS. */
export interface HandlersInit {
  /** Bucket (for messages). */
  bucket: string;
  /** Shared by every database. */
  context: LogContext;
}

/** The open files and the handlers of one VFS. */
export class S3Handlers implements VfsHandlers {
  /** The last failure inside a callback. */
  lastError: Error | undefined;
  /** Set when the owning VFS closed. */
  closed = false;
  #init: HandlersInit;
  #files = new Map<string, LogFile>();
  #handles = new Map<number, Handle>();
  #lastCode: number = F.SQLITE_OK;

  /** Handlers over `init`'s databases; nothing is fetched until SQLite asks. */
  constructor(init: HandlersInit) {
    this.#init = init;
  }

  /** Number of files open through this VFS. */
  get openFiles(): number {
    return this.#handles.size;
  }

  /** Called when the last open file closes (see S3VFS's disposal). */
  onIdle: (() => void) | undefined;

  /** Gives up every writer lease this VFS holds (at process exit). */
  releaseLeasesAtExit(): void {
    for (const f of this.#files.values()) f.releaseLeaseAtExit();
  }

  /** Forgets in-memory state of `prefix`. Throws if it is open. */
  forget(prefix: string): void {
    const f = this.#files.get(prefix);
    if (!f) return;
    if (f.openCount > 0) throw new VfsError(`${prefix} is open in a connection`);
    this.#init.context.cache.invalidate(f.id);
    this.#files.delete(prefix);
  }

  /** The database `prefix` as this VFS knows it (state kept across connections). */
  file(prefix: string): LogFile {
    let f = this.#files.get(prefix);
    if (!f) {
      f = new LogFile(prefix, this.#init.context);
      this.#files.set(prefix, f);
    }
    return f;
  }

  /**
   * The database `prefix` as it was at `at` (a txid or a time): a frozen,
   * read-only state shared by the connections that open the same txid.
   * Throws (SQLITE_CANTOPEN) when that snapshot is no longer kept.
   */
  pastFile(prefix: string, at: number | Date): LogFile {
    const ctx = this.#init.context;
    const open = typeof at === "number" ? this.#files.get(`${prefix}\0@${at}`) : undefined;
    if (open) return open; // that txid is already open here: no need to list the history again
    const listing = ctx.run(listHistory(prefix));
    if (!listing) {
      throw new VfsError(`no database at s3://${this.#init.bucket}/${prefix}`, {
        sqliteCode: F.SQLITE_CANTOPEN,
      });
    }
    let txid: number;
    try {
      txid = resolveIn(listing, at);
    } catch (e) {
      if (e instanceof RangeError) {
        throw new VfsError(`s3vfs: ${prefix}: ${e.message}`, { sqliteCode: F.SQLITE_CANTOPEN });
      }
      throw e;
    }
    const key = `${prefix}\0@${txid}`;
    let f = this.#files.get(key);
    if (!f) {
      f = new LogFile(prefix, ctx, ctx.run(openInListing(listing, txid)));
      this.#files.set(key, f);
    }
    return f;
  }

  /** Forgets a past snapshot no connection has open (they are opened per txid, so many). */
  #dropPast(f: LogFile): void {
    for (const [key, g] of this.#files) {
      if (g === f) {
        this.#files.delete(key);
        this.#init.context.cache.invalidate(f.id);
      }
    }
  }

  /** Keeps a callback's failure; the code is the error's own unless it is plain SQLITE_IOERR. */
  fail(e: unknown, code: number): number {
    const err = e instanceof Error ? e : new Error(String(e));
    // The S3 failure behind a protocol error is what users need: "S3 503 SlowDown on GET ...".
    this.lastError = err.cause instanceof S3Error ? err.cause : err;
    this.#lastCode = err instanceof VfsError && err.sqliteCode !== F.SQLITE_IOERR
      ? err.sqliteCode
      : code;
    return this.#lastCode;
  }

  #handle(fileId: number): Handle {
    const h = this.#handles.get(fileId);
    if (!h) throw new VfsError("unknown file handle");
    return h;
  }

  /** The handle, unless the database was deleted or replaced since it was opened (then that error). */
  #live(fileId: number): Handle {
    const h = this.#handle(fileId);
    if (h.epoch !== h.file.epoch && h.file.replacedError) throw h.file.replacedError;
    return h;
  }

  // -------------------------------------------------------------------------
  // VFS methods

  /** xOpen: main databases through the log; journals and temp files are local. */
  xOpen(
    name: string | null,
    fileId: number,
    flags: number,
    outFlags: DataView | null,
    params: Map<string, string> = new Map(),
  ): number | typeof DEFAULT_VFS | typeof DEFAULT_VFS_TEMP {
    if (name === null || !(flags & F.SQLITE_OPEN_MAIN_DB)) {
      return name !== null && (flags & JOURNALS) ? DEFAULT_VFS_TEMP : DEFAULT_VFS;
    }
    if (this.closed) throw new VfsError("S3VFS is closed", { sqliteCode: F.SQLITE_CANTOPEN });
    try {
      checkName(name);
    } catch (e) {
      throw new VfsError(`s3vfs: ${(e as Error).message}`, { sqliteCode: F.SQLITE_CANTOPEN });
    }
    const staleness = uriNumber(params, "staleness");
    const at = params.get("at");
    if (at !== undefined) {
      const file = this.pastFile(name, parseAt(at));
      this.#handles.set(fileId, {
        id: fileId,
        file,
        epoch: file.epoch,
        level: F.SQLITE_LOCK_NONE,
        cursor: { last: -1, run: 0 },
      });
      file.openCount++;
      const ro = (flags & ~(F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE)) |
        F.SQLITE_OPEN_READONLY;
      outFlags?.setInt32(0, ro, true);
      return F.SQLITE_OK;
    }
    const file = this.file(name);
    if (!(flags & F.SQLITE_OPEN_CREATE) && !file.exists()) {
      throw new VfsError(
        `no database at s3://${this.#init.bucket}/${name} (open with SQLITE_OPEN_CREATE to make one)`,
        { sqliteCode: F.SQLITE_CANTOPEN },
      );
    }
    file.exists(); // the cold open happens here, not in the first read
    if (flags & F.SQLITE_OPEN_READWRITE) {
      file.writable = true;
      file.maintainIfDue(); // a short-lived writer folds what earlier ones left
    }
    this.#handles.set(fileId, {
      id: fileId,
      file,
      epoch: file.epoch,
      level: F.SQLITE_LOCK_NONE,
      cursor: { last: -1, run: 0 },
      staleness,
    });
    file.openCount++;
    outFlags?.setInt32(0, flags, true);
    return F.SQLITE_OK;
  }

  /** xDelete: journals are local temp files, gone when closed; nothing in S3 to delete. */
  xDelete(_name: string): number {
    return F.SQLITE_OK;
  }

  /** xAccess: no journal or WAL is ever visible to SQLite here (none is hot); a database exists once created. */
  xAccess(name: string, flags: number, out: DataView): number {
    let exists = true;
    if (flags === F.SQLITE_ACCESS_EXISTS) {
      exists = !COMPANION_SUFFIXES.some((x) => name.endsWith(x)) && this.file(name).exists();
    }
    out.setInt32(0, exists ? 1 : 0, true);
    return F.SQLITE_OK;
  }

  /** xFullPathname: the key prefix is the name, unchanged. */
  xFullPathname(name: string, out: Uint8Array): number {
    if (encoder.encode(name).length + 1 > out.length) return F.SQLITE_CANTOPEN;
    setCString(out, name);
    return F.SQLITE_OK;
  }

  /** xGetLastError: the message of the last failure (S3 status, code, key). */
  xGetLastError(out: Uint8Array): number {
    if (out.length > 0 && this.lastError) setCString(out, this.lastError.message);
    return this.#lastCode;
  }

  // -------------------------------------------------------------------------
  // io methods (main databases only)

  /** xClose: drop the lock and forget the handle (an unfinished transaction is discarded). */
  xClose(fileId: number): number {
    const h = this.#handle(fileId);
    if (h.level > F.SQLITE_LOCK_SHARED) h.file.endWrite();
    h.file.locks.unlock(h, F.SQLITE_LOCK_NONE);
    h.file.openCount--;
    this.#handles.delete(h.id);
    if (h.file.openCount === 0) {
      h.file.releaseLease();
      h.file.maintainIfDue();
    }
    if (h.file.openCount === 0 && h.file.frozen) this.#dropPast(h.file);
    if (this.#handles.size === 0) this.onIdle?.();
    return F.SQLITE_OK;
  }

  /** xRead: at the snapshot, from the transaction's blocks, the cache, or one batch of GETs; short reads zero-fill. */
  xRead(fileId: number, dst: Uint8Array, offset: number): number {
    const h = this.#live(fileId);
    const got = h.file.read(dst, offset, h.cursor);
    return got < dst.length ? F.SQLITE_IOERR_SHORT_READ : F.SQLITE_OK;
  }

  /** xWrite: into the transaction's blocks, sent at COMMIT. */
  xWrite(fileId: number, src: Uint8Array, offset: number): number {
    this.#live(fileId).file.write(src, offset);
    return F.SQLITE_OK;
  }

  /** xTruncate: the transaction's new size. */
  xTruncate(fileId: number, size: number): number {
    this.#live(fileId).file.truncate(size);
    return F.SQLITE_OK;
  }

  /** xSync: COMMIT, one create-only commit object (SQLITE_BUSY_SNAPSHOT when another came first). */
  xSync(fileId: number, _flags: number): number {
    this.#live(fileId).file.sync();
    return F.SQLITE_OK;
  }

  /** xFileSize: the size at the snapshot (or the transaction's), no request. */
  xFileSize(fileId: number, out: DataView): number {
    out.setBigInt64(0, BigInt(this.#live(fileId).file.size()), true);
    return F.SQLITE_OK;
  }

  /** xLock: the lock state machine; the first SHARED lock in the process refreshes the snapshot. */
  xLock(fileId: number, level: number): number {
    const h = this.#live(fileId);
    const first = level === F.SQLITE_LOCK_SHARED && h.level === F.SQLITE_LOCK_NONE &&
      h.file.locks.sharedCount === 0;
    const before = h.level;
    // The writer lease first (SQLITE_BUSY while another process holds it), so that a lock
    // SQLite retries after a BUSY (left at PENDING) still has it.
    if (before < F.SQLITE_LOCK_RESERVED && level >= F.SQLITE_LOCK_RESERVED) h.file.beginWrite();
    if (!h.file.locks.lock(h, level)) return F.SQLITE_BUSY;
    try {
      if (first) h.file.beginRead(h.staleness);
    } catch (e) {
      h.file.locks.unlock(h, before);
      throw e;
    }
    return F.SQLITE_OK;
  }

  /** xUnlock: leaving a write lock ends the write transaction (committed or rolled back). */
  xUnlock(fileId: number, level: number): number {
    const h = this.#handle(fileId);
    if (h.level > F.SQLITE_LOCK_SHARED && level <= F.SQLITE_LOCK_SHARED) h.file.endWrite();
    h.file.locks.unlock(h, level);
    return F.SQLITE_OK;
  }

  /** xCheckReservedLock: whether any connection of this process holds RESERVED or above. */
  xCheckReservedLock(fileId: number, out: DataView): number {
    out.setInt32(0, this.#handle(fileId).file.locks.reservedHeld() ? 1 : 0, true);
    return F.SQLITE_OK;
  }

  /** xFileControl: COMMIT_PHASETWO commits a truncation SQLite made after the sync; SYNC and SIZE_HINT need nothing. */
  xFileControl(fileId: number, op: number): number {
    switch (op) {
      case F.SQLITE_FCNTL_COMMIT_PHASETWO:
        this.#handle(fileId).file.sync();
        return F.SQLITE_OK;
      case F.SQLITE_FCNTL_SYNC:
      case F.SQLITE_FCNTL_SIZE_HINT:
        return F.SQLITE_OK;
      default:
        return F.SQLITE_NOTFOUND;
    }
  }

  /**
   * xFileControl(SQLITE_FCNTL_PRAGMA): the `s3vfs_*` PRAGMAs. `s3vfs_txid`:
   * the snapshot's txid; `s3vfs_checkpoint`: fold the log now (returns the
   * outcome); `s3vfs_lease`: who holds the writer lease (`=release` gives it
   * up); `s3vfs_staleness[=ms]`: this connection's staleness bound.
   */
  xPragma(fileId: number, name: string, value: string | null): string | null | undefined {
    const h = this.#handle(fileId);
    switch (name.toLowerCase()) {
      case "s3vfs_txid":
        return String(h.file.head);
      case "s3vfs_checkpoint":
        return JSON.stringify(h.file.checkpointNow());
      case "s3vfs_lease":
        if (value !== null) {
          if (value.toLowerCase() !== "release") {
            throw new TypeError(`PRAGMA s3vfs_lease takes only "release", got ${value}`);
          }
          h.file.releaseLease();
        }
        return h.file.describeLease();
      case "s3vfs_staleness":
        if (value !== null) {
          h.staleness = uriNumber(new Map([["s3vfs_staleness", value]]), "s3vfs_staleness");
        }
        return String(h.staleness ?? this.#init.context.staleness);
      default:
        return undefined;
    }
  }

  /** xSectorSize: 512, so SQLite never journals big sectors. */
  xSectorSize(_fileId: number): number {
    return 512;
  }

  /** xDeviceCharacteristics: safe append, sequential, powersafe overwrite. */
  xDeviceCharacteristics(_fileId: number): number {
    return DEVICE_CHARACTERISTICS;
  }
}

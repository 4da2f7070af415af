/**
 * The handlers of one S3VFS: one per `sqlite3_vfs` / `sqlite3_io_methods`
 * method, each with a one-line comment, as in SQLite's test_demovfs.c. Plain
 * TypeScript: src/vfs/facade.ts turns the pointers into strings, byte arrays
 * and numbers before calling them, and turns an exception into the method's
 * SQLITE_IOERR_* code through {@link S3Handlers.fail}, keeping the cause in
 * `lastError`.
 *
 * What is left out: WAL (no shared-memory methods), memory mapping, and locks
 * across processes (the lock state machine is per process). Temporary files
 * and the OS-level methods are the default VFS's.
 *
 * @module
 */

import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { DEFAULT_VFS, type VfsHandlers } from "./facade.ts";
import { FileStore, type ReadCursor, type StoreContext } from "./store.ts";

/** One open file. */
interface Handle {
  id: number;
  store: FileStore;
  level: number;
  cursor: ReadCursor;
  isMain: boolean;
}

const encoder = new TextEncoder();

/** Writes `text` as a NUL-terminated C string into `out`, cut to fit. */
function setCString(out: Uint8Array, text: string): void {
  const bytes = encoder.encode(text).subarray(0, out.length - 1);
  out.set(bytes);
  out[bytes.length] = 0;
}

/** Files this VFS keeps in S3; everything else (temp files) goes to the default VFS. */
const OURS = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_SUPER_JOURNAL |
  F.SQLITE_OPEN_WAL;
/**
 * Appends are safe (no journal header rewrite), writes are ordered by the VFS
 * itself (journal flushed before the database), no torn 512-byte writes.
 */
const DEVICE_CHARACTERISTICS = F.SQLITE_IOCAP_SAFE_APPEND | F.SQLITE_IOCAP_SEQUENTIAL |
  F.SQLITE_IOCAP_POWERSAFE_OVERWRITE;

/** What the handlers need from their S3VFS. */
export interface HandlersInit {
  /** Bucket (for messages). */
  bucket: string;
  /** Block size. */
  blockSize: number;
  /** Dirty bytes before an early write-back. */
  maxDirty: number;
  /** Shared by every file store. */
  storeContext: StoreContext;
}

/** The open files and the handlers of one VFS. */
export class S3Handlers implements VfsHandlers {
  /** The last failure inside a callback. */
  lastError: Error | undefined;
  /** Set when the owning VFS closed. */
  closed = false;
  #init: HandlersInit;
  #stores = new Map<string, FileStore>();
  #handles = new Map<number, Handle>();
  #lastCode: number = F.SQLITE_OK;

  /** Handlers over `init`'s stores; nothing is fetched until SQLite asks. */
  constructor(init: HandlersInit) {
    this.#init = init;
  }

  /** Number of files open through this VFS. */
  get openFiles(): number {
    return this.#handles.size;
  }

  /** Forgets in-memory state of `prefix` (and its journal). Throws if it is open. */
  forget(prefix: string): void {
    for (const name of [prefix, prefix + "-journal"]) {
      const st = this.#stores.get(name);
      if (!st) continue;
      if (st.openCount > 0) throw new VfsError(`${name} is open in a connection`);
      this.#init.storeContext.cache.invalidate(st.id);
      this.#stores.delete(name);
    }
  }

  /** Keeps a callback's failure; the code is the error's own unless it is plain SQLITE_IOERR. */
  fail(e: unknown, code: number): number {
    const err = e instanceof Error ? e : new Error(String(e));
    this.lastError = err;
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

  #store(name: string): FileStore {
    let st = this.#stores.get(name);
    if (!st) {
      st = new FileStore(name, this.#init.storeContext);
      // This VFS never creates a WAL (no shared memory): answer for it without asking S3.
      if (name.endsWith("-wal")) st.assumeAbsent();
      this.#stores.set(name, st);
    }
    return st;
  }

  /** Flushes the journal of `db` (if any), then `db` itself: the journal is always durable first. */
  #flushDb(db: FileStore, keepBlock0 = false): void {
    this.#stores.get(db.name + "-journal")?.flush();
    db.flush(keepBlock0);
  }

  // -------------------------------------------------------------------------
  // VFS methods

  /** xOpen: S3 for main databases and journals; temp files go to the default VFS. */
  xOpen(
    name: string | null,
    fileId: number,
    flags: number,
    outFlags: DataView | null,
  ): number | typeof DEFAULT_VFS {
    if (name === null || !(flags & OURS)) return DEFAULT_VFS;
    if (this.closed) throw new VfsError("S3VFS is closed", { sqliteCode: F.SQLITE_CANTOPEN });
    const store = this.#store(name);
    const isMain = (flags & F.SQLITE_OPEN_MAIN_DB) !== 0;
    if (isMain && !(flags & F.SQLITE_OPEN_CREATE) && !store.exists()) {
      throw new VfsError(
        `no database at s3://${this.#init.bucket}/${name}/ (open with SQLITE_OPEN_CREATE to make one)`,
        { sqliteCode: F.SQLITE_CANTOPEN },
      );
    }
    store.known();
    const cursor = { last: -1, run: 0 };
    this.#handles.set(fileId, { id: fileId, store, level: F.SQLITE_LOCK_NONE, cursor, isMain });
    store.openCount++;
    outFlags?.setInt32(0, flags, true);
    return F.SQLITE_OK;
  }

  /** xDelete: the database's pending blocks first, then journal block 0 (the commit point), then the rest. */
  xDelete(name: string): number {
    if (name.endsWith("-journal")) {
      const db = this.#stores.get(name.slice(0, -"-journal".length));
      if (db) this.#flushDb(db);
    }
    this.#store(name).deleteAll();
    return F.SQLITE_OK;
  }

  /** xAccess: a file exists when it has at least one byte (as sqlite-s3vfs); tracked after the first LIST. */
  xAccess(name: string, flags: number, out: DataView): number {
    const exists = flags === F.SQLITE_ACCESS_EXISTS ? this.#store(name).exists() : true;
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
  // io methods

  /** xClose: write back what is pending, drop the lock, forget the handle. */
  xClose(fileId: number): number {
    const h = this.#handle(fileId);
    try {
      if (h.isMain) this.#flushDb(h.store);
      else h.store.flush();
    } finally {
      h.store.locks.unlock(h, F.SQLITE_LOCK_NONE);
      h.store.openCount--;
      this.#handles.delete(h.id);
    }
    return F.SQLITE_OK;
  }

  /** xRead: from dirty blocks, the cache, or one batch of GETs (with read-ahead); short reads zero-fill. */
  xRead(fileId: number, dst: Uint8Array, offset: number): number {
    const h = this.#handle(fileId);
    const got = h.store.read(dst, offset, h.cursor);
    return got < dst.length ? F.SQLITE_IOERR_SHORT_READ : F.SQLITE_OK;
  }

  /** xWrite: into dirty blocks, written back at xSync (early, except block 0, past maxDirtyBytes). */
  xWrite(fileId: number, src: Uint8Array, offset: number): number {
    const h = this.#handle(fileId);
    h.store.write(src, offset);
    if (h.isMain && h.store.dirty.size * this.#init.blockSize > this.#init.maxDirty) {
      this.#flushDb(h.store, true);
    }
    return F.SQLITE_OK;
  }

  /** xTruncate: delete blocks past the end, shorten the last one (journal to 0: block 0 first). */
  xTruncate(fileId: number, size: number): number {
    this.#handle(fileId).store.truncate(size);
    return F.SQLITE_OK;
  }

  /** xSync: write back dirty blocks concurrently (database: journal first, block 0 last). */
  xSync(fileId: number, _flags: number): number {
    const h = this.#handle(fileId);
    if (h.isMain) this.#flushDb(h.store);
    else h.store.flush();
    return F.SQLITE_OK;
  }

  /** xFileSize: the tracked size, no request. */
  xFileSize(fileId: number, out: DataView): number {
    out.setBigInt64(0, BigInt(this.#handle(fileId).store.known()), true);
    return F.SQLITE_OK;
  }

  /** xLock: the lock state machine; a first SHARED lock revalidates the cache with one conditional GET. */
  xLock(fileId: number, level: number): number {
    const h = this.#handle(fileId);
    const first = level === F.SQLITE_LOCK_SHARED && h.level === F.SQLITE_LOCK_NONE &&
      h.store.locks.sharedCount === 0;
    if (!h.store.locks.lock(h, level)) return F.SQLITE_BUSY;
    if (first && h.isMain) {
      try {
        h.store.revalidate();
      } catch (e) {
        h.store.locks.unlock(h, F.SQLITE_LOCK_NONE);
        throw e;
      }
    }
    return F.SQLITE_OK;
  }

  /** xUnlock: leaving a write lock writes back anything still pending, then lowers the level. */
  xUnlock(fileId: number, level: number): number {
    const h = this.#handle(fileId);
    if (h.level > F.SQLITE_LOCK_SHARED && level <= F.SQLITE_LOCK_SHARED && h.isMain) {
      this.#flushDb(h.store);
    }
    h.store.locks.unlock(h, level);
    return F.SQLITE_OK;
  }

  /** xCheckReservedLock: whether any connection of this process holds RESERVED or above. */
  xCheckReservedLock(fileId: number, out: DataView): number {
    out.setInt32(0, this.#handle(fileId).store.locks.reservedHeld() ? 1 : 0, true);
    return F.SQLITE_OK;
  }

  /** xFileControl: SYNC, COMMIT_PHASETWO and SIZE_HINT need nothing; everything else is NOTFOUND. */
  xFileControl(_fileId: number, op: number): number {
    switch (op) {
      case F.SQLITE_FCNTL_SYNC:
      case F.SQLITE_FCNTL_COMMIT_PHASETWO:
      case F.SQLITE_FCNTL_SIZE_HINT:
        return F.SQLITE_OK;
      default:
        return F.SQLITE_NOTFOUND;
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

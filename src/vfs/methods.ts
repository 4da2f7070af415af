/**
 * The VFS methods of one S3VFS: the native structs, the open file handles and
 * one handler per `sqlite3_vfs` / `sqlite3_io_methods` method, each with a
 * one-line comment. Handlers never throw across FFI: a failure becomes the
 * method's SQLITE_IOERR_* code and is kept in `lastError`.
 *
 * What is left out: WAL (no shared-memory methods), memory mapping, and locks
 * across processes (the lock state machine is per process). Temporary files
 * and the OS-level methods are the default VFS's.
 *
 * @module
 */

import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { LOCK_NONE, LOCK_SHARED } from "./locks.ts";
import { FileStore, type ReadCursor, type StoreContext } from "./store.ts";
import { NativeStruct } from "./struct.ts";

interface Handle {
  id: number;
  store: FileStore;
  level: number;
  cursor: ReadCursor;
  isMain: boolean;
}

type Ptr = Deno.PointerValue;

/** Writes an int (`int*` out-parameter). */
function setInt(out: Ptr, v: number): void {
  new DataView(Deno.UnsafePointerView.getArrayBuffer(out!, 4)).setInt32(0, v, true);
}

/** Writes `text` as a NUL-terminated C string into at most `room` bytes at `out`. */
function setCString(out: Ptr, text: string, room: number): void {
  const bytes = new TextEncoder().encode(text).subarray(0, room - 1);
  const dst = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(out!, bytes.length + 1));
  dst.set(bytes);
  dst[bytes.length] = 0;
}
const OURS = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_SUPER_JOURNAL |
  F.SQLITE_OPEN_WAL;

/** What the methods need from their S3VFS. */
export interface VfsMethodsInit {
  /** VFS name. */
  name: string;
  /** Bucket (for messages). */
  bucket: string;
  /** Block size. */
  blockSize: number;
  /** Dirty bytes before an early write-back. */
  maxDirty: number;
  /** Shared by every file store. */
  storeContext: StoreContext;
  /** The default VFS (temp files, OS methods). */
  defaultVfs: Deno.PointerObject;
}

/** Native structs, file handles and handlers of one VFS. */
export class VfsMethods {
  /** The last failure inside a callback. */
  lastError: Error | undefined;
  /** Set when the owning VFS closed. */
  closed = false;
  /** `sqlite3_vfs`. */
  readonly vfsStruct: NativeStruct;
  #ioStruct: NativeStruct;
  #init: VfsMethodsInit;
  #stores = new Map<string, FileStore>();
  #handles = new Map<number, Handle>();
  #nextHandle = 1;
  #lastCode = 0;
  #defaultVfs: Ptr;
  #defaultOpen: Deno.UnsafeFnPointer<typeof F.X_OPEN>;

  /** Builds the structs (callbacks included). */
  constructor(init: VfsMethodsInit) {
    this.#init = init;
    this.#defaultVfs = init.defaultVfs;
    const dflt = new Deno.UnsafePointerView(init.defaultVfs);
    this.#defaultOpen = new Deno.UnsafeFnPointer(dflt.getPointer(F.VFS_OFFSETS.xOpen)!, F.X_OPEN);
    this.#ioStruct = this.#buildIoMethods();
    this.vfsStruct = this.#buildVfs(dflt);
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

  /** Closes the callbacks: only after sqlite3_vfs_unregister. */
  close(): void {
    this.#ioStruct.close();
    this.vfsStruct.close();
  }

  #buildVfs(dflt: Deno.UnsafePointerView): NativeStruct {
    const O = F.VFS_OFFSETS;
    const nameBuf = F.cstring(this.#init.name);
    const copy = (offset: number) => ({ offset, pointer: F.pointerValue(dflt.getPointer(offset)) });
    const v2 = dflt.getInt32(O.iVersion) >= 2;
    return new NativeStruct(F.SIZEOF_VFS_V2, [
      [O.iVersion, v2 ? 2 : 1],
      [O.szOsFile, Math.max(dflt.getInt32(O.szOsFile), 16)],
      [O.mxPathname, 1024],
    ], [
      { offset: O.zName, pointer: F.pointerValue(Deno.UnsafePointer.of(nameBuf)) },
      { offset: O.xOpen, def: F.X_OPEN, fn: (_v, z, f, fl, o) => this.#xOpen(z, f, fl, o) },
      { offset: O.xDelete, def: F.X_DELETE, fn: (_v, z) => this.#xDelete(z) },
      { offset: O.xAccess, def: F.X_ACCESS, fn: (_v, z, fl, out) => this.#xAccess(z, fl, out) },
      {
        offset: O.xFullPathname,
        def: F.X_FULLPATHNAME,
        fn: (_v, z, n, out) => this.#xFullPathname(z, n, out),
      },
      // OS-level methods: the default VFS's own functions (they ignore their sqlite3_vfs argument).
      ...[O.xDlOpen, O.xDlError, O.xDlSym, O.xDlClose, O.xRandomness, O.xSleep, O.xCurrentTime].map(
        copy,
      ),
      {
        offset: O.xGetLastError,
        def: F.X_GETLASTERROR,
        fn: (_v, n, out) => this.#xGetLastError(n, out),
      },
      ...(v2 ? [copy(O.xCurrentTimeInt64)] : []),
    ], [nameBuf]);
  }

  #buildIoMethods(): NativeStruct {
    const O = F.IO_METHODS_OFFSETS;
    const io =
      (ioerr: number, fn: (h: Handle, ...a: never[]) => number) => (f: Ptr, ...a: never[]) =>
        this.#io(f, ioerr, (h) => fn(h, ...a));
    // xDeviceCharacteristics: appends are safe (no journal header rewrite), writes are
    // ordered by the VFS itself (journal flushed before the database), no torn 512-byte writes.
    const caps = F.SQLITE_IOCAP_SAFE_APPEND | F.SQLITE_IOCAP_SEQUENTIAL |
      F.SQLITE_IOCAP_POWERSAFE_OVERWRITE;
    return new NativeStruct(F.SIZEOF_IO_METHODS_V1, [[O.iVersion, 1]], [
      {
        offset: O.xClose,
        def: F.X_CLOSE,
        fn: (f: Ptr) => this.#io(f, F.SQLITE_IOERR_CLOSE, (h) => this.#xClose(h)),
      },
      {
        offset: O.xRead,
        def: F.X_READ,
        fn: io(F.SQLITE_IOERR_READ, (h, b: Ptr, n: number, o: bigint) => this.#xRead(h, b, n, o)),
      },
      {
        offset: O.xWrite,
        def: F.X_WRITE,
        fn: io(F.SQLITE_IOERR_WRITE, (h, b: Ptr, n: number, o: bigint) => this.#xWrite(h, b, n, o)),
      },
      {
        offset: O.xTruncate,
        def: F.X_TRUNCATE,
        fn: io(F.SQLITE_IOERR_TRUNCATE, (h, s: bigint) => this.#xTruncate(h, s)),
      },
      { offset: O.xSync, def: F.X_SYNC, fn: io(F.SQLITE_IOERR_FSYNC, (h) => this.#xSync(h)) },
      {
        offset: O.xFileSize,
        def: F.X_FILESIZE,
        fn: io(F.SQLITE_IOERR_FSTAT, (h, out: Ptr) => this.#xFileSize(h, out)),
      },
      {
        offset: O.xLock,
        def: F.X_LOCK,
        fn: io(F.SQLITE_IOERR_LOCK, (h, l: number) => this.#xLock(h, l)),
      },
      {
        offset: O.xUnlock,
        def: F.X_UNLOCK,
        fn: io(F.SQLITE_IOERR_UNLOCK, (h, l: number) => this.#xUnlock(h, l)),
      },
      {
        offset: O.xCheckReservedLock,
        def: F.X_CHECKRESERVEDLOCK,
        fn: io(F.SQLITE_IOERR_CHECKRESERVEDLOCK, (h, out: Ptr) => this.#xCheckReservedLock(h, out)),
      },
      {
        offset: O.xFileControl,
        def: F.X_FILECONTROL,
        fn: (_f: Ptr, op: number) => this.#xFileControl(op),
      },
      // xSectorSize: 512, so SQLite never journals big sectors.
      { offset: O.xSectorSize, def: F.X_SECTORSIZE, fn: () => 512 },
      { offset: O.xDeviceCharacteristics, def: F.X_DEVICECHARACTERISTICS, fn: () => caps },
    ]);
  }

  /** Runs a file handler; never throws across FFI: failures become `ioerr` and lastError. */
  #io(file: Ptr, ioerr: number, fn: (h: Handle) => number): number {
    const h = this.#handles.get(new Deno.UnsafePointerView(file!).getUint32(8));
    if (!h) return this.#fail(new VfsError("unknown file handle"), ioerr);
    try {
      return fn(h);
    } catch (e) {
      return this.#fail(e, ioerr);
    }
  }

  #fail(e: unknown, code: number): number {
    const err = e instanceof Error ? e : new Error(String(e));
    this.lastError = err;
    this.#lastCode = err instanceof VfsError && err.sqliteCode !== 10 ? err.sqliteCode : code;
    return this.#lastCode;
  }

  #store(name: string): FileStore {
    let st = this.#stores.get(name);
    if (!st) {
      st = new FileStore(name, this.#init.storeContext, name.endsWith("-journal"));
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
  #xOpen(zName: Ptr, file: Ptr, flags: number, outFlags: Ptr): number {
    if (zName === null || !(flags & OURS)) {
      return this.#defaultOpen.call(this.#defaultVfs, zName, file, flags, outFlags) as number;
    }
    try {
      if (this.closed) throw new VfsError("S3VFS is closed", { sqliteCode: F.SQLITE_CANTOPEN });
      const name = F.readCString(zName);
      const store = this.#store(name);
      const isMain = (flags & F.SQLITE_OPEN_MAIN_DB) !== 0;
      if (isMain && !(flags & F.SQLITE_OPEN_CREATE) && !store.exists()) {
        throw new VfsError(
          `no database at s3://${this.#init.bucket}/${name}/ (open with SQLITE_OPEN_CREATE to make one)`,
          {
            sqliteCode: F.SQLITE_CANTOPEN,
          },
        );
      }
      store.known();
      const id = this.#nextHandle++;
      this.#handles.set(id, { id, store, level: LOCK_NONE, cursor: { last: -1, run: 0 }, isMain });
      store.openCount++;
      const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(file!, 16));
      view.setBigUint64(0, F.pointerValue(this.#ioStruct.pointer), true);
      view.setUint32(8, id, true);
      if (outFlags) {
        setInt(outFlags, flags);
      }
      return F.SQLITE_OK;
    } catch (e) {
      new DataView(Deno.UnsafePointerView.getArrayBuffer(file!, 8)).setBigUint64(0, 0n, true);
      return this.#fail(e, F.SQLITE_CANTOPEN);
    }
  }

  /** xDelete: the database's pending blocks first, then journal block 0 (the commit point), then the rest. */
  #xDelete(zName: Ptr): number {
    try {
      const name = F.readCString(zName);
      if (name.endsWith("-journal")) {
        const db = this.#stores.get(name.slice(0, -8));
        if (db) this.#flushDb(db);
      }
      this.#store(name).deleteAll();
      return F.SQLITE_OK;
    } catch (e) {
      return this.#fail(e, F.SQLITE_IOERR_DELETE);
    }
  }

  /** xAccess: a file exists when it has at least one byte (as sqlite-s3vfs); tracked after the first LIST. */
  #xAccess(zName: Ptr, flags: number, out: Ptr): number {
    try {
      const name = F.readCString(zName);
      const exists = flags === F.SQLITE_ACCESS_EXISTS ? this.#store(name).exists() : true;
      setInt(out, exists ? 1 : 0);
      return F.SQLITE_OK;
    } catch (e) {
      return this.#fail(e, F.SQLITE_IOERR_ACCESS);
    }
  }

  /** xFullPathname: the key prefix is the name, unchanged. */
  #xFullPathname(zName: Ptr, nOut: number, out: Ptr): number {
    const name = F.readCString(zName);
    if (new TextEncoder().encode(name).length + 1 > nOut) return F.SQLITE_CANTOPEN;
    setCString(out, name, nOut);
    return F.SQLITE_OK;
  }

  /** xGetLastError: the message of the last failure (S3 status, code, key). */
  #xGetLastError(nBuf: number, out: Ptr): number {
    if (out && nBuf > 0 && this.lastError) setCString(out, this.lastError.message, nBuf);
    return this.#lastCode;
  }

  // -------------------------------------------------------------------------
  // io methods

  /** xClose: write back what is pending, drop the lock, forget the handle. */
  #xClose(h: Handle): number {
    try {
      if (h.isMain) this.#flushDb(h.store);
      else h.store.flush();
    } finally {
      h.store.locks.unlock(h, LOCK_NONE);
      h.store.openCount--;
      this.#handles.delete(h.id);
    }
    return F.SQLITE_OK;
  }

  /** xRead: from dirty blocks, the cache, or one batch of GETs (with read-ahead); short reads zero-fill. */
  #xRead(h: Handle, buf: Ptr, n: number, offset: number | bigint): number {
    const dst = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(buf!, n));
    const got = h.store.read(dst, Number(offset), h.cursor);
    return got < n ? F.SQLITE_IOERR_SHORT_READ : F.SQLITE_OK;
  }

  /** xWrite: into dirty blocks, written back at xSync (early, except block 0, past maxDirtyBytes). */
  #xWrite(h: Handle, buf: Ptr, n: number, offset: number | bigint): number {
    const src = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(buf!, n));
    h.store.write(src, Number(offset));
    if (h.isMain && h.store.dirty.size * this.#init.blockSize > this.#init.maxDirty) {
      this.#flushDb(h.store, true);
    }
    return F.SQLITE_OK;
  }

  /** xTruncate: delete blocks past the end, shorten the last one (journal to 0: block 0 first). */
  #xTruncate(h: Handle, size: number | bigint): number {
    h.store.truncate(Number(size));
    return F.SQLITE_OK;
  }

  /** xSync: write back dirty blocks concurrently (database: journal first, block 0 last). */
  #xSync(h: Handle): number {
    if (h.isMain) this.#flushDb(h.store);
    else h.store.flush();
    return F.SQLITE_OK;
  }

  /** xFileSize: the tracked size, no request. */
  #xFileSize(h: Handle, out: Ptr): number {
    new DataView(Deno.UnsafePointerView.getArrayBuffer(out!, 8)).setBigInt64(
      0,
      BigInt(h.store.known()),
      true,
    );
    return F.SQLITE_OK;
  }

  /** xLock: the lock state machine; a first SHARED lock revalidates the cache with one conditional GET. */
  #xLock(h: Handle, level: number): number {
    const first = level === LOCK_SHARED && h.level === LOCK_NONE && h.store.locks.sharedCount === 0;
    if (!h.store.locks.lock(h, level)) return F.SQLITE_BUSY;
    if (first && h.isMain) {
      try {
        h.store.revalidate();
      } catch (e) {
        h.store.locks.unlock(h, LOCK_NONE);
        throw e;
      }
    }
    return F.SQLITE_OK;
  }

  /** xUnlock: leaving a write lock writes back anything still pending, then lowers the level. */
  #xUnlock(h: Handle, level: number): number {
    if (h.level > LOCK_SHARED && level <= LOCK_SHARED && h.isMain) this.#flushDb(h.store);
    h.store.locks.unlock(h, level);
    return F.SQLITE_OK;
  }

  /** xCheckReservedLock: whether any connection of this process holds RESERVED or above. */
  #xCheckReservedLock(h: Handle, out: Ptr): number {
    const held = h.store.locks.reservedHeld() ? 1 : 0;
    setInt(out, held);
    return F.SQLITE_OK;
  }

  /** xFileControl: SYNC, COMMIT_PHASETWO and SIZE_HINT need nothing; everything else is NOTFOUND. */
  #xFileControl(op: number): number {
    switch (op) {
      case F.SQLITE_FCNTL_SYNC:
      case F.SQLITE_FCNTL_COMMIT_PHASETWO:
      case F.SQLITE_FCNTL_SIZE_HINT:
        return F.SQLITE_OK;
      default:
        return F.SQLITE_NOTFOUND;
    }
  }
}

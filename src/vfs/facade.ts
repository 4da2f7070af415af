/**
 * The typed FFI facade of a VFS (after wa-sqlite's FacadeVFS). It builds the
 * native `sqlite3_vfs` and `sqlite3_io_methods` structs from the method tables
 * of src/ffi/layout.ts and turns every pointer argument, once, into a string,
 * a `Uint8Array`, a `DataView` or a number before calling the plain
 * TypeScript {@link VfsHandlers}. Past this file nothing sees a pointer, so
 * the handlers can be called (and tested) without FFI.
 *
 * Files: SQLite gives each open file `szOsFile` bytes; for a file its
 * handlers open the facade writes `pMethods` at 0 and a file id (u32) at 8,
 * and the io handlers get that id. A file the handlers pass on
 * ({@link DEFAULT_VFS}: temp files) is opened by the default VFS's xOpen in
 * the same memory and never comes back here.
 *
 * Never throws across FFI (C would get 0, SQLITE_OK): every callback catches
 * and returns `handlers.fail(error, code)` with the method's error code.
 *
 * What is left out: the OS-level methods (xDlOpen, xDlError, xDlSym,
 * xDlClose, xRandomness, xSleep, xCurrentTime, xCurrentTimeInt64) are the
 * default VFS's own function pointers, copied; the system-call methods
 * (sqlite3_vfs iVersion 3), shared memory (xShm*, io iVersion 2: no WAL) and
 * memory mapping (xFetch/xUnfetch) are not provided; xFileControl's pArg and
 * xDelete's syncDir are not passed on (nothing uses them).
 *
 * @module
 */

import * as F from "../ffi/mod.ts";

type Ptr = Deno.PointerValue;
/** The file-type bits of xOpen's flags. */
const FILE_TYPES = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_TEMP_DB | F.SQLITE_OPEN_TRANSIENT_DB |
  F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_TEMP_JOURNAL | F.SQLITE_OPEN_SUBJOURNAL |
  F.SQLITE_OPEN_SUPER_JOURNAL | F.SQLITE_OPEN_WAL;
type Table = Record<string, Deno.UnsafeCallbackDefinition>;
/** JS functions for (some of) a table's methods, typed by their definitions. */
type Fns<T extends Table> = { [K in keyof T]?: F.CallbackFn<T[K]> };

/** What a {@link VfsHandlers.xOpen} returns to let the default VFS open the file. */
export const DEFAULT_VFS: unique symbol = Symbol("open with the default VFS");
/**
 * What a {@link VfsHandlers.xOpen} returns to have the default VFS open the
 * file as an anonymous local temporary file (deleted on close) instead: a
 * rollback journal, which no other process may ever see.
 */
export const DEFAULT_VFS_TEMP: unique symbol = Symbol("open as a local temp file");

/**
 * The VFS methods as plain TypeScript, one per `sqlite3_vfs` /
 * `sqlite3_io_methods` slot this VFS fills. Names arrive as strings, buffers
 * as `Uint8Array`s of exactly the bytes C passed, `int*` / `sqlite3_int64*`
 * out-parameters as `DataView`s (little-endian), 64-bit offsets as numbers;
 * io methods get the file id the facade gave {@link VfsHandlers.xOpen}.
 * Each returns a SQLite result code, except xSectorSize and
 * xDeviceCharacteristics.
 */
export interface VfsHandlers {
  /**
   * Opens `name` (null: a temp file) as `fileId`, with a main database's URI
   * parameters; DEFAULT_VFS hands it to the default VFS.
   */
  xOpen(
    name: string | null,
    fileId: number,
    flags: number,
    outFlags: DataView | null,
    params?: Map<string, string>,
  ): number | typeof DEFAULT_VFS | typeof DEFAULT_VFS_TEMP;
  /** Deletes a file. */
  xDelete(name: string): number;
  /** Writes 1 or 0 (int) to `out`. */
  xAccess(name: string, flags: number, out: DataView): number;
  /** Writes the full name, NUL-terminated, into `out` (nOut bytes). */
  xFullPathname(name: string, out: Uint8Array): number;
  /** Writes the last error's message into `out` (may be empty); returns its code. */
  xGetLastError(out: Uint8Array): number;
  /** Closes a file. */
  xClose(fileId: number): number;
  /** Fills `dst` from `offset`. */
  xRead(fileId: number, dst: Uint8Array, offset: number): number;
  /** Writes `src` at `offset`. */
  xWrite(fileId: number, src: Uint8Array, offset: number): number;
  /** Sets the file size. */
  xTruncate(fileId: number, size: number): number;
  /** Makes writes durable. */
  xSync(fileId: number, flags: number): number;
  /** Writes the size (int64) to `out`. */
  xFileSize(fileId: number, out: DataView): number;
  /** Raises the lock level. */
  xLock(fileId: number, level: number): number;
  /** Lowers the lock level. */
  xUnlock(fileId: number, level: number): number;
  /** Writes 1 or 0 (int) to `out`. */
  xCheckReservedLock(fileId: number, out: DataView): number;
  /** A file control (SQLITE_NOTFOUND for unknown ops). */
  xFileControl(fileId: number, op: number): number;
  /**
   * `PRAGMA name` or `PRAGMA name=value` (SQLITE_FCNTL_PRAGMA): a string is
   * the pragma's one-row result, null an empty result, undefined "not ours"
   * (SQLite handles it). A thrown error becomes the statement's error.
   */
  xPragma(fileId: number, name: string, value: string | null): string | null | undefined;
  /** The sector size. */
  xSectorSize(fileId: number): number;
  /** SQLITE_IOCAP_* bits. */
  xDeviceCharacteristics(fileId: number): number;
  /** A handler threw `error`: keep it, return the code C gets (`code` unless the error says). */
  fail(error: unknown, code: number): number;
}

/** The code a method returns when its handler throws. */
export const FAIL_CODES: { readonly [K in Exclude<keyof VfsHandlers, "fail">]: number } = {
  xOpen: F.SQLITE_CANTOPEN,
  xDelete: F.SQLITE_IOERR_DELETE,
  xAccess: F.SQLITE_IOERR_ACCESS,
  xFullPathname: F.SQLITE_CANTOPEN,
  xGetLastError: F.SQLITE_IOERR,
  xClose: F.SQLITE_IOERR_CLOSE,
  xRead: F.SQLITE_IOERR_READ,
  xWrite: F.SQLITE_IOERR_WRITE,
  xTruncate: F.SQLITE_IOERR_TRUNCATE,
  xSync: F.SQLITE_IOERR_FSYNC,
  xFileSize: F.SQLITE_IOERR_FSTAT,
  xLock: F.SQLITE_IOERR_LOCK,
  xUnlock: F.SQLITE_IOERR_UNLOCK,
  xCheckReservedLock: F.SQLITE_IOERR_CHECKRESERVEDLOCK,
  xFileControl: F.SQLITE_NOTFOUND,
  xPragma: F.SQLITE_ERROR,
  xSectorSize: F.SQLITE_IOERR,
  xDeviceCharacteristics: F.SQLITE_IOERR,
};

/** OS-level methods copied from the default VFS (iVersion 1). */
const COPIED = [
  "xDlOpen",
  "xDlError",
  "xDlSym",
  "xDlClose",
  "xRandomness",
  "xSleep",
  "xCurrentTime",
] as const satisfies F.VfsMethodName[];

/** `n` bytes at `p` (empty for NULL or n <= 0). */
function bytes(p: Ptr, n: number): Uint8Array {
  return p === null || n <= 0
    ? new Uint8Array(0)
    : new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, n));
}

/** `n` bytes at `p` as a DataView. */
function view(p: Deno.PointerObject, n: number): DataView {
  return new DataView(Deno.UnsafePointerView.getArrayBuffer(p, n));
}

/**
 * The URI parameters SQLite stores after a main database's name passed to
 * xOpen (`name\0key\0value\0...\0\0`, what `sqlite3_uri_parameter` reads).
 */
function uriParams(zName: Deno.PointerObject): Map<string, string> {
  const v = new Deno.UnsafePointerView(zName);
  const out = new Map<string, string>();
  let at = utf8Length(v, 0) + 1;
  for (let n = 0; n < 64; n++) {
    const key = v.getCString(at);
    if (key === "") break;
    at += utf8Length(v, at) + 1;
    out.set(key, v.getCString(at));
    at += utf8Length(v, at) + 1;
  }
  return out;
}

/** Bytes before the NUL of the C string at `offset`. */
function utf8Length(v: Deno.UnsafePointerView, offset: number): number {
  let n = 0;
  while (v.getUint8(offset + n) !== 0) n++;
  return n;
}

/** The file id the facade wrote at offset 8 of a `sqlite3_file` (0, unknown, for NULL). */
function fileIdOf(file: Ptr): number {
  return file === null ? 0 : new Deno.UnsafePointerView(file).getUint32(8);
}

/** Writes a callback per entry of `fns` into `buf` at its table offset; returns a view of `buf`. */
function fill<T extends Table>(
  buf: Uint8Array,
  table: T,
  offsets: Record<keyof T, number>,
  fns: Fns<T>,
  callbacks: Deno.UnsafeCallback[],
): DataView {
  const dv = new DataView(buf.buffer);
  for (const name of Object.keys(fns) as (keyof T & string)[]) {
    const cb = new Deno.UnsafeCallback(table[name], fns[name] as F.CallbackFn<T[typeof name]>);
    callbacks.push(cb);
    dv.setBigUint64(offsets[name], F.pointerValue(cb.pointer), true);
  }
  return dv;
}

/** The native structs of one VFS, filled with callbacks into `handlers`. */
export class VfsFacade {
  /** `sqlite3_vfs*`, for sqlite3_vfs_register. */
  readonly pointer: Deno.PointerObject;
  #vfs = new Uint8Array(F.SIZEOF_VFS_V2);
  #io = new Uint8Array(F.SIZEOF_IO_METHODS_V1);
  #name: Uint8Array;
  #callbacks: Deno.UnsafeCallback[] = [];
  #nextFileId = 1;

  /** Builds both structs; `defaultVfs` serves temp files and the OS-level methods. */
  constructor(
    name: string,
    defaultVfs: Deno.PointerObject,
    h: VfsHandlers,
    alloc: (bytes: Uint8Array) => Deno.PointerValue,
  ) {
    const guard = (method: keyof typeof FAIL_CODES, fn: () => number): number => {
      try {
        return fn();
      } catch (e) {
        return h.fail(e, FAIL_CODES[method]);
      }
    };
    const io: Fns<typeof F.IO_METHODS> = {
      xClose: (f) => guard("xClose", () => h.xClose(fileIdOf(f))),
      xRead: (f, buf, n, o) => guard("xRead", () => h.xRead(fileIdOf(f), bytes(buf, n), Number(o))),
      xWrite: (f, buf, n, o) =>
        guard("xWrite", () => h.xWrite(fileIdOf(f), bytes(buf, n), Number(o))),
      xTruncate: (f, size) => guard("xTruncate", () => h.xTruncate(fileIdOf(f), Number(size))),
      xSync: (f, flags) => guard("xSync", () => h.xSync(fileIdOf(f), flags)),
      xFileSize: (f, out) => guard("xFileSize", () => h.xFileSize(fileIdOf(f), view(out!, 8))),
      xLock: (f, level) => guard("xLock", () => h.xLock(fileIdOf(f), level)),
      xUnlock: (f, level) => guard("xUnlock", () => h.xUnlock(fileIdOf(f), level)),
      xCheckReservedLock: (f, out) =>
        guard("xCheckReservedLock", () => h.xCheckReservedLock(fileIdOf(f), view(out!, 4))),
      xFileControl: (f, op, arg) =>
        op === F.SQLITE_FCNTL_PRAGMA && arg !== null
          ? pragma(fileIdOf(f), arg)
          : guard("xFileControl", () => h.xFileControl(fileIdOf(f), op)),
      xSectorSize: (f) => guard("xSectorSize", () => h.xSectorSize(fileIdOf(f))),
      xDeviceCharacteristics: (f) =>
        guard("xDeviceCharacteristics", () => h.xDeviceCharacteristics(fileIdOf(f))),
    };
    /** SQLITE_FCNTL_PRAGMA: `arg` is `char*[3]`: [0] result or error (sqlite3_malloc'ed), [1] name, [2] value. */
    const pragma = (fileId: number, arg: Deno.PointerObject): number => {
      const a = new Deno.UnsafePointerView(arg);
      const name = F.readCString(a.getPointer(8));
      const valuePtr = a.getPointer(16);
      const value = valuePtr === null ? null : F.readCString(valuePtr);
      const out = new DataView(Deno.UnsafePointerView.getArrayBuffer(arg, 8));
      try {
        const r = h.xPragma(fileId, name, value);
        if (r === undefined) return F.SQLITE_NOTFOUND;
        if (r !== null) out.setBigUint64(0, F.pointerValue(alloc(F.cstring(r))), true);
        return F.SQLITE_OK;
      } catch (e) {
        h.fail(e, F.SQLITE_ERROR);
        const msg = e instanceof Error ? e.message : String(e);
        out.setBigUint64(0, F.pointerValue(alloc(F.cstring(msg))), true);
        return F.SQLITE_ERROR;
      }
    };
    const ioDv = fill(this.#io, F.IO_METHODS, F.IO_METHODS_OFFSETS, io, this.#callbacks);
    ioDv.setInt32(F.IO_METHODS_OFFSETS.iVersion, 1, true);
    const ioPointer = F.pointerValue(Deno.UnsafePointer.of(this.#io));

    const dflt = new Deno.UnsafePointerView(defaultVfs);
    const O = F.VFS_OFFSETS;
    const defaultOpen = new Deno.UnsafeFnPointer(dflt.getPointer(O.xOpen)!, F.VFS_METHODS.xOpen);
    const open = (zName: Ptr, file: Ptr, flags: number, outFlags: Ptr): number => {
      const fileId = this.#nextFileId++;
      const pass: { on: "named" | "temp" | false } = { on: false };
      const rc = guard("xOpen", () => {
        const name = zName === null ? null : F.readCString(zName);
        const params = zName !== null && (flags & F.SQLITE_OPEN_MAIN_DB)
          ? uriParams(zName)
          : undefined;
        const out = outFlags === null ? null : view(outFlags, 4);
        const r = h.xOpen(name, fileId, flags, out, params);
        pass.on = r === DEFAULT_VFS ? "named" : r === DEFAULT_VFS_TEMP ? "temp" : false;
        return typeof r === "symbol" ? F.SQLITE_OK : r;
      });
      if (pass.on === "named") return defaultOpen.call(defaultVfs, zName, file, flags, outFlags);
      if (pass.on === "temp") {
        const tempFlags = (flags & ~FILE_TYPES) | F.SQLITE_OPEN_TEMP_JOURNAL |
          F.SQLITE_OPEN_DELETEONCLOSE | F.SQLITE_OPEN_CREATE | F.SQLITE_OPEN_EXCLUSIVE;
        return defaultOpen.call(defaultVfs, null, file, tempFlags, outFlags);
      }
      const fv = view(file!, 16);
      fv.setBigUint64(0, rc === F.SQLITE_OK ? ioPointer : 0n, true);
      if (rc === F.SQLITE_OK) fv.setUint32(8, fileId, true);
      return rc;
    };
    const vfs: Fns<typeof F.VFS_METHODS> = {
      xOpen: (_v, zName, file, flags, outFlags) => open(zName, file, flags, outFlags),
      xDelete: (_v, zName) => guard("xDelete", () => h.xDelete(F.readCString(zName))),
      xAccess: (_v, zName, flags, out) =>
        guard("xAccess", () => h.xAccess(F.readCString(zName), flags, view(out!, 4))),
      xFullPathname: (_v, zName, nOut, out) =>
        guard("xFullPathname", () => h.xFullPathname(F.readCString(zName), bytes(out, nOut))),
      xGetLastError: (_v, nBuf, out) =>
        guard("xGetLastError", () => h.xGetLastError(bytes(out, nBuf))),
    };
    const dv = fill(this.#vfs, F.VFS_METHODS, O, vfs, this.#callbacks);
    const v2 = dflt.getInt32(O.iVersion) >= 2;
    for (const m of v2 ? [...COPIED, "xCurrentTimeInt64" as const] : COPIED) {
      dv.setBigUint64(O[m], F.pointerValue(dflt.getPointer(O[m])), true);
    }
    this.#name = F.cstring(name);
    dv.setInt32(O.iVersion, v2 ? 2 : 1, true);
    dv.setInt32(O.szOsFile, Math.max(dflt.getInt32(O.szOsFile), 16), true);
    dv.setInt32(O.mxPathname, 1024, true);
    dv.setBigUint64(O.zName, F.pointerValue(Deno.UnsafePointer.of(this.#name)), true);
    this.pointer = Deno.UnsafePointer.of(this.#vfs)!;
  }

  /** Closes every callback: only after sqlite3_vfs_unregister and the last file's xClose. */
  close(): void {
    for (const cb of this.#callbacks) cb.close();
    this.#callbacks = [];
  }
}

/**
 * Tests of the raw FFI layer (src/ffi/) against the system libsqlite3: library
 * discovery, and the struct tables of src/ffi/layout.ts read and called on the
 * live default VFS ("unix" on Linux and macOS), so offsets and callback
 * definitions are checked against C without a compiler. No S3 needed.
 *
 * Run: deno test -A tests/ffi_test.ts
 */

import assert from "node:assert/strict";
import {
  cstring,
  findLibraryPath,
  IO_METHODS,
  IO_METHODS_OFFSETS,
  loadedSqliteLibraries,
  loadSqlite,
  pointerValue,
  readCString,
  SIZEOF_IO_METHODS_V1,
  SIZEOF_IO_METHODS_V2,
  SIZEOF_IO_METHODS_V3,
  SIZEOF_VFS_V1,
  SIZEOF_VFS_V2,
  SIZEOF_VFS_V3,
  SQLITE_ACCESS_EXISTS,
  SQLITE_CANTOPEN,
  SQLITE_FCNTL_FILE_POINTER,
  SQLITE_IOERR,
  SQLITE_IOERR_ACCESS,
  SQLITE_IOERR_CHECKRESERVEDLOCK,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_DELETE,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_FSTAT,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_LOCK,
  SQLITE_IOERR_RDLOCK,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_UNLOCK,
  SQLITE_IOERR_WRITE,
  SQLITE_LOCK_NONE,
  SQLITE_LOCK_SHARED,
  SQLITE_NOTFOUND,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_READWRITE,
  SQLITE_SYNC_NORMAL,
  sqliteTransient,
  VFS_METHODS,
  VFS_OFFSETS,
} from "../src/ffi/mod.ts";

/** Address of a buffer, for "pointer" arguments. */
const ptr = (b: BufferSource): Deno.PointerValue => Deno.UnsafePointer.of(b);

/** The function at `offset` of the struct at `struct`, callable with its table definition. */
function fnAt<const D extends Deno.ForeignFunction>(
  struct: Deno.PointerObject,
  offset: number,
  def: D,
): Deno.UnsafeFnPointer<D> {
  const p = new Deno.UnsafePointerView(struct).getPointer(offset);
  assert.ok(p, `a function pointer at offset ${offset}`);
  return new Deno.UnsafeFnPointer(p as Deno.PointerObject<Omit<D, "nonblocking">>, def);
}

/** The default VFS of the system libsqlite3. */
function defaultVfs(): Deno.PointerObject {
  const dflt = loadSqlite().symbols.sqlite3_vfs_find(null);
  assert.ok(dflt, "a default VFS");
  return dflt;
}

/** A file name as SQLite passes it to xOpen (followed by empty URI parameters). */
const filename = (path: string): Uint8Array<ArrayBuffer> => {
  const z = new Uint8Array(cstring(path).length + 3);
  z.set(cstring(path));
  return z;
};

Deno.test("findLibraryPath() behaviour: stable and cached", () => {
  const p1 = findLibraryPath();
  const lib = loadSqlite();
  assert.equal(findLibraryPath(), p1, "path");
  assert.equal(lib.path, p1, "lib.path");
  assert.equal(loadSqlite(), lib, "loadSqlite() returns the cached library");
  assert.equal(loadSqlite(lib.path), lib, "loading by the same path reuses it");
  assert.match(lib.version, /^3\.\d+\.\d+/);
  const loaded = loadedSqliteLibraries();
  if (Deno.build.os === "linux" || Deno.build.os === "darwin") {
    assert.ok(
      loaded.some((l) => l.id === lib.id),
      `listed as loaded: ${JSON.stringify(loaded.map((l) => l.path))}`,
    );
  }
  // An explicit path takes precedence and is returned as given.
  assert.equal(findLibraryPath("/nonexistent/libsqlite3.so"), "/nonexistent/libsqlite3.so");
});

Deno.test("loadSqlite() behaviour: the same file under another name is the same copy", () => {
  const lib = loadSqlite();
  if (Deno.build.os !== "linux") return;
  for (
    const other of ["libsqlite3.so.0", "libsqlite3.so", "/usr/lib/x86_64-linux-gnu/libsqlite3.so"]
  ) {
    let again;
    try {
      again = loadSqlite(other);
    } catch {
      continue; // that name is not installed here
    }
    assert.ok(again === lib || again.id !== lib.id, `one SqliteLib per loaded copy (${other})`);
  }
});

Deno.test("loadSqlite() behaviour: a missing explicit library gives an actionable error", () => {
  assert.throws(() => loadSqlite("/nonexistent/libsqlite3.so"), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /\/nonexistent\/libsqlite3\.so/);
    assert.match(e.message, /DENO_SQLITE_PATH/);
    return true;
  });
});

Deno.test("SQLITE_IOERR_* behaviour: extended codes are SQLITE_IOERR | n << 8", () => {
  assert.deepEqual(
    [
      SQLITE_IOERR_READ,
      SQLITE_IOERR_SHORT_READ,
      SQLITE_IOERR_WRITE,
      SQLITE_IOERR_FSYNC,
      SQLITE_IOERR_TRUNCATE,
      SQLITE_IOERR_FSTAT,
      SQLITE_IOERR_UNLOCK,
      SQLITE_IOERR_RDLOCK,
      SQLITE_IOERR_DELETE,
      SQLITE_IOERR_ACCESS,
      SQLITE_IOERR_CHECKRESERVEDLOCK,
      SQLITE_IOERR_LOCK,
      SQLITE_IOERR_CLOSE,
      SQLITE_IOERR_DELETE_NOENT,
    ],
    [1, 2, 3, 4, 6, 7, 8, 9, 10, 13, 14, 15, 16, 23].map((n) => SQLITE_IOERR | (n << 8)),
  );
  // The library's own text for them.
  const lib = loadSqlite();
  assert.equal(readCString(lib.symbols.sqlite3_errstr(SQLITE_IOERR_SHORT_READ)), "disk I/O error");
  assert.equal(pointerValue(sqliteTransient()), 0xffff_ffff_ffff_ffffn);
});

Deno.test("VFS_OFFSETS behaviour: the live default VFS reads right at every offset", () => {
  const lib = loadSqlite();
  const dflt = defaultVfs();
  const view = new Deno.UnsafePointerView(dflt);
  const iVersion = view.getInt32(VFS_OFFSETS.iVersion);
  const szOsFile = view.getInt32(VFS_OFFSETS.szOsFile);
  const mxPathname = view.getInt32(VFS_OFFSETS.mxPathname);
  const name = readCString(view.getPointer(VFS_OFFSETS.zName));
  assert.ok(iVersion >= 1 && iVersion <= 3, `iVersion ${iVersion}`);
  assert.ok(szOsFile >= 8 && szOsFile < 4096, `szOsFile ${szOsFile}`);
  assert.ok(mxPathname >= 64 && mxPathname <= 65536, `mxPathname ${mxPathname}`);
  if (Deno.build.os !== "windows") assert.match(name, /^unix/);
  const size = [0, SIZEOF_VFS_V1, SIZEOF_VFS_V2, SIZEOF_VFS_V3][iVersion];
  for (const m of Object.keys(VFS_METHODS) as (keyof typeof VFS_METHODS)[]) {
    if (VFS_OFFSETS[m] < size) assert.notEqual(view.getPointer(VFS_OFFSETS[m]), null, `${m} set`);
  }
  // pNext links the registered VFSes: each one found by its zName is that struct.
  const names: string[] = [];
  for (let p: Deno.PointerValue = dflt; p !== null && names.length < 64;) {
    const v: Deno.UnsafePointerView = new Deno.UnsafePointerView(p);
    const z = readCString(v.getPointer(VFS_OFFSETS.zName));
    names.push(z);
    assert.equal(pointerValue(lib.symbols.sqlite3_vfs_find(cstring(z))), pointerValue(p), z);
    p = v.getPointer(VFS_OFFSETS.pNext);
  }
  assert.ok(names.length < 64 && names[0] === name, names.join(", "));
});

Deno.test("VFS_METHODS behaviour: the default VFS answers through the table's definitions", () => {
  const vfs = defaultVfs();
  const O = VFS_OFFSETS, M = VFS_METHODS;
  const dir = Deno.makeTempDirSync();
  try {
    const view = new Deno.UnsafePointerView(vfs);
    const nOut = view.getInt32(O.mxPathname) + 1;
    const out = new Uint8Array(nOut);
    const rc = fnAt(vfs, O.xFullPathname, M.xFullPathname)
      .call(vfs, ptr(cstring(`${dir}/x.db`)), nOut, ptr(out));
    assert.equal(rc, SQLITE_OK);
    assert.equal(readCString(ptr(out)), `${Deno.realPathSync(dir)}/x.db`);
    const res = new Int32Array(1);
    const access = fnAt(vfs, O.xAccess, M.xAccess);
    assert.equal(access.call(vfs, ptr(cstring(dir)), SQLITE_ACCESS_EXISTS, ptr(res)), SQLITE_OK);
    assert.equal(res[0], 1);
    assert.equal(access.call(vfs, ptr(cstring(`${dir}/no`)), SQLITE_ACCESS_EXISTS, ptr(res)), 0);
    assert.equal(res[0], 0);
    const rnd = new Uint8Array(32);
    assert.equal(fnAt(vfs, O.xRandomness, M.xRandomness).call(vfs, 32, ptr(rnd)), 32);
    assert.ok(rnd.some((b) => b !== 0), "random bytes");
    assert.equal(fnAt(vfs, O.xSleep, M.xSleep).call(vfs, 0), 0);
    const day = new Float64Array(1);
    assert.equal(fnAt(vfs, O.xCurrentTime, M.xCurrentTime).call(vfs, ptr(day)), SQLITE_OK);
    const julianNow = Date.now() / 86_400_000 + 2440587.5;
    assert.ok(Math.abs(day[0] - julianNow) < 0.01, `Julian day ${day[0]}`);
    if (view.getInt32(O.iVersion) >= 2) {
      const ms = new BigInt64Array(1);
      const now64 = fnAt(vfs, O.xCurrentTimeInt64, M.xCurrentTimeInt64);
      assert.equal(now64.call(vfs, ptr(ms)), SQLITE_OK);
      assert.ok(Math.abs(Number(ms[0]) / 86_400_000 - julianNow) < 0.01, `${ms[0]} ms`);
    }
    const err = fnAt(vfs, O.xGetLastError, M.xGetLastError).call(vfs, 0, null);
    assert.equal(typeof err, "number");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** What the io-methods test needs beyond the VFS's own symbols: a connection and its file. */
const CONNECTION_SYMBOLS = {
  // int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs)
  sqlite3_open_v2: { parameters: ["buffer", "buffer", "i32", "buffer"], result: "i32" },
  // int sqlite3_file_control(sqlite3*, const char *zDbName, int op, void *pArg)
  sqlite3_file_control: { parameters: ["pointer", "buffer", "i32", "buffer"], result: "i32" },
  // int sqlite3_close_v2(sqlite3*)
  sqlite3_close_v2: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

Deno.test("IO_METHODS behaviour: a file of the default VFS answers through the table's definitions", () => {
  const lib = loadSqlite();
  const vfs = defaultVfs();
  const O = VFS_OFFSETS, I = IO_METHODS_OFFSETS, M = IO_METHODS;
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/t.db`;
    const szOsFile = new Deno.UnsafePointerView(vfs).getInt32(O.szOsFile);
    const file = new BigUint64Array(Math.ceil(szOsFile / 8));
    const f = ptr(file);
    const flags = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    const outFlags = new Int32Array(1);
    const name = filename(path);
    const open = fnAt(vfs, O.xOpen, VFS_METHODS.xOpen);
    assert.equal(open.call(vfs, ptr(name), f, flags, ptr(outFlags)), SQLITE_OK);
    const io = Deno.UnsafePointer.create(file[0]);
    assert.ok(io, "pMethods");
    const iVersion = new Deno.UnsafePointerView(io).getInt32(I.iVersion);
    assert.ok(iVersion >= 1 && iVersion <= 3, `io iVersion ${iVersion}`);
    const size = [0, SIZEOF_IO_METHODS_V1, SIZEOF_IO_METHODS_V2, SIZEOF_IO_METHODS_V3][iVersion];
    for (const m of Object.keys(M) as (keyof typeof M)[]) {
      if (I[m] < size) assert.ok(new Deno.UnsafePointerView(io).getPointer(I[m]), `${m} set`);
    }
    const data = new TextEncoder().encode("hello, vfs");
    assert.equal(fnAt(io, I.xWrite, M.xWrite).call(f, ptr(data), data.length, 100n), SQLITE_OK);
    const sz = new BigInt64Array(1);
    assert.equal(fnAt(io, I.xFileSize, M.xFileSize).call(f, ptr(sz)), SQLITE_OK);
    assert.equal(sz[0], 110n);
    const buf = new Uint8Array(16).fill(0xff);
    const read = fnAt(io, I.xRead, M.xRead);
    assert.equal(read.call(f, ptr(buf), 10, 100n), SQLITE_OK);
    assert.deepEqual(buf.subarray(0, 10), data);
    assert.equal(read.call(f, ptr(buf), 16, 105n), SQLITE_IOERR_SHORT_READ);
    assert.deepEqual([...buf.subarray(5)], new Array(11).fill(0), "zero-filled");
    assert.equal(fnAt(io, I.xTruncate, M.xTruncate).call(f, 50n), SQLITE_OK);
    fnAt(io, I.xFileSize, M.xFileSize).call(f, ptr(sz));
    assert.equal(sz[0], 50n);
    assert.equal(fnAt(io, I.xSync, M.xSync).call(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
    assert.equal(fnAt(io, I.xLock, M.xLock).call(f, SQLITE_LOCK_SHARED), SQLITE_OK);
    const held = new Int32Array([7]);
    const check = fnAt(io, I.xCheckReservedLock, M.xCheckReservedLock);
    assert.equal(check.call(f, ptr(held)), SQLITE_OK);
    assert.equal(held[0], 0);
    assert.equal(fnAt(io, I.xUnlock, M.xUnlock).call(f, SQLITE_LOCK_NONE), SQLITE_OK);
    assert.ok(fnAt(io, I.xSectorSize, M.xSectorSize).call(f) >= 512);
    assert.equal(
      typeof fnAt(io, I.xDeviceCharacteristics, M.xDeviceCharacteristics).call(f),
      "number",
    );
    assert.equal(fnAt(io, I.xFileControl, M.xFileControl).call(f, 9999, null), SQLITE_NOTFOUND);

    // A file SQLite itself opened by the default VFS has the same io methods.
    const raw = Deno.dlopen(lib.path, CONNECTION_SYMBOLS); // the same loaded copy
    const db = new BigUint64Array(1);
    assert.equal(
      raw.symbols.sqlite3_open_v2(cstring(path), db, SQLITE_OPEN_READWRITE, null),
      SQLITE_OK,
    );
    const conn = Deno.UnsafePointer.create(db[0]);
    try {
      const fp = new BigUint64Array(1);
      const fc = raw.symbols.sqlite3_file_control(
        conn,
        cstring("main"),
        SQLITE_FCNTL_FILE_POINTER,
        fp,
      );
      assert.equal(fc, SQLITE_OK);
      const theirs = new Deno.UnsafePointerView(Deno.UnsafePointer.create(fp[0])!).getPointer(0);
      assert.equal(pointerValue(theirs), pointerValue(io));
    } finally {
      raw.symbols.sqlite3_close_v2(conn);
      raw.close();
    }

    assert.equal(fnAt(io, I.xClose, M.xClose).call(f), SQLITE_OK);
    const del = fnAt(vfs, O.xDelete, VFS_METHODS.xDelete);
    assert.equal(del.call(vfs, ptr(cstring(path)), 0), SQLITE_OK);
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
    assert.equal(open.call(vfs, ptr(filename(`${dir}/no/x.db`)), f, flags, null), SQLITE_CANTOPEN);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

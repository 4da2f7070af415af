/**
 * Tests of the raw FFI layer and the internal SQL helper. No S3 needed.
 *
 * Run: deno test -A tests/ffi_test.ts
 */

import {
  cstring,
  findLibraryPath,
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
  SQLITE_ERROR,
  SQLITE_FCNTL_FILE_POINTER,
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
  SQLITE_OK,
  SQLITE_OPEN_MEMORY,
  SQLITE_OPEN_READWRITE,
  sqliteTransient,
  VFS_OFFSETS,
} from "../src/ffi/mod.ts";
import { Database, SqliteError } from "./_sqlite.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  const a = JSON.stringify(actual, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
  const e = JSON.stringify(expected, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
  if (a !== e) throw new Error(`${msg} expected ${e}, got ${a}`);
}

function assertThrows<E extends Error>(fn: () => unknown, cls: new (...a: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`expected ${cls.name}, got ${e}`);
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

Deno.test("library discovery is stable and cached", () => {
  const p1 = findLibraryPath();
  const lib = loadSqlite();
  const p2 = findLibraryPath();
  assertEquals(p2, p1, "path");
  assertEquals(lib.path, p1, "lib.path");
  assert(loadSqlite() === lib, "loadSqlite() returns the cached library");
  assert(loadSqlite(lib.path) === lib, "loading by the same path reuses it");
  assert(/^3\.\d+\.\d+/.test(lib.version), `version ${lib.version}`);
  assert(lib.symbols.sqlite3_libversion_number() >= 3_000_000);
  const loaded = loadedSqliteLibraries();
  if (Deno.build.os === "linux" || Deno.build.os === "darwin") {
    assert(
      loaded.some((l) => l.id === lib.id),
      `listed as loaded: ${JSON.stringify(loaded.map((l) => l.path))}`,
    );
  }
  // An explicit path takes precedence and is returned as given.
  assertEquals(findLibraryPath("/nonexistent/libsqlite3.so"), "/nonexistent/libsqlite3.so");
});

Deno.test("the same file opened under another name is the same copy", () => {
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
    assert(again === lib || again.id !== lib.id, `one SqliteLib per loaded copy (${other})`);
  }
});

Deno.test("a missing explicit library gives an actionable error", () => {
  const err = assertThrows(() => loadSqlite("/nonexistent/libsqlite3.so"), Error);
  assert(err.message.includes("/nonexistent/libsqlite3.so"), err.message);
  assert(err.message.includes("DENO_SQLITE_PATH"), err.message);
});

Deno.test("struct layout constants match the C-verified values", () => {
  // Values printed by offsetof()/sizeof() against sqlite3.h 3.40.1 on x86_64.
  assertEquals(VFS_OFFSETS, {
    iVersion: 0,
    szOsFile: 4,
    mxPathname: 8,
    pNext: 16,
    zName: 24,
    pAppData: 32,
    xOpen: 40,
    xDelete: 48,
    xAccess: 56,
    xFullPathname: 64,
    xDlOpen: 72,
    xDlError: 80,
    xDlSym: 88,
    xDlClose: 96,
    xRandomness: 104,
    xSleep: 112,
    xCurrentTime: 120,
    xGetLastError: 128,
    xCurrentTimeInt64: 136,
    xSetSystemCall: 144,
    xGetSystemCall: 152,
    xNextSystemCall: 160,
  });
  assertEquals([SIZEOF_VFS_V1, SIZEOF_VFS_V2, SIZEOF_VFS_V3], [136, 144, 168]);
  assertEquals(IO_METHODS_OFFSETS, {
    iVersion: 0,
    xClose: 8,
    xRead: 16,
    xWrite: 24,
    xTruncate: 32,
    xSync: 40,
    xFileSize: 48,
    xLock: 56,
    xUnlock: 64,
    xCheckReservedLock: 72,
    xFileControl: 80,
    xSectorSize: 88,
    xDeviceCharacteristics: 96,
    xShmMap: 104,
    xShmLock: 112,
    xShmBarrier: 120,
    xShmUnmap: 128,
    xFetch: 136,
    xUnfetch: 144,
  });
  assertEquals([SIZEOF_IO_METHODS_V1, SIZEOF_IO_METHODS_V2, SIZEOF_IO_METHODS_V3], [104, 136, 152]);
  assertEquals(
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
    [1, 2, 3, 4, 6, 7, 8, 9, 10, 13, 14, 15, 16, 23].map((n) => 10 | (n << 8)),
  );
  assertEquals(pointerValue(sqliteTransient()), 0xffff_ffff_ffff_ffffn);
});

Deno.test("the default VFS is readable through the struct offsets", () => {
  const lib = loadSqlite();
  const s = lib.symbols;
  const dflt = s.sqlite3_vfs_find(null);
  assert(dflt, "default VFS");
  const view = new Deno.UnsafePointerView(dflt);
  const iVersion = view.getInt32(VFS_OFFSETS.iVersion);
  const szOsFile = view.getInt32(VFS_OFFSETS.szOsFile);
  const mxPathname = view.getInt32(VFS_OFFSETS.mxPathname);
  const name = readCString(view.getPointer(VFS_OFFSETS.zName));
  assert(iVersion >= 1 && iVersion <= 3, `iVersion ${iVersion}`);
  assert(szOsFile >= 8 && szOsFile < 4096, `szOsFile ${szOsFile}`);
  assert(mxPathname >= 64 && mxPathname <= 65536, `mxPathname ${mxPathname}`);
  if (Deno.build.os !== "windows") assert(name.startsWith("unix"), `zName ${name}`);
  for (const [field, off] of Object.entries(VFS_OFFSETS)) {
    if (
      !field.startsWith("x") || off >= [0, SIZEOF_VFS_V1, SIZEOF_VFS_V2, SIZEOF_VFS_V3][iVersion]
    ) continue;
    if (field.endsWith("SystemCall")) continue;
    assert(view.getPointer(off) !== null, `${field} set`);
  }
  // Finding by name gives the same struct.
  assertEquals(pointerValue(s.sqlite3_vfs_find(cstring(name))), pointerValue(dflt));
});

Deno.test("an open file's io methods are readable through the struct offsets", () => {
  const dir = Deno.makeTempDirSync();
  try {
    using db = new Database(`${dir}/t.db`);
    db.exec("CREATE TABLE t(x)");
    const out = new BigUint64Array(1);
    assertEquals(db.fileControl(SQLITE_FCNTL_FILE_POINTER, out), SQLITE_OK);
    const file = Deno.UnsafePointer.create(out[0]);
    assert(file, "sqlite3_file*");
    const methods = new Deno.UnsafePointerView(file).getPointer(0);
    assert(methods, "pMethods");
    const mv = new Deno.UnsafePointerView(methods);
    const iVersion = mv.getInt32(IO_METHODS_OFFSETS.iVersion);
    assert(iVersion >= 1 && iVersion <= 3, `io iVersion ${iVersion}`);
    for (
      const f of [
        "xClose",
        "xRead",
        "xWrite",
        "xTruncate",
        "xSync",
        "xFileSize",
        "xLock",
        "xUnlock",
        "xCheckReservedLock",
        "xFileControl",
        "xSectorSize",
        "xDeviceCharacteristics",
      ] as const
    ) {
      assert(mv.getPointer(IO_METHODS_OFFSETS[f]) !== null, `${f} set`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Database round trip with every bind type", () => {
  using db = new Database(":memory:");
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, i, f, s, b, n, flag); CREATE TABLE u(x)");
  const big = 2n ** 62n + 3n;
  const blob = new Uint8Array([0, 1, 2, 255]);
  assertEquals(
    db.run(
      "INSERT INTO t(i, f, s, b, n, flag) VALUES (?, ?, ?, ?, ?, ?)",
      42,
      1.5,
      "héllo\u{1F600}",
      blob,
      null,
      true,
    ),
    1,
  );
  assertEquals(db.lastInsertRowId, 1);
  db.run(
    "INSERT INTO t(i, f, s, b, n, flag) VALUES (?, ?, ?, ?, ?, ?)",
    big,
    -0.25,
    "",
    new Uint8Array(0),
    null,
    false,
  );
  db.run("INSERT INTO t(i, s) VALUES (?, ?)", -(2n ** 63n), "a\0b");
  const rows = db.query<
    {
      id: number;
      i: number | bigint;
      f: number | null;
      s: string;
      b: Uint8Array | null;
      n: null;
      flag: number | null;
    }
  >("SELECT * FROM t ORDER BY id");
  assertEquals(rows.length, 3);
  assertEquals(rows[0].i, 42);
  assertEquals(rows[0].f, 1.5);
  assertEquals(rows[0].s, "héllo\u{1F600}");
  assert(rows[0].b instanceof Uint8Array);
  assertEquals([...rows[0].b!], [0, 1, 2, 255]);
  assertEquals(rows[0].n, null);
  assertEquals(rows[0].flag, 1);
  assertEquals(rows[1].i, big);
  assertEquals(typeof rows[1].i, "bigint");
  assertEquals(rows[1].f, -0.25);
  assertEquals(rows[1].s, "");
  assert(rows[1].b instanceof Uint8Array && rows[1].b.length === 0, "empty blob stays a blob");
  assertEquals(rows[1].flag, 0);
  assertEquals(rows[2].i, -(2n ** 63n));
  assertEquals(rows[2].s, "a\0b", "embedded NUL");
  // Text is bound with its byte length: UTF-8 and embedded NULs survive.
  assertEquals(
    db.values("SELECT typeof(b), length(CAST(s AS BLOB)) FROM t ORDER BY id"),
    [["blob", 10], ["blob", 0], ["null", 3]],
  );
  assertEquals(db.values("SELECT ?, ?", Number.MAX_SAFE_INTEGER, 2 ** 53 + 2), [[
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
  ]]);
  assertEquals(db.values("SELECT typeof(?)", 2 ** 70), [["real"]]);
  assertEquals(db.run("UPDATE t SET n = 1 WHERE id < ?", 3), 2);
  assertEquals(db.values(""), []);
  assert(db.autocommit);
  db.exec("BEGIN");
  assert(!db.autocommit);
  db.exec("ROLLBACK");
});

Deno.test("errors are SqliteError with message and extended code; statements are finalized", () => {
  const db = new Database(":memory:");
  const syntax = assertThrows(() => db.query("SELEC 1"), SqliteError);
  assertEquals(syntax.code, SQLITE_ERROR);
  assert(
    syntax.message.includes("syntax error") && syntax.message.endsWith("(code 1)"),
    syntax.message,
  );
  db.exec("CREATE TABLE t(x UNIQUE)");
  db.run("INSERT INTO t VALUES (?)", 1);
  const unique = assertThrows(() => db.run("INSERT INTO t VALUES (?)", 1), SqliteError);
  assertEquals(unique.code, 2067, "SQLITE_CONSTRAINT_UNIQUE");
  assert(unique.message.includes("UNIQUE constraint failed"), unique.message);
  assertThrows(() => db.exec("CREATE TABLE t(y)"), SqliteError);
  assertThrows(() => db.values("SELECT ?", 1, 2), SqliteError);
  assertThrows(() => db.values("SELECT ?", 2n ** 64n), RangeError);
  // Failed statements were finalized: the connection still works and closes cleanly.
  assertEquals(db.values("SELECT count(*) FROM t"), [[1]]);
  db.close();
  db.close();
  assert(!db.isOpen);
  assertThrows(() => db.exec("SELECT 1"), SqliteError);
});

Deno.test("open errors and file databases", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const err = assertThrows(() => new Database(`${dir}/missing/x.db`), SqliteError);
    assertEquals(err.code & 0xff, 14, "SQLITE_CANTOPEN");
    assertThrows(() => new Database(":memory:", { vfs: "no-such-vfs" }), SqliteError);
    {
      using db = new Database(`file:${dir}/a.db?mode=rwc`);
      db.exec("CREATE TABLE t(x); INSERT INTO t VALUES ('persisted')");
    }
    {
      using db = new Database(`${dir}/a.db`, {
        flags: SQLITE_OPEN_READWRITE,
        vfs: Deno.build.os === "windows" ? undefined : "unix",
      });
      assertEquals(db.values("SELECT x FROM t"), [["persisted"]]);
    }
    using mem = new Database("shared", { flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY });
    assertEquals(mem.values("SELECT 1"), [[1]]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

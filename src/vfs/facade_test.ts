/**
 * Unit tests of the VFS-level handlers (src/vfs/handlers.ts: xOpen, locks,
 * xAccess, xDelete, xFullPathname, xGetLastError), called as plain TypeScript
 * over the in-memory protocol store of the simulator (tests/log_sim_store.ts),
 * and of the facade (src/vfs/facade.ts): the structs it builds hold, at each
 * offset of the src/ffi/layout.ts tables, a callback that reaches the handler
 * with pointers turned into strings, bytes and numbers. The io methods of
 * databases are tested in log_file_test.ts. No S3 needed; the facade tests
 * need --allow-ffi and the system libsqlite3.
 */

import assert from "node:assert/strict";
import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { runSync } from "../log/driver.ts";
import { MemStore } from "../../tests/log_sim_store.ts";
import { BlockCache } from "./cache.ts";
import {
  DEFAULT_VFS,
  DEFAULT_VFS_TEMP,
  FAIL_CODES,
  VfsFacade,
  type VfsHandlers,
} from "./facade.ts";
import { S3Handlers } from "./handlers.ts";

const B = 512;
const MAIN = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE;
const JOURNAL = F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE;
const { SQLITE_LOCK_NONE: NONE, SQLITE_LOCK_SHARED: SHARED } = F;
const { SQLITE_LOCK_RESERVED: RESERVED, SQLITE_LOCK_EXCLUSIVE: EXCLUSIVE } = F;

/** Handlers over `mem` (a new store by default); `take()` returns and resets the request counts. */
function handlers(mem: MemStore = new MemStore(Date.UTC(2025, 0, 1))): {
  h: S3Handlers;
  mem: MemStore;
  take: () => Record<string, number>;
} {
  const counts: Record<string, number> = {};
  const h = new S3Handlers({
    bucket: "bkt",
    context: {
      run: (gen) =>
        runSync(gen, {
          runBatch: (ops) =>
            ops.map((op) => {
              counts[op.kind] = (counts[op.kind] ?? 0) + 1;
              return mem.apply(op);
            }),
        }),
      cache: new BlockCache(1 << 20),
      blockSize: B,
      readAhead: null,
      maintain: () => {},
      spillBytes: 1 << 20,
      lease: null,
      staleness: 0,
      checkpointEvery: 100,
      requestTimeoutMs: 10_000,
    },
  });
  const take = (): Record<string, number> => {
    const c = { ...counts };
    for (const k of Object.keys(counts)) delete counts[k];
    return c;
  };
  return { h, mem, take };
}

/** Creates database `name` (one block of 1s) through file id 99, then closes it. */
function create(h: S3Handlers, name: string): void {
  assert.equal(h.xOpen(name, 99, MAIN, null), F.SQLITE_OK);
  for (const level of [SHARED, RESERVED, EXCLUSIVE]) assert.equal(h.xLock(99, level), F.SQLITE_OK);
  h.xWrite(99, new Uint8Array(B).fill(1), 0);
  assert.equal(h.xSync(99, 0), F.SQLITE_OK);
  h.xUnlock(99, NONE);
  h.xClose(99);
}

const int = (): DataView => new DataView(new ArrayBuffer(8));

/** Asserts `fn` throws a VfsError with SQLITE_CANTOPEN whose message matches `message`. */
function cantOpen(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VfsError, String(e));
    assert.equal(e.sqliteCode, F.SQLITE_CANTOPEN);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("S3Handlers.xOpen() behaviour: databases through the log, journals and temp files local", () => {
  const { h, mem, take } = handlers();
  assert.equal(h.xOpen(null, 1, F.SQLITE_OPEN_TEMP_DB | F.SQLITE_OPEN_CREATE, null), DEFAULT_VFS);
  assert.equal(h.xOpen("t", 1, F.SQLITE_OPEN_TEMP_JOURNAL, null), DEFAULT_VFS);
  assert.equal(h.xOpen("s", 1, F.SQLITE_OPEN_SUBJOURNAL, null), DEFAULT_VFS);
  assert.equal(h.xOpen("db-journal", 1, JOURNAL, null), DEFAULT_VFS_TEMP);
  assert.equal(h.xOpen("db-mj0", 1, F.SQLITE_OPEN_SUPER_JOURNAL, null), DEFAULT_VFS_TEMP);
  assert.equal(h.xOpen("db-wal", 1, F.SQLITE_OPEN_WAL, null), DEFAULT_VFS_TEMP);
  assert.deepEqual(take(), {}, "no request for local files");
  for (
    const [name, why] of [
      ["/a", /leading "\/"/],
      ["a/", /trailing "\/"/],
      ["a/../b", /"\.\." segment/],
      ["a//b", /empty path segment/],
      ["a\u0000b", /control character/],
      ["x.s3vfs/y", /reserved/],
      ["", /empty/],
      ["db-journal", /ends in "-journal"/],
      ["db-wal", /ends in "-wal"/],
    ] as const
  ) {
    cantOpen(() => h.xOpen(name, 2, MAIN, null), why);
  }
  assert.deepEqual(take(), {}, "bad names are refused before any request");
  cantOpen(
    () => h.xOpen("db", 2, F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READONLY, null),
    /no database at s3:\/\/bkt\/db \(open with SQLITE_OPEN_CREATE/,
  );
  assert.deepEqual(take(), { get: 3, list: 1 }, "a cold open finding nothing");
  assert.equal(h.openFiles, 0);
  const out = int();
  assert.equal(h.xOpen("db", 3, MAIN, out), F.SQLITE_OK);
  assert.equal(out.getInt32(0, true), MAIN);
  assert.equal(h.openFiles, 1);
  assert.equal(h.xClose(3), F.SQLITE_OK);
  assert.equal(h.openFiles, 0);
  assert.equal(mem.objects.size, 0, "opening writes nothing");
  h.closed = true;
  cantOpen(() => h.xOpen("db", 4, MAIN, null), /closed/);
});

Deno.test("S3Handlers.xLock() behaviour: xLock, xCheckReservedLock, xUnlock across two handles", () => {
  const { h, take } = handlers();
  create(h, "db");
  h.xOpen("db", 1, MAIN, null);
  h.xOpen("db", 2, MAIN, null);
  take();
  const held = int();
  assert.equal(h.xLock(1, SHARED), F.SQLITE_OK);
  assert.deepEqual(take(), { get: 1 }, "the first SHARED lock refreshes: 1 GET");
  assert.equal(h.xLock(2, SHARED), F.SQLITE_OK);
  assert.deepEqual(take(), {}, "the second keeps the snapshot");
  assert.equal(h.xLock(1, RESERVED), F.SQLITE_OK);
  assert.equal(h.xCheckReservedLock(2, held), F.SQLITE_OK);
  assert.equal(held.getInt32(0, true), 1);
  assert.equal(h.xLock(2, RESERVED), F.SQLITE_BUSY);
  assert.equal(h.xLock(1, EXCLUSIVE), F.SQLITE_BUSY, "the other reader blocks it");
  assert.equal(h.xUnlock(2, NONE), F.SQLITE_OK);
  assert.equal(h.xLock(1, EXCLUSIVE), F.SQLITE_OK);
  assert.equal(h.xLock(2, SHARED), F.SQLITE_BUSY, "no new reader under EXCLUSIVE");
  assert.equal(h.xUnlock(1, SHARED), F.SQLITE_OK);
  assert.equal(h.xCheckReservedLock(2, held), F.SQLITE_OK);
  assert.equal(held.getInt32(0, true), 0);
  assert.equal(h.xLock(2, SHARED), F.SQLITE_OK);
  assert.deepEqual(take(), {}, "another connection still reads: no refresh");
  assert.equal(h.xClose(1), F.SQLITE_OK);
  assert.equal(h.xClose(2), F.SQLITE_OK);
});

Deno.test("S3Handlers VFS methods behaviour: xAccess, xDelete, xFullPathname, xGetLastError", () => {
  const { h, mem, take } = handlers();
  const out = int();
  const exists = (name: string, flags: number = F.SQLITE_ACCESS_EXISTS): number => {
    out.setInt32(0, -1, true);
    assert.equal(h.xAccess(name, flags, out), F.SQLITE_OK);
    return out.getInt32(0, true);
  };
  assert.equal(exists("db"), 0);
  create(h, "db");
  assert.equal(exists("db"), 1);
  take();
  for (const name of ["db-journal", "db-wal", "db-shm"]) assert.equal(exists(name), 0, name);
  assert.equal(exists("db", F.SQLITE_ACCESS_READWRITE), 1);
  assert.deepEqual(take(), {}, "known and companion names need no request");
  const stored = [...mem.objects.keys()];
  assert.equal(h.xDelete("db-journal"), F.SQLITE_OK);
  assert.equal(h.xDelete("db"), F.SQLITE_OK);
  assert.deepEqual([...mem.objects.keys()], stored, "xDelete deletes nothing in S3");
  assert.deepEqual(take(), {});
  const name = new Uint8Array(4).fill(0xff);
  assert.equal(h.xFullPathname("a/b", name), F.SQLITE_OK);
  assert.deepEqual([...name], [97, 47, 98, 0]);
  assert.equal(h.xFullPathname("a/bc", name), F.SQLITE_CANTOPEN);
  assert.equal(h.fail(new VfsError("S3 503 SlowDown"), F.SQLITE_IOERR_READ), F.SQLITE_IOERR_READ);
  assert.equal(h.fail(new VfsError("gone", { sqliteCode: F.SQLITE_NOTADB }), 1), F.SQLITE_NOTADB);
  const msg = new Uint8Array(5);
  assert.equal(h.xGetLastError(msg), F.SQLITE_NOTADB);
  assert.equal(new TextDecoder().decode(msg), "gone\0");
  assert.equal(h.xGetLastError(new Uint8Array(0)), F.SQLITE_NOTADB);
});

/** Handlers that record their calls (arguments as plain values) and answer fixed results. */
class Recorder implements VfsHandlers {
  calls: unknown[][] = [];
  #rec = (name: string, ...a: unknown[]): number => (this.calls.push([name, ...a]), F.SQLITE_OK);
  xOpen(
    name: string | null,
    id: number,
    flags: number,
    out: DataView | null,
  ): number | typeof DEFAULT_VFS | typeof DEFAULT_VFS_TEMP {
    out?.setInt32(0, flags, true);
    return this.#rec("xOpen", name, id, flags);
  }
  xDelete = (name: string): number => this.#rec("xDelete", name);
  xAccess = (name: string, flags: number, out: DataView): number => {
    out.setInt32(0, 1, true);
    return this.#rec("xAccess", name, flags);
  };
  xFullPathname = (name: string, out: Uint8Array): number => {
    out.set(new TextEncoder().encode(`/${name}\0`));
    return this.#rec("xFullPathname", name, out.length);
  };
  xGetLastError = (out: Uint8Array): number => this.#rec("xGetLastError", out.length);
  xClose = (id: number): number => this.#rec("xClose", id);
  xRead = (id: number, dst: Uint8Array, offset: number): number => {
    dst.fill(7);
    return this.#rec("xRead", id, dst.length, offset);
  };
  xWrite = (id: number, src: Uint8Array, offset: number): number =>
    this.#rec("xWrite", id, [...src], offset);
  xTruncate = (id: number, size: number): number => this.#rec("xTruncate", id, size);
  xSync = (id: number, flags: number): number => this.#rec("xSync", id, flags);
  xFileSize = (id: number, out: DataView): number => {
    out.setBigInt64(0, 1n << 40n, true);
    return this.#rec("xFileSize", id);
  };
  xLock = (id: number, level: number): number => this.#rec("xLock", id, level);
  xUnlock = (id: number, level: number): number => this.#rec("xUnlock", id, level);
  xCheckReservedLock = (id: number, out: DataView): number => {
    out.setInt32(0, 1, true);
    return this.#rec("xCheckReservedLock", id);
  };
  xFileControl = (_id: number, _op: number): never => {
    throw new Error("boom");
  };
  xPragma = (_id: number, _name: string, _value: string | null): undefined => undefined;
  xSectorSize = (_id: number): number => 512;
  xDeviceCharacteristics = (_id: number): number => 0x1234;
  fail = (e: unknown, code: number): number => this.#rec("fail", String(e), code) + code;
}

/** Address of a buffer, for "pointer" arguments. */
const ptr = (b: BufferSource): Deno.PointerValue => Deno.UnsafePointer.of(b);

/** Calls the function pointer at `offset` of `struct` with its definition from the table. */
function slot<const D extends Deno.ForeignFunction>(
  struct: Deno.PointerObject,
  offset: number,
  def: D,
): Deno.UnsafeFnPointer<D> {
  const p = new Deno.UnsafePointerView(struct).getPointer(offset);
  assert.ok(p, `function pointer at ${offset}`);
  return new Deno.UnsafeFnPointer(p as Deno.PointerObject<Omit<D, "nonblocking">>, def);
}

Deno.test("VfsFacade() behaviour: table offsets hold callbacks that reach the handlers", () => {
  const lib = F.loadSqlite();
  const dflt = lib.symbols.sqlite3_vfs_find(null)!;
  const rec = new Recorder();
  const facade = new VfsFacade("facade-test", dflt, rec, () => null);
  try {
    const vfs = new Deno.UnsafePointerView(facade.pointer);
    const dv = new Deno.UnsafePointerView(dflt);
    const O = F.VFS_OFFSETS, M = F.VFS_METHODS;
    assert.equal(F.readCString(vfs.getPointer(O.zName)), "facade-test");
    assert.equal(vfs.getInt32(O.iVersion), Math.min(2, dv.getInt32(O.iVersion)));
    assert.ok(vfs.getInt32(O.szOsFile) >= Math.max(16, dv.getInt32(O.szOsFile)));
    for (const m of ["xDlOpen", "xRandomness", "xCurrentTime"] as const) {
      assert.equal(F.pointerValue(vfs.getPointer(O[m])), F.pointerValue(dv.getPointer(O[m])), m);
    }
    // VFS methods: strings and out-parameters.
    const zOut = new Uint8Array(64);
    const name = F.cstring("a/b");
    assert.equal(
      slot(facade.pointer, O.xFullPathname, M.xFullPathname).call(
        facade.pointer,
        ptr(name),
        64,
        ptr(zOut),
      ),
      0,
    );
    assert.equal(F.readCString(Deno.UnsafePointer.of(zOut)), "/a/b");
    const i32 = new Int32Array(2);
    slot(facade.pointer, O.xAccess, M.xAccess).call(facade.pointer, ptr(name), 0, ptr(i32));
    assert.equal(i32[0], 1);
    slot(facade.pointer, O.xDelete, M.xDelete).call(facade.pointer, ptr(name), 1);
    // xOpen writes pMethods and the file id into the sqlite3_file; io methods get that id.
    const file = new BigUint64Array(vfs.getInt32(O.szOsFile) / 8 + 1);
    const filePtr = Deno.UnsafePointer.of(file)!;
    slot(facade.pointer, O.xOpen, M.xOpen).call(facade.pointer, ptr(name), filePtr, MAIN, ptr(i32));
    assert.equal(i32[0], MAIN);
    const id = Number(file[1] & 0xffffffffn);
    assert.ok(file[0] !== 0n && id > 0, "pMethods and file id set");
    const io = Deno.UnsafePointer.create(file[0])!;
    const I = F.IO_METHODS_OFFSETS, IM = F.IO_METHODS;
    assert.equal(new Deno.UnsafePointerView(io).getInt32(I.iVersion), 1);
    const buf = new Uint8Array(8);
    assert.equal(slot(io, I.xRead, IM.xRead).call(filePtr, ptr(buf), 8, 2n ** 40n), 0);
    assert.deepEqual([...buf], new Array(8).fill(7));
    slot(io, I.xWrite, IM.xWrite).call(filePtr, ptr(new Uint8Array([1, 2, 3])), 3, 5n);
    slot(io, I.xTruncate, IM.xTruncate).call(filePtr, 4096n);
    slot(io, I.xSync, IM.xSync).call(filePtr, F.SQLITE_SYNC_FULL);
    const i64 = new BigInt64Array(1);
    slot(io, I.xFileSize, IM.xFileSize).call(filePtr, ptr(i64));
    assert.equal(i64[0], 1n << 40n);
    slot(io, I.xLock, IM.xLock).call(filePtr, F.SQLITE_LOCK_SHARED);
    slot(io, I.xCheckReservedLock, IM.xCheckReservedLock).call(filePtr, ptr(i32));
    assert.equal(i32[0], 1);
    slot(io, I.xUnlock, IM.xUnlock).call(filePtr, F.SQLITE_LOCK_NONE);
    assert.equal(slot(io, I.xSectorSize, IM.xSectorSize).call(filePtr), 512);
    assert.equal(
      slot(io, I.xDeviceCharacteristics, IM.xDeviceCharacteristics).call(filePtr),
      0x1234,
    );
    // A throwing handler: the callback returns the method's code through fail().
    assert.equal(
      slot(io, I.xFileControl, IM.xFileControl).call(filePtr, 5, null),
      FAIL_CODES.xFileControl,
    );
    slot(io, I.xClose, IM.xClose).call(filePtr);
    assert.deepEqual(rec.calls, [
      ["xFullPathname", "a/b", 64],
      ["xAccess", "a/b", 0],
      ["xDelete", "a/b"],
      ["xOpen", "a/b", id, MAIN],
      ["xRead", id, 8, 2 ** 40],
      ["xWrite", id, [1, 2, 3], 5],
      ["xTruncate", id, 4096],
      ["xSync", id, F.SQLITE_SYNC_FULL],
      ["xFileSize", id],
      ["xLock", id, F.SQLITE_LOCK_SHARED],
      ["xCheckReservedLock", id],
      ["xUnlock", id, F.SQLITE_LOCK_NONE],
      ["fail", "Error: boom", F.SQLITE_NOTFOUND],
      ["xClose", id],
    ]);
    // Left empty: pNext (SQLite links it at registration) and pAppData.
    assert.equal(vfs.getPointer(O.pNext), null);
    assert.equal(vfs.getPointer(O.pAppData), null);
  } finally {
    facade.close();
  }
});

Deno.test("VfsFacade() behaviour: temp files go to the default VFS's xOpen", () => {
  const lib = F.loadSqlite();
  const dflt = lib.symbols.sqlite3_vfs_find(null)!;
  const rec = new Recorder();
  rec.xOpen = () => DEFAULT_VFS;
  const facade = new VfsFacade("facade-test-2", dflt, rec, () => null);
  try {
    const vfs = new Deno.UnsafePointerView(facade.pointer);
    const O = F.VFS_OFFSETS;
    const file = new BigUint64Array(vfs.getInt32(O.szOsFile) / 8 + 1);
    const flags = F.SQLITE_OPEN_TEMP_DB | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE |
      F.SQLITE_OPEN_DELETEONCLOSE | F.SQLITE_OPEN_EXCLUSIVE;
    const rc = slot(facade.pointer, O.xOpen, F.VFS_METHODS.xOpen).call(
      facade.pointer,
      null,
      ptr(file),
      flags,
      null,
    );
    assert.equal(rc, F.SQLITE_OK);
    const io = Deno.UnsafePointer.create(file[0])!;
    assert.ok(io, "the default VFS's io methods");
    const I = F.IO_METHODS_OFFSETS;
    assert.ok(new Deno.UnsafePointerView(io).getInt32(I.iVersion) >= 1);
    const close = slot(io, I.xClose, F.IO_METHODS.xClose);
    assert.equal(close.call(Deno.UnsafePointer.of(file)), F.SQLITE_OK);
    assert.deepEqual(rec.calls, []);
  } finally {
    facade.close();
  }
});

Deno.test("VfsFacade() behaviour: a journal goes to the default VFS as a local temp file", () => {
  const lib = F.loadSqlite();
  const dflt = lib.symbols.sqlite3_vfs_find(null)!;
  const rec = new Recorder();
  rec.xOpen = (name, _id, flags) => (rec.calls.push(["xOpen", name, flags]), DEFAULT_VFS_TEMP);
  const facade = new VfsFacade("facade-test-3", dflt, rec, () => null);
  const dir = Deno.makeTempDirSync();
  try {
    const O = F.VFS_OFFSETS;
    const file = new BigUint64Array(
      new Deno.UnsafePointerView(facade.pointer).getInt32(O.szOsFile),
    );
    const filePtr = Deno.UnsafePointer.of(file);
    const path = `${dir}/db-journal`;
    const outFlags = new Int32Array(1);
    const rc = slot(facade.pointer, O.xOpen, F.VFS_METHODS.xOpen).call(
      facade.pointer,
      ptr(F.cstring(path)),
      filePtr,
      JOURNAL,
      ptr(outFlags),
    );
    assert.equal(rc, F.SQLITE_OK);
    assert.deepEqual(rec.calls, [["xOpen", path, JOURNAL]]);
    assert.equal(outFlags[0] & F.SQLITE_OPEN_MAIN_JOURNAL, 0, "opened as another file type");
    assert.ok(outFlags[0] & F.SQLITE_OPEN_DELETEONCLOSE, "deleted on close");
    const io = Deno.UnsafePointer.create(file[0])!;
    const I = F.IO_METHODS_OFFSETS, IM = F.IO_METHODS;
    const data = new Uint8Array([1, 2, 3, 4]);
    assert.equal(slot(io, I.xWrite, IM.xWrite).call(filePtr, ptr(data), 4, 10n), F.SQLITE_OK);
    const back = new Uint8Array(4);
    assert.equal(slot(io, I.xRead, IM.xRead).call(filePtr, ptr(back), 4, 10n), F.SQLITE_OK);
    assert.deepEqual(back, data);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing under the journal's name");
    assert.equal(slot(io, I.xClose, IM.xClose).call(filePtr), F.SQLITE_OK);
    assert.equal(rec.calls.length, 1, "io calls never reach the handlers");
  } finally {
    facade.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

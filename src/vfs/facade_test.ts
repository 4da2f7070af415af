/**
 * Unit tests of the VFS handlers (src/vfs/handlers.ts), called as plain
 * TypeScript with byte arrays and DataViews over an in-memory fake bridge,
 * and of the facade (src/vfs/facade.ts): the structs it builds hold, at each
 * offset of the src/ffi/layout.ts tables, a callback that reaches the handler
 * with pointers turned into strings, bytes and numbers. No S3 needed; the
 * facade tests need --allow-ffi and the system libsqlite3.
 */

import assert from "node:assert/strict";
import { blockIndexOf } from "../blocks.ts";
import type { OpResult } from "../bridge/protocol.ts";
import type { BridgeOp } from "../bridge/protocol.ts";
import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { BlockCache } from "./cache.ts";
import { DEFAULT_VFS, FAIL_CODES, VfsFacade, type VfsHandlers } from "./facade.ts";
import { S3Handlers } from "./handlers.ts";

const B = 512;
const MAIN = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE;
const JOURNAL = F.SQLITE_OPEN_MAIN_JOURNAL | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE;

/** Handlers over an in-memory object map; `ops` logs every operation. */
function handlers(): { h: S3Handlers; objects: Map<string, Uint8Array>; ops: string[] } {
  const objects = new Map<string, Uint8Array>();
  const ops: string[] = [];
  let n = 0;
  const run = (op: BridgeOp): OpResult => {
    ops.push(op.op === "stat" ? `stat ${op.prefix}` : `${op.op} ${"key" in op ? op.key : ""}`);
    switch (op.op) {
      case "get": {
        const d = objects.get(op.key);
        return d ? { status: "ok", etag: `"${d.length}"`, data: d.slice() } : { status: "absent" };
      }
      case "put":
        objects.set(op.key, op.data!.slice());
        return { status: "ok", etag: `"e${++n}"` };
      case "delete":
        objects.delete(op.key);
        return { status: "ok" };
      case "deleteMany":
        for (const k of op.keys) objects.delete(k);
        return { status: "ok" };
      case "stat": {
        const idx = [...objects.keys()].map((k) => blockIndexOf(op.prefix, k))
          .filter((i) => i !== undefined);
        const size = [...objects].filter(([k]) => blockIndexOf(op.prefix, k) !== undefined)
          .reduce((s, [, d]) => s + d.length, 0);
        return { status: "ok", size, end: idx.length ? Math.max(...idx) + 1 : 0 };
      }
    }
  };
  const h = new S3Handlers({
    bucket: "bkt",
    blockSize: B,
    maxDirty: 1 << 20,
    storeContext: {
      call: (phases) => phases.map((p) => p.map(run)),
      cache: new BlockCache(1 << 20),
      blockSize: B,
      readAhead: null,
    },
  });
  return { h, objects, ops };
}

const int = (): DataView => new DataView(new ArrayBuffer(8));

Deno.test("S3Handlers.xOpen() behaviour: S3 for databases and journals, temp files passed on", () => {
  const { h } = handlers();
  assert.equal(h.xOpen(null, 1, F.SQLITE_OPEN_TEMP_DB | F.SQLITE_OPEN_CREATE, null), DEFAULT_VFS);
  assert.equal(h.xOpen("t", 1, F.SQLITE_OPEN_TEMP_JOURNAL, null), DEFAULT_VFS);
  assert.throws(
    () => h.xOpen("db", 2, F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READWRITE, null),
    (e: unknown) => e instanceof VfsError && e.sqliteCode === F.SQLITE_CANTOPEN,
  );
  const out = int();
  assert.equal(h.xOpen("db", 3, MAIN, out), F.SQLITE_OK);
  assert.equal(out.getInt32(0, true), MAIN);
  assert.equal(h.openFiles, 1);
  assert.equal(h.xClose(3), F.SQLITE_OK);
  assert.equal(h.openFiles, 0);
  h.closed = true;
  assert.throws(() => h.xOpen("db", 4, MAIN, null), /closed/);
});

Deno.test("S3Handlers io methods behaviour: bytes in, bytes out, written back at xSync", () => {
  const { h, objects, ops } = handlers();
  assert.equal(h.xOpen("db", 7, MAIN, null), F.SQLITE_OK);
  const page = new Uint8Array(B).map((_, i) => i % 251);
  assert.equal(h.xWrite(7, page, 0), F.SQLITE_OK);
  assert.equal(h.xWrite(7, page, B), F.SQLITE_OK);
  const size = int();
  assert.equal(h.xFileSize(7, size), F.SQLITE_OK);
  assert.equal(size.getBigInt64(0, true), BigInt(2 * B));
  assert.equal(objects.size, 0, "nothing written before xSync");
  assert.equal(h.xSync(7, F.SQLITE_SYNC_NORMAL), F.SQLITE_OK);
  assert.deepEqual([...objects.keys()], ["db/0000000001", "db/0000000000"], "block 0 last");
  const dst = new Uint8Array(B + 10).fill(0xff);
  assert.equal(h.xRead(7, dst, B), F.SQLITE_IOERR_SHORT_READ);
  assert.deepEqual(dst.subarray(0, B), page);
  assert.deepEqual(dst.subarray(B), new Uint8Array(10), "a short read zero-fills");
  assert.equal(h.xTruncate(7, B), F.SQLITE_OK);
  assert.deepEqual([...objects.keys()], ["db/0000000000"]);
  assert.ok(!ops.includes("get db/0000000000"), "reads came from the cache");
  assert.equal(h.xFileControl(7, F.SQLITE_FCNTL_SYNC), F.SQLITE_OK);
  assert.equal(h.xFileControl(7, F.SQLITE_FCNTL_PRAGMA), F.SQLITE_NOTFOUND);
  assert.equal(h.xSectorSize(7), 512);
  assert.equal(
    h.xDeviceCharacteristics(7) & F.SQLITE_IOCAP_SAFE_APPEND,
    F.SQLITE_IOCAP_SAFE_APPEND,
  );
  assert.equal(h.xClose(7), F.SQLITE_OK);
  assert.throws(() => h.xRead(7, dst, 0), /unknown file handle/);
});

Deno.test("S3Handlers locks behaviour: xLock, xCheckReservedLock, xUnlock across two files", () => {
  const { h } = handlers();
  h.xOpen("db", 1, MAIN, null);
  h.xOpen("db", 2, MAIN, null);
  const held = int();
  assert.equal(h.xLock(1, F.SQLITE_LOCK_SHARED), F.SQLITE_OK);
  assert.equal(h.xLock(2, F.SQLITE_LOCK_SHARED), F.SQLITE_OK);
  assert.equal(h.xLock(1, F.SQLITE_LOCK_RESERVED), F.SQLITE_OK);
  assert.equal(h.xCheckReservedLock(2, held), F.SQLITE_OK);
  assert.equal(held.getInt32(0, true), 1);
  assert.equal(h.xLock(2, F.SQLITE_LOCK_RESERVED), F.SQLITE_BUSY);
  assert.equal(h.xLock(1, F.SQLITE_LOCK_EXCLUSIVE), F.SQLITE_BUSY, "the other reader blocks it");
  assert.equal(h.xUnlock(2, F.SQLITE_LOCK_NONE), F.SQLITE_OK);
  assert.equal(h.xLock(1, F.SQLITE_LOCK_EXCLUSIVE), F.SQLITE_OK);
  assert.equal(h.xUnlock(1, F.SQLITE_LOCK_SHARED), F.SQLITE_OK);
  assert.equal(h.xCheckReservedLock(2, held), F.SQLITE_OK);
  assert.equal(held.getInt32(0, true), 0);
});

Deno.test("S3Handlers VFS methods behaviour: xAccess, xDelete, xFullPathname, xGetLastError", () => {
  const { h, objects } = handlers();
  const out = int();
  assert.equal(h.xAccess("db-journal", F.SQLITE_ACCESS_EXISTS, out), F.SQLITE_OK);
  assert.equal(out.getInt32(0, true), 0);
  h.xOpen("db", 1, MAIN, null);
  h.xOpen("db-journal", 2, JOURNAL, null);
  h.xWrite(2, new Uint8Array(B + 1).fill(1), 0);
  h.xWrite(1, new Uint8Array(B).fill(2), 0);
  h.xSync(2, 0);
  assert.equal(h.xAccess("db-journal", F.SQLITE_ACCESS_EXISTS, out), F.SQLITE_OK);
  assert.equal(out.getInt32(0, true), 1);
  h.xClose(2);
  assert.equal(h.xDelete("db-journal"), F.SQLITE_OK);
  assert.deepEqual([...objects.keys()], ["db/0000000000"], "the database first, then the journal");
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
  ): number | typeof DEFAULT_VFS {
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
  const facade = new VfsFacade("facade-test", dflt, rec);
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
  const facade = new VfsFacade("facade-test-2", dflt, rec);
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

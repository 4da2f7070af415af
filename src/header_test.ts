/**
 * Unit tests of the SQLite header parser (src/header.ts): every field at its
 * offset, the page-count validity rule, and the NOTADB refusals.
 */

import assert from "node:assert/strict";
import { VfsError } from "./errors.ts";
import { hasSqliteMagic, HEADER_SIZE, parseSqliteHeader, SQLITE_MAGIC } from "./header.ts";

/** A valid 100-byte header (page size 4096) with `set` applied to its DataView. */
function header(set: (v: DataView) => void = () => {}, length = HEADER_SIZE): Uint8Array {
  const b = new Uint8Array(length);
  b.set(SQLITE_MAGIC);
  const v = new DataView(b.buffer);
  v.setUint16(16, 4096);
  set(v);
  return b;
}

/** Asserts that parsing `bytes` throws a VfsError with SQLITE_NOTADB (26) matching `re`. */
function assertNotADb(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => parseSqliteHeader(bytes), (e: unknown) => {
    assert.ok(e instanceof VfsError, `expected VfsError, got ${e}`);
    assert.equal(e.sqliteCode, 26);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("SQLITE_MAGIC is 'SQLite format 3\\0' and HEADER_SIZE 100", () => {
  assert.equal(new TextDecoder().decode(SQLITE_MAGIC), "SQLite format 3\0");
  assert.equal(SQLITE_MAGIC.length, 16);
  assert.equal(HEADER_SIZE, 100);
});

Deno.test("hasSqliteMagic() needs all 16 magic bytes at the start", () => {
  assert.equal(hasSqliteMagic(header()), true);
  assert.equal(hasSqliteMagic(SQLITE_MAGIC), true);
  assert.equal(hasSqliteMagic(SQLITE_MAGIC.subarray(0, 15)), false);
  const bad = header();
  bad[15] = 0x20; // "SQLite format 3 " without the NUL
  assert.equal(hasSqliteMagic(bad), false);
  assert.equal(hasSqliteMagic(new Uint8Array(0)), false);
});

Deno.test("parseSqliteHeader() reads every field at its big-endian offset", () => {
  const h = parseSqliteHeader(header((v) => {
    v.setUint16(16, 8192);
    v.setUint8(18, 1);
    v.setUint8(19, 2);
    v.setUint8(20, 12);
    v.setUint32(24, 0x01020304);
    v.setUint32(28, 77);
    v.setUint32(32, 5);
    v.setUint32(36, 6);
    v.setUint32(40, 7);
    v.setUint32(44, 4);
    v.setUint32(56, 1);
    v.setUint32(60, 0xfedcba98);
    v.setUint32(68, 0x12345678);
    v.setUint32(92, 0x01020304);
    v.setUint32(96, 3046000);
  }));
  assert.deepEqual(h, {
    pageSize: 8192,
    writeVersion: 1,
    readVersion: 2,
    reservedBytes: 12,
    changeCounter: 0x01020304,
    pageCount: 77,
    pageCountValid: true,
    freelistTrunk: 5,
    freelistCount: 6,
    schemaCookie: 7,
    schemaFormat: 4,
    textEncoding: 1,
    userVersion: 0xfedcba98,
    applicationId: 0x12345678,
    versionValidFor: 0x01020304,
    sqliteVersion: 3046000,
  });
});

Deno.test("parseSqliteHeader() reads page size 1 as 65536", () => {
  assert.equal(parseSqliteHeader(header((v) => v.setUint16(16, 1))).pageSize, 65536);
});

Deno.test("parseSqliteHeader() accepts every power of two from 512 to 32768", () => {
  for (let p = 512; p <= 32768; p *= 2) {
    assert.equal(parseSqliteHeader(header((v) => v.setUint16(16, p))).pageSize, p);
  }
});

Deno.test("parseSqliteHeader() marks the page count valid only when non-zero and offset 92 = change counter", () => {
  const valid = (pageCount: number, counter: number, validFor: number): boolean =>
    parseSqliteHeader(header((v) => {
      v.setUint32(28, pageCount);
      v.setUint32(24, counter);
      v.setUint32(92, validFor);
    })).pageCountValid;
  assert.equal(valid(10, 3, 3), true);
  assert.equal(valid(10, 3, 2), false, "written by a legacy library: stale count");
  assert.equal(valid(0, 3, 3), false, "zero pages");
});

Deno.test("parseSqliteHeader() reads from a subarray at a non-zero byteOffset", () => {
  const big = new Uint8Array(150);
  big.set(header((v) => v.setUint32(60, 42)), 50);
  assert.equal(parseSqliteHeader(big.subarray(50)).userVersion, 42);
});

Deno.test("parseSqliteHeader() refuses fewer than 100 bytes with SQLITE_NOTADB", () => {
  assertNotADb(header(undefined, 99), /99 bytes is shorter than the 100-byte/);
  assertNotADb(new Uint8Array(0), /0 bytes/);
});

Deno.test("parseSqliteHeader() refuses a missing magic string with SQLITE_NOTADB", () => {
  const b = header();
  b[0] = "s".charCodeAt(0);
  assertNotADb(b, /does not start with "SQLite format 3\\0"/);
  assertNotADb(new Uint8Array(4096), /does not start with/);
});

Deno.test("parseSqliteHeader() refuses page sizes that are not powers of two in 512..65536", () => {
  for (const p of [0, 256, 511, 513, 1000, 4095, 65535]) {
    assertNotADb(header((v) => v.setUint16(16, p)), new RegExp(`page size ${p} \\(header bytes`));
  }
});

Deno.test("parseSqliteHeader() agrees with a real database file (tests/data/chinook.sqlite)", async () => {
  const file = await Deno.readFile(new URL("../tests/data/chinook.sqlite", import.meta.url));
  const h = parseSqliteHeader(file);
  assert.ok(h.pageSize >= 512 && file.length % h.pageSize === 0);
  assert.equal(h.pageCountValid, true);
  assert.equal(h.pageCount * h.pageSize, file.length);
  assert.ok([1, 2, 3].includes(h.textEncoding));
  assert.ok(h.sqliteVersion >= 3_000_000 && h.sqliteVersion < 4_000_000);
});

/**
 * Names that alias and block-size mismatches are refused before any request:
 * a clear error, and a listing of the bucket afterwards shows nothing written.
 */

import assert from "node:assert/strict";
import { OPEN_READWRITE } from "../src/vfs/options.ts";
import { freshBucket, type TestBucket } from "./_harness.ts";
import { Database, openDb, testVfs } from "./_vfs.ts";

async function allKeys(b: TestBucket): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of b.client.list(b.bucket)) keys.push(e.key);
  return keys;
}

const BAD_NAMES: [string, RegExp][] = [
  ["/leading/slash.db", /leading/],
  ["trailing/", /trailing/],
  ["a//b.db", /empty/],
  ["a/./b.db", /"\."/],
  ["a/../b.db", /"\.\."/],
  ["nul\u0000byte.db", /control/],
  ["tab\there.db", /control/],
  ["other.s3vfs/log", /\.s3vfs/],
  ["app.db-journal", /-journal/],
  ["app.db-wal", /-wal/],
  ["", /empty/],
];

Deno.test("S3VFS.uri() refuses names that alias, with a TypeError and no request", async () => {
  await using b = await freshBucket("names-uri");
  using vfs = testVfs(b.bucket);
  for (const [name, why] of BAD_NAMES) {
    assert.throws(() => vfs.uri(name), (e: unknown) => {
      assert.ok(e instanceof TypeError, `${JSON.stringify(name)}: ${e}`);
      assert.match(e.message, why, JSON.stringify(name));
      return true;
    });
  }
  assert.equal(vfs.stats().requests.total, 0, "no request");
  assert.deepEqual(await allKeys(b), []);
});

Deno.test("S3VFS xOpen refuses names that alias (a raw file: URI) with SQLITE_CANTOPEN, writing nothing", async () => {
  await using b = await freshBucket("names-open");
  using vfs = testVfs(b.bucket);
  for (const name of ["/abs.db", "x/../y.db", "z.s3vfs/w", "q.db-journal"]) {
    const uri = `file:${encodeURI(name)}?vfs=${vfs.name}`;
    assert.throws(() => new Database(uri, { flags: OPEN_READWRITE }), /unable to open/);
    assert.match(String(vfs.lastError), /s3vfs: .*(leading|\.\.|\.s3vfs|-journal)/, name);
  }
  assert.equal(vfs.stats().requests.total, 0, "no request");
  assert.deepEqual(await allKeys(b), []);
});

Deno.test("S3VFS: opening a database with another blockSize is a clear error before anything is written", async () => {
  await using b = await freshBucket("names-blocksize");
  const prefix = "bs/db.sqlite";
  {
    using vfs = testVfs(b.bucket, { blockSize: 4096 });
    const db = openDb(vfs, prefix);
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    db.close();
  }
  const before = await allKeys(b);
  using other = testVfs(b.bucket, { blockSize: 8192 });
  assert.throws(() => openDb(other, prefix), /unable to open/);
  assert.match(String(other.lastError), /block size 4096, opened with blockSize 8192/);
  assert.equal(other.stats().requests.put, 0, "nothing written");
  assert.deepEqual(await allKeys(b), before);
});

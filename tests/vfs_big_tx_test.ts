/**
 * Big SQL transactions keep bounded memory: past `maxDirtyBytes` the changed
 * blocks are staged in S3 as chunks (`<prefix>.s3vfs/stage/...`), read back
 * when SQLite needs them again, and still become visible atomically through
 * one create-only commit object; a rolled-back one leaves nothing visible.
 */

import assert from "node:assert/strict";
import { freshBucket, type TestBucket } from "./_harness.ts";
import { openDb, testVfs } from "./_vfs.ts";

async function keys(b: TestBucket, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of b.client.list(b.bucket, { prefix })) out.push(e.key);
  return out;
}

Deno.test("S3VFS: a transaction past maxDirtyBytes is staged as it goes and commits as one object", async () => {
  await using b = await freshBucket("big-tx");
  const prefix = "big/tx.sqlite";
  using vfs = testVfs(b.bucket, { maxDirtyBytes: 256 * 1024 });
  const db = openDb(vfs, prefix);
  try {
    db.exec("PRAGMA cache_size = 50"); // SQLite re-reads pages it wrote: from the staged chunks
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    db.exec("CREATE INDEX t_v ON t(v)");
    const before = await keys(b, `${prefix}.s3vfs/log/`);
    db.exec("BEGIN");
    vfs.resetStats();
    for (let i = 1; i <= 6000; i++) {
      db.run("INSERT INTO t (v) VALUES (?)", `row ${(i * 7919) % 6000} ${"x".repeat(300)}`);
    }
    const staged = vfs.stats().requests.put;
    assert.ok(staged >= 4, `chunks staged before COMMIT: ${staged} PUTs`);
    assert.deepEqual(await keys(b, `${prefix}.s3vfs/log/`), before, "nothing visible yet");
    db.exec("COMMIT");
    const log = await keys(b, `${prefix}.s3vfs/log/`);
    assert.equal(log.length, before.length + 1, "the whole transaction is one commit object");
    const head = await b.client.head(b.bucket, log[log.length - 1]);
    assert.ok(
      head && head.size < 64 * 1024,
      `the commit object references the chunks (${head?.size} B)`,
    );
    assert.ok((await keys(b, `${prefix}.s3vfs/stage/`)).length >= staged);
    assert.equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 6000);
    assert.equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
  } finally {
    db.close();
  }
  using fresh = testVfs(b.bucket);
  const other = openDb(fresh, prefix);
  assert.equal(other.prepare("SELECT count(*) FROM t").values()[0][0], 6000);
  assert.equal(other.prepare("PRAGMA integrity_check").values()[0][0], "ok");
  other.close();
});

Deno.test("S3VFS: a rolled-back staged transaction leaves nothing visible", async () => {
  await using b = await freshBucket("big-tx-rollback");
  const prefix = "big/rollback.sqlite";
  using vfs = testVfs(b.bucket, { maxDirtyBytes: 128 * 1024 });
  const db = openDb(vfs, prefix);
  try {
    db.exec("PRAGMA cache_size = 20");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    db.exec("INSERT INTO t (v) VALUES ('kept')");
    const before = await keys(b, `${prefix}.s3vfs/log/`);
    db.exec("BEGIN");
    for (let i = 0; i < 3000; i++) db.run("INSERT INTO t (v) VALUES (?)", "y".repeat(400));
    assert.ok((await keys(b, `${prefix}.s3vfs/stage/`)).length > 0, "it did stage");
    db.exec("ROLLBACK");
    assert.deepEqual(await keys(b, `${prefix}.s3vfs/log/`), before, "no commit");
    assert.deepEqual(db.prepare("SELECT v FROM t").values(), [["kept"]]);
    db.exec("INSERT INTO t (v) VALUES ('after')");
    assert.equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
  } finally {
    db.close();
  }
});

Deno.test("S3VFS: in locking_mode=EXCLUSIVE, staged transactions one after another each commit", async () => {
  await using b = await freshBucket("big-tx-exclusive");
  const prefix = "big/exclusive.sqlite";
  using vfs = testVfs(b.bucket, { maxDirtyBytes: 64 * 1024 });
  const db = openDb(vfs, prefix);
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE"); // the write lock is kept between transactions
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    for (let round = 0; round < 3; round++) {
      db.exec("BEGIN");
      for (let i = 0; i < 800; i++) db.run("INSERT INTO t (v) VALUES (?)", "z".repeat(300));
      db.exec("COMMIT");
    }
    assert.equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 2400);
  } finally {
    db.close();
  }
  using fresh = testVfs(b.bucket);
  const other = openDb(fresh, prefix);
  assert.equal(other.prepare("SELECT count(*) FROM t").values()[0][0], 2400);
  assert.equal(other.prepare("PRAGMA integrity_check").values()[0][0], "ok");
  other.close();
});

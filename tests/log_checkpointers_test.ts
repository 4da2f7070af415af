/**
 * Checkpointers against the real MinIO: two at once, and one paused past
 * another's, never put a block back to an older version; a reader whose
 * transaction outlives the grace period gets "snapshot too old", never wrong
 * rows.
 */

import assert from "node:assert/strict";
import { checkpoint } from "../src/log/checkpoint.ts";
import { runAsync } from "../src/log/driver.ts";
import { blockTxid, decodeConfig } from "../src/log/format.ts";
import { configKey } from "../src/log/keys.ts";
import { S3LogStore } from "../src/log/s3_store.ts";
import type { StoreOp, StoreResult } from "../src/log/store.ts";
import { FOLDABLE_AFTER_MS, freshBucket, type TestBucket } from "./_harness.ts";
import { FAST_TIMING, openDb, testVfs } from "./_vfs.ts";

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** txid tag of every base block, by index. */
async function tags(b: TestBucket, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of b.client.list(b.bucket, { prefix: `${prefix}/` })) {
    const h = await b.client.head(b.bucket, e.key);
    out.set(e.key, blockTxid(h?.meta));
  }
  return out;
}

async function config(b: TestBucket, prefix: string): Promise<ReturnType<typeof decodeConfig>> {
  const got = await b.client.get(b.bucket, configKey(prefix));
  assert.equal(got.status, "ok");
  return decodeConfig(got.status === "ok" ? got.body : new Uint8Array());
}

Deno.test("checkpoint(): two at once and one paused past another's never regress a block", async () => {
  await using b = await freshBucket("ckpt-race");
  const prefix = "ck/db.sqlite";
  using vfs = testVfs(b.bucket, { timing: FAST_TIMING, checkpointEvery: 1_000_000 });
  const db = openDb(vfs, prefix);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  for (let i = 0; i < 5; i++) db.run("INSERT INTO t (v) VALUES (?)", "a".repeat(3000));
  await wait(FOLDABLE_AFTER_MS);
  const cfg = await config(b, prefix);
  const store = new S3LogStore(b.client, b.bucket);

  // A pauses before its first PUT (it has read the blocks' ETags), while more is committed
  // and B folds everything; then A goes on with its stale plan.
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let paused = false;
  const pausing = {
    run: async (op: StoreOp): Promise<StoreResult> => {
      if (op.kind === "put") {
        paused = true; // every block PUT of A waits: its ETags go stale meanwhile
        await released;
      }
      return await store.run(op);
    },
  };
  const a = runAsync(checkpoint(prefix, cfg), pausing);
  while (!paused) await wait(20);
  for (let i = 0; i < 5; i++) {
    db.run("UPDATE t SET v = ? WHERE id = ?", `b${i}`.repeat(1000), i + 1);
  }
  await wait(FOLDABLE_AFTER_MS);
  const [b1, b2] = await Promise.all([
    runAsync(checkpoint(prefix, cfg), store),
    runAsync(checkpoint(prefix, cfg), store),
  ]);
  assert.ok([b1.kind, b2.kind].includes("folded"), `${b1.kind} ${b2.kind}`);
  const after = await tags(b, prefix);
  release();
  const late = await a;
  console.log(`paused checkpointer: ${JSON.stringify(late)}; concurrent: ${b1.kind}, ${b2.kind}`);
  assert.equal(late.kind === "folded" ? late.written : 0, 0, "every stale block write refused");
  const final = await tags(b, prefix);
  for (const [k, t] of after) assert.ok(final.get(k)! >= t, `${k}: ${final.get(k)} < ${t}`);
  // The blocks are the database: what a new VFS reads from them equals the SQL state.
  const rows = db.prepare("SELECT id, v FROM t ORDER BY id").values();
  db.close();
  using fresh = testVfs(b.bucket);
  const other = openDb(fresh, prefix);
  assert.deepEqual(other.prepare("SELECT id, v FROM t ORDER BY id").values(), rows);
  assert.equal(other.prepare("PRAGMA integrity_check").values()[0][0], "ok");
  other.close();
  const ck = await b.client.get(b.bucket, `${prefix}.s3vfs/checkpoint`);
  assert.equal(ck.status, "ok");
  const record = JSON.parse(new TextDecoder().decode(ck.status === "ok" ? ck.body : undefined));
  assert.equal(record.txid, 11, "the record is at the head: 1 create + 5 inserts + 5 updates");
});

Deno.test("a read transaction older than the grace period gets 'snapshot too old', never wrong rows", async () => {
  await using b = await freshBucket("ckpt-old-reader");
  const prefix = "ck/old.sqlite";
  using writerVfs = testVfs(b.bucket, { timing: FAST_TIMING, checkpointEvery: 1_000_000 });
  const w = openDb(writerVfs, prefix);
  w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  w.exec("BEGIN");
  for (let i = 1; i <= 200; i++) {
    w.run("INSERT INTO t (v) VALUES (?)", `old ${i} ${"x".repeat(900)}`);
  }
  w.exec("COMMIT");
  await wait(FOLDABLE_AFTER_MS);
  await writerVfs.checkpoint(prefix);

  using readerVfs = testVfs(b.bucket, { cacheBytes: 0, readAhead: false });
  const r = openDb(readerVfs, prefix);
  r.exec("PRAGMA cache_size = 1");
  r.exec("BEGIN");
  assert.match(String(r.prepare("SELECT v FROM t WHERE id = 1").values()[0][0]), /^old 1 /);
  // Meanwhile every row changes, and after the grace period a checkpoint folds it.
  w.exec("UPDATE t SET v = 'new ' || id");
  await wait(FOLDABLE_AFTER_MS);
  assert.equal((await writerVfs.checkpoint(prefix)).kind, "folded");
  // The old transaction reads pages it had not read: S3 has only newer versions of them.
  let rows: unknown[][] | undefined;
  let error: unknown;
  try {
    rows = r.prepare("SELECT v FROM t WHERE id > 100").values();
  } catch (e) {
    error = e;
  }
  if (rows) {
    // Only acceptable if every row is from the old snapshot.
    for (const [v] of rows) assert.match(String(v), /^old /, "never a row of another snapshot");
  } else {
    assert.match(String(readerVfs.lastError), /snapshot too old/, String(error));
  }
  console.log(rows ? "served from the old snapshot" : `refused: ${readerVfs.lastError?.message}`);
  try {
    r.exec("ROLLBACK");
  } catch { /* already rolled back */ }
  // A new transaction sees the new rows.
  assert.equal(r.prepare("SELECT v FROM t WHERE id = 150").values()[0][0], "new 150");
  r.close();
  w.close();
});

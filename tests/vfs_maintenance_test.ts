/**
 * Background maintenance through the public API against MinIO (issue 16):
 * a process with read-only credentials reads and does not fold; `close()`
 * lets a fold in progress finish; `vfs.checkpoint()` waits while another
 * checkpointer holds the claim; what a claim costs in requests.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { decodeCheckpoint } from "../src/log/format.ts";
import { checkpointKey } from "../src/log/keys.ts";
import {
  FAST_TIMING,
  FOLDABLE_AFTER_MS,
  freshBucket,
  type TestBucket,
  testS3Options,
} from "./_harness.ts";
import { startFaultProxy } from "./_fault_proxy.ts";
import { openDb, testVfs } from "./_vfs.ts";
import { spawnChild } from "./mp_lib.ts";

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The checkpoint record's txid and claim. */
async function record(b: TestBucket, prefix: string): Promise<ReturnType<typeof decodeCheckpoint>> {
  const got = await b.client.get(b.bucket, checkpointKey(prefix));
  equal(got.status, "ok");
  return decodeCheckpoint(got.status === "ok" ? got.body : new Uint8Array());
}

/** Creates `prefix` with `rows` single-row commits (FAST_TIMING), through a VFS that never folds. */
function seed(b: TestBucket, prefix: string, rows: number): void {
  using vfs = testVfs(b.bucket, { timing: FAST_TIMING, checkpointEvery: 1_000_000 });
  const db = openDb(vfs, prefix);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  for (let i = 0; i < rows; i++) db.run("INSERT INTO t (v) VALUES (?)", `row ${i}`);
  db.close();
}

Deno.test("S3VFS maintenance: with read-only credentials a read-write connection reads, folds nothing and raises nothing", async () => {
  await using b = await freshBucket("maint-ro");
  const prefix = "m/ro.sqlite";
  seed(b, prefix, 5);
  await wait(FOLDABLE_AFTER_MS); // due
  // Read-only credentials: a proxy answering 403 to every write. The VFS runs in a child
  // process (the proxy needs this process's event loop, which a VFS call blocks).
  const proxy = startFaultProxy({
    upstream: testS3Options().endpoint,
    rate: 0,
    deny: (method) => method !== "GET" && method !== "HEAD",
  });
  try {
    const child = await spawnChild({
      label: "read-only",
      script: "mp_once.ts",
      bucket: b.bucket,
      prefix,
      endpoint: proxy.url,
      env: { MP_WRITE: 0 },
    }).done;
    equal(child.code, 0, child.stderr);
    const done = child.events.find((e) => e.done)!;
    equal(done.rows, 5, "it reads");
    const m = done.maintenance as { runs: number; failures: number; lastFailure?: string };
    ok(m.runs >= 1, `maintenance was asked for: ${JSON.stringify(m)}`);
    equal(m.failures, 1, "it failed once, then stays quiet");
    ok(/403|AccessDenied/.test(m.lastFailure ?? ""), `${m.lastFailure}`);
    ok(proxy.counts.denied >= 1);
  } finally {
    await proxy.close();
  }
  equal((await record(b, prefix)).txid, 0, "nothing folded");
});

Deno.test("S3VFS maintenance: a short-lived writer folds what is due; close() lets the run finish; a claim costs 1 PUT", async () => {
  await using b = await freshBucket("maint-close");
  const prefix = "m/close.sqlite";
  seed(b, prefix, 20);
  const before = await record(b, prefix);
  equal(before.txid, 0);
  await wait(FOLDABLE_AFTER_MS);
  const vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix); // asks for maintenance at once: 21 commits are due
  db.close();
  vfs.close(); // waits for the run
  const after = await record(b, prefix);
  equal(after.txid, 21, "schema and 20 rows folded");
  equal(after.claim?.released, true, "the claim was given up with the record's move");
  equal(after.claim?.generation, 1);
  const m = vfs.stats().maintenance;
  equal(m.commits, 21);
  const bg = vfs.stats().background;
  // One run: GET record + config, LIST, GET each commit; PUT the claim, HEAD + PUT each block,
  // PUT the record; then an idle run (GET record + config, LIST).
  equal(
    bg.put,
    m.blocks + 2,
    `1 PUT to take the claim, 1 to move the record: ${JSON.stringify(bg)}`,
  );
});

Deno.test("S3VFS.checkpoint(): while another run holds the claim it waits, then folds; PRAGMA s3vfs_checkpoint says busy", async () => {
  await using b = await freshBucket("maint-busy");
  const prefix = "m/busy.sqlite";
  seed(b, prefix, 10);
  await wait(FOLDABLE_AFTER_MS);
  // A claim held by a process that died: it counts until its TTL (5 s here) and M passed.
  const got = await b.client.get(b.bucket, checkpointKey(prefix));
  const rec = await record(b, prefix);
  const claimed = {
    ...rec,
    claim: {
      holder: "deadbeef",
      host: "gone",
      pid: 1,
      generation: 1,
      ttlMs: 5_000,
      released: false,
      nonce: "n",
    },
  };
  await b.client.put(
    b.bucket,
    checkpointKey(prefix),
    new TextEncoder().encode(JSON.stringify({ version: 2, ...claimed })),
    { ifMatch: got.status === "ok" ? got.etag : "" },
  );
  using vfs = testVfs(b.bucket, { checkpointEvery: 1_000_000 });
  const db = openDb(vfs, prefix);
  const pragma = JSON.parse(String(db.prepare("PRAGMA s3vfs_checkpoint").values()[0][0]));
  equal(pragma.kind, "busy");
  ok(/gone pid 1/.test(pragma.holder), pragma.holder);
  db.close();
  const quick = await vfs.checkpoint(prefix, { waitMs: 0 });
  equal(quick.kind, "busy");
  const t0 = Date.now();
  const out = await vfs.checkpoint(prefix, { waitMs: 60_000 });
  deepEqual([out.kind, out.kind === "folded" ? out.to : -1], ["folded", 11]);
  ok(Date.now() - t0 >= 2_000, "it waited for the dead holder's claim to expire");
});

/**
 * The commit-log protocol against the real MinIO through S3LogStore: create,
 * commit, a second process's view refreshing with one request, a conflict,
 * a checkpoint folding into Python's block layout, retention.
 */

import assert from "node:assert/strict";
import {
  checkpoint,
  coldOpen,
  commit,
  newPutId,
  openForWrite,
  readBlocks,
  refresh,
  retention,
  runAsync,
  S3LogStore,
} from "../src/log/mod.ts";
import { FAST_TIMING, FOLDABLE_AFTER_MS, freshBucket } from "./_harness.ts";

function block(fill: number, n = 16): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

Deno.test("S3LogStore: commits, a second view, a conflict, a checkpoint into blocks, retention", async () => {
  await using b = await freshBucket("log-s3");
  const counted: string[] = [];
  const store = new S3LogStore(b.client, b.bucket);
  const counting = {
    run: (op: Parameters<S3LogStore["run"]>[0]) => {
      counted.push(op.kind);
      return store.run(op);
    },
  };
  const prefix = "db/log.sqlite";
  const a = await runAsync(openForWrite(prefix, { blockSize: 16, timing: FAST_TIMING }), store);
  assert.equal(a.head, 0);
  const c1 = await runAsync(
    commit(a, {
      putId: newPutId(),
      size: 32,
      pageSize: 16,
      blocks: new Map([[0, block(1)], [1, block(2)]]),
    }),
    store,
  );
  assert.deepEqual(c1, { kind: "committed", txid: 1 });

  // Another process: cold open sees txid 1; after a's next commit, a refresh costs 2 GETs.
  const other = (await runAsync(coldOpen(prefix, { blockSize: 16 }), store))!;
  assert.equal(other.head, 1);
  assert.deepEqual(await runAsync(readBlocks(other, [0, 1]), store), [block(1), block(2)]);
  await runAsync(refresh(a), store);
  const c2 = await runAsync(
    commit(a, { putId: newPutId(), size: 32, pageSize: 16, blocks: new Map([[1, block(3)]]) }),
    store,
  );
  assert.equal(c2.kind, "committed");
  counted.length = 0;
  await runAsync(refresh(other), counting);
  assert.deepEqual(counted.filter((k) => k !== "clock"), ["get", "get"]);
  assert.equal(other.head, 2);
  counted.length = 0;
  assert.deepEqual(await runAsync(readBlocks(other, [0, 1]), counting), [block(1), block(3)]);
  assert.deepEqual(counted, [], "blocks from the cache and the commit itself");

  // A writer on a stale snapshot loses.
  const stale = (await runAsync(coldOpen(prefix, { blockSize: 16 }), store))!;
  stale.head = 1; // pretend it started before commit 2
  const lost = await runAsync(
    commit(stale, { putId: newPutId(), size: 32, pageSize: 16, blocks: new Map([[0, block(9)]]) }),
    store,
  );
  assert.equal(lost.kind, "conflict");

  // After G the checkpoint folds both commits into Python's layout.
  await new Promise((r) => setTimeout(r, FOLDABLE_AFTER_MS));
  const folded = await runAsync(checkpoint(prefix, a.config), store);
  assert.equal(folded.kind, "folded");
  const blocks: Uint8Array[] = [];
  for await (const e of b.client.list(b.bucket, { prefix: `${prefix}/` })) {
    const got = await b.client.get(b.bucket, e.key);
    if (got.status === "ok") blocks.push(got.body);
  }
  assert.deepEqual(blocks, [block(1), block(3)]);

  // After R the folded commit objects go.
  await new Promise((r) => setTimeout(r, 8500));
  const gone = await runAsync(retention(prefix, a.config), store);
  assert.equal(gone.commits, 2);
  const fresh = (await runAsync(coldOpen(prefix, { blockSize: 16 }), store))!;
  assert.equal(fresh.head, 2);
  assert.deepEqual(await runAsync(readBlocks(fresh, [0, 1]), store), [block(1), block(3)]);
});

/**
 * Request counts of bulk work (issue 18), so that they cannot silently
 * regress (deterministic: counts, not times):
 *
 * - serialize of a database whose data is still in the log: blocks side by
 *   side in one staged chunk come in one ranged GET (1 MiB at most), not one
 *   GET per block;
 * - a cold scan through the VFS of the same data: read-ahead windows
 *   coalesce the same way;
 * - a checkpoint of an import: one conditional PUT per block written (no
 *   HEAD past the old end), the bytes fetched coalesced: at most 1.1
 *   requests per block;
 * - the next checkpoint by the same checkpointer, after every page changed:
 *   again at most 1.1 per block (the blocks' ETags remembered from its last
 *   run); a checkpointer that remembers nothing HEADs each block first.
 */

import { equal, ok } from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import { checkpoint, type CheckpointOutcome } from "../src/log/checkpoint.ts";
import { runAsync } from "../src/log/driver.ts";
import { FoldMemory } from "../src/log/fold_memory.ts";
import { readConfig } from "../src/log/records.ts";
import { S3LogStore } from "../src/log/s3_store.ts";
import type { RequestEvent, S3Client } from "../src/s3/client.ts";
import { deserialize, serialize } from "../src/streams/mod.ts";
import { FAST_TIMING, FOLDABLE_AFTER_MS, freshBucket } from "./_harness.ts";
import { collect, makeDb, withTempDir } from "./_streams.ts";
import { openDb, testVfs } from "./_vfs.ts";

/** Requests by method, counted through the client's onRequest hook. */
class Counter {
  get = 0;
  put = 0;
  head = 0;
  total = 0;
  readonly hook = (e: RequestEvent): void => {
    const n = Math.max(1, e.attempts);
    if (e.kind === "GET" || e.kind === "GET_COND") this.get += n;
    if (e.kind === "PUT") this.put += n;
    if (e.kind === "HEAD") this.head += n;
    this.total += n;
  };
  reset(): void {
    this.get =
      this.put =
      this.head =
      this.total =
        0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rewrites every row of `b.db` (every table page changes), then waits until it may be folded. */
async function changeEveryRow(bucket: string): Promise<void> {
  {
    using vfs = testVfs(bucket, { timing: FAST_TIMING });
    const db = openDb(vfs, "b.db");
    db.exec("UPDATE t SET b = randomblob(length(b))");
    db.close();
  }
  await sleep(FOLDABLE_AFTER_MS);
}

type Folded = Extract<CheckpointOutcome, { kind: "folded" }>;

async function fold(
  client: S3Client,
  bucket: string,
  prefix: string,
  memory?: FoldMemory,
): Promise<Folded> {
  const store = new S3LogStore(client, bucket);
  const config = await runAsync(readConfig(prefix), store);
  ok(config);
  const out = await runAsync(
    checkpoint(prefix, config, { requestTimeoutMs: 10_000, ...(memory ? { memory } : {}) }),
    store,
  );
  equal(out.kind, "folded", JSON.stringify(out));
  return out as Folded;
}

Deno.test("bulk requests: coalesced reads from the log; checkpoints at <= 1.1 requests per block", async () => {
  const n = new Counter();
  await using b = await freshBucket("bulk-requests", { onRequest: n.hook });
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(makeDb(dir, "b.db", 4096, 12_000)); // about 4 MiB
    const blocks = blockCount(bytes.length, 4096);
    ok(blocks > 900, `${blocks} blocks`);
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, timing: FAST_TIMING };
    await deserialize(ctx, "b.db", bytes);

    // serialize, data in the log: ~1 GET per MiB (plus the open), not one per block.
    n.reset();
    equal((await collect(serialize(ctx, "b.db"))).bytes.length, bytes.length);
    const mib = Math.ceil(bytes.length / 1048576);
    ok(n.get <= mib + 6, `serialize from the log: ${n.get} GETs for ${blocks} blocks (${mib} MiB)`);

    // A cold scan through the VFS: read-ahead windows of up to 64 blocks, each one GET.
    {
      using vfs = testVfs(b.bucket);
      const db = openDb(vfs, "b.db", 1); // read-only
      db.prepare("SELECT sum(length(v)), sum(length(b)) FROM t").value();
      db.close();
      const gets = vfs.stats().requests.get;
      // One GET per block before coalescing; read-ahead windows grow from 4 to 64 blocks.
      ok(gets <= blocks / 8, `cold scan: ${gets} GETs for ${blocks} blocks`);
    }

    // Checkpoint of the import: every block is past the old end (0): one PUT each, no HEAD.
    await sleep(FOLDABLE_AFTER_MS);
    const memory = new FoldMemory();
    n.reset();
    const first = await fold(b.client, b.bucket, "b.db", memory);
    equal(first.written, blocks, `${first.written} of ${blocks} blocks; size ${bytes.length}`);
    ok(n.head <= 1, `no HEAD of a block: ${JSON.stringify(n)}`);
    ok(n.total <= 1.1 * first.written, `checkpoint: ${n.total} requests, ${first.written} blocks`);

    // Every table page changed, then the same checkpointer again: remembered ETags, no HEAD.
    await changeEveryRow(b.bucket);
    n.reset();
    const second = await fold(b.client, b.bucket, "b.db", memory);
    // The table's pages, not the index's: over half of the blocks.
    ok(second.written > blocks / 2, `${second.written} of ${blocks} blocks written`);
    ok(n.head <= 1, `no HEAD of a block (the ETags from the last run): ${JSON.stringify(n)}`);
    ok(n.total <= 1.1 * second.written, `again: ${n.total} requests, ${second.written} blocks`);

    // A checkpointer that remembers nothing (another process) HEADs each block below the end.
    await changeEveryRow(b.bucket);
    n.reset();
    const third = await fold(b.client, b.bucket, "b.db", new FoldMemory());
    ok(n.head >= third.written && n.head <= third.written + 1, `a HEAD per block: ${n.head}`);
    ok(n.total <= 2.1 * third.written, `fresh: ${n.total} requests, ${third.written} blocks`);
  });
});

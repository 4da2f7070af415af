/**
 * serialize / deserialize progress reports, cancellation, and memory use of
 * a large transfer in a child process, against real MinIO.
 */

import assert from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import { deserialize, serialize, type TransferProgress } from "../src/streams/mod.ts";
import { freshBucket } from "./_harness.ts";
import { assertBytes, chunked, collect, execLocal, makeDb, withTempDir } from "./_streams.ts";

Deno.test("deserialize / serialize onProgress: increasing bytes and the right total in both directions; cancel stops requests", async () => {
  let gets = 0;
  await using b = await freshBucket("streams-progress", {
    onRequest: (e) => {
      if (e.kind === "GET") gets++;
    },
  });
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(makeDb(dir, "p.db", 4096, 2000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 8192, concurrency: 4 };
    const up: TransferProgress[] = [];
    await deserialize(ctx, "p.db", chunked(bytes, 3000), { onProgress: (p) => up.push(p) });
    assert(up.length >= 1, "after every staged chunk and at the commit");
    for (let i = 1; i < up.length; i++) {
      assert(up[i].bytes > up[i - 1].bytes || i === up.length - 1);
    }
    assert(up.every((p) => p.total === bytes.length), "total from the header's page count");
    assert.deepStrictEqual(up.at(-1), { bytes: bytes.length, total: bytes.length });

    const down: TransferProgress[] = [];
    // Windows of one block: one chunk per block.
    const one = { windowBytes: 8192 };
    await collect(serialize(ctx, "p.db", { ...one, onProgress: (p) => down.push(p) }));
    assert.deepStrictEqual(down.length, blockCount(bytes.length, 8192));
    for (let i = 1; i < down.length; i++) assert(down[i].bytes > down[i - 1].bytes);
    assert(down.every((p) => p.total === bytes.length));
    assert.deepStrictEqual(down.at(-1)!.bytes, bytes.length);

    // cancel after one chunk: the open, then at most two windows of GETs, and nothing after
    gets = 0;
    const reader = serialize(ctx, "p.db", one).getReader();
    await reader.read();
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 50));
    const afterCancel = gets;
    assert(afterCancel <= 6 + 2 * ctx.concurrency, `GETs after cancel: ${afterCancel}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(gets, afterCancel, "no GET after the cancel settled");
  });
});

Deno.test("deserializeFromFile / serializeToFile: a 96 MiB database goes both ways in a fresh process with RSS growth well under its size", async () => {
  // Measured in a child process (tests/child/stream_memory_child.ts) so the test runner's own heap
  // does not count; a transfer that buffered the database would grow RSS by more than its size.
  await using b = await freshBucket("streams-memory");
  await withTempDir(async (dir) => {
    const path = `${dir}/m.db`;
    execLocal(
      path,
      `PRAGMA page_size=65536; PRAGMA journal_mode=OFF; CREATE TABLE t(b BLOB);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 25500)
       INSERT INTO t SELECT randomblob(4000) FROM c;`,
    );
    const size = (await Deno.stat(path)).size;
    assert(size >= 96 * 1024 * 1024, `db is ${size} bytes`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./child/stream_memory_child.ts", import.meta.url).pathname],
      env: {
        CHILD_BUCKET: b.bucket,
        CHILD_SRC: path,
        CHILD_OUT: `${dir}/out.db`,
        CHILD_BLOCK_SIZE: String(1024 * 1024),
        CHILD_CONCURRENCY: "2",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}${stdout}`);
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.deepStrictEqual(r.dbBytes, size);
    assertBytes(
      await Deno.readFile(`${dir}/out.db`),
      await Deno.readFile(path),
      "memory round trip",
    );
    const peak = Math.max(r.deserialize.peakRssMiB, r.serialize.peakRssMiB);
    const growth = peak - r.baselineRssMiB;
    console.log(
      `    ${(size / 1048576).toFixed(0)} MiB db, 1 MiB blocks x 2: peak RSS ${
        peak.toFixed(0)
      } MiB ` +
        `(baseline ${r.baselineRssMiB.toFixed(0)}, growth ${growth.toFixed(0)} MiB); ` +
        `${r.deserialize.mibPerSec.toFixed(0)} MiB/s in, ${
          r.serialize.mibPerSec.toFixed(0)
        } MiB/s out`,
    );
    assert(
      growth < 80,
      `rss grew by ${growth.toFixed(1)} MiB for a ${(size / 1048576).toFixed(0)} MiB database`,
    );
  });
});

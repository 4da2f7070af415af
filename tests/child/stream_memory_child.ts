/**
 * A fresh process for the memory test of tests/streams_progress_test.ts:
 * `deserializeFromFile`s env `CHILD_SRC` into env `CHILD_BUCKET` (blocks of
 * `CHILD_BLOCK_SIZE` bytes, `CHILD_CONCURRENCY` requests in flight), then
 * `serializeToFile`s it to `CHILD_OUT`, sampling `Deno.memoryUsage().rss`
 * every 50 ms. Prints one JSON line: `{ dbBytes, baselineRssMiB,
 * deserialize: { peakRssMiB, mibPerSec }, serialize: { ... } }`.
 *
 * Connection settings as set by the harness (`S3VFS_TEST_ENDPOINT`,
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
 *
 * @module
 */

import { deserializeFromFile, serializeToFile } from "../../src/streams/mod.ts";
import { testClient } from "../_harness.ts";

const MiB = 1024 * 1024;

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`stream_memory_child: env ${name} is not set`);
  return v;
}

/** Runs `fn`, sampling RSS every 50 ms; its peak RSS in MiB and throughput for `bytes`. */
async function measured(
  bytes: number,
  fn: () => Promise<unknown>,
): Promise<{ peakRssMiB: number; mibPerSec: number }> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 50);
  const t = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const s = (performance.now() - t) / 1000;
  return { peakRssMiB: Math.max(peak, Deno.memoryUsage().rss) / MiB, mibPerSec: bytes / MiB / s };
}

if (import.meta.main) {
  const ctx = {
    client: testClient(),
    bucket: need("CHILD_BUCKET"),
    blockSize: Number(need("CHILD_BLOCK_SIZE")),
    concurrency: Number(need("CHILD_CONCURRENCY")),
  };
  const src = need("CHILD_SRC");
  const dbBytes = (await Deno.stat(src)).size;
  const baselineRssMiB = Deno.memoryUsage().rss / MiB;
  const deserialize = await measured(dbBytes, () => deserializeFromFile(ctx, "m.db", src));
  const serialize = await measured(dbBytes, () => serializeToFile(ctx, "m.db", need("CHILD_OUT")));
  console.log(JSON.stringify({ dbBytes, baselineRssMiB, deserialize, serialize }));
}

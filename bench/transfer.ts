/**
 * Workload 5: deserialize (a local SQLite file -> block objects) and
 * serialize (block objects -> the file's bytes) of a large database, for
 * this package's streams (src/streams.ts, default settings and, as a
 * variant, 64 in flight) and for the raw ceiling: the same number of block
 * objects written and read with the S3Client, 64 requests in flight, no
 * SQLite and no stream plumbing at all.
 *
 * @module
 */

import type { S3Client } from "../src/s3/client.ts";
import { mapLimit } from "../src/s3/retry.ts";
import { Database } from "../scripts/db_sqlite.ts";
import { deserialize, serialize } from "../src/streams/mod.ts";
import { blockKey } from "../src/blocks.ts";
import { log, type Requests, summary, type WorkloadResult } from "./config.ts";

export { RequestCounter } from "./requests.ts";
import type { RequestCounter } from "./requests.ts";

/**
 * Builds a local SQLite database of about `bytes` (4 KiB pages, one
 * 4,000-byte random blob per page) at `path`; returns its exact size.
 */
export function makeBigDb(path: string, bytes: number): number {
  const db = new Database(path);
  try {
    db.exec("PRAGMA page_size = 4096; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    db.exec("CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB)");
    // One row per leaf page, plus an interior page per ~400 leaves and the schema page.
    const rows = Math.max(1, Math.floor((bytes / 4096 - 2) / 1.0025));
    db.exec(
      `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) ` +
        "INSERT INTO b SELECT x, randomblob(4000) FROM c",
    );
  } finally {
    db.close();
  }
  return Deno.statSync(path).size;
}

/** What a transfer contender needs. */
export interface TransferEnv {
  /** Client whose onRequest is `counter.hook`. */
  client: S3Client;
  counter: RequestCounter;
  bucket: string;
  /** Local SQLite file to deserialize. */
  file: string;
  blockSize: number;
}

function record(
  who: string,
  name: string,
  ms: number,
  bytes: number,
  requests: Requests,
): WorkloadResult {
  const r: WorkloadResult = { name, ms, ops: bytes, bytes, requests: { ...requests } };
  log(summary(who, r) + ` (${(bytes / 1048576 / (ms / 1000)).toFixed(1)} MiB/s)`);
  return r;
}

/** This package's deserialize then serialize of the same prefix (concurrency undefined = default). */
export async function oursTransfer(
  env: TransferEnv,
  prefix: string,
  who: string,
  concurrency?: number,
): Promise<WorkloadResult[]> {
  const ctx = { client: env.client, bucket: env.bucket, blockSize: env.blockSize, concurrency };
  const size = (await Deno.stat(env.file)).size;
  const out: WorkloadResult[] = [];

  env.counter.reset();
  let t = performance.now();
  const file = await Deno.open(env.file, { read: true });
  const res = await deserialize(ctx, prefix, file.readable, { size });
  out.push(record(who, "deserialize", performance.now() - t, res.bytes, env.counter.requests));
  if (res.bytes !== size) {
    throw new Error(`${who} deserialize stored ${res.bytes} of ${size} bytes`);
  }

  env.counter.reset();
  t = performance.now();
  let n = 0;
  for await (const chunk of serialize(ctx, prefix)) n += chunk.length;
  const ser = record(who, "serialize", performance.now() - t, n, env.counter.requests);
  if (n !== size) throw new Error(`${who} serialize returned ${n} of ${size} bytes`);
  // Diagnostic: serialize LISTs the whole prefix twice (snapshot + final check); time one LIST.
  t = performance.now();
  let keys = 0;
  for await (const _ of env.client.list(env.bucket, { prefix: prefix + "/" })) keys++;
  ser.detail = { oneFullListMs: Math.round(performance.now() - t), listedKeys: keys };
  out.push(ser);
  return out;
}

/** The raw ceiling: PUT every block, then GET every block, `inFlight` at a time. */
export async function ceilingTransfer(
  env: TransferEnv,
  prefix: string,
  inFlight = 64,
): Promise<WorkloadResult[]> {
  const data = await Deno.readFile(env.file); // read before the clock starts: S3 only
  const B = env.blockSize;
  const indices = Array.from({ length: Math.ceil(data.length / B) }, (_, i) => i);
  const out: WorkloadResult[] = [];

  env.counter.reset();
  let t = performance.now();
  await mapLimit(
    indices,
    inFlight,
    (i) => env.client.put(env.bucket, blockKey(prefix, i), data.subarray(i * B, (i + 1) * B)),
  );
  out.push(
    record("ceiling", "deserialize", performance.now() - t, data.length, env.counter.requests),
  );

  env.counter.reset();
  t = performance.now();
  let n = 0;
  await mapLimit(indices, inFlight, async (i) => {
    const r = await env.client.get(env.bucket, blockKey(prefix, i));
    if (r.status === "ok") n += r.body.length;
  });
  out.push(record("ceiling", "serialize", performance.now() - t, n, env.counter.requests));
  if (n !== data.length) throw new Error(`ceiling read ${n} of ${data.length} bytes`);
  return out;
}

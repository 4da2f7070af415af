/**
 * What the store check (issue 17, docs/stores.md 17.1) costs a process: its
 * requests and wall time, and the first commit's time beside the second's.
 * Each run is a new S3VFS (a new I/O worker, so a new check) on a fresh
 * prefix of one bucket; prints one JSON line per run and the medians.
 *
 *   deno run -A bench/store_check.ts [runs]     (S3_ENDPOINT + AWS_* set, e.g. by scripts/minio.ts)
 *
 * @module
 */

import { Database } from "../scripts/db_sqlite.ts";
import { S3VFS } from "../mod.ts";
import { S3Client } from "../src/s3/client.ts";

const runs = Number(Deno.args[0] ?? 9);
const endpoint = Deno.env.get("S3_ENDPOINT") ?? Deno.env.get("S3VFS_TEST_ENDPOINT");
if (!endpoint) throw new Error("set S3_ENDPOINT (e.g. start `deno run -A scripts/minio.ts`)");
const credentials = {
  accessKeyId: Deno.env.get("AWS_ACCESS_KEY_ID") ?? "",
  secretAccessKey: Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "",
};
const bucket = `check-bench-${crypto.randomUUID().slice(0, 8)}`;
await new S3Client({ endpoint, credentials, region: "us-east-1" }).createBucket(bucket);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: { checkMs: number; requests: number; firstMs: number; secondMs: number }[] = [];
for (let i = 0; i < runs; i++) {
  const vfs = new S3VFS({ endpoint, credentials, region: "us-east-1", bucket });
  const db = new Database(vfs.uri(`db${i}.sqlite`));
  db.exec("PRAGMA journal_mode"); // opens the file: a read, no write yet
  let t = performance.now();
  db.exec("CREATE TABLE t (x)");
  const firstMs = performance.now() - t;
  t = performance.now();
  db.exec("INSERT INTO t VALUES (1)");
  const secondMs = performance.now() - t;
  db.close();
  const s = vfs.stats().storeCheck;
  vfs.close();
  const row = { checkMs: s.ms, requests: s.requests.total, firstMs, secondMs };
  rows.push(row);
  console.log(JSON.stringify({ run: i, verdict: s.verdict, ...row }));
}
console.log(JSON.stringify({
  endpoint,
  runs,
  median: {
    checkMs: median(rows.map((r) => r.checkMs)),
    requests: median(rows.map((r) => r.requests)),
    firstCommitMs: median(rows.map((r) => r.firstMs)),
    secondCommitMs: median(rows.map((r) => r.secondMs)),
  },
}));

/**
 * `checkStore()` and `s3vfs doctor` against the test store (MinIO, or
 * versitygw when S3VFS_TEST_STORE says so), a store ignoring conditional
 * writes, one losing user metadata, and read-only credentials.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { checkStore } from "../mod.ts";
import { freshBucket, testS3Options } from "./_harness.ts";
import { runCli } from "./_cli.ts";
import { startFaultProxy } from "./_fault_proxy.ts";
import { proxyToTestStore } from "./_unconditional_proxy.ts";

async function keys(
  b: { client: { list(bucket: string): AsyncIterable<{ key: string }> }; bucket: string },
): Promise<string[]> {
  const out: string[] = [];
  for await (const o of b.client.list(b.bucket)) out.push(o.key);
  return out;
}

Deno.test("checkStore() on the test store: safe for many writers, clock and latency measured, nothing left", async () => {
  await using b = await freshBucket("doctor-ok");
  const r = await checkStore({
    ...testS3Options(),
    bucket: b.bucket,
    prefix: "a/db.sqlite",
    samples: 5,
  });
  equal(r.verdict, "many-writers");
  deepEqual(r.missing, []);
  equal(r.capabilities.length, 11);
  ok(r.capabilities.every((c) => c.ok));
  match(r.base, /^a\/db\.sqlite\.s3vfs\/probe\/\w+$/);
  equal(r.latency.get?.n, 5);
  equal(r.latency.put?.n, 5);
  ok(r.latency.put!.p50 <= r.latency.put!.p99);
  ok(r.clock && r.clock.uncertaintyMs <= 1000, JSON.stringify(r.clock));
  ok(Math.abs(r.clock!.offsetMs) < 5000, "the test store runs on this machine");
  equal(r.requests, 15 + 3 * 5, "the check, then 5 PUTs, 5 GETs and 5 DELETEs");
  ok(r.cleanedUp);
  deepEqual(await keys(b), [], "everything deleted");
});

Deno.test("checkStore() through a store ignoring conditional writes: reads only, and why", async () => {
  await using b = await freshBucket("doctor-uncond");
  await using p = proxyToTestStore();
  const r = await checkStore({ ...testS3Options(), endpoint: p.url, bucket: b.bucket, samples: 2 });
  equal(r.verdict, "read-only");
  deepEqual(r.missing, ["createOnly", "createOnlyRace", "ifMatch", "ifMatchAbsent"]);
  const row = r.capabilities.find((c) => c.id === "createOnly")!;
  equal(row.got, "200");
  match(
    row.meaning,
    /ignores If-None-Match: concurrent writers would overwrite each other's commits/,
  );
  ok(r.cleanedUp);
  deepEqual(await keys(b), []);
});

Deno.test("checkStore() with credentials that may not write: reads only, writes denied", async () => {
  await using b = await freshBucket("doctor-ro");
  await using p = startFaultProxy({
    upstream: testS3Options().endpoint,
    rate: 0,
    deny: (method) => method !== "GET" && method !== "HEAD",
  });
  const r = await checkStore({ ...testS3Options(), endpoint: p.url, bucket: b.bucket, samples: 3 });
  equal(r.verdict, "read-only");
  match(r.denied ?? "", /403/);
  equal(r.latency.list?.n, 3);
});

Deno.test("s3vfs doctor: exit 0 on the test store, 3 when conditional writes are ignored, 4 when metadata is lost", async () => {
  await using b = await freshBucket("doctor-cli");
  const good = await runCli(["doctor", `s3://${b.bucket}/x/db.sqlite`, "--samples", "3"]);
  equal(good.code, 0, good.stderr);
  match(good.stdout, /verdict: SAFE FOR MANY WRITERS/);
  match(good.stdout, /│ ok │ createOnly +│ PUT If-None-Match: \* over an existing object +│ 412/);
  match(good.stdout, /latency: GET p50 [\d.]+ ms, p99 [\d.]+ ms \(3\); PUT p50/);
  match(good.stdout, /everything written was deleted/);

  await using p = proxyToTestStore();
  const bad = await runCli(["doctor", `s3://${b.bucket}`, "--samples", "2"], {
    env: { AWS_ENDPOINT_URL_S3: p.url },
  });
  equal(bad.code, 3, bad.stderr);
  match(bad.stdout, /│ NO │ createOnly +│ PUT If-None-Match: \* over an existing object +│ 200/);
  match(bad.stdout, /verdict: SAFE FOR READS ONLY: writes would be refused/);

  await using lossy = proxyToTestStore(true);
  const worse = await runCli(["doctor", `s3://${b.bucket}`, "--json", "--samples", "1"], {
    env: { AWS_ENDPOINT_URL_S3: lossy.url },
  });
  equal(worse.code, 4, worse.stderr);
  const json = JSON.parse(worse.stdout);
  equal(json.verdict, "unusable");
  ok(json.missing.includes("metadata"), worse.stdout);
  deepEqual(await keys(b), []);
});

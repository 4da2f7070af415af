/**
 * The store check before the first write (issue 17), against MinIO and
 * through a proxy that drops `If-None-Match` / `If-Match` (a store ignoring
 * conditional writes, tests/_unconditional_proxy.ts):
 *
 * - 4 writer processes x 60 increments through that store: every one fails
 *   at its first write with UnsafeStoreError naming the endpoint and what is
 *   missing; nothing is written, nothing acknowledged; a reader still reads;
 * - `storeCheck: "single-writer"` writes anyway, with a warning;
 * - deserialize through that store refuses before staging anything;
 * - against MinIO the check passes once per VFS and bucket, its requests
 *   counted apart in `vfs.stats().storeCheck`.
 *
 * The VFS runs in child processes where a proxy is involved (a VFS call
 * blocks this process's event loop, which serves the proxy).
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { UnsafeStoreError } from "../mod.ts";
import { deserialize } from "../src/streams/mod.ts";
import { forgetStoreChecks } from "../src/log/store_check.ts";
import { freshBucket, testClient, testS3Options } from "./_harness.ts";
import { makeDb, withTempDir } from "./_streams.ts";
import { proxyToTestStore } from "./_unconditional_proxy.ts";
import { openDb, testVfs } from "./_vfs.ts";
import { createSchema, dbPrefix, eventsWith, readFinal, spawnChild } from "./mp_lib.ts";
import type { S3Client } from "../src/s3/client.ts";

async function keysOf(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of client.list(bucket)) keys.push(`${o.key} ${o.etag}`);
  return keys.sort();
}

Deno.test("store check: 4 writer processes through a store ignoring conditional PUTs all fail before writing; reads work", async () => {
  await using b = await freshBucket("check-uncond");
  const prefix = dbPrefix("uncond");
  createSchema(b.bucket, prefix); // through MinIO itself
  const before = await keysOf(b.client, b.bucket);
  await using p = proxyToTestStore();
  const writers = Array.from({ length: 4 }, (_, k) =>
    spawnChild({
      label: `writer ${k}`,
      script: "mp_counter.ts",
      bucket: b.bucket,
      prefix,
      endpoint: p.url,
      env: { MP_COUNT: 60, MP_DEADLINE_MS: 20_000, MP_AUDIT: 1, MP_MAX_FAILURES: 3 },
    }));
  const results = await Promise.all(writers.map((w) => w.done));
  for (const r of results) {
    equal(eventsWith(r.events, "ack").length, 0, `${r.label} acknowledged nothing`);
    const failed = eventsWith(r.events, "failed");
    ok(failed.length >= 1, `${r.label} failed: ${r.stderr}`);
    for (const f of failed) {
      const text = `${f.msg}\n${f.lastError}`;
      match(text, /refusing to write to bucket t-check-uncond-\w+ at http:\/\/127\.0\.0\.1:\d+/);
      match(text, /If-None-Match: \* over an existing object answered 200: the store ignores If-/);
      equal(f.busy, false, "not a retryable busy");
    }
  }
  deepEqual(await keysOf(b.client, b.bucket), before, "nothing was written, nothing left");
  equal(readFinal(b.bucket, prefix).counter, 0);
  // A reader through the same store reads.
  const reader = await spawnChild({
    label: "reader",
    script: "mp_once.ts",
    bucket: b.bucket,
    prefix,
    endpoint: p.url,
    env: { MP_WRITE: 0 },
  }).done;
  equal(reader.code, 0, reader.stderr);
  ok(p.dropped.ifNoneMatch >= 4, "the proxy did drop the headers");
});

Deno.test('store check: storeCheck "single-writer" writes through such a store, with a warning', async () => {
  await using b = await freshBucket("check-single");
  const prefix = dbPrefix("single");
  createSchema(b.bucket, prefix);
  await using p = proxyToTestStore();
  const r = await spawnChild({
    label: "single writer",
    script: "mp_once.ts",
    bucket: b.bucket,
    prefix,
    endpoint: p.url,
    env: { MP_STORE_CHECK: "single-writer", MP_TOKEN: "one" },
  }).done;
  equal(r.code, 0, r.stderr);
  match(r.stderr, /Writing anyway \(storeCheck: "single-writer"\): a second writer process/);
  const done = r.events.find((e) => e.done)!;
  equal(done.rows, 1);
  const check = done.storeCheck as { verdict: string; missing: string[] };
  equal(check.verdict, "read-only");
  deepEqual(check.missing, ["createOnly", "createOnlyRace", "ifMatch", "ifMatchAbsent"]);
});

Deno.test("store check: deserialize through such a store refuses before staging anything", async () => {
  await using b = await freshBucket("check-deser");
  await using p = proxyToTestStore();
  forgetStoreChecks();
  const s3 = testS3Options();
  const client = testClient({ endpoint: p.url });
  let bytes = new Uint8Array();
  await withTempDir(async (dir) => {
    bytes = await Deno.readFile(makeDb(dir, "a.db", 4096, 50));
  });
  const err = await deserialize({ client, bucket: b.bucket, blockSize: 4096 }, "d.sqlite", bytes)
    .then(() => undefined, (e) => e);
  const cause = err?.cause;
  ok(cause instanceof UnsafeStoreError, `got ${err}`);
  match(err.message, /^deserialize into s3:\/\/\S+ failed: s3vfs: refusing to write to bucket/);
  match(err.message, /nothing was left under/);
  equal(cause.endpoint, p.url);
  deepEqual(cause.missing, ["createOnly", "createOnlyRace", "ifMatch", "ifMatchAbsent"]);
  deepEqual(await keysOf(testClient(), b.bucket), [], "nothing staged, probe cleaned up");
  ok(s3.endpoint !== p.url);
});

Deno.test("store check: against MinIO it passes once per VFS and bucket, counted apart", async () => {
  await using b = await freshBucket("check-minio");
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, "c/one.sqlite");
  db.exec("CREATE TABLE t (x)");
  db.exec("INSERT INTO t VALUES (1)");
  const db2 = openDb(vfs, "c/two.sqlite");
  db2.exec("CREATE TABLE t (x)");
  db.close();
  db2.close();
  const s = vfs.stats();
  equal(s.storeCheck.verdict, "many-writers");
  deepEqual(s.storeCheck.missing, []);
  equal(s.storeCheck.requests.total, 15, "one check for both databases");
  equal(s.storeCheck.requests.put, 8);
  equal(s.storeCheck.requests.delete, 3);
  ok(s.storeCheck.ms > 0);
  deepEqual(
    (await keysOf(b.client, b.bucket)).filter((k) => k.includes("/probe/")),
    [],
    "the probe's objects are gone",
  );
});

/**
 * Integration tests of the S3 client (src/s3/client.ts) against the MinIO
 * started by `deno task test`, one fresh bucket per test, covering every
 * operation the VFS relies on. Failure modes against MinIO are in
 * tests/s3_client_errors_test.ts; unit tests with a stubbed `fetch` in
 * tests/s3_client_unit_test.ts.
 */

import assert from "node:assert/strict";
import type { RequestEvent, S3Client } from "../src/s3/client.ts";
import { mapLimit } from "../src/s3/retry.ts";
import { freshBucket, patternBytes, testClient } from "./_harness.ts";
import { rejectsS3 } from "./_s3_assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const CONCURRENCY = 32;

Deno.test("S3Client: get of an absent key is {status: 'absent'}; head is null", async () => {
  await using b = await freshBucket("absent");
  assert.deepEqual(await b.client.get(b.bucket, "nope"), { status: "absent" });
  assert.deepEqual(await b.client.get(b.bucket, "nope", { range: { offset: 0, length: 10 } }), {
    status: "absent",
  });
  assert.deepEqual(await b.client.get(b.bucket, "nope", { ifNoneMatch: '"abc"' }), {
    status: "absent",
  });
  assert.equal(await b.client.head(b.bucket, "nope"), null);
});

Deno.test("S3Client: put then get returns the bytes, size and the same etag", async () => {
  await using b = await freshBucket("putget");
  const data = patternBytes(10_000, 7);
  const { etag } = await b.client.put(b.bucket, "db/0000000000", data);
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const got = await b.client.get(b.bucket, "db/0000000000");
  assert.equal(got.status, "ok");
  if (got.status !== "ok") return;
  assert.deepEqual(got.body, data);
  assert.equal(got.size, 10_000);
  assert.equal(got.etag, etag);
  // Overwrite with an empty object.
  await b.client.put(b.bucket, "db/0000000000", new Uint8Array(0));
  const empty = await b.client.get(b.bucket, "db/0000000000");
  assert.equal(empty.status === "ok" && empty.body.length, 0);
  assert.equal(empty.status === "ok" && empty.size, 0);
});

Deno.test("S3Client.put() stores user metadata that get() and head() return, with the server's Date", async () => {
  await using b = await freshBucket("meta");
  const before = Date.now();
  await b.client.put(b.bucket, "m", new Uint8Array([1, 2]), {
    meta: { "s3vfs-txid": "00000000000000000007", "put-id": "abc" },
  });
  const got = await b.client.get(b.bucket, "m");
  assert.equal(got.status, "ok");
  if (got.status !== "ok") return;
  assert.deepEqual(got.meta, { "s3vfs-txid": "00000000000000000007", "put-id": "abc" });
  assert.ok(got.lastModified && got.date, "Last-Modified and Date");
  assert.ok(Math.abs(got.date.getTime() - before) < 60_000, `server clock ${got.date}`);
  const ranged = await b.client.get(b.bucket, "m", { range: { offset: 1, length: 1 } });
  assert.equal(ranged.status === "ok" && ranged.meta["put-id"], "abc");
  const head = await b.client.head(b.bucket, "m");
  assert.deepEqual(head?.meta, { "s3vfs-txid": "00000000000000000007", "put-id": "abc" });
  assert.ok(head?.date);
  await assert.rejects(
    b.client.put(b.bucket, "m2", new Uint8Array(1), { meta: { "Bad Name": "x" } }),
    TypeError,
  );
});

Deno.test("S3Client: keys with spaces, unicode and reserved characters round-trip", async () => {
  await using b = await freshBucket("keys");
  const keys = ["dir/a b+c&d<e>'\"é€😀!()*.txt", "x/=;,:@$", "percent%25/y", "tilde~/-_."];
  for (const [i, key] of keys.entries()) {
    await b.client.put(b.bucket, key, enc.encode(`v${i}`));
    const got = await b.client.get(b.bucket, key);
    assert.equal(got.status === "ok" && dec.decode(got.body), `v${i}`, key);
    assert.ok(await b.client.head(b.bucket, key), key);
  }
  const listed: string[] = [];
  for await (const e of b.client.list(b.bucket)) listed.push(e.key);
  assert.deepEqual(listed, [...keys].sort());
  for (const key of keys) await b.client.delete(b.bucket, key);
  for (const key of keys) assert.deepEqual(await b.client.get(b.bucket, key), { status: "absent" });
});

Deno.test("S3Client: byte ranges, incl. past the end and starting at/after the end", async () => {
  await using b = await freshBucket("range");
  const data = patternBytes(1000, 3);
  await b.client.put(b.bucket, "obj", data);
  const mid = await b.client.get(b.bucket, "obj", { range: { offset: 100, length: 50 } });
  assert.equal(mid.status, "ok");
  if (mid.status !== "ok") return;
  assert.deepEqual(mid.body, data.slice(100, 150));
  assert.equal(mid.size, 1000, "size is the whole object's, from Content-Range");

  const tail = await b.client.get(b.bucket, "obj", { range: { offset: 900, length: 500 } });
  assert.equal(tail.status === "ok" && tail.body.length, 100);
  assert.deepEqual(tail.status === "ok" && tail.body, data.slice(900));
  assert.equal(tail.status === "ok" && tail.size, 1000);

  for (const offset of [1000, 5000]) {
    const past = await b.client.get(b.bucket, "obj", { range: { offset, length: 10 } });
    assert.equal(past.status, "ok");
    assert.equal(past.status === "ok" && past.body.length, 0, `offset ${offset}`);
    assert.equal(past.status === "ok" && past.size, 1000, `offset ${offset}`);
  }
  await assert.rejects(
    b.client.get(b.bucket, "obj", { range: { offset: -1, length: 1 } }),
    RangeError,
  );
  await assert.rejects(
    b.client.get(b.bucket, "obj", { range: { offset: 0, length: 0 } }),
    RangeError,
  );
});

Deno.test("S3Client: conditional GET answers not-modified while the etag holds, 200 after a change", async () => {
  await using b = await freshBucket("condget");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const { etag } = await client.put(b.bucket, "k", enc.encode("one"));
  assert.deepEqual(await client.get(b.bucket, "k", { ifNoneMatch: etag }), {
    status: "not-modified",
    etag,
  });
  assert.equal(events.at(-1)?.kind, "GET_COND");
  assert.equal(events.at(-1)?.status, 304);
  const { etag: etag2 } = await client.put(b.bucket, "k", enc.encode("two!"));
  assert.notEqual(etag2, etag);
  const got = await client.get(b.bucket, "k", { ifNoneMatch: etag });
  assert.equal(got.status, "ok");
  assert.equal(got.status === "ok" && dec.decode(got.body), "two!");
  assert.equal(got.status === "ok" && got.etag, etag2);
});

Deno.test("S3Client: head gives etag, size and last-modified", async () => {
  await using b = await freshBucket("head");
  const before = Date.now();
  const { etag } = await b.client.put(b.bucket, "k", patternBytes(1234));
  const h = await b.client.head(b.bucket, "k");
  assert.ok(h);
  assert.equal(h.etag, etag);
  assert.equal(h.size, 1234);
  assert.ok(h.lastModified instanceof Date);
  assert.ok(Math.abs(h.lastModified.getTime() - before) < 60_000);
});

Deno.test("S3Client: PUT If-None-Match:* creates when absent, 412 when the key exists", async () => {
  await using b = await freshBucket("ifnonematch");
  const { etag } = await b.client.put(b.bucket, "lock", enc.encode("first"), { ifNoneMatch: "*" });
  assert.match(etag, /^".+"$/);
  const err = await rejectsS3(
    b.client.put(b.bucket, "lock", enc.encode("second"), { ifNoneMatch: "*" }),
  );
  assert.ok(err.isPreconditionFailed);
  assert.equal(err.status, 412);
  assert.equal(err.code, "PreconditionFailed");
  assert.equal(err.key, "lock");
  const got = await b.client.get(b.bucket, "lock");
  assert.equal(
    got.status === "ok" && dec.decode(got.body),
    "first",
    "the losing write changed nothing",
  );
});

Deno.test("S3Client: PUT If-Match: 412 with a wrong etag, succeeds with the current one", async () => {
  await using b = await freshBucket("ifmatch");
  const { etag } = await b.client.put(b.bucket, "manifest", enc.encode("v1"));
  const err = await rejectsS3(
    b.client.put(b.bucket, "manifest", enc.encode("v2"), {
      ifMatch: '"00000000000000000000000000000000"',
    }),
  );
  assert.ok(err.isPreconditionFailed);
  assert.equal(err.status, 412);
  const { etag: etag2 } = await b.client.put(b.bucket, "manifest", enc.encode("v2"), {
    ifMatch: etag,
  });
  assert.notEqual(etag2, etag);
  const got = await b.client.get(b.bucket, "manifest");
  assert.equal(got.status === "ok" && dec.decode(got.body), "v2");
  // The old etag is stale now.
  const stale = await rejectsS3(
    b.client.put(b.bucket, "manifest", enc.encode("v3"), { ifMatch: etag }),
  );
  assert.ok(stale.isPreconditionFailed);
});

Deno.test("S3Client: DELETE removes the object; deleting an absent key is fine", async () => {
  await using b = await freshBucket("delete");
  await b.client.put(b.bucket, "k", enc.encode("x"));
  await b.client.delete(b.bucket, "k");
  assert.deepEqual(await b.client.get(b.bucket, "k"), { status: "absent" });
  assert.equal(await b.client.head(b.bucket, "k"), null);
  await b.client.delete(b.bucket, "k");
  await b.client.delete(b.bucket, "never-existed");
});

/** Puts `keys` (body = key) concurrently. */
async function putAll(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  await mapLimit(keys, CONCURRENCY, (k) => client.put(bucket, k, enc.encode(k)));
}

Deno.test("S3Client: listing 1,500 keys spans pages; prefix, startAfter and pageSize work", async () => {
  await using b = await freshBucket("list1500");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const blocks = Array.from({ length: 1500 }, (_, i) => `db/${String(i).padStart(10, "0")}`);
  const others = ["a-first", "db-journal/0000000000", "z-last"];
  await putAll(client, b.bucket, [...blocks, ...others]);

  events.length = 0;
  const all = [];
  for await (const e of client.list(b.bucket)) all.push(e);
  assert.equal(all.length, 1503);
  assert.equal(
    events.filter((e) => e.kind === "LIST").length,
    2,
    "1,503 keys = 2 pages of <= 1,000",
  );
  assert.deepEqual(all.map((e) => e.key), [...blocks, ...others].sort());
  const first = all.find((e) => e.key === blocks[0])!;
  assert.equal(first.size, blocks[0].length);
  assert.match(first.etag, /^"[0-9a-f]{32}"$/);
  assert.ok(first.lastModified instanceof Date && !isNaN(first.lastModified.getTime()));

  const prefixed: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "db/" })) prefixed.push(e.key);
  assert.deepEqual(prefixed, blocks);

  const after: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "db/", startAfter: blocks[1234] })) {
    after.push(e.key);
  }
  assert.deepEqual(after, blocks.slice(1235));

  events.length = 0;
  const paged: string[] = [];
  for await (
    const e of client.list(b.bucket, { prefix: "db/", startAfter: blocks[1449], pageSize: 7 })
  ) {
    paged.push(e.key);
  }
  assert.deepEqual(paged, blocks.slice(1450));
  assert.equal(events.filter((e) => e.kind === "LIST").length, Math.ceil(50 / 7));

  const none: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "nothing-here/" })) none.push(e.key);
  assert.deepEqual(none, []);
});

Deno.test("S3Client: deleteMany removes 1,500 keys in batches; the bucket lists empty", async () => {
  await using b = await freshBucket("delmany");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const keys = Array.from({ length: 1500 }, (_, i) => `db/${String(i).padStart(10, "0")}`);
  await putAll(client, b.bucket, keys);
  events.length = 0;
  assert.equal(await client.deleteMany(b.bucket, keys), 1500);
  assert.equal(events.filter((e) => e.kind === "DELETE_MANY").length, 2);
  const left: string[] = [];
  for await (const e of client.list(b.bucket)) left.push(e.key);
  assert.deepEqual(left, []);
  // Deleting keys that are already gone is not an error.
  assert.equal(await client.deleteMany(b.bucket, keys.slice(0, 10)), 10);
});

Deno.test("S3Client: multipart upload of two parts (5 MiB + rest) completes with the right content", async () => {
  await using b = await freshBucket("multipart");
  const part1 = patternBytes(5 * 1024 * 1024, 11);
  const part2 = patternBytes(300_001, 12);
  const uploadId = await b.client.createMultipartUpload(
    b.bucket,
    "big.db",
    "application/octet-stream",
  );
  assert.ok(uploadId.length > 0);
  // Upload out of order: completion sorts by part number.
  const p2 = await b.client.uploadPart(b.bucket, "big.db", uploadId, 2, part2);
  const p1 = await b.client.uploadPart(b.bucket, "big.db", uploadId, 1, part1);
  assert.equal(p1.partNumber, 1);
  assert.match(p1.etag, /^".+"$/);
  const { etag } = await b.client.completeMultipartUpload(b.bucket, "big.db", uploadId, [p2, p1]);
  assert.match(etag, /^"[0-9a-f]{32}-2"$/, "multipart etag names 2 parts");
  const h = await b.client.head(b.bucket, "big.db");
  assert.equal(h?.size, part1.length + part2.length);
  assert.equal(h?.etag, etag);
  const got = await b.client.get(b.bucket, "big.db");
  assert.equal(got.status, "ok");
  if (got.status !== "ok") return;
  assert.equal(got.body.length, part1.length + part2.length);
  assert.deepEqual(got.body.subarray(0, part1.length), part1);
  assert.deepEqual(got.body.subarray(part1.length), part2);
  // A range across the part boundary.
  const across = await b.client.get(b.bucket, "big.db", {
    range: { offset: part1.length - 10, length: 20 },
  });
  assert.deepEqual(
    across.status === "ok" && across.body,
    got.body.slice(part1.length - 10, part1.length + 10),
  );
});

Deno.test("S3Client: an aborted multipart upload leaves no object and cannot be completed", async () => {
  await using b = await freshBucket("mpabort");
  const uploadId = await b.client.createMultipartUpload(b.bucket, "gone.db");
  const p1 = await b.client.uploadPart(b.bucket, "gone.db", uploadId, 1, patternBytes(1024));
  await b.client.abortMultipartUpload(b.bucket, "gone.db", uploadId);
  assert.deepEqual(await b.client.get(b.bucket, "gone.db"), { status: "absent" });
  const err = await rejectsS3(
    b.client.completeMultipartUpload(b.bucket, "gone.db", uploadId, [p1]),
  );
  assert.equal(err.code, "NoSuchUpload");
  await b.client.abortMultipartUpload(b.bucket, "gone.db", uploadId); // again: fine
});

Deno.test("S3Client: multipart with a too-small first part fails at completion with EntityTooSmall", async () => {
  await using b = await freshBucket("mpsmall");
  const uploadId = await b.client.createMultipartUpload(b.bucket, "small.db");
  const p1 = await b.client.uploadPart(b.bucket, "small.db", uploadId, 1, patternBytes(1024, 1));
  const p2 = await b.client.uploadPart(b.bucket, "small.db", uploadId, 2, patternBytes(1024, 2));
  const err = await rejectsS3(
    b.client.completeMultipartUpload(b.bucket, "small.db", uploadId, [p1, p2]),
  );
  assert.equal(err.code, "EntityTooSmall");
  await b.client.abortMultipartUpload(b.bucket, "small.db", uploadId);
});

Deno.test("S3Client: copy duplicates an object server-side", async () => {
  await using b = await freshBucket("copy");
  const data = patternBytes(5000, 9);
  const { etag } = await b.client.put(b.bucket, "stage/0000000001", data);
  const copied = await b.client.copy(b.bucket, "stage/0000000001", "db/0000000001");
  assert.equal(copied.etag, etag, "same content, same md5 etag");
  const got = await b.client.get(b.bucket, "db/0000000001");
  assert.deepEqual(got.status === "ok" && got.body, data);
  const err = await rejectsS3(b.client.copy(b.bucket, "stage/absent", "db/x"));
  assert.equal(err.code, "NoSuchKey");
});
Deno.test("S3Client: createBucket is idempotent for its owner; deleteBucket of a missing bucket is fine", async () => {
  const client = testClient();
  const bucket = `t-create-${crypto.randomUUID().slice(0, 8)}`;
  await client.createBucket(bucket);
  await client.createBucket(bucket);
  await client.put(bucket, "k", enc.encode("x"));
  assert.ok(await client.head(bucket, "k"));
  await client.delete(bucket, "k");
  await client.deleteBucket(bucket);
  await client.deleteBucket(bucket);
  const err = await rejectsS3(client.get(bucket, "k"));
  assert.equal(err.code, "NoSuchBucket");
});
Deno.test("S3Client: onRequest reports kind, status and byte counts", async () => {
  await using b = await freshBucket("events");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  await client.put(b.bucket, "k", patternBytes(4096));
  await client.get(b.bucket, "k");
  await client.get(b.bucket, "k", { range: { offset: 0, length: 100 } });
  await client.head(b.bucket, "k");
  await client.delete(b.bucket, "k");
  assert.deepEqual(
    events.map((e) => [e.kind, e.status, e.bytesOut, e.bytesIn, e.attempts]),
    [
      ["PUT", 200, 4096, 0, 1],
      ["GET", 200, 0, 4096, 1],
      ["GET", 206, 0, 100, 1],
      ["HEAD", 200, 0, 0, 1],
      ["DELETE", 204, 0, 0, 1],
    ],
  );
  assert.ok(events.every((e) => e.ms >= 0));
});

/**
 * serialize / deserialize round trips against real MinIO (run with
 * `deno task test tests/streams_roundtrip_test.ts`), local databases made
 * with @db/sqlite, plus header and URL parsing.
 */

import assert from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import { HEADER_SIZE, parseSqliteHeader } from "../src/header.ts";
import {
  type BlockStoreContext,
  deserialize,
  deserializeFromFile,
  deserializeFromObject,
  parseS3Url,
  serialize,
  serializeToFile,
  serializeToObject,
  type TransferProgress,
} from "../src/streams/mod.ts";
import { commitKeyIn, FAST_TIMING, freshBucket } from "./_harness.ts";
import {
  assertBytes,
  assertIntegrity,
  baseBytes,
  checkpointSoon,
  chunked,
  collect,
  execLocal,
  listing,
  makeDb,
  queryLocal,
  withTempDir,
} from "./_streams.ts";
import { CHINOOK_PATH } from "./_vfs.ts";

// ---------------------------------------------------------------- pure

Deno.test("parseSqliteHeader: valid headers and every refusal", async () => {
  await withTempDir(async (dir) => {
    for (const pageSize of [512, 4096, 65536]) {
      const bytes = await Deno.readFile(makeDb(dir, `h${pageSize}.db`, pageSize, 50));
      const h = parseSqliteHeader(bytes);
      assert.deepStrictEqual(h.pageSize, pageSize);
      assert(h.pageCountValid);
      assert.deepStrictEqual(h.pageCount * h.pageSize, bytes.length);
      assert(h.changeCounter > 0);
    }
  });
  const good = new Uint8Array(HEADER_SIZE);
  good.set(new TextEncoder().encode("SQLite format 3\0"));
  good[16] = 0x10; // 4096
  assert.deepStrictEqual(parseSqliteHeader(good).pageSize, 4096);
  assert.deepStrictEqual(parseSqliteHeader(good).pageCountValid, false);
  const one = good.slice();
  one[16] = 0;
  one[17] = 1; // 1 means 65536
  assert.deepStrictEqual(parseSqliteHeader(one).pageSize, 65536);
  assert.throws(() => parseSqliteHeader(good.subarray(0, 99)), {
    name: "VfsError",
    message: /shorter than the 100-byte/,
  });
  const bad = good.slice();
  bad[0] = 0x73;
  assert.throws(() => parseSqliteHeader(bad), {
    name: "VfsError",
    message: /not a SQLite database/,
  });
  for (const [hi, lo] of [[0x03, 0x00], [0x00, 0x00], [0x01, 0x00], [0x10, 0x01], [0x00, 0x02]]) {
    const p = good.slice();
    p[16] = hi;
    p[17] = lo;
    assert.throws(() => parseSqliteHeader(p), {
      name: "VfsError",
      message: /page size .* power of two between 512 and 65536/,
    });
  }
});

Deno.test("parseS3Url: good URLs and clear TypeErrors", () => {
  assert.deepStrictEqual(parseS3Url("s3://b1/k"), { bucket: "b1", key: "k" });
  assert.deepStrictEqual(parseS3Url("s3://my.bucket/dir/a b.db"), {
    bucket: "my.bucket",
    key: "dir/a b.db",
  });
  assert.throws(() => parseS3Url("https://b/k"), { name: "TypeError", message: /not an S3 URL/ });
  assert.throws(() => parseS3Url("s3:///k"), { name: "TypeError", message: /without a bucket/ });
  assert.throws(() => parseS3Url("s3://bucket"), {
    name: "TypeError",
    message: /without an object key/,
  });
  assert.throws(() => parseS3Url("s3://bucket/"), {
    name: "TypeError",
    message: /without an object key/,
  });
  assert.throws(() => parseS3Url("s3://Bad_Bucket!/k"), {
    name: "TypeError",
    message: /invalid bucket name/,
  });
});

// ---------------------------------------------------------------- round trips

Deno.test("deserialize + serialize: the round trip is byte-identical across page sizes x block sizes; integrity ok", async () => {
  await using b = await freshBucket("streams-matrix");
  await withTempDir(async (dir) => {
    for (const pageSize of [512, 4096, 65536]) {
      const path = makeDb(dir, `p${pageSize}.db`, pageSize, 600);
      const original = await Deno.readFile(path);
      for (const blockSize of [4095, 4096, 4097, 65536]) {
        const ctx: BlockStoreContext = { client: b.client, bucket: b.bucket, blockSize };
        const prefix = `m/p${pageSize}-b${blockSize}.db`;
        const r = await deserialize(ctx, prefix, original);
        assert.deepStrictEqual(r, {
          bytes: original.length,
          blocks: blockCount(original.length, blockSize),
          txid: 1,
        });
        // one commit in the log; Python's block layout fills only at a checkpoint
        const objects = [...(await listing(b.client, b.bucket, prefix)).keys()];
        assert.deepStrictEqual(objects.filter((k) => k.startsWith(`${prefix}/`)), []);
        assert(objects.includes(await commitKeyIn(b.client, b.bucket, prefix, 1)));
        const { bytes, chunks } = await collect(serialize(ctx, prefix));
        assertBytes(bytes, original, `page ${pageSize} block ${blockSize}`);
        assert(chunks.every((n) => n > 0), "no empty chunk");
        const out = `${dir}/out-${pageSize}-${blockSize}.db`;
        await Deno.writeFile(out, bytes);
        assertIntegrity(out);
      }
    }
  });
});

Deno.test("deserializeFromFile + serializeToFile: chinook.sqlite file -> S3 -> file is byte-identical and opens in SQLite", async () => {
  await using b = await freshBucket("streams-chinook");
  const src = CHINOOK_PATH;
  const original = await Deno.readFile(src);
  await withTempDir(async (dir) => {
    for (const blockSize of [4096, 65536]) {
      const ctx = { client: b.client, bucket: b.bucket, blockSize, concurrency: 8 };
      const r = await deserializeFromFile(ctx, `chinook-${blockSize}.db`, src);
      assert.deepStrictEqual(r.bytes, original.length);
      const out = `${dir}/chinook-${blockSize}.db`;
      assert.deepStrictEqual(await serializeToFile(ctx, `chinook-${blockSize}.db`, out), {
        bytes: original.length,
      });
      assertBytes(await Deno.readFile(out), original, "chinook");
      assertIntegrity(out);
      assert.deepStrictEqual(queryLocal(out, "SELECT count(*) FROM Track"), [[3503]]);
      // no temporary file left next to the output
      assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
        `chinook-${blockSize}.db`,
      ]);
      await Deno.remove(out);
    }
  });
});

Deno.test("serialize: sizes equal a plain file's, also after DROP TABLE + VACUUM (the overwrite commit shrinks it; a checkpoint tombstones the blocks past the end)", async () => {
  await using b = await freshBucket("streams-vacuum");
  await withTempDir(async (dir) => {
    const path = `${dir}/v.db`;
    execLocal(
      path,
      `PRAGMA page_size=4096;
       CREATE TABLE keep(x); CREATE TABLE big(x);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO keep SELECT randomblob(100) FROM c;
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) INSERT INTO big SELECT randomblob(300) FROM c;`,
    );
    const before = await Deno.readFile(path);
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, timing: FAST_TIMING };
    await deserialize(ctx, "v.db", before);
    assert.deepStrictEqual((await collect(serialize(ctx, "v.db"))).bytes.length, before.length);

    execLocal(path, "DROP TABLE big; VACUUM;");
    const after = await Deno.readFile(path);
    assert(
      after.length < before.length / 4,
      `vacuum shrank the file (${before.length} -> ${after.length})`,
    );
    await assert.rejects(() => deserialize(ctx, "v.db", after), {
      name: "VfsError",
      message: /already holds a database/,
    });
    const r = await deserialize(ctx, "v.db", after, { overwrite: true });
    assert.deepStrictEqual([r.blocks, r.txid], [after.length / 4096, 2]);
    assertBytes((await collect(serialize(ctx, "v.db"))).bytes, after, "after vacuum");
    // after a checkpoint, Python's layout is exactly the new file: blocks past the end are tombstones
    assert.equal((await checkpointSoon(b.client, b.bucket, "v.db")).kind, "folded");
    assertBytes(await baseBytes(b.client, b.bucket, "v.db"), after, "base blocks after checkpoint");
    assertBytes((await collect(serialize(ctx, "v.db"))).bytes, after, "after the checkpoint");
  });
});

Deno.test("deserialize accepts any chunking: 1-byte, 4097-byte, one huge chunk, iterables", async () => {
  await using b = await freshBucket("streams-chunks");
  await withTempDir(async (dir) => {
    const small = await Deno.readFile(makeDb(dir, "small.db", 512, 20));
    const big = await Deno.readFile(makeDb(dir, "big.db", 4096, 1200));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
    const cases: [
      string,
      Uint8Array,
      () => ReadableStream<Uint8Array> | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    ][] = [
      ["1-byte chunks", small, () => chunked(small, 1)],
      ["4097-byte chunks", big, () => chunked(big, 4097)],
      ["one huge chunk", big, () => [big]],
      ["sync iterable of 1000-byte chunks", big, function* (): Generator<Uint8Array> {
        for (let i = 0; i < big.length; i += 1000) yield big.subarray(i, i + 1000);
      }],
      ["async generator of 65537-byte chunks", big, async function* (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < big.length; i += 65537) yield big.slice(i, i + 65537);
      }],
    ];
    for (const [name, bytes, make] of cases) {
      const prefix = `c/${name.replace(/\W+/g, "-")}`;
      const r = await deserialize(ctx, prefix, make());
      assert.deepStrictEqual(r.bytes, bytes.length, name);
      assertBytes((await collect(serialize(ctx, prefix))).bytes, bytes, name);
    }
    // blocks smaller than the 100-byte header: nothing is written until the header is checked
    const tiny = { ...ctx, blockSize: 64 };
    const r = await deserialize(tiny, "c/tiny-blocks", chunked(small, 30));
    assert.deepStrictEqual(r.blocks, small.length / 64);
    assertBytes((await collect(serialize(tiny, "c/tiny-blocks"))).bytes, small, "64-byte blocks");
    const notDb = new Uint8Array(small.length).fill(7);
    await assert.rejects(() => deserialize(tiny, "c/tiny-bad", chunked(notDb, 30)), {
      name: "VfsError",
      message: /not a SQLite/,
    });
    assert.deepStrictEqual((await listing(b.client, b.bucket, "c/tiny-bad/")).size, 0);
  });
});

Deno.test("serialize / deserialize: empty: a prefix without blocks serializes to zero bytes; a zero-byte source stores nothing", async () => {
  await using b = await freshBucket("streams-empty");
  const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
  const { bytes, chunks } = await collect(serialize(ctx, "nothing.db"));
  assert.deepStrictEqual(bytes.length, 0);
  assert.deepStrictEqual(chunks, []);
  assert.deepStrictEqual(await deserialize(ctx, "zero.db", []), { bytes: 0, blocks: 0, txid: 0 });
  assert.deepStrictEqual((await listing(b.client, b.bucket)).size, 0);
  // an empty SQLite database (0 bytes: opened and read, never written) round-trips too
  await withTempDir(async (dir) => {
    queryLocal(`${dir}/e.db`, "PRAGMA user_version");
    const out = `${dir}/e-out.db`;
    assert.deepStrictEqual((await deserializeFromFile(ctx, "e.db", `${dir}/e.db`)).bytes, 0);
    assert.deepStrictEqual(await serializeToFile(ctx, "e.db", out), { bytes: 0 });
    assert.deepStrictEqual((await Deno.stat(out)).size, 0);
  });
});

Deno.test("serializeToObject / deserializeFromObject: multipart serializeToObject (>= 2 parts) and deserializeFromObject", async () => {
  await using b = await freshBucket("streams-object");
  await withTempDir(async (dir) => {
    const path = makeDb(dir, "six.db", 4096, 6000, 1000); // ~ 7-8 MiB
    const original = await Deno.readFile(path);
    assert(original.length > 6 * 1024 * 1024, `db is ${original.length} bytes`);
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 65536 };
    await deserializeFromFile(ctx, "six.db", path);
    const progress: TransferProgress[] = [];
    const r = await serializeToObject(ctx, "six.db", `s3://${b.bucket}/backups/six.db`, {
      partSize: 5 * 1024 * 1024,
      onProgress: (p) => progress.push(p),
    });
    assert.deepStrictEqual(r.bytes, original.length);
    assert(r.parts >= 2, `parts: ${r.parts}`);
    assert.deepStrictEqual(progress.at(-1), { bytes: original.length, total: original.length });
    const got = await b.client.get(b.bucket, "backups/six.db");
    assert(got.status === "ok");
    assertBytes((got as { body: Uint8Array }).body, original, "multipart object");

    const restored = await deserializeFromObject(
      ctx,
      "restored.db",
      `s3://${b.bucket}/backups/six.db`,
      {
        pieceSize: 3 * 1024 * 1024 + 5,
      },
    );
    assert.deepStrictEqual(restored.bytes, original.length);
    assertBytes((await collect(serialize(ctx, "restored.db"))).bytes, original, "from object");

    // a small database goes up with one PUT
    const small = await Deno.readFile(makeDb(dir, "tiny.db", 1024, 10));
    await deserialize(ctx, "tiny.db", small);
    const t = await serializeToObject(ctx, "tiny.db", `s3://${b.bucket}/backups/tiny.db`);
    assert.deepStrictEqual([t.bytes, t.parts], [small.length, 0]);
    const tg = await b.client.get(b.bucket, "backups/tiny.db");
    assert(tg.status === "ok");
    assertBytes((tg as { body: Uint8Array }).body, small, "single PUT object");

    await assert.rejects(
      () => deserializeFromObject(ctx, "x.db", `s3://${b.bucket}/backups/missing.db`),
      { name: "VfsError", message: /does not exist/ },
    );
    await assert.rejects(() => serializeToObject(ctx, "six.db", "s3:/nope"), {
      name: "TypeError",
      message: /not an S3 URL/,
    });
    await assert.rejects(
      () => serializeToObject(ctx, "six.db", `s3://${b.bucket}/k`, { partSize: 1024 }),
      { name: "RangeError", message: /partSize/ },
    );
    // no multipart upload left behind, no stray objects (the databases live in their logs)
    const keys = [...(await listing(b.client, b.bucket)).keys()].filter((k) =>
      !k.match(/\.db\.s3vfs\//)
    );
    assert.deepStrictEqual(keys.sort(), ["backups/six.db", "backups/tiny.db"]);
  });
});

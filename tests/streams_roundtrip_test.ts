/**
 * serialize / deserialize round trips against real MinIO (run with
 * `deno task test tests/streams_roundtrip_test.ts`), databases made by the
 * system `sqlite3` command, plus header and URL parsing.
 */

import assert from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import { VfsError } from "../src/errors.ts";
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
import { freshBucket } from "./_harness.ts";
import {
  assertBytes,
  assertEquals,
  assertIntegrity,
  assertRejects,
  assertThrows,
  chunked,
  collect,
  listing,
  makeDb,
  sqlite3,
  withTempDir,
} from "./_streams.ts";
import { CHINOOK_PATH } from "./_vfs.ts";

// ---------------------------------------------------------------- pure

Deno.test("parseSqliteHeader: valid headers and every refusal", async () => {
  await withTempDir(async (dir) => {
    for (const pageSize of [512, 4096, 65536]) {
      const bytes = await Deno.readFile(await makeDb(dir, `h${pageSize}.db`, pageSize, 50));
      const h = parseSqliteHeader(bytes);
      assertEquals(h.pageSize, pageSize);
      assert(h.pageCountValid);
      assertEquals(h.pageCount * h.pageSize, bytes.length);
      assert(h.changeCounter > 0);
    }
  });
  const good = new Uint8Array(HEADER_SIZE);
  good.set(new TextEncoder().encode("SQLite format 3\0"));
  good[16] = 0x10; // 4096
  assertEquals(parseSqliteHeader(good).pageSize, 4096);
  assertEquals(parseSqliteHeader(good).pageCountValid, false);
  const one = good.slice();
  one[16] = 0;
  one[17] = 1; // 1 means 65536
  assertEquals(parseSqliteHeader(one).pageSize, 65536);
  assertThrows(
    () => parseSqliteHeader(good.subarray(0, 99)),
    VfsError,
    /shorter than the 100-byte/,
  );
  const bad = good.slice();
  bad[0] = 0x73;
  assertThrows(() => parseSqliteHeader(bad), VfsError, /not a SQLite database/);
  for (const [hi, lo] of [[0x03, 0x00], [0x00, 0x00], [0x01, 0x00], [0x10, 0x01], [0x00, 0x02]]) {
    const p = good.slice();
    p[16] = hi;
    p[17] = lo;
    assertThrows(
      () => parseSqliteHeader(p),
      VfsError,
      /page size .* power of two between 512 and 65536/,
    );
  }
});

Deno.test("parseS3Url: good URLs and clear TypeErrors", () => {
  assertEquals(parseS3Url("s3://b1/k"), { bucket: "b1", key: "k" });
  assertEquals(parseS3Url("s3://my.bucket/dir/a b.db"), { bucket: "my.bucket", key: "dir/a b.db" });
  assertThrows(() => parseS3Url("https://b/k"), TypeError, /not an S3 URL/);
  assertThrows(() => parseS3Url("s3:///k"), TypeError, /without a bucket/);
  assertThrows(() => parseS3Url("s3://bucket"), TypeError, /without an object key/);
  assertThrows(() => parseS3Url("s3://bucket/"), TypeError, /without an object key/);
  assertThrows(() => parseS3Url("s3://Bad_Bucket!/k"), TypeError, /invalid bucket name/);
});

// ---------------------------------------------------------------- round trips

Deno.test("round trip is byte-identical across page sizes x block sizes; integrity ok", async () => {
  await using b = await freshBucket("streams-matrix");
  await withTempDir(async (dir) => {
    for (const pageSize of [512, 4096, 65536]) {
      const path = await makeDb(dir, `p${pageSize}.db`, pageSize, 600);
      const original = await Deno.readFile(path);
      for (const blockSize of [4095, 4096, 4097, 65536]) {
        const ctx: BlockStoreContext = { client: b.client, bucket: b.bucket, blockSize };
        const prefix = `m/p${pageSize}-b${blockSize}.db`;
        const r = await deserialize(ctx, prefix, original);
        assertEquals(r, { bytes: original.length, blocks: blockCount(original.length, blockSize) });
        const objects = await listing(b.client, b.bucket, prefix + "/");
        assertEquals(objects.size, r.blocks);
        const { bytes, chunks } = await collect(serialize(ctx, prefix));
        assertBytes(bytes, original, `page ${pageSize} block ${blockSize}`);
        assert(chunks.every((n) => n > 0), "no empty chunk");
        const out = `${dir}/out-${pageSize}-${blockSize}.db`;
        await Deno.writeFile(out, bytes);
        await assertIntegrity(out);
      }
    }
  });
});

Deno.test("chinook.sqlite: file -> S3 -> file is byte-identical and opens in sqlite3", async () => {
  await using b = await freshBucket("streams-chinook");
  const src = CHINOOK_PATH;
  const original = await Deno.readFile(src);
  await withTempDir(async (dir) => {
    for (const blockSize of [4096, 65536]) {
      const ctx = { client: b.client, bucket: b.bucket, blockSize, concurrency: 8 };
      const r = await deserializeFromFile(ctx, `chinook-${blockSize}.db`, src);
      assertEquals(r.bytes, original.length);
      const out = `${dir}/chinook-${blockSize}.db`;
      assertEquals(await serializeToFile(ctx, `chinook-${blockSize}.db`, out), {
        bytes: original.length,
      });
      assertBytes(await Deno.readFile(out), original, "chinook");
      await assertIntegrity(out);
      assertEquals((await sqlite3(out, "SELECT count(*) FROM Track;")).trim(), "3503");
      // no temporary file left next to the output
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [`chinook-${blockSize}.db`]);
      await Deno.remove(out);
    }
  });
});

Deno.test("sizes equal a plain file's, also after DROP TABLE + VACUUM (overwrite deletes stale blocks)", async () => {
  await using b = await freshBucket("streams-vacuum");
  await withTempDir(async (dir) => {
    const path = `${dir}/v.db`;
    await sqlite3(
      path,
      `PRAGMA page_size=4096;
       CREATE TABLE keep(x); CREATE TABLE big(x);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO keep SELECT randomblob(100) FROM c;
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) INSERT INTO big SELECT randomblob(300) FROM c;`,
    );
    const before = await Deno.readFile(path);
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
    await deserialize(ctx, "v.db", before);
    assertEquals((await collect(serialize(ctx, "v.db"))).bytes.length, before.length);
    assertEquals((await listing(b.client, b.bucket, "v.db/")).size, before.length / 4096);

    await sqlite3(path, "DROP TABLE big; VACUUM;");
    const after = await Deno.readFile(path);
    assert(
      after.length < before.length / 4,
      `vacuum shrank the file (${before.length} -> ${after.length})`,
    );
    await assertRejects(
      () => deserialize(ctx, "v.db", after),
      VfsError,
      /already holds a database/,
    );
    const r = await deserialize(ctx, "v.db", after, { overwrite: true });
    assertEquals(r.blocks, after.length / 4096);
    assertBytes((await collect(serialize(ctx, "v.db"))).bytes, after, "after vacuum");
    // stale blocks past the new end are gone, and so is the staging copy
    const all = await listing(b.client, b.bucket);
    assertEquals(all.size, after.length / 4096, `objects left: ${[...all.keys()].join(", ")}`);
    assertEquals([...all.keys()].filter((k) => !k.startsWith("v.db/")), []);
  });
});

Deno.test("deserialize accepts any chunking: 1-byte, 4097-byte, one huge chunk, iterables", async () => {
  await using b = await freshBucket("streams-chunks");
  await withTempDir(async (dir) => {
    const small = await Deno.readFile(await makeDb(dir, "small.db", 512, 20));
    const big = await Deno.readFile(await makeDb(dir, "big.db", 4096, 1200));
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
      assertEquals(r.bytes, bytes.length, name);
      assertBytes((await collect(serialize(ctx, prefix))).bytes, bytes, name);
    }
    // blocks smaller than the 100-byte header: nothing is written until the header is checked
    const tiny = { ...ctx, blockSize: 64 };
    const r = await deserialize(tiny, "c/tiny-blocks", chunked(small, 30));
    assertEquals(r.blocks, small.length / 64);
    assertBytes((await collect(serialize(tiny, "c/tiny-blocks"))).bytes, small, "64-byte blocks");
    const notDb = new Uint8Array(small.length).fill(7);
    await assertRejects(
      () => deserialize(tiny, "c/tiny-bad", chunked(notDb, 30)),
      VfsError,
      /not a SQLite/,
    );
    assertEquals((await listing(b.client, b.bucket, "c/tiny-bad/")).size, 0);
  });
});

Deno.test("empty: a prefix without blocks serializes to zero bytes; a zero-byte source stores nothing", async () => {
  await using b = await freshBucket("streams-empty");
  const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
  const { bytes, chunks } = await collect(serialize(ctx, "nothing.db"));
  assertEquals(bytes.length, 0);
  assertEquals(chunks, []);
  assertEquals(await deserialize(ctx, "zero.db", []), { bytes: 0, blocks: 0 });
  assertEquals((await listing(b.client, b.bucket)).size, 0);
  // an empty SQLite database made by sqlite3 (0 bytes) round-trips too
  await withTempDir(async (dir) => {
    await sqlite3(`${dir}/e.db`, "PRAGMA user_version;");
    const out = `${dir}/e-out.db`;
    assertEquals((await deserializeFromFile(ctx, "e.db", `${dir}/e.db`)).bytes, 0);
    assertEquals(await serializeToFile(ctx, "e.db", out), { bytes: 0 });
    assertEquals((await Deno.stat(out)).size, 0);
  });
});

Deno.test("S3 objects: multipart serializeToObject (>= 2 parts) and deserializeFromObject", async () => {
  await using b = await freshBucket("streams-object");
  await withTempDir(async (dir) => {
    const path = await makeDb(dir, "six.db", 4096, 6000, 1000); // ~ 7-8 MiB
    const original = await Deno.readFile(path);
    assert(original.length > 6 * 1024 * 1024, `db is ${original.length} bytes`);
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 65536 };
    await deserializeFromFile(ctx, "six.db", path);
    const progress: TransferProgress[] = [];
    const r = await serializeToObject(ctx, "six.db", `s3://${b.bucket}/backups/six.db`, {
      partSize: 5 * 1024 * 1024,
      onProgress: (p) => progress.push(p),
    });
    assertEquals(r.bytes, original.length);
    assert(r.parts >= 2, `parts: ${r.parts}`);
    assertEquals(progress.at(-1), { bytes: original.length, total: original.length });
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
    assertEquals(restored.bytes, original.length);
    assertBytes((await collect(serialize(ctx, "restored.db"))).bytes, original, "from object");

    // a small database goes up with one PUT
    const small = await Deno.readFile(await makeDb(dir, "tiny.db", 1024, 10));
    await deserialize(ctx, "tiny.db", small);
    const t = await serializeToObject(ctx, "tiny.db", `s3://${b.bucket}/backups/tiny.db`);
    assertEquals([t.bytes, t.parts], [small.length, 0]);
    const tg = await b.client.get(b.bucket, "backups/tiny.db");
    assert(tg.status === "ok");
    assertBytes((tg as { body: Uint8Array }).body, small, "single PUT object");

    await assertRejects(
      () => deserializeFromObject(ctx, "x.db", `s3://${b.bucket}/backups/missing.db`),
      VfsError,
      /does not exist/,
    );
    await assertRejects(
      () => serializeToObject(ctx, "six.db", "s3:/nope"),
      TypeError,
      /not an S3 URL/,
    );
    await assertRejects(
      () => serializeToObject(ctx, "six.db", `s3://${b.bucket}/k`, { partSize: 1024 }),
      RangeError,
      /partSize/,
    );
    // no multipart upload left behind, no stray objects
    const keys = [...(await listing(b.client, b.bucket)).keys()].filter((k) =>
      !k.match(/\.db\/\d{10}$/)
    );
    assertEquals(keys.sort(), ["backups/six.db", "backups/tiny.db"]);
  });
});

/**
 * serialize / deserialize against real MinIO (run with `deno task test tests/streams_test.ts`),
 * databases made by the system `sqlite3` command, plus header and URL parsing.
 */

import assert from "node:assert/strict";
import { blockCount, blockKey } from "../src/blocks.ts";
import { VfsError } from "../src/errors.ts";
import { HEADER_SIZE, parseSqliteHeader } from "../src/header.ts";
import type { S3Client } from "../src/s3/client.ts";
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
} from "../src/streams.ts";
import { freshBucket, testClient, testS3Options } from "./_harness.ts";
import { CHINOOK_PATH } from "./_vfs.ts";

// ---------------------------------------------------------------- helpers

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;
type ErrorCheck = ErrorClass | RegExp | ((e: Error) => boolean);

function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

function assertMatch(text: string, pattern: RegExp, message?: string): void {
  assert.match(text, pattern, message);
}

function checkError(err: unknown, checks: ErrorCheck[]): Error {
  assert(err instanceof Error, `expected an Error, got ${err}`);
  for (const c of checks) {
    if (c instanceof RegExp) assert.match(err.message, c);
    else if (c.prototype instanceof Error || c === Error) {
      assert(
        err instanceof (c as ErrorClass),
        `expected a ${(c as ErrorClass).name}, got ${err.name}: ${err.message}`,
      );
    } else {assert(
        (c as (e: Error) => boolean)(err),
        `unexpected error: ${err.name}: ${err.message}`,
      );}
  }
  return err;
}

async function assertRejects(fn: () => Promise<unknown>, ...checks: ErrorCheck[]): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, checks);
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

function assertThrows(fn: () => unknown, ...checks: ErrorCheck[]): Error {
  try {
    fn();
  } catch (err) {
    return checkError(err, checks);
  }
  throw new assert.AssertionError({ message: "expected a throw" });
}

const SQLITE3 = "sqlite3";

/** Runs `sql` through the sqlite3 command on `path`; returns stdout. */
async function sqlite3(path: string, sql: string): Promise<string> {
  const child = new Deno.Command(SQLITE3, {
    args: ["-batch", path],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(sql));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success || stderr.trim()) throw new Error(`sqlite3 ${path} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Creates a database file with `rows` rows of ~`rowBytes` random text, page size `pageSize`. */
async function makeDb(
  dir: string,
  name: string,
  pageSize: number,
  rows: number,
  rowBytes = 200,
): Promise<string> {
  const path = `${dir}/${name}`;
  await sqlite3(
    path,
    `PRAGMA page_size=${pageSize};
     CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);
     CREATE INDEX t_v ON t(v);
     WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ${rows})
       INSERT INTO t(v, b) SELECT hex(randomblob(${Math.max(1, rowBytes >> 2)})), randomblob(${
      Math.max(1, rowBytes >> 1)
    }) FROM c;`,
  );
  return path;
}

/** Checks a database file with `PRAGMA integrity_check`. */
async function assertIntegrity(path: string): Promise<void> {
  assertEquals((await sqlite3(path, "PRAGMA integrity_check;")).trim(), "ok");
}

/** Reads a stream to the end: all bytes and the size of every chunk. */
async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: Uint8Array; chunks: number[] }> {
  const parts: Uint8Array[] = [];
  const chunks: number[] = [];
  for await (const c of stream) {
    parts.push(c);
    chunks.push(c.length);
  }
  const bytes = new Uint8Array(chunks.reduce((a, b) => a + b, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, chunks };
}

/** Every object of the bucket whose key starts with `prefix` (all objects when empty) -> ETag. */
async function listing(
  client: S3Client,
  bucket: string,
  prefix = "",
): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for await (const e of client.list(bucket, { prefix })) m.set(e.key, e.etag);
  return m;
}

/** Splits bytes into a stream of chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c): void {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + size));
      pos += size;
    },
  });
}

/** A stream of `bytes` that errors with `error` after `after` bytes. */
function failingStream(bytes: Uint8Array, after: number, error: Error): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c): void {
      if (pos >= after) return c.error(error);
      const n = Math.min(8192, after - pos);
      c.enqueue(bytes.slice(pos, pos + n));
      pos += n;
    },
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  assert(equalBytes(actual, expected), `${what}: bytes differ`);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-streams-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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

// ---------------------------------------------------------------- bad input

Deno.test("bad sources leave a new prefix empty and an existing one unchanged", async () => {
  await using b = await freshBucket("streams-bad");
  await withTempDir(async (dir) => {
    const original = await Deno.readFile(await makeDb(dir, "o.db", 4096, 300));
    const other = await Deno.readFile(await makeDb(dir, "n.db", 4096, 2000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 4 };
    await deserialize(ctx, "existing.db", original);
    const before = await listing(b.client, b.bucket);

    const notSqlite = new TextEncoder().encode("this is not a database ".repeat(1000));
    const badPage = other.slice();
    badPage[16] = 0x03; // page size 768
    const cases: [string, () => DeserializeSourceLike, RegExp][] = [
      ["non-SQLite", () => chunked(notSqlite, 4096), /not a SQLite database/],
      ["bad page size", () => [badPage], /page size/],
      [
        "under 100 bytes",
        () => [other.slice(0, 60)],
        /truncated SQLite database: the source ended after 60 bytes/,
      ],
      [
        "not a page multiple",
        () => chunked(other.slice(0, other.length - 1000), 10_000),
        /truncated.*not a multiple of the page size 4096/,
      ],
      [
        "fewer pages than the header says",
        () => chunked(other.slice(0, other.length - 4096 * 3), 10_000),
        /truncated.*header says \d+ pages/,
      ],
      [
        "a stream that errors midway",
        () => failingStream(other, 200_000, new Error("disk on fire")),
        /disk on fire/,
      ],
      ["a sync iterable that throws", function* (): Generator<Uint8Array> {
        yield other.slice(0, 50_000);
        throw new Error("iterator broke");
      }, /iterator broke/],
      [
        "a chunk that is not bytes",
        () => [other.slice(0, 10000), "nope" as unknown as Uint8Array],
        /not a Uint8Array/,
      ],
    ];
    for (const [name, make, pattern] of cases) {
      // new prefix: left empty
      const err = await assertRejectsVfs(
        () => deserialize(ctx, `new-${name}.db`, make()),
        pattern,
        name,
      );
      assertMatch(err.message, /nothing was left under/, name);
      assertEquals(
        (await listing(b.client, b.bucket, `new-${name}.db`)).size,
        0,
        `${name}: new prefix empty`,
      );
      // existing prefix with overwrite: unchanged, no staging left
      const err2 = await assertRejectsVfs(
        () => deserialize(ctx, "existing.db", make(), { overwrite: true }),
        pattern,
        name,
      );
      assertMatch(err2.message, /was not modified/, name);
      assertEquals(await listing(b.client, b.bucket), before, `${name}: bucket unchanged`);
    }
    // existing target without overwrite: refused before reading, unchanged
    let pulled = 0;
    const watched = new ReadableStream<Uint8Array>({
      pull(c): void {
        pulled++;
        c.enqueue(other.slice(0, 4096));
      },
    });
    await assertRejects(
      () => deserialize(ctx, "existing.db", watched),
      (e: Error) =>
        e instanceof VfsError &&
        /existing\.db already holds a database \(\d+ blocks\); pass overwrite: true/.test(
          e.message,
        ),
    );
    assert(pulled <= 1, "the source was not consumed");
    assertEquals(await listing(b.client, b.bucket), before);
    assertBytes(
      (await collect(serialize(ctx, "existing.db"))).bytes,
      original,
      "existing db intact",
    );
  });
});

type DeserializeSourceLike =
  | ReadableStream<Uint8Array>
  | Iterable<Uint8Array>
  | AsyncIterable<Uint8Array>;

async function assertRejectsVfs(
  fn: () => Promise<unknown>,
  pattern: RegExp,
  what: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof VfsError, `${what}: expected a VfsError, got ${err}`);
    assertMatch(err.message, pattern, what);
    return err;
  }
  throw new Error(`${what}: did not reject`);
}

Deno.test("an abort and an S3 failure midway clean up; a failed final copy is reported as inconsistent", async () => {
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(await makeDb(dir, "a.db", 4096, 2000));
    // 1) abort while reading the source: cleaned up, the abort reason is thrown
    {
      await using b = await freshBucket("streams-abort");
      const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
      const ac = new AbortController();
      let sent = 0;
      const src = new ReadableStream<Uint8Array>({
        async pull(c): Promise<void> {
          if (sent >= 100_000) {
            ac.abort(new Error("user gave up"));
            await new Promise((r) => setTimeout(r, 10));
          }
          c.enqueue(bytes.slice(sent, sent + 8192));
          sent += 8192;
        },
      });
      await assertRejects(
        () => deserialize(ctx, "ab.db", src, { signal: ac.signal }),
        /user gave up/,
      );
      assertEquals((await listing(b.client, b.bucket)).size, 0);
    }
    // 2) the 10th block PUT is refused: the blocks written are deleted
    {
      let puts = 0;
      const failingFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const req = input instanceof Request ? input : new Request(input, init);
        if (req.method === "PUT" && /\/\d{10}$/.test(new URL(req.url).pathname) && ++puts === 10) {
          return Promise.resolve(
            new Response("<Error><Code>AccessDenied</Code><Message>nope</Message></Error>", {
              status: 403,
            }),
          );
        }
        return fetch(input, init);
      };
      await using b = await freshBucket("streams-s3fail", { fetch: failingFetch });
      const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 4 };
      const err = await assertRejectsVfs(
        () => deserialize(ctx, "f.db", bytes),
        /AccessDenied/,
        "PUT failure",
      );
      assertMatch(err.message, /nothing was left under/);
      assertEquals((await listing(b.client, b.bucket)).size, 0);
    }
    // 3) overwrite whose final server-side copy fails: reported as INCONSISTENT, staged copy kept
    {
      let copies = 0;
      const failingCopy = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const req = input instanceof Request ? input : new Request(input, init);
        if (req.headers.get("x-amz-copy-source") && ++copies === 5) {
          return Promise.resolve(
            new Response("<Error><Code>AccessDenied</Code><Message>no copy</Message></Error>", {
              status: 403,
            }),
          );
        }
        return fetch(input, init);
      };
      await using b = await freshBucket("streams-copyfail", { fetch: failingCopy });
      const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 2 };
      await deserialize(ctx, "c.db", bytes);
      const newer = bytes.slice();
      newer[60] ^= 1; // user_version differs: block 0 differs
      await assertRejectsVfs(
        () => deserialize(ctx, "c.db", newer, { overwrite: true }),
        /INCONSISTENT.*still staged under s3:\/\/[^/]+\/c\.db\.s3vfs-staging-/,
        "copy failure",
      );
      // block 0 was not replaced (it goes last)
      const b0 = await b.client.get(b.bucket, blockKey("c.db", 0));
      assert(b0.status === "ok");
      assertBytes((b0 as { body: Uint8Array }).body, bytes.subarray(0, 4096), "old block 0 kept");
    }
  });
});

// ---------------------------------------------------------------- consistency

Deno.test("torn read: a block rewritten during serialize errors the stream clearly", async () => {
  await using b = await freshBucket("streams-torn");
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(await makeDb(dir, "t.db", 4096, 3000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 4 };
    await deserialize(ctx, "t.db", bytes);
    const n = blockCount(bytes.length, 4096);

    // rewrite a block far ahead of the reader, and one already read
    for (const target of [n - 2, 1]) {
      const reader = serialize(ctx, "t.db").getReader();
      let got = 0;
      for (let i = 0; i < 5; i++) {
        const r = await reader.read();
        assert(!r.done);
        got += r.value.length;
      }
      const changed = bytes.slice(target * 4096, (target + 1) * 4096);
      changed[100] ^= 0xff;
      await b.client.put(b.bucket, blockKey("t.db", target), changed);
      const err = await (async () => {
        try {
          while (true) {
            const r = await reader.read();
            if (r.done) return undefined;
            assert(r.value.length > 0);
            got += r.value.length;
          }
        } catch (e) {
          return e;
        }
      })();
      assert(err instanceof VfsError, `block ${target}: expected a VfsError, got ${err}`);
      assertMatch(err.message, /changed during serialize \(block \d+ was rewritten\).*retry/);
      assert(got < bytes.length, "the last chunk is never handed out for a torn read");
      await b.client.put(
        b.bucket,
        blockKey("t.db", target),
        bytes.slice(target * 4096, (target + 1) * 4096),
      );
    }

    // serializeToFile: no file at all (not even a partial one) after a torn read
    const out = `${dir}/torn-out.db`;
    const changedLast = bytes.slice((n - 1) * 4096);
    changedLast[7] ^= 0xff;
    let put: Promise<unknown> | undefined;
    await assertRejects(
      () =>
        serializeToFile({ ...ctx, concurrency: 1 }, "t.db", out, {
          onProgress: (pr) => {
            if (pr.bytes === 4096 * 3) {
              put = b.client.put(b.bucket, blockKey("t.db", n - 1), changedLast);
            }
          },
        }),
      VfsError,
      /changed during serialize/,
    );
    await put;
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((x) => x.startsWith("torn-out")),
      [],
    );
  });
});

Deno.test("torn read before the first chunk is retried from a fresh LIST; hot journal and gaps refused", async () => {
  let hook: (() => Promise<void>) | undefined;
  const hookedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    if (hook && req.method === "GET" && new URL(req.url).pathname.endsWith("/r.db/0000000000")) {
      const h = hook;
      hook = undefined;
      await h(); // a writer commits between the LIST and the GET of block 0
    }
    return fetch(input, init);
  };
  await using b = await freshBucket("streams-retry", { fetch: hookedFetch });
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(await makeDb(dir, "r.db", 4096, 500));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
    await deserialize(ctx, "r.db", bytes);
    const newer = bytes.slice();
    newer[60] ^= 1;
    const admin = testClient(); // a client without the hook
    hook = async () => {
      await admin.put(b.bucket, blockKey("r.db", 0), newer.slice(0, 4096));
    };
    const { bytes: out } = await collect(serialize(ctx, "r.db"));
    assertEquals(hook, undefined, "the hook ran");
    assertBytes(out, newer, "retried serialize sees the new state");

    // maxRetries: 0 turns the same race into an error
    hook = async () => {
      await admin.put(b.bucket, blockKey("r.db", 0), bytes.slice(0, 4096));
    };
    await assertRejects(
      () => collect(serialize(ctx, "r.db", { maxRetries: 0 })),
      VfsError,
      /changed during serialize/,
    );

    // hot journal: refused (after retries)
    const journal = new Uint8Array(512);
    journal.set([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), journal);
    await assertRejects(
      () => collect(serialize(ctx, "r.db", { maxRetries: 1 })),
      VfsError,
      /hot journal/,
    );
    // journal zeroed (PERSIST mode after commit): fine; journalPrefix: null skips the check
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), new Uint8Array(512));
    assertEquals((await collect(serialize(ctx, "r.db"))).bytes.length, bytes.length);
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), journal);
    assertEquals(
      (await collect(serialize(ctx, "r.db", { journalPrefix: null }))).bytes.length,
      bytes.length,
    );
    await b.client.delete(b.bucket, blockKey("r.db-journal", 0));

    // a gap in the middle is an error, never zeros
    await b.client.delete(b.bucket, blockKey("r.db", 3));
    await assertRejects(() => collect(serialize(ctx, "r.db")), VfsError, /block 3 is missing/);
    const out2 = `${dir}/gap.db`;
    await assertRejects(() => serializeToFile(ctx, "r.db", out2), VfsError, /block 3 is missing/);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("gap")).length, 0);
    // a short block that is not the last is an error too
    await b.client.put(b.bucket, blockKey("r.db", 3), new Uint8Array(100));
    await assertRejects(() => collect(serialize(ctx, "r.db")), VfsError, /block 3 holds 100 bytes/);
  });
});

// ---------------------------------------------------------------- progress, cancel, memory

Deno.test("progress: increasing bytes and the right total in both directions; cancel stops requests", async () => {
  let gets = 0;
  await using b = await freshBucket("streams-progress", {
    onRequest: (e) => {
      if (e.kind === "GET") gets++;
    },
  });
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(await makeDb(dir, "p.db", 4096, 2000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 8192, concurrency: 4 };
    const up: TransferProgress[] = [];
    await deserialize(ctx, "p.db", chunked(bytes, 3000), { onProgress: (p) => up.push(p) });
    assert(up.length >= blockCount(bytes.length, 8192));
    for (let i = 1; i < up.length; i++) {
      assert(up[i].bytes > up[i - 1].bytes || i === up.length - 1);
    }
    assert(up.every((p) => p.total === bytes.length), "total from the header's page count");
    assertEquals(up.at(-1), { bytes: bytes.length, total: bytes.length });

    const down: TransferProgress[] = [];
    await collect(serialize(ctx, "p.db", { onProgress: (p) => down.push(p) }));
    assertEquals(down.length, blockCount(bytes.length, 8192));
    for (let i = 1; i < down.length; i++) assert(down[i].bytes > down[i - 1].bytes);
    assert(down.every((p) => p.total === bytes.length));
    assertEquals(down.at(-1)!.bytes, bytes.length);

    // cancel after one chunk: the window of GETs is bounded and stops
    gets = 0;
    const reader = serialize(ctx, "p.db").getReader();
    await reader.read();
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 50));
    assert(gets <= 1 + ctx.concurrency + 1, `GETs after cancel: ${gets}`);
  });
});

Deno.test("memory: a 96 MiB database goes both ways in a fresh process with RSS growth well under its size", async () => {
  // Measured in a child process (bench/memory_stream.ts --child) so the test runner's own heap
  // does not count; a transfer that buffered the database would grow RSS by more than its size.
  await using b = await freshBucket("streams-memory");
  await withTempDir(async (dir) => {
    const path = `${dir}/m.db`;
    await sqlite3(
      path,
      `PRAGMA page_size=65536; PRAGMA journal_mode=OFF; CREATE TABLE t(b BLOB);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 25500)
       INSERT INTO t SELECT randomblob(4000) FROM c;`,
    );
    const size = (await Deno.stat(path)).size;
    assert(size >= 96 * 1024 * 1024, `db is ${size} bytes`);
    const s3 = testS3Options();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../bench/memory_stream.ts", import.meta.url).pathname,
        "--child",
        `--bucket=${b.bucket}`,
        `--src=${path}`,
        `--out=${dir}/out.db`,
        `--block=${1024 * 1024}`,
        "--concurrency=2",
      ],
      env: {
        S3_ENDPOINT: s3.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        AWS_REGION: s3.region,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}${stdout}`);
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assertEquals(r.dbBytes, size);
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

/**
 * deserialize of bad sources, aborts and S3 failures midway, against real
 * MinIO: nothing becomes visible (the log's head and bytes are unchanged,
 * staged chunks are deleted), and every commit outcome other than success is
 * a clear error.
 */

import assert from "node:assert/strict";
import { VfsError } from "../src/errors.ts";
import { deserialize, serialize } from "../src/streams/mod.ts";
import { freshBucket } from "./_harness.ts";
import {
  assertBytes,
  chunked,
  collect,
  failingStream,
  listing,
  makeDb,
  snapshotOf,
  withTempDir,
} from "./_streams.ts";

Deno.test("deserialize: bad sources leave a new prefix empty and an existing one unchanged", async () => {
  await using b = await freshBucket("streams-bad");
  await withTempDir(async (dir) => {
    const original = await Deno.readFile(makeDb(dir, "o.db", 4096, 300));
    const other = await Deno.readFile(makeDb(dir, "n.db", 4096, 2000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 4 };
    await deserialize(ctx, "existing.db", original);
    const before = await listing(b.client, b.bucket);
    const snap = await snapshotOf(b.client, b.bucket, "existing.db");
    assert.deepStrictEqual(snap?.head, 1);

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
      const err = await rejectsWithVfsError(
        () => deserialize(ctx, `new-${name}.db`, make()),
        pattern,
        name,
      );
      assert.match(err.message, /nothing was left under/, name);
      assert.deepStrictEqual(
        (await listing(b.client, b.bucket, `new-${name}.db`)).size,
        0,
        `${name}: new prefix empty`,
      );
      // existing prefix with overwrite: unchanged, no staging left
      const err2 = await rejectsWithVfsError(
        () => deserialize(ctx, "existing.db", make(), { overwrite: true }),
        pattern,
        name,
      );
      assert.match(err2.message, /was not modified/, name);
      assert.deepStrictEqual(
        await listing(b.client, b.bucket),
        before,
        `${name}: bucket unchanged`,
      );
      assert.deepStrictEqual(
        await snapshotOf(b.client, b.bucket, "existing.db"),
        snap,
        `${name}: head and bytes unchanged`,
      );
    }
    // existing target without overwrite: refused before reading, unchanged
    let pulled = 0;
    const watched = new ReadableStream<Uint8Array>({
      pull(c): void {
        pulled++;
        c.enqueue(other.slice(0, 4096));
      },
    });
    await assert.rejects(
      () => deserialize(ctx, "existing.db", watched),
      (e: Error) =>
        e instanceof VfsError &&
        /existing\.db already holds a database \(\d+ bytes\); pass overwrite: true/.test(
          e.message,
        ),
    );
    assert(pulled <= 1, "the source was not consumed");
    assert.deepStrictEqual(await listing(b.client, b.bucket), before);
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

/** Awaits `fn()`, which must reject with a VfsError matching `pattern`; returns that error. */
async function rejectsWithVfsError(
  fn: () => Promise<unknown>,
  pattern: RegExp,
  what: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof VfsError, `${what}: expected a VfsError, got ${err}`);
    assert.match(err.message, pattern, what);
    return err;
  }
  assert.fail(`${what}: did not reject`);
}

Deno.test("deserialize: an abort and an S3 failure midway delete the staged chunks; a refused commit is a clear error and changes nothing", async () => {
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(makeDb(dir, "a.db", 4096, 9000, 1000)); // > 2 staged chunks
    assert(bytes.length > 9 * 1024 * 1024, `db is ${bytes.length} bytes`);
    // 1) abort after two chunks were staged: they are deleted, the abort reason is thrown
    {
      await using b = await freshBucket("streams-abort");
      const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
      const ac = new AbortController();
      let sent = 0;
      const src = new ReadableStream<Uint8Array>({
        async pull(c): Promise<void> {
          if (sent >= 9 * 1024 * 1024) {
            ac.abort(new Error("user gave up"));
            await new Promise((r) => setTimeout(r, 10));
          }
          c.enqueue(bytes.slice(sent, sent + 65536));
          sent += 65536;
        },
      });
      await assert.rejects(
        () => deserialize(ctx, "ab.db", src, { signal: ac.signal }),
        /user gave up/,
      );
      assert.deepStrictEqual((await listing(b.client, b.bucket)).size, 0);
    }
    // 2) the second chunk PUT is refused: the chunks staged are deleted, nothing is left
    {
      let puts = 0;
      const failingFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const req = input instanceof Request ? input : new Request(input, init);
        if (req.method === "PUT" && /\/stage\//.test(new URL(req.url).pathname) && ++puts === 2) {
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
      const err = await rejectsWithVfsError(
        () => deserialize(ctx, "f.db", bytes),
        /403/,
        "PUT failure",
      );
      assert.match(err.message, /nothing was left under/);
      assert(puts >= 2, `stage PUTs: ${puts}`);
      assert.deepStrictEqual((await listing(b.client, b.bucket)).size, 0);
    }
    // 3) an overwrite whose commit PUT is refused: "not applied", the database unchanged
    {
      let refuse = false;
      const failingCommit = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const req = input instanceof Request ? input : new Request(input, init);
        if (
          refuse && req.method === "PUT" &&
          /\/log\/([^/]+\/)?\d{20}$/.test(new URL(req.url).pathname)
        ) {
          return Promise.resolve(
            new Response("<Error><Code>AccessDenied</Code><Message>no</Message></Error>", {
              status: 403,
            }),
          );
        }
        return fetch(input, init);
      };
      await using b = await freshBucket("streams-commitfail", { fetch: failingCommit });
      const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 2 };
      const small = bytes.subarray(0, 4096 * 40).slice();
      small[28] = 0, small[29] = 0, small[30] = 0, small[31] = 40; // header page count: 40
      await deserialize(ctx, "c.db", small);
      const snap = await snapshotOf(b.client, b.bucket, "c.db");
      const newer = small.slice();
      newer[60] ^= 1; // user_version differs: block 0 differs
      refuse = true;
      await rejectsWithVfsError(
        () => deserialize(ctx, "c.db", newer, { overwrite: true }),
        /c\.db was not applied: PUT 403; retry the deserialize/,
        "commit refused",
      );
      assert.deepStrictEqual(await snapshotOf(b.client, b.bucket, "c.db"), snap, "unchanged");
      assertBytes((await collect(serialize(ctx, "c.db"))).bytes, small, "old content kept");
    }
  });
});

/**
 * serialize while the database changes, against real MinIO: torn reads are
 * errors (or retried from a fresh LIST before the first chunk), hot journals
 * and missing or short blocks are refused.
 */

import assert from "node:assert/strict";
import { blockCount, blockKey } from "../src/blocks.ts";
import { VfsError } from "../src/errors.ts";
import { deserialize, serialize, serializeToFile } from "../src/streams/mod.ts";
import { freshBucket, testClient } from "./_harness.ts";
import { assertBytes, collect, makeDb, withTempDir } from "./_streams.ts";

Deno.test("serialize: a block rewritten during serialize (a torn read) errors the stream clearly", async () => {
  await using b = await freshBucket("streams-torn");
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(makeDb(dir, "t.db", 4096, 3000));
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
      assert.match(err.message, /changed during serialize \(block \d+ was rewritten\).*retry/);
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
    await assert.rejects(() =>
      serializeToFile({ ...ctx, concurrency: 1 }, "t.db", out, {
        onProgress: (pr) => {
          if (pr.bytes === 4096 * 3) {
            put = b.client.put(b.bucket, blockKey("t.db", n - 1), changedLast);
          }
        },
      }), { name: "VfsError", message: /changed during serialize/ });
    await put;
    assert.deepStrictEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((x) => x.startsWith("torn-out")),
      [],
    );
  });
});

Deno.test("serialize: a torn read before the first chunk is retried from a fresh LIST; hot journal and gaps refused", async () => {
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
    const bytes = await Deno.readFile(makeDb(dir, "r.db", 4096, 500));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096 };
    await deserialize(ctx, "r.db", bytes);
    const newer = bytes.slice();
    newer[60] ^= 1;
    const admin = testClient(); // a client without the hook
    hook = async () => {
      await admin.put(b.bucket, blockKey("r.db", 0), newer.slice(0, 4096));
    };
    const { bytes: out } = await collect(serialize(ctx, "r.db"));
    assert.deepStrictEqual(hook, undefined, "the hook ran");
    assertBytes(out, newer, "retried serialize sees the new state");

    // maxRetries: 0 turns the same race into an error
    hook = async () => {
      await admin.put(b.bucket, blockKey("r.db", 0), bytes.slice(0, 4096));
    };
    await assert.rejects(() => collect(serialize(ctx, "r.db", { maxRetries: 0 })), {
      name: "VfsError",
      message: /changed during serialize/,
    });

    // hot journal: refused (after retries)
    const journal = new Uint8Array(512);
    journal.set([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), journal);
    await assert.rejects(() => collect(serialize(ctx, "r.db", { maxRetries: 1 })), {
      name: "VfsError",
      message: /hot journal/,
    });
    // journal zeroed (PERSIST mode after commit): fine; journalPrefix: null skips the check
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), new Uint8Array(512));
    assert.deepStrictEqual((await collect(serialize(ctx, "r.db"))).bytes.length, bytes.length);
    await b.client.put(b.bucket, blockKey("r.db-journal", 0), journal);
    assert.deepStrictEqual(
      (await collect(serialize(ctx, "r.db", { journalPrefix: null }))).bytes.length,
      bytes.length,
    );
    await b.client.delete(b.bucket, blockKey("r.db-journal", 0));

    // a gap in the middle is an error, never zeros
    await b.client.delete(b.bucket, blockKey("r.db", 3));
    await assert.rejects(() => collect(serialize(ctx, "r.db")), {
      name: "VfsError",
      message: /block 3 is missing/,
    });
    const out2 = `${dir}/gap.db`;
    await assert.rejects(() => serializeToFile(ctx, "r.db", out2), {
      name: "VfsError",
      message: /block 3 is missing/,
    });
    assert.deepStrictEqual(
      [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("gap")).length,
      0,
    );
    // a short block that is not the last is an error too
    await b.client.put(b.bucket, blockKey("r.db", 3), new Uint8Array(100));
    await assert.rejects(() => collect(serialize(ctx, "r.db")), {
      name: "VfsError",
      message: /block 3 holds 100 bytes/,
    });
  });
});

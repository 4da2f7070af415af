/**
 * serialize and deserialize on the commit log, against real MinIO: a
 * serialize is one snapshot (a commit or a deserialize landing while it
 * reads is never mixed in), a deserialize is one commit (a concurrent reader
 * sees all-old or all-new), "snapshot too old" restarts or errors clearly,
 * and a database without companion objects (Python's layout) is read at
 * txid 0, its layout checked.
 */

import assert from "node:assert/strict";
import { blockCount, blockKey } from "../src/blocks.ts";
import { VfsError } from "../src/errors.ts";
import { commit, newPutId, openForWrite, refresh, runAsync, S3LogStore } from "../src/log/mod.ts";
import type { S3Client } from "../src/s3/client.ts";
import { deserialize, serialize, serializeToFile } from "../src/streams/mod.ts";
import { FAST_TIMING, freshBucket, testClient } from "./_harness.ts";
import {
  assertBytes,
  baseBytes,
  checkpointSoon,
  collect,
  concat,
  makeDb,
  snapshotOf,
  withTempDir,
} from "./_streams.ts";

/** `base` with byte 200 of every 4096-byte block set to `k`: a version touching every block. */
function version(base: Uint8Array, k: number): Uint8Array {
  const v = base.slice();
  for (let o = 200; o < v.length; o += 4096) v[o] = k;
  return v;
}

/** Commits `bytes` (same size) as the next txid through the log's writer. */
async function commitAll(
  c: S3Client,
  bucket: string,
  prefix: string,
  bytes: Uint8Array,
): Promise<number> {
  const store = new S3LogStore(c, bucket);
  const st = await runAsync(openForWrite(prefix, { blockSize: 4096 }), store);
  await runAsync(refresh(st), store);
  const blocks = new Map<number, Uint8Array>();
  for (let i = 0; i < blockCount(bytes.length, 4096); i++) {
    blocks.set(i, bytes.slice(i * 4096, (i + 1) * 4096));
  }
  const out = await runAsync(
    commit(st, { putId: newPutId(), size: bytes.length, pageSize: 4096, blocks }),
    store,
  );
  assert.equal(out.kind, "committed");
  return out.txid;
}

Deno.test("serialize is one snapshot: a commit or a deserialize landing mid-read is never mixed in", async () => {
  await using b = await freshBucket("streams-snapshot");
  await withTempDir(async (dir) => {
    const v0 = await Deno.readFile(makeDb(dir, "s.db", 4096, 3000));
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, concurrency: 2 };
    await deserialize(ctx, "s.db", v0);
    // a commit through the log after the first chunk: the rest is still v0
    // Windows of 2 blocks: the read spans many windows, chunks of 2 blocks.
    const small = { windowBytes: 8192 };
    const reader = serialize(ctx, "s.db", small).getReader();
    const first = await reader.read();
    assert(!first.done);
    const v1 = version(v0, 1);
    assert.equal(await commitAll(b.client, b.bucket, "s.db", v1), 2);
    const rest = await collect(
      new ReadableStream({
        pull: async (c) => {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
      }),
    );
    const whole = new Uint8Array(first.value.length + rest.bytes.length);
    whole.set(first.value);
    whole.set(rest.bytes, first.value.length);
    assertBytes(whole, v0, "the snapshot the serialize began with");
    // a deserialize (overwrite) landing mid-read: the rest is still v1
    const reader2 = serialize(ctx, "s.db", small).getReader();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) parts.push((await reader2.read()).value!);
    const v2 = version(v0, 2);
    assert.equal((await deserialize(ctx, "s.db", v2, { overwrite: true })).txid, 3);
    for (let r = await reader2.read(); !r.done; r = await reader2.read()) parts.push(r.value);
    assertBytes(await concat(parts), v1, "v1 while v2 landed");
    assertBytes((await collect(serialize(ctx, "s.db"))).bytes, v2, "a new serialize sees v2");

    // many serializes racing a writer: each one is exactly one committed version
    const versions = new Map<number, Uint8Array>([[2, v2]]);
    let writing = true;
    const writer = (async () => {
      for (let k = 3; k <= 8; k++) {
        const v = version(v0, k);
        versions.set(k, v);
        if (k % 2) await commitAll(b.client, b.bucket, "s.db", v);
        else await deserialize(ctx, "s.db", v, { overwrite: true });
      }
      writing = false;
    })();
    const seen = new Set<number>();
    const readers = Array.from({ length: 3 }, async () => {
      while (writing) {
        const { bytes } = await collect(serialize({ ...ctx, concurrency: 8 }, "s.db"));
        const k = bytes[4096 + 200];
        assert(versions.has(k), `version ${k}`);
        assertBytes(bytes, versions.get(k)!, `serialize of version ${k}`);
        seen.add(k);
      }
    });
    await Promise.all([writer, ...readers]);
    assert(seen.size >= 2, `versions seen: ${[...seen]}`);
  });
});

Deno.test("deserialize is one commit: a concurrent reader sees all-old or all-new; the head moves by one", async () => {
  await using b = await freshBucket("streams-atomic");
  await withTempDir(async (dir) => {
    const old = await Deno.readFile(makeDb(dir, "o.db", 4096, 9000, 1000)); // > 2 staged chunks
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 65536 };
    await deserialize(ctx, "a.db", old);
    // smaller (the end moves), yet more than one staged chunk
    const fresh = await Deno.readFile(makeDb(dir, "n.db", 4096, 5000, 1000));
    assert(fresh.length > 4.5 * 1024 * 1024 && fresh.length < old.length);
    // a slow source: the reader polls while chunks are staged
    let pos = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(c): Promise<void> {
        if (pos >= fresh.length) return c.close();
        await new Promise((r) => setTimeout(r, 5));
        c.enqueue(fresh.slice(pos, pos + 65536));
        pos += 65536;
      },
    });
    let done = false;
    const writing = deserialize(ctx, "a.db", slow, { overwrite: true }).finally(() => done = true);
    const heads: number[] = [];
    while (!done) {
      const s = (await snapshotOf(b.client, b.bucket, "a.db"))!;
      heads.push(s.head);
      assertBytes(s.bytes, s.head === 1 ? old : fresh, `snapshot at txid ${s.head}`);
    }
    assert.equal((await writing).txid, 2);
    assert.equal(heads[0], 1, "the first read was before the commit");
    assert(heads.filter((h) => h === 1).length >= 2, `reads: ${heads}`);
    const after = (await snapshotOf(b.client, b.bucket, "a.db"))!;
    assert.equal(after.head, 2);
    assertBytes(after.bytes, fresh, "all-new after");
  });
});

Deno.test("serialize: 'snapshot too old' restarts from a fresh snapshot before the first chunk, else errors clearly", async () => {
  let hook: (() => Promise<void>) | undefined;
  let target = "";
  const hookedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    if (hook && req.method === "GET" && new URL(req.url).pathname.endsWith(target)) {
      const h = hook;
      hook = undefined;
      await h(); // a commit of that block is made and folded while this GET is on its way
    }
    return fetch(input, init);
  };
  await using b = await freshBucket("streams-too-old", { fetch: hookedFetch });
  await withTempDir(async (dir) => {
    const v0 = await Deno.readFile(makeDb(dir, "t.db", 4096, 300));
    const n = blockCount(v0.length, 4096);
    target = `/t.db/${String(n - 1).padStart(10, "0")}`;
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 4096, timing: FAST_TIMING };
    await deserialize(ctx, "t.db", v0);
    const admin = testClient(); // without the hook
    assert.equal((await checkpointSoon(admin, b.bucket, "t.db")).kind, "folded");
    const foldNewer = (k: number) => async (): Promise<void> => {
      await commitAll(admin, b.bucket, "t.db", version(v0, k));
      assert.equal((await checkpointSoon(admin, b.bucket, "t.db")).kind, "folded");
    };
    // nothing handed out yet (one window of every block): a fresh snapshot, the new version
    hook = foldNewer(1);
    const { bytes } = await collect(serialize({ ...ctx, concurrency: 64 }, "t.db"));
    assert.equal(hook, undefined, "the hook ran");
    assertBytes(bytes, version(v0, 1), "restarted on the newer snapshot");
    // maxRetries: 0: a clear error
    hook = foldNewer(2);
    await assert.rejects(() => collect(serialize(ctx, "t.db", { maxRetries: 0 })), {
      name: "VfsError",
      message: /changed during serialize \(snapshot too old: block \d+ now holds txid 3.*retry/,
    });
    // after a chunk was handed out: an error saying so, and no file from serializeToFile
    hook = foldNewer(3);
    const out = `${dir}/late.db`;
    await assert.rejects(
      () => serializeToFile({ ...ctx, concurrency: 1 }, "t.db", out, { windowBytes: 4096 }),
      {
        name: "VfsError",
        message: /snapshot too old.*bytes already read are not a consistent copy; retry/,
      },
    );
    assert.deepStrictEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("late")), []);
  });
});

Deno.test("serialize: a database without companion objects (Python's layout) is read at txid 0, gaps and short blocks refused; deserialize over it adopts it", async () => {
  await using b = await freshBucket("streams-plain");
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(makeDb(dir, "p.db", 4096, 500));
    const n = blockCount(bytes.length, 4096);
    for (let i = 0; i < n; i++) {
      await b.client.put(b.bucket, blockKey("p.db", i), bytes.slice(i * 4096, (i + 1) * 4096));
    }
    const ctx = { client: b.client, bucket: b.bucket, blockSize: 65536 };
    assertBytes((await collect(serialize(ctx, "p.db"))).bytes, bytes, "plain blocks");
    assert.equal((await snapshotOf(b.client, b.bucket, "p.db"))!.head, 0);
    // a gap in the middle is an error, never zeros; so is a short block that is not the last
    await b.client.delete(b.bucket, blockKey("p.db", 3));
    await assert.rejects(() => collect(serialize(ctx, "p.db")), (e: Error) => {
      assert(e instanceof VfsError);
      assert.match(e.message, /cannot serialize .*p\.db: .*not numbered 0\.\./);
      return true;
    });
    const out = `${dir}/gap.db`;
    await assert.rejects(() => serializeToFile(ctx, "p.db", out), { name: "VfsError" });
    assert.deepStrictEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("gap")), []);
    await b.client.put(b.bucket, blockKey("p.db", 3), new Uint8Array(100));
    await assert.rejects(() => collect(serialize(ctx, "p.db")), {
      name: "VfsError",
      message: /block 3 has 100 bytes, block size is 4096/,
    });
    // a bad name is a TypeError before any request
    assert.throws(() => serialize(ctx, "/abs.db"), TypeError);

    // deserialize over a Python-layout database adopts it and commits txid 1; after a
    // checkpoint its blocks are the new, smaller file (tombstones past the end)
    for (let i = 0; i < n; i++) {
      await b.client.put(b.bucket, blockKey("q.db", i), bytes.slice(i * 4096, (i + 1) * 4096));
    }
    const smaller = await Deno.readFile(makeDb(dir, "q.db", 4096, 50));
    const fast = { ...ctx, blockSize: 4096, timing: FAST_TIMING };
    await assert.rejects(() => deserialize(fast, "q.db", smaller), /already holds a database/);
    assert.equal((await deserialize(fast, "q.db", smaller, { overwrite: true })).txid, 1);
    const q = (await snapshotOf(b.client, b.bucket, "q.db"))!;
    assert.equal(q.head, 1);
    assertBytes(q.bytes, smaller, "committed over Python's blocks");
    assert.equal((await checkpointSoon(b.client, b.bucket, "q.db")).kind, "folded");
    assertBytes(await baseBytes(b.client, b.bucket, "q.db"), smaller, "Python's view after");
  });
});

/**
 * Unit tests of FileStore (src/vfs/store.ts) with a fake bridge call
 * (./_fake_bridge_test.ts): read-ahead on sequential reads and revalidation
 * of the cache with one conditional GET of block 0, asserting the exact
 * operations sent.
 */

import assert from "node:assert/strict";
import type { ReadCursor } from "./store.ts";
import { B, k, read, seq, setup } from "./_fake_bridge_test.ts";

Deno.test("FileStore.read() with a cursor prefetches after three forward misses, doubling the window", () => {
  const { s3, store, cache } = setup({ readAhead: { initial: 2, max: 8 } });
  s3.seed(seq(40 * B));
  store.known();
  s3.take();
  const cur: ReadCursor = { last: -1, run: 0 };
  for (let i = 0; i < 3; i++) read(store, i * B, B, cur);
  assert.deepEqual(s3.take(), [[["get 0"]], [["get 1"]], [["get 2"]]]);
  read(store, 3 * B, B, cur);
  assert.deepEqual(s3.take(), [[["get 3", "get 4", "get 5"]]], "window 2");
  read(store, 4 * B, B, cur);
  read(store, 5 * B, B, cur);
  assert.deepEqual(s3.take(), [], "prefetched blocks are hits");
  read(store, 6 * B, B, cur);
  assert.deepEqual(s3.take(), [[["get 6", "get 7", "get 8", "get 9", "get 10"]]], "window 4");
  assert.equal(cur.window, 4);
  for (let i = 7; i <= 11; i++) read(store, i * B, B, cur);
  assert.deepEqual(s3.take(), [[seq(9, 11).map((i) => `get ${i}`)]], "window capped at 8");
  assert.equal(cache.counters.prefetchUsed, 6);
});

Deno.test("FileStore.read() with a cursor does not prefetch for a backward or far jump", () => {
  const { s3, store } = setup();
  s3.seed(seq(40 * B));
  store.known();
  s3.take();
  const cur: ReadCursor = { last: -1, run: 0 };
  for (const i of [10, 11, 12, 5, 6, 7, 30]) read(store, i * B, B, cur);
  assert.deepEqual(s3.take().flat(2), [10, 11, 12, 5, 6, 7, 30].map((i) => `get ${i}`));
  assert.equal(cur.run, 0);
  assert.equal(cur.last, 30);
});

Deno.test("FileStore.read() never prefetches with readAhead null, a tiny cache or past EOF", () => {
  for (const [opts, blocks] of [[{ readAhead: null }, 10], [{ budget: 4 * B - 1 }, 10]] as const) {
    const { s3, store } = setup(opts);
    s3.seed(seq(blocks * B));
    store.known();
    s3.take();
    const cur: ReadCursor = { last: -1, run: 0 };
    for (let i = 0; i < 6; i++) read(store, i * B, B, cur);
    assert.deepEqual(s3.take().flat(2), seq(6).map((i) => `get ${i}`), JSON.stringify(opts));
  }
  const { s3, store } = setup({ readAhead: { initial: 8, max: 8 } });
  s3.seed(seq(5 * B));
  const cur: ReadCursor = { last: -1, run: 0 };
  for (let i = 0; i < 4; i++) read(store, i * B, B, cur);
  assert.deepEqual(s3.take().at(-1), [["get 3", "get 4"]], "the window stops at the last block");
});

Deno.test("FileStore.revalidate() right after the LIST sends nothing; later one conditional GET (304)", () => {
  const { s3, store } = setup();
  s3.seed(seq(8, 1));
  read(store, 0, 8);
  s3.take();
  store.revalidate();
  assert.deepEqual(s3.take(), [], "the size was just listed");
  store.revalidate();
  const etag = s3.objects.get(k(0))!.etag;
  assert.deepEqual(s3.take(), [[[`get 0 if-none-match ${etag}`]]]);
  read(store, 0, 8);
  assert.deepEqual(s3.take(), [], "304 keeps the cache");
});

Deno.test("FileStore.revalidate() on a changed block 0 drops the file's cache and re-lists", () => {
  const { s3, store } = setup();
  s3.seed(seq(8, 1));
  read(store, 0, 8);
  store.revalidate(); // consumes the fresh LIST
  s3.seed([9, 9, 9, 9, 8, 8, 8, 8, 7]); // another writer committed
  s3.take();
  store.revalidate();
  const old = s3.take();
  assert.equal(old.length, 2);
  assert.match(old[0][0][0], /^get 0 if-none-match "s\d+"$/);
  assert.deepEqual(old[1], [["stat db"]]);
  assert.equal(store.size, 9);
  assert.equal(store.block0Etag, s3.objects.get(k(0))!.etag);
  assert.deepEqual(read(store, 0, 9), [9, [9, 9, 9, 9, 8, 8, 8, 8, 7]]);
  assert.deepEqual(s3.take(), [[["get 1", "get 2"]]], "block 0 came with the 200");
});

Deno.test("FileStore.revalidate() when block 0 vanished forgets its ETag and re-lists", () => {
  const { s3, store } = setup();
  s3.seed(seq(8, 1));
  read(store, 0, 4);
  store.revalidate();
  s3.objects.clear();
  s3.take();
  store.revalidate();
  assert.equal(s3.take()[1][0][0], "stat db");
  assert.equal(store.size, 0);
  assert.equal(store.block0Etag, undefined);
});

Deno.test("FileStore.revalidate() of an empty file GETs block 0 plainly; a new database re-lists", () => {
  const { s3, store } = setup();
  store.known();
  store.revalidate();
  s3.take();
  store.revalidate();
  assert.deepEqual(s3.take(), [[["get 0"]]], "still absent: nothing more");
  s3.seed(seq(6, 1));
  store.revalidate();
  assert.deepEqual(s3.take(), [[["get 0"]], [["stat db"]]]);
  assert.equal(store.size, 6);
  assert.deepEqual(read(store, 0, 4), [4, [1, 2, 3, 4]]);
  assert.deepEqual(s3.take(), [], "block 0 cached from the revalidating GET");
});

Deno.test("FileStore.revalidate() sends nothing with dirty blocks or an unknown size", () => {
  const { s3, store } = setup();
  store.revalidate();
  assert.deepEqual(s3.take(), []);
  store.assumeAbsent();
  store.write(new Uint8Array([1]), 0);
  store.revalidate();
  assert.deepEqual(s3.take(), []);
});

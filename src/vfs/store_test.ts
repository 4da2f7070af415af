/**
 * Unit tests of FileStore (src/vfs/store.ts) driven by a fake bridge call
 * (./_fake_bridge_test.ts): size tracking, reads, buffered writes, flush
 * order and truncation. Every test asserts the exact operations the store
 * sends, phase by phase, since request counts are what this project is about.
 */

import assert from "node:assert/strict";
import { S3Error } from "../errors.ts";
import { k, read, seq, setup } from "./_fake_bridge_test.ts";

Deno.test("FileStore.known() sends one stat, then remembers size and remote end", () => {
  const { s3, store } = setup();
  s3.seed(seq(10, 100));
  assert.equal(store.known(), 10);
  assert.equal(store.known(), 10);
  assert.equal(store.exists(), true);
  assert.equal(store.remoteEnd, 3);
  assert.deepEqual(s3.take(), [[["stat db"]]]);
});

Deno.test("FileStore.exists() is false for an empty prefix; assumeAbsent() sends nothing", () => {
  const { s3, store } = setup();
  assert.equal(store.exists(), false);
  assert.deepEqual(s3.take(), [[["stat db"]]]);
  const other = setup();
  other.store.assumeAbsent();
  assert.equal(other.store.exists(), false);
  assert.deepEqual(other.s3.take(), []);
});

Deno.test("FileStore.read() across a block boundary GETs both blocks in one phase, then hits the cache", () => {
  const { s3, store, cache } = setup();
  s3.seed(seq(10, 100));
  store.known();
  s3.take();
  assert.deepEqual(read(store, 2, 4), [4, [102, 103, 104, 105]]);
  assert.deepEqual(s3.take(), [[["get 0", "get 1"]]]);
  assert.deepEqual(read(store, 3, 6), [6, [103, 104, 105, 106, 107, 108]]);
  assert.deepEqual(s3.take(), [[["get 2"]]], "only the block not cached yet");
  assert.deepEqual(read(store, 0, 10), [10, seq(10, 100)]);
  assert.deepEqual(s3.take(), []);
  assert.equal(cache.counters.misses, 3);
  assert.equal(store.block0Etag, s3.objects.get(k(0))!.etag);
});

Deno.test("FileStore.read() past EOF returns the bytes that exist and zero-fills the rest", () => {
  const { s3, store } = setup();
  s3.seed(seq(10, 100));
  assert.deepEqual(read(store, 6, 8), [4, [106, 107, 108, 109, 0, 0, 0, 0]]);
  assert.deepEqual(s3.take(), [[["stat db"]], [["get 1", "get 2"]]]);
  assert.deepEqual(read(store, 10, 3), [0, [0, 0, 0]]);
  assert.deepEqual(read(store, 50, 2), [0, [0, 0]]);
  assert.deepEqual(s3.take(), [], "nothing past the end is fetched");
});

Deno.test("FileStore.read() of a block missing in S3 reads zeros", () => {
  const { s3, store } = setup();
  s3.seed(seq(8, 1));
  store.known();
  s3.objects.delete(k(1));
  assert.deepEqual(read(store, 2, 4), [4, [3, 4, 0, 0]]);
});

Deno.test("FileStore.read() failure throws the S3Error of the failed GET", () => {
  const { s3, store } = setup();
  s3.seed(seq(8));
  store.known();
  s3.failing.add(k(1));
  assert.throws(() => store.read(new Uint8Array(8), 0), (e: unknown) => {
    assert.ok(e instanceof S3Error);
    assert.equal(e.code, "SlowDown");
    assert.equal(e.status, 503);
    return true;
  });
});

Deno.test("FileStore.write() buffers: no PUT until flush(), reads see the dirty bytes", () => {
  const { s3, store } = setup();
  store.assumeAbsent();
  store.write(new Uint8Array(seq(6, 1)), 0);
  assert.deepEqual(s3.take(), []);
  assert.equal(store.size, 6);
  assert.deepEqual([...store.dirty.keys()].sort(), [0, 1]);
  assert.deepEqual(read(store, 0, 8), [6, [1, 2, 3, 4, 5, 6, 0, 0]]);
  assert.deepEqual(s3.take(), []);
});

Deno.test("FileStore.write() GETs only partly overwritten existing blocks", () => {
  const { s3, store } = setup();
  s3.seed(seq(12, 10));
  store.known();
  s3.take();
  store.write(new Uint8Array([1, 2, 3, 4, 5, 6]), 2); // block 0 partly, block 1 wholly
  assert.deepEqual(s3.take(), [[["get 0"]]]);
  store.write(new Uint8Array([9]), 9); // block 2 partly
  assert.deepEqual(s3.take(), [[["get 2"]]]);
  store.write(new Uint8Array([7]), 3); // block 0 already dirty
  assert.deepEqual(s3.take(), []);
  assert.deepEqual(read(store, 0, 12), [12, [10, 11, 1, 7, 3, 4, 5, 6, 18, 9, 20, 21]]);
});

Deno.test("FileStore.write() past the end zero-fills the gap and extends the last block", () => {
  const { s3, store } = setup();
  s3.seed([1, 2, 3, 4, 5, 6]); // block 1 is short: [5, 6]
  store.known();
  s3.take();
  store.write(new Uint8Array([9, 9]), 13);
  assert.deepEqual(s3.take(), [[["get 1"]]], "the short last block is read to keep its bytes");
  assert.equal(store.size, 15);
  assert.deepEqual([...store.dirty.keys()].sort(), [1, 2, 3]);
  assert.deepEqual(read(store, 0, 16), [15, [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 9, 9, 0]]);
});

Deno.test("FileStore.flush() PUTs every dirty block but 0 in one phase, then block 0 alone", () => {
  const { s3, store } = setup();
  store.assumeAbsent();
  store.write(new Uint8Array(seq(14, 1)), 0);
  store.flush();
  assert.deepEqual(s3.take(), [[
    ["put 1 [5,6,7,8]", "put 2 [9,10,11,12]", "put 3 [13,14]"],
    ["put 0 [1,2,3,4]"],
  ]]);
  assert.equal(store.dirty.size, 0);
  assert.equal(store.remoteEnd, 4);
  assert.equal(store.block0Etag, s3.objects.get(k(0))!.etag);
  assert.deepEqual(read(store, 0, 14), [14, seq(14, 1)], "flushed blocks stay cached");
  store.flush();
  assert.deepEqual(s3.take(), [], "nothing dirty: no request");
});

Deno.test("FileStore.flush() with only block 0 dirty is one phase", () => {
  const { s3, store } = setup();
  s3.seed(seq(8));
  store.write(new Uint8Array([7, 7, 7, 7]), 0);
  store.flush();
  assert.deepEqual(s3.take(), [[["stat db"]], [["put 0 [7,7,7,7]"]]]);
});

Deno.test("FileStore.flush(true) writes early but keeps block 0 dirty for the commit", () => {
  const { s3, store } = setup();
  store.assumeAbsent();
  store.write(new Uint8Array(seq(9, 1)), 0);
  store.flush(true);
  assert.deepEqual(s3.take(), [[["put 1 [5,6,7,8]", "put 2 [9]"]]]);
  assert.deepEqual([...store.dirty.keys()], [0]);
  store.flush(true);
  assert.deepEqual(s3.take(), [], "block 0 alone is not written early");
  store.flush();
  assert.deepEqual(s3.take(), [[["put 0 [1,2,3,4]"]]]);
});

Deno.test("FileStore.flush() failure skips block 0 and keeps every block dirty", () => {
  const { s3, store } = setup();
  store.assumeAbsent();
  store.write(new Uint8Array(seq(12, 1)), 0);
  s3.failing.add(k(2));
  assert.throws(() => store.flush(), S3Error);
  assert.equal(s3.objects.has(k(0)), false, "block 0 never written after a failure");
  assert.deepEqual([...store.dirty.keys()].sort(), [0, 1, 2]);
  s3.take();
  store.flush();
  assert.deepEqual(s3.take(), [[
    ["put 1 [5,6,7,8]", "put 2 [9,10,11,12]"],
    ["put 0 [1,2,3,4]"],
  ]]);
});

Deno.test("FileStore.truncate() inside a block rewrites it shortened and deletes blocks past it", () => {
  const { s3, store } = setup();
  s3.seed(seq(14, 1)); // blocks 0..3
  store.known();
  s3.take();
  store.truncate(6);
  assert.deepEqual(s3.take(), [[["get 1"]], [["deleteMany 2,3"]]]);
  assert.equal(store.size, 6);
  assert.equal(store.remoteEnd, 2);
  store.flush();
  assert.deepEqual(s3.take(), [[["put 1 [5,6]"]]]);
  assert.deepEqual(read(store, 0, 8), [6, [1, 2, 3, 4, 5, 6, 0, 0]]);
});

Deno.test("FileStore.truncate() on a block boundary fetches nothing and drops dirty blocks past it", () => {
  const { s3, store } = setup();
  s3.seed(seq(12, 1));
  store.known();
  store.write(new Uint8Array([0, 0]), 10);
  s3.take();
  store.truncate(8);
  assert.deepEqual(s3.take(), [[["deleteMany 2"]]]);
  assert.deepEqual([...store.dirty.keys()], []);
});

Deno.test("FileStore.truncate(0) deletes block 0 alone first, then the rest", () => {
  const { s3, store, cache } = setup();
  s3.seed(seq(12, 1));
  read(store, 0, 12);
  s3.take();
  store.truncate(0);
  assert.deepEqual(s3.take(), [[["delete 0"], ["deleteMany 1,2"]]]);
  assert.equal(store.block0Etag, undefined);
  assert.equal(store.remoteEnd, 0);
  assert.equal(cache.peek(store.id, 0), undefined);
  assert.equal(s3.objects.size, 0);
  store.deleteAll();
  assert.deepEqual(s3.take(), [], "already empty: nothing to delete");
});

Deno.test("FileStore.deleteAll() of a one-block file is a single DELETE", () => {
  const { s3, store } = setup();
  s3.seed([1, 2]);
  store.deleteAll();
  assert.deepEqual(s3.take(), [[["stat db"]], [["delete 0"]]]);
});

Deno.test("FileStore.truncate() to a larger size zero-extends through buffered writes", () => {
  const { s3, store } = setup();
  s3.seed([1, 2, 3, 4, 5]);
  store.known();
  s3.take();
  store.truncate(9);
  assert.deepEqual(s3.take(), [[["get 1"]]]);
  assert.equal(store.size, 9);
  store.flush();
  assert.deepEqual(s3.take(), [[["put 1 [5,0,0,0]", "put 2 [0]"]]]);
});

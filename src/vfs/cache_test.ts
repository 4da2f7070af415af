/**
 * Unit tests of the byte-budgeted LRU block cache (src/vfs/cache.ts):
 * counters, eviction order, budget 0, per-file invalidation, the
 * prefetched-block accounting and ETags kept with entries.
 */

import assert from "node:assert/strict";
import { BlockCache, type CacheEntry } from "./cache.ts";

/** An entry of `n` bytes filled with `fill`. */
const entry = (n: number, fill = 1, etag = "e", prefetched = false): CacheEntry => ({
  data: new Uint8Array(n).fill(fill),
  etag,
  prefetched,
});

/** Which of `indexes` of `file` are cached (peek: no counting, no reordering). */
const present = (c: BlockCache, file: number, indexes: number[]): number[] =>
  indexes.filter((i) => c.peek(file, i) !== undefined);

Deno.test("BlockCache constructor rejects a negative or NaN budget", () => {
  assert.throws(() => new BlockCache(-1), RangeError);
  assert.throws(() => new BlockCache(NaN), RangeError);
  assert.equal(new BlockCache(0).budget, 0);
});

Deno.test("BlockCache.get() counts a miss, then a hit after set(), and returns the entry", () => {
  const c = new BlockCache(100);
  assert.equal(c.get(1, 0), undefined);
  const e = entry(10, 7, "etag-0");
  c.set(1, 0, e);
  const got = c.get(1, 0);
  assert.equal(got, e);
  assert.equal(got?.etag, "etag-0");
  assert.equal(c.bytes, 10);
  assert.deepEqual(
    { hits: c.counters.hits, misses: c.counters.misses, evictions: c.counters.evictions },
    { hits: 1, misses: 1, evictions: 0 },
  );
});

Deno.test("BlockCache keys blocks by (file, index): other files and indexes miss", () => {
  const c = new BlockCache(100);
  c.set(1, 2, entry(4));
  assert.equal(c.get(2, 2), undefined);
  assert.equal(c.get(1, 3), undefined);
  assert.equal(c.get(12, 0), undefined, "no collision between file 1 / index 2x and file 12");
  assert.equal(c.counters.misses, 3);
});

Deno.test("BlockCache.peek() neither counts nor marks the block recently used", () => {
  const c = new BlockCache(20);
  c.set(1, 0, entry(10));
  c.set(1, 1, entry(10));
  assert.ok(c.peek(1, 0));
  assert.equal(c.peek(1, 9), undefined);
  assert.equal(c.counters.hits + c.counters.misses, 0);
  c.set(1, 2, entry(10)); // evicts the least recently used: still block 0
  assert.deepEqual(present(c, 1, [0, 1, 2]), [1, 2]);
});

Deno.test("BlockCache.set() evicts least recently used blocks over the byte budget", () => {
  const c = new BlockCache(30);
  c.set(1, 0, entry(10));
  c.set(1, 1, entry(10));
  c.set(1, 2, entry(10));
  assert.equal(c.bytes, 30);
  c.get(1, 0); // 0 becomes most recent: order 1, 2, 0
  c.set(1, 3, entry(10));
  assert.deepEqual(present(c, 1, [0, 1, 2, 3]), [0, 2, 3]);
  c.set(1, 4, entry(20)); // needs two evictions: 2 then 0
  assert.deepEqual(present(c, 1, [0, 1, 2, 3, 4]), [3, 4]);
  assert.equal(c.counters.evictions, 3);
  assert.equal(c.bytes, 30);
});

Deno.test("BlockCache.set() of a block larger than the budget evicts everything, itself included", () => {
  const c = new BlockCache(10);
  c.set(1, 0, entry(5));
  c.set(1, 1, entry(11));
  assert.deepEqual(present(c, 1, [0, 1]), []);
  assert.equal(c.bytes, 0);
  assert.equal(c.counters.evictions, 2);
});

Deno.test("BlockCache.set() replaces an entry in place: bytes not double-counted, no eviction", () => {
  const c = new BlockCache(20);
  c.set(1, 0, entry(10, 1, "old"));
  c.set(1, 1, entry(10));
  c.set(1, 0, entry(10, 2, "new")); // replacing also makes it most recent
  assert.equal(c.bytes, 20);
  assert.equal(c.counters.evictions, 0);
  assert.equal(c.peek(1, 0)?.etag, "new");
  assert.equal(c.peek(1, 0)?.data[0], 2);
  c.set(1, 2, entry(10));
  assert.deepEqual(present(c, 1, [0, 1, 2]), [0, 2]);
});

Deno.test("BlockCache with budget 0 stores nothing and counts every lookup a miss", () => {
  const c = new BlockCache(0);
  c.set(1, 0, entry(1));
  assert.equal(c.peek(1, 0), undefined);
  assert.equal(c.get(1, 0), undefined);
  assert.equal(c.bytes, 0);
  assert.deepEqual(
    { misses: c.counters.misses, evictions: c.counters.evictions },
    { misses: 1, evictions: 0 },
  );
});

Deno.test("BlockCache.delete() drops one block and its bytes", () => {
  const c = new BlockCache(100);
  c.set(1, 0, entry(10));
  c.set(1, 1, entry(15));
  c.delete(1, 1);
  c.delete(1, 7); // absent: no-op
  assert.deepEqual(present(c, 1, [0, 1]), [0]);
  assert.equal(c.bytes, 10);
  assert.equal(c.counters.evictions, 0, "a delete is not an eviction");
});

Deno.test("BlockCache.invalidate() drops a file's blocks from an index on, other files untouched", () => {
  const c = new BlockCache(1000);
  for (let i = 0; i < 5; i++) c.set(1, i, entry(10));
  c.set(2, 3, entry(10));
  c.invalidate(1, 2);
  assert.deepEqual(present(c, 1, [0, 1, 2, 3, 4]), [0, 1]);
  assert.ok(c.peek(2, 3));
  assert.equal(c.bytes, 30);
  c.invalidate(1);
  assert.deepEqual(present(c, 1, [0, 1]), []);
  assert.equal(c.bytes, 10);
  c.invalidate(99); // unknown file: no-op
  assert.equal(c.bytes, 10);
});

Deno.test("BlockCache.invalidate() forgets evicted blocks too (no stale per-file index)", () => {
  const c = new BlockCache(10);
  c.set(1, 0, entry(10));
  c.set(1, 1, entry(10)); // evicts block 0
  c.invalidate(1);
  assert.equal(c.bytes, 0);
  c.set(1, 0, entry(10));
  assert.equal(c.bytes, 10);
});

Deno.test("BlockCache counts a prefetched block used on its first get() only", () => {
  const c = new BlockCache(100);
  c.set(1, 5, entry(10, 1, "e", true));
  assert.equal(c.counters.prefetchPending, 1);
  c.get(1, 5);
  c.get(1, 5);
  assert.equal(c.peek(1, 5)?.prefetched, false);
  assert.deepEqual(
    [c.counters.prefetchUsed, c.counters.prefetchPending, c.counters.prefetchWasted],
    [1, 0, 0],
  );
});

Deno.test("BlockCache counts a prefetched block wasted when evicted, deleted or invalidated unread", () => {
  const c = new BlockCache(20);
  c.set(1, 0, entry(10, 1, "e", true));
  c.set(1, 1, entry(10, 1, "e", true));
  c.set(1, 2, entry(10)); // evicts 0
  c.delete(1, 1);
  c.set(2, 0, entry(10, 1, "e", true)); // fits beside block 2
  c.invalidate(2);
  assert.deepEqual(
    [c.counters.prefetchWasted, c.counters.prefetchPending, c.counters.prefetchUsed],
    [3, 0, 0],
  );
  assert.equal(c.counters.evictions, 1);
});

Deno.test("BlockCache.set() over an unread prefetched block counts it wasted", () => {
  const c = new BlockCache(100);
  c.set(1, 0, entry(10, 1, "e", true));
  c.set(1, 0, entry(10, 2, "e2", false)); // e.g. the block was written
  assert.deepEqual([c.counters.prefetchWasted, c.counters.prefetchPending], [1, 0]);
});

Deno.test("BlockCache.resetCounters() zeroes event counts but keeps prefetchPending", () => {
  const c = new BlockCache(10);
  c.get(1, 0);
  c.set(1, 0, entry(10, 1, "e", true));
  c.set(1, 1, entry(10, 1, "e", true)); // evicts 0: wasted
  c.get(1, 1);
  c.set(1, 2, entry(10, 1, "e", true)); // evicts 1 (used, not wasted)
  assert.equal(c.counters.prefetchPending, 1);
  c.resetCounters();
  assert.deepEqual(c.counters, {
    hits: 0,
    misses: 0,
    prefetchUsed: 0,
    prefetchWasted: 0,
    prefetchPending: 1,
    evictions: 0,
  });
  c.get(1, 2);
  assert.deepEqual([c.counters.prefetchUsed, c.counters.prefetchPending], [1, 0]);
});

Deno.test("BlockCache.bytes counts the entries' data lengths, short last blocks included", () => {
  const c = new BlockCache(4096 * 3);
  c.set(1, 0, entry(4096));
  c.set(1, 1, entry(123));
  c.set(1, 2, entry(0));
  assert.equal(c.bytes, 4096 + 123);
  assert.ok(c.get(1, 2), "an empty block is cached (a hole read as absent)");
});

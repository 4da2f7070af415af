import assert from "node:assert/strict";
import { buildTransaction, shrunkSize, unchanged } from "./transaction.ts";

/** A page-1 header: page size, page count, change counter and version-valid-for. */
function header(pageSize: number, pages: number, counter = 7, validFor = 7): Uint8Array {
  const b = new Uint8Array(100);
  const v = new DataView(b.buffer);
  v.setUint16(16, pageSize === 65536 ? 1 : pageSize);
  v.setUint32(24, counter);
  v.setUint32(28, pages);
  v.setUint32(92, validFor);
  return b;
}

Deno.test("shrunkSize() is the header's size only when valid and smaller", () => {
  assert.equal(shrunkSize(header(4096, 2), 4096 * 5), 8192);
  assert.equal(shrunkSize(header(65536, 1), 65536 * 3), 65536, "page size 1 means 65536");
  assert.equal(shrunkSize(header(4096, 2, 7, 6), 4096 * 5), undefined, "stale header");
  assert.equal(shrunkSize(header(4096, 5), 4096 * 5), undefined, "not smaller");
  assert.equal(shrunkSize(header(4096, 0), 4096 * 5), undefined, "no page count");
  assert.equal(shrunkSize(new Uint8Array(50), 4096), undefined, "short page 1");
  assert.equal(shrunkSize(undefined, 4096), undefined);
});

Deno.test("unchanged() compares dirty blocks with the snapshot at the same size", () => {
  const base = [new Uint8Array([1, 2, 3, 4]), new Uint8Array([5, 6])];
  const read = (i: number): Uint8Array => base[i];
  assert.equal(unchanged(new Map([[1, new Uint8Array([5, 6, 9, 9])]]), 6, 6, 4, read), true);
  assert.equal(unchanged(new Map([[1, new Uint8Array([5, 7, 0, 0])]]), 6, 6, 4, read), false);
  assert.equal(unchanged(new Map(), 6, 8, 4, read), false, "size differs");
});

Deno.test("buildTransaction() cuts dirty blocks and adds blocks whose length changes", () => {
  // Snapshot of 10 bytes in blocks of 4: [0..4) [4..8) [8..10). Grow to 14: block 2 grows, 3 is new.
  const snap = new Uint8Array(10).map((_, k) => k + 1);
  const read = (i: number): Uint8Array => snap.slice(i * 4, Math.min(10, i * 4 + 4));
  const dirty = new Map([[0, new Uint8Array([9, 9, 9, 9])], [3, new Uint8Array([8, 8, 8, 8])]]);
  const grown = buildTransaction(dirty, 10, 14, 4, read, () => false);
  assert.deepEqual([...grown.blocks.keys()].sort(), [0, 2, 3]);
  assert.deepEqual(grown.blocks.get(2), new Uint8Array([9, 10, 0, 0]));
  assert.deepEqual(grown.blocks.get(3), new Uint8Array([8, 8]), "cut to the new size");
  assert.equal(grown.size, 14);
  // Shrink to 6: block 1 becomes 2 bytes; blocks past the end are not sent.
  const shrunk = buildTransaction(new Map([[2, new Uint8Array(4)]]), 10, 6, 4, read, () => false);
  assert.deepEqual([...shrunk.blocks.entries()], [[1, new Uint8Array([5, 6])]]);
  // A staged (spilled) block is not sent again.
  const staged = buildTransaction(new Map(), 10, 14, 4, read, (i) => i === 2);
  assert.deepEqual([...staged.blocks.keys()], [3]);
  assert.notEqual(grown.putId, shrunk.putId, "a fresh putId each time");
});

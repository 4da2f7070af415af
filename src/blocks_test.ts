/**
 * Unit tests of the block layout (src/blocks.ts): keys and the block math.
 */

import assert from "node:assert/strict";
import {
  bareEtag,
  blockCount,
  blockIndexOf,
  blockKey,
  blockLength,
  blockSpans,
  checkBlockSize,
  DEFAULT_BLOCK_SIZE,
} from "./blocks.ts";

Deno.test("DEFAULT_BLOCK_SIZE is 4096, as in sqlite-s3vfs", () => {
  assert.equal(DEFAULT_BLOCK_SIZE, 4096);
});

Deno.test("blockKey() pads the index to 10 digits under the prefix", () => {
  assert.equal(blockKey("db", 0), "db/0000000000");
  assert.equal(blockKey("a/b/c.sqlite", 42), "a/b/c.sqlite/0000000042");
  assert.equal(blockKey("p", 9_999_999_999), "p/9999999999");
  // Lexicographic order of keys is block order.
  const keys = [10, 9, 100, 2].map((i) => blockKey("p", i));
  assert.deepEqual([...keys].sort(), [2, 9, 10, 100].map((i) => blockKey("p", i)));
});

Deno.test("blockKey() rejects negative, fractional, NaN and 11-digit indexes", () => {
  for (const bad of [-1, 1.5, NaN, 10_000_000_000, Infinity]) {
    assert.throws(() => blockKey("p", bad), RangeError, String(bad));
  }
});

Deno.test("blockIndexOf() inverts blockKey() for keys directly under the prefix", () => {
  for (const i of [0, 1, 4095, 9_999_999_999]) {
    assert.equal(blockIndexOf("my/db", blockKey("my/db", i)), i);
  }
});

Deno.test("blockIndexOf() ignores other prefixes, nested keys and non-10-digit names", () => {
  const cases = [
    "my/db-journal/0000000000", // a sibling prefix sharing the start
    "my/dbx/0000000000",
    "my/db/0000000000/x", // nested
    "my/db/000000001", // 9 digits
    "my/db/00000000001", // 11 digits
    "my/db/00000000a1",
    "my/db/",
    "my/db",
    "other/0000000000",
  ];
  for (const k of cases) assert.equal(blockIndexOf("my/db", k), undefined, k);
});

Deno.test("blockCount() rounds the size up to whole blocks", () => {
  assert.equal(blockCount(0, 4096), 0);
  assert.equal(blockCount(1, 4096), 1);
  assert.equal(blockCount(4096, 4096), 1);
  assert.equal(blockCount(4097, 4096), 2);
  assert.equal(blockCount(10, 3), 4);
});

Deno.test("blockLength() is blockSize except for the last block, 0 past the end", () => {
  assert.equal(blockLength(0, 10_000, 4096), 4096);
  assert.equal(blockLength(1, 10_000, 4096), 4096);
  assert.equal(blockLength(2, 10_000, 4096), 10_000 - 8192);
  assert.equal(blockLength(3, 10_000, 4096), 0);
  assert.equal(blockLength(1, 8192, 4096), 4096, "an exact multiple ends on a full block");
  assert.equal(blockLength(0, 0, 4096), 0);
});

Deno.test("blockSpans() of a range inside one block is a single span", () => {
  assert.deepEqual(blockSpans(100, 50, 4096), [
    { index: 0, inBlock: 100, inBuffer: 0, length: 50 },
  ]);
  assert.deepEqual(blockSpans(4096, 4096, 4096), [
    { index: 1, inBlock: 0, inBuffer: 0, length: 4096 },
  ]);
});

Deno.test("blockSpans() splits a range across block boundaries, in order", () => {
  assert.deepEqual(blockSpans(5, 20, 8), [
    { index: 0, inBlock: 5, inBuffer: 0, length: 3 },
    { index: 1, inBlock: 0, inBuffer: 3, length: 8 },
    { index: 2, inBlock: 0, inBuffer: 11, length: 8 },
    { index: 3, inBlock: 0, inBuffer: 19, length: 1 },
  ]);
});

Deno.test("blockSpans() pieces cover the range exactly (pseudo-random ranges)", () => {
  let state = 12345;
  const rand = (n: number): number => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
  for (let n = 0; n < 200; n++) {
    const bs = 1 + rand(64);
    const offset = rand(500);
    const length = rand(300);
    const spans = blockSpans(offset, length, bs);
    let at = 0;
    for (const s of spans) {
      assert.equal(s.inBuffer, at);
      assert.equal(s.index * bs + s.inBlock, offset + at);
      assert.ok(s.length > 0 && s.inBlock + s.length <= bs);
      at += s.length;
    }
    assert.equal(at, length);
  }
});

Deno.test("blockSpans() of an empty range is empty; a non-positive block size throws", () => {
  assert.deepEqual(blockSpans(123, 0, 4096), []);
  assert.throws(() => blockSpans(0, 10, 0), RangeError);
  assert.throws(() => blockSpans(0, 10, -4), RangeError);
  assert.throws(() => blockSpans(0, 10, NaN), RangeError);
});

Deno.test("checkBlockSize() accepts integers 1..64 MiB and returns them", () => {
  for (const ok of [1, 512, 4096, 65536, 64 * 1024 * 1024]) assert.equal(checkBlockSize(ok), ok);
});

Deno.test("checkBlockSize() rejects 0, negatives, fractions, NaN and over 64 MiB", () => {
  for (const bad of [0, -4096, 4096.5, NaN, 64 * 1024 * 1024 + 1]) {
    assert.throws(() => checkBlockSize(bad), /blockSize must be an integer/, String(bad));
  }
});

Deno.test("bareEtag() strips the weak prefix and the quotes", () => {
  assert.equal(bareEtag('"abc123"'), "abc123");
  assert.equal(bareEtag('W/"abc123"'), "abc123");
  assert.equal(bareEtag("abc123"), "abc123");
  assert.equal(
    bareEtag('"d41d8cd98f00b204e9800998ecf8427e-2"'),
    "d41d8cd98f00b204e9800998ecf8427e-2",
  );
  assert.equal(bareEtag(""), "");
});

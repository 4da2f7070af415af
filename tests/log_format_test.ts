/**
 * Unit tests of the commit-log protocol's pure parts: keys, checksums, object
 * formats and the time rules (src/log/).
 *
 * @module
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { crc32 } from "../src/log/crc32.ts";
import { LogCorruptError } from "../src/log/errors.ts";
import {
  type CommitIndex,
  commitIndexEnd,
  commitMeta,
  decodeCheckpoint,
  decodeCommitIndex,
  decodeConfig,
  encodeCheckpoint,
  encodeCommit,
  encodeConfig,
  stampFromMeta,
} from "../src/log/format.ts";
import {
  checkpointKey,
  configKey,
  logKey,
  parseStageKey,
  stageKey,
  txidOfLogKey,
} from "../src/log/keys.ts";
import {
  checkTiming,
  commitEffective,
  DEFAULT_TIMING,
  foldable,
  freshEnough,
  retentionExpired,
  surelyInTime,
} from "../src/log/rules.ts";

const enc = new TextEncoder();

Deno.test("crc32: the standard check value", () => {
  equal(crc32(enc.encode("123456789")), 0xcbf43926);
  equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("keys: companion objects live under <prefix>.s3vfs/ with sortable padded numbers", () => {
  equal(configKey("a/b.db"), "a/b.db.s3vfs/config");
  equal(checkpointKey("a/b.db"), "a/b.db.s3vfs/checkpoint");
  equal(logKey("a/b.db", 42), "a/b.db.s3vfs/log/00000000000000000042");
  equal(txidOfLogKey("a/b.db", logKey("a/b.db", 42)), 42);
  equal(txidOfLogKey("a/b.db", "a/b.db.s3vfs/log/42"), undefined);
  ok(logKey("d", 9) < logKey("d", 10));
  const k = stageKey("d", 7, "abc123", 3);
  equal(k, "d.s3vfs/stage/00000000000000000007.abc123/0000000003");
  deepEqual(parseStageKey("d", k), { txid: 7, putId: "abc123", seq: 3 });
  throws(() => stageKey("d", 7, "Bad-Id", 0), RangeError);
});

Deno.test("encodeCommit: the index decodes back and inline blocks sit after it", () => {
  const blocks = [new Uint8Array([1, 2, 3, 4]), new Uint8Array([9, 9])];
  const index: CommitIndex = {
    txid: 5,
    putId: "p1",
    kind: "commit",
    validatedAt: 1_000_000,
    size: 10,
    prevSize: 8,
    pageSize: 2,
    blockSize: 4,
    blocks: [
      { index: 0, offset: 0, length: 4, crc: crc32(blocks[0]) },
      { index: 1, offset: 0, length: 4, crc: 77, chunk: 0 },
      { index: 2, offset: 4, length: 2, crc: crc32(blocks[1]) },
    ],
  };
  const body = encodeCommit(index, blocks);
  const end = commitIndexEnd(body.subarray(0, 24));
  deepEqual(decodeCommitIndex(body.subarray(0, end), 4), index);
  deepEqual(body.subarray(end), Uint8Array.from([1, 2, 3, 4, 9, 9]));
  deepEqual(stampFromMeta(commitMeta(index)), {
    putId: "p1",
    kind: "commit",
    validatedAt: 1_000_000,
  });
  const bad = body.slice();
  bad[30] ^= 1;
  throws(() => decodeCommitIndex(bad, 4), LogCorruptError);
  throws(() => decodeCommitIndex(body, 8), LogCorruptError); // another block size
});

Deno.test("decodeCommitIndex: refuses blocks of the wrong length or past the end", () => {
  const base: CommitIndex = {
    txid: 1,
    putId: "p",
    kind: "commit",
    validatedAt: 0,
    size: 6,
    prevSize: 0,
    pageSize: 2,
    blockSize: 4,
    blocks: [],
  };
  const one = (b: CommitIndex["blocks"][number]): Uint8Array =>
    encodeCommit({ ...base, blocks: [b] }, []);
  throws(
    () => decodeCommitIndex(one({ index: 1, offset: 0, length: 4, crc: 0 }), 4),
    LogCorruptError,
  );
  throws(
    () => decodeCommitIndex(one({ index: 2, offset: 0, length: 0, crc: 0 }), 4),
    LogCorruptError,
  );
  equal(decodeCommitIndex(one({ index: 1, offset: 0, length: 2, crc: 0 }), 4).blocks.length, 1);
});

Deno.test("encodeConfig / encodeCheckpoint: round trip and validation", () => {
  const config = { version: 1, blockSize: 4096, timing: { ...DEFAULT_TIMING } };
  deepEqual(decodeConfig(encodeConfig(config)), config);
  const ck = { txid: 12, size: 8192, pageSize: 4096 };
  deepEqual(decodeCheckpoint(encodeCheckpoint(ck)), ck);
  throws(() => decodeCheckpoint(enc.encode('{"version":1,"txid":-1}')), LogCorruptError);
  throws(() => decodeConfig(enc.encode('{"version":1,"blockSize":0}')), LogCorruptError);
});

Deno.test("checkTiming: refuses parameters that would break the protocol's bounds", () => {
  deepEqual(checkTiming(DEFAULT_TIMING), { ...DEFAULT_TIMING });
  throws(() => checkTiming({ ...DEFAULT_TIMING, graceMs: 1500 }), RangeError); // not whole seconds
  throws(() => checkTiming({ ...DEFAULT_TIMING, marginMs: 0 }), RangeError);
  throws(() => checkTiming({ ...DEFAULT_TIMING, keepHistoryMs: 30_000 }), RangeError); // < G
  throws(
    () => checkTiming({ ...DEFAULT_TIMING, keepHistoryMs: 60_000, maxCommitLagMs: 60_000 }),
    RangeError,
  );
  throws(() => checkTiming({ ...DEFAULT_TIMING, maxStageAgeMs: 10_000 }), RangeError); // < W
});

Deno.test("commitEffective: void when written late or staged too long ago; abort markers never apply", () => {
  const t = DEFAULT_TIMING;
  const at = 1_000_000_000;
  ok(commitEffective(at + t.maxCommitLagMs, { kind: "commit", validatedAt: at }, t));
  ok(commitEffective(at + t.maxCommitLagMs + 999, { kind: "commit", validatedAt: at + 500 }, t));
  ok(!commitEffective(at + t.maxCommitLagMs + 1000, { kind: "commit", validatedAt: at }, t));
  ok(!commitEffective(at, { kind: "abort", validatedAt: at }, t));
  const staged = {
    kind: "commit" as const,
    validatedAt: at,
    stagedAt: at - t.maxStageAgeMs - 1000,
  };
  ok(!commitEffective(at, staged, t));
  ok(!surelyInTime({ kind: "commit", validatedAt: at }, at + t.maxCommitLagMs, t));
  ok(surelyInTime({ kind: "commit", validatedAt: at }, at + t.maxCommitLagMs - t.marginMs, t));
});

Deno.test("foldable / retentionExpired / freshEnough: whole-second server-time bounds", () => {
  const t = DEFAULT_TIMING;
  const lm = 2_000_000_000;
  ok(!foldable(lm, lm + t.graceMs + t.marginMs, t));
  ok(foldable(lm, lm + t.graceMs + t.marginMs + 1000, t));
  ok(!retentionExpired(lm, lm + t.keepHistoryMs + t.marginMs, t));
  ok(retentionExpired(lm, lm + t.keepHistoryMs + t.marginMs + 1000, t));
  ok(freshEnough(lm, lm + t.keepHistoryMs - t.marginMs - 1000, t));
  ok(!freshEnough(lm, lm + t.keepHistoryMs - t.marginMs, t));
});

/**
 * Test vectors of the stored formats and time rules (docs/format.md), for
 * anyone writing a compatible reader or writer in another language: each is
 * an input and the answer this package gives. tests/format_vectors_test.ts
 * recomputes them with the package's code and compares with
 * tests/data/vectors.json, so they cannot drift;
 * `deno run -A tests/format_vectors.ts > tests/data/vectors.json` writes them.
 *
 * @module
 */

import { crc32 } from "../src/log/crc32.ts";
import {
  blockTag,
  type CheckpointRecord,
  type CommitIndex,
  type ConfigRecord,
  encodeCheckpoint,
  encodeCommit,
  encodeConfig,
  parseBlockTag,
} from "../src/log/format.ts";
import { leaseExpired } from "../src/log/lease.ts";
import { claimLive } from "../src/log/claim.ts";
import { blockKey } from "../src/blocks.ts";
import {
  checkpointKey,
  configKey,
  leaseKey,
  logKey,
  logNamespace,
  stageKey,
} from "../src/log/keys.ts";
import {
  commitEffective,
  DEFAULT_TIMING,
  foldable,
  freshEnough,
  retentionExpired,
  stageExpired,
  surelyInTime,
} from "../src/log/rules.ts";

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Every vector, as JSON-able data. */
export function vectors(): Record<string, unknown> {
  const t = DEFAULT_TIMING;
  const id = "5d66f51e8bde14b6b3b5d437826e0b72";
  const config: ConfigRecord = { version: 1, blockSize: 4096, timing: t, id, layout: 2 };
  const record: CheckpointRecord = {
    txid: 41,
    size: 327680,
    pageSize: 4096,
    id,
    retainedAt: 1893456000000,
    claim: {
      holder: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
      host: "web-1",
      pid: 4242,
      generation: 7,
      ttlMs: 36000,
      released: true,
      nonce: "00112233445566778899aabbccddeeff",
    },
  };
  const blockA = new Uint8Array(16).map((_, i) => i);
  const blockB = text("the last block");
  const index: CommitIndex = {
    txid: 42,
    putId: "3f9c0d1e2a4b5c6d7e8f901a2b3c4d5e",
    kind: "commit",
    validatedAt: 1893456086000,
    incarnation: id,
    size: 30,
    prevSize: 16,
    pageSize: 16,
    blockSize: 16,
    blocks: [
      { index: 0, offset: 0, length: 16, crc: crc32(blockA) },
      { index: 1, offset: 16, length: 14, crc: crc32(blockB) },
    ],
  };
  const s = 1000;
  const base = 1893456000000;
  return {
    crc32: [
      { bytes: hex(text("123456789")), crc: crc32(text("123456789")) },
      { bytes: "", crc: crc32(new Uint8Array(0)) },
      { bytes: hex(blockA), crc: crc32(blockA) },
    ],
    keys: {
      prefix: "my/path/cool.sqlite",
      config: configKey("my/path/cool.sqlite"),
      checkpoint: checkpointKey("my/path/cool.sqlite"),
      lease: leaseKey("my/path/cool.sqlite"),
      namespace: logNamespace(config),
      commit42: logKey("my/path/cool.sqlite", 42, logNamespace(config)),
      commit42Legacy: logKey("my/path/cool.sqlite", 42),
      stageChunk3: stageKey("my/path/cool.sqlite", 43, index.putId, 3, logNamespace(config)),
      block7: blockKey("my/path/cool.sqlite", 7),
    },
    config: { object: config, bytes: new TextDecoder().decode(encodeConfig(config)) },
    checkpoint: { object: record, bytes: new TextDecoder().decode(encodeCheckpoint(record)) },
    commit: {
      index,
      inline: [hex(blockA), hex(blockB)],
      bytes: hex(encodeCommit(index, [blockA, blockB])),
    },
    blockTags: [
      { txid: 42, id, tag: blockTag(42, id), parsed: parseBlockTag({ "s3vfs-txid": `42@${id}` }) },
      {
        txid: 3,
        id: null,
        tag: blockTag(3, undefined),
        parsed: parseBlockTag({ "s3vfs-txid": "3" }),
      },
      { txid: 0, id: null, tag: null, parsed: parseBlockTag({}) },
    ],
    timing: t,
    rules: {
      commitEffective: [
        [base, base + 30 * s, "commit", undefined],
        [base + 500, base + 30 * s + 999, "commit", undefined],
        [base, base + 31 * s, "commit", undefined],
        [base, base, "abort", undefined],
        [base + 3590 * s, base + 3600 * s, "commit", base],
        [base + 3591 * s, base + 3601 * s, "commit", base],
      ].map(([validatedAt, lastModified, kind, stagedAt]) => ({
        validatedAt,
        lastModified,
        kind,
        stagedAt: stagedAt ?? null,
        effective: commitEffective(
          lastModified as number,
          {
            kind: kind as "commit" | "abort",
            validatedAt: validatedAt as number,
            ...(stagedAt === undefined ? {} : { stagedAt: stagedAt as number }),
          },
          t,
        ),
      })),
      commitEffectiveForeign: commitEffective(
        base,
        { kind: "commit", validatedAt: base, incarnation: "other" },
        t,
        id,
      ),
      surelyInTime: [28, 29].map((k) => ({
        validatedAt: base,
        date: base + k * s,
        sure: surelyInTime({ kind: "commit", validatedAt: base }, base + k * s, t),
      })),
      foldable: [62, 63].map((k) => ({
        lastModified: base,
        now: base + k * s,
        foldable: foldable(base, base + k * s, t),
      })),
      freshEnough: [897, 898].map((k) => ({
        provenAt: base,
        observedAt: base + k * s,
        fresh: freshEnough(base, base + k * s, t),
      })),
      retentionExpired: [902, 903].map((k) => ({
        lastModified: base,
        now: base + k * s,
        expired: retentionExpired(base, base + k * s, t),
      })),
      stageExpired: [3604, 3605].map((k) => ({
        lastModified: base,
        now: base + k * s,
        expired: stageExpired(base, base + k * s, t),
      })),
      leaseExpired: [42, 43].map((k) => ({
        lastModified: base + 999,
        ttlMs: 40_000,
        now: base + k * s,
        expired: leaseExpired(base + 999, 40_000, base + k * s, t),
      })),
      claimLive: [38, 39].map((k) => ({
        lastModified: base + 999,
        ttlMs: 36_000,
        date: base + k * s,
        live: claimLive({
          record: { ...record, claim: { ...record.claim!, released: false } },
          lastModified: base + 999,
          date: base + k * s,
        }, t),
      })),
    },
  };
}

if (import.meta.main) console.log(JSON.stringify(vectors(), null, 2));

/**
 * Helpers of the serialize / deserialize tests (tests/streams_*_test.ts):
 * local databases made and checked with @db/sqlite, stream builders and
 * readers, bucket listings, a byte comparison, and the commit log's view
 * (snapshots, a fast timing, checkpoints).
 */

import assert from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import {
  checkpoint,
  type CheckpointOutcome,
  coldOpen,
  readBlocks,
  runAsync,
  S3LogStore,
} from "../src/log/mod.ts";
import type { S3Client } from "../src/s3/client.ts";
import { openLocal } from "./_vfs.ts";
import { FOLDABLE_AFTER_MS } from "./_harness.ts";

/** The database at `prefix` as a fresh process sees it: its txid and all its bytes (null: absent). */
export async function snapshotOf(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ head: number; bytes: Uint8Array } | null> {
  const store = new S3LogStore(client, bucket);
  const st = await runAsync(coldOpen(prefix), store);
  if (!st) return null;
  const n = blockCount(st.size, st.config.blockSize);
  const blocks = await runAsync(readBlocks(st, Array.from({ length: n }, (_, i) => i)), store);
  return { head: st.head, bytes: concat(blocks) };
}

/** Waits out the grace period of a FAST_TIMING database (FOLDABLE_AFTER_MS), then checkpoints it. */
export async function checkpointSoon(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<CheckpointOutcome> {
  await new Promise((r) => setTimeout(r, FOLDABLE_AFTER_MS));
  const store = new S3LogStore(client, bucket);
  const st = await runAsync(coldOpen(prefix), store);
  assert(st, `no database at ${prefix}`);
  return await runAsync(checkpoint(prefix, st.config), store);
}

/** The concatenation of the base blocks `<prefix>/<10 digits>` (what Python serializes). */
export async function baseBytes(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const e of client.list(bucket, { prefix: `${prefix}/` })) {
    const got = await client.get(bucket, e.key);
    if (got.status === "ok") parts.push(got.body);
  }
  return concat(parts);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs `sql` (one or more statements) on the local database file `path`, with @db/sqlite. */
export function execLocal(path: string, sql: string): void {
  const db = openLocal(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** The rows of one query on the local database file `path`, with @db/sqlite. */
export function queryLocal(path: string, sql: string): unknown[][] {
  const db = openLocal(path);
  try {
    return db.prepare(sql).values();
  } finally {
    db.close();
  }
}

/** Creates a database file with `rows` rows of ~`rowBytes` random text, page size `pageSize`. */
export function makeDb(
  dir: string,
  name: string,
  pageSize: number,
  rows: number,
  rowBytes = 200,
): string {
  const path = `${dir}/${name}`;
  execLocal(
    path,
    `PRAGMA page_size=${pageSize};
     CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);
     CREATE INDEX t_v ON t(v);
     WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ${rows})
       INSERT INTO t(v, b) SELECT hex(randomblob(${Math.max(1, rowBytes >> 2)})), randomblob(${
      Math.max(1, rowBytes >> 1)
    }) FROM c;`,
  );
  return path;
}

/** Checks a database file with `PRAGMA integrity_check`. */
export function assertIntegrity(path: string): void {
  assert.deepStrictEqual(queryLocal(path, "PRAGMA integrity_check"), [["ok"]]);
}

/** Reads a stream to the end: all bytes and the size of every chunk. */
export async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: Uint8Array; chunks: number[] }> {
  const parts: Uint8Array[] = [];
  const chunks: number[] = [];
  for await (const c of stream) {
    parts.push(c);
    chunks.push(c.length);
  }
  return { bytes: concat(parts), chunks };
}

/** Every object of the bucket whose key starts with `prefix` (all objects when empty) -> ETag. */
export async function listing(
  client: S3Client,
  bucket: string,
  prefix = "",
): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for await (const e of client.list(bucket, { prefix })) m.set(e.key, e.etag);
  return m;
}

/** Splits bytes into a stream of chunks of `size` bytes. */
export function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c): void {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + size));
      pos += size;
    },
  });
}

/** A stream of `bytes` that errors with `error` after `after` bytes. */
export function failingStream(
  bytes: Uint8Array,
  after: number,
  error: Error,
): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c): void {
      if (pos >= after) return c.error(error);
      const n = Math.min(8192, after - pos);
      c.enqueue(bytes.slice(pos, pos + n));
      pos += n;
    },
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Same length and the same bytes. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert(equalBytes(actual, expected), `${what}: bytes differ`);
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-streams-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

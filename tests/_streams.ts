/**
 * Helpers of the serialize / deserialize tests (tests/streams_*_test.ts):
 * assertions, databases made by the system `sqlite3` command, stream
 * builders and readers, bucket listings.
 */

import assert from "node:assert/strict";
import type { S3Client } from "../src/s3/client.ts";

/** Any Error subclass. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = new (...args: any[]) => Error;
/** What an error must be: an Error class, a message pattern, or a predicate. */
export type ErrorCheck = ErrorClass | RegExp | ((e: Error) => boolean);

/** Deep strict equality. */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  assert.match(text, pattern, message);
}

function checkError(err: unknown, checks: ErrorCheck[]): Error {
  assert(err instanceof Error, `expected an Error, got ${err}`);
  for (const c of checks) {
    if (c instanceof RegExp) assert.match(err.message, c);
    else if (c.prototype instanceof Error || c === Error) {
      assert(
        err instanceof (c as ErrorClass),
        `expected a ${(c as ErrorClass).name}, got ${err.name}: ${err.message}`,
      );
    } else {assert(
        (c as (e: Error) => boolean)(err),
        `unexpected error: ${err.name}: ${err.message}`,
      );}
  }
  return err;
}

/** `fn()` rejects with an Error passing every check; returns it. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  ...checks: ErrorCheck[]
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, checks);
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

/** `fn()` throws an Error passing every check; returns it. */
export function assertThrows(fn: () => unknown, ...checks: ErrorCheck[]): Error {
  try {
    fn();
  } catch (err) {
    return checkError(err, checks);
  }
  throw new assert.AssertionError({ message: "expected a throw" });
}

const SQLITE3 = "sqlite3";

/** Runs `sql` through the sqlite3 command on `path`; returns stdout. */
export async function sqlite3(path: string, sql: string): Promise<string> {
  const child = new Deno.Command(SQLITE3, {
    args: ["-batch", path],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(sql));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success || stderr.trim()) throw new Error(`sqlite3 ${path} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Creates a database file with `rows` rows of ~`rowBytes` random text, page size `pageSize`. */
export async function makeDb(
  dir: string,
  name: string,
  pageSize: number,
  rows: number,
  rowBytes = 200,
): Promise<string> {
  const path = `${dir}/${name}`;
  await sqlite3(
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
export async function assertIntegrity(path: string): Promise<void> {
  assertEquals((await sqlite3(path, "PRAGMA integrity_check;")).trim(), "ok");
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
  const bytes = new Uint8Array(chunks.reduce((a, b) => a + b, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, chunks };
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
  assertEquals(actual.length, expected.length, `${what}: length`);
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

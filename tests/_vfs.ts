/**
 * Helpers for VFS tests: an S3VFS on the harness's MinIO and connections
 * through the project's internal SQL helper in the same libsqlite3 copy.
 *
 * @module
 */

import { Database } from "./_sqlite.ts";
import { loadSqlite } from "../src/ffi/mod.ts";
import { S3VFS } from "../src/vfs/vfs.ts";
import type { S3VFSOptions } from "../src/vfs/options.ts";
import { testS3Options } from "./_harness.ts";

/** A new S3VFS on the test endpoint and `bucket`. */
export function testVfs(bucket: string, options: S3VFSOptions = {}): S3VFS {
  return new S3VFS({ ...testS3Options(), bucket, ...options });
}

/** Opens `prefix` through `vfs` (read-write, created if absent, unless `flags` says otherwise). */
export function openDb(vfs: S3VFS, prefix: string, flags?: number): Database {
  return new Database(vfs.uri(prefix), { lib: loadSqlite(vfs.libraryPath), flags });
}

/** Keys under `prefix/` in `bucket`. */
export async function listKeys(
  client: { list(bucket: string, o: { prefix: string }): AsyncIterable<{ key: string }> },
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of client.list(bucket, { prefix: prefix + "/" })) keys.push(e.key);
  return keys;
}

/**
 * The real sample database (a copy of ../shared/data/chinook.sqlite, the
 * Chinook sample database, kept in the repository so a fresh clone has it).
 */
export const CHINOOK_PATH: string = new URL("./data/chinook.sqlite", import.meta.url).pathname;

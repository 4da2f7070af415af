/**
 * Helpers for VFS tests: an S3VFS on the harness's MinIO, connections through
 * `@db/sqlite` (the binding users run; see scripts/db_sqlite.ts), and the two
 * raw libsqlite3 calls @db/sqlite does not offer: the extended result code of
 * a failed statement and whether a VFS name is registered.
 *
 * @module
 */

import { Database, SqliteError } from "../scripts/db_sqlite.ts";
import { S3VFS } from "../src/vfs/vfs.ts";
import { OPEN_READWRITE, type S3VFSOptions } from "../src/vfs/options.ts";
import { FOLDABLE_AFTER_MS, testS3Options } from "./_harness.ts";

export { Database, SqliteError };

/** A new S3VFS on the test endpoint and `bucket`. */
export function testVfs(bucket: string, options: S3VFSOptions = {}): S3VFS {
  return new S3VFS({ ...testS3Options(), bucket, ...options });
}

/**
 * Opens `prefix` through `vfs` with @db/sqlite (read-write, created if absent,
 * unless `flags` says otherwise); integers are read as 64-bit.
 */
export function openDb(vfs: S3VFS, prefix: string, flags: number = OPEN_READWRITE): Database {
  return new Database(vfs.uri(prefix), { flags, int64: true });
}

/** {@linkcode openLocal} read-only. */
export function openLocalReadOnly(path: string): Database {
  return openLocal(path, { readonly: true });
}

/** Opens a local file with @db/sqlite and the default VFS; integers are read as 64-bit. */
export function openLocal(path: string, options: { readonly?: boolean } = {}): Database {
  return new Database(path, { int64: true, ...options });
}

const RAW = {
  sqlite3_extended_errcode: { parameters: ["pointer"], result: "i32" },
  sqlite3_vfs_find: { parameters: ["buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;
const rawLibs = new Map<string, Deno.DynamicLibrary<typeof RAW>>();

/** The raw calls above, in the libsqlite3 copy `vfs` registered in (the one @db/sqlite loaded). */
function raw(vfs: S3VFS): Deno.DynamicLibrary<typeof RAW>["symbols"] {
  let lib = rawLibs.get(vfs.libraryPath);
  if (!lib) rawLibs.set(vfs.libraryPath, lib = Deno.dlopen(vfs.libraryPath, RAW));
  return lib.symbols;
}

/** `sqlite3_extended_errcode(db)`: the extended result code of `db`'s last failed call. */
export function extendedErrcode(vfs: S3VFS, db: Database): number {
  return raw(vfs).sqlite3_extended_errcode(db.unsafeHandle);
}

/** Whether SQLite knows a VFS called `name` (`sqlite3_vfs_find`). */
export function vfsRegistered(vfs: S3VFS, name: string): boolean {
  return raw(vfs).sqlite3_vfs_find(new TextEncoder().encode(name + "\0")) !== null;
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
 * The real sample database (the Chinook sample database, kept in the
 * repository so a fresh clone has it).
 */
export const CHINOOK_PATH: string = new URL("./data/chinook.sqlite", import.meta.url).pathname;

export { FAST_TIMING } from "./_harness.ts";

/**
 * Waits out the grace period of a {@linkcode FAST_TIMING} database and
 * checkpoints it, so its block objects are the whole database (what Python
 * sqlite-s3vfs and a byte comparison read). Returns the checkpoint's outcome.
 */
export async function settle(vfs: S3VFS, prefix: string): Promise<string> {
  await new Promise((r) => setTimeout(r, FOLDABLE_AFTER_MS));
  const outcome = await vfs.checkpoint(prefix);
  const again = await vfs.checkpoint(prefix);
  if (again.kind === "folded") throw new Error(`${prefix}: commits left after a checkpoint`);
  return outcome.kind;
}

/**
 * `@db/sqlite`, the binding users open S3VFS databases with, for the tests,
 * the benchmarks and the demo. Users get it from `jsr:@db/sqlite@0.13`; where
 * JSR cannot be reached (these machines, CI) its published source is loaded
 * from `../shared/dbsqlite/` beside the project (see that folder's README),
 * so every run exercises the real binding. Env `S3VFS_DB_SQLITE` names
 * another copy (a `mod.ts` URL).
 *
 * @module
 */

/** The part of @db/sqlite's `Statement` used here (its own types do not pass this project's strict checks). */
export interface Statement {
  /** Runs it; the number of changed rows. */
  run(...params: unknown[]): number;
  /** All rows as arrays. */
  values<T extends unknown[] = unknown[]>(...params: unknown[]): T[];
  /** The first row as an array. */
  value<T extends unknown[] = unknown[]>(...params: unknown[]): T | undefined;
  /** All rows as objects. */
  all<T extends object = Record<string, unknown>>(...params: unknown[]): T[];
  /** The first row as an object. */
  get<T extends object = Record<string, unknown>>(...params: unknown[]): T | undefined;
  /** Frees it. */
  finalize(): void;
}

/** The part of @db/sqlite's `Database` used here. */
export interface Database {
  /** The raw `sqlite3*` (for the few raw FFI calls tests make, e.g. sqlite3_extended_errcode). */
  readonly unsafeHandle: Deno.PointerValue;
  /** Rows changed by the last statement. */
  readonly changes: number;
  /** Whether no transaction is open. */
  readonly autocommit: boolean;
  /** Runs one or more statements; the number of changed rows. */
  exec(sql: string, ...params: unknown[]): number;
  /** Runs one statement; the number of changed rows. */
  run(sql: string, ...params: unknown[]): number;
  /** Compiles a statement. */
  prepare(sql: string): Statement;
  /** Closes the connection. */
  close(): void;
  /** Whether the connection is open. */
  readonly open: boolean;
}

/** The options of `new Database(path, options)` used here. */
export interface DatabaseOpenOptions {
  /** Raw open flags (e.g. `OPEN_READWRITE` from src/vfs/options.ts); wins over the others. */
  flags?: number;
  /** Read-only (without `flags`). */
  readonly?: boolean;
  /** Integers as 64-bit (bigint beyond 2^53) instead of 32-bit. */
  int64?: boolean;
}

/** `@db/sqlite`'s module. */
export interface DbSqliteModule {
  /** The connection class: `new Database(path, { flags })`. */
  Database: new (path: string, options?: DatabaseOpenOptions) => Database;
  /** What it throws when opening fails, with SQLite's result code. */
  SqliteError: new (code?: number, message?: string) => Error & { code: number };
  /** The loaded library's version. */
  SQLITE_VERSION: string;
}

/** Where users get it. */
export const DB_SQLITE_JSR = "jsr:@db/sqlite@0.13";
/** The published source beside the project, for machines without JSR. */
export const DB_SQLITE_SHARED: string = new URL("../../shared/dbsqlite/mod.ts", import.meta.url)
  .href;

function exists(url: string): boolean {
  try {
    return Deno.statSync(new URL(url)).isFile;
  } catch {
    return false;
  }
}

async function load(): Promise<{ url: string; mod: DbSqliteModule }> {
  const tried: string[] = [];
  // The shared copy before JSR when it is there: no failing JSR download announced on every run.
  const shared = exists(DB_SQLITE_SHARED) ? DB_SQLITE_SHARED : undefined;
  const candidates = [Deno.env.get("S3VFS_DB_SQLITE"), shared, DB_SQLITE_JSR, DB_SQLITE_SHARED];
  for (const url of candidates) {
    if (!url) continue;
    try {
      const spec = url; // a variable: not resolved (or fetched) at type-check time
      return { url, mod: await import(spec) as DbSqliteModule };
    } catch (e) {
      tried.push(`${url}: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
    }
  }
  throw new Error(
    "cannot load @db/sqlite: put its published source (0.13) at ../shared/dbsqlite/ beside " +
      "the project or set S3VFS_DB_SQLITE to a copy's mod.ts URL; tried:\n  " + tried.join("\n  "),
  );
}

const loaded = await load();

/** The URL `@db/sqlite` was loaded from (JSR, or the shared copy). */
export const DB_SQLITE_URL: string = loaded.url;
/** `@db/sqlite`'s Database class. */
export const Database: DbSqliteModule["Database"] = loaded.mod.Database;
/** Version of the libsqlite3 `@db/sqlite` opened. */
export const SQLITE_VERSION: string = loaded.mod.SQLITE_VERSION;
/** What `@db/sqlite` throws when a connection cannot be opened (`code`: SQLite's result code). */
export const SqliteError: DbSqliteModule["SqliteError"] = loaded.mod.SqliteError;

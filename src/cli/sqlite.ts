/**
 * `@db/sqlite` for the command-line tool, loaded when a command first needs
 * it and before any S3VFS is made (the VFS registers in the libsqlite3 copy
 * `@db/sqlite` loaded). It is imported by a computed specifier, in this order:
 * env `S3VFS_DB_SQLITE` (a module URL or path); for a local checkout, the
 * published source kept in `../shared/dbsqlite/` beside the project when it is
 * there (machines without JSR: nothing is announced as downloaded in vain);
 * `jsr:@db/sqlite@0.13` (what users get). A
 * computed specifier keeps `deno check` and `deno publish` from resolving a
 * JSR package these machines cannot reach, and keeps the library out of the
 * graph of `mod.ts` (library users bring their own); the part of its API
 * used here is typed below.
 *
 * @module
 */

/** The part of @db/sqlite's `Statement` used here. */
export interface Statement {
  /** Column names of the result (none for a statement that returns no rows). */
  columnNames(): string[];
  /** All rows as arrays. */
  values<T extends unknown[] = unknown[]>(...params: unknown[]): T[];
  /** Frees it. */
  finalize(): void;
}

/** The part of @db/sqlite's `Database` used here. */
export interface Database {
  /** The raw `sqlite3*` (the shell's Ctrl-C sets a progress handler on it). */
  readonly unsafeHandle: Deno.PointerValue;
  /** Rows changed by the last statement. */
  readonly changes: number;
  /** Whether no transaction is open. */
  readonly autocommit: boolean;
  /** Runs one or more statements. */
  exec(sql: string, ...params: unknown[]): number;
  /** Compiles one statement. */
  prepare(sql: string): Statement;
  /** Closes the connection. */
  close(): void;
}

/** @db/sqlite's module, as used here. */
export interface DbSqlite {
  /** The connection class. */
  Database: new (
    path: string,
    options?: { flags?: number; int64?: boolean },
  ) => Database;
  /** Version of the libsqlite3 it loaded. */
  SQLITE_VERSION: string;
  /** `sqlite3_complete`: whether `sql` ends with a complete statement. */
  isComplete(sql: string): boolean;
}

/**
 * Splits `sql` into statements with SQLite's own tokenizer (`isComplete` at
 * each `;`), so semicolons in strings, identifiers and comments are kept.
 * Blank pieces are dropped; an unterminated last statement is kept as is.
 */
export function splitStatements(sqlite: Pick<DbSqlite, "isComplete">, sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = sql.indexOf(";"); i >= 0; i = sql.indexOf(";", i + 1)) {
    const piece = sql.slice(start, i + 1);
    if (sqlite.isComplete(piece)) {
      if (piece.replace(/;/g, "").trim()) out.push(piece.trim());
      start = i + 1;
    }
  }
  const rest = sql.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Where users get it. */
export const DB_SQLITE_JSR = "jsr:@db/sqlite@0.13";

let loaded: Promise<DbSqlite> | undefined;

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

function candidates(): string[] {
  const out: string[] = [];
  let env: string | undefined;
  try {
    env = Deno.env.get("S3VFS_DB_SQLITE") || undefined;
  } catch { /* no --allow-env */ }
  if (env) {
    const isUrl = /^[a-z][a-z0-9+.-]*:/i.test(env) && !/^[a-z]:[\\/]/i.test(env);
    out.push(isUrl ? env : new URL(env, `file://${Deno.cwd()}/`).href);
  }
  // From a checkout with the published source beside it (machines without JSR): that copy first,
  // so that no failing JSR download is announced on every run.
  if (import.meta.url.startsWith("file:")) {
    const shared = new URL("../../../shared/dbsqlite/mod.ts", import.meta.url);
    if (exists(shared)) out.push(shared.href);
  }
  out.push(DB_SQLITE_JSR);
  return out;
}

/** Loads @db/sqlite once (see the module doc for where from). */
export function loadDbSqlite(): Promise<DbSqlite> {
  loaded ??= (async () => {
    const tried: string[] = [];
    for (const spec of candidates()) {
      try {
        return await import(spec) as DbSqlite;
      } catch (e) {
        tried.push(`${spec}: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
      }
    }
    throw new Error(`cannot load @db/sqlite (tried ${tried.join("; ")})`);
  })();
  return loaded;
}

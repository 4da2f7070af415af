/**
 * Running SQL on a database in S3 for `query` and `shell`: a connection
 * through `@db/sqlite` and the S3VFS (read-only unless `--write`), the SQL
 * or a past snapshot of it with `--at`), the SQL
 * split into statements by SQLite's tokenizer, each one's rows rendered as a
 * table, JSON or CSV, and SQLite's failures explained (the S3 answer behind
 * an I/O error, `--write` for a read-only database).
 *
 * @module
 */

import { SQLITE_OPEN_READONLY, SQLITE_OPEN_READWRITE, SQLITE_OPEN_URI } from "../vfs/options.ts";
import type { S3VFS } from "../vfs/vfs.ts";
import { type Location, parseAt, parseLocation } from "./args.ts";
import { CliError, describeError, UsageError } from "./errors.ts";
import { csvRows, jsonRows, table } from "./format.ts";
import { inspect } from "./inspect.ts";
import type { Session } from "./session.ts";
import { type Database, type DbSqlite, splitStatements, type Statement } from "./sqlite.ts";
import { leaseBusyOf, LeaseWaiter, waitMs } from "./lease_wait.ts";

/** How rows are printed. */
export type OutputMode = "table" | "json" | "csv";

/** An open connection to a database in S3. */
export interface SqlConnection {
  /** The database. */
  location: Location;
  /** @db/sqlite. */
  sqlite: DbSqlite;
  /** The VFS it goes through. */
  vfs: S3VFS;
  /** The connection. */
  db: Database;
  /** Whether it may write. */
  writable: boolean;
  /** Waits for another writer's lease (read-write connections). */
  waiter?: LeaseWaiter;
  /** Opened at a past snapshot (`--at`). */
  at?: boolean;
}

/** Opens the database at `url` (which must exist) for `command`. */
export async function connect(s: Session, url: string, command: string): Promise<SqlConnection> {
  const location = parseLocation(url, command);
  const found = await inspect(s.client(), location.bucket, location.prefix);
  if (!found) throw new CliError(`no database at ${location.url}`);
  const sqlite = await s.sqlite();
  const vfs = await s.vfs(location.bucket, found.config.blockSize);
  const writable = s.flag("write");
  const at = s.option("at");
  if (at !== undefined && writable) {
    throw new UsageError("--at opens a past snapshot: no --write", command);
  }
  const flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_URI;
  const uri = vfs.uri(location.prefix, at === undefined ? {} : { at: parseAt(at, command) });
  let db: Database;
  try {
    db = new sqlite.Database(uri, { flags, int64: true });
  } catch (e) {
    throw new CliError(describeError(e, vfs.lastError), { cause: e }); // why SQLite could not open it
  }
  // Another process's writer lease makes a write fail with SQLITE_BUSY: runSql waits (--wait),
  // saying who holds it, instead of SQLite's silent busy_timeout.
  if (!writable) return { location, sqlite, vfs, db, writable, at: at !== undefined };
  const waiter = new LeaseWaiter(
    location.url,
    waitMs(s),
    (t) => s.err(t),
    Deno.stderr.isTerminal(),
  );
  return { location, sqlite, vfs, db, writable, waiter };
}

/** Explains a failure of `sql`: the S3 cause of an I/O error, `--write` for a read-only one. */
export function sqlError(c: SqlConnection, err: unknown): CliError {
  const msg = err instanceof Error ? err.message : String(err);
  let hint = "";
  if (!c.writable && /readonly|read-only/i.test(msg)) {
    hint = c.at
      ? " (--at opens a past snapshot, which is read-only: restore --at makes it current)"
      : " (the database is opened read-only: add --write)";
  }
  const io = /I\/O|disk/i.test(msg) ? c.vfs.lastError : undefined;
  return new CliError(describeError(err, io) + hint, { cause: err });
}

/** Runs every statement of `sql`; the rendered rows of those that return rows. */
export function runSql(c: SqlConnection, sql: string, mode: OutputMode): string {
  let out = "";
  for (const text of splitStatements(c.sqlite, sql)) {
    let columns: string[] = [];
    let rows: unknown[][] = [];
    for (;;) {
      let stmt: Statement | undefined;
      try {
        stmt = c.db.prepare(text);
        columns = stmt.columnNames();
        rows = stmt.values();
        const done = stmt;
        stmt = undefined;
        done.finalize(); // reports the failure of the last step, if any
        break;
      } catch (e) {
        // Another writer's lease: wait (--wait) and run the statement again; it changed nothing.
        const busy = c.waiter && leaseBusyOf(e, c.vfs.lastError);
        if (busy && c.waiter!.waitSync(busy)) continue;
        c.waiter?.done();
        throw busy ? c.waiter!.gaveUp(busy, e) : sqlError(c, e);
      } finally {
        try {
          stmt?.finalize();
        } catch { /* already reported */ }
      }
    }
    c.waiter?.done();
    if (columns.length === 0) continue;
    if (mode === "json") out += jsonRows(columns, rows) + "\n";
    else if (mode === "csv") out += csvRows(columns, rows);
    else out += table(columns, rows) + "\n";
  }
  return out;
}

/** The output mode chosen by `--json` / `--csv`. */
export function outputMode(s: Session): OutputMode {
  return s.flag("json") ? "json" : s.flag("csv") ? "csv" : "table";
}

/**
 * A minimal SQL helper over the raw FFI in `./ffi.ts`, for this package's own
 * tests and tools. Not exported from mod.ts: applications use `@db/sqlite`.
 *
 * @module
 */

import {
  cstring,
  loadSqlite,
  readCString,
  SQLITE_BLOB,
  SQLITE_DONE,
  SQLITE_FLOAT,
  SQLITE_INTEGER,
  SQLITE_MISUSE,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_URI,
  SQLITE_RANGE,
  SQLITE_ROW,
  SQLITE_TEXT,
  type SqliteLib,
  sqliteTransient,
} from "../src/ffi/mod.ts";

/** A value that can be bound to a `?` parameter. */
export type BindValue = number | bigint | string | Uint8Array | null | boolean;

/** A failed SQLite call: `code` is the extended result code. */
export class SqliteError extends Error {
  /** Extended result code (e.g. 1 = SQLITE_ERROR, 2067 = SQLITE_CONSTRAINT_UNIQUE). */
  readonly code: number;
  /** @param message SQLite's message (`sqlite3_errmsg`); ` (code N)` is appended. */
  constructor(code: number, message: string) {
    super(`${message} (code ${code})`);
    this.name = "SqliteError";
    this.code = code;
  }
}

/** Options for {@link Database}. */
export interface DatabaseOptions {
  /** Library to use (default: {@link loadSqlite}(libraryPath)). */
  lib?: SqliteLib;
  /** VFS name passed to sqlite3_open_v2 (default: the default VFS). */
  vfs?: string;
  /** Open flags (default READWRITE | CREATE | URI). */
  flags?: number;
  /** Explicit libsqlite3 path when `lib` is not given. */
  libraryPath?: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(1);
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** One connection. Statements are prepared, run and finalized per call. */
export class Database {
  /** The libsqlite3 copy this connection lives in. */
  readonly lib: SqliteLib;
  /** The filename or URI it was opened with. */
  readonly path: string;
  #db: Deno.PointerValue;

  constructor(path: string, options: DatabaseOptions = {}) {
    this.lib = options.lib ?? loadSqlite(options.libraryPath);
    this.path = path;
    const s = this.lib.symbols;
    const out = new BigUint64Array(1);
    const flags = options.flags ?? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
    const rc = s.sqlite3_open_v2(
      cstring(path),
      out,
      flags,
      options.vfs ? cstring(options.vfs) : null,
    );
    const db = Deno.UnsafePointer.create(out[0]);
    if (rc !== SQLITE_OK) {
      const err = db
        ? new SqliteError(s.sqlite3_extended_errcode(db), readCString(s.sqlite3_errmsg(db)))
        : new SqliteError(rc, readCString(s.sqlite3_errstr(rc)));
      if (db) s.sqlite3_close_v2(db);
      throw err;
    }
    s.sqlite3_extended_result_codes(db, 1);
    this.#db = db;
  }

  /** The raw `sqlite3*` (throws once closed). */
  get handle(): Deno.PointerObject {
    if (!this.#db) throw new SqliteError(SQLITE_MISUSE, "database is closed");
    return this.#db;
  }

  /** Whether the connection is still open. */
  get isOpen(): boolean {
    return this.#db !== null;
  }

  /** `sqlite3_changes()`: rows changed by the last INSERT/UPDATE/DELETE. */
  get changes(): number {
    return this.lib.symbols.sqlite3_changes(this.handle);
  }

  /** `sqlite3_last_insert_rowid()`. */
  get lastInsertRowId(): number | bigint {
    return toInteger(this.lib.symbols.sqlite3_last_insert_rowid(this.handle));
  }

  /** Whether no transaction is open. */
  get autocommit(): boolean {
    return this.lib.symbols.sqlite3_get_autocommit(this.handle) !== 0;
  }

  /** Run one or more statements without parameters (sqlite3_exec). */
  exec(sql: string): void {
    const rc = this.lib.symbols.sqlite3_exec(this.handle, cstring(sql), null, null, null);
    if (rc !== SQLITE_OK) throw this.#error(rc);
  }

  /** Rows of the (first) statement in `sql` as objects keyed by column name. */
  query<T = Record<string, unknown>>(sql: string, ...params: BindValue[]): T[] {
    const rows: T[] = [];
    this.#run(sql, params, (names, values) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) row[names[i]] = values[i];
      rows.push(row as T);
    });
    return rows;
  }

  /** Rows of the (first) statement in `sql` as arrays. */
  values(sql: string, ...params: BindValue[]): unknown[][] {
    const rows: unknown[][] = [];
    this.#run(sql, params, (_names, values) => rows.push(values));
    return rows;
  }

  /** Run the (first) statement in `sql` to completion; returns `sqlite3_changes()`. */
  run(sql: string, ...params: BindValue[]): number {
    this.#run(sql, params, null);
    return this.changes;
  }

  /** `sqlite3_file_control(db, dbName, op, arg)`; returns the result code (not thrown). */
  fileControl(op: number, arg: BufferSource | null = null, dbName = "main"): number {
    return this.lib.symbols.sqlite3_file_control(this.handle, cstring(dbName), op, arg);
  }

  /** Close the connection (idempotent). */
  close(): void {
    const db = this.#db;
    if (!db) return;
    this.#db = null;
    const rc = this.lib.symbols.sqlite3_close_v2(db);
    if (rc !== SQLITE_OK) {
      throw new SqliteError(rc, readCString(this.lib.symbols.sqlite3_errstr(rc)));
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #error(rc: number): SqliteError {
    const s = this.lib.symbols;
    const db = this.handle;
    const ext = s.sqlite3_extended_errcode(db);
    return new SqliteError(
      (ext & 0xff) === (rc & 0xff) ? ext : rc,
      readCString(s.sqlite3_errmsg(db)),
    );
  }

  #run(
    sql: string,
    params: BindValue[],
    onRow: ((names: string[], values: unknown[]) => void) | null,
  ): void {
    const s = this.lib.symbols;
    const db = this.handle;
    const text = cstring(sql);
    const out = new BigUint64Array(1);
    const prc = s.sqlite3_prepare_v2(db, text, text.length, out, null);
    if (prc !== SQLITE_OK) throw this.#error(prc);
    const stmt = Deno.UnsafePointer.create(out[0]);
    if (!stmt) {
      if (params.length) throw new SqliteError(SQLITE_RANGE, "no statement to bind parameters to");
      return; // empty SQL or only a comment
    }
    try {
      const expected = s.sqlite3_bind_parameter_count(stmt);
      if (params.length !== expected) {
        throw new SqliteError(
          SQLITE_RANGE,
          `expected ${expected} parameters, got ${params.length}`,
        );
      }
      for (let i = 0; i < params.length; i++) {
        const rc = this.#bind(stmt, i + 1, params[i]);
        if (rc !== SQLITE_OK) throw this.#error(rc);
      }
      const n = s.sqlite3_column_count(stmt);
      const names: string[] = [];
      for (let i = 0; i < n; i++) names.push(readCString(s.sqlite3_column_name(stmt, i)));
      for (;;) {
        const rc = s.sqlite3_step(stmt);
        if (rc === SQLITE_DONE) break;
        if (rc !== SQLITE_ROW) throw this.#error(rc);
        if (!onRow) continue;
        const values: unknown[] = [];
        for (let i = 0; i < n; i++) values.push(this.#column(stmt, i));
        onRow(names, values);
      }
    } finally {
      s.sqlite3_finalize(stmt);
    }
  }

  #bind(stmt: Deno.PointerObject, i: number, v: BindValue): number {
    const s = this.lib.symbols;
    if (v === null || v === undefined) return s.sqlite3_bind_null(stmt, i);
    switch (typeof v) {
      case "boolean":
        return s.sqlite3_bind_int64(stmt, i, v ? 1n : 0n);
      case "number":
        return Number.isSafeInteger(v)
          ? s.sqlite3_bind_int64(stmt, i, BigInt(v))
          : s.sqlite3_bind_double(stmt, i, v);
      case "bigint":
        if (v < I64_MIN || v > I64_MAX) throw new RangeError(`${v} does not fit in 64 bits`);
        return s.sqlite3_bind_int64(stmt, i, v);
      case "string": {
        const b = encoder.encode(v);
        return s.sqlite3_bind_text(stmt, i, b.length ? b : EMPTY, b.length, sqliteTransient());
      }
    }
    if (v instanceof Uint8Array) {
      return v.length
        ? s.sqlite3_bind_blob(stmt, i, v, v.length, sqliteTransient())
        : s.sqlite3_bind_zeroblob(stmt, i, 0);
    }
    throw new TypeError(`cannot bind a value of type ${typeof v} (parameter ${i})`);
  }

  #column(stmt: Deno.PointerObject, i: number): unknown {
    const s = this.lib.symbols;
    switch (s.sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER:
        return toInteger(s.sqlite3_column_int64(stmt, i));
      case SQLITE_FLOAT:
        return s.sqlite3_column_double(stmt, i);
      case SQLITE_TEXT: {
        const p = s.sqlite3_column_text(stmt, i); // pointer first, then the byte count
        return decoder.decode(copy(p, s.sqlite3_column_bytes(stmt, i)));
      }
      case SQLITE_BLOB: {
        const p = s.sqlite3_column_blob(stmt, i);
        return copy(p, s.sqlite3_column_bytes(stmt, i));
      }
      default:
        return null;
    }
  }
}

function copy(p: Deno.PointerValue, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (p && n > 0) Deno.UnsafePointerView.copyInto(p, out);
  return out;
}

function toInteger(v: number | bigint): number | bigint {
  const b = BigInt(v);
  return b >= SAFE_MIN && b <= SAFE_MAX ? Number(b) : b;
}

/**
 * The libsqlite3 symbol table we bind with `Deno.dlopen`, the type of one
 * loaded copy of the library, and the small marshalling helpers for calling
 * it (C strings in and out, pointer addresses, error strings).
 *
 * A leaf module: src/ffi_library.ts (discovery) and src/ffi.ts (which
 * re-exports everything here) both import from it.
 *
 * @module
 */

/**
 * The libsqlite3 functions we call, in the style of denodrivers/sqlite3's
 * symbol table. `const char*` inputs are `"buffer"` (pass {@link cstring} or
 * `null`); out-parameters (`sqlite3**`, `sqlite3_stmt**`) are `"buffer"` too
 * (pass a `BigUint64Array(1)`); returned C strings are `"pointer"`.
 *
 * Note: `"i64"` results arrive as `bigint` (Deno 2.9); `"i64"` parameters
 * accept `number | bigint`.
 */
export const SYMBOLS = {
  sqlite3_initialize: { parameters: [], result: "i32" },
  sqlite3_libversion: { parameters: [], result: "pointer" },
  sqlite3_libversion_number: { parameters: [], result: "i32" },
  // sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName)
  sqlite3_vfs_find: { parameters: ["buffer"], result: "pointer" },
  // int sqlite3_vfs_register(sqlite3_vfs*, int makeDflt)
  sqlite3_vfs_register: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_vfs_unregister: { parameters: ["pointer"], result: "i32" },
  // int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs)
  sqlite3_open_v2: { parameters: ["buffer", "buffer", "i32", "buffer"], result: "i32" },
  sqlite3_close_v2: { parameters: ["pointer"], result: "i32" },
  sqlite3_errmsg: { parameters: ["pointer"], result: "pointer" },
  sqlite3_errstr: { parameters: ["i32"], result: "pointer" },
  sqlite3_extended_errcode: { parameters: ["pointer"], result: "i32" },
  sqlite3_extended_result_codes: { parameters: ["pointer", "i32"], result: "i32" },
  // int sqlite3_exec(sqlite3*, const char *sql, callback, void *arg, char **errmsg)
  sqlite3_exec: {
    parameters: ["pointer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // int sqlite3_prepare_v2(sqlite3*, const char *zSql, int nByte, sqlite3_stmt **ppStmt, const char **pzTail)
  sqlite3_prepare_v2: {
    parameters: ["pointer", "buffer", "i32", "buffer", "pointer"],
    result: "i32",
  },
  sqlite3_step: { parameters: ["pointer"], result: "i32" },
  sqlite3_reset: { parameters: ["pointer"], result: "i32" },
  sqlite3_finalize: { parameters: ["pointer"], result: "i32" },
  sqlite3_bind_int64: { parameters: ["pointer", "i32", "i64"], result: "i32" },
  sqlite3_bind_double: { parameters: ["pointer", "i32", "f64"], result: "i32" },
  // int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int n, void(*)(void*))
  sqlite3_bind_text: {
    parameters: ["pointer", "i32", "buffer", "i32", "pointer"],
    result: "i32",
  },
  sqlite3_bind_blob: {
    parameters: ["pointer", "i32", "buffer", "i32", "pointer"],
    result: "i32",
  },
  sqlite3_bind_zeroblob: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sqlite3_bind_null: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_bind_parameter_count: { parameters: ["pointer"], result: "i32" },
  sqlite3_column_count: { parameters: ["pointer"], result: "i32" },
  sqlite3_column_name: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_type: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_column_int64: { parameters: ["pointer", "i32"], result: "i64" },
  sqlite3_column_double: { parameters: ["pointer", "i32"], result: "f64" },
  sqlite3_column_text: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_blob: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_bytes: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_changes: { parameters: ["pointer"], result: "i32" },
  sqlite3_last_insert_rowid: { parameters: ["pointer"], result: "i64" },
  sqlite3_get_autocommit: { parameters: ["pointer"], result: "i32" },
  sqlite3_busy_timeout: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_free: { parameters: ["pointer"], result: "void" },
  // const char *sqlite3_db_filename(sqlite3*, const char *zDbName)
  sqlite3_db_filename: { parameters: ["pointer", "buffer"], result: "pointer", optional: true },
  // int sqlite3_file_control(sqlite3*, const char *zDbName, int op, void *pArg)
  sqlite3_file_control: { parameters: ["pointer", "buffer", "i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound functions of {@link SYMBOLS}. */
export type SqliteSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One loaded copy of libsqlite3. */
export interface SqliteLib {
  /** Path it was loaded from (the loader's name for it when found by a plain name). */
  path: string;
  /** The dlopen'ed functions. */
  symbols: SqliteSymbols;
  /** `sqlite3_libversion()`, e.g. `"3.40.1"`. */
  version: string;
  /**
   * Address of the library's `sqlite3_version[]` string: identifies the loaded
   * copy (two paths with the same `id` are the same instance).
   */
  id: bigint;
}

// ---------------------------------------------------------------------------
// Marshalling helpers

const encoder = new TextEncoder();

/** NUL-terminated UTF-8 bytes of `s`, for `"buffer"` string parameters. */
export function cstring(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The C string at `ptr` (`""` for NULL), decoded as UTF-8. */
export function readCString(ptr: Deno.PointerValue): string {
  return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
}

/** Address of a pointer as a bigint (0n for NULL). */
export function pointerValue(ptr: Deno.PointerValue): bigint {
  return ptr === null ? 0n : BigInt(Deno.UnsafePointer.value(ptr));
}

/** `sqlite3_errstr(rc)`: English text for a result code. */
export function errorString(lib: SqliteLib, rc: number): string {
  return readCString(lib.symbols.sqlite3_errstr(rc));
}

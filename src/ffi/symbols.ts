/**
 * The libsqlite3 symbol table we bind with `Deno.dlopen`, the type of one
 * loaded copy of the library, and the small marshalling helpers for calling
 * it (C strings in and out, pointer addresses, error strings).
 *
 * A leaf of src/ffi/: library.ts (discovery) and mod.ts (which
 * re-exports everything here) both import from it.
 *
 * @module
 */

/**
 * The libsqlite3 functions the VFS calls, one line each with its C signature.
 * `const char*` inputs are `"buffer"` (pass {@link cstring} or `null`);
 * returned C strings are `"pointer"`. SQL itself goes through `@db/sqlite`.
 */
export const SYMBOLS = {
  // int sqlite3_initialize(void)
  sqlite3_initialize: { parameters: [], result: "i32" },
  // const char *sqlite3_libversion(void)
  sqlite3_libversion: { parameters: [], result: "pointer" },
  // sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName)
  sqlite3_vfs_find: { parameters: ["buffer"], result: "pointer" },
  // int sqlite3_vfs_register(sqlite3_vfs*, int makeDflt)
  sqlite3_vfs_register: { parameters: ["pointer", "i32"], result: "i32" },
  // int sqlite3_vfs_unregister(sqlite3_vfs*)
  sqlite3_vfs_unregister: { parameters: ["pointer"], result: "i32" },
  // void *sqlite3_malloc(int): results handed to SQLite (a PRAGMA's value), freed by it
  sqlite3_malloc: { parameters: ["i32"], result: "pointer" },
  // const char *sqlite3_errstr(int)
  sqlite3_errstr: { parameters: ["i32"], result: "pointer" },
  // void sqlite3_progress_handler(sqlite3*, int nOps, int(*xProgress)(void*), void*)
  sqlite3_progress_handler: {
    parameters: ["pointer", "i32", "function", "pointer"],
    result: "void",
  },
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

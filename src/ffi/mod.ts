/**
 * libsqlite3 through `Deno.dlopen`: the symbol table, library discovery,
 * SQLite constants, and the struct tables a VFS fills.
 *
 * A VFS lives in ONE loaded copy of libsqlite3. To register ours in the copy
 * `@db/sqlite` uses, discovery prefers a copy that is already loaded in this
 * process (see {@link findLibraryPath}).
 *
 * `import * as F from "./mod.ts"` sees it all: the symbol table, the
 * {@link SqliteLib} type and the marshalling helpers (symbols.ts), the
 * constants (constants.ts), discovery (library.ts) and the `sqlite3_vfs` /
 * `sqlite3_io_methods` tables with their callback definitions and offsets
 * (layout.ts).
 *
 * @module
 */

export {
  cstring,
  errorString,
  pointerValue,
  readCString,
  type SqliteLib,
  type SqliteSymbols,
  SYMBOLS,
} from "./symbols.ts";
export * from "./constants.ts";
export * from "./layout.ts";
export { findLibraryPath, loadedSqliteLibraries, loadSqlite } from "./library.ts";

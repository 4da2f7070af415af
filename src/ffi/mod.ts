/**
 * libsqlite3 through `Deno.dlopen`: the symbol table, library discovery,
 * SQLite constants, struct layouts and the FFI callback definitions a VFS
 * needs.
 *
 * A VFS lives in ONE loaded copy of libsqlite3. To register ours in the copy
 * `@db/sqlite` uses, discovery prefers a copy that is already loaded in this
 * process (see {@link findLibraryPath}).
 *
 * This module defines the struct layouts and callback definitions and
 * re-exports the rest, so `import * as F from "./mod.ts"` sees it all:
 * the symbol table, the {@link SqliteLib} type and the marshalling helpers
 * (src/ffi_symbols.ts), the constants (src/ffi_constants.ts) and discovery
 * (src/ffi_library.ts).
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
export { findLibraryPath, loadedSqliteLibraries, loadSqlite } from "./library.ts";

// ---------------------------------------------------------------------------
// Struct layouts, 64-bit. Verified by compiling a C program printing offsetof()
// and sizeof() against /usr/include/sqlite3.h (SQLite 3.40.1, x86_64, gcc);
// tests/ffi_test.ts checks them against the live default VFS too.

/** Byte offsets of `sqlite3_vfs` fields. */
export const VFS_OFFSETS = {
  iVersion: 0, // int
  szOsFile: 4, // int
  mxPathname: 8, // int
  pNext: 16,
  zName: 24,
  pAppData: 32,
  xOpen: 40,
  xDelete: 48,
  xAccess: 56,
  xFullPathname: 64,
  xDlOpen: 72,
  xDlError: 80,
  xDlSym: 88,
  xDlClose: 96,
  xRandomness: 104,
  xSleep: 112,
  xCurrentTime: 120,
  xGetLastError: 128,
  xCurrentTimeInt64: 136, // iVersion >= 2
  xSetSystemCall: 144, // iVersion >= 3
  xGetSystemCall: 152,
  xNextSystemCall: 160,
} as const;
/** `sizeof(sqlite3_vfs)` up to xGetLastError (iVersion 1). */
export const SIZEOF_VFS_V1 = 136;
/** ... up to xCurrentTimeInt64 (iVersion 2). */
export const SIZEOF_VFS_V2 = 144;
/** Full `sizeof(sqlite3_vfs)` (iVersion 3). */
export const SIZEOF_VFS_V3 = 168;

/** Byte offsets of `sqlite3_io_methods` fields. */
export const IO_METHODS_OFFSETS = {
  iVersion: 0, // int
  xClose: 8,
  xRead: 16,
  xWrite: 24,
  xTruncate: 32,
  xSync: 40,
  xFileSize: 48,
  xLock: 56,
  xUnlock: 64,
  xCheckReservedLock: 72,
  xFileControl: 80,
  xSectorSize: 88,
  xDeviceCharacteristics: 96,
  xShmMap: 104, // iVersion >= 2
  xShmLock: 112,
  xShmBarrier: 120,
  xShmUnmap: 128,
  xFetch: 136, // iVersion >= 3
  xUnfetch: 144,
} as const;
/** `sqlite3_io_methods` size for iVersion 1 (through xDeviceCharacteristics). */
export const SIZEOF_IO_METHODS_V1 = 104;
/** ... iVersion 2 (through xShmUnmap). */
export const SIZEOF_IO_METHODS_V2 = 136;
/** Full `sizeof(sqlite3_io_methods)` (iVersion 3). */
export const SIZEOF_IO_METHODS_V3 = 152;
/** `sqlite3_file` is `{ const sqlite3_io_methods *pMethods; }`: pMethods at 0, 8 bytes. */
export const SIZEOF_SQLITE_FILE = 8;

// ---------------------------------------------------------------------------
// FFI callback definitions for the VFS and io methods.

/** int xOpen(sqlite3_vfs*, sqlite3_filename zName, sqlite3_file*, int flags, int *pOutFlags) */
export const X_OPEN = {
  parameters: ["pointer", "pointer", "pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xDelete(sqlite3_vfs*, const char *zName, int syncDir) */
export const X_DELETE = {
  parameters: ["pointer", "pointer", "i32"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xAccess(sqlite3_vfs*, const char *zName, int flags, int *pResOut) */
export const X_ACCESS = {
  parameters: ["pointer", "pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xFullPathname(sqlite3_vfs*, const char *zName, int nOut, char *zOut) */
export const X_FULLPATHNAME = {
  parameters: ["pointer", "pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** void *xDlOpen(sqlite3_vfs*, const char *zFilename) */
export const X_DLOPEN = {
  parameters: ["pointer", "pointer"],
  result: "pointer",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** void xDlError(sqlite3_vfs*, int nByte, char *zErrMsg) */
export const X_DLERROR = {
  parameters: ["pointer", "i32", "pointer"],
  result: "void",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** void (*xDlSym(sqlite3_vfs*, void*, const char *zSymbol))(void) */
export const X_DLSYM = {
  parameters: ["pointer", "pointer", "pointer"],
  result: "pointer",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** void xDlClose(sqlite3_vfs*, void*) */
export const X_DLCLOSE = {
  parameters: ["pointer", "pointer"],
  result: "void",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xRandomness(sqlite3_vfs*, int nByte, char *zOut) */
export const X_RANDOMNESS = {
  parameters: ["pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xSleep(sqlite3_vfs*, int microseconds) */
export const X_SLEEP = {
  parameters: ["pointer", "i32"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xCurrentTime(sqlite3_vfs*, double*) */
export const X_CURRENTTIME = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xGetLastError(sqlite3_vfs*, int, char*) */
export const X_GETLASTERROR = {
  parameters: ["pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64*) */
export const X_CURRENTTIMEINT64 = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;

/** int xClose(sqlite3_file*) */
export const X_CLOSE = {
  parameters: ["pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xRead(sqlite3_file*, void*, int iAmt, sqlite3_int64 iOfst) - iOfst arrives as bigint */
export const X_READ = {
  parameters: ["pointer", "pointer", "i32", "i64"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xWrite(sqlite3_file*, const void*, int iAmt, sqlite3_int64 iOfst) */
export const X_WRITE = {
  parameters: ["pointer", "pointer", "i32", "i64"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xTruncate(sqlite3_file*, sqlite3_int64 size) */
export const X_TRUNCATE = {
  parameters: ["pointer", "i64"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xSync(sqlite3_file*, int flags) */
export const X_SYNC = {
  parameters: ["pointer", "i32"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xFileSize(sqlite3_file*, sqlite3_int64 *pSize) */
export const X_FILESIZE = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xLock(sqlite3_file*, int) */
export const X_LOCK = {
  parameters: ["pointer", "i32"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xUnlock(sqlite3_file*, int) */
export const X_UNLOCK = {
  parameters: ["pointer", "i32"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xCheckReservedLock(sqlite3_file*, int *pResOut) */
export const X_CHECKRESERVEDLOCK = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xFileControl(sqlite3_file*, int op, void *pArg) */
export const X_FILECONTROL = {
  parameters: ["pointer", "i32", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xSectorSize(sqlite3_file*) */
export const X_SECTORSIZE = {
  parameters: ["pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** int xDeviceCharacteristics(sqlite3_file*) */
export const X_DEVICECHARACTERISTICS = {
  parameters: ["pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;

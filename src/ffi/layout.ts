/**
 * The native structs a VFS fills, as ONE table per struct: the methods of
 * `sqlite3_vfs` and of `sqlite3_io_methods`, in struct order, each with its
 * `Deno.UnsafeCallback` definition. The struct offsets and sizes are derived
 * from the tables (64-bit: every field after the leading ints is 8 bytes), so
 * a definition and its slot cannot drift apart. tests/ffi_test.ts checks the
 * tables against the live default VFS of the system libsqlite3, and
 * src/ffi/layout_test.ts against the C declarations.
 *
 * @module
 */

/** A callback definition: parameter and result types of one C function pointer. */
function fn<const P extends readonly Deno.NativeType[], const R extends Deno.NativeResultType>(
  parameters: P,
  result: R,
): { parameters: P; result: R } {
  return { parameters, result };
}

/** `sqlite3_vfs` methods in struct order (iVersion 1 up to xGetLastError, 2 adds one, 3 three). */
export const VFS_METHODS = {
  /** int xOpen(sqlite3_vfs*, sqlite3_filename zName, sqlite3_file*, int flags, int *pOutFlags) */
  xOpen: fn(["pointer", "pointer", "pointer", "i32", "pointer"], "i32"),
  /** int xDelete(sqlite3_vfs*, const char *zName, int syncDir) */
  xDelete: fn(["pointer", "pointer", "i32"], "i32"),
  /** int xAccess(sqlite3_vfs*, const char *zName, int flags, int *pResOut) */
  xAccess: fn(["pointer", "pointer", "i32", "pointer"], "i32"),
  /** int xFullPathname(sqlite3_vfs*, const char *zName, int nOut, char *zOut) */
  xFullPathname: fn(["pointer", "pointer", "i32", "pointer"], "i32"),
  /** void *xDlOpen(sqlite3_vfs*, const char *zFilename) */
  xDlOpen: fn(["pointer", "pointer"], "pointer"),
  /** void xDlError(sqlite3_vfs*, int nByte, char *zErrMsg) */
  xDlError: fn(["pointer", "i32", "pointer"], "void"),
  /** void (*xDlSym(sqlite3_vfs*, void*, const char *zSymbol))(void) */
  xDlSym: fn(["pointer", "pointer", "pointer"], "pointer"),
  /** void xDlClose(sqlite3_vfs*, void*) */
  xDlClose: fn(["pointer", "pointer"], "void"),
  /** int xRandomness(sqlite3_vfs*, int nByte, char *zOut) */
  xRandomness: fn(["pointer", "i32", "pointer"], "i32"),
  /** int xSleep(sqlite3_vfs*, int microseconds) */
  xSleep: fn(["pointer", "i32"], "i32"),
  /** int xCurrentTime(sqlite3_vfs*, double*) */
  xCurrentTime: fn(["pointer", "pointer"], "i32"),
  /** int xGetLastError(sqlite3_vfs*, int, char*) */
  xGetLastError: fn(["pointer", "i32", "pointer"], "i32"),
  /** int xCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64*) (iVersion 2) */
  xCurrentTimeInt64: fn(["pointer", "pointer"], "i32"),
  /** int xSetSystemCall(sqlite3_vfs*, const char *zName, sqlite3_syscall_ptr) (iVersion 3) */
  xSetSystemCall: fn(["pointer", "pointer", "pointer"], "i32"),
  /** sqlite3_syscall_ptr xGetSystemCall(sqlite3_vfs*, const char *zName) */
  xGetSystemCall: fn(["pointer", "pointer"], "pointer"),
  /** const char *xNextSystemCall(sqlite3_vfs*, const char *zName) */
  xNextSystemCall: fn(["pointer", "pointer"], "pointer"),
} as const;

/** `sqlite3_io_methods` methods in struct order (iVersion 1 up to xDeviceCharacteristics). */
export const IO_METHODS = {
  /** int xClose(sqlite3_file*) */
  xClose: fn(["pointer"], "i32"),
  /** int xRead(sqlite3_file*, void*, int iAmt, sqlite3_int64 iOfst) */
  xRead: fn(["pointer", "pointer", "i32", "i64"], "i32"),
  /** int xWrite(sqlite3_file*, const void*, int iAmt, sqlite3_int64 iOfst) */
  xWrite: fn(["pointer", "pointer", "i32", "i64"], "i32"),
  /** int xTruncate(sqlite3_file*, sqlite3_int64 size) */
  xTruncate: fn(["pointer", "i64"], "i32"),
  /** int xSync(sqlite3_file*, int flags) */
  xSync: fn(["pointer", "i32"], "i32"),
  /** int xFileSize(sqlite3_file*, sqlite3_int64 *pSize) */
  xFileSize: fn(["pointer", "pointer"], "i32"),
  /** int xLock(sqlite3_file*, int) */
  xLock: fn(["pointer", "i32"], "i32"),
  /** int xUnlock(sqlite3_file*, int) */
  xUnlock: fn(["pointer", "i32"], "i32"),
  /** int xCheckReservedLock(sqlite3_file*, int *pResOut) */
  xCheckReservedLock: fn(["pointer", "pointer"], "i32"),
  /** int xFileControl(sqlite3_file*, int op, void *pArg) */
  xFileControl: fn(["pointer", "i32", "pointer"], "i32"),
  /** int xSectorSize(sqlite3_file*) */
  xSectorSize: fn(["pointer"], "i32"),
  /** int xDeviceCharacteristics(sqlite3_file*) */
  xDeviceCharacteristics: fn(["pointer"], "i32"),
  /** int xShmMap(sqlite3_file*, int iPg, int pgsz, int, void volatile**) (iVersion 2) */
  xShmMap: fn(["pointer", "i32", "i32", "i32", "pointer"], "i32"),
  /** int xShmLock(sqlite3_file*, int offset, int n, int flags) */
  xShmLock: fn(["pointer", "i32", "i32", "i32"], "i32"),
  /** void xShmBarrier(sqlite3_file*) */
  xShmBarrier: fn(["pointer"], "void"),
  /** int xShmUnmap(sqlite3_file*, int deleteFlag) */
  xShmUnmap: fn(["pointer", "i32"], "i32"),
  /** int xFetch(sqlite3_file*, sqlite3_int64 iOfst, int iAmt, void **pp) (iVersion 3) */
  xFetch: fn(["pointer", "i64", "i32", "pointer"], "i32"),
  /** int xUnfetch(sqlite3_file*, sqlite3_int64 iOfst, void *p) */
  xUnfetch: fn(["pointer", "i64", "pointer"], "i32"),
} as const;

/** Names of the `sqlite3_vfs` methods. */
export type VfsMethodName = keyof typeof VFS_METHODS;
/** Names of the `sqlite3_io_methods` methods. */
export type IoMethodName = keyof typeof IO_METHODS;

/** The JS function type Deno calls for a callback definition. */
export type CallbackFn<D extends Deno.UnsafeCallbackDefinition> = Deno.UnsafeCallbackFunction<
  D["parameters"],
  D["result"]
>;

const POINTER = 8;

/** Offsets of a table's methods: 8-byte slots, in order, from `first`. */
function slots<T extends Record<string, unknown>>(
  table: T,
  first: number,
): { [K in keyof T]: number } {
  return Object.fromEntries(Object.keys(table).map((k, i) => [k, first + i * POINTER])) as {
    [K in keyof T]: number;
  };
}

/**
 * Byte offsets of `sqlite3_vfs` fields: `int iVersion, szOsFile, mxPathname`,
 * then the pointers `pNext, zName, pAppData` and the methods.
 */
export const VFS_OFFSETS: {
  readonly [
    K in "iVersion" | "szOsFile" | "mxPathname" | "pNext" | "zName" | "pAppData" | VfsMethodName
  ]: number;
} = {
  iVersion: 0,
  szOsFile: 4,
  mxPathname: 8,
  pNext: 16,
  zName: 24,
  pAppData: 32,
  ...slots(VFS_METHODS, 40),
};
/** Byte offsets of `sqlite3_io_methods` fields: `int iVersion` (padded to 8), then the methods. */
export const IO_METHODS_OFFSETS: { readonly [K in "iVersion" | IoMethodName]: number } = {
  iVersion: 0,
  ...slots(IO_METHODS, 8),
};

/** `sizeof(sqlite3_vfs)` up to xGetLastError (iVersion 1). */
export const SIZEOF_VFS_V1: number = VFS_OFFSETS.xCurrentTimeInt64;
/** ... up to xCurrentTimeInt64 (iVersion 2). */
export const SIZEOF_VFS_V2: number = VFS_OFFSETS.xSetSystemCall;
/** Full `sizeof(sqlite3_vfs)` (iVersion 3). */
export const SIZEOF_VFS_V3: number = VFS_OFFSETS.xNextSystemCall + POINTER;
/** `sqlite3_io_methods` size for iVersion 1 (through xDeviceCharacteristics). */
export const SIZEOF_IO_METHODS_V1: number = IO_METHODS_OFFSETS.xShmMap;
/** ... iVersion 2 (through xShmUnmap). */
export const SIZEOF_IO_METHODS_V2: number = IO_METHODS_OFFSETS.xFetch;
/** Full `sizeof(sqlite3_io_methods)` (iVersion 3). */
export const SIZEOF_IO_METHODS_V3: number = IO_METHODS_OFFSETS.xUnfetch + POINTER;

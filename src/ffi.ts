/**
 * libsqlite3 through `Deno.dlopen`: the symbol table, library discovery,
 * SQLite constants, struct layouts and the FFI callback definitions a VFS
 * needs.
 *
 * A VFS lives in ONE loaded copy of libsqlite3. To register ours in the copy
 * `@db/sqlite` uses, discovery prefers a copy that is already loaded in this
 * process (see {@link findLibraryPath}).
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
// Constants (checked against /usr/include/sqlite3.h of SQLite 3.40.1)

/** Result codes. */
export const SQLITE_OK = 0;
export const SQLITE_ERROR = 1;
export const SQLITE_INTERNAL = 2;
export const SQLITE_PERM = 3;
export const SQLITE_ABORT = 4;
export const SQLITE_BUSY = 5;
export const SQLITE_LOCKED = 6;
export const SQLITE_NOMEM = 7;
export const SQLITE_READONLY = 8;
export const SQLITE_INTERRUPT = 9;
export const SQLITE_IOERR = 10;
export const SQLITE_CORRUPT = 11;
export const SQLITE_NOTFOUND = 12;
export const SQLITE_FULL = 13;
export const SQLITE_CANTOPEN = 14;
export const SQLITE_PROTOCOL = 15;
export const SQLITE_CONSTRAINT = 19;
export const SQLITE_MISUSE = 21;
export const SQLITE_RANGE = 25;
export const SQLITE_NOTADB = 26;
export const SQLITE_ROW = 100;
export const SQLITE_DONE = 101;

/** Extended I/O error codes (SQLITE_IOERR | n << 8). */
export const SQLITE_IOERR_READ = 266;
export const SQLITE_IOERR_SHORT_READ = 522;
export const SQLITE_IOERR_WRITE = 778;
export const SQLITE_IOERR_FSYNC = 1034;
export const SQLITE_IOERR_DIR_FSYNC = 1290;
export const SQLITE_IOERR_TRUNCATE = 1546;
export const SQLITE_IOERR_FSTAT = 1802;
export const SQLITE_IOERR_UNLOCK = 2058;
export const SQLITE_IOERR_RDLOCK = 2314;
export const SQLITE_IOERR_DELETE = 2570;
export const SQLITE_IOERR_NOMEM = 3082;
export const SQLITE_IOERR_ACCESS = 3338;
export const SQLITE_IOERR_CHECKRESERVEDLOCK = 3594;
export const SQLITE_IOERR_LOCK = 3850;
export const SQLITE_IOERR_CLOSE = 4106;
export const SQLITE_IOERR_DELETE_NOENT = 5898;
export const SQLITE_IOERR_AUTH = 7178;
export const SQLITE_BUSY_TIMEOUT = 773;
export const SQLITE_CANTOPEN_FULLPATH = 782;

/** Open flags (sqlite3_open_v2 and xOpen). */
export const SQLITE_OPEN_READONLY = 0x1;
export const SQLITE_OPEN_READWRITE = 0x2;
export const SQLITE_OPEN_CREATE = 0x4;
export const SQLITE_OPEN_DELETEONCLOSE = 0x8;
export const SQLITE_OPEN_EXCLUSIVE = 0x10;
export const SQLITE_OPEN_AUTOPROXY = 0x20;
export const SQLITE_OPEN_URI = 0x40;
export const SQLITE_OPEN_MEMORY = 0x80;
export const SQLITE_OPEN_MAIN_DB = 0x100;
export const SQLITE_OPEN_TEMP_DB = 0x200;
export const SQLITE_OPEN_TRANSIENT_DB = 0x400;
export const SQLITE_OPEN_MAIN_JOURNAL = 0x800;
export const SQLITE_OPEN_TEMP_JOURNAL = 0x1000;
export const SQLITE_OPEN_SUBJOURNAL = 0x2000;
export const SQLITE_OPEN_SUPER_JOURNAL = 0x4000;
export const SQLITE_OPEN_NOMUTEX = 0x8000;
export const SQLITE_OPEN_FULLMUTEX = 0x10000;
export const SQLITE_OPEN_SHAREDCACHE = 0x20000;
export const SQLITE_OPEN_PRIVATECACHE = 0x40000;
export const SQLITE_OPEN_WAL = 0x80000;
export const SQLITE_OPEN_NOFOLLOW = 0x1000000;
export const SQLITE_OPEN_EXRESCODE = 0x2000000;

/** Lock levels (xLock / xUnlock). */
export const SQLITE_LOCK_NONE = 0;
export const SQLITE_LOCK_SHARED = 1;
export const SQLITE_LOCK_RESERVED = 2;
export const SQLITE_LOCK_PENDING = 3;
export const SQLITE_LOCK_EXCLUSIVE = 4;

/** xAccess flags. */
export const SQLITE_ACCESS_EXISTS = 0;
export const SQLITE_ACCESS_READWRITE = 1;
export const SQLITE_ACCESS_READ = 2;

/** xSync flags. */
export const SQLITE_SYNC_NORMAL = 0x2;
export const SQLITE_SYNC_FULL = 0x3;
export const SQLITE_SYNC_DATAONLY = 0x10;

/** xDeviceCharacteristics bits. */
export const SQLITE_IOCAP_ATOMIC = 0x1;
export const SQLITE_IOCAP_ATOMIC512 = 0x2;
export const SQLITE_IOCAP_ATOMIC1K = 0x4;
export const SQLITE_IOCAP_ATOMIC2K = 0x8;
export const SQLITE_IOCAP_ATOMIC4K = 0x10;
export const SQLITE_IOCAP_ATOMIC8K = 0x20;
export const SQLITE_IOCAP_ATOMIC16K = 0x40;
export const SQLITE_IOCAP_ATOMIC32K = 0x80;
export const SQLITE_IOCAP_ATOMIC64K = 0x100;
export const SQLITE_IOCAP_SAFE_APPEND = 0x200;
export const SQLITE_IOCAP_SEQUENTIAL = 0x400;
export const SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN = 0x800;
export const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x1000;
export const SQLITE_IOCAP_IMMUTABLE = 0x2000;
export const SQLITE_IOCAP_BATCH_ATOMIC = 0x4000;

/** xFileControl / sqlite3_file_control ops. */
export const SQLITE_FCNTL_LOCKSTATE = 1;
export const SQLITE_FCNTL_LAST_ERRNO = 4;
export const SQLITE_FCNTL_SIZE_HINT = 5;
export const SQLITE_FCNTL_CHUNK_SIZE = 6;
export const SQLITE_FCNTL_FILE_POINTER = 7;
export const SQLITE_FCNTL_SYNC_OMITTED = 8;
export const SQLITE_FCNTL_WIN32_AV_RETRY = 9;
export const SQLITE_FCNTL_PERSIST_WAL = 10;
export const SQLITE_FCNTL_OVERWRITE = 11;
export const SQLITE_FCNTL_VFSNAME = 12;
export const SQLITE_FCNTL_POWERSAFE_OVERWRITE = 13;
export const SQLITE_FCNTL_PRAGMA = 14;
export const SQLITE_FCNTL_BUSYHANDLER = 15;
export const SQLITE_FCNTL_TEMPFILENAME = 16;
export const SQLITE_FCNTL_MMAP_SIZE = 18;
export const SQLITE_FCNTL_TRACE = 19;
export const SQLITE_FCNTL_HAS_MOVED = 20;
export const SQLITE_FCNTL_SYNC = 21;
export const SQLITE_FCNTL_COMMIT_PHASETWO = 22;
export const SQLITE_FCNTL_WIN32_SET_HANDLE = 23;
export const SQLITE_FCNTL_WAL_BLOCK = 24;
export const SQLITE_FCNTL_ZIPVFS = 25;
export const SQLITE_FCNTL_RBU = 26;
export const SQLITE_FCNTL_VFS_POINTER = 27;
export const SQLITE_FCNTL_JOURNAL_POINTER = 28;
export const SQLITE_FCNTL_WIN32_GET_HANDLE = 29;
export const SQLITE_FCNTL_PDB = 30;
export const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
export const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
export const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;
export const SQLITE_FCNTL_LOCK_TIMEOUT = 34;
export const SQLITE_FCNTL_DATA_VERSION = 35;
export const SQLITE_FCNTL_SIZE_LIMIT = 36;
export const SQLITE_FCNTL_CKPT_DONE = 37;
export const SQLITE_FCNTL_RESERVE_BYTES = 38;
export const SQLITE_FCNTL_CKPT_START = 39;
export const SQLITE_FCNTL_EXTERNAL_READER = 40;
export const SQLITE_FCNTL_CKSM_FILE = 41;
export const SQLITE_FCNTL_RESET_CACHE = 42;

/** Column types (sqlite3_column_type). */
export const SQLITE_INTEGER = 1;
export const SQLITE_FLOAT = 2;
export const SQLITE_TEXT = 3;
export const SQLITE_BLOB = 4;
export const SQLITE_NULL = 5;

let transient: Deno.PointerValue | undefined;
/**
 * `SQLITE_TRANSIENT` ((sqlite3_destructor_type)-1) for the destructor argument
 * of sqlite3_bind_text/blob: SQLite copies the value. A function, not a const,
 * because creating a pointer needs --allow-ffi and importing this module should
 * not. (`null` is SQLITE_STATIC.)
 */
export function sqliteTransient(): Deno.PointerValue {
  return transient ??= Deno.UnsafePointer.create(-1n);
}

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

// ---------------------------------------------------------------------------
// Small helpers

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

// ---------------------------------------------------------------------------
// Library discovery

const byPath = new Map<string, SqliteLib>();
const byId = new Map<bigint, SqliteLib>();
/** Ids of copies this module loaded itself (not already mapped before our dlopen). */
const ourIds = new Set<bigint>();
/** Probe results for mapped files: library id, or null when not a libsqlite3. */
const probed = new Map<string, bigint | null>();

const SQLITE_NAME = /sqlite3[^/\\]*\.(so(\.\d+)*|dylib|dll)$/i;
/** @denosaurs/plug caches downloads as `<DENO_DIR>/plug/<proto>/<host>/<sha256>.<ext>`. */
const PLUG_NAME = /[/\\]plug[/\\].*[/\\][0-9a-f]{64}\.(so|dylib|dll)$/i;

const IDENTITY = {
  sqlite3_libversion: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable;
}

let loaderModules: (() => string[]) | null | undefined;

/** Paths of every shared object loaded in this process, via the dynamic loader. */
function loaderModuleList(): string[] | null {
  if (loaderModules === undefined) {
    loaderModules = null;
    try {
      if (Deno.build.os === "linux") {
        const libc = Deno.dlopen("libc.so.6", {
          dl_iterate_phdr: { parameters: ["function", "pointer"], result: "i32" },
        });
        loaderModules = () => {
          const names: string[] = [];
          // struct dl_phdr_info { ElfW(Addr) dlpi_addr; const char *dlpi_name; ... }
          const cb = new Deno.UnsafeCallback(
            { parameters: ["pointer", "usize", "pointer"], result: "i32" } as const,
            (info) => {
              const name = info ? new Deno.UnsafePointerView(info).getPointer(8) : null;
              if (name) names.push(Deno.UnsafePointerView.getCString(name));
              return 0;
            },
          );
          try {
            libc.symbols.dl_iterate_phdr(cb.pointer, null);
          } finally {
            cb.close();
          }
          return names;
        };
      } else if (Deno.build.os === "darwin") {
        const sys = Deno.dlopen("/usr/lib/libSystem.B.dylib", {
          _dyld_image_count: { parameters: [], result: "u32" },
          _dyld_get_image_name: { parameters: ["u32"], result: "pointer" },
        });
        loaderModules = () => {
          const names: string[] = [];
          const n = sys.symbols._dyld_image_count();
          for (let i = 0; i < n; i++) {
            const p = sys.symbols._dyld_get_image_name(i);
            if (p) names.push(Deno.UnsafePointerView.getCString(p));
          }
          return names;
        };
      }
    } catch (e) {
      if (isPermissionError(e)) loaderModules = undefined;
    }
  }
  return loaderModules ? loaderModules() : null;
}

/** Mapped files from /proc/self/maps (Linux; Deno 2.9 requires --allow-all for it). */
function procMapsList(): string[] {
  if (Deno.build.os !== "linux") return [];
  try {
    const out: string[] = [];
    for (const line of Deno.readTextFileSync("/proc/self/maps").split("\n")) {
      const i = line.indexOf("/");
      if (i >= 0) out.push(line.slice(i));
    }
    return out;
  } catch {
    return [];
  }
}

/** Library id of an already-loaded file, or null when it is no libsqlite3. */
function probe(path: string): bigint | null {
  let id = probed.get(path);
  if (id !== undefined) return id;
  id = null;
  try {
    const lib = Deno.dlopen(path, IDENTITY);
    id = pointerValue(lib.symbols.sqlite3_libversion());
    lib.close();
  } catch (e) {
    if (isPermissionError(e)) throw e;
  }
  probed.set(path, id);
  return id;
}

/**
 * Copies of libsqlite3 currently loaded in this process (by anyone: this
 * module, `@db/sqlite`, ...), one path per distinct copy, in load order.
 * Empty where the loaded objects cannot be listed (Windows).
 */
export function loadedSqliteLibraries(): { path: string; id: bigint }[] {
  const names = loaderModuleList() ?? procMapsList();
  const seen = new Set<bigint>();
  const out: { path: string; id: bigint }[] = [];
  for (const name of new Set(names)) {
    if (!SQLITE_NAME.test(name) && !PLUG_NAME.test(name)) continue;
    const id = probe(name);
    if (id === null || seen.has(id)) continue;
    seen.add(id);
    out.push({ path: name, id });
  }
  return out;
}

function envPath(): string | undefined {
  try {
    return Deno.env.get("DENO_SQLITE_PATH") || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

function systemCandidates(): string[] {
  switch (Deno.build.os) {
    case "darwin":
      return [
        "/usr/lib/libsqlite3.dylib",
        "/opt/homebrew/opt/sqlite/lib/libsqlite3.dylib",
        "/usr/local/opt/sqlite/lib/libsqlite3.dylib",
        "libsqlite3.dylib",
      ];
    case "windows":
      return ["sqlite3.dll", "winsqlite3.dll"];
    default:
      return ["libsqlite3.so.0", "libsqlite3.so"];
  }
}

function openLibrary(path: string): SqliteLib {
  const cached = byPath.get(path);
  if (cached) return cached;
  const before = new Set(loadedSqliteLibraries().map((l) => l.id));
  const dl = Deno.dlopen(path, SYMBOLS);
  const id = pointerValue(dl.symbols.sqlite3_libversion());
  const existing = byId.get(id);
  if (existing) {
    dl.close(); // same copy already opened under another name
    byPath.set(path, existing);
    return existing;
  }
  const rc = dl.symbols.sqlite3_initialize();
  if (rc !== SQLITE_OK) {
    dl.close();
    throw new Error(`sqlite3_initialize() failed in ${path} (code ${rc})`);
  }
  let resolved = path;
  if (!/[/\\]/.test(path)) {
    // Found by a plain name: report the loader's path for it.
    resolved = loadedSqliteLibraries().find((l) => l.id === id)?.path ?? path;
  }
  const lib: SqliteLib = {
    path: resolved,
    symbols: dl.symbols,
    version: readCString(dl.symbols.sqlite3_libversion()),
    id,
  };
  if (!before.has(id)) ourIds.add(id);
  byId.set(id, lib);
  byPath.set(path, lib);
  byPath.set(resolved, lib);
  return lib;
}

function notFound(tried: string[]): Error {
  const hint = Deno.build.os === "linux"
    ? "install it (Debian/Ubuntu: `apt-get install libsqlite3-0`; Fedora: `dnf install sqlite-libs`; Alpine: `apk add sqlite-libs`)"
    : Deno.build.os === "darwin"
    ? "install it (`brew install sqlite`)"
    : "put sqlite3.dll on the PATH";
  return new Error(
    `Could not load libsqlite3 (tried: ${tried.join("; ")}). ` +
      `Either ${hint}, set DENO_SQLITE_PATH to the library file, or pass libraryPath.`,
  );
}

/**
 * The libsqlite3 to use, in this order:
 * 1. `explicit` (a `libraryPath` option);
 * 2. a libsqlite3 already loaded in this process (e.g. the copy `@db/sqlite`
 *    loaded, including its @denosaurs/plug download cache file), preferring a
 *    copy this module did not load itself, so a VFS registers in the SAME copy;
 * 3. env `DENO_SQLITE_PATH` (what `@db/sqlite` reads);
 * 4. the system library (Linux `libsqlite3.so.0` then `libsqlite3.so`; macOS
 *    `/usr/lib/libsqlite3.dylib` then Homebrew; Windows `sqlite3.dll`).
 *
 * Steps 1-3 return the path without loading it; step 4 loads (and caches) the
 * first system library that opens. Throws when nothing can be found.
 */
export function findLibraryPath(explicit?: string): string {
  if (explicit) return explicit;
  const loaded = loadedSqliteLibraries();
  const pick = loaded.find((l) => !ourIds.has(l.id)) ?? loaded[0];
  if (pick) return byId.get(pick.id)?.path ?? pick.path;
  const env = envPath();
  if (env) return env;
  const tried: string[] = [];
  for (const candidate of systemCandidates()) {
    try {
      return openLibrary(candidate).path;
    } catch (e) {
      if (isPermissionError(e)) throw e;
      tried.push(`${candidate}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw notFound(tried);
}

/**
 * Load libsqlite3 (see {@link findLibraryPath} for the search order), once per
 * loaded copy per process, and call `sqlite3_initialize()` on first load.
 */
export function loadSqlite(path?: string): SqliteLib {
  const found = findLibraryPath(path);
  try {
    return openLibrary(found);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw notFound([`${found}: ${e instanceof Error ? e.message : String(e)}`]);
  }
}

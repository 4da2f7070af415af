/**
 * SQLite constants: result codes, open flags, lock levels, xAccess / xSync
 * flags, device characteristics, file-control ops and column types, plus
 * {@link sqliteTransient}. Re-exported by src/ffi.ts.
 *
 * @module
 */

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

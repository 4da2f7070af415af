/**
 * SQLite constants: result codes, open flags, lock levels, xAccess / xSync
 * flags, device characteristics, file-control ops and column types, plus
 * {@link sqliteTransient}; the result codes come from the src/codes.ts leaf (the
 * one source: the errors carry them too). Re-exported by src/ffi/mod.ts.
 *
 * @module
 */

// Checked against sqlite3.h of SQLite 3.40.1.

/** Result codes and extended I/O error codes: one definition, in the src/codes.ts leaf. */
export * from "../codes.ts";

// Open flags (sqlite3_open_v2 and xOpen).
/** `SQLITE_OPEN_READONLY`. */
export const SQLITE_OPEN_READONLY = 0x1;
/** `SQLITE_OPEN_READWRITE`. */
export const SQLITE_OPEN_READWRITE = 0x2;
/** `SQLITE_OPEN_CREATE`. */
export const SQLITE_OPEN_CREATE = 0x4;
export const SQLITE_OPEN_DELETEONCLOSE = 0x8;
export const SQLITE_OPEN_EXCLUSIVE = 0x10;
export const SQLITE_OPEN_AUTOPROXY = 0x20;
/** `SQLITE_OPEN_URI`: needed for `file:...?vfs=` names. */
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

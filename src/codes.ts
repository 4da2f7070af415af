/**
 * SQLite result codes, the one source for every layer (src/ffi/constants.ts
 * re-exports them): the errors carry them, the VFS returns them to SQLite.
 * Checked against sqlite3.h of SQLite 3.40.1.
 *
 * @module
 */

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
/** A write transaction lost: another commit came first (SQLITE_BUSY | 2 << 8). */
export const SQLITE_BUSY_SNAPSHOT = 517;
export const SQLITE_CANTOPEN_FULLPATH = 782;

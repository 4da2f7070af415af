/**
 * The 100-byte SQLite database header: parsing and validation. A leaf module:
 * pure functions, no I/O. Field offsets follow
 * https://www.sqlite.org/fileformat2.html#the_database_header.
 *
 * @module
 */

import { SQLITE_NOTADB } from "./codes.ts";
import { VfsError } from "./errors.ts";

/** Size of the SQLite database header in bytes. */
export const HEADER_SIZE = 100;

/** The 16 magic bytes every SQLite 3 database starts with: `"SQLite format 3\0"`. */
export const SQLITE_MAGIC: Uint8Array = new TextEncoder().encode("SQLite format 3\0");

/** SQLITE_NOTADB: the result code for "file is not a database". */

/** The fields of a SQLite database header. */
export interface SqliteHeader {
  /** Page size in bytes (a power of two, 512..65536). */
  pageSize: number;
  /** File format write version (1 legacy, 2 WAL). */
  writeVersion: number;
  /** File format read version (1 legacy, 2 WAL). */
  readVersion: number;
  /** Bytes reserved at the end of each page. */
  reservedBytes: number;
  /** File change counter (offset 24). */
  changeCounter: number;
  /** In-header database size in pages (offset 28); trust it only when {@linkcode SqliteHeader.pageCountValid}. */
  pageCount: number;
  /**
   * True when the in-header page count is valid: non-zero and the
   * version-valid-for number (offset 92) equals the change counter, as SQLite
   * itself decides.
   */
  pageCountValid: boolean;
  /** Page number of the first freelist trunk page. */
  freelistTrunk: number;
  /** Total number of freelist pages. */
  freelistCount: number;
  /** Schema cookie. */
  schemaCookie: number;
  /** Schema format number (1..4). */
  schemaFormat: number;
  /** Text encoding: 1 UTF-8, 2 UTF-16le, 3 UTF-16be. */
  textEncoding: number;
  /** `PRAGMA user_version`. */
  userVersion: number;
  /** `PRAGMA application_id`. */
  applicationId: number;
  /** Version-valid-for number (offset 92). */
  versionValidFor: number;
  /** `SQLITE_VERSION_NUMBER` of the library that last wrote the file. */
  sqliteVersion: number;
}

/** True when `bytes` starts with the SQLite magic string. */
export function hasSqliteMagic(bytes: Uint8Array): boolean {
  if (bytes.length < SQLITE_MAGIC.length) return false;
  for (let i = 0; i < SQLITE_MAGIC.length; i++) if (bytes[i] !== SQLITE_MAGIC[i]) return false;
  return true;
}

/**
 * Parses and validates the first 100 bytes of a SQLite database file.
 *
 * Throws a {@linkcode VfsError} (code SQLITE_NOTADB) when there are fewer than
 * 100 bytes, the magic string `"SQLite format 3\0"` is missing, or the page
 * size (bytes 16-17, big-endian, 1 meaning 65536) is not a power of two
 * between 512 and 65536.
 *
 * @example Reading the page size of a file
 * ```ts
 * import { parseSqliteHeader } from "./header.ts";
 * const bytes = new Uint8Array(100);
 * bytes.set(new TextEncoder().encode("SQLite format 3\0"));
 * bytes[16] = 0x10; // page size 4096, big-endian
 * const h = parseSqliteHeader(bytes);
 * if (h.pageSize !== 4096) throw new Error(`page size ${h.pageSize}`);
 * ```
 */
export function parseSqliteHeader(bytes: Uint8Array): SqliteHeader {
  if (bytes.length < HEADER_SIZE) {
    throw new VfsError(
      `not a SQLite database: ${bytes.length} bytes is shorter than the ${HEADER_SIZE}-byte SQLite header`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  if (!hasSqliteMagic(bytes)) {
    throw new VfsError(
      'not a SQLite database: the file does not start with "SQLite format 3\\0"',
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new VfsError(
      `not a valid SQLite database: page size ${rawPageSize} (header bytes 16-17) is not a power of two between 512 and 65536`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  const changeCounter = view.getUint32(24);
  const pageCount = view.getUint32(28);
  const versionValidFor = view.getUint32(92);
  return {
    pageSize,
    writeVersion: view.getUint8(18),
    readVersion: view.getUint8(19),
    reservedBytes: view.getUint8(20),
    changeCounter,
    pageCount,
    pageCountValid: pageCount > 0 && versionValidFor === changeCounter,
    freelistTrunk: view.getUint32(32),
    freelistCount: view.getUint32(36),
    schemaCookie: view.getUint32(40),
    schemaFormat: view.getUint32(44),
    textEncoding: view.getUint32(56),
    userVersion: view.getUint32(60),
    applicationId: view.getUint32(68),
    versionValidFor,
    sqliteVersion: view.getUint32(96),
  };
}

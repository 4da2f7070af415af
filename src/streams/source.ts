/**
 * The source side of {@linkcode deserialize}: turning any accepted source
 * into an async iterator, and deciding whether what arrived is a complete
 * SQLite database.
 *
 * @module
 */

import { SQLITE_NOTADB } from "../codes.ts";
import { VfsError } from "../errors.ts";
import { HEADER_SIZE, parseSqliteHeader, SQLITE_MAGIC, type SqliteHeader } from "../header.ts";
import type { DeserializeSource } from "./types.ts";

/** An async iterator over the source's chunks (nothing is read yet). */
export function sourceIterator(source: DeserializeSource): AsyncIterator<Uint8Array> {
  if (source instanceof Uint8Array) {
    return (async function* (): AsyncGenerator<Uint8Array> {
      yield source;
    })();
  }
  if (source instanceof ReadableStream) return source[Symbol.asyncIterator]();
  if (source && typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function") {
    return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }
  if (source && typeof (source as Iterable<Uint8Array>)[Symbol.iterator] === "function") {
    const it = (source as Iterable<Uint8Array>)[Symbol.iterator]();
    return {
      next: (): Promise<IteratorResult<Uint8Array>> => Promise.resolve(it.next()),
      return: (): Promise<IteratorResult<Uint8Array>> =>
        Promise.resolve(it.return?.() ?? { done: true, value: undefined }),
    };
  }
  throw new TypeError(
    "deserialize source must be a ReadableStream, an (async) iterable of Uint8Array or a Uint8Array",
  );
}

/** Why the source was not accepted, decided once the source has ended. */
export function checkComplete(
  total: number,
  head: Uint8Array,
  header: SqliteHeader | undefined,
): void {
  if (!header) {
    const n = Math.min(head.length, SQLITE_MAGIC.length);
    const looksLikeSqlite = head.subarray(0, n).every((b, i) => b === SQLITE_MAGIC[i]);
    throw new VfsError(
      looksLikeSqlite
        ? `truncated SQLite database: the source ended after ${total} bytes, inside the ${HEADER_SIZE}-byte header`
        : `not a SQLite database: the source is only ${total} bytes and does not start with "SQLite format 3\\0"`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  if (total % header.pageSize !== 0) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes is not a multiple of the page size ${header.pageSize}`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
  if (header.pageCountValid && total < header.pageCount * header.pageSize) {
    throw new VfsError(
      `truncated SQLite database: ${total} bytes, but the header says ${header.pageCount} pages of ` +
        `${header.pageSize} bytes (${header.pageCount * header.pageSize} bytes)`,
      { sqliteCode: SQLITE_NOTADB },
    );
  }
}

/** Collects the first 100 bytes of the source and parses the header as soon as they are in. */
export class HeaderReader {
  readonly head: Uint8Array = new Uint8Array(HEADER_SIZE);
  length = 0;
  header: SqliteHeader | undefined;

  /**
   * Takes the start of `chunk`; throws "not a SQLite database" as soon as the
   * magic differs. Returns the header once complete.
   */
  take(chunk: Uint8Array): SqliteHeader | undefined {
    if (this.header || this.length >= HEADER_SIZE) return this.header;
    const n = Math.min(HEADER_SIZE - this.length, chunk.length);
    this.head.set(chunk.subarray(0, n), this.length);
    this.length += n;
    if (
      this.length >= SQLITE_MAGIC.length &&
      !this.head.subarray(0, SQLITE_MAGIC.length).every((b, i) => b === SQLITE_MAGIC[i])
    ) {
      parseSqliteHeader(this.head); // throws "not a SQLite database"
    }
    if (this.length === HEADER_SIZE) this.header = parseSqliteHeader(this.head);
    return this.header;
  }
}

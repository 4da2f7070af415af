/**
 * The public option, result and context types of the stream transfers
 * ({@linkcode serialize}, {@linkcode deserialize} and their file and
 * S3-object conveniences).
 *
 * @module
 */

import type { StoreCheckMode } from "../log/store_check.ts";
import type { Timing } from "../log/rules.ts";
import type { S3Client } from "../s3/client.ts";

/** Where the blocks of a database live and how they are transferred. */
export interface BlockStoreContext {
  /** The S3 client. */
  client: S3Client;
  /** Bucket holding the block objects. */
  bucket: string;
  /** Block size used when writing (deserialize). Serialize reads whatever block size is stored. */
  blockSize: number;
  /**
   * Requests in flight at once (default: 16 MiB of blocks, 2..64 requests;
   * 64 for 4 KiB blocks). Serialize sends at most this many GETs at once;
   * deserialize uploads up to min(4, this) staged chunks at once, together
   * at most 16 MiB (and at most this many times max(block size, 256 KiB)).
   */
  concurrency?: number;
  /** Timing of the commit log for a database deserialize creates (default `DEFAULT_TIMING`). */
  timing?: Timing;
  /** `false`: deserialize neither takes nor waits for the writer lease (the VFS's `lease: false`). */
  lease?: false;
  /** The store check before the first write (default `enforce`; the VFS's `storeCheck`). */
  storeCheck?: StoreCheckMode;
}

/** Progress of a transfer. */
export interface TransferProgress {
  /** Bytes of the database done so far. */
  bytes: number;
  /** Total size of the database in bytes, when known. */
  total?: number;
}

/** Options of {@linkcode serialize}. */
export interface SerializeOptions {
  /** Called after every chunk with the bytes handed out so far and the total (the size at the snapshot). */
  onProgress?: (progress: TransferProgress) => void;
  /** Aborts the transfer: the stream errors with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Fresh snapshots allowed when "snapshot too old" is met before the first
   * chunk has been handed out (default 3). Later, the stream errors.
   */
  maxRetries?: number;
  /**
   * The database as it was at this txid or time (the kept history, see
   * `S3VFS.history`), instead of now. A snapshot no longer kept errors with
   * "no longer kept".
   */
  at?: number | Date;
  /**
   * Bytes of blocks fetched ahead of the reader, per window; two windows are
   * in flight at once, so memory is about twice this (default 8 MiB; at least
   * one block). Chunks handed out are up to 1 MiB (or this, if smaller).
   */
  windowBytes?: number;
}

/**
 * A byte source for {@linkcode deserialize}: chunks of any size, in order.
 * Each chunk is copied before the next one is requested, so a source may
 * reuse its buffer.
 */
export type DeserializeSource =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array;

/** Options of {@linkcode deserialize}. */
export interface DeserializeOptions {
  /** Replace a database already stored under the prefix (default false: refuse). */
  overwrite?: boolean;
  /** Called after every block stored with the bytes stored so far and the total, when known. */
  onProgress?: (progress: TransferProgress) => void;
  /**
   * Aborts the transfer before its commit: the staged chunks are deleted, then
   * the signal's reason is thrown. A commit already under way is finished and
   * its outcome reported (never guessed).
   */
  signal?: AbortSignal;
  /** Size of the source in bytes, when known (for progress; checked against the source). */
  size?: number;
}

/** Result of {@linkcode deserialize}. */
export interface DeserializeResult {
  /** Bytes stored (the database's size). */
  bytes: number;
  /** Blocks of the new database. */
  blocks: number;
  /** The txid of the commit that made it visible (0 when nothing was written). */
  txid: number;
}

/** Options of {@linkcode serializeToObject}. */
export interface SerializeToObjectOptions extends SerializeOptions {
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
  partSize?: number;
  /** Content-Type of the object (default `application/vnd.sqlite3`). */
  contentType?: string;
}

/** Result of {@linkcode serializeToObject}. */
export interface SerializeToObjectResult {
  /** Bytes written (the database's size). */
  bytes: number;
  /** ETag of the object written. */
  etag: string;
  /** Parts uploaded (0 when the database fit one part and was sent with a single PUT). */
  parts: number;
}

/** Options of {@linkcode deserializeFromObject}. */
export interface DeserializeFromObjectOptions extends DeserializeOptions {
  /** Bytes per ranged GET of the source object (default 8 MiB). */
  pieceSize?: number;
}

/** A parsed `s3://bucket/key` URL. */
export interface S3ObjectLocation {
  /** Bucket name. */
  bucket: string;
  /** Object key (not percent-decoded). */
  key: string;
}

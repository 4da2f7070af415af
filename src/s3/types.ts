/**
 * Types of the S3 client's API, in a module of their own so that the client
 * and the modules it is built from (transport, multipart) import them without
 * importing each other.
 *
 * @module
 */

import type { S3ConnectionOptions } from "./config.ts";

/** Kinds of request, as counted by {@linkcode RequestEvent}. */
export type RequestKind =
  | "GET"
  | "GET_COND"
  | "HEAD"
  | "PUT"
  | "DELETE"
  | "DELETE_MANY"
  | "LIST"
  | "MULTIPART"
  | "BUCKET";

/** Reported after every request (once, whatever the number of attempts). */
export interface RequestEvent {
  /** What the request was. */
  kind: RequestKind;
  /** Final HTTP status (0 when none arrived). */
  status: number;
  /** Body bytes received. */
  bytesIn: number;
  /** Body bytes sent. */
  bytesOut: number;
  /** Attempts made. */
  attempts: number;
  /** Wall time in ms including retries. */
  ms: number;
}

/** Options of {@linkcode S3Client}. */
export interface S3ClientOptions extends S3ConnectionOptions {
  /** Called after every request, for accounting. */
  onRequest?: (event: RequestEvent) => void;
  /** The fetch to use (tests may stub it). Default: global fetch. */
  fetch?: typeof fetch;
  /** Base and cap of the retry backoff, in ms (default 100 and 5000). */
  retryDelayMs?: { base: number; max: number };
}

/** Result of {@linkcode S3Client.get}. */
export type GetResult =
  | {
    status: "ok";
    /** The object's bytes (or the requested range). */
    body: Uint8Array;
    /** ETag, quotes included. */
    etag: string;
    /** Total object size (from Content-Range for ranged reads). */
    size: number;
    /** User metadata (`x-amz-meta-*`), names lower case without the prefix. */
    meta: Record<string, string>;
    /** Last-Modified, when sent. */
    lastModified?: Date;
    /** The server's clock (the `Date` header), when sent. */
    date?: Date;
  }
  | { status: "absent" }
  | { status: "not-modified"; etag: string };

/** Options of {@linkcode S3Client.get}. */
export interface GetOptions {
  /** Byte range: first byte and length. A range past the end returns what exists. */
  range?: { offset: number; length: number };
  /** ETag: answer `not-modified` if the object still has it. */
  ifNoneMatch?: string;
  /** Abort signal. */
  signal?: AbortSignal;
}

/** Result of {@linkcode S3Client.head}. */
export interface HeadResult {
  /** ETag, quotes included. */
  etag: string;
  /** Object size in bytes. */
  size: number;
  /** Last-Modified, when sent. */
  lastModified?: Date;
  /** User metadata (`x-amz-meta-*`), names lower case without the prefix. */
  meta: Record<string, string>;
  /** The server's clock (the `Date` header), when sent. */
  date?: Date;
}

/** Options of {@linkcode S3Client.put}. */
export interface PutOptions {
  /** Write only if the current ETag is this one (412 otherwise). */
  ifMatch?: string;
  /** `"*"`: write only if the object does not exist (412 otherwise). */
  ifNoneMatch?: string;
  /** Content-Type header. */
  contentType?: string;
  /** User metadata, sent as `x-amz-meta-<name>` (names: lower case letters, digits, `-`). */
  meta?: Record<string, string>;
  /** Abort signal. */
  signal?: AbortSignal;
}

/** One object of a listing. */
export interface ListEntry {
  /** Full key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** ETag, quotes included. */
  etag: string;
  /** Last modification time. */
  lastModified: Date;
}

/** Options of {@linkcode S3Client.list}. */
export interface ListOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys sorting after this one. */
  startAfter?: string;
  /** Keys per page (1..1000, default 1000). */
  pageSize?: number;
}

/** One finished part of a multipart upload. */
export interface CompletedPart {
  /** 1-based part number. */
  partNumber: number;
  /** ETag returned by UploadPart. */
  etag: string;
}

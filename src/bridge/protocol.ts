/**
 * Messages and shared-memory layout between the caller side of the bridge
 * (caller.ts, on SQLite's thread) and the I/O worker (worker.ts): types,
 * constants and the result helpers both sides and the VFS share, so that
 * importing them loads no worker code.
 *
 * A call is a list of phases run one after another; the operations of one
 * phase run concurrently (bounded). A failed operation stops later phases, so
 * "flush these blocks, then block 0" is one round trip that never writes
 * block 0 after a failure.
 *
 * Response layout in the data SharedArrayBuffer:
 * `[u32 metaLength][meta JSON (UTF-8)][payload bytes]`; each result's
 * `offset`/`length` point into the payload. Control words (Int32Array):
 * `[STATE, NEEDED, SEQ]`.
 *
 * @module
 */

import { S3Error, type S3ErrorInit } from "../errors.ts";
import type { RequestKind } from "../s3/types.ts";

/** Control word: state of the current call. */
export const CTRL_STATE = 0;
/** Control word: bytes the response needs when STATE is NEED_SPACE. */
export const CTRL_NEEDED = 1;
/** Control word: sequence number of the call the caller is waiting for. */
export const CTRL_SEQ = 2;
/** Waiting for the worker. */
export const STATE_PENDING = 0;
/** Response written. */
export const STATE_DONE = 1;
/** Response does not fit: caller must send a bigger buffer (`collect`). */
export const STATE_NEED_SPACE = 2;
/** Startup: the worker module loaded and listens for messages. */
export const STATE_READY = 3;
/** Startup: the worker module failed to load; its message is in the data buffer. */
export const STATE_FAILED = 4;

/** What the worker's loader gets as `workerData`. */
export interface WorkerData {
  /** The control words (startup state in CTRL_STATE). */
  ctrl: SharedArrayBuffer;
  /** Where a startup failure's message goes: `[u32 length][UTF-8]`. */
  data: SharedArrayBuffer;
}

/** One operation on an object, addressed by key in the VFS's bucket. */
export type BridgeOp =
  | { op: "get"; key: string; ifNoneMatch?: string }
  | {
    op: "put";
    key: string;
    /** The body (caller side; the bridge moves it into the request buffer). */
    data?: Uint8Array;
    /** Offset of the body in the call's request buffer (worker side). */
    at?: number;
    /** Length of the body in the request buffer. */
    length?: number;
  }
  | { op: "delete"; key: string }
  | { op: "deleteMany"; keys: string[] }
  | { op: "stat"; prefix: string };

/** What one operation produced. */
export interface BridgeResult {
  /** "ok", "absent" (GET of a missing object), "not-modified" (304) or "error". */
  status: "ok" | "absent" | "not-modified" | "error";
  /** ETag of the object read or written. */
  etag?: string;
  /** Payload offset (GET). */
  offset?: number;
  /** Payload length (GET). */
  length?: number;
  /** `stat`: sum of their sizes. */
  size?: number;
  /** `stat`: the highest block index + 1 (count when contiguous). */
  end?: number;
  /** The failure, when status is "error". */
  error?: S3ErrorInit;
  /** Set when a phase was skipped because an earlier one failed. */
  skipped?: boolean;
}

/** Per-call accounting returned with every response. */
export interface BridgeStats {
  /** Requests by kind. */
  requests: Partial<Record<RequestKind, number>>;
  /** Response body bytes. */
  bytesIn: number;
  /** Request body bytes. */
  bytesOut: number;
  /** Requests that needed more than one attempt. */
  retried: number;
}

/** Metadata part of a response. */
export interface BridgeMeta {
  /** Results per phase, per operation. */
  results: BridgeResult[][];
  /** Accounting for this call. */
  stats: BridgeStats;
}

/** Settings the worker needs to build its S3 client. */
export interface WorkerInit {
  /** Message type. */
  type: "init";
  /** Endpoint URL. */
  endpoint: string;
  /** Region. */
  region: string;
  /** Credentials. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style URLs. */
  forcePathStyle: boolean;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Attempts per request. */
  maxAttempts: number;
  /** Bucket. */
  bucket: string;
  /** Requests in flight per phase. */
  concurrency: number;
}

/** Caller -> worker messages. */
export type ToWorker =
  | WorkerInit
  | {
    type: "call";
    seq: number;
    phases: BridgeOp[][];
    ctrl: SharedArrayBuffer;
    data: SharedArrayBuffer;
    /** PUT bodies, at each op's `at`/`length` (no per-body message copies). */
    req: SharedArrayBuffer;
  }
  | { type: "collect"; seq: number; data: SharedArrayBuffer };

/** A result with its payload resolved to bytes. */
export interface OpResult extends BridgeResult {
  /** GET payload (a copy, owned by the caller). */
  data?: Uint8Array;
}

/** Turns a failed result into the S3Error it carries. */
export function resultError(r: BridgeResult): S3Error {
  return new S3Error(
    r.error ??
      { status: 0, code: "Skipped", message: "not run after an earlier failure", method: "?" },
  );
}

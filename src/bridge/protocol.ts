/**
 * Messages and shared-memory layout between the caller side of the bridge
 * (caller.ts, on SQLite's thread) and the I/O worker (worker.ts): types,
 * constants and the result helpers both sides and the VFS share, so that
 * importing them loads no worker code.
 *
 * A call is one batch of commit-log operations (src/log/store.ts), run
 * concurrently (bounded); S3 failures are answers (statuses), never errors.
 * Background work (checkpoints, retention) runs in the worker between and
 * during calls and is accounted separately.
 *
 * Response layout in the data SharedArrayBuffer:
 * `[u32 metaLength][meta JSON (UTF-8)][payload bytes]`; each result's
 * `offset`/`length` point into the payload. Control words (Int32Array):
 * `[STATE, NEEDED, SEQ]`.
 *
 * @module
 */

import type { ConfigRecord } from "../log/format.ts";
import type { StoreOp, StoreResult } from "../log/store.ts";
import type { RequestKind } from "../s3/types.ts";

/** Control word: state of the current call. */
export const CTRL_STATE = 0;
/** Control word: bytes the response needs when STATE is NEED_SPACE. */
export const CTRL_NEEDED = 1;
/** Control word: sequence number of the call the caller is waiting for. */
export const CTRL_SEQ = 2;
/** Control word: DRAIN_PENDING while the caller waits for background work to end. */
export const CTRL_DRAIN = 3;
/** Drain requested, background work still running. */
export const DRAIN_PENDING = 1;
/**
 * Drained: no background work runs any more. The data buffer then holds
 * `[u32 length][JSON {background, maintenance}]`: what it did since the last call.
 */
export const DRAIN_DONE = 2;
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

/**
 * One operation of the commit-log protocol (src/log/store.ts) on the VFS's
 * bucket. A PUT's body travels in the call's request buffer: the caller
 * replaces `store.body` by its place there (`at`, `length`).
 */
export interface BridgeOp {
  /** The operation (a PUT's body emptied once moved). */
  store: StoreOp;
  /** Offset of the PUT body in the request buffer. */
  at?: number;
  /** Length of the PUT body in the request buffer. */
  length?: number;
}

/** What one operation produced: the answer without its body, which is in the payload. */
export interface BridgeResult {
  /** The answer (status, Date, ETag, metadata, ...). */
  result: StoreResult;
  /** Payload offset of the body (GET). */
  offset?: number;
  /** Payload length of the body (GET). */
  length?: number;
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

/** What background maintenance did (counts since the last report). */
export interface MaintenanceStats {
  /** Maintenance runs (a checkpoint, with retention when due). */
  runs: number;
  /** Runs that folded commits into the blocks. */
  folds: number;
  /** Commits folded. */
  commits: number;
  /** Block objects written. */
  blocks: number;
  /** Runs that found another checkpointer holding the claim. */
  busy: number;
  /** Runs that failed (an S3 error: e.g. read-only credentials). */
  failures: number;
  /** The last failure's message. */
  lastFailure?: string;
}

/** The store check before the first write (once per worker), since the last report. */
export interface StoreCheckStats {
  /** Its requests. */
  requests: BridgeStats;
  /** Its verdict, once it finished. */
  verdict?: "many-writers" | "read-only" | "unusable";
  /** How long it took (ms). */
  ms?: number;
  /** Required capabilities the store lacks. */
  missing?: string[];
  /** Whether the store's ETags are content hashes. */
  contentEtags?: boolean;
}

/** What the worker hands over besides a call's own accounting (with a call, or at a drain). */
export interface BridgeSide {
  /** Accounting of background work (checkpoints, retention). */
  background?: BridgeStats;
  /** What background maintenance did. */
  maintenance?: MaintenanceStats;
  /** The store check. */
  check?: StoreCheckStats;
}

/** Metadata part of a response. */
export interface BridgeMeta {
  /** Results, per operation. */
  results: BridgeResult[];
  /** Accounting for this call. */
  stats: BridgeStats;
  /** Accounting of background work (checkpoints, retention) since the last call. */
  background: BridgeStats;
  /** What background maintenance did since the last call. */
  maintenance: MaintenanceStats;
  /** The store check, since the last call. */
  check: StoreCheckStats;
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
  /** Requests in flight per call. */
  concurrency: number;
  /** The store check before the first write. */
  storeCheck: "enforce" | "single-writer";
}

/** Background work on one database: a checkpoint, then retention when due. */
export interface MaintainRequest {
  /** Message type. */
  type: "maintain";
  /** Database name. */
  prefix: string;
  /** Its config (block size, timing). */
  config: ConfigRecord;
}

/**
 * Worker -> caller: `count` maintenance requests are dealt with (run, or
 * skipped). The caller keeps the process alive while some are not.
 */
export interface MaintenanceDone {
  /** Message type. */
  type: "done";
  /** Requests dealt with. */
  count: number;
}

/** Caller -> worker messages. */
export type ToWorker =
  | WorkerInit
  | MaintainRequest
  | {
    type: "call";
    seq: number;
    ops: BridgeOp[];
    ctrl: SharedArrayBuffer;
    data: SharedArrayBuffer;
    /** PUT bodies, at each op's `at`/`length` (no per-body message copies). */
    req: SharedArrayBuffer;
  }
  | { type: "collect"; seq: number; data: SharedArrayBuffer }
  /**
   * Start no more background work; stop the runs in progress once `budgetMs`
   * passed (each gives its claim up), then set CTRL_DRAIN to DRAIN_DONE.
   */
  | { type: "drain"; budgetMs: number; ctrl: SharedArrayBuffer; data: SharedArrayBuffer };

/**
 * Caller side of the sync-over-async bridge. SQLite calls the VFS
 * synchronously; {@linkcode Bridge.call} posts a batch of S3 operations to
 * the I/O worker and blocks in `Atomics.wait` (with a timeout, so a dead
 * worker cannot hang the caller) until the worker has written the response
 * into a SharedArrayBuffer.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
// Loaded here too (it does nothing outside the worker) so that the main thread
// downloads the worker's modules when the package is remote: the worker
// cannot fetch modules while the main thread waits for it in Atomics.wait.
import "./worker.ts";
import { SQLITE_IOERR } from "../codes.ts";
import { VfsError } from "../errors.ts";
import type { StoreOp, StoreResult } from "../log/store.ts";
import {
  type BridgeMeta,
  type BridgeOp,
  type BridgeSide,
  type BridgeStats,
  CTRL_DRAIN,
  CTRL_NEEDED,
  CTRL_SEQ,
  CTRL_STATE,
  DRAIN_DONE,
  DRAIN_PENDING,
  type MaintainRequest,
  type MaintenanceDone,
  STATE_DONE,
  STATE_FAILED,
  STATE_NEED_SPACE,
  STATE_PENDING,
  STATE_READY,
  type ToWorker,
  type WorkerData,
  type WorkerInit,
} from "./protocol.ts";

/**
 * The worker's entry: a `data:` module that imports the real worker module.
 * `node:worker_threads` starts workers only from `file:` and `data:` URLs,
 * and a package imported from JSR has an `https:` URL; the loader also
 * reports a module that fails to load (a missing permission) instead of
 * leaving the caller waiting.
 */
export function workerLoaderUrl(moduleUrl: URL): URL {
  const code = `import { workerData } from "node:worker_threads";
try { await import(${JSON.stringify(moduleUrl.href)}); } catch (e) {
  const msg = new TextEncoder().encode(String(e?.message ?? e));
  const d = new Uint8Array(workerData.data), n = Math.min(msg.length, d.length - 4);
  new DataView(workerData.data).setUint32(0, n, true); d.set(msg.subarray(0, n), 4);
  const c = new Int32Array(workerData.ctrl); Atomics.store(c, ${CTRL_STATE}, ${STATE_FAILED}); Atomics.notify(c, ${CTRL_STATE});
}`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** How long the constructor waits for the worker's module to load (at most). */
const START_TIMEOUT_MS = 20_000;

/** The caller side: owns the worker and the shared buffers. */
export class Bridge {
  #worker: Worker;
  #ctrl = new Int32Array(new SharedArrayBuffer(16));
  #data = new SharedArrayBuffer(1 << 20);
  #req = new SharedArrayBuffer(1 << 20);
  #seq = 0;
  #timeoutMs: number;
  #closed = false;
  /** Maintenance requests the worker has not dealt with yet. */
  #maintaining = 0;
  /** Called with each call's accounting, the ms spent waiting, and what came beside it. */
  onStats?: (stats: BridgeStats, waitedMs: number, side: BridgeSide) => void;

  /**
   * Starts the worker and waits until its module has loaded (or failed to:
   * then throws a VfsError with the reason, e.g. the permission flag to
   * add); `timeoutMs` bounds the start and each whole call.
   */
  constructor(init: WorkerInit, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    const moduleUrl = new URL("./worker.ts", import.meta.url);
    const workerData: WorkerData = {
      ctrl: this.#ctrl.buffer as SharedArrayBuffer,
      data: this.#data,
    };
    this.#worker = new Worker(workerLoaderUrl(moduleUrl), { workerData });
    this.#worker.unref(); // an idle worker never keeps the process alive
    this.#worker.on("message", (m: MaintenanceDone) => {
      if (m?.type !== "done") return;
      this.#maintaining = Math.max(0, this.#maintaining - m.count);
      if (this.#maintaining === 0 && !this.#closed) this.#worker.unref();
    });
    const startMs = Math.min(timeoutMs, START_TIMEOUT_MS);
    Atomics.wait(this.#ctrl, CTRL_STATE, STATE_PENDING, startMs);
    const state = Atomics.load(this.#ctrl, CTRL_STATE);
    if (state !== STATE_READY) {
      void this.#worker.terminate();
      this.#closed = true;
      const why = state === STATE_FAILED
        ? new TextDecoder().decode(
          new Uint8Array(this.#data, 4, new DataView(this.#data).getUint32(0, true)),
        )
        : `it did not load within ${startMs} ms. Deno cannot download the worker's modules ` +
          "while the main thread waits for it: this happens under `deno run --reload`; " +
          "run `deno cache --reload <script>` first, then run without --reload";
      throw new VfsError(`cannot start the S3 I/O worker ${moduleUrl.href}: ${why}`, {
        sqliteCode: SQLITE_IOERR,
      });
    }
    this.#post(init);
  }

  #post(msg: ToWorker): void {
    this.#worker.postMessage(msg);
  }

  /**
   * Runs one batch of protocol operations concurrently and returns their
   * answers in order (a GET's body copied out, owned by the caller). Throws
   * VfsError when the worker does not answer in time or the bridge is
   * closed; S3 failures are answers.
   */
  call(ops: StoreOp[]): StoreResult[] {
    if (this.#closed) throw new VfsError("S3VFS is closed", { sqliteCode: SQLITE_IOERR });
    const started = performance.now();
    const seq = ++this.#seq;
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, CTRL_STATE, STATE_PENDING);
    Atomics.store(ctrl, CTRL_SEQ, seq);
    this.#post({
      type: "call",
      seq,
      ops: this.#movePayloads(ops),
      ctrl: ctrl.buffer as SharedArrayBuffer,
      data: this.#data,
      req: this.#req,
    });
    const deadline = started + this.#timeoutMs;
    while (true) {
      const left = deadline - performance.now();
      if (left <= 0) {
        Atomics.store(ctrl, CTRL_SEQ, 0); // late answers are dropped by the worker
        throw new VfsError(`S3 I/O did not finish within ${this.#timeoutMs} ms`, {
          sqliteCode: SQLITE_IOERR,
        });
      }
      Atomics.wait(ctrl, CTRL_STATE, STATE_PENDING, left);
      const state = Atomics.load(ctrl, CTRL_STATE);
      if (state === STATE_NEED_SPACE) {
        const needed = Atomics.load(ctrl, CTRL_NEEDED);
        this.#data = new SharedArrayBuffer(Math.max(needed, this.#data.byteLength * 2));
        Atomics.store(ctrl, CTRL_STATE, STATE_PENDING);
        this.#post({ type: "collect", seq, data: this.#data });
        continue;
      }
      if (state === STATE_DONE) break;
    }
    const view = new DataView(this.#data);
    const metaLen = view.getUint32(0, true);
    const bytes = new Uint8Array(this.#data);
    const meta = JSON.parse(new TextDecoder().decode(bytes.slice(4, 4 + metaLen))) as BridgeMeta;
    const base = 4 + metaLen;
    const out = meta.results.map((r): StoreResult =>
      r.offset !== undefined && r.length !== undefined
        ? { ...r.result, body: bytes.slice(base + r.offset, base + r.offset + r.length) }
        : r.result
    );
    this.onStats?.(meta.stats, performance.now() - started, meta);
    return out;
  }

  /**
   * Asks the worker to checkpoint `prefix` (and clean up when due) in the
   * background. Until it is dealt with, the worker keeps the process alive:
   * a script that ends meanwhile exits once the run is over.
   */
  maintain(request: Omit<MaintainRequest, "type">): void {
    if (this.#closed) return;
    if (this.#maintaining++ === 0) this.#worker.ref();
    this.#post({ type: "maintain", ...request });
  }

  /**
   * Stops background work: no new run starts, the runs in progress stop
   * starting new writes after `budgetMs` (giving their claim up). Blocks until
   * none runs, at most `waitMs`; false if they still ran then.
   */
  drain(budgetMs: number, waitMs: number): boolean {
    if (this.#closed) return true;
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, CTRL_DRAIN, DRAIN_PENDING);
    new DataView(this.#data).setUint32(0, 0, true);
    this.#post({
      type: "drain",
      budgetMs,
      ctrl: ctrl.buffer as SharedArrayBuffer,
      data: this.#data,
    });
    Atomics.wait(ctrl, CTRL_DRAIN, DRAIN_PENDING, waitMs);
    if (Atomics.load(ctrl, CTRL_DRAIN) !== DRAIN_DONE) return false;
    const n = new DataView(this.#data).getUint32(0, true);
    if (n > 0) {
      const last = JSON.parse(new TextDecoder().decode(new Uint8Array(this.#data).slice(4, 4 + n)));
      this.onBackground?.(last);
    }
    return true;
  }

  /** Called with the background accounting a drain hands over. */
  onBackground?: (side: BridgeSide) => void;

  /** PUT bodies go into the shared request buffer: posting each one as a message costs ~0.3 ms. */
  #movePayloads(ops: StoreOp[]): BridgeOp[] {
    let need = 0;
    for (const op of ops) if (op.kind === "put") need += op.body.length;
    if (need > this.#req.byteLength) {
      this.#req = new SharedArrayBuffer(Math.max(need, this.#req.byteLength * 2));
    }
    const bytes = new Uint8Array(this.#req);
    let at = 0;
    return ops.map((op): BridgeOp => {
      if (op.kind !== "put") return { store: op };
      bytes.set(op.body, at);
      const moved: BridgeOp = {
        store: { ...op, body: new Uint8Array(0) },
        at,
        length: op.body.length,
      };
      at += op.body.length;
      return moved;
    });
  }

  /** Stops the worker. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#worker.terminate();
  }
}

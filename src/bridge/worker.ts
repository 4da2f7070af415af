/**
 * Worker side of the bridge: runs the commit-log operations of a call, many
 * in flight, and writes the response into shared memory for the caller
 * blocked in Atomics.wait; runs checkpoints and retention in the background
 * when asked (`maintain`), counted apart. Never blocks itself (so terminate() always works). A
 * `node:worker_threads` worker, so the caller can `unref()` it: a script that
 * forgets `vfs.close()` still exits.
 *
 * @module
 */

import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { checkpoint } from "../log/checkpoint.ts";
import { runAsync } from "../log/driver.ts";
import { FoldMemory } from "../log/fold_memory.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { StoreCheckResult } from "../log/store_check.ts";
import { S3Client } from "../s3/client.ts";
import { mapLimit } from "../s3/retry.ts";
import {
  type BridgeMeta,
  type BridgeOp,
  type BridgeResult,
  type BridgeStats,
  CTRL_DRAIN,
  CTRL_NEEDED,
  CTRL_SEQ,
  CTRL_STATE,
  DRAIN_DONE,
  type MaintainRequest,
  type MaintenanceDone,
  type MaintenanceStats,
  STATE_DONE,
  STATE_NEED_SPACE,
  STATE_READY,
  type StoreCheckStats,
  type ToWorker,
  type WorkerData,
  type WorkerInit,
} from "./protocol.ts";

let client: S3Client | undefined;
let init: WorkerInit | undefined;
let store: S3LogStore | undefined;
/** Background work (checkpoints, retention) has its own client, counted in `background`. */
let backgroundStore: S3LogStore | undefined;
let stats: BridgeStats = newStats();
let background: BridgeStats = newStats();
let maintenance: MaintenanceStats = newMaintenance();
let check: StoreCheckStats = { requests: newStats() };
const pending = new Map<number, { ctrl: Int32Array; meta: Uint8Array; payload: Uint8Array[] }>();
/** Databases with a maintenance run in progress, and whether another was asked for meanwhile. */
const maintaining = new Map<string, MaintainRequest | null>();
/** Requests of a database that came during its run: answered when the next run ends. */
const absorbed = new Map<string, number>();
/** Per database: no run is started before this (local ms): nothing is due, or it failed. */
const quietUntil = new Map<string, number>();
/** Set by a drain: no new run starts; running ones stop starting batches after `deadline`. */
let draining: { deadline: number; ctrl: Int32Array; data: SharedArrayBuffer } | undefined;
/** How long a database is left alone after a failed run (read-only credentials, say). */
const FAILURE_BACKOFF_MS = 60_000;
/** Runs in a row on one database while commits keep being due. */
const MAX_CHAINED_RUNS = 16;

function newMaintenance(): MaintenanceStats {
  return { runs: 0, folds: 0, commits: 0, blocks: 0, busy: 0, failures: 0 };
}

function newStats(): BridgeStats {
  return { requests: {}, bytesIn: 0, bytesOut: 0, retried: 0 };
}

/** A client of `init` whose requests are counted in what `into` returns. */
function countingClient(msg: WorkerInit, into: () => BridgeStats): S3Client {
  return new S3Client({
    endpoint: msg.endpoint,
    region: msg.region,
    credentials: msg.credentials,
    forcePathStyle: msg.forcePathStyle,
    timeoutMs: msg.timeoutMs,
    maxAttempts: msg.maxAttempts,
    onRequest: (e) => {
      const s = into();
      s.requests[e.kind] = (s.requests[e.kind] ?? 0) + 1;
      s.bytesIn += e.bytesIn;
      s.bytesOut += e.bytesOut;
      if (e.attempts > 1) s.retried++;
    },
  });
}

async function runCall(
  ops: BridgeOp[],
  req: SharedArrayBuffer,
): Promise<{ results: BridgeResult[]; payload: Uint8Array[] }> {
  const payload: Uint8Array[] = [];
  let offset = 0;
  const results = await mapLimit(ops, init!.concurrency, async (op): Promise<BridgeResult> => {
    let s = op.store;
    if (s.kind === "put" && op.length !== undefined) {
      // Copied out of shared memory: fetch does not take SharedArrayBuffer views.
      s = { ...s, body: new Uint8Array(req, op.at ?? 0, op.length).slice() };
    }
    const r = await store!.run(s);
    if (!r.body) return { result: r };
    const { body, ...rest } = r;
    payload.push(body);
    const at = offset;
    offset += body.length;
    return { result: rest, offset: at, length: body.length };
  });
  return { results, payload };
}

/**
 * Background work on one database, one run at a time per database: a
 * checkpoint under the checkpoint claim, with retention when due (both in
 * `checkpoint`). Runs again at once while it folds (bounded), then stays
 * quiet until the next commit may be folded. Failures are counted and
 * backed off; nothing here is on a commit's path.
 */
/** Databases whose blocks the background checkpointer remembers between runs (most recent last). */
const foldMemories = new Map<string, FoldMemory>();

/** The background checkpointer's memory of `prefix` (./log/fold_memory.ts); 16 databases at most. */
function foldMemory(prefix: string): FoldMemory {
  const m = foldMemories.get(prefix) ?? new FoldMemory();
  foldMemories.delete(prefix);
  foldMemories.set(prefix, m);
  if (foldMemories.size > 16) foldMemories.delete(foldMemories.keys().next().value!);
  return m;
}

async function maintain(req: MaintainRequest, requests = 1): Promise<void> {
  if (maintaining.has(req.prefix)) {
    maintaining.set(req.prefix, req); // run again when the current run ends
    absorbed.set(req.prefix, (absorbed.get(req.prefix) ?? 0) + requests);
    return;
  }
  if (draining || performance.now() < (quietUntil.get(req.prefix) ?? -Infinity)) {
    return done(requests);
  }
  maintaining.set(req.prefix, null);
  try {
    for (let run = 0; run < MAX_CHAINED_RUNS && !draining; run++) {
      maintenance.runs++;
      const out = await runAsync(
        checkpoint(req.prefix, req.config, {
          concurrency: init!.concurrency,
          requestTimeoutMs: init!.timeoutMs,
          memory: foldMemory(req.prefix),
          shouldStop: () => draining !== undefined && performance.now() >= draining.deadline,
        }),
        backgroundStore!,
      );
      if (out.kind === "folded") {
        maintenance.folds++;
        maintenance.commits += out.to - out.from;
        maintenance.blocks += out.written;
        continue; // maybe more is due
      }
      if (out.kind === "idle") {
        quietUntil.set(req.prefix, performance.now() + (out.nextInMs ?? req.config.timing.graceMs));
      } else if (out.kind === "busy") {
        maintenance.busy++;
        quietUntil.set(req.prefix, performance.now() + Math.min(out.waitMs, 60_000));
      } else if (out.kind === "replaced" || out.kind === "none") {
        quietUntil.set(req.prefix, Infinity);
      }
      break;
    }
  } catch (e) {
    maintenance.failures++;
    maintenance.lastFailure = e instanceof Error ? e.message : String(e);
    quietUntil.set(req.prefix, performance.now() + FAILURE_BACKOFF_MS);
  } finally {
    const again = maintaining.get(req.prefix);
    const more = absorbed.get(req.prefix) ?? 0;
    maintaining.delete(req.prefix);
    absorbed.delete(req.prefix);
    done(requests);
    if (again) void maintain(again, more);
    if (draining && maintaining.size === 0) drained();
  }
}

/** Tells the caller that `count` maintenance requests are dealt with (it keeps the process alive until then). */
function done(count: number): void {
  if (count === 0) return;
  const msg: MaintenanceDone = { type: "done", count };
  parentPort?.postMessage(msg);
}

/** Starts draining: no new run; running ones stop after `budgetMs`; DRAIN_DONE once none runs. */
function drain(budgetMs: number, ctrlBuffer: SharedArrayBuffer, data: SharedArrayBuffer): void {
  const ctrl = new Int32Array(ctrlBuffer);
  draining ??= { deadline: performance.now() + budgetMs, ctrl, data };
  draining.deadline = Math.min(draining.deadline, performance.now() + budgetMs);
  draining.ctrl = ctrl;
  draining.data = data;
  if (maintaining.size === 0) drained();
}

/** Hands the background accounting over with DRAIN_DONE (the caller makes no call after). */
function drained(): void {
  if (!draining) return;
  const json = new TextEncoder().encode(JSON.stringify({ background, maintenance, check }));
  if (4 + json.length <= draining.data.byteLength) {
    new DataView(draining.data).setUint32(0, json.length, true);
    new Uint8Array(draining.data).set(json, 4);
    background = newStats();
    maintenance = newMaintenance();
    check = { requests: newStats() };
  }
  Atomics.store(draining.ctrl, CTRL_DRAIN, DRAIN_DONE);
  Atomics.notify(draining.ctrl, CTRL_DRAIN);
}

function deliver(
  seq: number,
  ctrl: Int32Array,
  data: SharedArrayBuffer,
  meta: Uint8Array,
  payload: Uint8Array[],
): void {
  if (Atomics.load(ctrl, CTRL_SEQ) !== seq) return; // the caller gave up on this call
  const total = 4 + meta.length + payload.reduce((n, p) => n + p.length, 0);
  if (total > data.byteLength) {
    pending.set(seq, { ctrl, meta, payload });
    Atomics.store(ctrl, CTRL_NEEDED, total);
    Atomics.store(ctrl, CTRL_STATE, STATE_NEED_SPACE);
    Atomics.notify(ctrl, CTRL_STATE);
    return;
  }
  const bytes = new Uint8Array(data);
  new DataView(data).setUint32(0, meta.length, true);
  bytes.set(meta, 4);
  let at = 4 + meta.length;
  for (const p of payload) {
    bytes.set(p, at);
    at += p.length;
  }
  Atomics.store(ctrl, CTRL_STATE, STATE_DONE);
  Atomics.notify(ctrl, CTRL_STATE);
}

/**
 * Starts serving calls: only inside the worker (bridge.ts imports this module
 * too, so that a remote package's worker modules are downloaded by the main
 * thread before it blocks: the worker cannot fetch modules while the main
 * thread waits).
 */
function serve(port: MessagePort, data: WorkerData): void {
  port.on("message", async (msg: ToWorker) => {
    switch (msg.type) {
      case "init":
        init = msg;
        client = countingClient(msg, () => stats);
        {
          // The store check's requests are counted apart, in `check`.
          const checked = {
            storeCheck: msg.storeCheck,
            checkClient: countingClient(msg, () => check.requests),
            onCheck: (r: StoreCheckResult): void => {
              check.verdict = r.report.verdict;
              check.ms = r.ms;
              check.missing = r.report.missing;
              check.contentEtags = r.report.contentEtags;
            },
          };
          store = new S3LogStore(client, msg.bucket, checked);
          backgroundStore = new S3LogStore(
            countingClient(msg, () => background),
            msg.bucket,
            checked,
          );
        }
        return;
      case "maintain":
        void maintain(msg);
        return;
      case "call": {
        const ctrl = new Int32Array(msg.ctrl);
        const { results, payload } = await runCall(msg.ops, msg.req);
        const meta: BridgeMeta = { results, stats, background, maintenance, check };
        stats = newStats();
        background = newStats();
        maintenance = newMaintenance();
        check = { requests: newStats() };
        deliver(msg.seq, ctrl, msg.data, new TextEncoder().encode(JSON.stringify(meta)), payload);
        return;
      }
      case "drain":
        drain(msg.budgetMs, msg.ctrl, msg.data);
        return;
      case "collect": {
        const p = pending.get(msg.seq);
        pending.delete(msg.seq);
        if (p) deliver(msg.seq, p.ctrl, msg.data, p.meta, p.payload);
        return;
      }
    }
  });
  // Tell the caller (blocked in the Bridge constructor) that messages are heard now.
  const ctrl = new Int32Array(data.ctrl);
  Atomics.store(ctrl, CTRL_STATE, STATE_READY);
  Atomics.notify(ctrl, CTRL_STATE);
}

const data = workerData as WorkerData | undefined;
if (parentPort && data?.ctrl instanceof SharedArrayBuffer) serve(parentPort, data);

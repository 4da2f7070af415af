/**
 * Worker side of the bridge: runs the S3 requests of a call, many in flight,
 * and writes the response into shared memory for the caller blocked in
 * Atomics.wait. Never blocks itself (so terminate() always works). A
 * `node:worker_threads` worker, so the caller can `unref()` it: a script that
 * forgets `vfs.close()` still exits.
 *
 * @module
 */

import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { S3Error } from "../errors.ts";
import { S3Client } from "../s3/client.ts";
import { mapLimit } from "../s3/retry.ts";
import { listBlocks } from "../blocks.ts";
import {
  type BridgeMeta,
  type BridgeOp,
  type BridgeResult,
  type BridgeStats,
  CTRL_NEEDED,
  CTRL_SEQ,
  CTRL_STATE,
  STATE_DONE,
  STATE_NEED_SPACE,
  STATE_READY,
  type ToWorker,
  type WorkerData,
  type WorkerInit,
} from "./protocol.ts";

let client: S3Client | undefined;
let init: WorkerInit | undefined;
let stats: BridgeStats = newStats();
const pending = new Map<number, { ctrl: Int32Array; meta: Uint8Array; payload: Uint8Array[] }>();

function newStats(): BridgeStats {
  return { requests: {}, bytesIn: 0, bytesOut: 0, retried: 0 };
}

async function runOp(
  op: BridgeOp,
  payload: Uint8Array[],
  offset: { n: number },
  req: SharedArrayBuffer,
): Promise<BridgeResult> {
  const c = client!;
  const bucket = init!.bucket;
  switch (op.op) {
    case "get": {
      const r = await c.get(bucket, op.key, { ifNoneMatch: op.ifNoneMatch });
      if (r.status !== "ok") {
        return { status: r.status, etag: r.status === "not-modified" ? r.etag : undefined };
      }
      payload.push(r.body);
      const at = offset.n;
      offset.n += r.body.length;
      return { status: "ok", etag: r.etag, offset: at, length: r.body.length };
    }
    case "put": {
      // Copied out of shared memory: fetch does not take SharedArrayBuffer views.
      const body = op.data ?? new Uint8Array(req, op.at ?? 0, op.length ?? 0).slice();
      return { status: "ok", etag: (await c.put(bucket, op.key, body)).etag };
    }
    case "delete":
      await c.delete(bucket, op.key);
      return { status: "ok" };
    case "deleteMany":
      await c.deleteMany(bucket, op.keys, init!.concurrency);
      return { status: "ok" };
    case "stat": {
      const blocks = await listBlocks(c, bucket, op.prefix);
      const size = blocks.reduce((n, b) => n + b.size, 0);
      return { status: "ok", size, end: (blocks.at(-1)?.index ?? -1) + 1 };
    }
  }
}

async function runCall(
  phases: BridgeOp[][],
  req: SharedArrayBuffer,
): Promise<{ results: BridgeResult[][]; payload: Uint8Array[] }> {
  const payload: Uint8Array[] = [];
  const offset = { n: 0 };
  const results: BridgeResult[][] = [];
  let failed = false;
  for (const phase of phases) {
    if (failed) {
      results.push(phase.map(() => ({ status: "error", skipped: true })));
      continue;
    }
    const out = await mapLimit(phase, init!.concurrency, async (op) => {
      try {
        return await runOp(op, payload, offset, req);
      } catch (err) {
        failed = true;
        const e = err instanceof S3Error ? err.toJSON() : {
          status: 0,
          code: "WorkerError",
          message: err instanceof Error ? err.message : String(err),
          method: op.op.toUpperCase(),
          key: "key" in op ? op.key : undefined,
        };
        return { status: "error", error: e } as BridgeResult;
      }
    });
    results.push(out);
  }
  return { results, payload };
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
        client = new S3Client({
          endpoint: msg.endpoint,
          region: msg.region,
          credentials: msg.credentials,
          forcePathStyle: msg.forcePathStyle,
          timeoutMs: msg.timeoutMs,
          maxAttempts: msg.maxAttempts,
          onRequest: (e) => {
            stats.requests[e.kind] = (stats.requests[e.kind] ?? 0) + 1;
            stats.bytesIn += e.bytesIn;
            stats.bytesOut += e.bytesOut;
            if (e.attempts > 1) stats.retried++;
          },
        });
        return;
      case "call": {
        const ctrl = new Int32Array(msg.ctrl);
        const { results, payload } = await runCall(msg.phases, msg.req);
        const meta: BridgeMeta = { results, stats };
        stats = newStats();
        deliver(msg.seq, ctrl, msg.data, new TextEncoder().encode(JSON.stringify(meta)), payload);
        return;
      }
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

/**
 * Echo worker for bench/bridge_probe.ts: answers every message with 0, as a
 * `node:worker_threads` worker (workerData.node) or as a web Worker.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";

if (workerData?.node) {
  parentPort!.on("message", () => parentPort!.postMessage(0));
} else {
  const scope = globalThis as unknown as {
    onmessage: (() => void) | null;
    postMessage(m: unknown): void;
  };
  scope.onmessage = () => scope.postMessage(0);
}

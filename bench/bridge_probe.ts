/**
 * Micro-benchmark behind a finding of bench/RESULTS.md: what it costs to
 * post a batch of PUT payloads (3,160 blocks of 4 KiB, the bulk load's
 * commit) to a worker, the way src/bridge.ts posts `phases` to its
 * `node:worker_threads` worker, compared with a web Worker and with passing
 * offsets into a SharedArrayBuffer. No S3 involved.
 *
 *   deno run -A bench/bridge_probe.ts
 *
 * @module
 */

import { Worker as NodeWorker } from "node:worker_threads";

const BLOCKS = 3160;
const B = 4096;

if (import.meta.main) {
  const url = new URL("./bridge_probe_worker.ts", import.meta.url);
  const node = new NodeWorker(url, { workerData: { node: true } });
  const web = new Worker(url, { type: "module" });
  const ops = (): { op: string; key: string; data: Uint8Array }[] =>
    Array.from({ length: BLOCKS }, (_, i) => ({
      op: "put",
      key: `db/${String(i).padStart(10, "0")}`,
      data: new Uint8Array(B),
    }));
  const offsets = Array.from(
    { length: BLOCKS },
    (_, i) => ({ op: "put", offset: i * B, length: B }),
  );
  const timeNode = async (msg: unknown): Promise<number> => {
    const p = new Promise((r) => node.once("message", r));
    const t = performance.now();
    node.postMessage(msg);
    await p;
    return performance.now() - t;
  };
  const timeWeb = async (msg: unknown): Promise<number> => {
    const p = new Promise((r) => (web.onmessage = r));
    const t = performance.now();
    web.postMessage(msg);
    await p;
    return performance.now() - t;
  };
  const rows: [string, () => Promise<number>][] = [
    [
      "node:worker_threads, one Uint8Array per op (as src/bridge.ts)",
      () => timeNode({ phases: [ops()] }),
    ],
    [
      "node:worker_threads, offsets + one SharedArrayBuffer",
      () => timeNode({ phases: [offsets], data: new SharedArrayBuffer(BLOCKS * B) }),
    ],
    ["web Worker, one Uint8Array per op", () => timeWeb({ phases: [ops()] })],
  ];
  console.log(`posting ${BLOCKS} PUT payloads of ${B} bytes to a worker and back (ms, 5 runs):`);
  for (const [label, fn] of rows) {
    const t: number[] = [];
    for (let i = 0; i < 5; i++) t.push(await fn());
    console.log(`  ${label}: ${t.map((x) => x.toFixed(1)).join(", ")}`);
  }
  await node.terminate();
  web.terminate();
}

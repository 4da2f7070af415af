/**
 * One step of the bulk benchmark (bench/bulk.ts), in its own process so that
 * its peak RSS is its own: reads a JSON {@linkcode StepInput} from
 * `BULK_STEP`, runs the step, prints one JSON {@linkcode StepOutput} line.
 *
 * Steps: `put-plain` / `get-plain` (the file as one object, the reference),
 * `import` (deserializeFromFile), `export` (serializeToFile), `checkpoint`
 * (until nothing is left to fold), `ceiling-get` (every block object GET with
 * the S3Client, 64 in flight: the fastest this client reads them),
 * `ceiling-put` (`count` block-sized objects PUT, 64 in flight: the store's
 * PUT rate), `cp` (serialize piped into deserialize), `sql` (through the
 * VFS: 50 cold point queries, a cold full scan, 50 single-row commits as the
 * writer lease holder; what a block size costs per query and per commit).
 *
 * @module
 */

import { Database } from "../scripts/db_sqlite.ts";
import { S3VFS } from "../mod.ts";
import { blockIndexOf } from "../src/blocks.ts";
import { S3LogStore } from "../src/log/s3_store.ts";
import type { Timing } from "../src/log/rules.ts";
import { S3Client } from "../src/s3/client.ts";
import { mapLimit } from "../src/s3/retry.ts";
import {
  deserialize,
  deserializeFromFile,
  serialize,
  serializeToFile,
} from "../src/streams/mod.ts";
import { checkpointUntilDone } from "../src/vfs/checkpoint_call.ts";
import type { Requests } from "./config.ts";
import { RequestCounter } from "./requests.ts";

/** What a step is told. */
export interface StepInput {
  step:
    | "put-plain"
    | "get-plain"
    | "import"
    | "export"
    | "checkpoint"
    | "ceiling-get"
    | "ceiling-put"
    | "cp"
    | "sql";
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Database (or plain object) key. */
  prefix: string;
  /** Local file: read by put-plain and import, written by export. */
  file: string;
  blockSize: number;
  /** Timing of databases created (short, so a checkpoint can fold soon). */
  timing: Timing;
  /** cp's target prefix. */
  target?: string;
  /** ceiling-put: objects written. */
  count?: number;
}

/** What a step reports. */
export interface StepOutput {
  step: string;
  ms: number;
  bytes: number;
  requests: Requests;
  /** RSS before the step and its peak during it, MiB. */
  baselineRssMiB: number;
  peakRssMiB: number;
  detail?: Record<string, number | string>;
}

/** Point queries, a scan and commits through the VFS, each phase on a fresh VFS (cold cache). */
function sqlCosts(input: StepInput): Record<string, number> {
  const options = {
    endpoint: input.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
    bucket: input.bucket,
    blockSize: input.blockSize,
    timing: input.timing,
  };
  const out: Record<string, number> = {};
  const phase = (name: string, n: number, fn: (db: Database, i: number) => void) => {
    using vfs = new S3VFS(options);
    const db = new Database(vfs.uri(input.prefix), { int64: true });
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      fn(db, i);
      times.push(performance.now() - t);
    }
    db.close();
    const s = vfs.stats();
    times.sort((a, b) => a - b);
    out[`${name}MedianMs`] = Math.round(times[Math.floor(n / 2)] * 100) / 100;
    out[`${name}Requests`] = Math.round(s.requests.total / n * 100) / 100;
    out[`${name}KiBIn`] = Math.round(s.bytesIn / n / 1024);
    out[`${name}KiBOut`] = Math.round(s.bytesOut / n / 1024);
  };
  const rows = Number(
    (() => {
      using vfs = new S3VFS(options);
      const db = new Database(vfs.uri(input.prefix));
      const [n] = db.prepare("SELECT max(id) FROM t").value<[number]>()!;
      db.close();
      return n;
    })(),
  );
  // The same pseudo-random ids in every run.
  const id = (i: number) => ((i + 1) * 2654435761 % 4294967296) % rows + 1;
  phase("point", 50, (db, i) => db.prepare("SELECT v FROM t WHERE id = ?").value(id(i)));
  phase("scan", 1, (db) => db.prepare("SELECT count(*), sum(length(v)) FROM t").value());
  phase(
    "commit",
    50,
    (db, i) => db.exec("INSERT INTO t(name, v) VALUES (?, randomblob(180))", `c${i}`),
  );
  return out;
}

const input = JSON.parse(Deno.env.get("BULK_STEP") ?? "null") as StepInput;
if (!input) throw new Error("BULK_STEP (JSON) is not set: run bench/bulk.ts");
const counter = new RequestCounter();
const client = new S3Client({
  endpoint: input.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
  onRequest: counter.hook,
});
const ctx = {
  client,
  bucket: input.bucket,
  blockSize: input.blockSize,
  timing: input.timing,
};

const mib = (n: number) => n / 1048576;
let plainBytes: Uint8Array | undefined;
if (input.step === "put-plain") plainBytes = await Deno.readFile(input.file); // before the clock
const baselineRssMiB = mib(Deno.memoryUsage().rss);
let peak = Deno.memoryUsage().rss;
const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);

const t0 = performance.now();
let bytes = 0;
let detail: Record<string, number | string> | undefined;
switch (input.step) {
  case "put-plain":
    await client.put(input.bucket, input.prefix, plainBytes!);
    bytes = plainBytes!.length;
    break;
  case "get-plain": {
    const r = await client.get(input.bucket, input.prefix);
    if (r.status !== "ok") throw new Error(`no object ${input.prefix}`);
    bytes = r.body.length;
    break;
  }
  case "import":
    bytes = (await deserializeFromFile(ctx, input.prefix, input.file)).bytes;
    break;
  case "export":
    bytes = (await serializeToFile(ctx, input.prefix, input.file)).bytes;
    break;
  case "checkpoint": {
    const out = await checkpointUntilDone(new S3LogStore(client, input.bucket), input.prefix, {
      requestTimeoutMs: 10_000,
    }, { waitMs: 0 });
    if (out.kind !== "folded") throw new Error(`checkpoint: ${JSON.stringify(out)}`);
    detail = { written: out.written, blocks: out.blocks };
    bytes = out.written * input.blockSize;
    break;
  }
  case "ceiling-get": {
    const keys: string[] = [];
    for await (const e of client.list(input.bucket, { prefix: `${input.prefix}/` })) {
      if (blockIndexOf(input.prefix, e.key) !== undefined && e.size > 0) keys.push(e.key);
    }
    counter.reset(); // the LIST is not part of the reads
    const t = performance.now();
    await mapLimit(keys, 64, async (k) => {
      const r = await client.get(input.bucket, k);
      if (r.status === "ok") bytes += r.body.length;
    });
    detail = { objects: keys.length, listMs: Math.round(t - t0) };
    break;
  }
  case "ceiling-put": {
    // The store's rate of small PUTs, 64 in flight: what a checkpoint writing blocks is bound by.
    const n = input.count ?? 4096;
    const body = new Uint8Array(input.blockSize);
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      64,
      (i) => client.put(input.bucket, `${input.prefix}/${String(i).padStart(10, "0")}`, body),
    );
    bytes = n * input.blockSize;
    detail = { objects: n };
    break;
  }
  case "sql":
    detail = sqlCosts(input);
    break;
  case "cp":
    bytes = (await deserialize(ctx, input.target!, serialize(ctx, input.prefix))).bytes;
    break;
  default:
    throw new Error(`unknown step ${input.step}`);
}
let ms = performance.now() - t0;
if (detail?.listMs !== undefined) ms -= Number(detail.listMs);
clearInterval(sampler);
peak = Math.max(peak, Deno.memoryUsage().rss);
const out: StepOutput = {
  step: input.step,
  ms,
  bytes,
  requests: counter.requests,
  baselineRssMiB,
  peakRssMiB: mib(peak),
  ...(detail ? { detail } : {}),
};
console.log(JSON.stringify(out));

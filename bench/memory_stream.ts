/**
 * Memory and throughput of whole-database transfers: makes a >= 256 MiB
 * SQLite database with @db/sqlite (a table of random blobs),
 * `deserializeFromFile`s it into MinIO, then `serializeToFile`s it back,
 * sampling `Deno.memoryUsage().rss` every 50 ms. Prints MiB/s and peak RSS
 * per direction, checks that the round trip is byte-identical, and asserts
 * that the peak RSS of the asserted configuration stays under 128 MiB.
 *
 * Each configuration runs in a fresh Deno process (this file with
 * `--child`), so one configuration's heap does not inflate the next one's
 * numbers; MinIO and the database are shared.
 *
 * Standalone: `deno run -A bench/memory_stream.ts [--size=256]
 * [--configs=1m:2!,1m:16,64k:16] [--limit=128]` where each config is
 * `blockSize:concurrency`, `!` marking the one(s) whose peak RSS is asserted
 * (starts MinIO with scripts/minio.ts, or uses `S3_ENDPOINT`). From the
 * bench suite: call {@linkcode runMemoryStreamBench}.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Database } from "../scripts/db_sqlite.ts";
import { startMinio } from "../scripts/minio.ts";
import { S3Client } from "../src/s3/client.ts";
import {
  type BlockStoreContext,
  deserializeFromFile,
  serializeToFile,
} from "../src/streams/mod.ts";

const MiB = 1024 * 1024;

/** One transfer configuration to measure. */
export interface MemoryStreamConfig {
  /** Block size in bytes. */
  blockSize: number;
  /** Requests in flight. */
  concurrency: number;
  /** Whether the peak RSS limit is asserted for this configuration. */
  assert: boolean;
}

/** The default configurations: 1 MiB blocks x 2 in flight (asserted), x 16, and 64 KiB blocks x 16. */
export const DEFAULT_MEMORY_CONFIGS: readonly MemoryStreamConfig[] = [
  { blockSize: MiB, concurrency: 2, assert: true },
  { blockSize: MiB, concurrency: 16, assert: false },
  { blockSize: 64 * 1024, concurrency: 16, assert: false },
];

/** Options of {@linkcode runMemoryStreamBench}. */
export interface MemoryStreamBenchOptions {
  /** Database size in MiB (default 256; the database made is slightly larger). */
  sizeMiB?: number;
  /** Configurations to run (default {@linkcode DEFAULT_MEMORY_CONFIGS}). */
  configs?: readonly MemoryStreamConfig[];
  /** Peak RSS limit in MiB for asserted configurations (default 128). */
  limitMiB?: number;
  /** Where to print progress and results (default console.log). */
  log?: (line: string) => void;
}

/** Measurements of one direction. */
export interface DirectionResult {
  /** Wall time in seconds. */
  seconds: number;
  /** Throughput in MiB/s. */
  mibPerSec: number;
  /** Peak RSS of the process during this direction, MiB. */
  peakRssMiB: number;
}

/** Measurements of one configuration. */
export interface MemoryStreamResult {
  /** The configuration measured. */
  config: MemoryStreamConfig;
  /** Database size in bytes. */
  dbBytes: number;
  /** RSS of the fresh process before the transfers, MiB. */
  baselineRssMiB: number;
  /** deserializeFromFile (file -> S3). */
  deserialize: DirectionResult;
  /** serializeToFile (S3 -> file). */
  serialize: DirectionResult;
  /** Peak RSS over both directions, MiB. */
  peakRssMiB: number;
  /** Whether the serialized file equals the original byte for byte. */
  identical: boolean;
}

/** Runs `sql` on the local database file `path` with @db/sqlite. */
function execLocal(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  const buf = new Uint8Array(MiB);
  while (true) {
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/** Samples RSS every `ms` ms; `peak()` is the highest value seen since the last `reset()`. */
function rssSampler(ms: number): { peak(): number; reset(): void; stop(): void } {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), ms);
  return {
    peak: () => Math.max(peak, Deno.memoryUsage().rss),
    reset: () => (peak = Deno.memoryUsage().rss),
    stop: () => clearInterval(timer),
  };
}

const fmtSize = (n: number): string => n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`;

interface ChildResult {
  dbBytes: number;
  baselineRssMiB: number;
  deserialize: DirectionResult;
  serialize: DirectionResult;
}

/** The measured part, run in a fresh process: file -> S3 -> file. */
async function measure(
  client: S3Client,
  bucket: string,
  src: string,
  out: string,
  blockSize: number,
  concurrency: number,
): Promise<ChildResult> {
  const ctx: BlockStoreContext = { client, bucket, blockSize, concurrency };
  const prefix = `bench-${blockSize}-${concurrency}.db`;
  const dbBytes = (await Deno.stat(src)).size;
  const baseline = Deno.memoryUsage().rss;
  const sampler = rssSampler(50);
  try {
    let t = performance.now();
    await deserializeFromFile(ctx, prefix, src, { overwrite: true });
    let s = (performance.now() - t) / 1000;
    const deserialize = {
      seconds: s,
      mibPerSec: dbBytes / MiB / s,
      peakRssMiB: sampler.peak() / MiB,
    };
    sampler.reset();
    t = performance.now();
    await serializeToFile(ctx, prefix, out);
    s = (performance.now() - t) / 1000;
    const serialize = {
      seconds: s,
      mibPerSec: dbBytes / MiB / s,
      peakRssMiB: sampler.peak() / MiB,
    };
    return { dbBytes, baselineRssMiB: baseline / MiB, deserialize, serialize };
  } finally {
    sampler.stop();
  }
}

async function runChild(
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string },
  args: string[],
): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", ...args],
    env: {
      S3_ENDPOINT: s3.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `benchmark child failed (${out.code}): ${new TextDecoder().decode(out.stderr)}${stdout}`,
    );
  }
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/**
 * Runs the benchmark against MinIO (started here, or `S3_ENDPOINT`), each
 * configuration in a fresh process, and returns the measurements. Throws
 * when an asserted configuration's peak RSS reaches the limit or a round
 * trip is not byte-identical (after printing every result).
 */
export async function runMemoryStreamBench(
  options: MemoryStreamBenchOptions = {},
): Promise<MemoryStreamResult[]> {
  const log = options.log ?? ((line: string): void => console.log(line));
  const sizeMiB = options.sizeMiB ?? 256;
  const limitMiB = options.limitMiB ?? 128;
  const configs = options.configs ?? DEFAULT_MEMORY_CONFIGS;
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-bench-mem-" });
  const s3 = await startMinio({ quiet: true });
  const results: MemoryStreamResult[] = [];
  try {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const bucket = `bench-mem-${crypto.randomUUID().slice(0, 8)}`;
    await client.createBucket(bucket);

    const src = `${dir}/big.db`;
    const rows = Math.ceil((sizeMiB * MiB) / 4000 * 1.02);
    const t0 = performance.now();
    execLocal(
      src,
      `PRAGMA page_size=65536; PRAGMA journal_mode=OFF; CREATE TABLE t(b BLOB);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ${rows})
       INSERT INTO t SELECT randomblob(4000) FROM c;`,
    );
    const srcHash = await sha256File(src);
    log(
      `memory_stream: a ${((await Deno.stat(src)).size / MiB).toFixed(1)} MiB database (made in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s), file -> S3 -> file, each configuration in a fresh process`,
    );

    for (const config of configs) {
      const out = `${dir}/out.db`;
      const c = await runChild(s3, [
        `--bucket=${bucket}`,
        `--src=${src}`,
        `--out=${out}`,
        `--block=${config.blockSize}`,
        `--concurrency=${config.concurrency}`,
      ]);
      const identical = (await Deno.stat(out)).size === c.dbBytes &&
        (await sha256File(out)) === srcHash;
      await Deno.remove(out);
      const r: MemoryStreamResult = {
        config,
        ...c,
        peakRssMiB: Math.max(c.deserialize.peakRssMiB, c.serialize.peakRssMiB),
        identical,
      };
      results.push(r);
      log(
        `  blocks ${fmtSize(config.blockSize)} x ${config.concurrency} in flight: ` +
          `deserialize ${c.deserialize.mibPerSec.toFixed(0)} MiB/s (peak RSS ${
            c.deserialize.peakRssMiB.toFixed(0)
          } MiB), ` +
          `serialize ${c.serialize.mibPerSec.toFixed(0)} MiB/s (peak RSS ${
            c.serialize.peakRssMiB.toFixed(0)
          } MiB); ` +
          `baseline RSS ${c.baselineRssMiB.toFixed(0)} MiB; ${
            identical ? "byte-identical" : "ROUND TRIP DIFFERS"
          }` +
          (config.assert ? ` [asserted: peak < ${limitMiB} MiB]` : ""),
      );
      const keys: string[] = [];
      for await (const e of client.list(bucket)) keys.push(e.key);
      if (keys.length) await client.deleteMany(bucket, keys);
    }
    await client.deleteBucket(bucket);
  } finally {
    await s3.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  for (const r of results) {
    if (!r.identical) {
      throw new Error(
        `round trip with ${fmtSize(r.config.blockSize)} blocks is not byte-identical`,
      );
    }
    if (r.config.assert && r.peakRssMiB >= limitMiB) {
      throw new Error(
        `peak RSS ${r.peakRssMiB.toFixed(1)} MiB >= ${limitMiB} MiB with ${
          fmtSize(r.config.blockSize)
        } blocks x ` +
          `${r.config.concurrency} in flight`,
      );
    }
  }
  return results;
}

function parseSize(text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`bad block size ${JSON.stringify(text)} (e.g. 1m, 64k, 4096)`);
  return Number(m[1]) * (m[2].toLowerCase() === "m" ? MiB : m[2].toLowerCase() === "k" ? 1024 : 1);
}

function parseConfigs(text: string): MemoryStreamConfig[] {
  return text.split(",").map((part) => {
    const m = /^([^:!]+):(\d+)(!?)$/.exec(part.trim());
    if (!m) {
      throw new Error(
        `bad config ${JSON.stringify(part)} (expected blockSize:concurrency[!], e.g. 1m:2!)`,
      );
    }
    return { blockSize: parseSize(m[1]), concurrency: Number(m[2]), assert: m[3] === "!" };
  });
}

if (import.meta.main) {
  const args = new Map<string, string>();
  for (const a of Deno.args) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      console.error(`unknown argument ${a}`);
      Deno.exit(2);
    }
    args.set(m[1], m[2] ?? "");
  }
  try {
    if (args.has("child")) {
      const client = new S3Client();
      const r = await measure(
        client,
        args.get("bucket")!,
        args.get("src")!,
        args.get("out")!,
        Number(args.get("block")),
        Number(args.get("concurrency")),
      );
      console.log(JSON.stringify(r));
    } else {
      await runMemoryStreamBench({
        sizeMiB: Number(args.get("size") ?? 256),
        limitMiB: Number(args.get("limit") ?? 128),
        configs: args.has("configs") ? parseConfigs(args.get("configs")!) : undefined,
      });
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}

/**
 * The bulk benchmark (issue 18): whole databases moved at the store's limit.
 * For each database size and block size: the file as one plain object (PUT,
 * GET: the reference), import, export while the data is still in the log,
 * checkpoint, export from the block objects beside the fastest this project's
 * S3 client GETs those objects (64 in flight), and cp; each step in its own
 * process (bench/bulk_step.ts) with its peak RSS; Python sqlite-s3vfs's
 * `deserialize_iter` / `serialize_iter` of the same file in the same run.
 * Every export is compared with the source file byte for byte.
 *
 *   deno task bench:bulk [--sizes 256,1024] [--block-sizes 4096] [--python 256] [--sql] [--out file]
 *
 * `--python` lists the sizes (MiB) the Python peer runs (default the smallest;
 * `none` skips it). `--sql` adds, per block size, what SQL through the VFS
 * costs: cold point queries, a cold scan and single-row commits. MinIO is started on tmpfs (bench/bench_minio.ts) unless
 * `S3_ENDPOINT` is set. Results: bench/results.bulk.json (or `--out`) and a
 * markdown table on stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Database } from "../scripts/db_sqlite.ts";
import { S3Client } from "../src/s3/client.ts";
import { startBenchMinio } from "./bench_minio.ts";
import { log, type WorkloadResult } from "./config.ts";
import { ensurePythonDeps, runPeer } from "./peer.ts";
import type { StepInput, StepOutput } from "./bulk_step.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "256,1024" },
    "block-sizes": { type: "string", default: "4096" },
    python: { type: "string" },
    sql: { type: "boolean", default: false },
    out: { type: "string", default: new URL("./results.bulk.json", import.meta.url).pathname },
  },
});
const sizes = args.values.sizes!.split(",").map(Number);
const withSql = args.values.sql!;
const blockSizes = args.values["block-sizes"]!.split(",").map(Number);
const pythonSizes = args.values.python === "none"
  ? []
  : (args.values.python?.split(",").map(Number) ?? [Math.min(...sizes)]);

/** A database of about `mib` MiB: rows of a short text and a 180-byte blob, with an index. */
function makeDb(path: string, mib: number): number {
  const db = new Database(path);
  try {
    db.exec("PRAGMA page_size = 4096; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v BLOB)");
    db.exec("CREATE INDEX t_name ON t(name)");
    const rows = Math.round(mib * 1048576 / 278); // measured: ~278 bytes per row with the index
    db.exec(
      `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) ` +
        "INSERT INTO t SELECT x, hex(randomblob(8)), randomblob(180) FROM c",
    );
  } finally {
    db.close();
  }
  return Deno.statSync(path).size;
}

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function step(input: StepInput): Promise<StepOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./bulk_step.ts", import.meta.url).pathname],
    env: { BULK_STEP: JSON.stringify(input) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`step ${input.step} failed: ${text.slice(-1000)}`);
  const r = JSON.parse(text.split("\n").at(-1)!) as StepOutput;
  log(
    `${input.step} ${input.prefix}: ${r.ms.toFixed(0)} ms, ${r.requests.total} requests, ` +
      `peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.detail ? ` ${JSON.stringify(r.detail)}` : ""}`,
  );
  return r;
}

const server = await startBenchMinio(); // or the S3_ENDPOINT given
const { endpoint, accessKeyId, secretAccessKey } = server;
const bucket = `bulk-${Date.now().toString(36)}`;
const client = new S3Client({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId, secretAccessKey },
});
await client.createBucket(bucket);
const timing = {
  graceMs: 1000,
  maxCommitLagMs: 2000,
  keepHistoryMs: 6000,
  maxStageAgeMs: 3_600_000, // a big import stages for longer than the other periods
  marginMs: 1000,
};
const dir = await Deno.makeTempDir({ prefix: "s3vfs-bulk-" });
if (pythonSizes.length) await ensurePythonDeps();

interface Row {
  mib: number;
  bytes: number;
  blockSize: number;
  steps: Record<string, StepOutput>;
  python?: WorkloadResult[];
}
const rows: Row[] = [];
try {
  for (const mib of sizes) {
    const file = `${dir}/db${mib}.sqlite`;
    const bytes = makeDb(file, mib);
    const hash = await sha256(file);
    log(`database of ${(bytes / 1048576).toFixed(1)} MiB at ${file}`);
    for (const blockSize of blockSizes) {
      const base = {
        endpoint,
        accessKeyId,
        secretAccessKey,
        bucket,
        blockSize,
        timing,
        file,
      };
      const name = `${mib}m-${blockSize}`;
      const steps: Record<string, StepOutput> = {};
      const check = async (what: string) => {
        if (await sha256(`${dir}/out.sqlite`) !== hash) throw new Error(`${what}: bytes differ`);
        await Deno.remove(`${dir}/out.sqlite`);
      };
      steps["put-plain"] = await step({ ...base, step: "put-plain", prefix: `${name}/plain` });
      steps["get-plain"] = await step({ ...base, step: "get-plain", prefix: `${name}/plain` });
      steps.import = await step({ ...base, step: "import", prefix: `${name}/db` });
      const out = { ...base, file: `${dir}/out.sqlite` };
      steps["export-log"] = await step({ ...out, step: "export", prefix: `${name}/db` });
      await check("export from the log");
      await new Promise((r) => setTimeout(r, 4500)); // the grace period (1 s) by the store's Date
      steps.checkpoint = await step({ ...base, step: "checkpoint", prefix: `${name}/db` });
      const written = Number(steps.checkpoint.detail?.written ?? 4096);
      steps["ceiling-put"] = await step({
        ...base,
        step: "ceiling-put",
        prefix: `${name}/puts`,
        count: Math.min(written, 20_000),
      });
      steps["export-blocks"] = await step({ ...out, step: "export", prefix: `${name}/db` });
      await check("export from the blocks");
      steps["ceiling-get"] = await step({ ...base, step: "ceiling-get", prefix: `${name}/db` });
      steps.cp = await step({ ...base, step: "cp", prefix: `${name}/db`, target: `${name}/copy` });
      if (withSql) steps.sql = await step({ ...base, step: "sql", prefix: `${name}/db` });
      const row: Row = { mib, bytes, blockSize, steps };
      if (pythonSizes.includes(mib)) {
        log(
          `python sqlite-s3vfs, ${mib} MiB, block size ${blockSize} (slow: one request at a time)`,
        );
        const peer = await runPeer({
          endpoint,
          accessKeyId,
          secretAccessKey,
          region: "us-east-1",
          bucket,
          blockSize,
          prefix: `${name}/py`,
          rows: 0,
          commits: 0,
          lookups: 0,
          transferFile: file,
          transferBytes: bytes,
          parts: ["transfer"],
        });
        row.python = peer.results;
      }
      rows.push(row);
      await Deno.writeTextFile(
        args.values.out!,
        JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n",
      );
    }
    await Deno.remove(file);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
  await server.stop();
}
console.log(table(rows));

function table(rows: Row[]): string {
  const lines = [
    "| database | block | step | time | MiB/s | vs plain | requests | peak RSS |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const s = r.steps;
    const rate = (o: StepOutput) => (o.bytes / 1048576 / (o.ms / 1000)).toFixed(0);
    const vs = (o: StepOutput, ref: StepOutput) => `${(ref.ms / o.ms).toFixed(2)}x`;
    const add = (label: string, o: StepOutput, ref?: StepOutput, extra = "") =>
      lines.push(
        `| ${r.mib} MiB | ${r.blockSize} | ${label} | ${(o.ms / 1000).toFixed(2)} s | ${
          rate(o)
        } | ${ref ? vs(o, ref) : "-"} | ${o.requests.total}${extra} | ${
          o.peakRssMiB.toFixed(0)
        } MiB |`,
      );
    add("plain PUT (one object)", s["put-plain"]);
    add("plain GET (one object)", s["get-plain"]);
    add("import", s.import, s["put-plain"]);
    add("export, data in the log", s["export-log"], s["get-plain"]);
    const w = Number(s.checkpoint.detail?.written ?? 0);
    add(
      "checkpoint",
      s.checkpoint,
      undefined,
      ` (${
        (s.checkpoint.requests.total / Math.max(1, w)).toFixed(3)
      } per block written, ${w} blocks, ${(w / (s.checkpoint.ms / 1000)).toFixed(0)} blocks/s)`,
    );
    const puts = Number(s["ceiling-put"].detail?.objects ?? 0);
    add(
      "PUT block-sized objects, 64 in flight",
      s["ceiling-put"],
      undefined,
      ` (${(puts / (s["ceiling-put"].ms / 1000)).toFixed(0)} PUTs/s: the store's rate)`,
    );
    add("export, data in block objects", s["export-blocks"], s["get-plain"]);
    add(
      "GET every block object, 64 in flight",
      s["ceiling-get"],
      undefined,
      ` (export from blocks at ${(s["ceiling-get"].ms / s["export-blocks"].ms * 100).toFixed(0)}%)`,
    );
    add("cp s3 -> s3", s.cp);
    const q = s.sql?.detail;
    if (q) {
      for (
        const [label, k] of [["cold point query", "point"], ["cold full scan", "scan"], [
          "single-row commit, lease holder",
          "commit",
        ]]
      ) {
        lines.push(
          `| ${r.mib} MiB | ${r.blockSize} | ${label} | ${q[`${k}MedianMs`]} ms | - | - | ${
            q[`${k}Requests`]
          } (${q[`${k}KiBIn`]} KiB in, ${q[`${k}KiBOut`]} KiB out) | - |`,
        );
      }
    }
    for (const p of r.python ?? []) {
      lines.push(
        `| ${r.mib} MiB | ${r.blockSize} | Python ${p.name} | ${(p.ms / 1000).toFixed(2)} s | ${
          (r.bytes / 1048576 / (p.ms / 1000)).toFixed(0)
        } | - | ${p.requests.total} | - |`,
      );
    }
  }
  return lines.join("\n");
}

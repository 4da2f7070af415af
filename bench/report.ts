/**
 * Turns the benchmark's raw results into ratios against the targets and
 * writes bench/RESULTS.md and bench/results.json.
 *
 * @module
 */

import type { Requests, Setting, WorkloadResult } from "./config.ts";

/** Results of one latency setting, by contender (floor, ours, python, ceiling, ours-c64). */
export interface SettingResults {
  setting: Setting;
  contenders: Record<string, WorkloadResult[]>;
  /** Wall time of the whole setting in seconds. */
  seconds: number;
}

/** One checked target. */
export interface TargetCheck {
  setting: string;
  workload: string;
  what: string;
  target: string;
  reached: string;
  met: boolean;
}

/** Everything written to results.json. */
export interface BenchReport {
  date: string;
  quick: boolean;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  notes: string[];
  settings: SettingResults[];
  targets: TargetCheck[];
  totalSeconds: number;
}

/** [name, label, unit, the Python peer's counterpart (default: the same name)]. */
const WORKLOADS: [string, string, string, string?][] = [
  ["bulk", "1. bulk load (one transaction)", "row"],
  ["commits", "2a. small commits (autocommit INSERT), lease holder", "commit"],
  ["commits-nolease", "2b. small commits, `lease: false`", "commit", "commits"],
  ["cold", "3a. point queries, cold", "query"],
  ["warm", "3b. point queries, warm, reader (no lease)", "query"],
  ["holder", "3c. point queries, warm, lease holder (the writing connection)", "query", "warm"],
  [
    "holder-settled",
    "3c'. the same, 5 s later (background checkpoints done)",
    "query",
    "warm",
  ],
  ["stale", "3d. point queries, warm, reader with staleness 1000 ms", "query", "warm"],
  ["exclusive", "3e. point queries, warm, locking_mode=EXCLUSIVE", "query"],
  ["scan", "4. full scan, cold", "scan"],
  ["deserialize", "5a. deserialize (file -> blocks)", "MiB"],
  ["serialize", "5b. serialize (blocks -> bytes)", "MiB"],
];
/** The writer lease's own costs (bench/sql_workloads.ts leaseCosts): [name, label]. */
const LEASE_STEPS: [string, string][] = [
  ["take", "take: `BEGIN IMMEDIATE` on a new VFS (refresh + take)"],
  ["first-commit", "the first commit under it"],
  ["active", "active: a single-row commit + 10 point queries every 100 ms"],
  ["idle", "idle (no transaction)"],
  ["after-idle", "first point query after the idle window"],
  ["after-idle-commit", "then a single-row commit"],
  ["release-close", "release: the last connection closes"],
  ["release-idle", "release by the idle timer (`idleMs` 2000), 3 s asleep"],
];
const TRANSFERS = new Set(["serialize", "deserialize"]);
const MiB = 1024 * 1024;

function find(rs: WorkloadResult[] | undefined, name: string): WorkloadResult | undefined {
  return rs?.find((r) => r.name === name);
}

/** Cost of one operation in ms (for transfers: ms per MiB). */
export function perOp(r: WorkloadResult): number {
  return TRANSFERS.has(r.name) ? r.ms / (r.ops / MiB) : r.ms / r.ops;
}

function fmtMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(1)} µs`;
  return `${(ms * 1e6).toFixed(0)} ns`;
}

function fmtX(x: number): string {
  if (!isFinite(x)) return "∞";
  return x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

function cell(r: WorkloadResult | undefined, unit: string): string {
  if (!r) return "-";
  if (TRANSFERS.has(r.name)) {
    return `${fmtMs(r.ms)} for ${fmtN(r.ops / MiB)} MiB = **${
      (r.ops / MiB / (r.ms / 1000)).toFixed(1)
    } MiB/s**`;
  }
  if (r.ops === 1) return `**${fmtMs(r.ms)}**`;
  return `${fmtMs(r.ms)} / ${r.ops} = **${fmtMs(perOp(r))}**/${unit}`;
}

const KINDS: [keyof Requests, string][] = [
  ["get", "GET"],
  ["put", "PUT"],
  ["list", "LIST"],
  ["delete", "DEL"],
  ["deleteMany", "DELMANY"],
  ["head", "HEAD"],
  ["other", "other"],
];

function fmtN(n: number): string {
  return n >= 100
    ? n.toFixed(0)
    : n >= 10
    ? n.toFixed(1)
    : n >= 1
    ? n.toFixed(2)
    : n === 0
    ? "0"
    : n.toFixed(3);
}

function reqCell(r: WorkloadResult | undefined, unit: string): string {
  if (!r) return "-";
  const per = TRANSFERS.has(r.name) || r.ops === 1 || r.name === "bulk" ? 1 : r.ops;
  const parts = KINDS.filter(([k]) => r.requests[k] > 0).map(([k, l]) =>
    `${l} ${fmtN(r.requests[k] / per)}`
  );
  const head = per === 1
    ? `${r.requests.total} total`
    : `**${fmtN(r.requests.total / per)}**/${unit}`;
  return `${head}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/** Checks the brief's targets for one setting. */
export function checkTargets(s: SettingResults): TargetCheck[] {
  const c = s.contenders;
  const out: TargetCheck[] = [];
  const add = (
    workload: string,
    what: string,
    target: string,
    reached: string,
    met: boolean,
  ): void => {
    out.push({ setting: s.setting.id, workload, what, target, reached, met });
  };
  const vsPy = (name: string, need: number): void => {
    const o = find(c.ours, name), p = find(c.python, name);
    if (!o || !p) return;
    const x = perOp(p) / perOp(o);
    add(name, "speed vs Python (per operation)", `>= ${need}x`, fmtX(x), x >= need);
  };
  vsPy("bulk", 10);
  vsPy("commits", 3);
  const oc = find(c.ours, "commits"), pc = find(c.python, "commits");
  if (oc && pc) {
    const a = oc.requests.total / oc.ops, b = pc.requests.total / pc.ops;
    add(
      "commits",
      "requests per commit vs Python",
      "<= 1/3",
      `${fmtN(a)} vs ${fmtN(b)} = 1/${(b / a).toFixed(1)}`,
      a <= b / 3,
    );
  }
  vsPy("cold", 2);
  vsPy("warm", 50);
  vsPy("scan", s.setting.delayMs > 0 ? 10 : 5);
  for (const name of ["serialize", "deserialize"]) {
    vsPy(name, 10);
    const o = find(c.ours, name), k = find(c.ceiling, name);
    if (o && k) {
      const f = perOp(k) / perOp(o);
      add(name, "throughput vs the raw ceiling", ">= 70%", `${(f * 100).toFixed(0)}%`, f >= 0.7);
    }
  }
  const oh = find(c.ours, "holder"), fh = find(c.floor, "holder");
  if (oh && fh) {
    const x = perOp(oh) / perOp(fh);
    add("holder", "time vs the local file (floor)", "<= 1.5x", fmtX(x), x <= 1.5);
    const rq = oh.requests.total / oh.ops;
    add("holder", "requests per query", "0", fmtN(rq), rq === 0);
  }
  const os = find(c.ours, "holder-settled"), fs = find(c.floor, "holder-settled");
  if (os && fs) {
    const x = perOp(os) / perOp(fs);
    add("holder-settled", "time vs the local file (floor)", "<= 1.5x", fmtX(x), x <= 1.5);
  }
  if (oc && typeof oc.detail?.roundTrips === "number") {
    // A lazy renewal adds one round trip to one transaction per 10 s (default timing).
    const rt = oc.detail.roundTrips, renewals = Math.ceil(oc.ms / 10_000);
    add(
      "commits",
      "round trips per commit (lease holder; renewals aside)",
      `1 (+ ${renewals} renewal${renewals === 1 ? "" : "s"})`,
      `${rt} for ${oc.ops}`,
      rt <= oc.ops + renewals,
    );
    const most = Number(oc.detail.maxRequestsPerCommit);
    if (!isNaN(most)) {
      add("commits", "most requests in one commit", "<= 2", String(most), most <= 2);
    }
  }
  const ox = find(c.ours, "exclusive"), fx = find(c.floor, "exclusive");
  if (ox && fx) {
    const x = perOp(ox) / perOp(fx);
    add("exclusive", "time vs the local file (floor)", "<= 3x", fmtX(x), x <= 3);
    const rq = ox.requests.total / ox.ops;
    add("exclusive", "requests per query", "0", fmtN(rq), rq === 0);
  }
  return out;
}

/** Requests per second of the lease steps that span a while (active: beyond the commits' PUTs). */
function perSecond(name: string, r: WorkloadResult): string {
  const s = r.ms / 1000;
  if (name === "active") {
    return `${(r.requests.total / s).toFixed(2)} (${
      ((r.requests.total - r.ops) / s).toFixed(3)
    } beyond 1 PUT per commit)`;
  }
  return name === "idle" || name === "release-idle" ? (r.requests.total / s).toFixed(3) : "-";
}

function settingMarkdown(s: SettingResults, targets: TargetCheck[]): string {
  const c = s.contenders;
  const z = s.setting.sizes;
  const lines: string[] = [];
  lines.push(`## ${s.setting.label} (${s.setting.delayMs} ms added per request)`, "");
  lines.push(
    `Sizes: ${z.rows.toLocaleString("en-US")} rows, ${z.commits} commits, ${z.lookups} lookups, ` +
      `${
        z.transferBytes / MiB
      } MiB transfers; Python peer: ${z.py.commits} commits, ${z.py.lookups} lookups, ` +
      `${
        z.py.transferBytes / MiB
      } MiB transfers (scaled down: per-operation rates are compared). ` +
      `Setting took ${s.seconds.toFixed(0)} s.`,
    "",
  );
  lines.push(
    "| workload | floor (local file) | ours (S3VFS, defaults) | Python sqlite-s3vfs | ceiling (raw S3Client, 64 in flight) | ours vs Python (speed-up) | ours vs floor (time ratio) | ours vs ceiling (share of its throughput) | target / reached |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const [name, label, unit, peer] of WORKLOADS) {
    const o = find(c.ours, name),
      p = find(c.python, peer ?? name),
      f = find(c.floor, name),
      k = find(c.ceiling, name);
    const vsPy = o && p ? fmtX(perOp(p) / perOp(o)) : "-";
    const vsFloor = o && f ? fmtX(perOp(o) / perOp(f)) : "-";
    const vsCeil = o && k ? `${((perOp(k) / perOp(o)) * 100).toFixed(0)}%` : "-";
    const t = targets.filter((x) => x.workload === name)
      .map((x) => `${x.met ? "✅" : "❌"} ${x.what}: ${x.target} / ${x.reached}`).join("<br>") ||
      "-";
    lines.push(
      `| ${label} | ${cell(f, unit)} | ${cell(o, unit)} | ${cell(p, unit)} | ${
        cell(k, unit)
      } | ${vsPy} | ${vsFloor} | ${vsCeil} | ${t} |`,
    );
  }
  const v = c["ours-c64"];
  if (v?.length) {
    lines.push(
      "",
      "Variant: ours with `concurrency: 64` (the ceiling's in-flight count) set explicitly (the streams' default is 16 MiB of blocks: 64 requests for 4 KiB blocks, so this repeats the default; the spread is run-to-run noise):",
      "",
    );
    for (const r of v) {
      const k = find(c.ceiling, r.name);
      lines.push(
        `- ${r.name}: ${cell(r, "MiB")}${
          k ? ` (${((perOp(k) / perOp(r)) * 100).toFixed(0)}% of the ceiling)` : ""
        }`,
      );
    }
  }
  lines.push("", "Requests (per operation; whole-run totals for scans and transfers):", "");
  lines.push("| workload | ours | Python sqlite-s3vfs | ceiling |", "|---|---|---|---|");
  for (const [name, label, unit, peer] of WORKLOADS) {
    if (!find(c.ours, name)) continue;
    lines.push(
      `| ${label} | ${reqCell(find(c.ours, name), unit)} | ${
        reqCell(find(c.python, peer ?? name), unit)
      } | ${reqCell(find(c.ceiling, name), unit)} |`,
    );
  }
  if (c.lease?.length) {
    lines.push(
      "",
      "The writer lease's own costs (ours; requests on the transactions' path, background checkpoints apart):",
      "",
      "| step | time | requests | per second | round trips | background requests |",
      "|---|---|---|---|---|---|",
    );
    for (const [name, label] of LEASE_STEPS) {
      const r = find(c.lease, name);
      if (!r) continue;
      const kinds = KINDS.filter(([k]) => r.requests[k] > 0).map(([k, l]) =>
        `${l} ${r.requests[k]}`
      );
      const d = r.detail ?? {};
      const extra = name === "active"
        ? ` (${r.ops} commits; per transaction median ${d.medianMs} ms, max ${d.maxMs} ms)`
        : "";
      lines.push(
        `| ${label} | ${fmtMs(r.ms)}${extra} | **${r.requests.total}**${
          kinds.length ? ` (${kinds.join(", ")})` : ""
        } | ${perSecond(name, r)} | ${d.roundTrips ?? "-"} | ${d.background ?? "-"} |`,
      );
    }
  }
  const o = c.ours ?? [];
  const det = o.filter((r) => r.detail).map((r) =>
    `- ${r.name}: ${Object.entries(r.detail!).map(([k, val]) => `${k} ${val}`).join(", ")}`
  );
  if (det.length) {
    lines.push(
      "",
      "Ours, extra counters (vfs.stats() for workloads 1-4; for serialize, one full LIST of the prefix timed on its own):",
      "",
      ...det,
    );
  }
  return lines.join("\n");
}

/** Renders RESULTS.md. */
export function renderMarkdown(r: BenchReport): string {
  const lines: string[] = [];
  lines.push("# Benchmark results", "");
  lines.push(
    `Written by \`deno task bench${r.quick ? " --quick" : ""}\` on ${r.date}; the whole run took ` +
      `${(r.totalSeconds / 60).toFixed(1)} min. Raw numbers: bench/results.json.`,
    "",
  );
  lines.push(
    "How to run: `deno task bench` (about 18 minutes here; starts its own MinIO unless S3_ENDPOINT and " +
      "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY point at one; installs `sqlite-s3vfs apsw boto3` into a private " +
      "virtual environment under ~/.cache/s3vfs/py when missing). `deno task bench --quick` (or BENCH_QUICK=1) runs tiny sizes in under a " +
      "minute and writes RESULTS.quick.md / results.quick.json instead; `--only direct|proxy20` and " +
      "`--skip-python` write RESULTS.partial.md. BENCH_MINIO_DISK=1 keeps MinIO's data on disk.",
    "",
  );
  if (r.quick) {
    lines.push("**QUICK MODE: tiny sizes for smoke testing; these numbers mean nothing.**", "");
  }
  lines.push("## Machine and versions", "");
  for (const [k, v] of Object.entries(r.machine)) lines.push(`- ${k}: ${v}`);
  for (const [k, v] of Object.entries(r.versions)) lines.push(`- ${k}: ${v}`);
  lines.push("", "## How it was measured", "", ...r.notes.map((n) => `- ${n}`), "");
  lines.push(
    "## Targets",
    "",
    "| setting | workload | what | target | reached | met |",
    "|---|---|---|---|---|---|",
  );
  for (const t of r.targets) {
    lines.push(
      `| ${t.setting} | ${t.workload} | ${t.what} | ${t.target} | ${t.reached} | ${
        t.met ? "yes" : "**NO**"
      } |`,
    );
  }
  const missed = r.targets.filter((t) => !t.met).length;
  lines.push("", `${r.targets.length - missed} of ${r.targets.length} targets met.`, "");
  for (const s of r.settings) {
    lines.push(settingMarkdown(s, r.targets.filter((t) => t.setting === s.setting.id)), "");
  }
  return lines.join("\n");
}

/** Writes the markdown (unless `markdownPath` is null) and the JSON, then `deno fmt`s them. */
export async function writeReport(
  r: BenchReport,
  jsonPath: string,
  markdownPath: string | null,
): Promise<void> {
  await Deno.writeTextFile(jsonPath, JSON.stringify(r, null, 2) + "\n");
  if (markdownPath) await Deno.writeTextFile(markdownPath, renderMarkdown(r));
  const files = markdownPath ? [jsonPath, markdownPath] : [jsonPath];
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", ...files], stdout: "null" })
    .output().catch(() => undefined);
}

/**
 * Runs the Python peer (bench/py/peer.py: sqlite-s3vfs on APSW, boto3) as a
 * child process and returns its JSON results. Installs its packages with pip
 * when they are missing.
 *
 * @module
 */

import type { WorkloadResult } from "./config.ts";

/** What bench/py/peer.py reads from its argument. */
export interface PeerConfig {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
  blockSize: number;
  /** Key prefix under which the peer's databases go. */
  prefix: string;
  rows: number;
  commits: number;
  lookups: number;
  /** Local SQLite file the peer deserializes (its size is `transferBytes`). */
  transferFile: string;
  transferBytes: number;
  /** Which parts to run: "sql" (workloads 1-4) and/or "transfer" (workload 5). */
  parts: string[];
}

/** The peer's output. */
export interface PeerOutput {
  results: WorkloadResult[];
  versions: Record<string, string>;
}

const PY = "python3";

async function run(
  args: string[],
  stdout: "piped" | "inherit" = "piped",
): Promise<Deno.CommandOutput> {
  return await new Deno.Command(PY, { args, stdout, stderr: "inherit", stdin: "null" }).output();
}

/** Makes sure `import sqlite_s3vfs, apsw, boto3` works, installing with pip if not. */
export async function ensurePythonDeps(): Promise<void> {
  const probe = ["-c", "import sqlite_s3vfs, apsw, boto3"];
  try {
    if ((await run(probe)).success) return;
  } catch (e) {
    throw new Error(`python3 is needed for the Python peer: ${e instanceof Error ? e.message : e}`);
  }
  console.error("installing the Python peer's packages: pip install sqlite-s3vfs apsw boto3");
  const pip = await run(
    ["-m", "pip", "install", "--quiet", "sqlite-s3vfs", "apsw", "boto3"],
    "inherit",
  );
  if (!pip.success || !(await run(probe)).success) {
    throw new Error("could not install sqlite-s3vfs, apsw and boto3 with pip");
  }
}

/** Runs the peer to completion (its progress goes to stderr). */
export async function runPeer(cfg: PeerConfig): Promise<PeerOutput> {
  const script = new URL("./py/peer.py", import.meta.url).pathname;
  const out = await run([script, JSON.stringify(cfg)]);
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`the Python peer failed (exit ${out.code}): ${text.slice(-2000)}`);
  }
  const lastLine = text.split("\n").pop() ?? "";
  return JSON.parse(lastLine) as PeerOutput;
}

/**
 * Runs the Python peer (bench/py/peer.py: sqlite-s3vfs on APSW, boto3) as a
 * child process and returns its JSON results, with the Python of the private
 * virtual environment scripts/python_env.ts sets up (the one the tests use).
 *
 * @module
 */

import { ensurePython, pythonPath } from "../scripts/python_env.ts";
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

async function run(args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(pythonPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).output();
}

/**
 * Makes sure the peer's Python can `import sqlite_s3vfs, apsw, boto3`,
 * creating the virtual environment and installing them if not.
 */
export async function ensurePythonDeps(): Promise<void> {
  await ensurePython();
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

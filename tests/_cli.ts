/**
 * Running the `s3vfs` command-line tool (cli.ts) as a subprocess against the
 * test endpoint, as users run it: `deno run -A cli.ts <args>` with the AWS_*
 * variables, `@db/sqlite` from the copy the tests use (`S3VFS_DB_SQLITE`),
 * stdout and stderr captured; under a pseudo-terminal with `script` (or
 * Python's `pty` where util-linux is missing).
 *
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { DB_SQLITE_URL } from "../scripts/db_sqlite.ts";
import { testS3Env } from "./_harness.ts";
import { openLocal } from "./_vfs.ts";

/** cli.ts and the project's deno.json. */
export const CLI_PATH: string = new URL("../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** What a run printed and how it ended. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output (decoded). */
  stdout: string;
  /** Standard error (decoded). */
  stderr: string;
  /** Standard output as bytes. */
  bytes: Uint8Array;
}

/** Options of {@linkcode runCli}. */
export interface RunOptions {
  /** Variables added to (or overriding) the test environment. */
  env?: Record<string, string>;
  /** Bytes for stdin (default: none, stdin closed). */
  stdin?: Uint8Array;
  /** Working directory. */
  cwd?: string;
}

/** The environment of a CLI run: the test endpoint's AWS_* variables, @db/sqlite's copy. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ...testS3Env(), S3VFS_DB_SQLITE: DB_SQLITE_URL, NO_COLOR: "1", ...extra };
}

/** The command line: `deno run -A --config deno.json cli.ts <args>`. */
export function cliArgs(args: string[]): string[] {
  return ["run", "-A", "--quiet", "--config", CONFIG, CLI_PATH, ...args];
}

/** Runs the CLI with `args` and waits for it. */
export async function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    env: cliEnv(options.env),
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const w = child.stdin.getWriter();
    await w.write(options.stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    bytes: out.stdout,
  };
}

/** Quotes `s` for /bin/sh. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Whether `script` from util-linux is on the PATH. */
async function hasScript(): Promise<boolean> {
  try {
    const r = await new Deno.Command("script", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

/**
 * Runs the CLI under a pseudo-terminal (stdin, stdout and stderr all on it;
 * `input` is typed into it); what it printed.
 */
export async function runCliInPty(
  args: string[],
  input?: string,
): Promise<{ code: number; output: string }> {
  const line = [Deno.execPath(), ...cliArgs(args)].map(shellQuote).join(" ");
  const [program, programArgs] = await hasScript()
    ? ["script", ["-qfec", line, "/dev/null"]]
    : ["python3", [
      "-c",
      "import os, pty, sys; s = pty.spawn(['/bin/sh', '-c', sys.argv[1]]); " +
      "sys.exit(os.waitstatus_to_exitcode(s))",
      line,
    ]];
  const child = new Deno.Command(program, {
    args: programArgs,
    env: cliEnv(),
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input)); // typed into the terminal
    await w.close();
  }
  const r = await child.output();
  return {
    code: r.code,
    output: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr),
  };
}

/** A local SQLite file with one table `t(id, x)` holding `rows` rows of `bytesPerRow` random bytes. */
export async function makeLocalDb(rows: number, bytesPerRow = 100): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  await Deno.remove(path);
  const db = openLocal(path);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, x BLOB)");
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
    INSERT INTO t (x) SELECT randomblob(${bytesPerRow}) FROM n`);
  db.close();
  return path;
}

/** Asserts that `stderr` is one `error: ...` line (no stack) and returns it. */
export function oneLineError(stderr: string): string {
  const lines = stderr.trim().split("\n");
  equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  ok(lines[0].startsWith("error: "), stderr);
  return lines[0];
}

/** `text` without terminal escape sequences (a line editor's cursor moves, colors). */
export function stripAnsi(text: string): string {
  return text.replace(new RegExp(String.raw`\x1b\[[0-9;?]*[A-Za-z]`, "g"), "");
}

/**
 * Helpers of the multi-process tests (tests/mp_*_test.ts): the schema the
 * child scripts (tests/child/mp_*.ts) work on, spawning a child as users run
 * a script (`deno run -A --config deno.json`) with its events read line by
 * line from stdout, and the final check of a database from a fresh S3VFS.
 *
 * Everything goes through the public API: `@db/sqlite` (loaded first) and
 * `S3VFS` from mod.ts.
 *
 * @module
 */

import { Database } from "../scripts/db_sqlite.ts";
import { OPEN_READWRITE, S3VFS, type S3VFSOptions } from "../mod.ts";
import { testS3Env, testS3Options } from "./_harness.ts";

/** The repository's deno.json (children run with it, for the `aws4fetch` import). */
export const CONFIG: string = new URL("../deno.json", import.meta.url).pathname;

/** A child script of tests/child/. */
export function childScript(name: string): string {
  return new URL(`./child/${name}`, import.meta.url).pathname;
}

/**
 * The schema of every multi-process test: `t` (the writer's rows, indexed by
 * seq and tok as an app's table would be), `big` (blobs of big transactions),
 * `counter` (one row, n = 0) and `inc` (the counter's audit rows).
 */
export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, tok TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS t_seq ON t(seq);
  CREATE INDEX IF NOT EXISTS t_tok ON t(tok);
  CREATE TABLE IF NOT EXISTS big (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
  INSERT OR IGNORE INTO counter (id, n) VALUES (1, 0);
  CREATE TABLE IF NOT EXISTS inc (tok TEXT PRIMARY KEY);
`;

/** Runs `fn` on a connection to `prefix` through a fresh S3VFS straight on the test endpoint. */
export function withDb<T>(
  bucket: string,
  prefix: string,
  fn: (db: Database) => T,
  options: S3VFSOptions = {},
): T {
  const vfs = new S3VFS({ ...testS3Options(), bucket, ...options });
  try {
    const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  } finally {
    vfs.close();
  }
}

/** Creates the schema at `prefix`. */
export function createSchema(bucket: string, prefix: string, options: S3VFSOptions = {}): void {
  withDb(bucket, prefix, (db) => db.exec(SCHEMA), options);
}

/** One JSON line a child printed; `_ms`: when the parent read it, in ms after the spawn. */
export type ChildEvent = Record<string, unknown>;

/** A running child process. */
export interface Child {
  /** A label for messages ("writer", "reader ro fresh", ...). */
  readonly label: string;
  /** Events printed so far (live; complete once `done` resolved). */
  readonly events: ChildEvent[];
  /** Lines of stdout that were not JSON. */
  readonly noise: string[];
  /** Sends a signal (no-op if it already exited). */
  kill(signal?: Deno.Signal): void;
  /** Resolves once the process exited and its output was read. */
  readonly done: Promise<ChildResult>;
}

/** How a child ended. */
export interface ChildResult {
  /** Its label. */
  label: string;
  /** Exit code (137 style codes for signals are `signal` instead). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Whether the parent's hard time limit killed it. */
  timedOut: boolean;
  /** All its events. */
  events: ChildEvent[];
  /** Its whole stderr. */
  stderr: string;
  /** Wall time in ms. */
  ms: number;
}

/** Options of {@linkcode spawnChild}. */
export interface SpawnOptions {
  /** Label for messages. */
  label: string;
  /** Script file name in tests/child/. */
  script: string;
  /** Bucket and database prefix. */
  bucket: string;
  /** Database prefix. */
  prefix: string;
  /** Endpoint the child's S3VFS uses (default: the test endpoint; the fault proxy's URL). */
  endpoint?: string;
  /** More `MP_*` settings. */
  env?: Record<string, string | number>;
  /** Killed with SIGKILL after this many ms (default 60,000): nothing can hang the test. */
  hardLimitMs?: number;
}

/** Starts a child script; its stdout is parsed as JSON lines as they come. */
export function spawnChild(o: SpawnOptions): Child {
  const env: Record<string, string> = {
    ...testS3Env(),
    MP_BUCKET: o.bucket,
    MP_PREFIX: o.prefix,
  };
  if (o.endpoint) env.AWS_ENDPOINT_URL_S3 = o.endpoint;
  for (const [k, v] of Object.entries(o.env ?? {})) env[k] = String(v);
  const started = Date.now();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, childScript(o.script)],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const events: ChildEvent[] = [];
  const noise: string[] = [];
  let exited = false;
  let timedOut = false;
  const kill = (signal: Deno.Signal = "SIGKILL"): void => {
    if (exited) return;
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGKILL");
  }, o.hardLimitMs ?? 60_000);
  const readStdout = (async () => {
    let pending = "";
    const take = (line: string): void => {
      if (!line.trim()) return;
      try {
        const e = JSON.parse(line) as ChildEvent;
        e._ms = Date.now() - started; // when the parent read it
        events.push(e);
      } catch {
        noise.push(line);
      }
    };
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        take(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    // A line cut by SIGKILL mid-write is not an acknowledgement: ignore a partial last line.
    if (pending.trim()) noise.push(`(partial) ${pending}`);
  })();
  const readStderr = new Response(proc.stderr).text();
  const done = (async (): Promise<ChildResult> => {
    const [status, , stderr] = await Promise.all([proc.status, readStdout, readStderr]);
    exited = true;
    clearTimeout(timer);
    return {
      label: o.label,
      code: status.code,
      signal: status.signal,
      timedOut,
      events,
      stderr,
      ms: Date.now() - started,
    };
  })();
  return { label: o.label, events, noise, kill, done };
}

/**
 * Waits until `child` printed an event with `key` (true), or it exited or
 * `timeoutMs` passed (false). Polls every 5 ms.
 */
export async function waitForEvent(child: Child, key: string, timeoutMs: number): Promise<boolean> {
  let exited = false;
  child.done.then(() => exited = true, () => exited = true);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !exited) {
    if (child.events.some((e) => key in e)) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return child.events.some((e) => key in e);
}

/** The last lines of a child's stderr, for assertion messages. */
export function describe(r: ChildResult, lines = 30): string {
  const err = r.stderr.trim().split("\n").slice(-lines).join("\n");
  return `${r.label}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""}` +
    `${r.timedOut ? " TIMED OUT" : ""} after ${r.ms} ms` +
    (err ? `\n--- ${r.label} stderr (last ${lines} lines) ---\n${err}` : "");
}

/** Events of one kind (the key present). */
export function eventsWith(events: ChildEvent[], key: string): ChildEvent[] {
  return events.filter((e) => key in e);
}

/** What the final check read from the database. */
export interface FinalState {
  /** `PRAGMA integrity_check` rows joined ("ok" when sound), or the error it threw. */
  integrity: string;
  /** Every (seq, tok) of t, or undefined when it could not be read. */
  rows?: { seq: number; tok: string }[];
  /** seq of every big row. */
  bigSeqs?: number[];
  /** counter.n. */
  counter?: number;
  /** Every tok of inc. */
  incToks?: string[];
  /** Errors met while reading. */
  errors: string[];
}

/** Reads the final state of `prefix` from a fresh S3VFS (straight on the endpoint); never throws. */
export function readFinal(bucket: string, prefix: string): FinalState {
  const out: FinalState = { integrity: "(not run)", errors: [] };
  try {
    withDb(bucket, prefix, (db) => {
      const step = (name: string, fn: () => void): void => {
        try {
          fn();
        } catch (e) {
          out.errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      };
      step("integrity_check", () => {
        out.integrity = db.prepare("PRAGMA integrity_check").values<[string]>().map((r) => r[0])
          .join("; ");
      });
      step("t", () => {
        out.rows = db.prepare("SELECT seq, tok FROM t ORDER BY seq").values<[number, string]>()
          .map(([seq, tok]) => ({ seq: Number(seq), tok }));
      });
      step("big", () => {
        out.bigSeqs = db.prepare("SELECT seq FROM big ORDER BY seq").values<[number]>().map((
          r,
        ) => Number(r[0]));
      });
      step("counter", () => {
        out.counter = Number(
          db.prepare("SELECT n FROM counter WHERE id = 1").value<[number]>()?.[0],
        );
      });
      step("inc", () => {
        out.incToks = db.prepare("SELECT tok FROM inc").values<[string]>().map((r) => r[0]);
      });
    });
  } catch (e) {
    out.errors.push(`open: ${e instanceof Error ? e.message : String(e)}`);
    if (out.integrity === "(not run)") out.integrity = "(could not open)";
  }
  if (out.integrity === "(not run)" && out.errors.length) out.integrity = out.errors[0];
  return out;
}

/** What the writers' acknowledgements and the final rows say together. */
export interface WriterAudit {
  /** Acknowledged commits (ack events). */
  acked: number;
  /** Attempts reported failed. */
  failed: number;
  /** ... of which BUSY. */
  failedBusy: number;
  /** ... of which the error said the outcome is unknown. */
  failedUnknown: number;
  /** Acknowledged toks absent from the database. */
  lost: string[];
  /** Toks reported failed (outcome known) that are in the database. */
  misreported: string[];
  /** seq values present more than once. */
  duplicates: number[];
  /** seq values in 1..max absent. */
  holes: number[];
  /** Rows in t. */
  rows: number;
  /** max(seq). */
  max: number;
  /** big rows without their t row, or t rows of a big seq without the big row. */
  halfApplied: number[];
}

/**
 * Compares the writer events of every run against the final rows: lost
 * acknowledged commits, failed attempts that were applied, duplicate seq,
 * holes, big transactions half applied.
 */
export function auditWriters(
  events: ChildEvent[],
  final: FinalState,
  bigEvery = 0,
): WriterAudit {
  const rows = final.rows ?? [];
  const toks = new Set(rows.map((r) => r.tok));
  const acks = eventsWith(events, "ack");
  const fails = eventsWith(events, "failed");
  const ackedToks = new Set(acks.map((e) => String(e.tok)));
  const lost = [...ackedToks].filter((t) => !toks.has(t));
  const misreported = fails
    .filter((e) => !e.unknown && toks.has(String(e.tok)) && !ackedToks.has(String(e.tok)))
    .map((e) => String(e.tok));
  const perSeq = new Map<number, number>();
  for (const r of rows) perSeq.set(r.seq, (perSeq.get(r.seq) ?? 0) + 1);
  const duplicates = [...perSeq].filter(([, n]) => n > 1).map(([s]) => s);
  const max = rows.reduce((m, r) => Math.max(m, r.seq), 0);
  const holes: number[] = [];
  for (let s = 1; s <= max; s++) if (!perSeq.has(s)) holes.push(s);
  const halfApplied: number[] = [];
  if (bigEvery > 0 && final.bigSeqs) {
    const big = new Set(final.bigSeqs);
    for (const s of big) if (!perSeq.has(s)) halfApplied.push(s);
    for (const s of perSeq.keys()) if (s % bigEvery === 0 && !big.has(s)) halfApplied.push(s);
  }
  return {
    acked: acks.length,
    failed: fails.length,
    failedBusy: fails.filter((e) => e.busy).length,
    failedUnknown: fails.filter((e) => e.unknown).length,
    lost,
    misreported,
    duplicates,
    holes,
    rows: rows.length,
    max,
    halfApplied,
  };
}

/** Reads that were torn (count != max or quick_check not ok) and read errors, over reader events. */
export function auditReads(events: ChildEvent[]): {
  reads: number;
  torn: ChildEvent[];
  errors: ChildEvent[];
} {
  const reads = eventsWith(events, "read");
  return {
    reads: reads.length,
    torn: reads.filter((e) => e.count !== e.max || e.quick !== "ok"),
    errors: [...eventsWith(events, "readError"), ...eventsWith(events, "fatal")],
  };
}

/** A few items of a list, for messages. */
export function sample<T>(items: T[], n = 5): string {
  const s = items.slice(0, n).map((x) => typeof x === "string" ? x : JSON.stringify(x));
  return `${items.length}${
    items.length ? `: ${s.join(" | ")}${items.length > n ? " ..." : ""}` : ""
  }`;
}

/** A unique database prefix under `label`. */
export function dbPrefix(label: string): string {
  return `mp/${label}-${crypto.randomUUID().slice(0, 8)}.sqlite`;
}

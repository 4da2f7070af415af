/**
 * Shared code of the multi-process child scripts (tests/child/mp_*.ts): the
 * settings they take from the environment, opening the database the way users
 * do (`@db/sqlite` first, then an {@linkcode S3VFS}), reporting one JSON line
 * per event on stdout, and classifying a failed statement by SQLite's extended
 * result code.
 *
 * Environment (set by tests/mp_lib.ts):
 * - `MP_BUCKET`, `MP_PREFIX`: where the database is;
 * - `AWS_ENDPOINT_URL_S3`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
 *   `AWS_SECRET_ACCESS_KEY`: the endpoint (the MinIO, or the fault proxy in
 *   front of it) and credentials, read by S3VFS as users configure it;
 * - `MP_MAX_DIRTY_BYTES`: the VFS's `maxDirtyBytes` (big transactions spill to staged chunks);
 * - `MP_MAX_ATTEMPTS`, `MP_TIMEOUT_MS`: S3 attempts per request and
 *   per-attempt timeout (default: the S3VFS defaults);
 * - `MP_COUNT`, `MP_DEADLINE_MS`: every loop stops after this many iterations
 *   or this many ms, whichever comes first;
 * - `MP_LEASE`: `off` for `lease: false`, else the writer lease's idle time in
 *   ms (default: the S3VFS default);
 * - `MP_BUSY_TIMEOUT_MS`: `PRAGMA busy_timeout` of the connection (default 0);
 * - `MP_STORE_CHECK`: the VFS's `storeCheck` (default: the S3VFS default).
 *
 * @module
 */

import { Database } from "../../scripts/db_sqlite.ts";
import { OPEN_READWRITE, S3VFS } from "../../mod.ts";

export { Database, S3VFS };

/** SQLITE_BUSY. */
export const SQLITE_BUSY = 5;
/** SQLITE_BUSY_SNAPSHOT: the commit race was lost (the new VFS's answer to a conflict). */
export const SQLITE_BUSY_SNAPSHOT = 517;
/** SQLITE_IOERR. */
export const SQLITE_IOERR = 10;

/** A required environment variable. */
export function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** A numeric environment variable, or `fallback`. */
export function num(name: string, fallback: number): number {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} is not a number: ${v}`);
  return n;
}

/** Writes one JSON line to stdout, synchronously (a parent that SIGKILLs us has seen it). */
export function emit(event: Record<string, unknown>): void {
  const line = new TextEncoder().encode(JSON.stringify(event) + "\n");
  let off = 0;
  while (off < line.length) off += Deno.stdout.writeSync(line.subarray(off));
}

/** The S3VFS of this child, configured from the environment. */
export function openVfs(): S3VFS {
  const maxAttempts = Deno.env.get("MP_MAX_ATTEMPTS");
  const timeoutMs = Deno.env.get("MP_TIMEOUT_MS");
  const maxDirty = Deno.env.get("MP_MAX_DIRTY_BYTES");
  const lease = Deno.env.get("MP_LEASE");
  const storeCheck = Deno.env.get("MP_STORE_CHECK") as "enforce" | "single-writer" | undefined;
  return new S3VFS({
    ...(storeCheck ? { storeCheck } : {}),
    bucket: need("MP_BUCKET"),
    ...(lease ? { lease: lease === "off" ? false as const : { idleMs: Number(lease) } } : {}),
    ...(maxDirty ? { maxDirtyBytes: Number(maxDirty) } : {}),
    ...(maxAttempts ? { maxAttempts: Number(maxAttempts) } : {}),
    ...(timeoutMs ? { timeoutMs: Number(timeoutMs) } : {}),
  });
}

/** Opens `prefix` read-write through `vfs`, with `MP_BUSY_TIMEOUT_MS` as its busy timeout. */
export function openWriter(vfs: S3VFS, prefix: string): Database {
  const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE });
  const busy = num("MP_BUSY_TIMEOUT_MS", 0);
  if (busy > 0) db.exec(`PRAGMA busy_timeout = ${busy}`);
  return db;
}

const RAW = {
  sqlite3_extended_errcode: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
let rawLib: Deno.DynamicLibrary<typeof RAW> | undefined;

/**
 * `sqlite3_extended_errcode(db)`: @db/sqlite throws a plain Error carrying
 * only `sqlite3_errmsg` for a failed statement ("database is locked" for every
 * SQLITE_BUSY variant, "disk I/O error" for every SQLITE_IOERR), so the code
 * comes from the library the VFS registered in.
 */
export function extendedErrcode(vfs: S3VFS, db: Database): number {
  rawLib ??= Deno.dlopen(vfs.libraryPath, RAW);
  return rawLib.symbols.sqlite3_extended_errcode(db.unsafeHandle);
}

/** What a failed statement said, as reported in the JSON lines. */
export interface Failure {
  /** Extended result code (0 when it could not be read). */
  code: number;
  /** The thrown error's message. */
  msg: string;
  /** `vfs.lastError` at that moment, as text. */
  lastError?: string;
  /** A BUSY variant (primary code 5): nothing was applied, retry the transaction. */
  busy: boolean;
  /** The error says the outcome is unknown (the commit may or may not be applied). */
  unknown: boolean;
}

/** Classifies the error `e` thrown by a statement of `db`. */
export function failure(vfs: S3VFS, db: Database, e: unknown): Failure {
  const msg = e instanceof Error ? e.message : String(e);
  let code = 0;
  try {
    code = db.open ? extendedErrcode(vfs, db) : 0;
  } catch {
    code = 0;
  }
  if (code === 0) {
    const m = /^(\d+):/.exec(msg); // @db/sqlite's SqliteError: "<code>: <message>"
    if (m) code = Number(m[1]);
  }
  const lastError = vfs.lastError ? String(vfs.lastError) : undefined;
  const busy = (code & 0xff) === SQLITE_BUSY || /database is locked|busy/i.test(msg);
  const unknown = /outcome (is )?unknown|unknown outcome/i.test(`${msg}\n${lastError ?? ""}`);
  return { code, msg: msg.slice(0, 300), lastError: lastError?.slice(0, 300), busy, unknown };
}

/** Rolls back if a transaction is still open (after a failed statement); never throws. */
export function rollbackIfOpen(db: Database): void {
  try {
    if (db.open && !db.autocommit) db.exec("ROLLBACK");
  } catch {
    // SQLite may have rolled back already
  }
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `main` and exits 0, or prints the error on stderr and exits 1. */
export async function runChild(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    console.error(`${name}: ${e instanceof Error ? e.stack : String(e)}`);
    emit({ fatal: e instanceof Error ? e.message : String(e) });
    Deno.exit(1);
  }
  Deno.exit(0);
}

/** How {@linkcode transactionLoop} ended. */
export interface LoopResult {
  /** Acknowledged transactions. */
  acks: number;
  /** Failed attempts. */
  failures: number;
  /** Failed attempts that were SQLITE_BUSY (any extended code). */
  busy: number;
  /** Why the loop stopped: "count", "deadline", "too many failures in a row", ... */
  reason: string;
}

/** What {@linkcode transactionLoop} runs. */
export interface LoopOptions {
  vfs: S3VFS;
  db: Database;
  /** Transactions to acknowledge. */
  count: number;
  /** Number of the first transaction (default 1); each acknowledged one moves to the next. */
  first?: number;
  /** Local time (ms) to stop at. */
  deadline: number;
  /** Failed attempts in a row before giving up. */
  maxConsecutiveFailures: number;
  /** The statements of transaction `n` (its attempt id `tok`), run between BEGIN and COMMIT. */
  body(n: number, tok: string): void;
  /**
   * After a failed attempt (rolled back, reported): "acked" when it turns out
   * applied, "stop" to end the loop (the reason), else retry.
   */
  settle?(n: number, tok: string, stage: string, f: Failure): Promise<"acked" | "retry" | string>;
  /** After each acknowledged transaction. */
  acked?(n: number, acks: number): Promise<void>;
  /** Between the body and COMMIT of transaction `n` (the transaction is open). */
  beforeCommit?(n: number): Promise<void>;
}

/**
 * Runs transactions 1, 2, ... `count` (BEGIN, body, COMMIT), retrying a
 * failed one after a short pause (BUSY: at once, give or take 10 ms), and
 * prints `{"ack": n, "tok"}` for every acknowledged one and
 * `{"failed": n, "tok", "stage", ...failure}` for every failed attempt.
 */
export async function transactionLoop(o: LoopOptions): Promise<LoopResult> {
  const r: LoopResult = { acks: 0, failures: 0, busy: 0, reason: "count" };
  let n = o.first ?? 1;
  let attempt = 0;
  let consecutive = 0;
  const ack = async (tok: string, extra: Record<string, unknown> = {}): Promise<void> => {
    emit({ ack: n, tok, ...extra });
    r.acks++;
    n++;
    attempt = 0;
    consecutive = 0;
    await o.acked?.(n - 1, r.acks);
  };
  while (r.acks < o.count) {
    if (Date.now() >= o.deadline) return { ...r, reason: "deadline" };
    if (consecutive >= o.maxConsecutiveFailures) {
      return { ...r, reason: "too many failures in a row" };
    }
    attempt++;
    const tok = `${Deno.pid}.${n}.${attempt}`;
    let stage = "begin";
    try {
      o.db.exec("BEGIN");
      stage = "body";
      o.body(n, tok);
      await o.beforeCommit?.(n);
      stage = "commit";
      o.db.exec("COMMIT");
    } catch (e) {
      const f = failure(o.vfs, o.db, e);
      rollbackIfOpen(o.db);
      r.failures++;
      consecutive++;
      if (f.busy) r.busy++;
      emit({ failed: n, tok, stage, ...f });
      const next = (await o.settle?.(n, tok, stage, f)) ?? "retry";
      if (next === "acked") {
        await ack(tok, { resolved: true });
        continue;
      }
      if (next !== "retry") return { ...r, reason: next };
      await sleep(f.busy ? Math.floor(Math.random() * 10) : 20 + Math.floor(Math.random() * 30));
      continue;
    }
    await ack(tok);
  }
  return r;
}

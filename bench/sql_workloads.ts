/**
 * Workloads 1-4 (bulk load, small commits, point queries cold / warm /
 * exclusive, cold full scan) for the contenders that run in this process:
 * SQLite on a local file (the floor) and this package's S3VFS with default
 * settings. The Python peer runs the same SQL in bench/py/peer.py. The
 * writing connection holds the writer lease (docs/protocol.md 15): its
 * commits and its own warm point queries are measured as the lease holder;
 * the other reads go through a fresh VFS (no lease), and the commits again
 * with `lease: false`. {@linkcode leaseCosts} times the lease itself.
 *
 * @module
 */

import { Database, type Statement } from "../scripts/db_sqlite.ts";
import { OPEN_READWRITE } from "../src/vfs/options.ts";
import type { VfsStats } from "../src/vfs/stats.ts";
import { S3VFS } from "../src/vfs/vfs.ts";
import type { S3VFSOptions } from "../src/vfs/options.ts";
import {
  bulkSql,
  log,
  lookupIds,
  POINT_QUERY,
  type Requests,
  SCAN_QUERY,
  SCHEMA,
  summary,
  type WorkloadResult,
  zeroRequests,
} from "./config.ts";

/** Something workloads 1-4 can run against. */
export interface SqlTarget {
  /** Short name for logs. */
  readonly id: string;
  /** Opens a connection to the benchmark database. */
  open(): Database;
  /** Drops every cache: a new VFS with these option overrides (ours); nothing to do for a local file. */
  fresh(options?: Partial<S3VFSOptions>): void;
  /** Zeroes the request counters. */
  reset(): void;
  /** Requests since the last reset, plus contender-specific detail. */
  counters(): { requests: Requests; detail?: Record<string, number> };
  /** Releases everything (connections must be closed). */
  close(): void;
}

/** The floor: the default VFS on a local file. */
export function localTarget(path: string): SqlTarget {
  return {
    id: "floor",
    open: () => new Database(path, { int64: true }),
    fresh: () => {},
    reset: () => {},
    counters: () => ({ requests: zeroRequests() }),
    close: () => {},
  };
}

/** Our requests in the common shape. */
export function vfsRequests(s: VfsStats): Requests {
  const r = s.requests;
  return {
    get: r.get,
    put: r.put,
    list: r.list,
    delete: r.delete,
    deleteMany: r.deleteMany,
    head: r.head,
    other: Math.max(
      0,
      r.total - r.get - r.put - r.list - r.delete - r.deleteMany - r.head,
    ),
    total: r.total,
  };
}

/** This package's S3VFS with default settings; `fresh()` replaces it by a new one (empty caches). */
export function s3vfsTarget(options: S3VFSOptions, prefix: string): SqlTarget {
  let vfs = new S3VFS(options);
  return {
    id: "ours",
    open: () => new Database(vfs.uri(prefix), { flags: OPEN_READWRITE, int64: true }),
    fresh: (more?: Partial<S3VFSOptions>) => {
      vfs.close();
      vfs = new S3VFS({ ...options, ...more });
    },
    reset: () => vfs.resetStats(),
    counters: () => {
      const s = vfs.stats();
      return {
        requests: vfsRequests(s),
        detail: {
          roundTrips: s.roundTrips,
          waitMs: Math.round(s.waitMs),
          cacheHits: s.cache.hits,
          cacheMisses: s.cache.misses,
          prefetchUsed: s.cache.prefetchUsed,
          prefetchWasted: s.cache.prefetchWasted,
        },
      };
    },
    close: () => vfs.close(),
  };
}

/** Counts for workloads 1-4. */
export interface SqlSizes {
  rows: number;
  commits: number;
  lookups: number;
}

/**
 * Reads (untimed) the blocks single-row INSERTs with k < `keys` touch, so a
 * new VFS's commits are measured without block misses.
 */
function warmForInserts(db: Database, keys: number): void {
  db.prepare(`SELECT max(id), (SELECT count(*) FROM t WHERE k < ${keys}) FROM t`).values();
}

/** Runs workloads 1-4 against `target` on a database that does not exist yet. */
export function runSqlWorkloads(target: SqlTarget, sizes: SqlSizes): WorkloadResult[] {
  const out: WorkloadResult[] = [];
  const measure = (name: string, ops: number, fn: () => number | void): void => {
    target.reset();
    const t = performance.now();
    const check = fn();
    const ms = performance.now() - t;
    const { requests, detail } = target.counters();
    const r: WorkloadResult = { name, ms, ops, requests, detail };
    if (typeof check === "number") r.check = check;
    out.push(r);
    log(summary(target.id, r));
  };

  let db = target.open();
  db.exec(SCHEMA);
  measure("bulk", sizes.rows, () => db.exec(bulkSql(sizes.rows)));
  const payload = "x".repeat(100);
  /** Single-row commits; adds the most requests one commit made to the result. */
  const commits = (name: string, conn: Database): void => {
    let most = 0;
    measure(name, sizes.commits, () => {
      const insert = conn.prepare("INSERT INTO t(k, payload) VALUES (?, ?)");
      let before = target.counters().requests.total;
      for (let i = 0; i < sizes.commits; i++) {
        insert.run(i, payload);
        const now = target.counters().requests.total;
        most = Math.max(most, now - before);
        before = now;
      }
    });
    out[out.length - 1].detail = { ...out[out.length - 1].detail, maxRequestsPerCommit: most };
  };
  // The schema was this connection's first write: it holds the writer lease from here on.
  commits("commits", db);
  const ids = lookupIds(sizes.lookups, sizes.rows);
  // The lease holder's warm point queries: one untimed pass, then the timed one (the same
  // connection, no write in between: well inside idleMs, and no timer runs in this loop).
  const held = db.prepare(POINT_QUERY);
  for (const id of ids) held.values(id);
  measure("holder", sizes.lookups, () => {
    for (const id of ids) held.values(id);
  });
  // The same after the background checkpoints the commits started have had 5 s to finish (they
  // share the 2 CPUs with this thread); a renewal may fall due meanwhile (2 requests, once).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
  for (const id of ids) held.values(id);
  measure("holder-settled", sizes.lookups, () => {
    for (const id of ids) held.values(id);
  });
  held.finalize();
  db.close(); // its last connection: releases the lease

  // Commits by a process that neither takes nor waits for the lease (its cache warmed first).
  target.fresh({ lease: false });
  db = target.open();
  warmForInserts(db, sizes.commits);
  commits("commits-nolease", db);
  db.close();

  target.fresh();
  // The point query is prepared once per connection, as applications do with @db/sqlite.
  let cold: Statement | undefined;
  measure("cold", sizes.lookups, () => {
    db = target.open();
    const st = cold = db.prepare(POINT_QUERY);
    for (const id of ids) st.values(id);
  });
  const point = cold!;
  measure("warm", sizes.lookups, () => {
    for (const id of ids) point.values(id);
  });
  // Bounded staleness on this (reader) connection: a snapshot up to 1 s old needs no request.
  db.exec("PRAGMA s3vfs_staleness = 1000"); // a local file ignores the unknown PRAGMA
  measure("stale", sizes.lookups, () => {
    for (const id of ids) point.values(id);
  });
  db.exec("PRAGMA s3vfs_staleness = 0");
  db.exec("PRAGMA locking_mode = EXCLUSIVE");
  point.values(ids[0]); // takes the lock it then keeps
  measure("exclusive", sizes.lookups, () => {
    for (const id of ids) point.values(id);
  });
  db.close();

  target.fresh();
  measure("scan", 1, () => {
    const conn = target.open();
    try {
      return Number(conn.prepare(SCAN_QUERY).values()[0][0]);
    } finally {
      conn.close();
    }
  });
  return out;
}

/** Seconds of single-row commits and point queries in {@linkcode leaseCosts}' active window. */
export const LEASE_ACTIVE_MS = 30_000;
/** The idle window of {@linkcode leaseCosts} (inside the default idleMs of 30 s). */
export const LEASE_IDLE_MS = 10_000;
/** `lease.idleMs` of the VFS that shows the release by the idle timer. */
export const LEASE_SHORT_IDLE_MS = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The writer lease's own costs, on the database workloads 1-4 left behind
 * (no lease held): taking it (`BEGIN IMMEDIATE`, then the first commit),
 * {@linkcode LEASE_ACTIVE_MS} of one single-row commit and 10 point queries
 * every 100 ms (lazy renewals), {@linkcode LEASE_IDLE_MS} idle, the first
 * read after that, the release on close, and the release by the idle timer
 * of a VFS with `lease: { idleMs: LEASE_SHORT_IDLE_MS }`. The sleeps let
 * timers run, as in an application.
 */
export async function leaseCosts(
  options: S3VFSOptions,
  prefix: string,
  rows: number,
): Promise<WorkloadResult[]> {
  const out: WorkloadResult[] = [];
  let vfs = new S3VFS(options);
  const step = async (
    name: string,
    ops: number | (() => number),
    fn: () => unknown,
  ): Promise<void> => {
    vfs.resetStats();
    const t = performance.now();
    await fn();
    const ms = performance.now() - t;
    const s = vfs.stats();
    const n = typeof ops === "number" ? ops : ops();
    const r: WorkloadResult = {
      name,
      ms,
      ops: n,
      requests: vfsRequests(s),
      detail: { roundTrips: s.roundTrips, background: s.background.total },
    };
    out.push(r);
    log(summary("lease", r));
  };
  const payload = "x".repeat(100);
  const ids = lookupIds(10, rows);
  let db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE, int64: true });
  let insert = db.prepare("INSERT INTO t(k, payload) VALUES (?, ?)");
  const point = db.prepare(POINT_QUERY);
  for (const id of ids) point.values(id); // untimed: fills the cache
  warmForInserts(db, 1000);
  await step("take", 1, () => db.exec("BEGIN IMMEDIATE")); // refresh + take
  await step("first-commit", 1, () => {
    insert.run(0, payload);
    db.exec("COMMIT");
  });
  let n = 0;
  const times: number[] = [];
  await step("active", () => n, async () => {
    const end = performance.now() + LEASE_ACTIVE_MS;
    while (performance.now() < end) {
      const t = performance.now();
      insert.run(n, payload);
      for (const id of ids) point.values(id);
      times.push(performance.now() - t);
      n++;
      await sleep(100);
    }
  });
  times.sort((a, b) => a - b);
  out[out.length - 1].detail = {
    ...out[out.length - 1].detail,
    medianMs: Number(times[times.length >> 1].toFixed(2)),
    maxMs: Number(times[times.length - 1].toFixed(2)),
  };
  await step("idle", 1, () => sleep(LEASE_IDLE_MS));
  await step("after-idle", 1, () => point.values(ids[0])); // the renewal is due by now
  await step("after-idle-commit", 1, () => insert.run(0, payload));
  point.finalize();
  insert.finalize();
  await step("release-close", 1, () => db.close()); // the last connection: release
  vfs.close();

  vfs = new S3VFS({ ...options, lease: { idleMs: LEASE_SHORT_IDLE_MS } });
  db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE, int64: true });
  insert = db.prepare("INSERT INTO t(k, payload) VALUES (?, ?)");
  insert.run(0, payload); // takes the lease
  await step("release-idle", 1, () => sleep(LEASE_SHORT_IDLE_MS + 1_000));
  insert.finalize();
  db.close();
  vfs.close();
  return out;
}

/**
 * Workloads 1-4 (bulk load, small commits, point queries cold / warm /
 * exclusive, cold full scan) for the contenders that run in this process:
 * SQLite on a local file (the floor) and this package's S3VFS with default
 * settings. The Python peer runs the same SQL in bench/py/peer.py.
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
  /** Drops every cache: a new VFS (ours); nothing to do for a local file. */
  fresh(): void;
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
    fresh: () => {
      vfs.close();
      vfs = new S3VFS(options);
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
  measure("commits", sizes.commits, () => {
    const insert = db.prepare("INSERT INTO t(k, payload) VALUES (?, ?)");
    for (let i = 0; i < sizes.commits; i++) insert.run(i, payload);
  });
  db.close();

  const ids = lookupIds(sizes.lookups, sizes.rows);
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

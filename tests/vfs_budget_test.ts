/**
 * Request budgets: what common operations cost in S3 requests, counted by
 * `vfs.stats()` after `vfs.resetStats()`. The counts are deterministic
 * (one connection, one process, fixed data), so most are asserted exactly;
 * each is also printed (`budget: ...` lines) for the docs. The commit-log
 * protocol (docs/protocol.md section 11): a read transaction costs one GET
 * when nothing changed; a single-row commit 1 GET + 1 PUT in 2 round trips.
 *
 * Settings unless noted: DELETE journal mode, 4096-byte pages and blocks,
 * default cache (64 MiB) and read-ahead (4 doubling to 64 blocks). Databases
 * read by the scans are checkpointed first (their data in the block objects,
 * the steady state); one test reads a database whose data is still in the log.
 */

import { equal, ok } from "node:assert/strict";
import type { VfsStats } from "../src/vfs/stats.ts";
import type { S3VFS } from "../src/vfs/vfs.ts";
import type { S3VFSOptions } from "../src/vfs/options.ts";
import { freshBucket, type TestBucket } from "./_harness.ts";
import { FAST_TIMING, openDb, settle, testVfs } from "./_vfs.ts";

type Db = ReturnType<typeof openDb>;
const ROWS = 10_000;

function show(label: string, vfs: S3VFS): VfsStats["requests"] {
  const s = vfs.stats();
  const r = s.requests;
  const parts = Object.entries(r).filter(([k, v]) => v || k === "total").map(([k, v]) =>
    `${k}=${v}`
  );
  console.log(
    `budget: ${label}: ${
      parts.join(" ")
    } (round trips ${s.roundTrips}; cache hits ${s.cache.hits}, ` +
      `misses ${s.cache.misses}, prefetch used ${s.cache.prefetchUsed}, wasted ${s.cache.prefetchWasted})`,
  );
  return r;
}

/** Creates `t` with ROWS rows in one transaction through `vfs`; returns the open connection. */
function create(vfs: S3VFS, prefix: string): Db {
  const db = openDb(vfs, prefix);
  db.exec("PRAGMA page_size = 4096");
  db.exec("PRAGMA journal_mode = DELETE");
  db.exec("BEGIN");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  for (let i = 1; i <= ROWS; i++) {
    db.run("INSERT INTO t (v) VALUES (?)", `value number ${i} ${"x".repeat(i % 20)}`);
  }
  db.exec("COMMIT");
  return db;
}

/** Non-empty block objects under `prefix/` (tombstones are empty). */
async function blockCount(b: TestBucket, prefix: string): Promise<number> {
  let n = 0;
  for await (const e of b.client.list(b.bucket, { prefix: `${prefix}/` })) if (e.size > 0) n++;
  return n;
}

/** Creates the database, checkpoints it (unless `inLog`); returns its number of blocks. */
async function setup(
  b: TestBucket,
  prefix: string,
  opts: S3VFSOptions = {},
  inLog = false,
): Promise<number> {
  using vfs = testVfs(b.bucket, { timing: FAST_TIMING, ...opts });
  const db = create(vfs, prefix);
  const pages = Number(db.prepare("PRAGMA page_count").values()[0][0]);
  db.close();
  if (!inLog) {
    await settle(vfs, prefix);
    equal(await blockCount(b, prefix), pages, "checkpointed: one block per page");
  }
  return pages;
}

/** 50 ids from a fixed-seed LCG. */
function randomIds(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 1 + (x % ROWS);
  });
}

Deno.test("S3VFS requests: create + 10k-row insert, then a single-row INSERT is 1 PUT for the lease holder", async () => {
  await using b = await freshBucket("budget-insert");
  const prefix = "budget/insert.sqlite";
  using vfs = testVfs(b.bucket);
  const db = create(vfs, prefix);
  try {
    const r0 = show(`create table + ${ROWS}-row insert (one transaction, new database)`, vfs);
    // Lease, config, checkpoint record, one commit object; the rest is looking for the database.
    equal(r0.put, 4, "lease, config, checkpoint record and the one commit object");
    equal(r0.delete + r0.deleteMany, 0, "nothing is ever deleted on the commit path");
    equal(await blockCount(b, prefix), 0, "blocks are written by checkpoints, not commits");
    db.prepare("SELECT count(*) FROM t").values(); // the first read under the lease refreshes once

    for (let round = 0; round < 3; round++) {
      vfs.resetStats();
      db.run("INSERT INTO t (v) VALUES (?)", `single ${round}`);
      const r = show(`single-row INSERT, lease holder (#${round + 1})`, vfs);
      equal(r.put, 1, "the commit object, create-only");
      equal(r.total, 1, "no snapshot check: the lease holder's snapshot is current");
      equal(vfs.stats().roundTrips, 1, "1 round trip before COMMIT returns");
    }
    vfs.resetStats();
    for (const id of randomIds(50, 3)) {
      equal(db.prepare("SELECT v FROM t WHERE id = ?").values(id).length, 1);
    }
    equal(show("50 warm point queries, lease holder", vfs).total, 0);
    equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS + 3);
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: without the lease, a single-row INSERT is 1 GET + 1 PUT", async () => {
  await using b = await freshBucket("budget-insert-nolease");
  const prefix = "budget/insert.sqlite";
  using vfs = testVfs(b.bucket, { lease: false });
  const db = create(vfs, prefix);
  try {
    equal(vfs.stats().requests.put, 3, "config, checkpoint record and the one commit object");
    for (let round = 0; round < 3; round++) {
      vfs.resetStats();
      db.run("INSERT INTO t (v) VALUES (?)", `single ${round}`);
      const r = show(`single-row INSERT transaction, lease off (#${round + 1})`, vfs);
      equal(r.get, 1, "the snapshot check: GET of the next commit, 404");
      equal(r.put, 1, "the commit object, create-only");
      equal(r.total, 2);
      equal(vfs.stats().roundTrips, 2, "2 sequential round trips before COMMIT returns");
    }
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: after another process's single-row commit, a reader makes 2 GETs and fetches no block", async () => {
  await using b = await freshBucket("budget-other");
  const prefix = "budget/other.sqlite";
  await setup(b, prefix);
  using reader = testVfs(b.bucket);
  using writer = testVfs(b.bucket);
  const r = openDb(reader, prefix);
  const w = openDb(writer, prefix);
  try {
    r.prepare("SELECT sum(length(v)) FROM t").values(); // warm: every block cached
    w.run("UPDATE t SET v = 'changed' WHERE id = 5000");
    reader.resetStats();
    equal(r.prepare("SELECT v FROM t WHERE id = 5000").values()[0][0], "changed");
    const q = show("a warm reader's point query after another process's single-row commit", reader);
    equal(q.get, 2, "the new commit (with its blocks) and the 404 after it");
    equal(q.total, 2, "no GET of a block the commit did not touch");
    equal(
      JSON.stringify(r.prepare("PRAGMA integrity_check").values()),
      JSON.stringify([["ok"]]),
    );
  } finally {
    r.close();
    w.close();
  }
});

Deno.test("S3VFS requests: a warm point query is one GET, none in EXCLUSIVE locking mode", async () => {
  await using b = await freshBucket("budget-point");
  const prefix = "budget/point.sqlite";
  await setup(b, prefix);
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  try {
    db.prepare("SELECT sum(length(v)) FROM t").values(); // warm
    vfs.resetStats();
    equal(db.prepare("SELECT v FROM t WHERE id = ?").values(4321).length, 1);
    let r = show("warm point query", vfs);
    equal(r.total, 1);
    equal(r.get, 1, "the snapshot check (404)");

    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.prepare("SELECT v FROM t WHERE id = 1").values(); // takes the lock (one more check)
    vfs.resetStats();
    for (const id of randomIds(50, 7)) {
      equal(db.prepare("SELECT v FROM t WHERE id = ?").values(id).length, 1);
    }
    r = show("50 warm point queries, locking_mode=EXCLUSIVE", vfs);
    equal(r.total, 0);
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: a cold SELECT count(*) reads each block at most once, LIST at most twice", async () => {
  await using b = await freshBucket("budget-cold-count");
  const prefix = "budget/cold.sqlite";
  const blocks = await setup(b, prefix);
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  vfs.resetStats(); // the open's LIST is counted in the next test
  try {
    equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
    const r = show(`cold SELECT count(*) after the open (new VFS, ${blocks} blocks)`, vfs);
    const s = vfs.stats();
    equal(r.list, 0, "the open listed the log already");
    ok(
      r.get <= blocks + 1,
      `gets ${r.get} > blocks ${blocks} + the snapshot check: read-ahead fetched past the end or twice`,
    );
    ok(s.cache.prefetchUsed > 0, "read-ahead was used by the scan");
    equal(r.put + r.delete + r.deleteMany, 0);
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: open + cold SELECT count(*) from a new VFS, all requests", async () => {
  await using b = await freshBucket("budget-cold-open");
  const prefix = "budget/cold-open.sqlite";
  const blocks = await setup(b, prefix);
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  try {
    equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
    const r = show(`open + cold SELECT count(*) (new VFS, ${blocks} blocks)`, vfs);
    equal(r.list, 1, "the log after the checkpoint");
    // The open: config + checkpoint record, the LIST, the checkpoint record again (3 round
    // trips); the first read transaction's snapshot check; then each block once.
    ok(r.get <= blocks + 5, `gets ${r.get} > blocks ${blocks} + 5`);
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: open + cold SELECT count(*) of a database still in the log", async () => {
  await using b = await freshBucket("budget-cold-log");
  const prefix = "budget/cold-log.sqlite";
  const blocks = await setup(b, prefix, {}, true);
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  try {
    equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
    const r = show(`open + cold SELECT count(*), data in the log (${blocks} blocks)`, vfs);
    equal(r.list, 1);
    ok(r.get <= blocks + 5, `gets ${r.get} > blocks ${blocks} + 5 (ranged GETs of the commit)`);
  } finally {
    db.close();
  }
});

Deno.test("S3VFS requests: random cold point lookups: read-ahead costs no extra GETs", async () => {
  await using b = await freshBucket("budget-random");
  const prefix = "budget/random.sqlite";
  await setup(b, prefix);
  const ids = randomIds(50, 2024);
  const gets: Record<string, number> = {};
  for (
    const [label, opts] of [["readAhead default", {}], ["readAhead false", {
      readAhead: false,
    }]] as const
  ) {
    using vfs = testVfs(b.bucket, opts);
    const db = openDb(vfs, prefix);
    try {
      for (const id of ids) equal(db.prepare("SELECT id FROM t WHERE id = ?").values(id)[0][0], id);
      gets[label] = show(`50 random cold point lookups, ${label}`, vfs).get;
    } finally {
      db.close();
    }
  }
  ok(gets["readAhead default"] <= gets["readAhead false"], JSON.stringify(gets));
});

Deno.test("S3VFS requests: a second full scan is served by the cache; a tiny cache refetches", async () => {
  await using b = await freshBucket("budget-cache");
  const prefix = "budget/cache.sqlite";
  const blocks = await setup(b, prefix);
  const scan = "SELECT sum(length(v)), max(id) FROM t";
  for (
    const [label, cacheBytes] of [["default cache", undefined], [
      "64 KiB cache",
      64 * 1024,
    ]] as const
  ) {
    using vfs = testVfs(b.bucket, cacheBytes === undefined ? {} : { cacheBytes });
    const db = openDb(vfs, prefix);
    try {
      // SQLite's own page cache must not hide the VFS: make it tiny.
      db.exec("PRAGMA cache_size = 10");
      const first = db.prepare(scan).values();
      const r1 = show(`first full scan, ${label}`, vfs);
      ok(vfs.stats().cache.prefetchUsed > 0, "the scan used read-ahead");
      if (cacheBytes === undefined) {
        ok(r1.get <= blocks + 5, `gets ${r1.get} > ${blocks} blocks + the open's`);
      }
      vfs.resetStats();
      equal(JSON.stringify(db.prepare(scan).values()), JSON.stringify(first));
      const r2 = show(`second full scan, ${label}`, vfs);
      if (cacheBytes === undefined) {
        equal(r2.get, 1, "the snapshot check only: all blocks from the cache");
        equal(r2.total, 1);
      } else {
        ok(r2.get > 1, "a 64 KiB cache cannot hold the table: blocks are fetched again");
        ok(vfs.stats().cache.evictions > 0);
      }
    } finally {
      db.close();
    }
  }
});

Deno.test("S3VFS requests: with a small or no cache, read-ahead fetches no more blocks than reading without it", async () => {
  await using b = await freshBucket("budget-small-cache");
  const prefix = "budget/small-cache.sqlite";
  const blocks = await setup(b, prefix);
  const scan = "SELECT sum(length(v)), max(id) FROM t";
  const gets: Record<string, number> = {};
  for (const cacheBytes of [64 * 1024, 0]) {
    for (const readAhead of [undefined, false] as const) {
      const label = `full scan, cacheBytes ${cacheBytes}, readAhead ${readAhead ?? "default"}`;
      using vfs = testVfs(
        b.bucket,
        readAhead === false ? { cacheBytes, readAhead } : { cacheBytes },
      );
      const db = openDb(vfs, prefix);
      try {
        db.exec("PRAGMA cache_size = 10");
        db.prepare(scan).values();
        gets[label] = show(label, vfs).get;
      } finally {
        db.close();
      }
    }
  }
  console.log(`budget: ${blocks} blocks; GETs per case: ${JSON.stringify(gets)}`);
  for (const cacheBytes of [64 * 1024, 0]) {
    const withRa = gets[`full scan, cacheBytes ${cacheBytes}, readAhead default`];
    const without = gets[`full scan, cacheBytes ${cacheBytes}, readAhead false`];
    // (+ the snapshot check of each transaction)
    ok(without <= blocks + 7, `without read-ahead: ${without} GETs for ${blocks} blocks`);
    ok(
      withRa <= without,
      `cacheBytes ${cacheBytes}: read-ahead made ${withRa} GETs where reading without it made ${without} ` +
        `(${blocks} blocks): prefetched blocks are evicted (or never cached) before they are read`,
    );
  }
});

/**
 * The writer lease, bounded staleness and the `s3vfs_*` PRAGMAs, in one
 * process against MinIO through @db/sqlite (two S3VFS instances are two
 * independent holders). Requests are counted with `vfs.stats()`. The
 * multi-process cases (busy_timeout waiting, kill -9, SIGSTOP) are in
 * tests/mp_lease_test.ts.
 *
 * @module
 */

import { equal, match, ok } from "node:assert/strict";
import { leaseKey } from "../src/log/keys.ts";
import { decodeLease, type LeaseRecord } from "../src/log/lease.ts";
import { FOLDABLE_AFTER_MS, freshBucket, type TestBucket } from "./_harness.ts";
import type { S3VFS, S3VFSOptions } from "../mod.ts";
import { extendedErrcode, FAST_TIMING, openDb, testVfs } from "./_vfs.ts";

/** FAST_TIMING: W 2 s, M 1 s, so the lease TTL is 8 s (W + 4 M + 2 s). */
const TTL_MS = 8000;

async function leaseRecord(b: TestBucket, prefix: string): Promise<LeaseRecord> {
  const r = await b.client.get(b.bucket, leaseKey(prefix));
  if (r.status !== "ok") throw new Error(`no lease object: ${r.status}`);
  return decodeLease(r.body);
}

/** Opens VFSs and connections, and closes them all (connections first) without masking a failure. */
class Scope {
  #dbs: Db[] = [];
  #vfss: S3VFS[] = [];
  vfs(bucket: string, options: S3VFSOptions): S3VFS {
    const v = testVfs(bucket, options);
    this.#vfss.push(v);
    return v;
  }
  db(vfs: S3VFS, prefix: string): Db {
    const d = openDb(vfs, prefix);
    this.#dbs.push(d);
    return d;
  }
  [Symbol.dispose](): void {
    for (const d of this.#dbs) {
      try {
        if (d.open) d.close();
      } catch { /* reported by the test */ }
    }
    for (const v of this.#vfss) {
      try {
        v.close();
      } catch { /* idem */ }
    }
  }
}
type Db = ReturnType<typeof openDb>;

async function leaseEtag(b: TestBucket, prefix: string): Promise<string> {
  const r = await b.client.get(b.bucket, leaseKey(prefix));
  if (r.status !== "ok") throw new Error(`no lease object: ${r.status}`);
  return r.etag;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

Deno.test("S3VFS lease: the holder reads with 0 requests and commits with 1 PUT; another writer gets SQLITE_BUSY until it closes", async () => {
  await using b = await freshBucket("lease-basic");
  using sc = new Scope();
  const prefix = "lease/basic.sqlite";
  const a = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const other = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const da = sc.db(a, prefix);
  da.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  da.exec("INSERT INTO t (v) VALUES ('a1')");
  const rec = await leaseRecord(b, prefix);
  equal(rec.pid, Deno.pid);
  equal(rec.released, false);
  equal(rec.generation, 1);

  a.resetStats();
  da.exec("INSERT INTO t (v) VALUES ('a2')");
  equal(a.stats().requests.total, 1, "a holder's commit is its PUT");
  equal(da.prepare("SELECT count(*) FROM t").values()[0][0], 2);
  equal(a.stats().requests.total, 1, "and its reads ask nothing");
  match(String(da.prepare("PRAGMA s3vfs_lease").values()[0][0]), /held by this process/);

  const db = sc.db(other, prefix);
  equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 2, "readers never need the lease");
  let busy: unknown;
  try {
    db.exec("INSERT INTO t (v) VALUES ('b1')");
  } catch (e) {
    busy = e;
  }
  ok(busy instanceof Error, "the write failed");
  match(busy.message, /database is locked/);
  equal(extendedErrcode(other, db), 5, "SQLITE_BUSY from the lock step");
  match(String(other.lastError), /writer lease is held by .* pid \d+/);
  match(String(db.prepare("PRAGMA s3vfs_lease").values()[0][0]), /held by .*pid \d+/);

  da.close(); // the last connection: the lease is released
  equal((await leaseRecord(b, prefix)).released, true);
  await sleep(250); // a "busy" answer is reused for 200 ms
  db.exec("INSERT INTO t (v) VALUES ('b1')");
  const after = await leaseRecord(b, prefix);
  equal(after.generation, 2, "taken over: a new generation");
  equal(db.prepare("SELECT group_concat(v) FROM t").values()[0][0], "a1,a2,b1");
  db.close();
});

Deno.test("S3VFS lease: a holder that stops renewing is taken over once its TTL passes, and then reads the new commits", async () => {
  await using b = await freshBucket("lease-expiry");
  using sc = new Scope();
  const prefix = "lease/expiry.sqlite";
  const a = sc.vfs(b.bucket, { timing: FAST_TIMING, lease: { idleMs: 3_600_000 } });
  const other = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const da = sc.db(a, prefix);
  da.exec("CREATE TABLE t (v)");
  da.exec("INSERT INTO t VALUES (1)");
  const db = sc.db(other, prefix);
  const started = Date.now();
  let waited = 0;
  for (;;) {
    try {
      db.exec("INSERT INTO t VALUES (2)");
      break;
    } catch (e) {
      equal(extendedErrcode(other, db), 5, `${e}`);
      waited = Date.now() - started;
      ok(waited < TTL_MS + 6000, `still busy after ${waited} ms`);
      await sleep(200);
    }
  }
  ok(waited >= TTL_MS - 3000, `taken over after ${waited} ms, TTL ${TTL_MS}`);
  // `a` holds nothing now: its next read transaction asks S3 and sees the other's commit.
  a.resetStats();
  equal(da.prepare("SELECT group_concat(v) FROM t").values()[0][0], "1,2");
  ok(a.stats().requests.get >= 1, "the lapsed holder refreshed");
  let busy = false;
  try {
    da.exec("INSERT INTO t VALUES (3)");
  } catch {
    busy = extendedErrcode(a, da) === 5;
  }
  ok(busy, "the old holder now waits for the new one");
  db.close();
  await sleep(250);
  da.exec("INSERT INTO t VALUES (3)");
  equal(da.prepare("SELECT group_concat(v) FROM t").values()[0][0], "1,2,3");
  da.close();
});

Deno.test("S3VFS lease: renewing costs one round trip of 2 requests per W/3, none per transaction; idle release", async () => {
  await using b = await freshBucket("lease-renew");
  using sc = new Scope();
  const prefix = "lease/renew.sqlite";
  const a = sc.vfs(b.bucket, { timing: FAST_TIMING, lease: { idleMs: 1500 } });
  const da = sc.db(a, prefix);
  da.exec("CREATE TABLE t (v)");
  da.exec("INSERT INTO t VALUES (0)");
  da.prepare("SELECT count(*) FROM t").values();
  const etagBefore = await leaseEtag(b, prefix);
  a.resetStats();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000) { // renewal every min(TTL, W) / 3 = 667 ms
    da.prepare("SELECT count(*) FROM t").values();
    n++;
    await sleep(20);
  }
  const s = a.stats();
  ok(n > 20, `${n} read transactions`);
  equal(s.requests.put, 1, "one renewal in a second of reads");
  equal(s.requests.get, 1, "its probe of the next log slot");
  equal(s.roundTrips, 1, "renewal and probe together");
  // S3's ETag is the MD5 of the body: a renewal must change it, or a take-over conditional on
  // the old ETag would still succeed after the renewal.
  ok((await leaseEtag(b, prefix)) !== etagBefore, "a renewal changes the lease's ETag");
  da.exec("INSERT INTO t VALUES (1)");
  ok(!(await leaseRecord(b, prefix)).released);
  await sleep(2500); // idleMs 1500 without a write transaction
  ok((await leaseRecord(b, prefix)).released, "released after idleMs without a write");
  match(String(da.prepare("PRAGMA s3vfs_lease").values()[0][0]), /released/);
  da.close();
});

Deno.test("S3VFS staleness: a bounded reader sees a commit at most the bound late and asks nothing inside it", async () => {
  await using b = await freshBucket("lease-stale");
  using sc = new Scope();
  const prefix = "lease/stale.sqlite";
  const w = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const r = sc.vfs(b.bucket, { timing: FAST_TIMING, staleness: 1500 });
  const dw = sc.db(w, prefix);
  dw.exec("CREATE TABLE t (v)");
  dw.exec("INSERT INTO t VALUES (1)");
  const dr = sc.db(r, prefix);
  const fresh = sc.db(r, prefix); // same VFS; this connection asks for no staleness
  equal(dr.prepare("SELECT max(v) FROM t").values()[0][0], 1);
  dw.exec("INSERT INTO t VALUES (2)");
  const committed = performance.now();
  r.resetStats();
  equal(dr.prepare("SELECT max(v) FROM t").values()[0][0], 1, "inside the bound: the old snapshot");
  equal(r.stats().requests.total, 0, "and no request");
  for (;;) {
    const v = dr.prepare("SELECT max(v) FROM t").values()[0][0];
    const late = performance.now() - committed;
    if (v === 2) {
      ok(late <= 1500 + 500, `seen ${late} ms after the commit, bound 1500`);
      break;
    }
    ok(late < 1500, `still not seen after ${late} ms`);
    await sleep(50);
  }
  dw.exec("INSERT INTO t VALUES (3)");
  equal(String(fresh.prepare("PRAGMA s3vfs_staleness = 0").values()[0][0]), "0");
  equal(fresh.prepare("SELECT max(v) FROM t").values()[0][0], 3, "staleness 0: current");
  fresh.close();
  dr.close();
  // Per connection, by URI.
  const plain = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const { Database } = await import("./_vfs.ts");
  const { OPEN_READWRITE } = await import("../mod.ts");
  const bounded = new Database(plain.uri(prefix, { staleness: 60_000 }), {
    flags: OPEN_READWRITE,
  });
  equal(String(bounded.prepare("PRAGMA s3vfs_staleness").values()[0][0]), "60000");
  equal(bounded.prepare("SELECT max(v) FROM t").values()[0][0], 3);
  dw.exec("INSERT INTO t VALUES (4)");
  equal(bounded.prepare("SELECT max(v) FROM t").values()[0][0], 3, "within 60 s: not asked");
  bounded.close();
  dw.close();
});

Deno.test("S3VFS PRAGMAs: s3vfs_txid follows the commits, s3vfs_checkpoint folds the log", async () => {
  await using b = await freshBucket("lease-pragma");
  using sc = new Scope();
  const prefix = "lease/pragma.sqlite";
  const vfs = sc.vfs(b.bucket, { timing: FAST_TIMING });
  const db = sc.db(vfs, prefix);
  db.exec("CREATE TABLE t (v)");
  const t1 = Number(db.prepare("PRAGMA s3vfs_txid").values()[0][0]);
  db.exec("INSERT INTO t VALUES (1)");
  equal(Number(db.prepare("PRAGMA s3vfs_txid").values()[0][0]), t1 + 1);
  await sleep(FOLDABLE_AFTER_MS); // older than the grace period G + M
  const out = JSON.parse(String(db.prepare("PRAGMA s3vfs_checkpoint").values()[0][0]));
  equal(out.kind, "folded");
  equal(out.to, t1 + 1);
  let err: unknown;
  try {
    db.prepare("PRAGMA s3vfs_lease = nonsense").values();
  } catch (e) {
    err = e;
  }
  match(String(err), /s3vfs_lease takes only "release"/);
  equal(db.prepare("PRAGMA user_version").values()[0][0], 0, "other PRAGMAs are SQLite's");
  db.close();
});

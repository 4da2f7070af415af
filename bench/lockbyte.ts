/**
 * `deno run -A bench/lockbyte.ts [--rows N]`: a database crossing SQLite's
 * 1 GiB lock-byte page, as in sqlite-s3vfs's own tests: 64 KiB pages and 64
 * KiB blocks, rows of 4,050-byte random blobs inserted in transactions until
 * the file passes 1.1 GiB (about 300,000 rows). Then:
 *
 * - `PRAGMA integrity_check` is ok;
 * - a LIST shows blocks 0..n-1 with every block but the last exactly 65,536
 *   bytes, the blocks around offset 1 GiB present, and the lock-byte page's
 *   block (never written by SQLite, zero-filled by the VFS) all zeros;
 * - a new S3VFS (nothing shared in memory) counts the rows and reads a row
 *   stored past 1 GiB.
 *
 * Prints wall time and S3 request counts per phase; exits 1 on a failed
 * check. Starts its own MinIO (scripts/minio.ts; data on /dev/shm when it
 * exists unless BENCH_MINIO_DISK=1), or uses S3_ENDPOINT when set (a fresh
 * bucket, emptied and removed at the end).
 *
 * @module
 */

import { Database } from "../scripts/db_sqlite.ts";
import { startBenchMinio } from "./bench_minio.ts";
import { blockKey } from "../src/blocks.ts";
import { S3Client } from "../src/s3/client.ts";
import type { VfsStats } from "../src/vfs/stats.ts";
import { S3VFS } from "../src/vfs/vfs.ts";
import { OPEN_READWRITE } from "../src/vfs/options.ts";

const PAGE = 65536;
const BLOCK = 65536;
const BLOB = 4050;
const GIB = 1024 ** 3;
const TARGET = 1.1 * GIB;
const BATCH = 20_000;
const LOCK_BLOCK = GIB / BLOCK; // block holding offset 1 GiB (the lock-byte page)

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const maxRows = Number(arg("--rows") ?? 400_000);

const failures: string[] = [];
function check(cond: boolean, what: string): void {
  console.log(`  ${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}

function fmtReq(s: VfsStats): string {
  const r = s.requests;
  const parts = Object.entries(r).filter(([k, v]) => v || k === "total").map(([k, v]) =>
    `${k}=${v}`
  );
  return `${parts.join(" ")}; in ${(s.bytesIn / 2 ** 20).toFixed(0)} MiB, out ${
    (s.bytesOut / 2 ** 20).toFixed(0)
  } MiB, ` +
    `round trips ${s.roundTrips}, waited ${(s.waitMs / 1000).toFixed(1)} s`;
}

async function timed<T>(label: string, vfs: S3VFS | null, fn: () => T | Promise<T>): Promise<T> {
  vfs?.resetStats();
  const t0 = performance.now();
  const out = await fn();
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${label}: ${s} s${vfs ? `; requests: ${fmtReq(vfs.stats())}` : ""}`);
  return out;
}

async function main(): Promise<number> {
  const s3 = await startBenchMinio();
  const conn = {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const client = new S3Client(conn);
  const bucket = `lockbyte-${crypto.randomUUID().slice(0, 8)}`;
  const prefix = "big/lockbyte.sqlite";
  await client.createBucket(bucket);
  console.log(
    `lock-byte bench: ${s3.external ? "external endpoint" : "MinIO"} ${s3.endpoint}` +
      `${
        s3.dataDir?.startsWith("/dev/shm") ? " (data on /dev/shm)" : ""
      }, bucket ${bucket}, page ${PAGE}, block ${BLOCK}, blobs ${BLOB} B`,
  );
  const started = performance.now();
  try {
    let rows = 0;
    let fileSize = 0;
    {
      using vfs = new S3VFS({ ...conn, bucket, blockSize: BLOCK });
      const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE, int64: true });
      try {
        db.exec(`PRAGMA page_size = ${PAGE}`);
        db.exec("PRAGMA journal_mode = DELETE");
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
        let commits = 0;
        await timed("insert", vfs, () => {
          while (fileSize <= TARGET && rows < maxRows) {
            const n = Math.min(BATCH, maxRows - rows);
            db.exec("BEGIN");
            db.run(
              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) " +
                "INSERT INTO t (b) SELECT randomblob(?) FROM c",
              n,
              BLOB,
            );
            db.exec("COMMIT");
            commits++;
            rows += n;
            const [[pc, ps]] = db.prepare(
              "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size",
            ).values();
            fileSize = Number(pc) * Number(ps);
          }
          console.log(
            `  ${rows} rows in ${commits} transactions; file ${fileSize} bytes ` +
              `(${(fileSize / GIB).toFixed(3)} GiB, ${fileSize / PAGE} pages)`,
          );
        });
        check(fileSize > TARGET, `the file passed 1.1 GiB (${fileSize} bytes)`);
        const integrity = await timed(
          "integrity_check (same connection)",
          vfs,
          () => db.prepare("PRAGMA integrity_check").values().map((r) => r[0]).join("\n"),
        );
        check(integrity === "ok", `integrity_check: ${integrity.slice(0, 200)}`);
      } finally {
        db.close();
      }
    }

    // The objects: blocks 0..n-1, all full but the last; the lock-byte page's block zeroed.
    await timed("LIST + lock-byte block check", null, async () => {
      const sizes = new Map<string, number>();
      for await (const e of client.list(bucket, { prefix: prefix + "/" })) sizes.set(e.key, e.size);
      const n = Math.ceil(fileSize / BLOCK);
      check(sizes.size === n, `${sizes.size} block objects, expected ${n}`);
      let wrong = 0;
      for (let i = 0; i < n; i++) {
        const want = i < n - 1 ? BLOCK : fileSize - (n - 1) * BLOCK;
        if (sizes.get(blockKey(prefix, i)) !== want) wrong++;
      }
      check(
        wrong === 0,
        `every block but the last is ${BLOCK} bytes, the last ${
          fileSize - (n - 1) * BLOCK
        } (${wrong} wrong)`,
      );
      for (const i of [LOCK_BLOCK - 1, LOCK_BLOCK, LOCK_BLOCK + 1]) {
        check(
          sizes.get(blockKey(prefix, i)) === BLOCK,
          `block ${i} (offset ${i * BLOCK}) exists, ${BLOCK} bytes`,
        );
      }
      const lock = await client.get(bucket, blockKey(prefix, LOCK_BLOCK));
      check(
        lock.status === "ok" && lock.body.every((x) => x === 0),
        `lock-byte page block ${LOCK_BLOCK} is all zeros`,
      );
      const journal: string[] = [];
      for await (const e of client.list(bucket, { prefix: prefix + "-journal/" })) {
        journal.push(e.key);
      }
      check(journal.length === 0, "no journal left");
    });

    // A new VFS: count, and a row stored past 1 GiB.
    {
      using vfs = new S3VFS({ ...conn, bucket, blockSize: BLOCK });
      const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE, int64: true });
      try {
        const count = await timed(
          "reopen from a new VFS + SELECT count(*)",
          vfs,
          () => Number(db.prepare("SELECT count(*) FROM t").values()[0][0]),
        );
        check(count === rows, `count ${count} = ${rows} rows inserted`);
        const last = await timed(
          "point read of the last row (past 1 GiB)",
          vfs,
          () => db.prepare("SELECT length(b) FROM t WHERE id = ?").values(rows),
        );
        check(last.length === 1 && last[0][0] === BLOB, `last row has a ${BLOB}-byte blob`);
      } finally {
        db.close();
      }
    }
  } finally {
    if (s3.external) {
      // Leave the shared endpoint as it was.
      const keys: string[] = [];
      for await (const e of client.list(bucket)) keys.push(e.key);
      await client.deleteMany(bucket, keys);
      await client.deleteBucket(bucket);
    }
    await s3.stop();
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  if (failures.length) {
    console.log(`lock-byte bench FAILED (${total} s): ${failures.length} check(s) failed`);
    return 1;
  }
  console.log(`lock-byte bench passed in ${total} s`);
  return 0;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    console.error(e instanceof Error ? e.stack : e);
  }
  Deno.exit(code);
}

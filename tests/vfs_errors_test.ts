/**
 * Failures of S3VFS as users meet them:
 *
 * - bad credentials (unknown key id, wrong secret): opening fails, and
 *   `vfs.lastError` is an S3Error naming the S3 code, without the secret;
 * - a missing bucket: fails with NoSuchBucket;
 * - S3 going away under an open connection (a private MinIO, stopped): the
 *   next statement needing I/O fails with an SQLITE_IOERR in bounded time,
 *   and closing the connection and the VFS still works;
 * - a read-only open of a prefix with no database: SQLITE_CANTOPEN, and
 *   lastError says there is no database;
 * - a closed VFS cannot open anything; closing a VFS with an open connection
 *   is refused with a VfsError (and works once the connection is closed);
 * - constructor argument errors: RangeError / TypeError.
 */

import { equal, match, ok, throws } from "node:assert/strict";
import { S3Error, VfsError } from "../src/errors.ts";
import { S3Client } from "../src/s3/client.ts";
import { S3VFS } from "../src/vfs/vfs.ts";
import { OPEN_READONLY, OPEN_READWRITE } from "../src/vfs/options.ts";
import { type MinioServer, startMinio } from "../scripts/minio.ts";
import { freshBucket, testS3Options, uniqueBucketName, UNKNOWN_KEY_ID } from "./_harness.ts";
import {
  Database,
  type Database as Connection,
  extendedErrcode,
  openDb,
  SqliteError,
  testVfs,
  vfsRegistered,
} from "./_vfs.ts";

const FAST = { timeoutMs: 2000, maxAttempts: 2 };
const SQLITE_ERROR = 1;
const SQLITE_IOERR = 10;
const SQLITE_CANTOPEN = 14;

/**
 * A failed SQLite call with its extended result code: @db/sqlite's SqliteError
 * when opening failed, else (a statement failed; @db/sqlite throws a plain
 * Error with SQLite's message) the code sqlite3_extended_errcode reports.
 */
class SqlFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(`${message} (code ${code})`);
  }
}

/** Runs `fn` on `db`; a failure becomes a {@link SqlFailure} with the connection's error code. */
function onDb<T>(vfs: S3VFS, db: Connection, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof Error) || e instanceof SqlFailure) throw e;
    throw new SqlFailure(extendedErrcode(vfs, db), e.message);
  }
}

/** Opens `prefix` through `vfs`; an open failure becomes a {@link SqlFailure}. */
function open(vfs: S3VFS, prefix: string, flags?: number): Connection {
  try {
    return openDb(vfs, prefix, flags);
  } catch (e) {
    if (e instanceof SqliteError) throw new SqlFailure(e.code, e.message);
    throw e;
  }
}

/** Opens `prefix` and runs a first query; returns the error either step threw. */
function openAndQuery(vfs: S3VFS, prefix: string, flags?: number): unknown {
  let db: Connection | undefined;
  try {
    const conn = db = open(vfs, prefix, flags);
    onDb(vfs, conn, () => {
      conn.exec("CREATE TABLE IF NOT EXISTS t (x)");
      conn.prepare("SELECT count(*) FROM t").values();
    });
  } catch (e) {
    return e;
  } finally {
    db?.close();
  }
  throw new Error("expected opening or the first query to fail");
}

function isIoErr(e: unknown): e is SqlFailure {
  return e instanceof SqlFailure && (e.code & 0xff) === SQLITE_IOERR;
}

Deno.test("S3VFS errors: an unknown access key id fails with the store's error (InvalidAccessKeyId), secret not shown", async () => {
  await using b = await freshBucket("errors-keyid");
  const secret = "not-the-real-secret-0123456789abcdef";
  using vfs = testVfs(b.bucket, {
    ...FAST,
    credentials: { accessKeyId: "nobody-like-this", secretAccessKey: secret },
  });
  const err = openAndQuery(vfs, "db.sqlite");
  ok(err instanceof SqlFailure, String(err));
  equal(err.code & 0xff, SQLITE_CANTOPEN, err.message);
  ok(vfs.lastError instanceof S3Error, String(vfs.lastError));
  equal(vfs.lastError.code, UNKNOWN_KEY_ID.code);
  ok(vfs.lastError.message.includes(UNKNOWN_KEY_ID.code), vfs.lastError.message);
  equal(vfs.lastError.status, UNKNOWN_KEY_ID.status);
  ok(!vfs.lastError.message.includes(secret), vfs.lastError.message);
  ok(!err.message.includes(secret));
  ok(!JSON.stringify(vfs.lastError.toJSON()).includes(secret));
});

Deno.test("S3VFS errors: a wrong secret fails with SignatureDoesNotMatch, secret not shown", async () => {
  await using b = await freshBucket("errors-secret");
  const s3 = testS3Options();
  const secret = s3.credentials.secretAccessKey.split("").reverse().join("") + "x";
  using vfs = testVfs(b.bucket, {
    ...FAST,
    credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: secret },
  });
  const err = openAndQuery(vfs, "db.sqlite");
  ok(err instanceof SqlFailure, String(err));
  ok(vfs.lastError instanceof S3Error, String(vfs.lastError));
  equal(vfs.lastError.code, "SignatureDoesNotMatch");
  match(vfs.lastError.message, /SignatureDoesNotMatch/);
  for (const s of [secret, s3.credentials.secretAccessKey]) {
    ok(!vfs.lastError.message.includes(s), vfs.lastError.message);
    ok(!err.message.includes(s));
  }
});

Deno.test("S3VFS errors: a missing bucket fails with NoSuchBucket", () => {
  using vfs = testVfs(uniqueBucketName("errors-nobucket"), FAST);
  const err = openAndQuery(vfs, "db.sqlite");
  ok(err instanceof SqlFailure, String(err));
  ok(vfs.lastError instanceof S3Error, String(vfs.lastError));
  equal(vfs.lastError.code, "NoSuchBucket");
  match(vfs.lastError.message, /NoSuchBucket/);
  // Read-only too.
  const err2 = openAndQuery(vfs, "other.sqlite", OPEN_READONLY);
  ok(err2 instanceof SqlFailure);
  equal((vfs.lastError as S3Error).code, "NoSuchBucket");
});

/** A MinIO of our own (never the shared endpoint, even when S3_ENDPOINT is set). */
async function privateMinio(): Promise<MinioServer> {
  const saved = Deno.env.get("S3_ENDPOINT");
  Deno.env.delete("S3_ENDPOINT");
  try {
    const s = await startMinio({ quiet: true });
    if (s.external) throw new Error("startMinio returned an external endpoint");
    return s;
  } finally {
    if (saved !== undefined) Deno.env.set("S3_ENDPOINT", saved);
  }
}

Deno.test("S3VFS errors: S3 going away under an open connection is an SQLITE_IOERR in bounded time", async () => {
  const s3 = await privateMinio();
  try {
    const conn = {
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    const bucket = "private";
    await new S3Client(conn).createBucket(bucket);
    const vfs = new S3VFS({ ...conn, ...FAST, bucket });
    // A second VFS without a block cache: every read transaction needs S3.
    const cold = new S3VFS({ ...conn, ...FAST, bucket, cacheBytes: 0 });
    const db = openDb(vfs, "gone.sqlite");
    let coldDb: ReturnType<typeof openDb> | undefined;
    try {
      // The writer keeps its lock (no revalidation GET at the next BEGIN), so the failure
      // below comes from the commit's own writes, not from taking the lock.
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      db.exec("BEGIN");
      for (let i = 0; i < 500; i++) {
        db.run("INSERT INTO t (v) VALUES (?)", `row ${i} ${"w".repeat(100)}`);
      }
      db.exec("COMMIT");
      coldDb = openDb(cold, "gone.sqlite");
      equal(coldDb.prepare("SELECT count(*) FROM t").values()[0][0], 500);

      await s3.stop();

      // A write transaction: the commit cannot reach S3 (the journal or the pages).
      let t0 = performance.now();
      let err: unknown;
      try {
        onDb(vfs, db, () => {
          db.exec("BEGIN");
          db.run("INSERT INTO t (v) VALUES ('after stop')");
          db.exec("COMMIT");
        });
      } catch (e) {
        err = e;
      }
      let ms = performance.now() - t0;
      console.log(
        `write after stop failed in ${ms.toFixed(0)} ms: ${err}; lastError: ${vfs.lastError}`,
      );
      ok(isIoErr(err), `expected an SQLITE_IOERR, got ${err}`);
      ok(ms < 30_000, `took ${ms} ms`);
      ok(
        vfs.lastError instanceof S3Error || vfs.lastError instanceof VfsError,
        String(vfs.lastError),
      );
      try {
        db.exec("ROLLBACK");
      } catch { /* SQLite may have rolled back already */ }

      // A read with no cache: fails at its first request.
      t0 = performance.now();
      err = undefined;
      try {
        const conn = coldDb;
        onDb(cold, conn, () => conn.prepare("SELECT sum(length(v)) FROM t").values());
      } catch (e) {
        err = e;
      }
      ms = performance.now() - t0;
      console.log(
        `cold read after stop failed in ${ms.toFixed(0)} ms: ${err}; lastError: ${cold.lastError}`,
      );
      ok(isIoErr(err), `expected an SQLITE_IOERR, got ${err}`);
      ok(ms < 30_000, `took ${ms} ms`);
      ok(cold.lastError instanceof S3Error, String(cold.lastError));
      match(cold.lastError.message, /NetworkError|Timeout/);
    } finally {
      // Closing still works (pending blocks cannot be written; that is not a hang).
      db.close();
      coldDb?.close();
      vfs.close();
      cold.close();
    }
    ok(vfs.closed && cold.closed);
  } finally {
    await s3.stop();
  }
});

Deno.test("S3VFS errors: an endpoint that never answers fails with Timeout in bounded time", () => {
  // A listening socket nobody reads from: connections are accepted by the kernel, no reply ever comes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const s3 = testS3Options();
    using vfs = new S3VFS({
      ...s3,
      endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
      bucket: "silent",
      timeoutMs: 300,
      maxAttempts: 2,
    });
    const t0 = performance.now();
    const err = openAndQuery(vfs, "db.sqlite");
    const ms = performance.now() - t0;
    ok(err instanceof SqlFailure, String(err));
    ok(vfs.lastError instanceof S3Error, String(vfs.lastError));
    equal(vfs.lastError.code, "Timeout");
    ok(ms < 10_000, `took ${ms} ms`);
  } finally {
    listener.close();
  }
});

Deno.test("S3VFS errors: a read-only open of a prefix with no database is SQLITE_CANTOPEN", async () => {
  await using b = await freshBucket("errors-readonly");
  using vfs = testVfs(b.bucket);
  const err = (() => {
    try {
      open(vfs, "nothing/here.sqlite", OPEN_READONLY).close();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  ok(err instanceof SqlFailure, String(err));
  equal(err.code & 0xff, SQLITE_CANTOPEN, err.message);
  ok(vfs.lastError instanceof VfsError, String(vfs.lastError));
  match(vfs.lastError.message, /no database/);
  match(vfs.lastError.message, /nothing\/here\.sqlite/);
  // Nothing was created.
  let n = 0;
  for await (const _ of b.client.list(b.bucket)) n++;
  equal(n, 0);
});

Deno.test("S3VFS errors: a closed VFS opens nothing; close() refuses while a connection is open", async () => {
  await using b = await freshBucket("errors-closed");
  const vfs = testVfs(b.bucket);
  const db = openDb(vfs, "x.sqlite");
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  // Open connection: close() throws a VfsError and leaves the VFS working.
  throws(
    () => vfs.close(),
    (e: unknown) => e instanceof VfsError && /open database file/.test(e.message),
  );
  equal(vfs.closed, false);
  equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 1);
  db.close();
  vfs.close();
  equal(vfs.closed, true);
  vfs.close(); // idempotent
  // Closed: opening through it fails with a clear error naming the VFS: uri() says it
  // is closed, and SQLite no longer knows the name.
  throws(
    () => openDb(vfs, "x.sqlite"),
    (e: unknown) => e instanceof VfsError && /closed/.test(e.message),
  );
  throws(
    () => new Database(`file:x.sqlite?vfs=${vfs.name}`, { flags: OPEN_READWRITE }),
    (e: unknown) => e instanceof SqliteError && e.code === SQLITE_ERROR,
  );
  equal(vfsRegistered(vfs, vfs.name), false, `no such vfs: ${vfs.name}`);
  // Its name is free again.
  using again = testVfs(b.bucket, { name: vfs.name });
  const db2 = openDb(again, "x.sqlite");
  try {
    equal(db2.prepare("SELECT count(*) FROM t").values()[0][0], 1);
  } finally {
    db2.close();
  }
  throws(() => testVfs(b.bucket, { name: vfs.name }), TypeError); // taken by `again`
});

Deno.test("S3VFS errors: constructor arguments", () => {
  const s3 = testS3Options();
  throws(() => new S3VFS({ ...s3, bucket: "b", blockSize: 0 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", blockSize: -4096 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", blockSize: 1.5 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", blockSize: 100 }), RangeError); // below 512
  throws(() => new S3VFS({ ...s3, bucket: "b", concurrency: 0 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", readAhead: { initial: 8, max: 2 } }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", timeoutMs: 0 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", cacheBytes: -1 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", endpoint: "ftp://x" }), TypeError);
  // The writer lease and staleness (issue 11): a TTL below W + 4 M, bad numbers, a bad shape.
  throws(
    () => new S3VFS({ ...s3, bucket: "b", lease: { ttlMs: 10_000 } }),
    (e: unknown) => e instanceof RangeError && /maxCommitLagMs \+ 4 \* marginMs/.test(e.message),
  );
  throws(() => new S3VFS({ ...s3, bucket: "b", lease: { ttlMs: 40_500 } }), RangeError);
  // ... and above keepHistory R: a holder that dies would block every writer that long.
  throws(
    () => new S3VFS({ ...s3, bucket: "b", lease: { ttlMs: 24 * 3600_000 } }),
    (e: unknown) => e instanceof RangeError && /at most keepHistoryMs/.test(e.message),
  );
  throws(() => new S3VFS({ ...s3, bucket: "b", closeWaitMs: -1 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", lease: { idleMs: -1 } }), RangeError);
  // @ts-expect-error: not a lease option
  throws(() => new S3VFS({ ...s3, bucket: "b", lease: true }), TypeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", staleness: -1 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", checkpointEvery: 0 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", maxDirtyBytes: 10 }), RangeError);
  throws(() => new S3VFS({ ...s3, bucket: "b", timing: { graceMs: 1500 } }), RangeError);
  // Missing bucket (and none in the environment).
  const saved = Deno.env.get("S3VFS_BUCKET");
  Deno.env.delete("S3VFS_BUCKET");
  try {
    throws(
      () => new S3VFS({ ...s3 }),
      (e: unknown) => e instanceof TypeError && /bucket/.test(e.message),
    );
    throws(() => new S3VFS({ ...s3, bucket: "" }), TypeError);
  } finally {
    if (saved !== undefined) Deno.env.set("S3VFS_BUCKET", saved);
  }
  // Duplicate name.
  using first = new S3VFS({ ...s3, bucket: "b", name: "errors-dup-name" });
  throws(
    () => new S3VFS({ ...s3, bucket: "b", name: "errors-dup-name" }),
    (e: unknown) => e instanceof TypeError && /already registered/.test(e.message),
  );
  equal(first.closed, false);
});

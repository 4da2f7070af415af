/**
 * Two processes on one database (nothing shared in memory): the second is
 * `deno run -A tests/child/vfs_child.ts` with its own S3VFS.
 *
 * - What this process wrote, the child reads: the same query results.
 * - Cross-process cache revalidation: this process keeps a connection open
 *   with a warm cache; while nothing changes, each read transaction costs
 *   exactly one conditional GET answered 304 and no plain GET. The child
 *   commits rows (and keeps its connection open); this process's next
 *   transaction sees them. Then this process writes and the child reads that.
 * - `PRAGMA locking_mode = EXCLUSIVE` on a reader: SQLite keeps its lock and
 *   its page cache, so 100 warm point queries make no request at all.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { S3VFS } from "../src/vfs/vfs.ts";
import { freshBucket, testS3Options } from "./_harness.ts";
import { openDb, testVfs } from "./_vfs.ts";

const CHILD = fileURLToPath(new URL("./child/vfs_child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface ChildOptions {
  bucket: string;
  prefix: string;
  action: "read" | "insert";
  queries?: string[];
  rows?: number;
  hold?: boolean;
}

/** Starts the child process with the connection settings in its environment. */
function spawnChild(o: ChildOptions): Deno.ChildProcess {
  const s3 = testS3Options();
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD],
    cwd: ROOT,
    env: {
      S3VFS_TEST_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: s3.region,
      CHILD_BUCKET: o.bucket,
      CHILD_PREFIX: o.prefix,
      CHILD_ACTION: o.action,
      CHILD_QUERIES: JSON.stringify(o.queries ?? []),
      CHILD_ROWS: String(o.rows ?? 0),
      CHILD_HOLD: o.hold ? "1" : "0",
    },
    stdin: o.hold ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs the child to completion; returns its stdout (throws with its stderr on failure). */
async function runChild(o: ChildOptions): Promise<string> {
  const out = await spawnChild(o).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `child ${o.action} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** Reads `stream` until a line starting with `prefix`; returns that line. */
async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  timeoutMs: number,
): Promise<{ line: string; rest: ReadableStreamDefaultReader<string> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const nl = buf.indexOf("\n");
    if (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith(prefix)) return { line, rest: reader };
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no "${prefix}" line from the child within ${timeoutMs} ms`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      reader.read(),
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`no "${prefix}" line within ${timeoutMs} ms`)),
          left,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (r.done) {
      throw new Error(`child output ended before a "${prefix}" line (got ${JSON.stringify(buf)})`);
    }
    buf += r.value;
  }
}

function requests(vfs: S3VFS): ReturnType<S3VFS["stats"]>["requests"] {
  return vfs.stats().requests;
}

Deno.test("S3VFS across processes: a second Deno process reads what this one wrote", async () => {
  await using b = await freshBucket("process-read");
  const prefix = "shared/one.sqlite";
  const queries = [
    "SELECT count(*), sum(id), max(length(v)) FROM t",
    "SELECT id, v FROM t WHERE id % 97 = 0 ORDER BY id",
    "SELECT k, hex(data) FROM blobs ORDER BY k",
    "SELECT name, sql FROM sqlite_master ORDER BY name",
  ];
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  let mine: unknown[][][];
  try {
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v)");
    db.exec("CREATE TABLE blobs (k TEXT PRIMARY KEY, data BLOB)");
    db.exec("BEGIN");
    for (let i = 1; i <= 1500; i++) {
      db.run("INSERT INTO t (v) VALUES (?)", `value ${i} ${"z".repeat(i % 50)}`);
    }
    for (let i = 0; i < 12; i++) {
      db.run("INSERT INTO blobs VALUES (?, randomblob(?))", `k${i}`, 100 + i * 900);
    }
    db.exec("COMMIT");
    mine = queries.map((q) => db.prepare(q).values());
  } finally {
    db.close(); // closing is not needed for the child to see the data, but frees the VFS
  }
  const out = JSON.parse(await runChild({ bucket: b.bucket, prefix, action: "read", queries }));
  equal(out.integrity, "ok");
  deepEqual(out.results, mine);
});

Deno.test("S3VFS across processes: a warm connection checks its snapshot with one GET and applies another process's commit", async () => {
  await using b = await freshBucket("process-revalidate");
  const prefix = "shared/two.sqlite";
  using vfs = testVfs(b.bucket, { lease: false }); // the snapshot checks of a process without the lease
  const db = openDb(vfs, prefix);
  try {
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    db.exec("BEGIN");
    for (let i = 0; i < 400; i++) {
      db.run("INSERT INTO t (v) VALUES (?)", `parent row ${i} ${"p".repeat(60)}`);
    }
    db.exec("COMMIT");
    // Warm: everything read once.
    equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 400);
    db.prepare("SELECT sum(length(v)) FROM t").values();

    // Nothing changed: one GET (of the next commit: 404) per read transaction.
    vfs.resetStats();
    for (let i = 0; i < 5; i++) equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 400);
    let r = requests(vfs);
    console.log("warm, unchanged: 5 read transactions ->", JSON.stringify(r));
    equal(r.get, 5);
    equal(r.total, 5);

    // The child commits 50 rows and keeps its connection open.
    const child = spawnChild({ bucket: b.bucket, prefix, action: "insert", rows: 50, hold: true });
    let closed = false;
    try {
      const { line, rest } = await waitForLine(child.stdout, "committed", 30_000);
      equal(line.trim(), "committed 450");

      // Our next transaction sees it: the commit object (with its blocks), then a 404.
      vfs.resetStats();
      equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 450);
      r = requests(vfs);
      console.log("after the other process's commit: 1 read transaction ->", JSON.stringify(r));
      equal(r.get, 2, "the commit and the 404 after it; no block it did not change");
      equal(r.total, 2);
      deepEqual(db.prepare("SELECT count(*) FROM t WHERE v LIKE 'from child %'").values(), [[50]]);
      equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");

      // Warm again: back to one GET per transaction.
      vfs.resetStats();
      for (let i = 0; i < 3; i++) equal(db.prepare("SELECT count(*) FROM t").values()[0][0], 450);
      r = requests(vfs);
      equal(r.get, 3);
      equal(r.total, 3);

      // We write after them; the child (still holding its connection) is not disturbed.
      db.run("INSERT INTO t (v) VALUES ('parent after child')");
      await child.stdin.close();
      closed = true;
      const [status] = await Promise.all([child.status, rest.cancel()]);
      equal(status.code, 0, new TextDecoder().decode(await new Response(child.stderr).bytes()));
    } finally {
      if (!closed) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await child.status;
      }
    }
  } finally {
    db.close();
  }
  // A third process sees both processes' rows.
  const out = JSON.parse(
    await runChild({
      bucket: b.bucket,
      prefix,
      action: "read",
      queries: ["SELECT count(*) FROM t", "SELECT v FROM t ORDER BY id DESC LIMIT 1"],
    }),
  );
  equal(out.integrity, "ok");
  deepEqual(out.results, [[[451]], [["parent after child"]]]);
});

Deno.test("S3VFS across processes: locking_mode=EXCLUSIVE on a reader makes warm point queries free", async () => {
  await using b = await freshBucket("process-exclusive");
  const prefix = "shared/three.sqlite";
  {
    using vfs = testVfs(b.bucket);
    const db = openDb(vfs, prefix);
    try {
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      db.exec("BEGIN");
      for (let i = 1; i <= 3000; i++) {
        db.run("INSERT INTO t (v) VALUES (?)", `row ${i} ${"e".repeat(i % 90)}`);
      }
      db.exec("COMMIT");
    } finally {
      db.close();
    }
  }
  // Deterministic "random" ids.
  let x = 12345;
  const ids = Array.from({ length: 100 }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 1 + (x % 3000);
  });
  const pointQueries = (db: ReturnType<typeof openDb>): void => {
    for (const id of ids) {
      const [[v]] = db.prepare("SELECT v FROM t WHERE id = ?").values(id);
      ok(String(v).startsWith(`row ${id} `));
    }
  };

  // Normal locking: one GET per query (the lock is taken and released each time).
  {
    using vfs = testVfs(b.bucket);
    const db = openDb(vfs, prefix);
    try {
      db.prepare("SELECT sum(length(v)) FROM t").values(); // warm
      vfs.resetStats();
      pointQueries(db);
      const r = requests(vfs);
      console.log("normal locking, 100 warm point queries ->", JSON.stringify(r));
      equal(r.get, 100);
      equal(r.total, 100);
    } finally {
      db.close();
    }
  }
  // EXCLUSIVE: SQLite keeps its SHARED lock and page cache; no request at all.
  {
    using vfs = testVfs(b.bucket);
    const db = openDb(vfs, prefix);
    try {
      deepEqual(db.prepare("PRAGMA locking_mode = EXCLUSIVE").values(), [["exclusive"]]);
      db.prepare("SELECT sum(length(v)) FROM t").values(); // takes the lock and warms the cache
      vfs.resetStats();
      pointQueries(db);
      const r = vfs.stats();
      console.log("locking_mode=EXCLUSIVE, 100 warm point queries ->", JSON.stringify(r.requests));
      equal(r.requests.total, 0);
      equal(r.roundTrips, 0);
    } finally {
      db.close();
    }
  }
});

Deno.test("S3VFS across processes: a connection opened before the database existed sees the one another process creates", async () => {
  await using b = await freshBucket("process-created-later");
  const prefix = "shared/later.sqlite";
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix); // nothing under the prefix yet
  try {
    deepEqual(db.prepare("SELECT count(*) FROM sqlite_master").values(), [[0]]);
    const out = await runChild({ bucket: b.bucket, prefix, action: "insert", rows: 20 });
    equal(out.trim(), "committed 20");
    // The next transaction must see the database the child created...
    deepEqual(db.prepare("SELECT count(*) FROM t").values(), [[20]]);
    // ...and writing must not overwrite it.
    db.run("INSERT INTO t (v) VALUES ('parent')");
  } finally {
    db.close();
  }
  const read = JSON.parse(
    await runChild({
      bucket: b.bucket,
      prefix,
      action: "read",
      queries: ["SELECT count(*) FROM t"],
    }),
  );
  equal(read.integrity, "ok");
  deepEqual(read.results, [[[21]]]);
});

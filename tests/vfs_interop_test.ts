/**
 * Interop with the Python original, sqlite-s3vfs (PyPI `sqlite-s3vfs` on APSW
 * + boto3), both ways, through tests/py/vfs_interop_tool.py (driven by
 * tests/_python.ts) on the same MinIO:
 *
 * - Python writes, Deno reads: the same query results (compared as JSON),
 *   integrity_check ok, the block objects are the plain file cut into
 *   `<prefix>/<10-digit index>` blocks (and a local copy of their
 *   concatenation is a database giving the same results), and reading from
 *   Deno neither rewrites any of them (ETags unchanged) nor creates anything
 *   (no `<prefix>.s3vfs/` companion objects). Deno then appends rows: that
 *   adopts the database (config, checkpoint record, one commit object) and
 *   leaves the blocks untouched until a checkpoint; after one
 *   ({@linkcode settle}) the blocks are the new file and Python reads the
 *   rows back.
 * - Deno writes, Python reads: commits write no block; after a checkpoint
 *   the blocks are the plain file and Python gets the same results, an ok
 *   integrity_check and the same bytes (sha256 of Python's serialize_iter =
 *   sha256 of the blocks). The database is then handed to Python for writing
 *   as docs/protocol.md section 10 says (checkpointed, companion objects
 *   removed); Python appends rows and a new S3VFS reads them back.
 *
 * Page / block sizes 4096/4096, 4096/4097, 65536/4097 and 65536/65536 (the
 * reference implementation makes one or two requests per block per write, a
 * GET + PUT for every partial one, so 65536/4096 costs more time than it
 * adds coverage over 65536/4097). The Python calls of one phase run
 * concurrently.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { blockKey } from "../src/blocks.ts";
import { mapLimit } from "../src/s3/retry.ts";
import { commitKeyIn, freshBucket, patternBytes, type TestBucket } from "./_harness.ts";
import { plain, py, type PyRead, QUERIES, requirePython } from "./_python.ts";
import { type Database, FAST_TIMING, openDb, openLocalReadOnly, settle, testVfs } from "./_vfs.ts";

const CASES = [
  { pageSize: 4096, blockSize: 4096 },
  { pageSize: 4096, blockSize: 4097 },
  { pageSize: 65536, blockSize: 4097 },
  { pageSize: 65536, blockSize: 65536 },
];

function runQueries(db: Database): unknown[][][] {
  return QUERIES.map((q) => db.prepare(q).values().map((row) => row.map(plain)));
}

function integrity(db: Database): string {
  return db.prepare("PRAGMA integrity_check").values().map((r) => r[0]).join("\n");
}

const SCHEMA = `
  CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
  CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artist(id),
                      title TEXT, year INTEGER, rating REAL);
  CREATE TABLE cover (album_id INTEGER PRIMARY KEY, image BLOB);
  CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);
  CREATE INDEX album_by_artist ON album(artist_id, year);
  CREATE UNIQUE INDEX artist_by_name ON artist(name);
`;

/** The Deno-side counterpart of the Python tool's `write` (same schema, other content). */
function denoFill(db: Database, pageSize: number): void {
  db.exec(`PRAGMA page_size = ${pageSize}`);
  db.exec("PRAGMA journal_mode = DELETE");
  db.exec("BEGIN");
  db.exec(SCHEMA);
  const countries = ["PT", "ES", "IT", "GR", "HR"];
  for (let i = 1; i <= 110; i++) {
    db.run(
      "INSERT INTO artist VALUES (?, ?, ?)",
      i,
      `deno artist ${i} ${"y".repeat(i % 13)}`,
      countries[i % 5],
    );
  }
  for (let i = 1; i <= 320; i++) {
    db.run(
      "INSERT INTO album VALUES (?, ?, ?, ?, ?)",
      i,
      1 + (i * 11) % 110,
      `album ${i} \u00e7\u00e3\u00f5 \u{1F3B8}`,
      1950 + i % 70,
      (i % 40) / 8 + 0.125,
    );
  }
  for (let i = 1; i <= 22; i++) {
    db.run(
      "INSERT INTO cover VALUES (?, ?)",
      i * 5,
      patternBytes([12, 400, 2500, 8000, 21000][i % 5], i),
    );
  }
  for (let i = 1; i <= 90; i++) {
    db.run("INSERT INTO note (body, tag) VALUES (?, 'deno')", "dolor sit ".repeat(i % 35));
  }
  db.exec("COMMIT");
  db.exec("BEGIN");
  db.run("DELETE FROM note WHERE id % 4 = 0");
  db.run("UPDATE album SET rating = rating * 2 WHERE id % 7 = 0");
  db.exec("COMMIT");
}

function denoAppend(db: Database): void {
  db.exec("BEGIN");
  for (let i = 0; i < 30; i++) {
    db.run(
      "INSERT INTO note (body, tag) VALUES (?, 'deno-append')",
      `appended by deno ${i} `.repeat(20),
    );
  }
  db.run("INSERT INTO cover VALUES (?, ?)", 200002, patternBytes(12345, 99));
  db.exec("COMMIT");
}

interface Entry {
  key: string;
  size: number;
  etag: string;
}

async function entries(b: TestBucket, prefix: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of b.client.list(b.bucket, { prefix: prefix + "/" })) {
    out.push({ key: e.key, size: e.size, etag: e.etag });
  }
  return out;
}

/**
 * The objects under `prefix/` are exactly blocks 0..n-1 of a `fileSize` file
 * (full but the last), possibly followed by 0-byte tombstones; no journal is
 * left under `<prefix>-journal/` (Python keeps its journal there while a
 * transaction runs; S3VFS never stores one). Returns the non-empty blocks.
 */
async function checkLayout(
  b: TestBucket,
  prefix: string,
  blockSize: number,
  fileSize: number,
): Promise<Entry[]> {
  const all = await entries(b, prefix);
  const es = all.filter((e) => e.size > 0);
  const n = Math.ceil(fileSize / blockSize);
  deepEqual(
    all.map((e) => e.key),
    Array.from({ length: all.length }, (_, i) => blockKey(prefix, i)),
    `${prefix} keys`,
  );
  equal(es.length, n, `${prefix}: non-empty blocks`);
  es.forEach((e, i) => {
    equal(e.size, i < n - 1 ? blockSize : fileSize - (n - 1) * blockSize, `size of ${e.key}`);
  });
  deepEqual(await entries(b, prefix + "-journal"), [], "no journal left behind");
  return es;
}

/** Keys of the companion objects of `prefix` (`<prefix>.s3vfs/...`). */
async function companions(b: TestBucket, prefix: string): Promise<string[]> {
  return (await entries(b, prefix + ".s3vfs")).map((e) => e.key);
}

/** The blocks concatenated (one GET each). */
async function concat(b: TestBucket, es: Entry[]): Promise<Uint8Array<ArrayBuffer>> {
  const parts = await mapLimit(es, 16, async (e) => {
    const r = await b.client.get(b.bucket, e.key);
    if (r.status !== "ok") throw new Error(`${e.key}: ${r.status}`);
    return r.body;
  });
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Results of QUERIES on a local copy of `bytes`, opened read-only with the default VFS. */
async function localResults(
  bytes: Uint8Array,
): Promise<{ results: unknown[][][]; integrity: string }> {
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  try {
    await Deno.writeFile(path, bytes);
    const db = openLocalReadOnly(path);
    try {
      return { results: runQueries(db), integrity: integrity(db) };
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(path);
  }
}

const label = (c: { pageSize: number; blockSize: number }): string =>
  `page ${c.pageSize} / block ${c.blockSize}`;

Deno.test("S3VFS interop: the Python sqlite-s3vfs reference is installed", () => {
  requirePython();
});

Deno.test("S3VFS interop: Python sqlite-s3vfs writes, S3VFS reads (and appends, Python reads back)", async (t) => {
  requirePython();
  await using b = await freshBucket("interop-py-writes");
  const prefixOf = (c: (typeof CASES)[number]): string =>
    `py/p${c.pageSize}-b${c.blockSize}.sqlite`;

  // All Python writes concurrently, then all Python reads.
  await Promise.all(CASES.map((c) => py(b.bucket, prefixOf(c), c.blockSize, "write", c.pageSize)));
  const fromPy = (await Promise.all(
    CASES.map((c) => py(b.bucket, prefixOf(c), c.blockSize, "readdump")),
  )) as PyRead[];

  const afterDeno: unknown[][][][] = [];
  const pageCounts: number[] = [];
  for (const [n, c] of CASES.entries()) {
    await t.step(label(c), async () => {
      const prefix = prefixOf(c);
      const expected = fromPy[n];
      equal(expected.integrity, "ok");
      equal(expected.page_size, c.pageSize);
      const fileSize = expected.page_count * expected.page_size;
      equal(expected.size, fileSize, "Python's serialized size is page_count * page_size");

      // The objects are the plain file cut into blocks: the right keys and sizes,
      // the same bytes Python serializes, and a local copy gives the same answers.
      const before = await checkLayout(b, prefix, c.blockSize, fileSize);
      const bytes = await concat(b, before);
      equal(await sha256(bytes), expected.sha256);
      const local = await localResults(bytes);
      equal(local.integrity, "ok");
      deepEqual(local.results, expected.results, "local copy of the blocks");

      // Deno reads: identical results.
      {
        using vfs = testVfs(b.bucket, { blockSize: c.blockSize });
        const db = openDb(vfs, prefix);
        try {
          deepEqual(runQueries(db), expected.results);
          equal(integrity(db), "ok");
          deepEqual(
            db.prepare("SELECT page_size, page_count FROM pragma_page_size, pragma_page_count")
              .values(),
            [[
              c.pageSize,
              expected.page_count,
            ]],
          );
        } finally {
          db.close();
        }
      }
      // Reading rewrote nothing (same keys, sizes and ETags) and created nothing.
      deepEqual(await entries(b, prefix), before, "objects unchanged by reading");
      deepEqual(await companions(b, prefix), [], "no companion object after reading");

      // Deno appends to the Python-made database: it adopts it (config, checkpoint record at
      // txid 0) and commits once; the blocks stay as Python wrote them until a checkpoint.
      {
        using vfs = testVfs(b.bucket, { blockSize: c.blockSize, timing: FAST_TIMING });
        const db = openDb(vfs, prefix);
        try {
          denoAppend(db);
          equal(integrity(db), "ok");
          afterDeno[n] = runQueries(db);
          const [[pc]] = db.prepare("PRAGMA page_count").values();
          pageCounts[n] = Number(pc);
        } finally {
          db.close();
        }
      }
      deepEqual(await companions(b, prefix), [
        `${prefix}.s3vfs/checkpoint`,
        `${prefix}.s3vfs/config`,
        `${prefix}.s3vfs/lease`,
        await commitKeyIn(b.client, b.bucket, prefix, 1),
      ]);
      deepEqual(await entries(b, prefix), before, "blocks untouched by the commit");
    });
  }

  // Checkpoint every database (one wait): the blocks are then Deno's new file.
  await t.step("checkpointed: the blocks are the appended file", async () => {
    using vfs = testVfs(b.bucket, { timing: FAST_TIMING });
    deepEqual(
      await Promise.all(CASES.map((c) => settle(vfs, prefixOf(c)))),
      CASES.map(() => "folded"),
    );
    for (const [n, c] of CASES.entries()) {
      const es = await checkLayout(b, prefixOf(c), c.blockSize, pageCounts[n] * c.pageSize);
      const local = await localResults(await concat(b, es));
      equal(local.integrity, "ok");
      deepEqual(local.results, afterDeno[n], `local copy of the blocks, ${label(c)}`);
    }
  });

  // Python reads what Deno appended.
  const back = (await Promise.all(
    CASES.map((c) => py(b.bucket, prefixOf(c), c.blockSize, "read")),
  )) as PyRead[];
  for (const [n, c] of CASES.entries()) {
    equal(back[n].integrity, "ok", `Python integrity after Deno's append, ${label(c)}`);
    deepEqual(back[n].results, afterDeno[n], `Python sees Deno's append, ${label(c)}`);
    const tags = back[n].results[6] as [string, number, number][];
    ok(tags.some(([tag, count]) => tag === "deno-append" && count === 30), JSON.stringify(tags));
  }
});

Deno.test("S3VFS interop: S3VFS writes, Python sqlite-s3vfs reads (and appends, S3VFS reads back)", async (t) => {
  requirePython();
  await using b = await freshBucket("interop-deno-writes");
  const prefixOf = (c: (typeof CASES)[number]): string =>
    `deno/p${c.pageSize}-b${c.blockSize}.sqlite`;

  const fromDeno: { results: unknown[][][]; sha256: string; pageCount: number }[] = [];
  for (const [n, c] of CASES.entries()) {
    await t.step(`Deno writes, ${label(c)}`, async () => {
      const prefix = prefixOf(c);
      using vfs = testVfs(b.bucket, { blockSize: c.blockSize, timing: FAST_TIMING });
      const db = openDb(vfs, prefix);
      try {
        denoFill(db, c.pageSize);
        equal(integrity(db), "ok");
        const [[pageSize, pageCount]] = db.prepare(
          "SELECT page_size, page_count FROM pragma_page_size, pragma_page_count",
        ).values();
        equal(pageSize, c.pageSize);
        ok(Number(pageCount) >= 5, `page_count ${pageCount}`);
        fromDeno[n] = { results: runQueries(db), sha256: "", pageCount: Number(pageCount) };
      } finally {
        db.close();
      }
      // Commits are commit objects only: no block is written before a checkpoint.
      deepEqual(await entries(b, prefix), [], "no block before a checkpoint");
      ok((await companions(b, prefix)).includes(await commitKeyIn(b.client, b.bucket, prefix, 1)));
    });
  }

  // Checkpoint every database (one wait): the blocks are then the plain file.
  await t.step("checkpointed: the blocks are the file", async () => {
    using vfs = testVfs(b.bucket, { timing: FAST_TIMING });
    deepEqual(
      await Promise.all(CASES.map((c) => settle(vfs, prefixOf(c)))),
      CASES.map(() => "folded"),
    );
    for (const [n, c] of CASES.entries()) {
      const es = await checkLayout(
        b,
        prefixOf(c),
        c.blockSize,
        fromDeno[n].pageCount * c.pageSize,
      );
      const bytes = await concat(b, es);
      fromDeno[n].sha256 = await sha256(bytes);
      const local = await localResults(bytes);
      equal(local.integrity, "ok");
      deepEqual(local.results, fromDeno[n].results, `local copy of the blocks, ${label(c)}`);
    }
  });

  const fromPy = (await Promise.all(
    CASES.map((c) => py(b.bucket, prefixOf(c), c.blockSize, "readdump")),
  )) as PyRead[];
  for (const [n, c] of CASES.entries()) {
    const p = fromPy[n];
    equal(p.integrity, "ok", `Python integrity_check, ${label(c)}`);
    equal(p.page_size, c.pageSize);
    equal(p.page_count, fromDeno[n].pageCount);
    equal(p.size, fromDeno[n].pageCount * c.pageSize, "Python's serialized size");
    equal(p.sha256, fromDeno[n].sha256, "Python serializes the same bytes");
    deepEqual(p.results, fromDeno[n].results, `Python's results, ${label(c)}`);
  }

  // Hand the databases to Python for writing (docs/protocol.md section 10): fully
  // checkpointed above, then the companion objects removed.
  for (const c of CASES) {
    const keys = await companions(b, prefixOf(c));
    ok(keys.length >= 3, `companions of ${prefixOf(c)}: ${keys}`);
    equal(await b.client.deleteMany(b.bucket, keys), keys.length);
  }

  // Python appends; a new S3VFS sees exactly what it added.
  await Promise.all(CASES.map((c) => py(b.bucket, prefixOf(c), c.blockSize, "append")));
  const pyBlob = new Uint8Array(10240).map((_, i) => i & 0xff); // bytes(range(256)) * 40
  for (const [n, c] of CASES.entries()) {
    await t.step(`Deno reads Python's append, ${label(c)}`, () => {
      using vfs = testVfs(b.bucket, { blockSize: c.blockSize });
      const db = openDb(vfs, prefixOf(c));
      try {
        let check: string;
        try {
          check = integrity(db);
        } catch (e) {
          throw new Error(`reading Python's append failed: ${e}; cause: ${vfs.lastError}`);
        }
        equal(check, "ok");
        const rows = db.prepare("SELECT id, body FROM note WHERE tag = 'py-append' ORDER BY id")
          .values();
        deepEqual(
          rows.map((r) => r[1]),
          Array.from({ length: 25 }, (_, i) => `appended ${i} `.repeat(30)),
        );
        deepEqual(db.prepare("SELECT image FROM cover WHERE album_id = 100001").values(), [[
          pyBlob,
        ]]);
        // Everything Deno wrote is still there, unchanged.
        const now = runQueries(db);
        const [tagsBefore, tagsNow] = [fromDeno[n].results[6], now[6]];
        deepEqual(tagsNow.filter((r) => r[0] !== "py-append"), tagsBefore);
        for (const i of [0, 1, 2, 3, 4, 8]) deepEqual(now[i], fromDeno[n].results[i], QUERIES[i]);
        deepEqual(
          now[5].filter((r) => r[0] !== 100001),
          fromDeno[n].results[5],
          "covers except Python's new one",
        );
      } finally {
        db.close();
      }
    });
  }
});

/**
 * A real database: Chinook (the sample music store, 1 MB, 4096-byte pages)
 * uploaded block by block (`blockKey(prefix, i)`, as sqlite-s3vfs lays it
 * out), opened through S3VFS and queried; every answer must equal the same
 * query on the local file (default VFS, read-only), and reading creates or
 * rewrites no object. Then a write (UPDATE + INSERT) done both through S3VFS
 * and on a local copy: integrity_check ok, the same answers, also from a new
 * S3VFS; the write is one commit object (the database is adopted: config and
 * checkpoint record) and leaves the blocks untouched; after a checkpoint
 * ({@linkcode settle}) the blocks hold the same bytes as the local copy and
 * there is no journal or other object in S3.
 *
 * The file: env `S3VFS_CHINOOK`, else tests/data/chinook.sqlite.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { blockKey } from "../src/blocks.ts";
import { mapLimit } from "../src/s3/retry.ts";
import { commitKeyIn, freshBucket, type TestBucket } from "./_harness.ts";
import {
  type Database,
  FAST_TIMING,
  listKeys,
  openDb,
  openLocal,
  openLocalReadOnly,
  settle,
  testVfs,
} from "./_vfs.ts";

const CANDIDATES = [
  Deno.env.get("S3VFS_CHINOOK"),
  fileURLToPath(new URL("./data/chinook.sqlite", import.meta.url)),
].filter((p): p is string => !!p);

async function chinook(): Promise<{ path: string; bytes: Uint8Array }> {
  for (const path of CANDIDATES) {
    try {
      return { path, bytes: await Deno.readFile(path) };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new Error(
    `chinook.sqlite not found (looked at ${CANDIDATES.join(", ")}); set S3VFS_CHINOOK`,
  );
}

const QUERIES: Record<string, string> = {
  topArtistsByTracks: `
    SELECT ar.Name, count(*) AS tracks
    FROM Artist ar JOIN Album al ON al.ArtistId = ar.ArtistId JOIN Track t ON t.AlbumId = al.AlbumId
    GROUP BY ar.ArtistId ORDER BY tracks DESC, ar.Name LIMIT 10`,
  invoiceTotalsByCountry: `
    SELECT BillingCountry, count(*), round(sum(Total), 2), round(avg(Total), 4)
    FROM Invoice GROUP BY BillingCountry ORDER BY 3 DESC, 1`,
  genresByPlayTime: `
    SELECT g.Name, count(*), sum(t.Milliseconds), max(t.Bytes)
    FROM Track t JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.GenreId ORDER BY 3 DESC`,
  bestCustomers: `
    SELECT c.FirstName || ' ' || c.LastName, e.FirstName || ' ' || e.LastName AS rep, round(sum(i.Total), 2) AS spent
    FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId JOIN Employee e ON e.EmployeeId = c.SupportRepId
    GROUP BY c.CustomerId ORDER BY spent DESC, c.CustomerId LIMIT 8`,
  playlistSizes: `
    SELECT p.PlaylistId, p.Name, count(pt.TrackId)
    FROM Playlist p LEFT JOIN PlaylistTrack pt ON pt.PlaylistId = p.PlaylistId
    GROUP BY p.PlaylistId ORDER BY p.PlaylistId`,
  monthlySales: `
    SELECT strftime('%Y-%m', InvoiceDate) AS m, count(*), round(sum(Total), 2)
    FROM Invoice GROUP BY m ORDER BY m`,
  mostSoldTracks: `
    SELECT t.TrackId, t.Name, sum(il.Quantity) AS n, round(sum(il.UnitPrice * il.Quantity), 2)
    FROM InvoiceLine il JOIN Track t ON t.TrackId = il.TrackId
    GROUP BY il.TrackId ORDER BY n DESC, t.TrackId LIMIT 10`,
  pointLookup: "SELECT * FROM Track WHERE TrackId IN (1, 1234, 3000, 3503) ORDER BY TrackId",
  employeeTree: `
    WITH RECURSIVE tree(id, name, depth) AS (
      SELECT EmployeeId, FirstName || ' ' || LastName, 0 FROM Employee WHERE ReportsTo IS NULL
      UNION ALL
      SELECT e.EmployeeId, e.FirstName || ' ' || e.LastName, tree.depth + 1
      FROM Employee e JOIN tree ON e.ReportsTo = tree.id)
    SELECT * FROM tree ORDER BY depth, id`,
  rowCounts: `
    SELECT (SELECT count(*) FROM Album), (SELECT count(*) FROM Artist), (SELECT count(*) FROM Customer),
           (SELECT count(*) FROM Invoice), (SELECT count(*) FROM InvoiceLine), (SELECT count(*) FROM Track),
           (SELECT count(*) FROM PlaylistTrack), (SELECT sum(Total) FROM Invoice)`,
  schema: "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
};

/** The write done both through S3VFS and on the local copy. */
const WRITE = `
  BEGIN;
  UPDATE Track SET UnitPrice = 1.29, Composer = coalesce(Composer, 'unknown')
    WHERE GenreId = (SELECT GenreId FROM Genre WHERE Name = 'Rock');
  INSERT INTO Artist (ArtistId, Name) VALUES (1000, 'The S3 Blocks');
  INSERT INTO Album (AlbumId, Title, ArtistId) VALUES (1000, 'Read After Write', 1000);
  INSERT INTO Track (TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, Milliseconds, Bytes, UnitPrice)
    SELECT 10000 + TrackId, 'Cover of ' || Name, 1000, MediaTypeId, GenreId, 'S3VFS', Milliseconds, Bytes, 0.99
    FROM Track WHERE AlbumId <= 20;
  INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, BillingCountry, Total)
    VALUES (1000, 1, '2014-01-01 00:00:00', 'Norway', 12.34);
  COMMIT;`;

function answers(db: Database): Record<string, unknown[][]> {
  return Object.fromEntries(Object.entries(QUERIES).map(([k, q]) => [k, db.prepare(q).values()]));
}

async function upload(
  b: TestBucket,
  prefix: string,
  bytes: Uint8Array,
  blockSize: number,
): Promise<number> {
  const n = Math.ceil(bytes.length / blockSize);
  await mapLimit(Array.from({ length: n }, (_, i) => i), 16, async (i) => {
    await b.client.put(
      b.bucket,
      blockKey(prefix, i),
      bytes.subarray(i * blockSize, (i + 1) * blockSize),
    );
  });
  return n;
}

/** Every object of the bucket: key, size and ETag. */
async function objects(b: TestBucket): Promise<{ key: string; size: number; etag: string }[]> {
  const out: { key: string; size: number; etag: string }[] = [];
  for await (const e of b.client.list(b.bucket)) {
    out.push({ key: e.key, size: e.size, etag: e.etag });
  }
  return out;
}

/** The blocks of `prefix` concatenated. */
async function download(b: TestBucket, prefix: string): Promise<Uint8Array> {
  const keys = await listKeys(b.client, b.bucket, prefix);
  const parts = await mapLimit(keys, 16, async (k) => {
    const r = await b.client.get(b.bucket, k);
    if (r.status !== "ok") throw new Error(`${k}: ${r.status}`);
    return r.body;
  });
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const found = await chinook().catch((e) => e as Error);

for (const blockSize of [4096, 4097, 65536]) {
  Deno.test(`S3VFS: Chinook queries, a write and integrity match the local file (block size ${blockSize})`, async () => {
    if (found instanceof Error) throw found;
    const original = found.bytes;
    await using b = await freshBucket(`chinook-${blockSize}`);
    const prefix = "music/chinook.sqlite";
    const blocks = await upload(b, prefix, original, blockSize);
    equal((await listKeys(b.client, b.bucket, prefix)).length, blocks);

    // The local reference: the file itself, through the default VFS, read-only.
    const ref = openLocalReadOnly(found.path);
    let expected: Record<string, unknown[][]>;
    try {
      expected = answers(ref);
    } finally {
      ref.close();
    }
    ok(expected.topArtistsByTracks.length === 10);
    deepEqual(expected.topArtistsByTracks[0], ["Iron Maiden", 213]);

    const uploaded = await objects(b);
    {
      using vfs = testVfs(b.bucket, { blockSize, timing: FAST_TIMING });
      const db = openDb(vfs, prefix);
      try {
        for (const [k, rows] of Object.entries(answers(db))) deepEqual(rows, expected[k], k);
        deepEqual(await objects(b), uploaded, "reading created or rewrote nothing");
        equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
        deepEqual(db.prepare("PRAGMA page_count").values(), [[original.length / 4096]]);
        console.log(
          `block ${blockSize}: read everything with`,
          JSON.stringify(vfs.stats().requests),
        );

        // The same write here and on a local copy.
        vfs.resetStats();
        db.exec(WRITE);
        console.log(
          `block ${blockSize}: the write transaction made`,
          JSON.stringify(vfs.stats().requests),
        );
        equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
      } finally {
        db.close();
      }
    }
    // The write adopted the database and is one commit object; the blocks are untouched.
    const afterWrite = await objects(b);
    deepEqual(
      afterWrite.filter((o) => o.key.startsWith(prefix + "/")),
      uploaded,
      "blocks untouched before a checkpoint",
    );
    const companions = afterWrite.filter((o) => !o.key.startsWith(prefix + "/")).map((o) => o.key);
    deepEqual(
      companions.filter((k) => !k.startsWith(`${prefix}.s3vfs/stage/`)),
      [
        `${prefix}.s3vfs/checkpoint`,
        `${prefix}.s3vfs/config`,
        `${prefix}.s3vfs/lease`,
        await commitKeyIn(b.client, b.bucket, prefix, 1),
      ],
      "config, checkpoint record, the writer lease, one commit object (and staged chunks)",
    );
    const localPath = await writeTemp(original);
    try {
      const local = openLocal(localPath);
      let after: Record<string, unknown[][]>;
      try {
        local.exec(WRITE);
        after = answers(local);
      } finally {
        local.close();
      }
      deepEqual(after.employeeTree, expected.employeeTree, "untouched tables stay");
      deepEqual(after.playlistSizes, expected.playlistSizes, "untouched tables stay");
      ok(
        JSON.stringify(after.rowCounts) !== JSON.stringify(expected.rowCounts),
        "the write changed counts",
      );

      // A new VFS reads the written database: same answers as the local copy, same bytes.
      using vfs = testVfs(b.bucket, { blockSize });
      const db = openDb(vfs, prefix);
      try {
        for (const [k, rows] of Object.entries(answers(db))) {
          deepEqual(rows, after[k], `after write: ${k}`);
        }
        equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
        deepEqual(db.prepare("SELECT count(*) FROM Track WHERE Composer = 'S3VFS'").values(), [[
          db.prepare("SELECT count(*) FROM Track WHERE AlbumId <= 20").values()[0][0],
        ]]);
      } finally {
        db.close();
      }
      // Checkpointed: the blocks are the database, byte for byte.
      equal(await settle(vfs, prefix), "folded");
      const remote = await download(b, prefix);
      const localBytes = await Deno.readFile(localPath);
      equal(remote.length, localBytes.length, "file size");
      equal(
        firstDifference(remote, localBytes),
        -1,
        "the S3 blocks hold the same bytes as the local copy",
      );
      const all = (await objects(b)).map((o) => o.key);
      deepEqual(
        all.filter((k) => !k.startsWith(prefix + "/") && !k.startsWith(prefix + ".s3vfs/")),
        [],
        "nothing but blocks and companions (no journal)",
      );
    } finally {
      await Deno.remove(localPath);
    }
  });
}

async function writeTemp(bytes: Uint8Array): Promise<string> {
  const p = await Deno.makeTempFile({ suffix: ".sqlite" });
  await Deno.writeFile(p, bytes);
  return p;
}

/**
 * The sqlite-s3vfs test matrix against real MinIO: page sizes 512..65536 x
 * block sizes 4095/4096/4097/65536 x journal modes DELETE, TRUNCATE,
 * PERSIST, MEMORY, OFF. Each case creates, inserts, queries, checks
 * integrity, reopens from a NEW S3VFS (no shared memory state), rolls back an
 * INSERT and an UPDATE, and shrinks with DROP + VACUUM.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import { listKeys, openDb, testVfs } from "./_vfs.ts";

const PAGE_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
const BLOCK_SIZES = [4095, 4096, 4097, 65536];
const JOURNAL_MODES = ["DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"];

function fill(db: ReturnType<typeof openDb>, table: string, rows: number): void {
  db.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, v TEXT, b BLOB)`);
  db.exec("BEGIN");
  for (let i = 0; i < rows; i++) {
    db.run(
      `INSERT INTO ${table} (v, b) VALUES (?, randomblob(?))`,
      `row-${i}`,
      200 + (i * 37) % 900,
    );
  }
  db.exec("COMMIT");
}

for (const blockSize of BLOCK_SIZES) {
  Deno.test(`S3VFS: block size ${blockSize} x page sizes x journal modes`, async (t) => {
    await using b = await freshBucket(`matrix-${blockSize}`);
    for (const pageSize of PAGE_SIZES) {
      for (const mode of JOURNAL_MODES) {
        await t.step(`page ${pageSize} journal ${mode}`, async () => {
          const prefix = `db-${pageSize}-${mode}.sqlite`;
          const rows = 150;
          {
            using vfs = testVfs(b.bucket, { blockSize });
            const db = openDb(vfs, prefix);
            try {
              db.exec(`PRAGMA page_size = ${pageSize}`);
              const got = db.prepare(`PRAGMA journal_mode = ${mode}`).values()[0][0];
              equal(String(got).toUpperCase(), mode);
              fill(db, "t", rows);
              fill(db, "junk", rows);
              equal(db.prepare("PRAGMA page_size").values()[0][0], pageSize);
              equal(db.prepare("SELECT count(*) FROM t").values()[0][0], rows);
              equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
            } finally {
              db.close();
            }
          }
          // Reopen from a new VFS: nothing shared in memory.
          {
            using vfs = testVfs(b.bucket, { blockSize });
            const db = openDb(vfs, prefix);
            try {
              db.exec(`PRAGMA journal_mode = ${mode}`);
              equal(db.prepare("SELECT count(*) FROM t").values()[0][0], rows);
              deepEqual(db.prepare("SELECT v FROM t WHERE id = 77").values(), [["row-76"]]);
              equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
              if (mode !== "OFF") {
                // ROLLBACK of an INSERT and an UPDATE restores the data.
                const before = db.prepare("SELECT sum(length(b)), group_concat(v) FROM t").values();
                db.exec("BEGIN");
                db.run("INSERT INTO t (v, b) VALUES ('new', randomblob(3000))");
                db.run("UPDATE t SET v = 'changed', b = randomblob(10) WHERE id % 3 = 0");
                db.exec("ROLLBACK");
                deepEqual(
                  db.prepare("SELECT sum(length(b)), group_concat(v) FROM t").values(),
                  before,
                );
              }
              // DROP + VACUUM shrinks the object count.
              const objectsBefore = (await listKeys(b.client, b.bucket, prefix)).length;
              db.exec("DROP TABLE junk");
              db.exec("VACUUM");
              equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
              const objectsAfter = (await listKeys(b.client, b.bucket, prefix)).length;
              ok(objectsAfter < objectsBefore, `objects ${objectsBefore} -> ${objectsAfter}`);
              // The object count matches the file size SQLite reports.
              const [[pages, psize]] = db.prepare(
                "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size",
              ).values();
              equal(objectsAfter, Math.ceil(Number(pages) * Number(psize) / blockSize));
            } finally {
              db.close();
            }
          }
          // And again from yet another VFS after the vacuum.
          {
            using vfs = testVfs(b.bucket, { blockSize });
            const db = openDb(vfs, prefix);
            try {
              equal(db.prepare("SELECT count(*) FROM t").values()[0][0], rows);
              equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
              equal(
                db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'junk'").values()[0][0],
                0,
              );
            } finally {
              db.close();
            }
          }
          // The journal left nothing behind (except PERSIST, which keeps a zeroed header).
          const journal = await listKeys(b.client, b.bucket, prefix + "-journal");
          if (mode === "PERSIST" && journal.length) {
            // A persisted journal must not look hot: its header is zeroed.
            const head = await b.client.get(b.bucket, journal[0]);
            ok(
              head.status === "ok" && head.body.subarray(0, 28).every((x) => x === 0),
              "journal header zeroed",
            );
          } else {
            equal(journal.length, 0, `journal objects left: ${journal}`);
          }
        });
      }
    }
  });
}

/**
 * The sqlite-s3vfs test matrix against real MinIO: page sizes 512..65536 x
 * block sizes 4095/4096/4097/65536 x journal modes DELETE, TRUNCATE,
 * PERSIST, MEMORY, OFF. Each case creates, inserts, queries, checks
 * integrity, reopens from a NEW S3VFS (no shared memory state), rolls back an
 * INSERT and an UPDATE (the data is restored and no commit object is
 * written), and shrinks with DROP + VACUUM.
 *
 * Then, once per block size, every case's database is checkpointed (all
 * concurrently, one grace-period wait: {@linkcode settle}) and its objects
 * are checked: the non-empty blocks are exactly the database
 * (ceil(page_count * page_size / blockSize) of them, full but the last), the
 * blocks the database had before the VACUUM are 0-byte tombstones, and there
 * is nothing else but the `<prefix>.s3vfs/` companions (journals are local:
 * nothing under `<prefix>-journal/`, whatever the journal mode). A new S3VFS
 * then reads the checkpointed database from its blocks.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { blockKey } from "../src/blocks.ts";
import { freshBucket, type TestBucket } from "./_harness.ts";
import { FAST_TIMING, openDb, settle, testVfs } from "./_vfs.ts";

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

/** Keys and sizes of every object of the bucket whose key starts with `prefix`. */
async function objects(b: TestBucket, prefix = ""): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const e of b.client.list(b.bucket, { prefix })) out.push({ key: e.key, size: e.size });
  return out;
}

/** What a case leaves for the object checks after the checkpoint. */
interface Sizes {
  /** Database size in bytes before DROP + VACUUM (the largest it ever was). */
  before: number;
  /** Database size in bytes after the VACUUM. */
  after: number;
}

const ROWS = 150;

for (const blockSize of BLOCK_SIZES) {
  Deno.test(`S3VFS: block size ${blockSize} x page sizes x journal modes`, async (t) => {
    await using b = await freshBucket(`matrix-${blockSize}`);
    const cases = PAGE_SIZES.flatMap((pageSize) =>
      JOURNAL_MODES.map((mode) => ({ pageSize, mode, prefix: `db-${pageSize}-${mode}.sqlite` }))
    );
    const sizes = new Map<string, Sizes>();
    for (const { pageSize, mode, prefix } of cases) {
      await t.step(`page ${pageSize} journal ${mode}`, async () => {
        const size = (db: ReturnType<typeof openDb>): number =>
          Number(
            db.prepare("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
              .values()[0][0],
          );
        {
          using vfs = testVfs(b.bucket, { blockSize, timing: FAST_TIMING });
          const db = openDb(vfs, prefix);
          try {
            db.exec(`PRAGMA page_size = ${pageSize}`);
            const got = db.prepare(`PRAGMA journal_mode = ${mode}`).values()[0][0];
            equal(String(got).toUpperCase(), mode);
            fill(db, "t", ROWS);
            fill(db, "junk", ROWS);
            equal(db.prepare("PRAGMA page_size").values()[0][0], pageSize);
            equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
            equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
          } finally {
            db.close();
          }
        }
        // Reopen from a new VFS: nothing shared in memory.
        {
          using vfs = testVfs(b.bucket, { blockSize, timing: FAST_TIMING });
          const db = openDb(vfs, prefix);
          try {
            db.exec(`PRAGMA journal_mode = ${mode}`);
            equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
            deepEqual(db.prepare("SELECT v FROM t WHERE id = 77").values(), [["row-76"]]);
            equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
            if (mode !== "OFF") {
              // ROLLBACK of an INSERT and an UPDATE restores the data and commits nothing.
              const log = await objects(b, `${prefix}.s3vfs/log/`);
              const before = db.prepare("SELECT sum(length(b)), group_concat(v) FROM t").values();
              db.exec("BEGIN");
              db.run("INSERT INTO t (v, b) VALUES ('new', randomblob(3000))");
              db.run("UPDATE t SET v = 'changed', b = randomblob(10) WHERE id % 3 = 0");
              db.exec("ROLLBACK");
              deepEqual(
                db.prepare("SELECT sum(length(b)), group_concat(v) FROM t").values(),
                before,
              );
              deepEqual(await objects(b, `${prefix}.s3vfs/log/`), log, "no commit object");
            }
            const before = size(db);
            db.exec("DROP TABLE junk");
            db.exec("VACUUM");
            equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
            const after = size(db);
            ok(after < before, `database size ${before} -> ${after}`);
            sizes.set(prefix, { before, after });
          } finally {
            db.close();
          }
        }
        // And again from yet another VFS after the vacuum (read through the log).
        {
          using vfs = testVfs(b.bucket, { blockSize, timing: FAST_TIMING });
          const db = openDb(vfs, prefix);
          try {
            equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS);
            equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");
            equal(
              db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'junk'").values()[0][0],
              0,
            );
          } finally {
            db.close();
          }
        }
      });
    }

    await t.step(
      "checkpointed: blocks = the database, tombstones past its end, no journal",
      async () => {
        {
          using vfs = testVfs(b.bucket, { blockSize, timing: FAST_TIMING });
          const outcomes = await Promise.all(cases.map((c) => settle(vfs, c.prefix)));
          deepEqual(outcomes, cases.map(() => "folded"));
        }
        const all = await objects(b);
        const wrong: string[] = [];
        for (const { prefix } of cases) {
          const s = sizes.get(prefix);
          if (!s) continue; // the case itself failed (reported by its step)
          const blocks = all.filter((o) => o.key.startsWith(prefix + "/"));
          // What Python's xFileSize sees: the sum of the block sizes is the database's size.
          const total = blocks.reduce((n, o) => n + o.size, 0);
          // Non-empty blocks: exactly the database after the VACUUM, full but the last.
          const n = Math.ceil(s.after / blockSize);
          // Every block the database had before is still there: a 0-byte tombstone past the end.
          const m = Math.ceil(s.before / blockSize);
          const keys = Array.from({ length: m }, (_, i) => blockKey(prefix, i));
          const expected = keys.map((_, i) =>
            Math.max(0, Math.min(blockSize, s.after - i * blockSize))
          );
          if (
            total !== s.after || m <= n ||
            JSON.stringify(blocks.map((o) => o.key)) !== JSON.stringify(keys) ||
            JSON.stringify(blocks.map((o) => o.size)) !== JSON.stringify(expected)
          ) {
            wrong.push(
              `${prefix}: blocks hold ${total} bytes in ${
                blocks.filter((o) => o.size > 0).length
              } non-empty + ${
                blocks.filter((o) => o.size === 0).length
              } empty objects; expected the database after VACUUM, ${s.after} bytes in ${n} blocks + ${
                m - n
              } tombstones (it had ${s.before} bytes before)`,
            );
          }
        }
        // Nothing but blocks and companions: no journal object, in any journal mode.
        const stray = all.filter((o) =>
          !cases.some((c) =>
            o.key.startsWith(c.prefix + "/") || o.key.startsWith(c.prefix + ".s3vfs/")
          )
        );
        deepEqual(stray, [], "objects other than blocks and companions");
        ok(!all.some((o) => o.key.includes("-journal")), "no journal in S3");
        deepEqual(wrong, [], `checkpointed blocks that are not the database:\n${wrong.join("\n")}`);
      },
    );

    // Reading blocks does not depend on the journal mode: one mode per page size, in turn.
    await t.step("a new S3VFS reads checkpointed databases from their blocks", () => {
      using vfs = testVfs(b.bucket, { blockSize });
      for (const [k, pageSize] of PAGE_SIZES.entries()) {
        const prefix = `db-${pageSize}-${JOURNAL_MODES[k % JOURNAL_MODES.length]}.sqlite`;
        if (!sizes.has(prefix)) continue;
        const db = openDb(vfs, prefix);
        try {
          equal(db.prepare("SELECT count(*) FROM t").values()[0][0], ROWS, prefix);
          deepEqual(db.prepare("SELECT v FROM t WHERE id = 150").values(), [["row-149"]], prefix);
          equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok", prefix);
          equal(
            Number(
              db.prepare("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
                .values()[0][0],
            ),
            sizes.get(prefix)!.after,
            prefix,
          );
        } finally {
          db.close();
        }
      }
    });
  });
}

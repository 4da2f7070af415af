/**
 * S3VFS through `@db/sqlite`, the driver applications use:
 * `new Db(vfs.uri(prefix), { flags: OPEN_READWRITE })`, create, insert,
 * query, close (each COMMIT one commit object in S3), and reopen read-only
 * from a new S3VFS. S3VFS finds the libsqlite3 copy
 * `@db/sqlite` loaded (an already loaded copy is preferred), so no
 * DENO_SQLITE_PATH is set here. `@db/sqlite` comes from jsr:@db/sqlite@0.13,
 * else its published source beside the project (scripts/db_sqlite.ts): this
 * test always runs.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { type Database, DB_SQLITE_URL, SQLITE_VERSION } from "../scripts/db_sqlite.ts";
import { OPEN_READONLY, OPEN_READWRITE } from "../src/vfs/options.ts";
import { commitKeyIn, freshBucket } from "./_harness.ts";
import { Database as Db, testVfs } from "./_vfs.ts";

function one<T extends unknown[]>(db: Database, sql: string, ...params: unknown[]): T[] {
  const st = db.prepare(sql);
  try {
    return st.values<T>(...params);
  } finally {
    st.finalize();
  }
}

Deno.test({
  name: "S3VFS with @db/sqlite: create, insert, query; a new S3VFS reads it back",
  async fn(): Promise<void> {
    console.log(`@db/sqlite from ${DB_SQLITE_URL}`);
    await using b = await freshBucket("db-sqlite");
    const prefix = "app/db-sqlite.sqlite";
    {
      using vfs = testVfs(b.bucket);
      console.log(`S3VFS registered in ${vfs.libraryPath} (SQLite ${vfs.sqliteVersion})`);
      const db = new Db(vfs.uri(prefix), { flags: OPEN_READWRITE });
      try {
        // The connection lives in the copy the VFS is registered in.
        const [[version]] = one<[string]>(db, "SELECT sqlite_version()");
        equal(version, vfs.sqliteVersion);
        equal(SQLITE_VERSION, vfs.sqliteVersion);
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body BLOB)");
        db.exec("BEGIN");
        const ins = db.prepare("INSERT INTO notes (title, body) VALUES (?, ?)");
        try {
          for (let i = 0; i < 300; i++) {
            ins.run(`note ${i}`, new Uint8Array(100 + i).fill(i & 0xff));
          }
        } finally {
          ins.finalize();
        }
        db.exec("COMMIT");
        deepEqual(one(db, "SELECT count(*), sum(length(body)) FROM notes"), [[
          300,
          300 * 100 + 299 * 300 / 2,
        ]]);
        deepEqual(one(db, "SELECT title FROM notes WHERE id = ?", 42), [["note 41"]]);
        equal(one(db, "PRAGMA integrity_check")[0][0], "ok");
      } finally {
        db.close();
      }
      ok(vfs.stats().requests.put > 0, "the data went to S3");
    }
    // Created (config, checkpoint record), the writer lease, and committed twice (CREATE TABLE,
    // the INSERTs), one commit object each; no block before a checkpoint, no journal.
    const keys: string[] = [];
    for await (const e of b.client.list(b.bucket)) keys.push(e.key);
    deepEqual(keys, [
      `${prefix}.s3vfs/checkpoint`,
      `${prefix}.s3vfs/config`,
      `${prefix}.s3vfs/lease`,
      await commitKeyIn(b.client, b.bucket, prefix, 1),
      await commitKeyIn(b.client, b.bucket, prefix, 2),
    ]);
    // A new VFS: nothing shared in memory.
    {
      using vfs = testVfs(b.bucket);
      const db = new Db(vfs.uri(prefix), { flags: OPEN_READONLY });
      try {
        deepEqual(one(db, "SELECT count(*) FROM notes"), [[300]]);
        const [[body]] = one<[Uint8Array]>(db, "SELECT body FROM notes WHERE id = 300");
        equal(body.length, 399);
        ok(body.every((x) => x === (299 & 0xff)));
        equal(one(db, "PRAGMA integrity_check")[0][0], "ok");
      } finally {
        db.close();
      }
    }
  },
});

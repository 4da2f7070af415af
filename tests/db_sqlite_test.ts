/**
 * S3VFS through `@db/sqlite` (jsr:@db/sqlite), the driver applications use:
 * `new Database(vfs.uri(prefix), { flags: OPEN_READWRITE })`, create, insert,
 * query, close, and reopen from a new S3VFS. S3VFS finds the libsqlite3 copy
 * `@db/sqlite` loaded (findLibraryPath prefers an already loaded copy), so no
 * DENO_SQLITE_PATH is set here.
 *
 * `@db/sqlite` is imported dynamically, with a specifier held in a variable
 * so that type checking neither fetches it nor needs its types. Where the
 * import fails (no access to jsr.io, or it cannot download its prebuilt
 * library) the test is IGNORED, with the reason printed by console.warn.
 * Env `S3VFS_DB_SQLITE` overrides the specifier (a vendored or local copy).
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { OPEN_READONLY, OPEN_READWRITE } from "../src/vfs/options.ts";
import { freshBucket } from "./_harness.ts";
import { testVfs } from "./_vfs.ts";

/** The part of @db/sqlite's API this test uses. */
interface DbSqliteStatement {
  values<T extends unknown[] = unknown[]>(...params: unknown[]): T[];
  run(...params: unknown[]): number;
  finalize(): void;
}
interface DbSqliteDatabase {
  exec(sql: string, ...params: unknown[]): number;
  prepare(sql: string): DbSqliteStatement;
  close(): void;
}
interface DbSqliteModule {
  Database: new (path: string, options?: { flags?: number }) => DbSqliteDatabase;
  SQLITE_VERSION?: string;
}

/** What to import: env `S3VFS_DB_SQLITE` (e.g. a vendored copy's mod.ts URL) or the JSR package. */
const SPECIFIER = Deno.env.get("S3VFS_DB_SQLITE") || "jsr:@db/sqlite@0.12";
const IMPORT_TIMEOUT_MS = 20_000;

const loaded: { mod?: DbSqliteModule; reason?: string } = await (async () => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const spec = SPECIFIER; // a variable: not resolved (or fetched) at type-check time
    const mod = await Promise.race([
      import(spec) as Promise<DbSqliteModule>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${IMPORT_TIMEOUT_MS} ms`)),
          IMPORT_TIMEOUT_MS,
        );
      }),
    ]);
    if (typeof mod.Database !== "function") {
      return { reason: `${SPECIFIER} has no Database export` };
    }
    return { mod };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
})();

if (!loaded.mod) {
  console.warn(
    `db_sqlite_test: ignoring the @db/sqlite test: \`import("${SPECIFIER}")\` failed: ` +
      (loaded.reason ?? "unknown").split("\n")[0],
  );
}

function one<T extends unknown[]>(db: DbSqliteDatabase, sql: string, ...params: unknown[]): T[] {
  const st = db.prepare(sql);
  try {
    return st.values<T>(...params);
  } finally {
    st.finalize();
  }
}

Deno.test({
  name: "@db/sqlite: create, insert, query through S3VFS; reopen from a new S3VFS",
  ignore: !loaded.mod,
  async fn(): Promise<void> {
    const { Database, SQLITE_VERSION } = loaded.mod!;
    await using b = await freshBucket("db-sqlite");
    const prefix = "app/db-sqlite.sqlite";
    {
      using vfs = testVfs(b.bucket);
      console.log(`S3VFS registered in ${vfs.libraryPath} (SQLite ${vfs.sqliteVersion})`);
      const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE });
      try {
        // The connection lives in the copy the VFS is registered in.
        const [[version]] = one<[string]>(db, "SELECT sqlite_version()");
        equal(version, vfs.sqliteVersion);
        if (SQLITE_VERSION) equal(SQLITE_VERSION, vfs.sqliteVersion);
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
    // A new VFS: nothing shared in memory.
    {
      using vfs = testVfs(b.bucket);
      const db = new Database(vfs.uri(prefix), { flags: OPEN_READONLY });
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

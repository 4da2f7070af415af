/**
 * The stream methods on S3VFS: serialize what SQL wrote (read through the
 * commit log: no checkpoint needed), deserialize and query through the same
 * VFS (its cache forgets the replaced database), refusal while a connection
 * is open or without `overwrite`. (Journals are never in S3 any more, so
 * there is no hot journal to refuse.)
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import { CHINOOK_PATH, listKeys, openDb, openLocal, testVfs } from "./_vfs.ts";

const CHINOOK = CHINOOK_PATH;

Deno.test("S3VFS.serializeToFile: writes a SQL-written database as a file SQLite opens", async () => {
  await using b = await freshBucket("vfs-streams-sql");
  using vfs = testVfs(b.bucket, { blockSize: 4097 });
  const db = openDb(vfs, "app.sqlite");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  db.exec("BEGIN");
  for (let i = 0; i < 2000; i++) db.run("INSERT INTO t (v) VALUES (?)", `value ${i}`);
  db.exec("COMMIT");
  const size = Number(
    db.prepare("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
      .values()[0][0],
  );
  db.close();
  // No checkpoint ran: the database is only in the commit log, which serialize reads.
  deepEqual(await listKeys(b.client, b.bucket, "app.sqlite"), [], "no block yet");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/out.sqlite`;
    const progress: number[] = [];
    const { bytes } = await vfs.serializeToFile("app.sqlite", path, {
      onProgress: (p) => progress.push(p.bytes),
    });
    equal(bytes, size);
    equal((await Deno.stat(path)).size, size);
    equal(progress.at(-1), size);
    const local = openLocal(path);
    equal(local.prepare("PRAGMA integrity_check").values()[0][0], "ok");
    equal(local.prepare("SELECT count(*) FROM t").values()[0][0], 2000);
    local.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3VFS.deserializeFromFile: deserialize chinook, query it, replace it and see the new one", async () => {
  await using b = await freshBucket("vfs-streams-load");
  using vfs = testVfs(b.bucket);
  const loaded = await vfs.deserializeFromFile("music.sqlite", CHINOOK);
  equal(loaded.bytes, (await Deno.stat(CHINOOK)).size);
  let db = openDb(vfs, "music.sqlite");
  const artists = db.prepare("SELECT count(*) FROM Artist").values()[0][0];
  ok(Number(artists) > 0);
  equal(db.prepare("PRAGMA integrity_check").values()[0][0], "ok");

  // Not while a connection has it open.
  await rejects(
    vfs.deserialize("music.sqlite", [await Deno.readFile(CHINOOK)], { overwrite: true }),
    /open in a connection/,
  );
  db.close();

  // Replace it with another database: the same VFS must not serve stale cached blocks.
  const dir = await Deno.makeTempDir();
  try {
    const other = openLocal(`${dir}/other.sqlite`);
    other.exec("CREATE TABLE Artist (ArtistId INTEGER PRIMARY KEY, Name TEXT)");
    other.run("INSERT INTO Artist (Name) VALUES ('only one')");
    other.close();
    await rejects(vfs.deserializeFromFile("music.sqlite", `${dir}/other.sqlite`), /overwrite/);
    await vfs.deserializeFromFile("music.sqlite", `${dir}/other.sqlite`, { overwrite: true });
    db = openDb(vfs, "music.sqlite");
    deepEqual(db.prepare("SELECT Name FROM Artist").values(), [["only one"]]);
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

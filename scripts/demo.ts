/**
 * `deno task demo`: the main job end to end, as the README teaches it
 * (`@db/sqlite` + `S3VFS`), on a throwaway local MinIO (or on `S3_ENDPOINT`
 * when set): create a database under a key prefix, write and query it
 * through the S3 VFS, reopen it read-only from a fresh VFS, let a
 * short-lived writer fold the log into block objects once the grace period
 * passed, and print the objects it made (the commit log, the block objects
 * Python sqlite-s3vfs reads) and the S3 requests each step took.
 *
 * `@db/sqlite` is `jsr:@db/sqlite@0.13`, or its published source beside the
 * project where JSR cannot be reached (see scripts/db_sqlite.ts).
 *
 * @module
 */

// @db/sqlite first: the S3VFS registers in the libsqlite3 copy it loaded.
import { Database } from "./db_sqlite.ts";
import { OPEN_READONLY, OPEN_READWRITE, S3VFS, type VfsStats } from "../mod.ts";
import { S3Client } from "../src/s3/client.ts";
import { startMinio } from "./minio.ts";

const server = await startMinio();
const options = {
  endpoint: server.endpoint,
  region: server.region,
  credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
};
const bucket = Deno.env.get("S3VFS_BUCKET") ?? "s3vfs-demo";
// A 3 s grace period instead of the default 60 s, so that the demo shows the fold in seconds.
const timing = { graceMs: 3000 };
const prefix = `demo/${new Date().toISOString().replace(/[:.]/g, "-")}/music.sqlite`;

/** Prints what is stored: the log and its records, and the block objects. */
async function list(s3: S3Client, when: string): Promise<void> {
  console.log(`\n${when}:`);
  for (const [what, under] of [["log", `${prefix}.s3vfs/`], ["block", `${prefix}/`]]) {
    const objects: { key: string; size: number }[] = [];
    for await (const e of s3.list(bucket, { prefix: under })) objects.push(e);
    const bytes = objects.reduce((n, o) => n + o.size, 0);
    const cut = objects.length > 8; // many: the first 3, how many more, the last 2
    console.log(
      `  ${objects.length} ${what} objects, ${bytes} bytes, under s3://${bucket}/${under}:`,
    );
    for (const o of cut ? objects.slice(0, 3) : objects) console.log(`    ${o.key}  ${o.size} B`);
    if (cut) {
      console.log(`    ... ${objects.length - 5} more`);
      for (const o of objects.slice(-2)) console.log(`    ${o.key}  ${o.size} B`);
    }
  }
}

function requests(s: VfsStats): string {
  const r = s.requests;
  return `${r.total} requests (GET ${r.get}, ` +
    `PUT ${r.put}, DELETE ${
      r.delete + r.deleteMany
    }, LIST ${r.list}) in ${s.roundTrips} round trips`;
}

try {
  const s3 = new S3Client(options);
  await s3.createBucket(bucket);
  console.log(`S3 endpoint ${server.endpoint}, database s3://${bucket}/${prefix}\n`);

  {
    using vfs = new S3VFS({ ...options, bucket, timing });
    const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE });
    try {
      db.exec(
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT, artist TEXT, seconds INTEGER)",
      );
      console.log(`create table:              ${requests(vfs.stats())}`);
      vfs.resetStats();
      db.exec("BEGIN");
      for (let i = 1; i <= 10_000; i++) {
        db.run(
          "INSERT INTO tracks (title, artist, seconds) VALUES (?, ?, ?)",
          `Track ${i}`,
          `Artist ${i % 97}`,
          120 + (i * 7919) % 300,
        );
      }
      db.exec("COMMIT");
      console.log(`insert 10,000 rows (1 tx): ${requests(vfs.stats())}`);
      vfs.resetStats();
      db.run("INSERT INTO tracks (title, artist, seconds) VALUES ('One more', 'Artist 1', 200)");
      console.log(`insert 1 row (1 tx):       ${requests(vfs.stats())}`);
      vfs.resetStats();
      const top = db.prepare(
        "SELECT artist, count(*) AS tracks FROM tracks GROUP BY artist ORDER BY tracks DESC LIMIT 3",
      ).all();
      console.log(`warm GROUP BY query:       ${requests(vfs.stats())}`);
      console.table(top);
    } finally {
      db.close();
    }
  }

  {
    using vfs = new S3VFS({ ...options, bucket });
    const db = new Database(vfs.uri(prefix), { flags: OPEN_READONLY });
    try {
      const { n } = db.prepare("SELECT count(*) AS n FROM tracks").get<{ n: number }>()!;
      console.log(`\ncold count(*) from a new VFS = ${n}: ${requests(vfs.stats())}`);
      vfs.resetStats();
      const row = db.prepare("SELECT * FROM tracks WHERE id = 4242").all();
      console.log(`warm point query:          ${requests(vfs.stats())}`, row[0]);
      console.log(
        `integrity_check:           ${db.prepare("PRAGMA integrity_check").values()[0][0]}`,
      );
    } finally {
      db.close();
    }
  }

  // Each COMMIT above is one create-only object in the log. Once commits are older than the
  // grace period, any process that writes, or opens the database read-write, folds them in the
  // background into the block objects Python sqlite-s3vfs reads; close() lets it finish.
  await list(s3, "after the writes: nothing folded yet");
  console.log(
    "\nwaiting 7 s: a commit is folded once older than the grace period (3 s here, 60 s by " +
      "default) plus the clock margin (2 s)",
  );
  await new Promise((r) => setTimeout(r, 7000));
  {
    using vfs = new S3VFS({ ...options, bucket });
    const db = new Database(vfs.uri(prefix), { flags: OPEN_READWRITE });
    db.run("INSERT INTO tracks (title, artist, seconds) VALUES ('Late', 'Artist 2', 180)");
    db.close();
    vfs.close(); // waits for the background fold (at most 10 s)
    const m = vfs.stats().maintenance;
    console.log(
      `a short-lived writer (open, insert, close): its background maintenance folded ${m.commits} ` +
        `commits into ${m.blocks} block objects, ${vfs.stats().background.total} requests`,
    );
  }
  await list(s3, "after the fold");
} finally {
  await server.stop();
}

/**
 * How an S3VFS ends when the user's code does not end it properly (issue 19):
 *
 * - `using vfs` left by an error while a connection is still open: the
 *   user's error is what the process reports (a warning says the VFS closes
 *   later), not a SuppressedError; in one process, the VFS closes once the
 *   last connection does;
 * - a script that writes and then ends without `close()`, calls
 *   `Deno.exit()`, or dies of an uncaught error gives its writer lease up at
 *   exit: the next writer does not wait for the TTL.
 */

import { equal, match, ok } from "node:assert/strict";
import { DB_SQLITE_URL } from "../scripts/db_sqlite.ts";
import { DEFAULT_TIMING } from "../src/log/rules.ts";
import { readLease } from "../src/log/lease.ts";
import { runAsync, S3LogStore } from "../src/log/mod.ts";
import { freshBucket, testS3Env } from "./_harness.ts";
import { openDb, testVfs } from "./_vfs.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

/** Runs `body` as a script with a VFS `vfs` and a connection `db` on `prefix` open. */
async function script(
  bucket: string,
  prefix: string,
  body: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-exit-" });
  try {
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      `import { Database } from ${JSON.stringify(DB_SQLITE_URL)};
import { S3VFS } from ${JSON.stringify(MOD)};
${body.replaceAll("$BUCKET", JSON.stringify(bucket)).replaceAll("$PREFIX", JSON.stringify(prefix))}
`,
    );
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "app.ts"],
      cwd: dir,
      env: { ...testS3Env(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: res.code, stdout: text(res.stdout), stderr: text(res.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("S3VFS using: an error in the scope is reported as it is, not as a disposal error", async () => {
  await using b = await freshBucket("exit-using");
  const r = await script(
    b.bucket,
    "u.db",
    `{
  using vfs = new S3VFS({ bucket: $BUCKET });
  const db = new Database(vfs.uri($PREFIX));
  db.exec("CREATE TABLE notes (body TEXT)");
  db.exec("INSERT INTO notez VALUES ('typo')");
  db.close();
}`,
  );
  equal(r.code, 1);
  match(r.stderr, /no such table: notez/);
  ok(!/SuppressedError|close the 1 open database/.test(r.stderr), r.stderr);
  match(r.stderr, /disposed with 1 open database file\(s\); it closes when they are closed/);
});

Deno.test("S3VFS using: disposed with a connection open, it closes when the connection does", async () => {
  await using b = await freshBucket("exit-later");
  let vfs;
  let db;
  {
    using v = testVfs(b.bucket);
    vfs = v;
    db = openDb(v, "later.db");
    db.exec("CREATE TABLE t (x)");
  }
  equal(vfs.closed, false, "still open: a connection uses it");
  db.close();
  await new Promise((r) => setTimeout(r, 10));
  equal(vfs.closed, true, "closed after the last connection");
});

for (
  const [how, end] of [
    ["ends without close()", ""],
    ["calls Deno.exit()", "Deno.exit(0);"],
    ["dies of an uncaught error", "throw new Error('the script dies');"],
  ] as const
) {
  Deno.test(`S3VFS: a writer that ${how} gives its writer lease up at exit`, async () => {
    await using b = await freshBucket("exit-lease");
    const r = await script(
      b.bucket,
      "l.db",
      `const vfs = new S3VFS({ bucket: $BUCKET });
const db = new Database(vfs.uri($PREFIX));
db.exec("CREATE TABLE notes (body TEXT)");
db.exec("INSERT INTO notes VALUES ('x')");
console.log("wrote");
${end}`,
    );
    match(r.stdout, /wrote/, r.stderr);
    const lease = await runAsync(
      readLease("l.db", DEFAULT_TIMING),
      new S3LogStore(b.client, b.bucket),
    );
    ok(lease, "a lease was taken");
    equal(lease.record.released, true, `released at exit (exit code ${r.code})`);
  });
}

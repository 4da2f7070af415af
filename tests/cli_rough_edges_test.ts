/**
 * The small rough edges a new user met (issue 19, item 6), each as the user
 * meets it: export to a folder, an empty import, a write at `--at`, missing
 * credentials, a missing database's message, a time before the database
 * existed, a database named inside another one, `--version`.
 */

import { equal, match, ok } from "node:assert/strict";
import { OPEN_READONLY } from "../mod.ts";
import { Database } from "../scripts/db_sqlite.ts";
import { oneLineError, runCli } from "./_cli.ts";
import { freshBucket } from "./_harness.ts";
import { CHINOOK_PATH, testVfs } from "./_vfs.ts";

Deno.test("cli rough edges: export to a folder, an empty import, a write at --at, no credentials", async () => {
  await using b = await freshBucket("cli-edges");
  const url = `s3://${b.bucket}/c.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const dir = await Deno.makeTempDir();
  try {
    // A folder as the target: refused before anything is read, naming a file to give instead.
    let r = await runCli(["export", url, dir, "--overwrite"]);
    equal(r.code, 1);
    equal(oneLineError(r.stderr), `error: ${dir} is a folder: name the file, e.g. ${dir}/c.db`);
    // A file-system failure names the path given, not the temporary file.
    r = await runCli(["export", url, `${dir}/missing/x.db`]);
    equal(r.code, 1);
    ok(!r.stderr.includes("s3vfs-partial"), r.stderr);
    match(r.stderr, new RegExp(`${dir}/missing/x\\.db`));
    // An empty file: an error, and nothing stored.
    await Deno.writeFile(`${dir}/empty.db`, new Uint8Array(0));
    r = await runCli(["import", `${dir}/empty.db`, `s3://${b.bucket}/e.db`]);
    equal(r.code, 1);
    match(oneLineError(r.stderr), /empty\.db is empty: nothing was stored at s3:\/\/\S+\/e\.db/);
    equal((await runCli(["info", `s3://${b.bucket}/e.db`])).code, 1);
    // A write at a past snapshot: the hint is not "--write" (which --at refuses).
    r = await runCli(["query", url, "DELETE FROM Genre", "--at", "1"]);
    equal(r.code, 1);
    match(
      r.stderr,
      /--at opens a past snapshot, which is read-only: restore --at makes it current/,
    );
    // No credentials: the tool's words, not the library option's.
    r = await runCli(["ls", `s3://${b.bucket}`], {
      env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
    });
    equal(r.code, 1);
    match(r.stderr, /No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    ok(!r.stderr.includes("`credentials`"), r.stderr);
    // --version.
    r = await runCli(["--version"]);
    equal(r.code, 0);
    match(r.stdout, /^s3vfs \d+\.\d+\.\d+ /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli rough edges: a time before the database existed, a database inside another", async () => {
  await using b = await freshBucket("cli-edges-2");
  const url = `s3://${b.bucket}/c.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  let r = await runCli(["query", url, "SELECT 1", "--at", "2020-01-01T00:00:00Z"]);
  equal(r.code, 1);
  match(
    r.stderr,
    /c\.db did not exist at 2020-01-01T00:00:00\.000Z: its first commit was written at/,
  );
  // A database named inside another one: check on the outer one says so.
  equal((await runCli(["import", CHINOOK_PATH, `${url}/0000000001`])).code, 0);
  r = await runCli(["check", url]);
  equal(r.code, 1);
  match(
    r.stdout,
    /BROKEN\s+\d+ objects under c\.db\/ that are not its blocks .*a database named inside/,
  );
});

Deno.test("S3VFS lastError: a missing database is named without a stray slash", async () => {
  await using b = await freshBucket("edges-missing");
  using vfs = testVfs(b.bucket);
  try {
    new Database(vfs.uri("nothing/here.db"), { flags: OPEN_READONLY }).close();
    ok(false, "opening a missing database read-only should fail");
  } catch { /* SQLITE_CANTOPEN */ }
  equal(
    vfs.lastError?.message,
    `no database at s3://${b.bucket}/nothing/here.db (open with SQLITE_OPEN_CREATE to make one)`,
  );
});

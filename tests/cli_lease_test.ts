/**
 * The writer lease in the CLI (issue 19): a writing `query` waits for
 * another process's lease up to `--wait`, saying who holds it and until
 * when, then either runs once the lease is given up or fails naming the
 * holder; `vfs.lastError` is a LeaseBusyError with the same facts.
 */

import { equal, match, ok } from "node:assert/strict";
import { LeaseBusyError } from "../mod.ts";
import { freshBucket } from "./_harness.ts";
import { makeLocalDb, runCli } from "./_cli.ts";
import { openDb, testVfs } from "./_vfs.ts";

Deno.test("cli: a write waits for another writer's lease (--wait), naming the holder", async () => {
  await using b = await freshBucket("cli-lease");
  const url = `s3://${b.bucket}/l.db`;
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, "l.db");
  db.exec("CREATE TABLE t (x)"); // this process now holds the writer lease
  try {
    // Gives up after --wait, naming the holder.
    const started = performance.now();
    const late = await runCli(["query", url, "INSERT INTO t VALUES (1)", "--write", "--wait", "2"]);
    const secs = (performance.now() - started) / 1000;
    equal(late.code, 1, late.stderr);
    match(
      late.stderr,
      new RegExp(
        `waiting for the writer lease of s3://\\S+/l\\.db: held by \\S+ pid ${Deno.pid} until`,
      ),
    );
    match(
      late.stderr,
      new RegExp(
        `error: the writer lease of s3://\\S+/l\\.db is held by \\S+ pid ${Deno.pid} until ` +
          `\\d\\d:\\d\\d:\\d\\d UTC unless renewed; gave up after 2 s`,
      ),
    );
    ok(secs >= 2, `waited ${secs} s`);

    // Given up while the CLI waits: the write goes through.
    const writing = runCli(["query", url, "INSERT INTO t VALUES (2)", "--write", "--wait", "30"]);
    await new Promise((r) => setTimeout(r, 1500));
    db.close(); // the last connection gives the lease up
    const r = await writing;
    equal(r.code, 0, r.stderr);
    match(r.stderr, /waiting for the writer lease/);
    const check = await runCli(["query", url, "SELECT x FROM t", "--csv"]);
    equal(check.stdout.trim().split(/\r?\n/).slice(1).join(","), "2");
  } finally {
    try {
      db.close();
    } catch { /* closed above */ }
  }
});

Deno.test("S3VFS lastError: a write refused for another's lease is a LeaseBusyError", async () => {
  await using b = await freshBucket("lease-error");
  using holder = testVfs(b.bucket);
  const a = openDb(holder, "e.db");
  a.exec("CREATE TABLE t (x)");
  using other = testVfs(b.bucket);
  const c = openDb(other, "e.db");
  try {
    c.exec("INSERT INTO t VALUES (1)");
    ok(false, "the write should have been refused");
  } catch (e) {
    match(String(e), /database is locked/);
  }
  const err = other.lastError;
  ok(err instanceof LeaseBusyError, `lastError: ${err}`);
  equal(err.pid, Deno.pid);
  equal(err.prefix, "e.db");
  ok(err.expiresAt! > Date.now() - 5000);
  c.close();
  a.close();
});

Deno.test("cli: import waits for another writer's lease before uploading anything", async () => {
  await using b = await freshBucket("cli-lease-import");
  const url = `s3://${b.bucket}/i.db`;
  const file = await makeLocalDb(50);
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, "i.db");
  db.exec("CREATE TABLE t (x)"); // this process holds the writer lease
  try {
    const refused = await runCli(["import", file, url, "--overwrite", "--wait", "1"]);
    equal(refused.code, 1);
    match(
      refused.stderr,
      /error: the writer lease of s3:\/\/\S+\/i\.db is held by .*gave up after 1 s/,
    );
    const staged = (await Array.fromAsync(b.client.list(b.bucket))).filter((e) =>
      e.key.includes("/stage/")
    );
    equal(staged.length, 0, "nothing uploaded while the lease was held");
    const importing = runCli(["import", file, url, "--overwrite", "--wait", "30"]);
    await new Promise((r) => setTimeout(r, 1500));
    db.close();
    const r = await importing;
    equal(r.code, 0, r.stderr);
    match(r.stdout, /imported .* at txid 2/);
  } finally {
    try {
      db.close();
    } catch { /* closed above */ }
    await Deno.remove(file);
  }
});

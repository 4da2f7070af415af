/**
 * The `s3vfs` command-line tool, every command run as a subprocess against
 * the test MinIO (tests/_cli.ts), asserting what it prints and its exit code:
 * inspection, SQL, check, checkpoint, history and restore, the lease, errors
 * and usage. Moving whole databases (import, export, cp, progress, Ctrl-C):
 * tests/cli_transfer_test.ts.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  commitKeyIn,
  FOLDABLE_AFTER_MS,
  freshBucket,
  logPrefixIn,
  UNKNOWN_KEY_ID,
} from "./_harness.ts";
import { CHINOOK_PATH, FAST_TIMING, openDb, settle, testVfs } from "./_vfs.ts";
import { makeLocalDb, oneLineError, runCli, runCliInPty, stripAnsi } from "./_cli.ts";
import { COMMANDS } from "../src/cli/main.ts";

const CHINOOK = await Deno.readFile(CHINOOK_PATH);

Deno.test("cli: check, info and ls report staged garbage and its size", async () => {
  await using b = await freshBucket("cli-garbage");
  const url = `s3://${b.bucket}/g.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  let r = await runCli(["info", url]);
  match(
    r.stdout,
    /│ staged\s+│ 1 chunk \(984 KiB\)/,
    "the import's data, referenced by its commit",
  );
  // What an interrupted transaction leaves: a chunk no commit references.
  const stage = await logPrefixIn(b.client, b.bucket, "g.db", "stage");
  await b.client.put(
    b.bucket,
    `${stage}${"2".padStart(20, "0")}.abc/0000000000`,
    new Uint8Array(5000),
  );
  r = await runCli(["check", url]);
  equal(r.code, 0, r.stdout + r.stderr);
  match(r.stdout, /ok\s+staged: 1 chunk \(984 KiB\) referenced by commits/);
  match(
    r.stdout,
    /note\s+staged garbage: 1 chunk \(4\.9 KiB\) that no commit references \(transactions that never committed\); retention deletes them once older than 60 min/,
  );
  r = await runCli(["info", url]);
  match(
    r.stdout,
    /│ staged\s+│ 2 chunks \(989 KiB\): big transactions' data; check tells what is garbage/,
  );
  r = await runCli(["ls", `s3://${b.bucket}`]);
  match(r.stdout, /│ g\.db .*│ 989 KiB │/);
});

Deno.test("cli: check passes on a healthy database and fails when a block is deleted", async () => {
  await using b = await freshBucket("cli-check");
  const prefix = "checked.db";
  {
    using vfs = testVfs(b.bucket, { timing: FAST_TIMING });
    const db = openDb(vfs, prefix);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)");
    for (let i = 0; i < 5; i++) db.exec("INSERT INTO t (x) VALUES (?)", "row".repeat(2000));
    db.close();
    equal(await settle(vfs, prefix), "folded");
  }
  const url = `s3://${b.bucket}/${prefix}`;
  const good = await runCli(["check", url]);
  equal(good.code, 0, good.stdout + good.stderr);
  match(
    good.stdout,
    /ok\s+blocks: the \d+ the checkpoint's \d+ bytes need are present with the right sizes/,
  );
  match(good.stdout, /ok\s+PRAGMA integrity_check: ok/);
  match(good.stdout, new RegExp(`${url.replace(/[./]/g, "\\$&")}: ok\\n$`));

  const keys = [];
  for await (const e of b.client.list(b.bucket, { prefix: `${prefix}/` })) keys.push(e.key);
  ok(keys.length >= 4, keys.join());
  await b.client.delete(b.bucket, keys[2]);
  const bad = await runCli(["check", url]);
  equal(bad.code, 1, bad.stdout);
  match(bad.stdout, /BROKEN\s+block 2 is missing/);
  match(bad.stdout, /BROKEN\s+integrity_check/);
  match(bad.stdout, /: \d+ problems?\n$/);
  // A commit object that no longer parses is reported too.
  const log = await commitKeyIn(b.client, b.bucket, prefix, 1);
  await b.client.put(b.bucket, log, new TextEncoder().encode("garbage"));
  const badLog = await runCli(["check", url]);
  equal(badLog.code, 1);
  match(badLog.stdout, /BROKEN\s+commit 1: .*magic/);
});

Deno.test("cli: checkpoint folds the log", async () => {
  await using b = await freshBucket("cli-checkpoint");
  const prefix = "ck.db";
  {
    using vfs = testVfs(b.bucket, { timing: FAST_TIMING });
    const db = openDb(vfs, prefix);
    db.exec("CREATE TABLE t (x)");
    db.exec("INSERT INTO t VALUES (1)");
    db.close();
  }
  await new Promise((r) => setTimeout(r, FOLDABLE_AFTER_MS));
  const url = `s3://${b.bucket}/${prefix}`;
  const r = await runCli(["checkpoint", url]);
  equal(r.code, 0, r.stderr);
  match(
    r.stdout,
    /^folded txids 1\.\.2 into the blocks: \d+ of \d+ blocks written \(\d+(\.\d+)? [KM]iB\) in \d+\.\d s, \d+ blocks\/s\n$/,
  );
  const again = await runCli(["checkpoint", url]);
  match(again.stdout, /^nothing to fold: the blocks hold txid 2/);
  match((await runCli(["info", url])).stdout, /│ checkpoint\s+│ txid 2,/);
});

Deno.test("cli: wrong credentials fail on one line naming the S3 error; --verbose adds the stack", async () => {
  await using b = await freshBucket("cli-creds");
  const url = `s3://${b.bucket}/db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const env = { AWS_ACCESS_KEY_ID: "not-a-key" };
  const unknownKey = new RegExp(
    `^error: S3 ${UNKNOWN_KEY_ID.status} ${UNKNOWN_KEY_ID.code} on GET `,
  );
  for (
    const args of [["info", url], ["query", url, "SELECT 1"], ["export", url, "-"], [
      "ls",
      `s3://${b.bucket}`,
    ]]
  ) {
    const r = await runCli(args, { env });
    equal(r.code, 1, args.join(" "));
    match(oneLineError(r.stderr), unknownKey, args.join(" "));
    equal(r.stdout, "");
  }
  const verbose = await runCli(["info", url, "--verbose"], { env });
  equal(verbose.code, 1);
  match(verbose.stderr, unknownKey);
  match(verbose.stderr, /\n\s+at .*\.ts:\d+/);
  const wrongSecret = await runCli(["info", url], { env: { AWS_SECRET_ACCESS_KEY: "wrong" } });
  equal(wrongSecret.code, 1);
  match(oneLineError(wrongSecret.stderr), /^error: S3 403 SignatureDoesNotMatch on GET /);
});

Deno.test("cli: a missing database is an error for every command that reads one", async () => {
  await using b = await freshBucket("cli-missing");
  const url = `s3://${b.bucket}/nothing/here`;
  const dir = await Deno.makeTempDir();
  try {
    for (
      const args of [
        ["info", url],
        ["query", url, "SELECT 1"],
        ["shell", url],
        ["export", url, `${dir}/x.sqlite`],
        ["check", url],
        ["checkpoint", url],
        ["history", url],
        ["restore", url, "--at", "1"],
      ]
    ) {
      const r = await runCli(args);
      equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      equal(oneLineError(r.stderr), `error: no database at ${url}`, args[0]);
    }
    deepEqual(await Array.fromAsync(Deno.readDir(dir)), [], "export left no file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const keys = [];
  for await (const e of b.client.list(b.bucket)) keys.push(e.key);
  deepEqual(keys, [], "nothing was written");
});

Deno.test("cli: usage errors exit 2, --help exits 0 for every command", async () => {
  for (const c of COMMANDS) {
    const h = await runCli([c.name, "--help"]);
    equal(h.code, 0, c.name);
    ok(h.stdout.startsWith(`Usage: s3vfs ${c.name} `), h.stdout);
    match(h.stdout, /--endpoint <url>/);
  }
  const top = await runCli(["--help"]);
  equal(top.code, 0);
  for (const c of COMMANDS) match(top.stdout, new RegExp(`\\n  ${c.name}\\s+\\S`));
  const cases: [string[], RegExp][] = [
    [[], /Usage: s3vfs <command>/],
    [["frobnicate"], /error: unknown command frobnicate/],
    [["import", "a.sqlite"], /error: import takes <source> <target>, got 1 argument/],
    [["info", "s3://b/x", "--colour"], /error: Unknown option '--colour'/],
    [["info", "http://b/x"], /error: not a database location: http:\/\/b\/x/],
    [["info", "s3://b/x/../y"], /invalid database name/],
    [["info", "s3://bucket"], /names no database/],
    [["query", "s3://b/x", "SELECT 1", "--json", "--csv"], /--json or --csv, not both/],
    [["restore", "s3://b/x"], /restore needs --at/],
    [["restore", "s3://b/x", "--at", "yesterday"], /--at must be a txid or a time/],
    [["import", "a", "s3://b/x", "--block-size", "big"], /--block-size must be a positive integer/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    match(r.stderr, re);
  }
});

Deno.test("cli: ls and info see a database written by Python sqlite-s3vfs (blocks only)", async () => {
  await using b = await freshBucket("cli-python");
  for (let i = 0; i * 4096 < CHINOOK.length; i++) {
    const key = `py/chinook/${String(i).padStart(10, "0")}`;
    await b.client.put(b.bucket, key, CHINOOK.slice(i * 4096, (i + 1) * 4096));
  }
  const ls = await runCli(["ls", `s3://${b.bucket}`]);
  match(ls.stdout, /│ py\/chinook\s+│\s+1007616 │\s+4096 │\s+4096 │ -\s+│\s+0 │/);
  const info = await runCli(["info", `s3://${b.bucket}/py/chinook`]);
  match(info.stdout, /│ storage\s+│ blocks only \(Python sqlite-s3vfs, no log\)/);
  match(info.stdout, /│ blocks\s+│ 246 in the database; 246 objects stored \(1007616 bytes\)/);
  const check = await runCli(["check", `s3://${b.bucket}/py/chinook`]);
  equal(check.code, 0, check.stdout);
  match(check.stdout, /ok\s+246 blocks of 4096 bytes \(no log: Python's layout\)/);
  const q = await runCli([
    "query",
    `s3://${b.bucket}/py/chinook`,
    "SELECT count(*) AS n FROM Album",
    "--json",
  ]);
  deepEqual(JSON.parse(q.stdout), [{ n: 347 }]);
  const exp = await runCli(["export", `s3://${b.bucket}/py/chinook`, "-"]);
  deepEqual(exp.bytes, CHINOOK);
});

Deno.test("cli: shell runs statements and dot commands from stdin", async () => {
  await using b = await freshBucket("cli-shell");
  const url = `s3://${b.bucket}/sh.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const script = [
    ".tables",
    "SELECT Name FROM Genre",
    "  WHERE GenreId = 2;",
    ".mode json",
    "SELECT GenreId FROM Genre WHERE Name = 'Jazz';",
    ".schema MediaType",
    "",
  ].join("\n");
  const r = await runCli(["shell", url], { stdin: new TextEncoder().encode(script) });
  equal(r.code, 0, r.stderr);
  match(r.stdout, /^Album\s+Artist\s+Customer\s+Employee\s+Genre/);
  match(r.stdout, /│ Name │\n├──────┤\n│ Jazz │/);
  ok(r.stdout.includes(`[\n  {\n    "GenreId": 2\n  }\n]`), r.stdout);
  match(r.stdout, /CREATE TABLE \[MediaType\]/);
  const failing = await runCli(["shell", url], {
    stdin: new TextEncoder().encode("SELECT * FROM nope;\nSELECT 7 AS seven;\n"),
  });
  equal(failing.code, 1, "a failed statement makes a non-interactive shell exit 1");
  match(failing.stderr, /error: no such table: nope/);
  match(failing.stdout, /│ seven │/);
  const write = await runCli(["shell", url, "--write"], {
    stdin: new TextEncoder().encode("DELETE FROM Genre WHERE GenreId = 25;\n"),
  });
  equal(write.code, 0, write.stderr);
  const q = await runCli(["query", url, "SELECT count(*) AS n FROM Genre", "--json"]);
  deepEqual(JSON.parse(q.stdout), [{ n: 24 }]);
});

Deno.test("cli: shell on a terminal prompts, continues statements and leaves on .quit", async () => {
  await using b = await freshBucket("cli-shell-tty");
  const url = `s3://${b.bucket}/tty.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  // Typed before the shell is ready: nothing is lost.
  const r = await runCliInPty(["shell", url], "SELECT count(*) AS n\n  FROM Artist;\n.quit\n");
  r.output = stripAnsi(r.output); // the line editor's cursor moves
  equal(r.code, 0, r.output);
  match(r.output, new RegExp(`${url.replace(/[./]/g, "\\$&")} \\(read-only\\), SQLite 3\\.`));
  match(r.output, /s3vfs> [\s\S]*\.\.\.> /, "a prompt, then the continuation prompt");
  match(r.output, /│ n +│\r?\n├─+┤\r?\n│ 275 │/);
});

Deno.test("cli: history, query and export --at, restore", async () => {
  await using b = await freshBucket("cli-history");
  const url = `s3://${b.bucket}/h.db`;
  const path = await makeLocalDb(5);
  try {
    const original = await Deno.readFile(path);
    equal((await runCli(["import", path, url])).code, 0);
    // A second apart: a store may list Last-Modified in whole seconds (versitygw does).
    await new Promise((r) => setTimeout(r, 1100));
    equal((await runCli(["query", url, "DELETE FROM t WHERE id > 2", "--write"])).code, 0);
    const history = await runCli(["history", url, "--json"]);
    equal(history.code, 0, history.stderr);
    const entries = JSON.parse(history.stdout);
    deepEqual(
      entries.map((e: { txid: number; kind: string; size: number }) => [e.txid, e.kind, e.size]),
      [[1, "commit", original.length], [2, "commit", original.length]],
    );
    const table = await runCli(["history", url]);
    match(table.stdout, /│ txid │ time\s+│ kind\s+│ bytes │ size\s+│ pages changed │ complete │/);
    match(
      table.stdout,
      /│\s+2 │ \d{4}-\d\d-\d\dT[\d:.]+Z │ commit │ +\d+ │ 8\.0 KiB │ +\d+ │ yes +│/,
    );

    const count = async (extra: string[]): Promise<number> => {
      const r = await runCli(["query", url, "SELECT count(*) AS n FROM t", "--json", ...extra]);
      equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout)[0].n;
    };
    equal(await count([]), 2);
    equal(await count(["--at", "1"]), 5);
    equal(await count(["--at", entries[0].time]), 5, "at the time of txid 1");
    equal(await count(["--at", entries[1].time]), 2, "at the time of txid 2");
    const past = await runCli(["export", url, "-", "--at", "1"]);
    equal(past.code, 0, past.stderr);
    deepEqual(past.bytes, original, "export --at 1 gives the imported file back");
    const rw = await runCli(["query", url, "DELETE FROM t", "--at", "1", "--write"]);
    equal(rw.code, 2);
    match(rw.stderr, /--at opens a past snapshot: no --write/);
    const ahead = await runCli(["query", url, "SELECT 1", "--at", "9"]);
    equal(ahead.code, 1);
    match(
      oneLineError(ahead.stderr),
      /unable to open database file: .*txid 9 of h\.db is past its head, txid 2/,
    );

    const restore = await runCli(["restore", url, "--at", "1"]);
    equal(restore.code, 0, restore.stderr);
    match(restore.stdout, /^restored txid 1 \(8\.0 KiB\) as txid 3\n$/);
    equal(await count([]), 5);
    match(
      (await runCli(["info", url])).stdout,
      /│ history\s+│ 3 commit objects kept \(txids 1\.\.3\); snapshots from txid \d/,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli: ls and info show the writer lease while another process holds it", async () => {
  await using b = await freshBucket("cli-lease");
  const prefix = "leased.db";
  const url = `s3://${b.bucket}/${prefix}`;
  using vfs = testVfs(b.bucket);
  const db = openDb(vfs, prefix);
  db.exec("CREATE TABLE t (x)");
  db.exec("INSERT INTO t VALUES (1)"); // the first write transaction takes the lease
  try {
    const ls = await runCli(["ls", `s3://${b.bucket}`]);
    match(ls.stdout, new RegExp(`│ leased\\.db .*│ [^│]*:${Deno.pid} │`));
    const info = await runCli(["info", url]);
    match(
      info.stdout,
      new RegExp(`│ lease\\s+│ \\S* pid ${Deno.pid}, generation 1, until \\d{4}-`),
    );
    const json = JSON.parse((await runCli(["info", url, "--json"])).stdout);
    equal(json.lease.pid, Deno.pid);
    equal(json.lease.live, true);
  } finally {
    db.close(); // releases the lease
  }
  const after = await runCli(["info", url]);
  match(
    after.stdout,
    new RegExp(`│ lease\\s+│ none \\(last held by \\S* pid ${Deno.pid}, released\\)`),
  );
  match((await runCli(["ls", `s3://${b.bucket}`])).stdout, /│ leased\.db .*│ - +│/);
});

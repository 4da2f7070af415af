/**
 * The `s3vfs` command-line tool, every command run as a subprocess against
 * the test MinIO (tests/_cli.ts), asserting what it prints and its exit code.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";
import { CHINOOK_PATH, FAST_TIMING, openDb, openLocal, settle, testVfs } from "./_vfs.ts";
import { cliArgs, cliEnv, runCli, runCliInPty } from "./_cli.ts";
import { publishedFiles, servePackage } from "./_package_server.ts";
import { startDelayProxy } from "../bench/proxy.ts";
import { testS3Options } from "./_harness.ts";
import { COMMANDS } from "../src/cli/main.ts";

const CHINOOK = await Deno.readFile(CHINOOK_PATH);

/** A local SQLite file with one table `t(x)` holding `rows` rows of `bytesPerRow` random bytes. */
async function makeLocalDb(rows: number, bytesPerRow = 100): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  await Deno.remove(path);
  const db = openLocal(path);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, x BLOB)");
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
    INSERT INTO t (x) SELECT randomblob(${bytesPerRow}) FROM n`);
  db.close();
  return path;
}

function oneLineError(stderr: string): string {
  const lines = stderr.trim().split("\n");
  equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  ok(lines[0].startsWith("error: "), stderr);
  return lines[0];
}

Deno.test("cli: import -> ls / info -> query -> export gives back the same bytes", async () => {
  await using b = await freshBucket("cli-roundtrip");
  const url = `s3://${b.bucket}/music/chinook.db`;
  const imp = await runCli(["import", CHINOOK_PATH, url]);
  equal(imp.code, 0, imp.stderr);
  match(
    imp.stdout,
    /^imported 984 KiB \(246 blocks\) into s3:\/\/\S+\/music\/chinook\.db at txid 1\n$/,
  );
  equal(imp.stderr, "", "no progress when stderr is not a terminal");

  const again = await runCli(["import", CHINOOK_PATH, url]);
  equal(again.code, 1);
  match(oneLineError(again.stderr), /exist|overwrite/i);

  const ls = await runCli(["ls", `s3://${b.bucket}`]);
  equal(ls.code, 0, ls.stderr);
  match(ls.stdout, /│ music\/chinook\.db\s+│\s+1007616 │\s+4096 │\s+4096 │\s+1 │\s+1 │/);
  const lsJson = JSON.parse((await runCli(["ls", `s3://${b.bucket}/music/`, "--json"])).stdout);
  deepEqual(
    lsJson.map((
      d: { database: string; size: number; txid: number },
    ) => [d.database, d.size, d.txid]),
    [
      [url, 1007616, 1],
    ],
  );
  const lsNone = await runCli(["ls", `s3://${b.bucket}/elsewhere/`, "--json"]);
  deepEqual(JSON.parse(lsNone.stdout), []);

  const info = await runCli(["info", url]);
  equal(info.code, 0, info.stderr);
  for (
    const re of [
      /│ size\s+│ 1007616 bytes \(984 KiB\)/,
      /│ page size\s+│ 4096/,
      /│ pages\s+│ 246/,
      /│ txid\s+│ 1 /,
      /│ checkpoint\s+│ txid 0, 0 bytes/,
      /│ log\s+│ 1 commits? after the checkpoint/,
      /│ text encoding\s+│ UTF-8/,
      /│ written by\s+│ SQLite 3\.\d+\.\d+/,
    ]
  ) match(info.stdout, re);
  const infoJson = JSON.parse((await runCli(["info", url, "--json"])).stdout);
  equal(infoJson.header.pageSize, 4096);
  equal(infoJson.txid, 1);
  equal(infoJson.blockSize, 4096);

  const q = await runCli([
    "query",
    url,
    "SELECT ArtistId, Name FROM Artist ORDER BY ArtistId LIMIT 2",
  ]);
  equal(q.code, 0, q.stderr);
  equal(
    q.stdout,
    [
      "┌──────────┬────────┐",
      "│ ArtistId │ Name   │",
      "├──────────┼────────┤",
      "│        1 │ AC/DC  │",
      "│        2 │ Accept │",
      "└──────────┴────────┘",
      "",
    ].join("\n"),
  );
  const qj = await runCli([
    "query",
    url,
    "SELECT count(*) AS n, max(Name) AS top FROM Artist",
    "--json",
  ]);
  deepEqual(JSON.parse(qj.stdout), [{ n: 275, top: "Zeca Pagodinho" }]);
  const qc = await runCli([
    "query",
    url,
    `SELECT 1 AS a, 'x,"y"' AS b, NULL AS c; SELECT Name FROM Genre WHERE GenreId = 1`,
    "--csv",
  ]);
  equal(qc.stdout, 'a,b,c\r\n1,"x,""y""",\r\nName\r\nRock\r\n');

  // Read-only unless --write; the database is unchanged by the refused write.
  const ro = await runCli(["query", url, "DELETE FROM Artist WHERE ArtistId = 1"]);
  equal(ro.code, 1);
  match(oneLineError(ro.stderr), /readonly database.*--write/);
  const bad = await runCli(["query", url, "SELECT * FROM nope"]);
  equal(bad.code, 1);
  equal(oneLineError(bad.stderr), "error: no such table: nope");

  const dir = await Deno.makeTempDir();
  try {
    const exp = await runCli(["export", url, `${dir}/out.sqlite`]);
    equal(exp.code, 0, exp.stderr);
    match(exp.stdout, /^exported 984 KiB from s3:\/\/\S+ to \S+out\.sqlite\n$/);
    deepEqual(await Deno.readFile(`${dir}/out.sqlite`), CHINOOK);
    const exists = await runCli(["export", url, `${dir}/out.sqlite`]);
    equal(exists.code, 1);
    match(oneLineError(exists.stderr), /exists \(add --overwrite/);
    const toStdout = await runCli(["export", url, "-"]);
    equal(toStdout.code, 0, toStdout.stderr);
    deepEqual(toStdout.bytes, CHINOOK);
    equal(toStdout.stderr, "");
    deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["out.sqlite"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const w = await runCli(["query", url, "DELETE FROM Artist WHERE ArtistId = 1", "--write"]);
  equal(w.code, 0, w.stderr);
  const after = await runCli(["query", url, "SELECT count(*) AS n FROM Artist", "--json"]);
  deepEqual(JSON.parse(after.stdout), [{ n: 274 }]);
  match((await runCli(["info", url])).stdout, /│ txid\s+│ 2 /);
});

Deno.test("cli: import from stdin, --overwrite, and --block-size", async () => {
  await using b = await freshBucket("cli-stdin");
  const url = `s3://${b.bucket}/from/stdin`;
  const r = await runCli(["import", "-", url, "--block-size", "65536"], { stdin: CHINOOK });
  equal(r.code, 0, r.stderr);
  match(r.stdout, /\(16 blocks\)/);
  match((await runCli(["info", url])).stdout, /│ block size\s+│ 65536/);
  const path = await makeLocalDb(10);
  try {
    const over = await runCli(["import", path, url, "--overwrite"]);
    equal(over.code, 0, over.stderr);
    match(over.stdout, /at txid 2\n$/);
    const q = await runCli(["query", url, "SELECT count(*) AS n FROM t", "--json"]);
    deepEqual(JSON.parse(q.stdout), [{ n: 10 }]);
  } finally {
    await Deno.remove(path);
  }
  const notSql = await runCli(["import", "-", `s3://${b.bucket}/junk`], {
    stdin: new TextEncoder().encode("hello, this is not a database".repeat(10)),
  });
  equal(notSql.code, 1);
  match(oneLineError(notSql.stderr), /not a SQLite database/);
  const none = await runCli(["ls", `s3://${b.bucket}/junk`, "--json"]);
  deepEqual(JSON.parse(none.stdout), []);
});

Deno.test("cli: cp within a bucket and across buckets", async () => {
  await using a = await freshBucket("cli-cp-a");
  await using b = await freshBucket("cli-cp-b");
  const src = `s3://${a.bucket}/src.db`;
  equal((await runCli(["import", CHINOOK_PATH, src])).code, 0);
  const same = await runCli(["cp", src, `s3://${a.bucket}/copy.db`]);
  equal(same.code, 0, same.stderr);
  match(
    same.stdout,
    /^copied 984 KiB \(246 blocks\) from s3:\/\/\S+\/src\.db into s3:\/\/\S+\/copy\.db at txid 1\n$/,
  );
  const across = await runCli(["cp", src, `s3://${b.bucket}/deep/copy.db`]);
  equal(across.code, 0, across.stderr);
  for (const url of [`s3://${a.bucket}/copy.db`, `s3://${b.bucket}/deep/copy.db`]) {
    const exp = await runCli(["export", url, "-"]);
    deepEqual(exp.bytes, CHINOOK, url);
  }
  const refused = await runCli(["cp", src, `s3://${a.bucket}/copy.db`]);
  equal(refused.code, 1);
  match(oneLineError(refused.stderr), /exist|overwrite/i);
  const self = await runCli(["cp", src, src]);
  equal(self.code, 2);
  const missing = await runCli(["cp", `s3://${a.bucket}/nothing`, `s3://${a.bucket}/x`]);
  equal(missing.code, 1);
  equal(oneLineError(missing.stderr), `error: no database at s3://${a.bucket}/nothing`);
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
  const log = `${prefix}.s3vfs/log/${"1".padStart(20, "0")}`;
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
  await new Promise((r) => setTimeout(r, 3500)); // the grace period of FAST_TIMING
  const url = `s3://${b.bucket}/${prefix}`;
  const r = await runCli(["checkpoint", url]);
  equal(r.code, 0, r.stderr);
  match(r.stdout, /^folded txids 1\.\.2 into the blocks \(\d+ blocks written\)\n$/);
  const again = await runCli(["checkpoint", url]);
  match(again.stdout, /^nothing to fold: the blocks hold txid 2/);
  match((await runCli(["info", url])).stdout, /│ checkpoint\s+│ txid 2,/);
});

Deno.test("cli: wrong credentials fail on one line naming the S3 error; --verbose adds the stack", async () => {
  await using b = await freshBucket("cli-creds");
  const url = `s3://${b.bucket}/db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const env = { AWS_ACCESS_KEY_ID: "not-a-key" };
  for (
    const args of [["info", url], ["query", url, "SELECT 1"], ["export", url, "-"], [
      "ls",
      `s3://${b.bucket}`,
    ]]
  ) {
    const r = await runCli(args, { env });
    equal(r.code, 1, args.join(" "));
    match(oneLineError(r.stderr), /^error: S3 403 InvalidAccessKeyId on GET /, args.join(" "));
    equal(r.stdout, "");
  }
  const verbose = await runCli(["info", url, "--verbose"], { env });
  equal(verbose.code, 1);
  match(verbose.stderr, /^error: S3 403 InvalidAccessKeyId/);
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

Deno.test("cli: progress on a terminal, nothing when piped", async () => {
  await using b = await freshBucket("cli-progress");
  const url = `s3://${b.bucket}/p.db`;
  const tty = await runCliInPty(["import", CHINOOK_PATH, url]);
  equal(tty.code, 0, tty.output);
  match(
    tty.output,
    /import p\.db \[[#-]{30}\] \d+% [\d.]+ \w+ \/ 984 KiB, [\d.]+ \w+\/s, \S+ left/,
  );
  match(tty.output, /\[#{30}\] 100% 984 KiB \/ 984 KiB/);
  const piped = await runCli(["export", url, "-"]);
  equal(piped.code, 0);
  equal(piped.stderr, "");
  const ttyExport = await runCliInPty(["export", url, "/dev/null", "--overwrite"]);
  match(ttyExport.output, /export p\.db \[#{30}\] 100%/);
});

Deno.test("cli: Ctrl-C during an import leaves the target as it was", async () => {
  await using b = await freshBucket("cli-sigint");
  const url = `s3://${b.bucket}/target.db`;
  const small = await makeLocalDb(3);
  const big = await makeLocalDb(12_000, 1000); // about 12 MiB: a staged chunk goes up before Ctrl-C
  try {
    equal((await runCli(["import", small, url])).code, 0);
    const before = (await runCli(["export", url, "-"])).bytes;
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["import", "-", url, "--overwrite"]),
      env: cliEnv(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const bytes = await Deno.readFile(big);
    const writer = child.stdin.getWriter();
    await writer.write(bytes.subarray(0, 10 << 20)); // returns once the CLI has read it
    // Wait until the interrupted import has staged data (chunks of txid 2), then Ctrl-C.
    const stage2 = `target.db.s3vfs/stage/${"2".padStart(20, "0")}.`;
    const stagedKeys = async (): Promise<string[]> =>
      (await Array.fromAsync(b.client.list(b.bucket, { prefix: stage2 }))).map((e) => e.key);
    for (let i = 0; i < 100 && (await stagedKeys()).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    ok((await stagedKeys()).length > 0, "chunks were staged before Ctrl-C");
    child.kill("SIGINT");
    const out = await child.output();
    await writer.close().catch(() => {});
    const stderr = new TextDecoder().decode(out.stderr);
    equal(out.code, 130, stderr);
    equal(oneLineError(stderr), `error: interrupted: ${url} left as it was`);
    deepEqual((await runCli(["export", url, "-"])).bytes, before, "the target is unchanged");
    const q = await runCli(["query", url, "SELECT count(*) AS n FROM t", "--json"]);
    deepEqual(JSON.parse(q.stdout), [{ n: 3 }]);
    deepEqual(await stagedKeys(), [], "the staged chunks were deleted");
    match((await runCli(["info", url])).stdout, /│ txid\s+│ 1 /);
  } finally {
    await Deno.remove(small);
    await Deno.remove(big);
  }
});

Deno.test("cli: Ctrl-C during an export leaves the old file and no partial file", async () => {
  await using b = await freshBucket("cli-sigint-export");
  const url = `s3://${b.bucket}/big.db`;
  const big = await makeLocalDb(6_000, 1000); // about 6 MiB, 1,500 blocks
  const dir = await Deno.makeTempDir();
  // Every request 20 ms later: the export takes seconds, so Ctrl-C lands in the middle.
  const proxy = startDelayProxy(new URL(testS3Options().endpoint).host, 20);
  try {
    equal((await runCli(["import", big, url])).code, 0);
    const target = `${dir}/out.sqlite`;
    await Deno.writeTextFile(target, "the old file");
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["export", url, target, "--overwrite"]),
      env: cliEnv({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${proxy.port}` }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const partial = async (): Promise<string[]> =>
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).filter((n) =>
        n.includes(".s3vfs-partial-")
      );
    let size = 0;
    for (let i = 0; i < 300 && size < (1 << 20); i++) {
      await new Promise((r) => setTimeout(r, 20));
      const [p] = await partial();
      size = p ? (await Deno.stat(`${dir}/${p}`).catch(() => ({ size: 0 }))).size : 0;
    }
    ok(size >= 1 << 20, "the export was under way (a partial file of at least 1 MiB)");
    child.kill("SIGINT");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    equal(out.code, 130, stderr);
    equal(oneLineError(stderr), `error: interrupted: ${target} left as it was`);
    equal(await Deno.readTextFile(target), "the old file");
    deepEqual(await partial(), [], "the partial file was removed");
  } finally {
    proxy.close();
    await Deno.remove(big);
    await Deno.remove(dir, { recursive: true });
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

Deno.test("cli: history, query and export --at, restore", async () => {
  await using b = await freshBucket("cli-history");
  const url = `s3://${b.bucket}/h.db`;
  const path = await makeLocalDb(5);
  try {
    const original = await Deno.readFile(path);
    equal((await runCli(["import", path, url])).code, 0);
    equal((await runCli(["query", url, "DELETE FROM t WHERE id > 2", "--write"])).code, 0);
    const history = await runCli(["history", url, "--json"]);
    equal(history.code, 0, history.stderr);
    const entries = JSON.parse(history.stdout);
    deepEqual(
      entries.map((e: { txid: number; kind: string; size: number }) => [e.txid, e.kind, e.size]),
      [[1, "commit", original.length], [2, "commit", original.length]],
    );
    const table = await runCli(["history", url]);
    match(table.stdout, /│ txid │ time\s+│ kind\s+│ bytes │ size\s+│ pages changed │/);
    match(table.stdout, /│\s+2 │ \d{4}-\d\d-\d\dT[\d:.]+Z │ commit │/);

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
    match(info.stdout, new RegExp(`│ lease\\s+│ \\S+ \\([^)]* pid ${Deno.pid}, until \\d{4}-`));
    const json = JSON.parse((await runCli(["info", url, "--json"])).stdout);
    equal(json.lease.pid, Deno.pid);
    equal(json.lease.live, true);
  } finally {
    db.close(); // releases the lease
  }
  const after = await runCli(["info", url]);
  match(after.stdout, new RegExp(`│ lease\\s+│ none \\(last: .* pid ${Deno.pid}, released\\)`));
  match((await runCli(["ls", `s3://${b.bucket}`])).stdout, /│ leased\.db .*│ - +│/);
});

Deno.test("cli: the published files run the tool when imported over HTTP, as from JSR", async () => {
  await using b = await freshBucket("cli-http");
  await using server = await servePackage(await publishedFiles());
  const url = `s3://${b.bucket}/http.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-cli-user-" });
  try {
    const run = (args: string[]): Promise<Deno.CommandOutput> =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", `${server.url}cli.ts`, ...args],
        cwd: dir, // no deno.json here: bare specifiers must have been rewritten
        env: cliEnv(),
        stdout: "piped",
        stderr: "piped",
      }).output();
    const q = await run(["query", url, "SELECT count(*) AS n FROM Track", "--json"]);
    const text = new TextDecoder().decode(q.stdout);
    equal(q.code, 0, new TextDecoder().decode(q.stderr));
    deepEqual(JSON.parse(text), [{ n: 3503 }]);
    const ls = await run(["ls", `s3://${b.bucket}`]);
    match(new TextDecoder().decode(ls.stdout), /│ http\.db\s+│\s+1007616 │/);
    deepEqual(server.missing, [], "every module the CLI loads is published");
    ok(server.requested.includes("src/cli/main.ts"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

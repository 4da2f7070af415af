/**
 * The `s3vfs` command-line tool moving whole databases: `import`, `export`
 * and `cp` run as subprocesses against the test MinIO (tests/_cli.ts), with
 * their output, exit codes, progress bar and Ctrl-C; and the published files
 * running the tool over HTTP. The other commands: tests/cli_test.ts.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { FOLDABLE_AFTER_MS, freshBucket, logPrefixIn, testS3Options } from "./_harness.ts";
import { CHINOOK_PATH } from "./_vfs.ts";
import { cliArgs, cliEnv, makeLocalDb, oneLineError, runCli, runCliInPty } from "./_cli.ts";
import { publishedFiles, servePackage } from "./_package_server.ts";
import { startDelayProxy } from "../bench/proxy.ts";

const CHINOOK = await Deno.readFile(CHINOOK_PATH);

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
  match(
    oneLineError(again.stderr),
    /already holds a database \(1007616 bytes\); add --overwrite to replace it$/,
  );

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
  match(
    oneLineError(refused.stderr),
    /copy\.db already holds a database .*; add --overwrite to replace it$/,
  );
  const self = await runCli(["cp", src, src]);
  equal(self.code, 2);
  const missing = await runCli(["cp", `s3://${a.bucket}/nothing`, `s3://${a.bucket}/x`]);
  equal(missing.code, 1);
  equal(oneLineError(missing.stderr), `error: no database at s3://${a.bucket}/nothing`);
});

Deno.test("cli: progress on a terminal, nothing when piped", async () => {
  await using b = await freshBucket("cli-progress");
  const url = `s3://${b.bucket}/p.db`;
  // A short grace period, so the checkpoint below can fold the import soon.
  const timing = "grace=1s,max-commit-lag=2s,margin=1s,keep-history=10s";
  const tty = await runCliInPty(["import", CHINOOK_PATH, url, "--timing", timing]);
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
  await new Promise((r) => setTimeout(r, FOLDABLE_AFTER_MS));
  const ttyCheckpoint = await runCliInPty(["checkpoint", url]);
  equal(ttyCheckpoint.code, 0, ttyCheckpoint.output);
  match(ttyCheckpoint.output, /checkpoint p\.db \[#{30}\] 100% 984 KiB \/ 984 KiB/);
  match(ttyCheckpoint.output, /246 of 246 blocks written \(984 KiB\) in [\d.]+ s, \d+ blocks\/s/);
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
    const stage2 = `${await logPrefixIn(b.client, b.bucket, "target.db", "stage")}${
      "2".padStart(20, "0")
    }.`;
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
  const big = await makeLocalDb(24_000, 1000); // about 24 MiB: three windows of 8 MiB to read
  const dir = await Deno.makeTempDir();
  // Every request 500 ms later: the export takes seconds, so Ctrl-C lands in the middle.
  const proxy = startDelayProxy(new URL(testS3Options().endpoint).host, 500);
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

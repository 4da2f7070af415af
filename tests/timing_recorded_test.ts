/**
 * The `timing` a database records, for every way one is created (issue 22):
 * SQL through the VFS, `deserialize` from a stream, a file and an S3 object,
 * over a database Python wrote (blocks only); an existing database keeps its
 * own. The CLI: `import --timing`, `cp` (the source's timing, or
 * `--timing`), a `--timing` that contradicts an existing target (refused
 * before anything is written) and bad `--timing` values. Each reads the
 * recorded config back (`<prefix>.s3vfs/config`). `restore` rewrites a
 * database in place and so never creates one.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { readConfig } from "../src/log/records.ts";
import { runAsync, S3LogStore } from "../src/log/mod.ts";
import { DEFAULT_TIMING, type Timing } from "../src/log/rules.ts";
import type { S3Client } from "../src/s3/client.ts";
import { FAST_TIMING, FOLDABLE_AFTER_MS, freshBucket } from "./_harness.ts";
import { makeLocalDb, oneLineError, runCli } from "./_cli.ts";
import { openDb, testVfs } from "./_vfs.ts";

/** The timing: grace 2 s, history 20 s. */
const T: Timing = {
  graceMs: 2000,
  maxCommitLagMs: 3000,
  keepHistoryMs: 20000,
  maxStageAgeMs: 3000,
  marginMs: 1000,
};

async function recorded(client: S3Client, bucket: string, prefix: string): Promise<Timing> {
  const config = await runAsync(readConfig(prefix), new S3LogStore(client, bucket));
  ok(config, `no config at ${prefix}`);
  return config.timing;
}

Deno.test("S3VFS timing: recorded by SQL and by every deserialize", async () => {
  await using b = await freshBucket("timing-vfs");
  const file = await makeLocalDb(50);
  try {
    const bytes = await Deno.readFile(file);
    await b.client.put(b.bucket, "source.sqlite", bytes);
    // A database Python wrote: block objects only, no log.
    await b.client.put(b.bucket, "python/0000000000", bytes.subarray(0, 4096));
    await b.client.put(b.bucket, "python/0000000001", bytes.subarray(4096, 8192));
    using vfs = testVfs(b.bucket, { timing: T });

    const db = openDb(vfs, "sql");
    db.exec("CREATE TABLE t (x)");
    db.close();
    await vfs.deserialize("stream", ReadableStream.from([bytes]));
    await vfs.deserializeFromFile("file", file);
    await vfs.deserializeFromObject("object", `s3://${b.bucket}/source.sqlite`);
    await vfs.deserializeFromFile("python", file, { overwrite: true });

    for (const prefix of ["sql", "stream", "file", "object", "python"]) {
      deepEqual(await recorded(b.client, b.bucket, prefix), T, prefix);
    }

    // An existing database keeps what it recorded.
    using other = testVfs(b.bucket, { timing: { ...T, graceMs: 4000 } });
    await other.deserializeFromFile("file", file, { overwrite: true });
    deepEqual(await recorded(b.client, b.bucket, "file"), T, "kept on overwrite");
    // Without the option: the defaults.
    using plain = testVfs(b.bucket);
    await plain.deserializeFromFile("plain", file);
    deepEqual(await recorded(b.client, b.bucket, "plain"), { ...DEFAULT_TIMING });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("S3VFS timing: a deserialized database folds after its own grace period", async () => {
  await using b = await freshBucket("timing-fold");
  const file = await makeLocalDb(50);
  try {
    using vfs = testVfs(b.bucket, { timing: FAST_TIMING });
    const r = await vfs.deserializeFromFile("db", file);
    equal(r.txid, 1);
    await new Promise((res) => setTimeout(res, FOLDABLE_AFTER_MS));
    const out = await vfs.checkpoint("db");
    // With the default 60 s grace (the bug) this was {"kind":"idle","txid":0}.
    equal(out.kind, "folded", JSON.stringify(out));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("s3vfs import --timing and cp: recorded; a contradicting --timing is refused", async () => {
  await using b = await freshBucket("timing-cli");
  const file = await makeLocalDb(50);
  const url = (p: string) => `s3://${b.bucket}/${p}`;
  try {
    let r = await runCli([
      "import",
      file,
      url("a"),
      "--timing",
      "grace=2s,max-commit-lag=3s,margin=1s,keep-history=20s",
    ]);
    equal(r.code, 0, r.stderr);
    deepEqual(await recorded(b.client, b.bucket, "a"), {
      ...DEFAULT_TIMING,
      graceMs: 2000,
      maxCommitLagMs: 3000,
      marginMs: 1000,
      keepHistoryMs: 20000,
    });

    // cp gives a new target the source's timing, or --timing.
    r = await runCli(["cp", url("a"), url("b")]);
    equal(r.code, 0, r.stderr);
    deepEqual(await recorded(b.client, b.bucket, "b"), await recorded(b.client, b.bucket, "a"));
    r = await runCli([
      "cp",
      url("a"),
      url("c"),
      "--timing",
      "grace=3s,margin=1s,max-commit-lag=3s",
    ]);
    equal(r.code, 0, r.stderr);
    deepEqual(await recorded(b.client, b.bucket, "c"), {
      ...DEFAULT_TIMING,
      graceMs: 3000,
      marginMs: 1000,
      maxCommitLagMs: 3000,
    });

    // info shows every field.
    r = await runCli(["info", url("c")]);
    match(r.stdout, /grace 3 s, max-commit-lag 3 s, keep-history 900 s, max-stage-age 3600 s/);

    // An existing target with another timing: refused before anything is written.
    const before = await Array.fromAsync(b.client.list(b.bucket, { prefix: "a" }));
    r = await runCli(["import", file, url("a"), "--overwrite", "--timing", "grace=5s"]);
    equal(r.code, 1);
    match(oneLineError(r.stderr), /s3:\/\/\S+\/a exists with timing grace 2 s, .*cannot change/);
    deepEqual(
      (await Array.fromAsync(b.client.list(b.bucket, { prefix: "a" }))).map((e) => e.key),
      before.map((e) => e.key),
    );
    // The same timing again is fine.
    r = await runCli([
      "import",
      file,
      url("a"),
      "--overwrite",
      "--timing",
      "keep-history=20s,margin=1s,grace=2s,max-commit-lag=3s",
    ]);
    equal(r.code, 0, r.stderr);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("s3vfs import --timing: bad values are usage errors, nothing written", async () => {
  await using b = await freshBucket("timing-bad");
  const file = await makeLocalDb(5);
  try {
    const cases: [string, RegExp][] = [
      ["grace=2", /name=duration pairs/],
      ["grace=1500ms", /grace must be a positive whole number of seconds/],
      ["speed=2s", /unknown name speed \(one of grace, max-commit-lag/],
      ["grace=2s,grace=3s", /grace given twice/],
      ["margin=20s", /max-commit-lag 30000 < 2 \* margin/],
      ["grace=30m", /keep-history 900000 must be >= grace/],
    ];
    for (const [value, re] of cases) {
      const r = await runCli(["import", file, `s3://${b.bucket}/x`, "--timing", value]);
      equal(r.code, 2, `${value}: ${r.stderr}`);
      match(r.stderr, re, value);
    }
    deepEqual(await Array.fromAsync(b.client.list(b.bucket)), [], "nothing written");
  } finally {
    await Deno.remove(file);
  }
});

/**
 * Interop with the Python sqlite-s3vfs (run with `deno task test tests/streams_interop_test.ts`):
 * databases stored by Python's `S3VFS.deserialize_iter` (no companion objects:
 * txid 0) serialize byte-identically here, and databases stored here (one
 * commit in the log) serialize byte-identically through Python's
 * `serialize_iter` once a checkpoint has folded the log into the block
 * layout (and pass `PRAGMA integrity_check` through Python's VFS). Needs the Python
 * sqlite-s3vfs, which `deno task test` installs (tests/_python.ts); fails
 * (does not skip) without it.
 */

import assert from "node:assert/strict";
import { blockCount } from "../src/blocks.ts";
import type { S3Client } from "../src/s3/client.ts";
import { deserializeFromFile, serialize, serializeToFile } from "../src/streams/mod.ts";
import { freshBucket, testS3Options } from "./_harness.ts";
import { INSTALL_HINT, PYTHON } from "./_python.ts";
import { checkpointSoon, execLocal, snapshotOf } from "./_streams.ts";
import { FAST_TIMING } from "./_harness.ts";
import { CHINOOK_PATH } from "./_vfs.ts";

const TOOL = new URL("./py/s3vfs_tool.py", import.meta.url).pathname;

/** Runs the Python helper; returns its stdout, throws with its stderr on failure. */
async function py(...args: string[]): Promise<string> {
  const s3 = testS3Options();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(PYTHON, {
      args: [TOOL, ...args],
      env: {
        S3VFS_TEST_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        AWS_REGION: s3.region,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(
      `cannot run ${PYTHON} (${err instanceof Error ? err.message : err}); ${INSTALL_HINT}`,
    );
  }
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code === 3 || stderr.includes("IMPORT-ERROR")) {
    throw new Error(`${stderr.trim()}\n${INSTALL_HINT}`);
  }
  if (!out.success) {
    throw new Error(`${PYTHON} s3vfs_tool.py ${args.join(" ")} failed:\n${stderr}${stdout}`);
  }
  return stdout.trim();
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: first difference at byte ${i}`);
  }
}

async function countObjects(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of client.list(bucket, { prefix })) n++;
  return n;
}

function databases(
  dir: string,
): { name: string; path: string; pyBlock: number; denoBlock: number }[] {
  const p64 = `${dir}/p65536.db`;
  execLocal(
    p64,
    `PRAGMA page_size=65536; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
     WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000)
     INSERT INTO t(v) SELECT hex(randomblob(100)) FROM c;`,
  );
  const p512 = `${dir}/p512.db`;
  execLocal(
    p512,
    `PRAGMA page_size=512; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t(v);
     WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1500)
     INSERT INTO t(v) SELECT hex(randomblob(40)) FROM c;`,
  );
  // Block sizes per direction, chosen to cover 4096 / 4097 / 65536 without making Python
  // (one sequential request per block) take minutes.
  return [
    { name: "chinook", path: CHINOOK_PATH, pyBlock: 4096, denoBlock: 65536 },
    { name: "p65536", path: p64, pyBlock: 4097, denoBlock: 4096 },
    { name: "p512", path: p512, pyBlock: 4097, denoBlock: 65536 },
  ];
}

Deno.test("streams interop with Python: the Python sqlite-s3vfs is installed", async () => {
  assert.match(await py("check"), /^ok /);
});

Deno.test("streams interop with Python: stored by Python's deserialize_iter -> serialized here byte-identically", async () => {
  await using b = await freshBucket("interop-py-to-deno");
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-interop-" });
  try {
    for (const db of databases(dir)) {
      const original = await Deno.readFile(db.path);
      for (const blockSize of [db.pyBlock]) {
        const prefix = `from-py/${db.name}-${blockSize}`;
        await py("deserialize", b.bucket, prefix, String(blockSize), db.path);
        assert.equal(
          await countObjects(b.client, b.bucket, prefix + "/"),
          blockCount(original.length, blockSize),
          "Python's block count",
        );
        assert.equal(await countObjects(b.client, b.bucket, prefix + ".s3vfs/"), 0);
        assert.equal((await snapshotOf(b.client, b.bucket, prefix))?.head, 0, "txid 0");
        // our block size option does not matter for reading: the stored layout is read as is
        const ctx = { client: b.client, bucket: b.bucket, blockSize: 65536 };
        assertSameBytes(
          await readAll(serialize(ctx, prefix)),
          original,
          `${db.name} / ${blockSize}`,
        );
        const out = `${dir}/out.db`;
        await serializeToFile(ctx, prefix, out);
        assertSameBytes(await Deno.readFile(out), original, `${db.name} / ${blockSize} to file`);
        assert.equal(await countObjects(b.client, b.bucket, prefix + ".s3vfs/"), 0, "read only");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("streams interop with Python: stored here, checkpointed -> Python's serialize_iter byte-identical, integrity ok through its VFS", async () => {
  await using b = await freshBucket("interop-deno-to-py");
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-interop-" });
  try {
    const dbs = databases(dir).map((db) => ({
      ...db,
      prefix: `from-deno/${db.name}-${db.denoBlock}`,
    }));
    for (const db of dbs) {
      const ctx = {
        client: b.client,
        bucket: b.bucket,
        blockSize: db.denoBlock,
        timing: FAST_TIMING,
      };
      assert.equal((await deserializeFromFile(ctx, db.prefix, db.path)).txid, 1);
      assert.equal(await countObjects(b.client, b.bucket, db.prefix + "/"), 0, "in the log only");
    }
    // after the grace period, a checkpoint folds each log into Python's block layout
    const folded = await Promise.all(
      dbs.map((db) => checkpointSoon(b.client, b.bucket, db.prefix)),
    );
    assert.deepStrictEqual(folded.map((f) => f.kind), dbs.map(() => "folded"));
    for (const db of dbs) {
      const original = await Deno.readFile(db.path);
      const out = `${dir}/py-out.db`;
      await py("serialize", b.bucket, db.prefix, String(db.denoBlock), out);
      assertSameBytes(
        await Deno.readFile(out),
        original,
        `${db.name} / ${db.denoBlock} via Python`,
      );
      const [verdict] = (await py("integrity", b.bucket, db.prefix, String(db.denoBlock))).split(
        " ",
      );
      assert.equal(verdict, "ok", `${db.name} / ${db.denoBlock}: integrity_check through Python`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Lifecycle: a script that used the VFS exits by itself, even without
 * vfs.close() (the I/O worker never keeps the process alive), and one that
 * closes everything in order exits cleanly too; either way its COMMIT is in
 * S3 as one commit object (docs/protocol.md section 3), and no journal ever
 * is (journals are local temporary files).
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { commitKeyIn, freshBucket, type TestBucket } from "./_harness.ts";

/** Every key of the bucket, in order. */
async function allKeys(b: TestBucket): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of b.client.list(b.bucket)) keys.push(e.key);
  return keys;
}

/**
 * What one script that created `prefix` and committed `commits` times left:
 * the config, the checkpoint record, the writer lease and commit objects
 * 1..commits (no block is written before a checkpoint, none ran), nothing
 * else (no journal).
 */
async function checkCommitted(b: TestBucket, prefix: string, commits: number): Promise<void> {
  const log = await Promise.all(
    Array.from({ length: commits }, (_, i) => commitKeyIn(b.client, b.bucket, prefix, i + 1)),
  );
  deepEqual(await allKeys(b), [
    `${prefix}.s3vfs/checkpoint`,
    `${prefix}.s3vfs/config`,
    `${prefix}.s3vfs/lease`,
    ...log,
  ]);
}

async function runScript(
  bucket: string,
  closeVfs: boolean,
): Promise<{ code: number; out: string; ms: number }> {
  const root = new URL("../", import.meta.url).href;
  const code = `
    import { Database } from "${root}scripts/db_sqlite.ts";
    import { S3VFS } from "${root}src/vfs/vfs.ts";
    import { OPEN_READWRITE } from "${root}src/vfs/options.ts";
    const vfs = new S3VFS({ bucket: ${JSON.stringify(bucket)} });
    const db = new Database(vfs.uri("life.sqlite"), { flags: OPEN_READWRITE });
    db.exec("CREATE TABLE IF NOT EXISTS t (x)");
    db.run("INSERT INTO t VALUES (1)");
    console.log("rows", db.prepare("SELECT count(*) FROM t").values()[0][0]);
    db.close();
    ${closeVfs ? "vfs.close();" : ""}
  `;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const res = await child.output();
  clearTimeout(timer);
  return {
    code: res.code,
    out: new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr),
    ms: performance.now() - started,
  };
}

Deno.test("S3VFS lifecycle: a script exits by itself without vfs.close()", async () => {
  await using b = await freshBucket("life-noclose");
  const r = await runScript(b.bucket, false);
  equal(r.code, 0, r.out);
  ok(r.out.includes("rows 1"), r.out);
  ok(r.ms < 30_000, `took ${r.ms} ms`);
  // CREATE TABLE and INSERT: two commits, durable although the VFS was never closed.
  await checkCommitted(b, "life.sqlite", 2);
});

Deno.test("S3VFS lifecycle: close connections, then the VFS, then exit", async () => {
  await using b = await freshBucket("life-close");
  const r = await runScript(b.bucket, true);
  equal(r.code, 0, r.out);
  ok(r.out.includes("rows 1"), r.out);
  await checkCommitted(b, "life.sqlite", 2);
});

Deno.test("S3VFS makeDefault: opens plain paths through S3, and close() restores the default VFS", async () => {
  await using b = await freshBucket("life-default");
  const root = new URL("../", import.meta.url).href;
  const code = `
    import { Database } from "${root}scripts/db_sqlite.ts";
    import { S3VFS } from "${root}src/vfs/vfs.ts";
    const vfs = new S3VFS({ bucket: ${JSON.stringify(b.bucket)}, makeDefault: true });
    // The default VFS's zName (sqlite3_vfs: iVersion, szOsFile, mxPathname, pNext, zName).
    const lib = Deno.dlopen(vfs.libraryPath, {
      sqlite3_vfs_find: { parameters: ["pointer"], result: "pointer" },
    });
    const name = () =>
      Deno.UnsafePointerView.getCString(
        new Deno.UnsafePointerView(lib.symbols.sqlite3_vfs_find(null)).getPointer(24),
      );
    console.log("default", name());
    const db = new Database("plain/default.sqlite");
    db.exec("CREATE TABLE t (x)");
    db.close();
    vfs.close();
    console.log("after", name());
  `;
  // Run in an empty directory with a plain/ subdirectory, where the default VFS would create it.
  const cwd = await Deno.makeTempDir();
  await Deno.mkdir(`${cwd}/plain`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const leftLocally = [...Deno.readDirSync(`${cwd}/plain`)].map((e) => e.name);
  await Deno.remove(cwd, { recursive: true });
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  equal(out.code, 0, text);
  ok(/default s3vfs-\d+/.test(text), text);
  ok(/after unix/.test(text), text);
  // The plain path went to S3: created (config, checkpoint record) and CREATE TABLE committed
  // as commit object 1; nothing local, no journal in S3.
  await checkCommitted(b, "plain/default.sqlite", 1);
  deepEqual(leftLocally, [], "nothing written locally");
});

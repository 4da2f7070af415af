/**
 * Lifecycle: a script that used the VFS exits by itself, even without
 * vfs.close() (the I/O worker never keeps the process alive), and one that
 * closes everything in order exits cleanly too.
 */

import { equal, ok } from "node:assert/strict";
import { freshBucket } from "./_harness.ts";

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
});

Deno.test("S3VFS lifecycle: close connections, then the VFS, then exit", async () => {
  await using b = await freshBucket("life-close");
  const r = await runScript(b.bucket, true);
  equal(r.code, 0, r.out);
  ok(r.out.includes("rows 1"), r.out);
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
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  equal(out.code, 0, text);
  ok(/default s3vfs-\d+/.test(text), text);
  ok(/after unix/.test(text), text);
  const keys: string[] = [];
  for await (const e of b.client.list(b.bucket, { prefix: "plain/default.sqlite/" })) {
    keys.push(e.key);
  }
  ok(keys.length > 0 && keys[0] === "plain/default.sqlite/0000000000", `objects: ${keys}`);
});

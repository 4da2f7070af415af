/**
 * The package from a local checkout, the two ways the README gives, run from
 * an empty folder (no deno.json there, so nothing but the package's own
 * imports resolves its dependencies):
 *
 * - a script importing `mod.ts` by `file:` URL, with the README's flags
 *   (`--allow-ffi --allow-net --allow-env`, `--allow-read` for the checkout);
 * - `deno install -g -A -n s3vfs <checkout>/cli.ts`, then the installed
 *   command.
 */

import { equal, match, ok } from "node:assert/strict";
import { DB_SQLITE_URL } from "../scripts/db_sqlite.ts";
import { freshBucket, testS3Env } from "./_harness.ts";
import { userScript } from "./_user_script.ts";

const CHECKOUT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

async function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { ...testS3Env(), NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  return { code: res.code, out };
}

Deno.test("mod.ts by file: URL from an empty folder: the README's example with the README's flags", async () => {
  await using b = await freshBucket("checkout-import");
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-user-" });
  try {
    const pkg = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(`${dir}/app.ts`, userScript(pkg, b.bucket, true));
    const r = await run(Deno.execPath(), [
      "run",
      "--allow-ffi",
      "--allow-net",
      "--allow-env",
      `--allow-read=${dir},${CHECKOUT}`,
      `--allow-write=${dir}`,
      "app.ts",
    ], dir);
    equal(r.code, 0, r.out);
    ok(r.out.includes(`rows {"n":1}`), r.out);
    ok(r.out.includes(`copy [{"body":"stored in S3"}]`), r.out);
    ok(r.out.includes("done"), r.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno install -g <checkout>/cli.ts from an empty folder gives a working s3vfs", async () => {
  await using b = await freshBucket("checkout-install");
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-install-" });
  try {
    const inst = await run(Deno.execPath(), [
      "install",
      "-g",
      "-A",
      "-n",
      "s3vfs",
      "--root",
      `${dir}/root`,
      `${CHECKOUT}/cli.ts`,
    ], dir);
    equal(inst.code, 0, inst.out);
    const bin = `${dir}/root/bin/s3vfs`;
    const help = await run(bin, ["--help"], dir);
    equal(help.code, 0, help.out);
    match(help.out, /s3vfs/);
    const version = await run(bin, ["--version"], dir);
    equal(version.code, 0, version.out);
    match(version.out, /^s3vfs \d+\.\d+\.\d+ \(@s3vfs\/sqlite; Deno \S+\)\n$/);
    // Commands that load the npm dependencies (cli-progress, cli-table3) and @db/sqlite.
    const env = { S3VFS_DB_SQLITE: DB_SQLITE_URL };
    const file = `${dir}/x.sqlite`;
    const db = await run(Deno.execPath(), [
      "eval",
      `import { Database } from ${JSON.stringify(DB_SQLITE_URL)};
       const d = new Database(${JSON.stringify(file)}); d.exec("CREATE TABLE t(x)"); d.close();`,
    ], dir);
    equal(db.code, 0, db.out);
    const imp = await run(bin, ["import", file, `s3://${b.bucket}/x.db`], dir, env);
    equal(imp.code, 0, imp.out);
    const ls = await run(bin, ["ls", `s3://${b.bucket}`], dir, env);
    equal(ls.code, 0, ls.out);
    match(ls.out, /x\.db/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

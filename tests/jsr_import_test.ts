/**
 * The package imported from a remote URL, as users import it from JSR: the
 * files `deno publish` uploads, served over HTTP, imported by a user script in
 * an empty folder (no deno.json) that does the README's main job through
 * `@db/sqlite`, run with the README's permission flags (plus
 * `--allow-import` for this local server instead of jsr.io), not `-A`.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { freshBucket, testS3Env } from "./_harness.ts";
import { reachableFrom } from "./_imports.ts";
import { publishedFiles, rewriteBareSpecifiers, servePackage } from "./_package_server.ts";
import { userScript } from "./_user_script.ts";

async function runUserScript(
  close: boolean,
): Promise<{ code: number; out: string; ms: number; missing: string[]; requested: string[] }> {
  await using b = await freshBucket(close ? "jsr-close" : "jsr-noclose");
  await using server = await servePackage(await publishedFiles());
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-user-" });
  try {
    await Deno.writeTextFile(`${dir}/app.ts`, userScript(`${server.url}mod.ts`, b.bucket, close));
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-net",
        "--allow-env",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        `--allow-import=${server.host}`,
        "app.ts",
      ],
      cwd: dir,
      env: {
        ...testS3Env(),
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const res = await child.output();
    clearTimeout(timer);
    const out = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
    console.log(out.split("\n").filter((l) => !l.startsWith("Download ")).join("\n"));
    return {
      code: res.code,
      out,
      ms: performance.now() - started,
      missing: [...server.missing],
      requested: [...server.requested],
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertMainJob(
  r: { code: number; out: string; missing: string[]; requested: string[] },
): void {
  equal(r.code, 0, r.out);
  ok(r.out.includes(`rows {"n":1}`), r.out);
  ok(/backup bytes \d+/.test(r.out), r.out);
  ok(r.out.includes(`copy [{"body":"stored in S3"}]`), r.out);
  ok(r.out.includes("done"), r.out);
  deepEqual(r.missing, [], "every module the package loads is in the published files");
  ok(r.requested.includes("mod.ts"), "mod.ts came from the server");
  ok(
    r.requested.some((p) => p.endsWith("bridge/worker.ts")),
    "the I/O worker came from the server",
  );
}

Deno.test("S3VFS imported over HTTP: the README's main job through @db/sqlite with the README's flags", async () => {
  const r = await runUserScript(true);
  assertMainJob(r);
});

Deno.test("S3VFS imported over HTTP: a script without vfs.close() exits by itself", async () => {
  const r = await runUserScript(false);
  assertMainJob(r);
  ok(r.ms < 60_000, `took ${r.ms} ms`);
});

Deno.test("rewriteBareSpecifiers() maps bare imports as deno publish does, and only those", () => {
  const map = { aws4fetch: "npm:aws4fetch@^1.0.20" };
  equal(
    rewriteBareSpecifiers(
      `import { AwsClient } from "aws4fetch";\nimport x from "./aws4fetch.ts";`,
      map,
    ),
    `import { AwsClient } from "npm:aws4fetch@^1.0.20";\nimport x from "./aws4fetch.ts";`,
  );
  equal(
    rewriteBareSpecifiers(`await import('aws4fetch')`, map),
    `await import("npm:aws4fetch@^1.0.20")`,
  );
});

Deno.test("S3VFS imported from file: without --allow-read fails at once, naming the flag", async () => {
  await using b = await freshBucket("jsr-noread");
  const dir = await Deno.makeTempDir({ prefix: "s3vfs-user-" });
  try {
    const pkg = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(`${dir}/app.ts`, userScript(pkg, b.bucket, true));
    const started = performance.now();
    const res = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        "--allow-ffi",
        "--allow-net",
        "--allow-env",
        "app.ts",
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
    ok(!res.success, out);
    ok(out.includes("cannot start the S3 I/O worker"), out);
    ok(out.includes("--allow-read"), out);
    ok(performance.now() - started < 15_000, "failed at once, not after a timeout");
    const keys = [];
    for await (const e of b.client.list(b.bucket)) keys.push(e.key);
    deepEqual(keys, [], "nothing was written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno publish ships exactly the modules mod.ts and cli.ts reach, plus README and deno.json", async () => {
  const published = (await publishedFiles()).sort();
  const reached = new Set([...await reachableFrom("mod.ts"), ...await reachableFrom("cli.ts")]);
  deepEqual(published, [...reached, "README.md", "deno.json"].sort());
  ok(published.includes("cli.ts") && published.includes("src/cli/main.ts"), "the CLI is published");
});

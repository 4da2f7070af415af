/**
 * The JSDoc examples of the public API run for real (`deno test --doc`)
 * against the harness's MinIO, through `@db/sqlite`: a bucket of their own in
 * `S3VFS_BUCKET`, the endpoint and credentials in the AWS_* variables, as a
 * user would set them. `tests/doc.deno.json` maps `@s3vfs/sqlite` to this
 * package and `@db/sqlite` to its published source beside the project (see
 * tests/_db_sqlite.ts).
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { commitKeyIn, freshBucket, testS3Env } from "./_harness.ts";

/** mod.ts and every module of src/ with an example, and the number of examples in each. */
async function documented(): Promise<Map<string, { run: number; ignored: number }>> {
  const out = new Map<string, { run: number; ignored: number }>();
  const root = new URL("../", import.meta.url);
  const add = async (path: string): Promise<void> => {
    const code = await Deno.readTextFile(new URL(path, root));
    const all = code.match(/^\s*\* ```ts\b.*$/gm) ?? [];
    const ignored = all.filter((l) => /```ts ignore/.test(l)).length;
    if (all.length > 0) out.set(path, { run: all.length - ignored, ignored });
  };
  await add("mod.ts");
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      if (e.isDirectory) await walk(`${dir}${e.name}/`);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) await add(`${dir}${e.name}`);
    }
  };
  await walk("src/");
  return out;
}

Deno.test("deno test --doc: the examples of the public API run against S3", async () => {
  await using b = await freshBucket("doc-examples");
  const files = await documented();
  const expected = [...files.values()].reduce((n, f) => n + f.run, 0);
  const root = new URL("../", import.meta.url);
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--doc", "-A", "--config", "tests/doc.deno.json", ...files.keys()],
    cwd: root,
    env: {
      S3VFS_BUCKET: b.bucket,
      ...testS3Env(),
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  equal(res.code, 0, out);
  const passed = Number(/ok \| (\d+) passed/.exec(out)?.[1] ?? 0);
  equal(passed, expected, `every example ran (${[...files.keys()].join(", ")}):\n${out}`);
  const keys: string[] = [];
  for await (const e of b.client.list(b.bucket, { prefix: "my/path/" })) keys.push(e.key);
  for await (const e of b.client.list(b.bucket, { prefix: "my/path/cool.sqlite.s3vfs/log/" })) {
    keys.push(e.key);
  }
  ok(
    keys.includes(await commitKeyIn(b.client, b.bucket, "my/path/cool.sqlite", 1)),
    `the example committed to S3: ${keys}`,
  );
});

Deno.test("JSDoc examples are never marked ignore", async () => {
  const ignored = [...await documented()].filter(([, f]) => f.ignored > 0).map(([p]) => p);
  deepEqual(ignored, []);
});

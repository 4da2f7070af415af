/**
 * `deno task test [deno test args...]`: provisions what the tests need and
 * can be installed without root (MinIO and versitygw, built once with Go, see
 * scripts/minio.ts and scripts/versitygw.ts; the Python reference
 * sqlite-s3vfs in a private virtual environment, see scripts/python_env.ts)
 * and runs the tests against two S3 implementations, one after the other:
 *
 * 1. MinIO (or `S3_ENDPOINT`): `deno test -A` on `tests/` and `src/` (or on
 *    the files / filters given);
 * 2. versitygw (posix backend): the same, less the tests that make no S3
 *    request ({@linkcode STORE_FREE}: the simulation, formats, layering, FFI,
 *    the unit tests in `src/`), which gain nothing from a second store.
 *
 * `S3VFS_TEST_STORES=minio` (or `versitygw`) runs one store only; with
 * `S3_ENDPOINT` set, only that endpoint is used. Each run gets
 * `S3VFS_TEST_STORE` (`minio` / `versitygw`) for the few expectations that
 * differ (tests/_harness.ts). Exits with the first failing run's exit code.
 *
 * Examples:
 *   deno task test
 *   deno task test tests/s3_client_test.ts
 *   S3VFS_TEST_STORES=versitygw deno task test --filter "conditional" tests/s3_client_test.ts
 *
 * @module
 */

import { type MinioServer, startMinio } from "./minio.ts";
import { ensurePython } from "./python_env.ts";
import { startVersitygw } from "./versitygw.ts";

/** Test files that make no S3 request: run against the first store only. */
export const STORE_FREE: readonly string[] = [
  "tests/ffi_test.ts",
  "tests/format_vectors_test.ts",
  "tests/layers_test.ts",
  "tests/log_edges_test.ts",
  "tests/log_format_test.ts",
  "tests/log_protocol_test.ts",
  "tests/log_sim_lease_test.ts",
  "tests/log_sim_test.ts",
];

/** `tests/*_test.ts` less {@linkcode STORE_FREE}. */
async function storeTests(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir("tests")) {
    const path = `tests/${e.name}`;
    if (e.isFile && e.name.endsWith("_test.ts") && !STORE_FREE.includes(path)) out.push(path);
  }
  return out.sort();
}

/** Whether the args name something to test (a path), not only flags. */
function hasPathArg(args: string[]): boolean {
  // Flags of `deno test` that take a separate value (the others use `--flag=value`).
  const valued = new Set([
    "--filter",
    "--reporter",
    "--junit-path",
    "--seed",
    "--config",
    "-c",
    "--import-map",
    "--lock",
    "--location",
    "--cert",
  ]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("-")) {
      if (valued.has(a)) i++;
      continue;
    }
    return true;
  }
  return false;
}

/** "tests: N passed, N failed, N skipped" from deno's JUnit report (step-level failures included). */
function summary(xml: string): string {
  const cases = [...xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) =>
    m[2] ?? ""
  );
  const failed = cases.filter((c) => /<(failure|error)\b/.test(c)).length;
  const skipped = cases.filter((c) => /<skipped\b/.test(c)).length;
  return `tests: ${cases.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`;
}

/** Runs `deno test -A` with `testArgs` against `s3`, labelled `store`; its exit code. */
async function runTests(
  store: string,
  s3: MinioServer,
  python: string,
  testArgs: string[],
  scriptArgs: string[],
  onChild: (child: Deno.ChildProcess) => void,
): Promise<number> {
  const env = Deno.env.toObject();
  // The tests must talk to this endpoint only, with these credentials.
  for (
    const name of ["AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_REGION"]
  ) {
    delete env[name];
  }
  Object.assign(env, {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    S3VFS_TEST_ENDPOINT: s3.endpoint,
    S3VFS_TEST_STORE: store,
    S3VFS_PYTHON: python,
  });
  console.log(`\n==== tests against ${store} (${s3.endpoint}) ====\n`);
  // A JUnit report, to print one plain closing line ("N passed, N failed").
  const junit = testArgs.some((a) => a.startsWith("--junit-path"))
    ? undefined
    : await Deno.makeTempFile({ prefix: "s3vfs-junit-", suffix: ".xml" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...(junit ? [`--junit-path=${junit}`] : []), ...testArgs, ...scriptArgs],
    env,
    clearEnv: true,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  onChild(child);
  const status = await child.status;
  if (junit) {
    console.log(`${store}: ${summary(await Deno.readTextFile(junit).catch(() => ""))}`);
    await Deno.remove(junit).catch(() => {});
  }
  return status.code;
}

async function main(): Promise<number> {
  const args = [...Deno.args];
  // Script args after `--` go to the tests (Deno.args); keep them at the end.
  const dashdash = args.indexOf("--");
  const testArgs = dashdash >= 0 ? args.slice(0, dashdash) : args;
  const scriptArgs = dashdash >= 0 ? args.slice(dashdash) : [];
  const whole = !hasPathArg(testArgs);
  const external = !!Deno.env.get("S3_ENDPOINT");
  const wanted = (Deno.env.get("S3VFS_TEST_STORES") ?? "minio,versitygw").split(",")
    .map((x) => x.trim()).filter(Boolean);
  for (const w of wanted) {
    if (w !== "minio" && w !== "versitygw") {
      throw new Error(`S3VFS_TEST_STORES: unknown store ${w} (minio, versitygw)`);
    }
  }
  const stores = external ? ["minio"] : wanted;

  const python = await ensurePython((line) => console.log(line));
  let child: Deno.ChildProcess | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    try {
      child?.kill("SIGINT");
    } catch {
      // already gone
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, onSignal);
  let code = 0;
  try {
    for (const [k, store] of stores.entries()) {
      const s3 = store === "versitygw" ? await startVersitygw() : await startMinio();
      try {
        const args = !whole ? testArgs : k === 0 ? [...testArgs, "tests/", "src/"] : [
          ...testArgs,
          ...(await storeTests()),
        ];
        const c = await runTests(store, s3, python, args, scriptArgs, (ch) => (child = ch));
        if (code === 0) code = c;
      } finally {
        await s3.stop();
      }
      if (interrupted) return 130;
    }
    return code;
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    code = 1;
  }
  Deno.exit(code);
}

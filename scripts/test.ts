/**
 * `deno task test [deno test args...]`: provisions what the tests need and
 * can be installed without root (MinIO, built once with Go, see
 * scripts/minio.ts; the Python reference sqlite-s3vfs in a private virtual
 * environment, see scripts/python_env.ts), starts a throwaway MinIO (or uses
 * `S3_ENDPOINT`), runs `deno test -A` on `tests/` and `src/` (or on the files /
 * filters given) against it, stops MinIO and exits with the test run's exit
 * code.
 *
 * Examples:
 *   deno task test
 *   deno task test tests/s3_client_test.ts
 *   deno task test --filter "conditional" tests/s3_client_test.ts
 *
 * @module
 */

import { startMinio } from "./minio.ts";
import { ensurePython } from "./python_env.ts";

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

async function main(): Promise<number> {
  const args = [...Deno.args];
  // Script args after `--` go to the tests (Deno.args); keep them at the end.
  const dashdash = args.indexOf("--");
  const testArgs = dashdash >= 0 ? args.slice(0, dashdash) : args;
  const scriptArgs = dashdash >= 0 ? args.slice(dashdash) : [];
  if (!hasPathArg(testArgs)) testArgs.push("tests/", "src/");

  const python = await ensurePython((line) => console.log(line));
  const s3 = await startMinio();
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
  try {
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
      S3VFS_PYTHON: python,
    });
    // A JUnit report, to print one plain closing line ("N passed, N failed").
    const junit = testArgs.some((a) => a.startsWith("--junit-path"))
      ? undefined
      : await Deno.makeTempFile({ prefix: "s3vfs-junit-", suffix: ".xml" });
    child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", ...(junit ? [`--junit-path=${junit}`] : []), ...testArgs, ...scriptArgs],
      env,
      clearEnv: true,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await child.status;
    if (junit) {
      console.log(summary(await Deno.readTextFile(junit).catch(() => "")));
      await Deno.remove(junit).catch(() => {});
    }
    if (interrupted) return 130;
    return status.code;
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
    await s3.stop();
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

/**
 * The second S3 implementation of the tests: versitygw (Versity S3 Gateway)
 * with its posix backend, built once from its Go module at a pinned version
 * (`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`, into
 * `~/.cache/s3vfs/versitygw-v1.8.0/`), started on a free loopback port over
 * a fresh temporary directory, like scripts/minio.ts starts MinIO.
 *
 * As a program: `deno run -A scripts/versitygw.ts` starts it and prints the
 * environment to use it, until Ctrl-C.
 *
 * @module
 */

import { env, isExecutableFile, which } from "./minio_binary.ts";
import { freePort, type MinioServer } from "./minio.ts";

/** The pinned version (v1.8.0 takes a per-key lock for conditional writes on posix). */
export const VERSITYGW_VERSION = "v1.8.0";
const MODULE = `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`;

function cacheDir(): string {
  const base = env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "/tmp"}/.cache`;
  return `${base}/s3vfs/versitygw-${VERSITYGW_VERSION}`;
}

/** The versitygw binary, built with `go install` the first time (a few minutes). */
export async function findOrBuildVersitygw(): Promise<string> {
  const dir = cacheDir();
  const bin = `${dir}/versitygw`;
  if (await isExecutableFile(bin)) return bin;
  const go = await which("go");
  if (!go) {
    throw new Error(
      "versitygw (the tests' second S3 implementation) is built with Go and Go was not found: " +
        `install Go 1.24+ and run \`GOBIN=${dir} go install ${MODULE}\`, or run one store only ` +
        "with S3VFS_TEST_STORES=minio",
    );
  }
  console.error(`building versitygw with \`go install ${MODULE}\` (first time only)...`);
  await Deno.mkdir(dir, { recursive: true });
  const status = await new Deno.Command(go, {
    args: ["install", MODULE],
    env: { GOBIN: dir },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success || !(await isExecutableFile(bin))) {
    throw new Error(`\`go install ${MODULE}\` failed (exit code ${status.code})`);
  }
  return bin;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Starts versitygw (posix backend) on a free loopback port; `stop()` removes its data. */
export async function startVersitygw(opts: { quiet?: boolean } = {}): Promise<MinioServer> {
  const bin = await findOrBuildVersitygw();
  const runDir = await Deno.makeTempDir({ prefix: "s3vfs-versitygw-" });
  const dataDir = `${runDir}/data`;
  await Deno.mkdir(dataDir);
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = `vgw-${randomHex(4)}`;
  const secretAccessKey = randomHex(20);
  const child = new Deno.Command(bin, {
    args: ["--port", `127.0.0.1:${port}`, "posix", dataDir],
    env: { ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const errText = new Response(child.stderr).text();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }
      await status;
      await errText.catch(() => "");
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
    })();
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`versitygw exited before listening on ${endpoint}: ${await errText}`);
    }
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      break; // any HTTP answer (403 without credentials): listening
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`versitygw did not answer on ${endpoint} within 30 s`);
    }
    await sleep(100);
  }
  if (!opts.quiet) console.error(`versitygw ${VERSITYGW_VERSION} ready on ${endpoint}`);
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: "us-east-1",
    dataDir,
    external: false,
    stop,
  };
}

if (import.meta.main) {
  const s3 = await startVersitygw({ quiet: true });
  console.log(`versitygw is running on ${s3.endpoint} (data in ${s3.dataDir}, removed on exit).`);
  console.log(`export S3_ENDPOINT=${s3.endpoint}`);
  console.log(`export AWS_ENDPOINT_URL_S3=${s3.endpoint}`);
  console.log(`export AWS_ACCESS_KEY_ID=${s3.accessKeyId}`);
  console.log(`export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`);
  const { promise, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => resolve());
  await promise;
  await s3.stop();
  Deno.exit(0);
}

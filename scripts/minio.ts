/**
 * Starts a throwaway MinIO server for the tests, the demo and the benchmarks,
 * or points at an existing S3-compatible endpoint when `S3_ENDPOINT` is set.
 *
 * As a library: `const s3 = await startMinio(); ...; await s3.stop();`
 *
 * As a program: `deno run -A scripts/minio.ts [--port 9000]` starts MinIO,
 * prints the endpoint and the environment to use it, and runs until Ctrl-C.
 *
 * @module
 */

import { env, findOrBuildMinio } from "./minio_binary.ts";

export { findMinio } from "./minio_binary.ts";

/** A running (or external) S3 endpoint. */
export interface MinioServer {
  /** Endpoint URL, e.g. `http://127.0.0.1:40123`. */
  endpoint: string;
  /** Access key id (the MinIO root user). */
  accessKeyId: string;
  /** Secret access key (the MinIO root password). */
  secretAccessKey: string;
  /** Signing region. */
  region: string;
  /** MinIO's data directory (removed by `stop()`); undefined for an external endpoint. */
  dataDir?: string;
  /** True when the endpoint came from `S3_ENDPOINT` and nothing was started. */
  external: boolean;
  /** Stops MinIO, waits for it to exit and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startMinio}. */
export interface StartMinioOptions {
  /** Print nothing except the build notice (default false). */
  quiet?: boolean;
  /** Port to listen on (default: a free loopback port). */
  port?: number;
  /** Build MinIO with `go install` when it is missing and Go is available (default true). */
  build?: boolean;
}

/** A free TCP port on 127.0.0.1 (bound and released, so a small race remains). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Keeps the last `max` bytes written to it (MinIO's output, for error messages). */
class Tail {
  #chunks: Uint8Array[] = [];
  #size = 0;
  constructor(readonly max: number) {}
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0].length >= this.max) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  text(): string {
    const all = new Uint8Array(this.#size);
    let o = 0;
    for (const c of this.#chunks) {
      all.set(c, o);
      o += c.length;
    }
    const s = new TextDecoder().decode(all);
    return s.length > this.max ? s.slice(s.length - this.max) : s;
  }
}

async function drain(stream: ReadableStream<Uint8Array>, tail: Tail): Promise<void> {
  try {
    for await (const chunk of stream) tail.push(chunk);
  } catch {
    // stream torn down with the process: nothing more to keep
  }
}

function externalServer(): MinioServer | undefined {
  const endpoint = env("S3_ENDPOINT");
  if (!endpoint) return undefined;
  const accessKeyId = env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      `S3_ENDPOINT is set (${endpoint}) but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not: ` +
        "set both to the credentials of that endpoint.",
    );
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    accessKeyId,
    secretAccessKey,
    region: env("AWS_REGION") ?? "us-east-1",
    external: true,
    stop: () => Promise.resolve(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts MinIO on a free loopback port with a fresh temporary data directory
 * and waits until it is live. When `S3_ENDPOINT` is set (with
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, region `AWS_REGION` or
 * `us-east-1`) that endpoint is returned instead and nothing is started.
 *
 * When no `minio` binary is found and Go is on PATH, MinIO is built once with
 * `go install github.com/minio/minio@latest`; without Go this throws an Error
 * explaining what to install.
 */
export async function startMinio(opts: StartMinioOptions = {}): Promise<MinioServer> {
  const external = externalServer();
  if (external) {
    if (!opts.quiet) console.error(`using the S3 endpoint from S3_ENDPOINT: ${external.endpoint}`);
    return external;
  }
  await sweepStaleDataDirs();
  const bin = await findOrBuildMinio(opts.build !== false);
  // A port picked by freePort() can be taken before MinIO binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(bin, opts);
    } catch (err) {
      lastError = err;
      if (opts.port !== undefined || !(err instanceof PortInUse)) throw err;
    }
  }
  throw lastError;
}

class PortInUse extends Error {}

const RUN_DIR_PREFIX = "s3vfs-minio-";

function processAlive(pid: unknown): boolean {
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes data directories left behind by earlier runs that were killed
 * before they could stop MinIO: those whose owner.json names a Deno process
 * and a MinIO process that are both gone. Linux only (uses /proc); best effort.
 */
export async function sweepStaleDataDirs(): Promise<number> {
  if (Deno.build.os !== "linux") return 0;
  const tmp = await Deno.makeTempDir({ prefix: "s3vfs-probe-" });
  const parent = tmp.slice(0, tmp.lastIndexOf("/"));
  await Deno.remove(tmp).catch(() => {});
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(parent)) {
      if (!entry.isDirectory || !entry.name.startsWith(RUN_DIR_PREFIX)) continue;
      const dir = `${parent}/${entry.name}`;
      let owner: { pid?: unknown; minioPid?: unknown };
      try {
        owner = JSON.parse(await Deno.readTextFile(`${dir}/owner.json`));
      } catch {
        continue; // not ours, or being created right now
      }
      if (processAlive(owner.pid) || processAlive(owner.minioPid)) continue;
      await Deno.remove(dir, { recursive: true }).then(() => removed++, () => {});
    }
  } catch {
    // unreadable temp dir: nothing to sweep
  }
  return removed;
}

async function launch(bin: string, opts: StartMinioOptions): Promise<MinioServer> {
  const port = opts.port ?? freePort();
  let consolePort = freePort();
  while (consolePort === port) consolePort = freePort();
  // <tmp>/s3vfs-minio-XXXX/{owner.json,data/}: owner.json lets a later run
  // remove the directory if this process dies without calling stop().
  const runDir = await Deno.makeTempDir({ prefix: RUN_DIR_PREFIX });
  const dataDir = `${runDir}/data`;
  await Deno.mkdir(dataDir);
  const accessKeyId = `s3vfs-${randomHex(4)}`;
  const secretAccessKey = randomHex(20);
  const endpoint = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(bin, {
    args: [
      "server",
      dataDir,
      "--address",
      `127.0.0.1:${port}`,
      "--console-address",
      `127.0.0.1:${consolePort}`,
      "--quiet",
    ],
    env: {
      MINIO_ROOT_USER: accessKeyId,
      MINIO_ROOT_PASSWORD: secretAccessKey,
      MINIO_BROWSER: "off",
      MINIO_UPDATE: "off",
      MINIO_CI_CD: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await Deno.writeTextFile(
    `${runDir}/owner.json`,
    JSON.stringify({ pid: Deno.pid, minioPid: child.pid }),
  )
    .catch(() => {});
  const tail = new Tail(4096);
  const drained = Promise.all([drain(child.stdout, tail), drain(child.stderr, tail)]);
  let exited: Deno.CommandStatus | undefined;
  const statusP = child.status.then((s) => (exited = s));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const killTimer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 10_000);
        await statusP;
        clearTimeout(killTimer);
      }
      await drained;
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
    })();

  const deadline = Date.now() + 60_000;
  while (true) {
    if (exited) {
      await stop();
      const out = tail.text();
      const msg =
        `MinIO (${bin}) exited with code ${exited.code} before becoming ready on ${endpoint}.\n` +
        `Last output:\n${out.trim() || "(none)"}`;
      if (/address already in use|bind:/i.test(out)) throw new PortInUse(msg);
      throw new Error(msg);
    }
    try {
      const res = await fetch(`${endpoint}/minio/health/live`, {
        signal: AbortSignal.timeout(2000),
      });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `MinIO (${bin}) did not become ready on ${endpoint} within 60 s.\n` +
          `Last output:\n${tail.text().trim() || "(none)"}`,
      );
    }
    await sleep(100);
  }
  if (!opts.quiet) console.error(`MinIO ready on ${endpoint} (data in ${dataDir})`);
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

async function main(): Promise<void> {
  const args = [...Deno.args];
  let port: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--port" || a.startsWith("--port=")) {
      const v = a.includes("=") ? a.slice(7) : args[++i];
      port = Number(v);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        console.error(`bad --port value: ${v}`);
        Deno.exit(2);
      }
    } else if (a === "-h" || a === "--help") {
      console.log(
        "usage: deno run -A scripts/minio.ts [--port N]\n" +
          "Starts a throwaway MinIO (data in a temp dir, removed on exit) and prints\n" +
          "the environment variables that point the tests and the library at it.",
      );
      return;
    } else {
      console.error(`unknown argument: ${a} (try --help)`);
      Deno.exit(2);
    }
  }
  const s3 = await startMinio({ quiet: true, port });
  if (s3.external) {
    console.log(`S3_ENDPOINT is set: using ${s3.endpoint}, nothing started.`);
    return;
  }
  console.log(`MinIO is running on ${s3.endpoint} (data in ${s3.dataDir}, removed on exit).`);
  console.log("To use it from another shell:\n");
  console.log(`export S3_ENDPOINT=${s3.endpoint}`);
  console.log(`export AWS_ENDPOINT_URL_S3=${s3.endpoint}`);
  console.log(`export AWS_ACCESS_KEY_ID=${s3.accessKeyId}`);
  console.log(`export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`);
  console.log(`export AWS_REGION=${s3.region}`);
  console.log(
    "\nThen e.g. `deno task test` uses it instead of starting its own. Ctrl-C stops MinIO.",
  );
  const { promise, resolve } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, () => resolve());
  await promise;
  console.log("\nstopping MinIO...");
  await s3.stop();
  Deno.exit(0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}

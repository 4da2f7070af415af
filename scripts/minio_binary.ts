/**
 * Finds the `minio` binary for scripts/minio.ts (on PATH or where
 * `go install` puts it) and, when there is none but Go is available, builds
 * it once with `go install github.com/minio/minio@latest`.
 *
 * @module
 */

const MINIO_MODULE = "github.com/minio/minio@latest";
const INSTALL_HINT = "MinIO is needed to run the tests and it was not found.\n" +
  "Either install Go 1.24+ (https://go.dev/dl/) and run\n" +
  `    go install ${MINIO_MODULE}\n` +
  "(the binary lands in $(go env GOPATH)/bin, usually ~/go/bin), or put a `minio` binary on PATH,\n" +
  "or point the tests at an existing S3-compatible endpoint:\n" +
  "    S3_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... deno task test\n" +
  "(docker-compose.yml in the repository starts a suitable MinIO with `docker compose up -d`).";

/** An environment variable, or undefined when it is unset or empty. */
export function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : v;
}

/** Whether `path` is an executable file. */
export async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && (st.mode === null || (st.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/** Looks `name` up on PATH; returns its full path or undefined. */
export async function which(name: string): Promise<string | undefined> {
  const sep = Deno.build.os === "windows" ? ";" : ":";
  const exts = Deno.build.os === "windows" ? [".exe", ""] : [""];
  for (const dir of (env("PATH") ?? "").split(sep)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = `${dir}/${name}${ext}`;
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

async function goBinDirs(): Promise<string[]> {
  const dirs: string[] = [];
  const gobin = env("GOBIN");
  if (gobin) dirs.push(gobin);
  const go = await which("go");
  if (go) {
    try {
      const out = await new Deno.Command(go, {
        args: ["env", "GOPATH"],
        stdout: "piped",
        stderr: "null",
      }).output();
      const gopath = new TextDecoder().decode(out.stdout).trim();
      for (const p of gopath.split(Deno.build.os === "windows" ? ";" : ":")) {
        if (p) dirs.push(`${p}/bin`);
      }
    } catch {
      // fall through to ~/go/bin
    }
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (home) dirs.push(`${home}/go/bin`);
  return [...new Set(dirs)];
}

/**
 * Finds a `minio` binary: on PATH, in `$GOBIN`, in `$(go env GOPATH)/bin`, or
 * in `~/go/bin`. Returns its path, or undefined when there is none.
 */
export async function findMinio(): Promise<string | undefined> {
  const onPath = await which("minio");
  if (onPath) return onPath;
  const exe = Deno.build.os === "windows" ? "minio.exe" : "minio";
  for (const dir of await goBinDirs()) {
    if (await isExecutableFile(`${dir}/${exe}`)) return `${dir}/${exe}`;
  }
  return undefined;
}

async function buildMinio(): Promise<string> {
  const go = await which("go");
  if (!go) throw new Error(INSTALL_HINT);
  console.error(
    `building MinIO from source with \`go install ${MINIO_MODULE}\` (first time only, takes several minutes)...`,
  );
  const status = await new Deno.Command(go, {
    args: ["install", MINIO_MODULE],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    throw new Error(
      `\`go install ${MINIO_MODULE}\` failed (exit code ${status.code}); MinIO needs Go 1.24+ ` +
        `(\`go version\` shows yours).\n\n${INSTALL_HINT}`,
    );
  }
  const found = await findMinio();
  if (!found) {
    throw new Error(`\`go install\` succeeded but no minio binary was found.\n\n${INSTALL_HINT}`);
  }
  return found;
}

/**
 * {@linkcode findMinio}, or else (unless `build` is false) builds MinIO with
 * `go install` when Go is on PATH. Throws an Error explaining what to install
 * when neither works.
 */
export async function findOrBuildMinio(build = true): Promise<string> {
  const bin = await findMinio();
  if (bin) return bin;
  if (!build || !(await which("go"))) throw new Error(INSTALL_HINT);
  return await buildMinio();
}

/**
 * The Python reference implementation (sqlite-s3vfs on APSW, with boto3) the
 * interop tests and the benchmark's Python peer run, in a private virtual
 * environment under the cache folder:
 * `${XDG_CACHE_HOME:-~/.cache}/s3vfs/py`. `deno task test` and
 * `deno task bench` create it (`python3 -m venv`) and pip-install the
 * packages into it when missing; env `S3VFS_PYTHON` names another Python
 * that already has them.
 *
 * @module
 */

/** The packages the Python side needs, as pip names them. */
export const PY_PACKAGES: readonly string[] = ["sqlite-s3vfs", "apsw", "boto3"];
const PROBE = "import sqlite_s3vfs, apsw, boto3";

function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v ? v : undefined;
}

/** The virtual environment's folder. */
export function venvDir(): string {
  const cache = env("XDG_CACHE_HOME") ?? `${env("HOME") ?? env("USERPROFILE") ?? "."}/.cache`;
  return `${cache}/s3vfs/py`;
}

/** The Python to run: env `S3VFS_PYTHON`, else the virtual environment's. */
export function pythonPath(): string {
  const given = env("S3VFS_PYTHON");
  if (given) return given;
  const dir = venvDir();
  return Deno.build.os === "windows" ? `${dir}/Scripts/python.exe` : `${dir}/bin/python`;
}

async function run(
  cmd: string,
  args: string[],
  quiet = true,
): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: quiet ? "null" : "inherit",
      stderr: "piped",
    }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (e) {
    return { ok: false, err: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Makes sure {@linkcode pythonPath} can `import sqlite_s3vfs, apsw, boto3`:
 * creates the virtual environment and pip-installs the packages when needed,
 * saying so in one line on `log`. Throws, naming what to install, when
 * `python3 -m venv` or pip fails. Returns the Python path.
 */
export async function ensurePython(
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  const py = pythonPath();
  if ((await run(py, ["-c", PROBE])).ok) return py;
  if (env("S3VFS_PYTHON")) {
    throw new Error(
      `S3VFS_PYTHON=${py} cannot import sqlite_s3vfs, apsw and boto3: ` +
        `${py} -m pip install ${PY_PACKAGES.join(" ")}`,
    );
  }
  const dir = venvDir();
  log(`installing the Python reference (${PY_PACKAGES.join(" ")}) into ${dir}`);
  if (!(await run(py, ["-c", "pass"])).ok) {
    await Deno.mkdir(dir.slice(0, dir.lastIndexOf("/")), { recursive: true });
    const venv = await run("python3", ["-m", "venv", dir]);
    if (!venv.ok) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(
        `cannot create a Python virtual environment with \`python3 -m venv ${dir}\` ` +
          `(${venv.err.split("\n").pop()}): install Python 3 with its venv module ` +
          "(Debian/Ubuntu: apt-get install python3-venv)",
      );
    }
  }
  const pip = await run(
    py,
    ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...PY_PACKAGES],
  );
  if (!pip.ok || !(await run(py, ["-c", PROBE])).ok) {
    throw new Error(
      `could not install ${PY_PACKAGES.join(", ")} into ${dir} with pip: ${pip.err.slice(-1000)}`,
    );
  }
  return py;
}

if (import.meta.main) {
  console.log(await ensurePython());
}

/**
 * Driving the Python original, sqlite-s3vfs, for the interop tests: which
 * Python runs it (the private virtual environment `deno task test` sets up,
 * see scripts/python_env.ts), whether it is installed, the queries both sides
 * run, and tests/py/vfs_interop_tool.py run against the test MinIO.
 */

import { fileURLToPath } from "node:url";
import { pythonPath, venvDir } from "../scripts/python_env.ts";
import { testS3Options } from "./_harness.ts";

const TOOL = fileURLToPath(new URL("./py/vfs_interop_tool.py", import.meta.url));

/** The Python with sqlite-s3vfs, apsw and boto3 (env `S3VFS_PYTHON`, else the virtual environment's). */
export const PYTHON: string = pythonPath();

/** What to do when the Python reference is missing. */
export const INSTALL_HINT = "run the tests with `deno task test`, which installs sqlite-s3vfs, " +
  `apsw and boto3 into ${venvDir()} (or set S3VFS_PYTHON to a Python that has them)`;

/** Queries both sides run; every column is an integer, text, a stored real or a blob. */
export const QUERIES = [
  "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name",
  "SELECT id, name, country FROM artist ORDER BY id",
  "SELECT a.name, count(*), min(al.year), max(al.year), sum(al.year) FROM artist a " +
  "JOIN album al ON al.artist_id = a.id GROUP BY a.id ORDER BY 2 DESC, 1 LIMIT 25",
  "SELECT id, artist_id, title, year, rating FROM album WHERE artist_id BETWEEN 10 AND 30 " +
  "ORDER BY artist_id, year, id",
  "SELECT id, title, rating FROM album ORDER BY id",
  "SELECT album_id, length(image), image FROM cover ORDER BY album_id",
  "SELECT tag, count(*), sum(length(body)) FROM note GROUP BY tag ORDER BY tag",
  "SELECT id, body, tag FROM note ORDER BY id DESC LIMIT 40",
  "SELECT country, count(*) FROM artist GROUP BY country ORDER BY country",
];

// Is the reference implementation importable? (Checked once; the tests FAIL when not.)
const pythonProblem: string | undefined = await (async () => {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import sqlite_s3vfs, apsw, boto3"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    return new TextDecoder().decode(out.stderr).trim().split("\n").pop();
  } catch (e) {
    return `${PYTHON} could not be run: ${e instanceof Error ? e.message : e}`;
  }
})();

/** Throws, naming what to install, when the Python reference cannot be imported. */
export function requirePython(): void {
  if (pythonProblem !== undefined) {
    throw new Error(
      `the Python sqlite-s3vfs reference is not usable (${pythonProblem}): ${INSTALL_HINT}`,
    );
  }
}

/** What the Python tool prints for `read` / `readdump`. */
export interface PyRead {
  results: unknown[][][];
  integrity: string;
  page_size: number;
  page_count: number;
  /** With `readdump`: size and sha256 of the blocks concatenated (serialize_iter). */
  size?: number;
  sha256?: string;
}

/** Runs tests/py/vfs_interop_tool.py; returns its JSON output. */
export async function py(
  bucket: string,
  prefix: string,
  blockSize: number,
  action: "write" | "append" | "read" | "readdump",
  pageSize = 4096,
  queries: string[] = QUERIES,
): Promise<unknown> {
  const s3 = testS3Options();
  const child = new Deno.Command(PYTHON, {
    args: [
      TOOL,
      s3.endpoint,
      s3.credentials.accessKeyId,
      s3.credentials.secretAccessKey,
      bucket,
      prefix,
      String(blockSize),
      action,
      String(pageSize),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(action.startsWith("read") ? JSON.stringify(queries) : ""));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`python ${action} ${prefix} (block ${blockSize}) failed: ${stderr}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase());

/** A value as the Python tool prints it (blobs as upper-case hex). */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) {
    let s = "";
    for (const b of v) s += HEX[b];
    return s;
  }
  if (typeof v === "bigint") throw new Error(`unexpected bigint ${v}`);
  return v;
}

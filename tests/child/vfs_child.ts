/**
 * A second process for tests/vfs_process_test.ts: opens a database through
 * its own S3VFS (so nothing is shared in memory with the test process) and
 * does one thing, chosen by env `CHILD_ACTION`:
 *
 * - `read`: prints one JSON line `{"results": [...], "integrity": "ok"}`
 *   (the rows of each query in env `CHILD_QUERIES`, a JSON array of SQL).
 * - `insert`: creates `t(id INTEGER PRIMARY KEY, v TEXT)` if absent, inserts
 *   env `CHILD_ROWS` rows into it in one transaction,
 *   prints `committed <count>` and, with `CHILD_HOLD=1`, keeps its connection
 *   and VFS open until stdin is closed (then closes both and exits).
 *
 * Connection settings: env `S3VFS_TEST_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` (as set by the harness), `CHILD_BUCKET`,
 * `CHILD_PREFIX`, `CHILD_BLOCK_SIZE` (default 4096).
 *
 * Run: `deno run -A tests/child/vfs_child.ts`.
 *
 * @module
 */

import { openDb, testVfs } from "../_vfs.ts";

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`vfs_child: env ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const action = need("CHILD_ACTION");
  const vfs = testVfs(need("CHILD_BUCKET"), {
    blockSize: Number(Deno.env.get("CHILD_BLOCK_SIZE") ?? 4096),
  });
  const db = openDb(vfs, need("CHILD_PREFIX"));
  try {
    if (action === "read") {
      const queries = JSON.parse(need("CHILD_QUERIES")) as string[];
      const results = queries.map((q) => db.prepare(q).values());
      const integrity = db.prepare("PRAGMA integrity_check").values()[0][0];
      console.log(JSON.stringify({ results, integrity }));
    } else if (action === "insert") {
      const rows = Number(need("CHILD_ROWS"));
      db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)");
      db.exec("BEGIN");
      for (let i = 0; i < rows; i++) {
        db.run("INSERT INTO t (v) VALUES (?)", `from child ${Deno.pid} #${i}`);
      }
      db.exec("COMMIT");
      console.log(`committed ${db.prepare("SELECT count(*) FROM t").values()[0][0]}`);
      if (Deno.env.get("CHILD_HOLD") === "1") {
        // Keep the connection (and the VFS with its warm cache) until the parent says so.
        for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
      }
    } else {
      throw new Error(`vfs_child: unknown CHILD_ACTION ${action}`);
    }
  } finally {
    db.close();
    vfs.close();
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? e.stack : e);
    Deno.exit(1);
  }
}

/**
 * A short-lived writer, as a CLI call, a cron job or a serverless function
 * is: opens the database read-write, inserts one row into `t` (unless
 * `MP_WRITE=0`), closes everything and exits. Prints one JSON line with what
 * its background maintenance did (and how many rows `t` has).
 *
 * Environment: see mp_common.ts; also `MP_TOKEN` (the row's tok), `MP_TIMING`
 * (the S3VFS `timing` option, JSON), `MP_WRITE`, `MP_STORE_CHECK`.
 *
 * @module
 */

import { emit, failure, need, openWriter, S3VFS } from "./mp_common.ts";

const timing = Deno.env.get("MP_TIMING");
const storeCheck = Deno.env.get("MP_STORE_CHECK") as "enforce" | "single-writer" | undefined;
const vfs = new S3VFS({
  bucket: need("MP_BUCKET"),
  ...(timing ? { timing: JSON.parse(timing) } : {}),
  ...(storeCheck ? { storeCheck } : {}),
});
const started = performance.now();
const db = openWriter(vfs, need("MP_PREFIX"));
let retries = 0;
if (Deno.env.get("MP_WRITE") !== "0") {
  // As any app writing beside others must: a transaction that lost its commit race
  // (SQLITE_BUSY_SNAPSHOT, after waiting for the writer lease) is run again.
  for (;;) {
    try {
      db.run("INSERT INTO t (seq, tok) VALUES (?, ?)", 0, need("MP_TOKEN"));
      break;
    } catch (e) {
      const f = failure(vfs, db, e);
      if (!f.busy || ++retries > 50) {
        emit({ failed: 0, ...f });
        throw e;
      }
    }
  }
}
const rows = db.prepare("SELECT count(*) FROM t").values()[0][0];
db.close();
vfs.close(); // lets background maintenance in progress finish (bounded)
const stats = vfs.stats();
emit({
  done: true,
  ms: Math.round(performance.now() - started),
  retries,
  rows,
  maintenance: stats.maintenance,
  background: stats.background,
  storeCheck: stats.storeCheck,
});

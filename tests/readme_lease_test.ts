/**
 * The request counts the README's writer-lease example states in its
 * comments (issue 19: they were wrong), measured here so that they stay true.
 */

import { deepEqual } from "node:assert/strict";
import { OPEN_READWRITE } from "../mod.ts";
import { Database } from "../scripts/db_sqlite.ts";
import { freshBucket } from "./_harness.ts";
import { testVfs } from "./_vfs.ts";

Deno.test("README lease example: the request counts in its comments", async () => {
  await using b = await freshBucket("readme-lease");
  {
    using setup = testVfs(b.bucket);
    const d = new Database(setup.uri("my/path/cool.sqlite"), { flags: OPEN_READWRITE });
    d.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    d.close();
  }
  using vfs = testVfs(b.bucket, { lease: { ttlMs: 40_000, idleMs: 30_000 } });
  const db = new Database(vfs.uri("my/path/cool.sqlite"), { flags: OPEN_READWRITE });
  let last = { ...vfs.stats().requests };
  const step = (): Record<string, number> => {
    const now = { ...vfs.stats().requests };
    const d = Object.fromEntries(
      Object.entries(now).map(([k, v]) => [k, v - last[k as keyof typeof last]]).filter(([, v]) =>
        v !== 0
      ),
    );
    last = now;
    return d;
  };
  db.exec("PRAGMA busy_timeout = 60000");
  deepEqual(step(), {});
  db.exec("INSERT INTO notes (body) VALUES ('first write takes the lease')");
  deepEqual(step(), { get: 4, put: 2, total: 6 }, "takes the lease: 4 GET + 2 PUT");
  db.prepare("SELECT count(*) FROM notes").value();
  deepEqual(step(), { get: 1, total: 1 }, "1 GET: one refresh under the new lease");
  db.prepare("SELECT count(*) FROM notes").value();
  deepEqual(step(), {}, "0 requests from now on");
  db.exec("INSERT INTO notes (body) VALUES ('1 PUT')");
  deepEqual(step(), { put: 1, total: 1 }, "1 request");
  db.close();
  deepEqual(step(), { put: 1, total: 1 }, "the last connection releases it (1 PUT)");
});

/**
 * Reader child of the multi-process tests. `MP_MODE=fresh` opens a new
 * connection for every read (as an app handling a request does), `MP_MODE=long`
 * keeps one connection (warm cache) for all of them; `MP_FLAGS=ro` opens
 * read-only, `rw` read-write. Each read runs `SELECT count(*), max(seq) FROM t`
 * and `PRAGMA quick_check`, until `MP_COUNT` reads or `MP_DEADLINE_MS`, with
 * `MP_PAUSE_MS` between reads.
 *
 * stdout, one JSON line each: `{"read": i, "count", "max", "quick"}` or
 * `{"readError": i, "step": "open"|"select"|"quick_check", "code", "msg",
 * "lastError"}`; at the end `{"done": reads, "errors": n, "stats": {...}}`
 * (`stats`: this process's S3 requests by kind: a reader should write none).
 *
 * @module
 */

import {
  Database,
  emit,
  failure,
  need,
  num,
  openVfs,
  rollbackIfOpen,
  runChild,
  sleep,
} from "./mp_common.ts";
import { OPEN_READONLY, OPEN_READWRITE } from "../../mod.ts";

async function main(): Promise<void> {
  const prefix = need("MP_PREFIX");
  const mode = Deno.env.get("MP_MODE") ?? "fresh";
  const flags = Deno.env.get("MP_FLAGS") === "ro" ? OPEN_READONLY : OPEN_READWRITE;
  const count = num("MP_COUNT", 1000);
  const deadline = Date.now() + num("MP_DEADLINE_MS", 20_000);
  const pause = num("MP_PAUSE_MS", 0);
  if (mode !== "fresh" && mode !== "long") throw new Error(`MP_MODE must be fresh or long`);

  const vfs = openVfs();
  let db: Database | undefined;
  let reads = 0;
  let errors = 0;
  for (let i = 1; i <= count && Date.now() < deadline; i++) {
    let step = "open";
    try {
      db ??= new Database(vfs.uri(prefix), { flags });
      step = "select";
      const row = db.prepare("SELECT count(*), max(seq) FROM t").value<[number, number | null]>();
      step = "quick_check";
      const quick = db.prepare("PRAGMA quick_check").values<[string]>().map((r) => r[0]);
      emit({
        read: i,
        count: Number(row?.[0] ?? -1),
        max: Number(row?.[1] ?? 0),
        quick: quick.join("; ").slice(0, 500),
      });
      reads++;
    } catch (e) {
      errors++;
      const f = db
        ? failure(vfs, db, e)
        : { code: 0, msg: e instanceof Error ? e.message : String(e), lastError: undefined };
      emit({ readError: i, step, code: f.code, msg: f.msg, lastError: f.lastError });
      if (db) rollbackIfOpen(db);
      await sleep(20); // do not spin on a persistent error
    }
    if (mode === "fresh" && db) {
      try {
        db.close();
      } catch (e) {
        emit({ closeError: e instanceof Error ? e.message : String(e) });
      }
      db = undefined;
    }
    if (pause > 0) await sleep(pause);
  }
  db?.close();
  emit({ done: reads, errors, stats: vfs.stats().requests });
  vfs.close();
}

if (import.meta.main) await runChild("mp_reader", main);

/**
 * Writer child of the multi-process tests: opens `MP_PREFIX` read-write and
 * commits `INSERT INTO t(seq, tok) VALUES(?, ?)` with seq = max(seq)+1, +2, ...
 * each in its own transaction (BEGIN; INSERT; COMMIT), until `MP_COUNT`
 * commits were acknowledged or `MP_DEADLINE_MS` passed. `tok` names the
 * attempt (`<pid>.<seq>.<attempt>`), so the parent can tell whether a failed
 * attempt was applied anyway.
 *
 * A failed transaction is rolled back (if still open) and retried with the
 * same seq and a new tok: at once after SQLITE_BUSY / BUSY_SNAPSHOT, after a
 * short pause otherwise. After a COMMIT whose outcome the error calls unknown
 * the writer reads whether its tok is there: present counts as acknowledged;
 * if it cannot tell, it stops (retrying could apply seq twice).
 *
 * Every N-th commit (`MP_BIG_EVERY`, 0 = never) also inserts a
 * `MP_BIG_BYTES` blob into `big(seq, data)` in the same transaction (a big
 * transaction, staged by the new VFS). With `MP_CHECKPOINT_EVERY` > 0 and a
 * `vfs.checkpoint(prefix)` method present, it checkpoints after every N-th
 * acknowledged commit.
 *
 * stdout, one JSON line each, written before the next statement:
 * - `{"start": max}`: the max(seq) it starts after;
 * - `{"ack": seq, "tok": ...}`: COMMIT returned OK (or an unknown outcome was
 *   resolved as applied: `"resolved": true`);
 * - `{"failed": seq, "tok", "stage": "begin"|"body"|"commit", "code", "busy",
 *   "unknown", "msg", "lastError"}`: that attempt reported failure;
 * - `{"checkpoint": n}` / `{"checkpointError": msg}`;
 * - `{"done": acks, "failures": n, "reason": ..., "stats": {...}}`.
 *
 * Run: `deno run -A --config deno.json tests/child/mp_writer.ts` with the
 * environment of tests/child/mp_common.ts.
 *
 * @module
 */

import {
  emit,
  failure,
  need,
  num,
  openVfs,
  openWriter,
  rollbackIfOpen,
  runChild,
  sleep,
  transactionLoop,
} from "./mp_common.ts";

async function main(): Promise<void> {
  const prefix = need("MP_PREFIX");
  const count = num("MP_COUNT", 100);
  const deadline = Date.now() + num("MP_DEADLINE_MS", 20_000);
  const bigEvery = num("MP_BIG_EVERY", 0);
  const bigBytes = num("MP_BIG_BYTES", 1_500_000);
  const checkpointEvery = num("MP_CHECKPOINT_EVERY", 0);
  const maxConsecutiveFailures = num("MP_MAX_FAILURES", 200);

  const vfs = openVfs();
  const db = openWriter(vfs, prefix);

  // Where to start: max(seq), read in its own transaction, retried.
  let start: number | undefined;
  for (let i = 0; i < 50 && start === undefined && Date.now() < deadline; i++) {
    try {
      const row = db.prepare("SELECT coalesce(max(seq), 0) FROM t").value<[number]>();
      start = Number(row?.[0] ?? 0);
    } catch (e) {
      emit({ readError: failure(vfs, db, e) });
      rollbackIfOpen(db);
      await sleep(20);
    }
  }
  if (start === undefined) throw new Error("could not read max(seq)");
  emit({ start });

  const insert = db.prepare("INSERT INTO t(seq, tok) VALUES (?, ?)");
  const insertBig = db.prepare("INSERT INTO big(seq, data) VALUES (?, ?)");
  const findTok = db.prepare("SELECT count(*) FROM t WHERE tok = ?");
  const { acks, failures, reason } = await transactionLoop({
    vfs,
    db,
    count,
    first: start + 1, // transaction n writes seq n
    deadline,
    maxConsecutiveFailures,
    body: (seq, tok) => {
      insert.run(seq, tok);
      if (bigEvery > 0 && seq % bigEvery === 0) {
        const data = new Uint8Array(bigBytes);
        crypto.getRandomValues(data.subarray(0, Math.min(bigBytes, 65536)));
        insertBig.run(seq, data);
      }
    },
    // An unknown outcome at COMMIT: is our attempt there?
    settle: async (_n, tok, stage, f) => {
      if (!f.unknown || stage !== "commit") return "retry";
      for (let i = 0; i < 20 && Date.now() < deadline; i++) {
        try {
          return Number(findTok.value<[number]>(tok)?.[0] ?? 0) > 0 ? "acked" : "retry";
        } catch {
          rollbackIfOpen(db);
          await sleep(50);
        }
      }
      return "unresolved unknown outcome";
    },
    acked: async (_n, acks) => {
      if (checkpointEvery > 0 && acks % checkpointEvery === 0) {
        try {
          // No waiting while another holds the claim (a killed writer's claim counts for its
          // whole TTL, longer than this child's deadline): "busy" is an answer too.
          const out = await vfs.checkpoint(prefix, { waitMs: 0 });
          emit({ checkpoint: acks, kind: out.kind });
        } catch (e) {
          emit({ checkpointError: e instanceof Error ? e.message : String(e) });
        }
      }
    },
  });
  for (const stmt of [insert, insertBig, findTok]) {
    try {
      stmt.finalize();
    } catch { /* finalize repeats the statement's last error (a BUSY); nothing to undo */ }
  }
  db.close();
  emit({ done: acks, failures, reason, stats: vfs.stats().requests });
  vfs.close();
}

if (import.meta.main) await runChild("mp_writer", main);

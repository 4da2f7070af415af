/**
 * Counter child of the multi-process tests: opens `MP_PREFIX` read-write and
 * runs `BEGIN; UPDATE counter SET n = n + 1 WHERE id = 1; COMMIT` until
 * `MP_COUNT` increments were acknowledged or `MP_DEADLINE_MS` passed,
 * retrying a transaction that failed (at once after SQLITE_BUSY /
 * BUSY_SNAPSHOT, after a short pause otherwise) once it is rolled back.
 *
 * With `MP_AUDIT=1` each transaction also inserts its attempt's tok
 * (`<pid>.<i>.<attempt>`) into `inc(tok)`, so the parent can check that n
 * equals the number of inc rows (atomicity), that every acknowledged tok is
 * there and that no attempt reported failed is.
 *
 * stdout, one JSON line each: `{"ack": i, "tok"}`; `{"failed": i, "tok",
 * "stage", "code", "busy", "unknown", "msg", "lastError"}`; at the end
 * `{"done": acks, "failures": n, "busy": n, "reason", "stats"}`.
 *
 * @module
 */

import { emit, need, num, openVfs, openWriter, runChild, transactionLoop } from "./mp_common.ts";

async function main(): Promise<void> {
  const prefix = need("MP_PREFIX");
  const count = num("MP_COUNT", 50);
  const deadline = Date.now() + num("MP_DEADLINE_MS", 20_000);
  const audit = Deno.env.get("MP_AUDIT") === "1";
  const maxConsecutiveFailures = num("MP_MAX_FAILURES", 500);
  const pauseAt = num("MP_PAUSE_AT", 0);

  const vfs = openVfs();
  const db = openWriter(vfs, prefix);
  const { acks, failures, busy, reason } = await transactionLoop({
    vfs,
    db,
    count,
    deadline,
    maxConsecutiveFailures,
    body: (_n, tok) => {
      db.exec("UPDATE counter SET n = n + 1 WHERE id = 1");
      if (audit) db.exec("INSERT INTO inc(tok) VALUES (?)", tok);
    },
    // MP_PAUSE_AT=n: before COMMIT of transaction n, print {"inTx": n} and wait MP_PAUSE_MS
    // (so the parent can SIGSTOP it inside a write transaction).
    beforeCommit: async (n) => {
      if (n !== pauseAt) return;
      emit({ inTx: n });
      await new Promise((r) => setTimeout(r, num("MP_PAUSE_MS", 500)));
    },
  });
  db.close();
  emit({ done: acks, failures, busy, reason, stats: vfs.stats().requests });
  vfs.close();
}

if (import.meta.main) await runChild("mp_counter", main);

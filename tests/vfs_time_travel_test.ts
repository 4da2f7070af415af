/**
 * Time travel through the public API, against MinIO through @db/sqlite:
 * `vfs.uri(prefix, { at })` opens a past snapshot read-only, `vfs.history`
 * lists the kept commits, `vfs.restore` makes a past state current as one
 * commit, and retention makes old snapshots fail with a clear error.
 *
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { type HistoryEntry, OPEN_READONLY, OPEN_READWRITE, type S3VFS } from "../mod.ts";
import { runAsync } from "../src/log/driver.ts";
import { readConfig } from "../src/log/records.ts";
import { retention } from "../src/log/retention.ts";
import { S3LogStore } from "../src/log/s3_store.ts";
import { freshBucket } from "./_harness.ts";
import { Database, FAST_TIMING, openDb, testVfs } from "./_vfs.ts";

/** Full history: the checkpointer folds only commits older than keepHistory (G = R). */
const HISTORY_TIMING = { ...FAST_TIMING, graceMs: 6000, keepHistoryMs: 6000 };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function contents(db: Database): string {
  return String(db.prepare("SELECT coalesce(group_concat(v, ','), '') FROM t").values()[0][0]);
}

Deno.test("S3VFS time travel: every kept txid and time reads what was committed then; history lists them", async () => {
  await using b = await freshBucket("tt-read");
  const prefix = "tt/read.sqlite";
  using vfs = testVfs(b.bucket, { timing: HISTORY_TIMING });
  const db = openDb(vfs, prefix);
  const states: { txid: number; at: Date; text: string }[] = [];
  const record = async (): Promise<void> => {
    states.push({
      txid: Number(db.prepare("PRAGMA s3vfs_txid").values()[0][0]),
      at: new Date(),
      text: contents(db),
    });
    await sleep(1100); // commits in distinct seconds (S3 times have 1 s precision)
  };
  try {
    db.exec("CREATE TABLE t (v TEXT)");
    await record();
    for (const v of ["a", "b", "c"]) {
      db.exec("INSERT INTO t VALUES (?)", v);
      await record();
    }
    db.exec("DELETE FROM t WHERE v = 'a'");
    await record();
    db.exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) " +
        "INSERT INTO t SELECT printf('big%0500d', i) FROM n",
    ); // grows
    await record();
    db.exec("DELETE FROM t WHERE v LIKE 'big%'");
    db.exec("VACUUM"); // shrinks
    await record();
  } finally {
    db.close();
  }
  for (const s of states) {
    const past = new Database(vfs.uri(prefix, { at: s.txid }), { flags: OPEN_READWRITE });
    try {
      equal(contents(past), s.text, `at txid ${s.txid}`);
      equal(Number(past.prepare("PRAGMA s3vfs_txid").values()[0][0]), s.txid);
      let refused: unknown;
      try {
        past.exec("INSERT INTO t VALUES ('x')");
      } catch (e) {
        refused = e;
      }
      match(String(refused), /readonly|read-only/i, "a past snapshot is read-only");
      equal(String(past.prepare("PRAGMA integrity_check").values()[0][0]), "ok");
    } finally {
      past.close();
    }
    const byTime = new Database(vfs.uri(prefix, { at: s.at }), { flags: OPEN_READONLY });
    try {
      equal(contents(byTime), s.text, `at ${s.at.toISOString()} (txid ${s.txid})`);
    } finally {
      byTime.close();
    }
  }
  const entries: HistoryEntry[] = [];
  for await (const e of vfs.history(prefix)) entries.push(e);
  deepEqual(
    entries.map((e) => e.txid),
    Array.from({ length: states[states.length - 1].txid }, (_, i) => i + 1),
    "every commit is listed, oldest first",
  );
  ok(entries.every((e) => e.kind === "commit" && e.bytes > 0 && e.pagesChanged > 0));
  ok(entries.every((e, i) => i === 0 || e.time >= entries[i - 1].time), "in time order");
  const grown = entries.find((e) => e.txid === states[5].txid)!;
  const shrunk = entries[entries.length - 1];
  ok(grown.size > shrunk.size, `VACUUM shrank the file: ${grown.size} -> ${shrunk.size}`);

  // Checkpointed (everything older than G = R is folded): still every kept snapshot reads right.
  await sleep(7500);
  const out = await vfs.checkpoint(prefix);
  equal(out.kind, "folded");
  const grownState = states[states.length - 2];
  const past = new Database(vfs.uri(prefix, { at: grownState.txid }), { flags: OPEN_READONLY });
  try {
    equal(contents(past), states[states.length - 2].text, "after the fold");
  } finally {
    past.close();
  }
});

Deno.test("S3VFS restore: a past state becomes current as one commit, readers see it atomically, and it can be undone", async () => {
  await using b = await freshBucket("tt-restore");
  const prefix = "tt/restore.sqlite";
  const vfs = testVfs(b.bucket, { timing: HISTORY_TIMING });
  const readerVfs = testVfs(b.bucket, { timing: HISTORY_TIMING });
  try {
    await restoreScenario(vfs, readerVfs, prefix);
  } finally {
    readerVfs.close();
    vfs.close();
  }
});

async function restoreScenario(vfs: S3VFS, readerVfs: S3VFS, prefix: string): Promise<void> {
  const db = openDb(vfs, prefix);
  let good: number;
  try {
    db.exec("CREATE TABLE t (v TEXT); CREATE TABLE total (n INTEGER)");
    db.exec("BEGIN");
    for (let i = 0; i < 200; i++) {
      db.exec("INSERT INTO t VALUES (?)", `good ${i} ${"g".repeat(200)}`);
    }
    db.exec("INSERT INTO total VALUES (200)");
    db.exec("COMMIT");
    good = Number(db.prepare("PRAGMA s3vfs_txid").values()[0][0]);
    // A bad migration: 3 commits later the data is gone.
    db.exec("BEGIN; DELETE FROM t WHERE rowid % 2 = 0; UPDATE total SET n = 100; COMMIT");
    db.exec("BEGIN; INSERT INTO t VALUES ('bad'); UPDATE total SET n = 101; COMMIT");
    db.exec("BEGIN; DELETE FROM t; UPDATE total SET n = 0; COMMIT");
  } finally {
    db.close();
  }
  const reader = openDb(readerVfs, prefix, OPEN_READONLY);
  try {
    await restoreWhileReading(vfs, reader, prefix, good);
  } finally {
    reader.close();
  }
}

async function restoreWhileReading(
  vfs: S3VFS,
  reader: Database,
  prefix: string,
  good: number,
): Promise<void> {
  const seen = new Set<string>();
  let reading = true;
  const loop = (async () => {
    while (reading) {
      const [count, n] = reader.prepare("SELECT (SELECT count(*) FROM t), (SELECT n FROM total)")
        .values()[0];
      seen.add(`${count}/${n}`);
      await sleep(5);
    }
  })();
  const progress: number[] = [];
  const r = await vfs.restore(prefix, { at: good, onProgress: (p) => progress.push(p.bytes) });
  reading = false;
  await loop;
  equal(r.from, good);
  equal(r.txid, good + 4, "one new commit");
  ok(progress.length > 0 && progress[progress.length - 1] === r.bytes, "progress reported");
  for (const s of seen) ok(s === "0/0" || s === "200/200", `a reader saw a mixed state: ${s}`);
  equal(
    String(
      reader.prepare("SELECT (SELECT count(*) FROM t) || '/' || (SELECT n FROM total)")
        .values()[0][0],
    ),
    "200/200",
    "the restored state is current",
  );
  // Undo: restore the state just before the restore.
  const undo = await vfs.restore(prefix, { at: r.txid - 1 });
  equal(undo.txid, r.txid + 1);
  const after = openDb(vfs, prefix, OPEN_READONLY);
  try {
    equal(after.prepare("SELECT count(*) FROM t").values()[0][0], 0);
  } finally {
    after.close();
  }
  let past: unknown;
  try {
    await vfs.restore(prefix, { at: undo.txid + 5 });
  } catch (e) {
    past = e;
  }
  ok(past instanceof RangeError, `a txid past the head: ${past}`);
}

Deno.test("S3VFS time travel: once retention deleted its commits, a snapshot fails to open with a clear error", async () => {
  await using b = await freshBucket("tt-retention");
  const prefix = "tt/retention.sqlite";
  using vfs = testVfs(b.bucket, { timing: HISTORY_TIMING });
  const db = openDb(vfs, prefix);
  try {
    db.exec("CREATE TABLE t (v)");
    for (let i = 0; i < 3; i++) db.exec("INSERT INTO t VALUES (?)", i);
  } finally {
    db.close();
  }
  // Older than G + M by the store's Date (whole seconds; versitygw's trails up to 1 s) and R + M.
  await sleep(HISTORY_TIMING.graceMs + HISTORY_TIMING.marginMs + 2500);
  // Folded here, or already by the maintenance the last close asked for (a short-lived writer's).
  const folded = await vfs.checkpoint(prefix);
  ok(folded.kind === "folded" || folded.kind === "idle", JSON.stringify(folded));
  equal((await vfs.info(prefix))?.checkpoint.txid, 4, "every commit folded");
  const w = openDb(vfs, prefix);
  try {
    w.exec("INSERT INTO t VALUES (3)");
  } finally {
    w.close();
  }
  const store = new S3LogStore(b.client, b.bucket);
  const config = await runAsync(readConfig(prefix), store);
  const out = await runAsync(retention(prefix, config!, {}), store);
  ok(out.commits >= 4, `retention deleted ${JSON.stringify(out)}`);
  const info = await vfs.info(prefix);
  ok(info, "info of an existing database");
  equal(info.txid, 5);
  equal(info.checkpoint.txid, 4);
  equal(info.logLength, 1);
  equal(info.historyFrom, 4, "the checkpoint's txid, then the kept commit");
  let err: unknown;
  try {
    new Database(vfs.uri(prefix, { at: 2 }), { flags: OPEN_READONLY });
  } catch (e) {
    err = e;
  }
  ok(err, "opening a deleted snapshot fails");
  match(String(vfs.lastError), /txid 2 .*no longer kept/);
  const kept = new Database(vfs.uri(prefix, { at: 4 }), { flags: OPEN_READONLY });
  try {
    equal(contents(kept), "0,1,2");
  } finally {
    kept.close();
  }
});

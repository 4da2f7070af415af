/**
 * Edge cases of the commit log found in review (issue 16), each against the
 * in-memory S3 of tests/log_sim_store.ts: a database deleted and created
 * again under a running process, a cold open racing a busy checkpointer, a
 * 404 trusted wrongly, and answers without an ETag.
 *
 * @module
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { blockKey, blockLength } from "../src/blocks.ts";
import { checkpoint } from "../src/log/checkpoint.ts";
import { DatabaseReplacedError, LogStoreError, SnapshotTooOldError } from "../src/log/errors.ts";
import { acquireLease, localIdentity } from "../src/log/lease.ts";
import { companionPrefix, logKey, logPrefix } from "../src/log/keys.ts";
import { coldOpen, openForWrite } from "../src/log/open.ts";
import { readConfig } from "../src/log/records.ts";
import { retention } from "../src/log/retention.ts";
import { type DbState, recordCheckMs, refresh } from "../src/log/snapshot.ts";
import { readBlocks } from "../src/log/read.ts";
import type { StoreOp, StoreResult } from "../src/log/store.ts";
import { commit, type Transaction } from "../src/log/writer.ts";
import { commitKey, DB, drive, fill, newStore, pythonView, TIMING } from "./log_helpers.ts";
import type { MemStore } from "./log_sim_store.ts";

const BS = 8;
const OPTS = { blockSize: BS, timing: TIMING };

function tx(putId: string, size: number, blocks: [number, number][]): Transaction {
  return {
    putId,
    size,
    pageSize: 4,
    blocks: new Map(blocks.map(([i, v]) => [i, fill(blockLength(i, size, BS), v)])),
  };
}

function writer(store: MemStore): DbState {
  const st = drive(openForWrite(DB, OPTS), store);
  drive(refresh(st), store);
  return st;
}

function fold(store: MemStore): void {
  store.now += TIMING.graceMs + 3000;
  const config = drive(readConfig(DB), store)!;
  while (drive(checkpoint(DB, config), store).kind === "folded") { /* until idle */ }
}

/** Deletes every object of the database, as `aws s3 rm --recursive` would. */
function deleteDatabase(store: MemStore): void {
  for (const k of [...store.objects.keys()]) {
    if (k.startsWith(`${DB}/`) || k.startsWith(companionPrefix(DB))) store.objects.delete(k);
  }
}

Deno.test("a database deleted and created again: the old process writes only into its own log, cold opens do not see it, and it learns of the replacement", () => {
  const store = newStore();
  const old = writer(store);
  for (let k = 1; k <= 3; k++) {
    equal(drive(commit(old, tx(`a${k}`, 8, [[0, k]])), store).kind, "committed");
  }
  const oldLog = logPrefix(DB, old.config.id);
  deleteDatabase(store);
  const fresh = writer(store);
  ok(fresh.config.id !== old.config.id, "a new incarnation");
  equal(drive(commit(fresh, tx("b1", 8, [[0, 50]])), store).kind, "committed");
  // The old process still believes in its state: log/4 of its own log answers 404, its commit
  // PUT lands there, out of the new database's way.
  drive(refresh(old), store);
  equal(old.head, 3);
  equal(drive(commit(old, tx("a4", 8, [[0, 4]])), store).kind, "committed");
  ok(store.objects.has(logKey(DB, 4, old.config.id)), "it landed in the deleted database's log");
  ok(!store.objects.has(commitKey(store, DB, 4)));
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual([r.head, r.size], [1, 8]);
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 50)]);
  for (let k = 2; k <= 5; k++) {
    equal(drive(commit(fresh, tx(`b${k}`, 8, [[0, 49 + k]])), store).kind, "committed");
  }
  drive(refresh(r), store);
  deepEqual([r.head, ...drive(readBlocks(r, [0]), store)], [5, fill(8, 54)]);
  fold(store);
  deepEqual(pythonView(store, DB), fill(8, 54));
  // Retention of the new database never touches the deleted one's log, nor the reverse.
  store.now += TIMING.keepHistoryMs + 3000;
  drive(retention(DB, drive(readConfig(DB), store)!), store);
  ok([...store.objects.keys()].some((k) => k.startsWith(oldLog)));
  equal(drive(retention(DB, old.config), store).commits, 0, "the old config's retention: no-op");
  // The old process: once its incarnation check is due, its commit is reported replaced (not
  // applied: no reader ever looks at its log), and its next read transaction fails clearly.
  store.now += recordCheckMs(TIMING) + 1000;
  const out = drive(commit(old, tx("a5", 8, [[0, 5]])), store);
  equal(out.kind, "replaced");
  throws(() => drive(refresh(old), store), DatabaseReplacedError);
});

Deno.test("a database deleted and created again: an old reader never mixes its cache with the new base blocks", () => {
  const store = newStore();
  const w = writer(store);
  equal(drive(commit(w, tx("a1", 16, [[0, 1], [1, 1]])), store).kind, "committed");
  const r = drive(coldOpen(DB, OPTS), store)!;
  r.cache.clear(); // as the VFS does: blocks move to its own cache, evicted as it likes
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 1)]);
  r.cache.delete(1);
  deleteDatabase(store);
  const fresh = writer(store);
  equal(drive(commit(fresh, tx("b1", 16, [[0, 7], [1, 7]])), store).kind, "committed");
  fold(store); // the new base blocks carry the new incarnation
  drive(refresh(r), store); // log/2 404: the old state cannot tell yet
  // Block 1 is read from the base: another incarnation's block, so the record is checked.
  throws(() => drive(readBlocks(r, [1]), store), DatabaseReplacedError);
});

Deno.test("loadFrom: a checkpointer moving the record during every cold open does not make it spin", () => {
  const store = newStore();
  store.pageSize = 1000; // one LIST per attempt
  const w = writer(store);
  for (let k = 1; k <= 120; k++) {
    equal(drive(commit(w, tx(`c${k}`, 8, [[0, k % 250]])), store).kind, "committed");
  }
  store.now += TIMING.graceMs + 3000;
  const config = drive(readConfig(DB), store)!;
  // Between each LIST of the log and the record's re-read, a checkpoint folds one more commit.
  let lists = 0;
  const intercept = (op: StoreOp): StoreResult | undefined => {
    if (op.kind !== "list" || !op.prefix.includes(".s3vfs/log/")) return undefined;
    lists++;
    const answer = store.apply(op);
    drive(checkpoint(DB, config, { maxCommits: 1 }), store);
    return answer;
  };
  const r = drive(coldOpen(DB, OPTS), store, intercept)!;
  equal(r.head, 120);
  ok(r.floor >= 1, "built from the record as it moved");
  ok(lists <= 2, `${lists} LISTs`);
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 120)]);
});

Deno.test("refresh: after a 'snapshot too old' that a wrongly trusted 404 caused, the next transaction reloads instead of failing again", () => {
  const store = newStore();
  const w = writer(store);
  equal(drive(commit(w, tx("one", 16, [[0, 1], [1, 1]])), store).kind, "committed");
  const r = drive(coldOpen(DB, OPTS), store)!;
  r.cache.clear(); // as the VFS does: blocks move to its own cache
  equal(drive(commit(w, tx("two", 16, [[1, 2]])), store).kind, "committed");
  store.now += 5000;
  // The reader's refresh is answered 404 for log/2 although it exists (trusted wrongly).
  drive(
    refresh(r),
    store,
    (op) =>
      op.kind === "get" && op.key === commitKey(store, DB, 2)
        ? { status: 404, date: Math.floor(store.now / 1000) * 1000 }
        : undefined,
  );
  equal(r.head, 1);
  // txid 2 is folded and deleted while the reader's proof still looks fresh: 26 s after txid 2
  // was written (R + M = 25 s), 21 s after the reader's 404 (R - M = 23 s).
  fold(store); // 8 s later
  store.now += 13_000;
  equal(drive(retention(DB, drive(readConfig(DB), store)!), store).commits, 2);
  throws(() => drive(readBlocks(r, [1]), store), SnapshotTooOldError);
  // The next read transaction: log/2 answers 404 again (deleted), but the reader checks the
  // checkpoint record now and reloads from it.
  drive(refresh(r), store);
  equal(r.head, 2);
  deepEqual(drive(readBlocks(r, [0, 1]), store), [fill(8, 1), fill(8, 2)]);
});

Deno.test("answers without an ETag fail clearly and never become an unconditional write", () => {
  const store = newStore();
  const w = writer(store);
  equal(drive(commit(w, tx("one", 8, [[0, 1]])), store).kind, "committed");
  store.now += TIMING.graceMs + 3000;
  const config = drive(readConfig(DB), store)!;
  const sent: StoreOp[] = [];
  const noEtag = (op: StoreOp): StoreResult | undefined => {
    sent.push(op);
    const r = store.apply(op);
    return op.kind === "put" ? r : { ...r, etag: undefined };
  };
  throws(() => drive(checkpoint(DB, config), store, noEtag), /without an ETag/);
  // The lease is created with If-None-Match; read back without an ETag, no PUT follows.
  equal(drive(acquireLease(DB, localIdentity(40_000), TIMING), store, noEtag).kind, "held");
  const before = sent.length;
  throws(
    () => drive(acquireLease(DB, localIdentity(40_000), TIMING), store, noEtag),
    (e: unknown) => e instanceof LogStoreError && /without an ETag/.test(e.message),
  );
  ok(sent.slice(before).every((op) => op.kind !== "put"), "no PUT without its condition");
  for (const op of sent) {
    if (op.kind === "put" && !op.key.includes("/stage/")) {
      ok(
        op.ifNoneMatch || (op.ifMatch !== undefined && op.ifMatch !== ""),
        `${op.key} unconditional`,
      );
    }
  }
  equal(store.objects.get(blockKey(DB, 0)), undefined, "nothing folded without the conditions");
});

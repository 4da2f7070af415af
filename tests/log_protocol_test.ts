/**
 * Scenario tests of the commit-log protocol (src/log/), each one interleaving
 * processes by hand against the in-memory S3 of tests/log_sim_store.ts: races,
 * lost and delayed requests, paused writers and checkpointers, long readers,
 * idle readers, and a database written by Python sqlite-s3vfs.
 *
 * @module
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { blockKey, blockLength } from "../src/blocks.ts";
import { checkpoint } from "../src/log/checkpoint.ts";
import { runAsync } from "../src/log/driver.ts";
import { LogOpenError, SnapshotTooOldError, StoreContractError } from "../src/log/errors.ts";
import { META } from "../src/log/format.ts";
import { checkDatabaseName } from "../src/log/keys.ts";
import { coldOpen, openForWrite } from "../src/log/open.ts";
import { readConfig } from "../src/log/records.ts";
import { retention } from "../src/log/retention.ts";
import { type DbState, refresh } from "../src/log/snapshot.ts";
import { readBlocks } from "../src/log/read.ts";
import type { StoreOp } from "../src/log/store.ts";
import { commit, type Transaction } from "../src/log/writer.ts";
import {
  commitKey,
  DB,
  drive,
  fill,
  newStore,
  putPythonDatabase,
  pythonView,
  Stepper,
  TIMING,
} from "./log_helpers.ts";
import type { MemStore } from "./log_sim_store.ts";

const BS = 8;
const OPTS = { blockSize: BS, timing: TIMING };

/** A transaction setting each listed block to a repeated byte. */
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

Deno.test("commit: two writers on one snapshot, exactly one commits and the other gets conflict", () => {
  const store = newStore();
  const a = writer(store);
  const b = writer(store);
  deepEqual(drive(commit(a, tx("aaa", 16, [[0, 1], [1, 1]])), store), {
    kind: "committed",
    txid: 1,
  });
  deepEqual(drive(commit(b, tx("bbb", 16, [[0, 2], [1, 2]])), store), {
    kind: "conflict",
    txid: 1,
  });
  drive(refresh(b), store);
  equal(b.head, 1);
  deepEqual(drive(readBlocks(b, [0, 1]), store), [fill(8, 1), fill(8, 1)]);
});

Deno.test("commit: a lost response is recognised by its put id and reported committed", () => {
  const store = newStore();
  const a = writer(store);
  let lost = 0;
  const out = drive(commit(a, tx("mine", 8, [[0, 1]])), store, (op) => {
    if (op.kind !== "put" || !op.key.includes("/log/") || lost++ > 0) return undefined;
    store.apply(op); // the server applied it; the answer never arrived
    return { status: 0, message: "connection reset" };
  });
  deepEqual(out, { kind: "committed", txid: 1 });
  equal(a.head, 1);
});

Deno.test("commit: with no attempt through, an abort marker closes the slot so a delayed attempt cannot land", () => {
  const store = newStore();
  const a = writer(store);
  const held: StoreOp[] = [];
  const out = drive(commit(a, tx("slow", 8, [[0, 1]]), { attempts: 2 }), store, (op) => {
    if (op.kind !== "put" || op.meta?.[META.kind] !== "commit") return undefined;
    held.push(op); // timed out on the client, still in flight
    return { status: 0, message: "timeout" };
  });
  equal(out.kind, "aborted");
  for (const op of held) equal(store.apply(op).status, 412);
  const r = drive(coldOpen(DB, OPTS), store)!;
  equal(r.head, 1); // the marker is a no-op commit
  equal(r.size, 0);
});

Deno.test("commit: a writer paused past keepHistory gets expired, its PUT into the emptied slot is void", () => {
  const store = newStore();
  const a = writer(store);
  const b = writer(store);
  const late = new Stepper(commit(a, tx("late", 8, [[0, 9]])), store);
  late.until((op) => op.kind === "put"); // paused just before its PUT of log/1
  deepEqual(drive(commit(b, tx("won", 8, [[0, 7]])), store), { kind: "committed", txid: 1 });
  fold(store);
  store.now += TIMING.keepHistoryMs + 3000;
  const config = drive(readConfig(DB), store)!;
  equal(drive(retention(DB, config), store).commits, 1);
  ok(!store.objects.has(commitKey(store, DB, 1)));
  deepEqual(late.finish(), { kind: "expired", txid: 1 }); // its object landed, void
  equal(store.objects.get(commitKey(store, DB, 1))?.meta[META.putId], "late");
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 7)]);
  deepEqual(pythonView(store, DB), fill(8, 7));
});

Deno.test("commit: an attempt that landed, then was folded and deleted during a pause, is unknown, not expired", () => {
  const store = newStore();
  const a = writer(store);
  const mine = new Stepper(commit(a, tx("mine", 8, [[0, 5]])), store);
  const [put] = mine.until((op) => op.kind === "put");
  store.apply(put); // it lands (effective) ...
  mine.answer([{ status: 0, message: "connection reset" }]); // ... but the answer is lost
  fold(store); // while the writer is paused, txid 1 is folded
  store.now += TIMING.keepHistoryMs + 3000;
  equal(drive(retention(DB, drive(readConfig(DB), store)!), store).commits, 1); // and deleted
  const out = mine.finish(); // the retry re-creates the slot (void) and reads it back
  equal(out.kind, "unknown");
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 5)]); // it was applied: "expired" would lie
});

Deno.test("commit: a 2xx not surely in time, then a pause past keepHistory and another's late PUT in the emptied slot, is unknown, not conflict", () => {
  const store = newStore();
  const a = writer(store);
  const b = writer(store);
  // A stale writer on snapshot 0, paused just before its PUT of log/1.
  const stale = new Stepper(commit(b, tx("stale", 8, [[0, 9]])), store);
  stale.until((op) => op.kind === "put");
  const mine = new Stepper(commit(a, tx("mine", 8, [[0, 5]])), store);
  mine.until((op) => op.kind === "put");
  // The PUT lands W after the proof: effective, but its answer's Date cannot show it in time.
  store.now = a.provenAt + TIMING.maxCommitLagMs;
  mine.step();
  equal(mine.pending?.[0]?.kind, "head", "it reads the slot back");
  // Paused before the read-back: txid 1 is folded and deleted, and the stale writer's PUT
  // re-creates the slot, void.
  fold(store);
  store.now += TIMING.keepHistoryMs + 3000;
  equal(drive(retention(DB, drive(readConfig(DB), store)!), store).commits, 1);
  equal(stale.finish().kind, "expired");
  equal(store.objects.get(commitKey(store, DB, 1))?.meta[META.putId], "stale");
  // Ours was applied: "conflict" would say it was not.
  equal(mine.finish().kind, "unknown");
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 5)]);
});

/**
 * A's create-only PUT answered 2xx late (not surely in time), then B (proven later) PUTs the
 * same slot: on S3 B gets 412 and A's object decides; on a store that ignores If-None-Match B
 * overwrites A and both were told they won. `honoured`: the store enforces If-None-Match.
 */
function lateAckRace(honoured: boolean): { a: () => unknown; b: string } {
  const store = newStore();
  store.ignores.ifNoneMatch = !honoured;
  const a = writer(store); // proof at T0
  const b = writer(store);
  const sa = new Stepper(commit(a, tx("A", 8, [[0, 1]])), store);
  sa.until((op) => op.kind === "put" && op.key === commitKey(store, DB, 1));
  store.now += 2000;
  drive(refresh(b), store); // B's proof at T0 + 2 s
  store.now += 2000;
  sa.step(); // A's PUT: 2xx at T0 + 4 s, more than W - M after its proof
  const kind = drive(commit(b, tx("B", 8, [[0, 2]])), store).kind;
  return { a: () => sa.finish(), b: kind };
}

Deno.test("commit: a 2xx to a create-only PUT, then another writer's commit in the slot, is a StoreContractError", () => {
  // S3: B lost the race, A's late but in-time commit is the one.
  const good = lateAckRace(true);
  equal(good.b, "conflict");
  deepEqual(good.a(), { kind: "committed", txid: 1 });
  // A store ignoring If-None-Match: B overwrote A and was told "committed"; A finds B's commit
  // in the slot its own PUT created, which S3 cannot do: an error, never a quiet "conflict".
  const bad = lateAckRace(false);
  equal(bad.b, "committed");
  throws(() => bad.a(), (e: Error) => {
    ok(e instanceof StoreContractError, String(e));
    return /answered 2xx to this commit's PUT If-None-Match: \*, yet the slot holds another writer's commit \(B\): the store does not enforce conditional writes/
      .test(e.message);
  });
});

Deno.test("checkpoint: a paused checkpointer never moves a base block back, even to bytes it had (ETag ABA)", () => {
  const store = newStore();
  const w = writer(store);
  // Block 0 is A, then B, then A again: S3 gives txid 1's and txid 3's block the same ETag.
  equal(drive(commit(w, tx("one", 16, [[0, 1], [1, 1]])), store).kind, "committed");
  equal(drive(commit(w, tx("two", 16, [[0, 2]])), store).kind, "committed");
  equal(drive(commit(w, tx("three", 8, [[0, 1]])), store).kind, "committed"); // drops block 1
  store.now += TIMING.graceMs + 3000;
  const config = drive(readConfig(DB), store)!;
  const opts = { requestTimeoutMs: 2000, claimTtlMs: 8000 };
  const slow = new Stepper(checkpoint(DB, config, { ...opts, maxCommits: 1 }), store);
  slow.until((op) => op.kind === "put" && op.key === blockKey(DB, 0)); // will write txid 1's A
  equal(drive(checkpoint(DB, config, opts), store).kind, "busy", "one checkpointer at a time");
  store.now += 8000 + TIMING.marginMs + 1000; // the paused one's claim expires
  const fast = drive(checkpoint(DB, config, opts), store);
  deepEqual({ ...fast, retention: undefined }, {
    kind: "folded",
    from: 0,
    to: 3,
    written: 2,
    blocks: 2,
    retention: undefined,
  });
  // Its PUT If-Match the ETag of A would succeed now; it is past its fence and is not sent.
  deepEqual(slow.finish(), { kind: "raced", reason: "the checkpoint claim was lost" });
  equal(store.objects.get(blockKey(DB, 0))?.meta[META.txid]?.split("@")[0], "3");
  equal(store.objects.get(blockKey(DB, 1))?.body.length, 0); // a tombstone, never deleted
  equal(store.objects.get(blockKey(DB, 1))?.meta[META.txid]?.split("@")[0], "3");
  deepEqual(pythonView(store, DB), fill(8, 1));
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 1)]);
});

Deno.test("readBlocks: a transaction longer than the grace period gets SnapshotTooOldError, never old bytes", () => {
  const store = newStore();
  const w = writer(store);
  equal(drive(commit(w, tx("one", 24, [[0, 1], [1, 1], [2, 1]])), store).kind, "committed");
  fold(store);
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0]), store), [fill(8, 1)]); // the transaction has begun
  equal(drive(commit(w, tx("two", 24, [[2, 2]])), store).kind, "committed");
  fold(store);
  throws(() => drive(readBlocks(r, [2]), store), SnapshotTooOldError);
  drive(refresh(r), store); // the next transaction
  deepEqual(drive(readBlocks(r, [2]), store), [fill(8, 2)]);
});

Deno.test("refresh: a reader idle past keepHistory reloads from the checkpoint instead of trusting a 404", () => {
  const store = newStore();
  const w = writer(store);
  equal(drive(commit(w, tx("one", 16, [[0, 1], [1, 1]])), store).kind, "committed");
  const r = drive(coldOpen(DB, OPTS), store)!;
  deepEqual(drive(readBlocks(r, [0, 1]), store), [fill(8, 1), fill(8, 1)]);
  equal(drive(commit(w, tx("two", 16, [[1, 2]])), store).kind, "committed");
  equal(drive(commit(w, tx("three", 16, [[0, 3]])), store).kind, "committed");
  fold(store);
  store.now += TIMING.keepHistoryMs + 3000;
  equal(drive(retention(DB, drive(readConfig(DB), store)!), store).commits, 3);
  drive(refresh(r), store); // log/2 answers 404: deleted, not "not yet written"
  equal(r.head, 3);
  deepEqual(drive(readBlocks(r, [0, 1]), store), [fill(8, 3), fill(8, 2)]);
});

Deno.test("openForWrite: adopts a Python database, inferring its block size; another one is refused first", () => {
  const store = newStore();
  putPythonDatabase(store, DB, [fill(8, 5), fill(8, 6), fill(4, 7)]);
  const before = [...store.objects.keys()];
  throws(() => drive(openForWrite(DB, { blockSize: 4, timing: TIMING }), store), LogOpenError);
  deepEqual([...store.objects.keys()], before); // nothing written
  const r = drive(coldOpen(DB, {}), store)!;
  equal(r.adopted, false);
  deepEqual(drive(readBlocks(r, [0, 1, 2]), store), [fill(8, 5), fill(8, 6), fill(4, 7)]);
  const w = drive(openForWrite(DB, { timing: TIMING }), store);
  equal(w.config.blockSize, 8);
  equal(w.size, 20);
  deepEqual(drive(commit(w, tx("py", 12, [[1, 9]])), store), { kind: "committed", txid: 1 });
  drive(refresh(r), store);
  deepEqual([r.head, r.size], [1, 12]);
  deepEqual(drive(readBlocks(r, [0, 1, 2]), store), [fill(8, 5), fill(4, 9), new Uint8Array(0)]);
  fold(store);
  deepEqual(pythonView(store, DB), Uint8Array.from([...fill(8, 5), ...fill(4, 9)]));
});

Deno.test("checkDatabaseName: refuses names that alias or collide with companion objects", () => {
  for (
    const bad of [
      "",
      "/abs",
      "a/",
      "a//b",
      "a/./b",
      "a/../b",
      "a\0b",
      "a\nb",
      "x.s3vfs",
      "d.s3vfs/x",
    ]
  ) {
    throws(() => checkDatabaseName(bad), TypeError, JSON.stringify(bad));
  }
  for (const good of ["a", "my/path/cool.sqlite", "a.s3vfsx", "s3vfs", "a.s3vfs.db"]) {
    equal(checkDatabaseName(good), good);
  }
});

Deno.test("runAsync: drives open, commit and refresh against an async store", async () => {
  const store = newStore();
  const s = { run: (op: StoreOp) => Promise.resolve(store.apply(op)) };
  const w = await runAsync(openForWrite(DB, OPTS), s, () => store.now);
  await runAsync(refresh(w), s, () => store.now);
  deepEqual(await runAsync(commit(w, tx("async", 8, [[0, 4]])), s), { kind: "committed", txid: 1 });
  const r = (await runAsync(coldOpen(DB, OPTS), s))!;
  deepEqual(await runAsync(readBlocks(r, [0]), s), [fill(8, 4)]);
});

/**
 * Time travel against the real MinIO (src/log/history.ts): blocks read at
 * every past txid equal what was committed then, across a checkpoint, a
 * shrink and a grow, an abort marker and a void commit; the history's kinds,
 * sizes and pages; dates resolved to txids; what retention takes away; a
 * snapshot whose block was folded over fails at open, and the `complete` flag
 * says which; with graceMs = keepHistoryMs every kept snapshot reads.
 */

import assert from "node:assert/strict";
import { blockCount, blockKey, blockLength } from "../src/blocks.ts";
import {
  checkpoint,
  commit,
  type CommitIndex,
  commitMeta,
  crc32,
  type DbState,
  encodeCommit,
  historyEntries,
  HistoryGoneError,
  type HistoryListing,
  iterateHistory,
  listAll,
  listHistory,
  logKey,
  logNamespace,
  logPrefix,
  newPutId,
  openAt,
  openForWrite,
  readBlocks,
  refresh,
  resolveAt,
  retention,
  runAsync,
  S3LogStore,
  type Step,
  type Timing,
  txidOfLogKey,
} from "../src/log/mod.ts";
import { atRiskBlocks, type BlockChange, completeFlags } from "../src/log/history_blocks.ts";
import { FAST_TIMING, FOLDABLE_AFTER_MS, freshBucket, patternBytes } from "./_harness.ts";

const BS = 16;
const PAGE = 8;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A database in one bucket, with the expected content at every txid. */
class Db {
  readonly expected = new Map<number, Uint8Array>([[0, new Uint8Array(0)]]);
  constructor(readonly store: S3LogStore, readonly prefix: string, public st: DbState) {}

  run<T>(step: Step<T>): Promise<T> {
    return runAsync(step, this.store);
  }

  /** Commits `next` as the whole new database (changed blocks only); returns its txid. */
  async write(next: Uint8Array): Promise<number> {
    await this.run(refresh(this.st));
    const old = this.expected.get(this.st.head)!;
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < blockCount(next.length, BS); i++) {
      const b = next.slice(i * BS, i * BS + blockLength(i, next.length, BS));
      const a = old.slice(i * BS, i * BS + blockLength(i, old.length, BS));
      if (a.length !== b.length || a.some((x, k) => x !== b[k])) blocks.set(i, b);
    }
    const tx = { putId: newPutId(), size: next.length, pageSize: PAGE, blocks };
    const out = await this.run(commit(this.st, tx));
    assert.equal(out.kind, "committed");
    this.expected.set(out.txid, next);
    return out.txid;
  }

  /**
   * PUTs at `txid` a void commit (its proof 10 s old, a block of junk) or an
   * abort marker, on a database of `prevSize` bytes (server time `now`).
   */
  async putObject(
    txid: number,
    kind: "void" | "abort",
    prevSize: number,
    now: number,
  ): Promise<void> {
    const junk = new Uint8Array(BS).fill(0xee);
    const index: CommitIndex = {
      txid,
      putId: newPutId(),
      kind: kind === "abort" ? "abort" : "commit",
      validatedAt: kind === "abort" ? now : now - 10_000,
      size: prevSize,
      prevSize,
      pageSize: PAGE,
      blockSize: BS,
      blocks: kind === "abort" ? [] : [{ index: 0, offset: 0, length: BS, crc: crc32(junk) }],
    };
    const body = encodeCommit(index, kind === "abort" ? [] : [junk]);
    const key = logKey(this.prefix, txid, logNamespace(this.st.config));
    const r = await this.store.run({
      kind: "put",
      key,
      body,
      ifNoneMatch: true,
      meta: commitMeta(index),
    });
    assert.equal(r.status, 200);
  }

  /** A void commit or an abort marker at the next txid; the writer moves past it. */
  async putNoop(kind: "void" | "abort"): Promise<number> {
    await this.run(refresh(this.st));
    const txid = this.st.head + 1;
    await this.putObject(txid, kind, this.st.size, this.st.provenAt);
    await this.run(refresh(this.st));
    assert.equal(this.st.head, txid);
    this.expected.set(txid, this.expected.get(txid - 1)!);
    return txid;
  }

  /** The whole database read at a frozen state (`cold`: without the probe's cached bytes). */
  async readAll(st: DbState, cold = false): Promise<Uint8Array> {
    if (cold) st.cache.clear();
    const n = blockCount(st.size, BS);
    return concat(await this.run(readBlocks(st, Array.from({ length: n }, (_, i) => i))));
  }

  /** Asserts that the snapshot at `txid` is exactly what was committed then. */
  async assertAt(txid: number): Promise<void> {
    const st = await this.run(openAt(this.prefix, txid));
    assert.equal(st.head, txid);
    assert.equal(st.frozen, true);
    const want = this.expected.get(txid)!;
    assert.equal(st.size, want.length, `size at txid ${txid}`);
    assert.deepEqual(await this.readAll(st), want, `content at txid ${txid}`);
    assert.deepEqual(await this.readAll(st, true), want, `content at txid ${txid} (no cache)`);
  }
}

async function newDb(
  label: string,
  timing = FAST_TIMING,
): Promise<{ db: Db; [Symbol.asyncDispose](): Promise<void> }> {
  const b = await freshBucket(label);
  const store = new S3LogStore(b.client, b.bucket);
  const prefix = "hist/app.db";
  const st = await runAsync(openForWrite(prefix, { blockSize: BS, timing }), store);
  return { db: new Db(store, prefix, st), [Symbol.asyncDispose]: () => b[Symbol.asyncDispose]() };
}

async function gone(p: Promise<unknown>, check?: (e: HistoryGoneError) => void): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof HistoryGoneError, `expected HistoryGoneError, got ${e}`);
    check?.(e);
    return true;
  });
}

Deno.test("history: past snapshots, entries and dates, across a checkpoint, shrink and grow", async () => {
  // R 30 s: the void commit (proof 10 s old) is not mistaken for a re-creation (lag > R - 3M).
  await using t = await newDb("hist-past", { ...FAST_TIMING, keepHistoryMs: 30_000 });
  const { db } = t;
  const gap = () => sleep(1100); // whole seconds apart, so dates tell the commits apart
  await db.write(patternBytes(40, 1)); // 1: blocks 0, 1, 2 (8 bytes)
  await gap();
  const two = db.expected.get(1)!.slice();
  two.set(patternBytes(16, 2), 16);
  await db.write(two); // 2: block 1
  await gap();
  await db.write(two.slice(0, 20)); // 3: shrink; block 1 becomes 4 bytes
  await gap();
  await db.putNoop("abort"); // 4
  await gap();
  await db.putNoop("void"); // 5
  await gap();
  const six = new Uint8Array(56);
  six.set(patternBytes(56, 6));
  six.set(two.slice(16, 20), 16); // 6: grow; block 0 changes, block 1 regrows
  await db.write(six);
  await gap();
  const seven = six.slice();
  seven.set(patternBytes(16, 7), 32);
  await db.write(seven); // 7: block 2

  // The history: kinds, sizes, pages changed (page 8 bytes), object sizes.
  const listing = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([listing.first, listing.oldest, listing.head], [1, 0, 7]);
  const entries = await db.run(historyEntries(listing, 0, 3));
  entries.push(...await db.run(historyEntries(listing, 3)));
  assert.deepEqual(
    entries.map((e) => [e.txid, e.kind, e.size, e.pagesChanged]),
    [
      [1, "commit", 40, 5],
      [2, "commit", 40, 2],
      [3, "commit", 20, 1],
      [4, "abort", 20, 0],
      [5, "void", 20, 0],
      [6, "commit", 56, 7],
      [7, "commit", 56, 2],
    ],
  );
  // Commit 1 wrote every block and every growth writes the new ones: nothing is read from the base.
  assert.deepEqual(entries.map((e) => e.complete), [true, true, true, true, true, true, true]);
  for (const e of entries) {
    const h = await db.store.run({
      kind: "head",
      key: logKey(db.prefix, e.txid, logNamespace(db.st.config)),
    });
    assert.equal(e.bytes, h.size);
    assert.equal(Math.floor(e.time.getTime() / 1000) * 1000, h.lastModified);
  }
  const iterated = [];
  for await (const e of iterateHistory(db.prefix, (s) => db.run(s), { batch: 2 })) iterated.push(e);
  assert.deepEqual(iterated, entries);

  // Dates: the newest commit written at or before (void and abort included).
  for (const e of entries) {
    assert.equal(await db.run(resolveAt(db.prefix, e.time)), e.txid);
    const later = new Date(e.time.getTime() + 900);
    if (e.txid < 7) assert.equal(await db.run(resolveAt(db.prefix, later)), e.txid);
  }
  assert.equal(await db.run(resolveAt(db.prefix, new Date(listing.date + 1000))), 7, "now");
  const before = new Date(entries[0].time.getTime() - 1);
  // Before the first commit of a database made through the log: it did not exist (txid 0 is empty).
  await assert.rejects(db.run(resolveAt(db.prefix, before)), /hist\/app\.db did not exist at/);
  assert.equal(await db.run(resolveAt(db.prefix, 0)), 0, "txid 0 itself: the empty database");
  await assert.rejects(db.run(resolveAt(db.prefix, new Date(Date.now() + 60_000))), RangeError);
  await assert.rejects(db.run(resolveAt(db.prefix, 8)), RangeError);
  await assert.rejects(db.run(openAt(db.prefix, 8)), RangeError);
  await assert.rejects(db.run(resolveAt(db.prefix, -1)), RangeError);

  for (let txid = 0; txid <= 7; txid++) await db.assertAt(txid);
  const atVoid = await db.run(openAt(db.prefix, entries[4].time));
  assert.equal(atVoid.head, 5);
  assert.deepEqual(await db.readAll(atVoid), db.expected.get(3), "the void commit changed nothing");

  // A checkpoint folds everything: the base blocks hold txids 6 and 7 now, the
  // past comes from the commit objects; txid 0 (before commit 1) is gone.
  await sleep(FOLDABLE_AFTER_MS);
  const folded = await db.run(checkpoint(db.prefix, db.st.config));
  assert.deepEqual(folded.kind === "folded" && [folded.from, folded.to], [0, 7]);
  const after = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([after.first, after.oldest, after.head, after.checkpoint.txid], [1, 1, 7, 7]);
  for (let txid = 1; txid <= 7; txid++) await db.assertAt(txid);
  await gone(db.run(resolveAt(db.prefix, 0)), (e) => {
    assert.equal(e.oldest, 1);
    assert.match(e.message, /txid 0 of hist\/app\.db is no longer kept: history starts at txid 1/);
  });
  await gone(db.run(openAt(db.prefix, before)));
});

/**
 * Commits 1-4 into `db`: 48 bytes (blocks 0-2), then block 0, then (9 s later, so 1 and 2 will be
 * older than R + M at a retention run) block 1, then block 2; waits until all four may be folded.
 */
async function fourCommits(
  db: Db,
): Promise<{ a: Uint8Array; b: Uint8Array; c: Uint8Array; d: Uint8Array }> {
  const a = patternBytes(48, 1); // blocks 0, 1, 2
  await db.write(a); // 1
  const b = a.slice();
  b.set(patternBytes(16, 2), 0);
  await db.write(b); // 2: block 0
  await sleep(9000); // commits 1 and 2 will be older than R + M at the retention run
  const c = b.slice();
  c.set(patternBytes(16, 3), 16);
  await db.write(c); // 3: block 1
  await sleep(1100); // dates tell 3 and 4 apart where LIST has whole seconds (versitygw)
  const d = c.slice();
  d.set(patternBytes(16, 4), 32);
  await db.write(d); // 4: block 2
  await sleep(FOLDABLE_AFTER_MS);
  return { a, b, c, d };
}

Deno.test("history: retention deletes old snapshots; a kept one reads what is kept", async () => {
  await using t = await newDb("hist-retention");
  const { db } = t;
  const { b, c, d } = await fourCommits(db);
  assert.equal((await db.run(checkpoint(db.prefix, db.st.config))).kind, "folded");

  // Opened before retention: snapshot 2 knows commit 2 (block 0) and commit 1 (blocks 1, 2).
  const at2 = await db.run(openAt(db.prefix, 2));
  const at3 = await db.run(openAt(db.prefix, 3));
  const listing: HistoryListing = (await db.run(listHistory(db.prefix)))!;
  const dateOf2 = new Date(listing.commits[1].lastModified);
  assert.equal(await db.run(resolveAt(db.prefix, dateOf2)), 2);

  const out = await db.run(retention(db.prefix, db.st.config));
  assert.equal(out.commits, 2, "commits 1 and 2 deleted, 3 and 4 kept");
  // A paused writer re-creates the deleted slot 2 (void): written seconds after
  // commit 3, it cannot be the original, so the kept history still starts at 3.
  await db.putObject(2, "void", 20, listing.date);
  const kept = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([kept.first, kept.oldest, kept.head], [3, 3, 4]);
  assert.deepEqual((await db.run(historyEntries(kept))).map((e) => e.txid), [3, 4]);

  // Deleted snapshots fail at resolve and at open, by txid and by date.
  for (const txid of [0, 1, 2]) {
    await gone(db.run(resolveAt(db.prefix, txid)), (e) => assert.equal(e.oldest, 3));
    await gone(db.run(openAt(db.prefix, txid)));
  }
  await gone(db.run(resolveAt(db.prefix, dateOf2)), (e) => assert.match(e.message, /starts at/));

  // The newest kept snapshot reads right.
  await db.assertAt(4);
  // Snapshot 3: block 1 from commit 3, block 0 from the base (it holds txid 2,
  // the version at 3); block 2's version at 3 was commit 1's, deleted, and the
  // base block holds txid 4 since the checkpoint: the open fails, naming it.
  assert.deepEqual((await db.run(historyEntries(kept))).map((x) => x.complete), [false, true]);
  await gone(db.run(openAt(db.prefix, 3)), (e) => {
    assert.deepEqual([e.block, e.found, e.txid], [2, 4, 3]);
    assert.match(e.message, /txid 3 of hist\/app\.db cannot be opened: block 2's version/);
  });
  // Opened before retention, read after: block 2 fails at the read, whatever the cache held.
  at3.cache.clear();
  assert.deepEqual(await db.run(readBlocks(at3, [0])), [c.slice(0, 16)]);
  await gone(db.run(readBlocks(at3, [2])), (e) => {
    assert.deepEqual([e.block, e.found, e.txid], [2, 4, 3]);
    assert.match(e.message, /block 2 of hist\/app\.db at txid 3 is no longer kept/);
  });
  assert.deepEqual(await db.run(readBlocks(at3, [1])), [c.slice(16, 32)]);
  // Snapshot 2, opened before retention: block 0's commit is gone but the base
  // holds exactly that version; blocks 1 and 2 were rewritten by 3 and 4.
  at2.cache.clear();
  assert.deepEqual(await db.run(readBlocks(at2, [0])), [b.slice(0, 16)]);
  await gone(db.run(readBlocks(at2, [1])), (e) => assert.equal(e.found, 3));

  // Later every commit is deleted: the checkpoint's state (txid 4) is all that is kept.
  await sleep(6000);
  assert.equal((await db.run(retention(db.prefix, db.st.config))).commits, 2);
  const none = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([none.first, none.oldest, none.head, none.commits.length], [5, 4, 4, 0]);
  await db.assertAt(4);
  assert.equal(await db.run(resolveAt(db.prefix, new Date(none.date))), 4);
  await gone(db.run(resolveAt(db.prefix, 3)));

  // A paused writer re-creates slot 4 (void, its proof old): not the commit
  // that decided txid 4 (that one was effective), so history skips it; then
  // commit 5 lands after it.
  await db.putObject(4, "void", 20, none.date);
  await db.assertAt(4);
  const e = d.slice();
  e.set(patternBytes(16, 5), 16);
  await db.write(e); // 5: block 1
  const last = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([last.first, last.oldest, last.head], [4, 4, 5]);
  assert.deepEqual((await db.run(historyEntries(last))).map((x) => [x.txid, x.kind]), [
    [5, "commit"],
  ]);
  await db.assertAt(4);
  await db.assertAt(5);
});

Deno.test("history: a Python database is txid 0 until adopted and folded", async () => {
  await using bkt = await freshBucket("hist-python");
  const store = new S3LogStore(bkt.client, bkt.bucket);
  const run = <T>(s: Step<T>): Promise<T> => runAsync(s, store);
  const prefix = "py/app.db";
  const blocks = [patternBytes(BS, 1), patternBytes(BS, 2), patternBytes(5, 3)];
  for (const [i, body] of blocks.entries()) {
    assert.equal((await store.run({ kind: "put", key: blockKey(prefix, i), body })).status, 200);
  }
  const py = (await run(listHistory(prefix)))!;
  assert.deepEqual([py.adopted, py.head, py.oldest, py.commits.length], [false, 0, 0, 0]);
  assert.equal(await run(resolveAt(prefix, new Date(py.date))), 0);
  await assert.rejects(run(resolveAt(prefix, 1)), RangeError);
  const at0 = await run(openAt(prefix, 0));
  assert.deepEqual(await run(readBlocks(at0, [0, 1, 2])), blocks);
  assert.equal(await run(listHistory("py/none.db")), null);

  // Adopted (record at txid 0, untagged blocks), then commit 1 rewrites block 0.
  const st = await run(openForWrite(prefix, { blockSize: BS, timing: FAST_TIMING }));
  const one = patternBytes(BS, 9);
  const c = await run(
    commit(st, { putId: newPutId(), size: 37, pageSize: PAGE, blocks: new Map([[0, one]]) }),
  );
  assert.equal(c.kind, "committed");
  const adopted0 = await run(openAt(prefix, 0));
  adopted0.cache.clear();
  assert.deepEqual(await run(readBlocks(adopted0, [0, 1, 2])), blocks, "untagged blocks: txid 0");
  const adopted1 = await run(openAt(prefix, 1));
  assert.deepEqual(await run(readBlocks(adopted1, [0, 1, 2])), [one, blocks[1], blocks[2]]);

  // Folded: block 0 holds txid 1; txid 0 is no longer kept, and the snapshots
  // opened before the fold fail on block 0 only.
  await sleep(FOLDABLE_AFTER_MS);
  assert.equal((await run(checkpoint(prefix, st.config))).kind, "folded");
  await gone(run(openAt(prefix, 0)));
  at0.cache.clear();
  assert.deepEqual(await run(readBlocks(at0, [1])), [blocks[1]]);
  await gone(run(readBlocks(at0, [0])), (e) => assert.deepEqual([e.block, e.found], [0, 1]));
  assert.deepEqual(await run(readBlocks(adopted0, [0])), [blocks[0]], "cached: still right");
  adopted0.cache.clear();
  await gone(run(readBlocks(adopted0, [0])));
  assert.deepEqual(await run(readBlocks(adopted1, [0, 1])), [one, blocks[1]]);
});

Deno.test("history: a snapshot whose block was folded over fails at open; complete says which", async () => {
  await using t = await newDb("hist-complete");
  const { db } = t;
  const { d } = await fourCommits(db);
  assert.equal((await db.run(checkpoint(db.prefix, db.st.config))).kind, "folded"); // to 4
  assert.equal((await db.run(retention(db.prefix, db.st.config))).commits, 2);
  const e = d.slice();
  e.set(patternBytes(16, 5), 0);
  await db.write(e); // 5: block 0
  await sleep(FOLDABLE_AFTER_MS); // commit 5 is foldable (older than G + M), not folded yet

  // Snapshot 3 reads blocks 0 and 2 from the base (their versions at 3 were
  // commits 2 and 1, deleted); 4 rewrote block 2 and was folded, 5 rewrote
  // block 0 and may be. Snapshot 4 reads block 0 from the base. 5 reads none.
  const listing = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual([listing.first, listing.head, listing.checkpoint.txid], [3, 5, 4]);
  const entries = await db.run(historyEntries(listing));
  assert.deepEqual(entries.map((x) => [x.txid, x.complete]), [[3, false], [4, false], [5, true]]);
  const iterated = [];
  for await (const x of iterateHistory(db.prefix, (s) => db.run(s), { batch: 1 })) iterated.push(x);
  assert.deepEqual(iterated.map((x) => x.complete), [false, false, true]);

  // At open, not at a later read: block 2 holds txid 4 (block 0 holds 2, still right).
  await gone(db.run(openAt(db.prefix, 3)), (err) => {
    assert.deepEqual([err.block, err.found, err.txid], [2, 4, 3]);
    assert.match(
      err.message,
      /^txid 3 of hist\/app\.db cannot be opened: block 2's version at txid 3 is gone \(its base block holds txid 4/,
    );
    assert.match(err.message, /timing\.graceMs equal to timing\.keepHistoryMs/);
  });
  await gone(db.run(openAt(db.prefix, new Date(listing.commits[0].lastModified))), (err) => {
    assert.deepEqual([err.block, err.txid], [2, 3]);
    assert.match(err.message, /^\d{4}-\S+ \(txid 3\) of hist\/app\.db cannot be opened/);
  });
  // Not complete, but nothing was folded over block 0 yet: snapshot 4 opens and reads right.
  const at4 = await db.run(openAt(db.prefix, 4));
  assert.deepEqual(await db.readAll(at4, true), d);
  await db.assertAt(4);
  await db.assertAt(5); // complete
  // Commit 5 folded: now snapshot 4 fails at open, and the state opened before fails at the read.
  // (No retention in this run: 3 and 4 are older than R + M by now, and must stay listed.)
  const folded5 = await db.run(checkpoint(db.prefix, db.st.config, { retention: false }));
  assert.equal(folded5.kind, "folded");
  await gone(db.run(openAt(db.prefix, 4)), (err) => {
    assert.deepEqual([err.block, err.found, err.txid], [0, 5, 4]);
  });
  at4.cache.clear();
  assert.deepEqual(await db.run(readBlocks(at4, [1, 2])), [d.slice(16, 32), d.slice(32, 48)]);
  await gone(db.run(readBlocks(at4, [0])), (err) => {
    assert.deepEqual([err.block, err.found], [0, 5]);
    assert.match(err.message, /block 0 of hist\/app\.db at txid 4 is no longer kept/);
  });
  const now = (await db.run(listHistory(db.prefix)))!;
  assert.deepEqual(
    (await db.run(historyEntries(now))).map((x) => [x.txid, x.complete]),
    [[3, false], [4, false], [5, true]],
  );
  await db.assertAt(5);
});

Deno.test("history: with graceMs = keepHistoryMs every kept snapshot reads", async () => {
  // G = R = 6 s: commits are folded and deleted only when older than 7 s (8 s in whole seconds).
  const full: Timing = { ...FAST_TIMING, graceMs: 6000, keepHistoryMs: 6000 };
  await using t = await newDb("hist-full", full);
  const { db } = t;
  const logKeys = async (): Promise<number[]> =>
    (await db.run(listAll(logPrefix(db.prefix, logNamespace(db.st.config))))).entries.map((e) =>
      txidOfLogKey(db.prefix, e.key, logNamespace(db.st.config))!
    );
  const change = (txid: number, size: number, at: number, seed: number): Uint8Array => {
    const next = new Uint8Array(size);
    next.set(db.expected.get(txid)!.slice(0, size));
    if (at < size) next.set(patternBytes(Math.min(16, size - at), seed), at);
    return next;
  };
  /** Every listed snapshot opens and reads what was committed; returns the entries. */
  const assertKept = async () => {
    const listing = (await db.run(listHistory(db.prefix)))!;
    for (let txid = listing.oldest; txid <= listing.head; txid++) await db.assertAt(txid);
    return { listing, entries: await db.run(historyEntries(listing)) };
  };
  await db.write(patternBytes(64, 1)); // 1: blocks 0-3
  await db.write(change(1, 64, 16, 2)); // 2: block 1
  await db.write(change(2, 40, 40, 0)); // 3: shrink to 40 (block 2 cut to 8 bytes)
  // The windows allow for a store whose Date trails its clock by a second (versitygw).
  await sleep(5000);
  await db.write(change(3, 72, 32, 4)); // 4: grow to 72 (blocks 2, 3, 4)
  await db.write(change(4, 72, 0, 5)); // 5: block 0
  await sleep(5000); // 1-3 are older than G + M + 2 s, 4-5 younger than G + M
  const f1 = await db.run(checkpoint(db.prefix, db.st.config));
  assert.deepEqual(f1.kind === "folded" && [f1.from, f1.to], [0, 3]);
  await db.write(change(5, 72, 48, 6)); // 6: block 3
  await db.write(change(6, 72, 16, 7)); // 7: block 1
  assert.equal((await db.run(retention(db.prefix, db.st.config))).commits, 3);
  assert.deepEqual(await logKeys(), [4, 5, 6, 7]);
  // Snapshot 3 reads every block from the base; 4 and 5 rewrote blocks 0 and 2
  // but are not folded: every snapshot opens, and all are complete.
  let { listing, entries } = await assertKept();
  assert.deepEqual([listing.oldest, listing.first, listing.head], [3, 4, 7]);
  assert.deepEqual(entries.map((x) => [x.txid, x.complete]), [[4, true], [5, true], [6, true], [
    7,
    true,
  ]]);

  await sleep(5000); // 4-5 are older than R + M, but not folded: retention keeps them
  assert.equal((await db.run(retention(db.prefix, db.st.config))).commits, 0);
  assert.deepEqual(await logKeys(), [4, 5, 6, 7]);
  ({ listing, entries } = await assertKept());
  assert.deepEqual([listing.oldest, listing.head], [3, 7]);
  const f2 = await db.run(checkpoint(db.prefix, db.st.config));
  assert.deepEqual(f2.kind === "folded" && [f2.from, f2.to], [3, 5]);
  assert.equal((await db.run(retention(db.prefix, db.st.config))).commits, 2);
  assert.deepEqual(await logKeys(), [6, 7]);
  ({ listing, entries } = await assertKept());
  assert.deepEqual([listing.oldest, listing.first, listing.head], [5, 6, 7]);
  assert.deepEqual(entries.map((x) => [x.txid, x.complete]), [[6, true], [7, true]]);
});

Deno.test("history: complete flags agree with the at-risk blocks of each snapshot", () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const bs = 4;
  for (let round = 0; round < 400; round++) {
    const changes: (BlockChange | null)[] = [];
    let size = rand(40);
    for (let k = 0, len = 1 + rand(12); k < len; k++) {
      if (rand(12) === 0) {
        changes.push(null); // left out: unknown
        continue;
      }
      if (rand(6) === 0) {
        changes.push({ prevSize: size, size, written: [] }); // void
        continue;
      }
      const next = rand(3) === 0 ? rand(40) : size;
      const [n0, n] = [Math.ceil(size / bs), Math.ceil(next / bs)];
      const written = new Set(Array.from({ length: rand(3) }, () => rand(n + 1)));
      for (let i = n0; i < n; i++) written.add(i); // grown
      if (next !== size) written.add(n - 1).add(n0 - 1); // the last blocks change length
      changes.push({
        prevSize: size,
        size: next,
        written: [...written].filter((i) => i >= 0 && i < n).sort((x, y) => x - y),
      });
      size = next;
    }
    const flags = completeFlags(changes, bs);
    const from = changes.findLastIndex((c) => c === null) + 1;
    const known = new Set<number>();
    changes.forEach((c, k) => {
      if (k < from) return assert.equal(flags[k], false);
      for (const i of c!.written) known.add(i);
      const n = Math.ceil(c!.size / bs);
      const later = changes.slice(k + 1);
      const want: number[] = [];
      for (let i = 0; i < n; i++) {
        const changed = later.some((u) =>
          !u || u.written.includes(i) || i >= Math.ceil(u.size / bs)
        );
        if (!known.has(i) && changed) want.push(i);
      }
      const has = { has: (i: number) => known.has(i) && i < n };
      assert.deepEqual(atRiskBlocks(has, c!.size, later, bs), want, `round ${round}, commit ${k}`);
      assert.equal(flags[k], want.length === 0, `round ${round}, commit ${k}`);
    });
  }
});

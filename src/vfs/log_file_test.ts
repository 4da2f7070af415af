/**
 * Unit tests of the database io methods of the VFS handlers
 * (src/vfs/handlers.ts) and the commit-log file behind them
 * (src/vfs/log_file.ts), called as plain TypeScript over the in-memory
 * protocol store of the simulator (tests/log_sim_store.ts: S3's conditional
 * semantics, synchronous). Requests are counted by kind. No S3, no FFI.
 */

import assert from "node:assert/strict";
import { SQLITE_BUSY_SNAPSHOT } from "../codes.ts";
import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { runSync } from "../log/driver.ts";
import { MemStore } from "../../tests/log_sim_store.ts";
import { commitKey } from "../../tests/log_helpers.ts";
import { checkpoint } from "../log/checkpoint.ts";
import { DatabaseReplacedError } from "../log/errors.ts";
import { readConfig } from "../log/records.ts";
import { BlockCache } from "./cache.ts";
import { S3Handlers } from "./handlers.ts";
import type { LogContext } from "./log_file.ts";

const B = 512;
const MAIN = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READWRITE | F.SQLITE_OPEN_CREATE;
const { SQLITE_LOCK_NONE: NONE, SQLITE_LOCK_SHARED: SHARED } = F;
const { SQLITE_LOCK_RESERVED: RESERVED, SQLITE_LOCK_EXCLUSIVE: EXCLUSIVE } = F;
/** The key of commit `txid` of "db" in `mem` (its log lives under its config id). */
const LOG = (mem: MemStore, txid: number): string => commitKey(mem, "db", txid);

/** One VFS's handlers over `mem`. */
interface Vfs {
  h: S3Handlers;
  /** Requests since the last call, by kind ("get", "put", "list", "head", "delete"). */
  take(): Record<string, number>;
  /** Prefixes passed to `maintain`. */
  maintained: string[];
}

/** A protocol store at a fixed server time. */
const store = (): MemStore => new MemStore(Date.UTC(2025, 0, 1));

/** Handlers over `mem`, with their own block cache, counting every `mem.apply`. */
function vfs(mem: MemStore, checkpointEvery = 100, cacheBytes = 1 << 20): Vfs {
  const counts: Record<string, number> = {};
  const maintained: string[] = [];
  const context: LogContext = {
    run: (gen) =>
      runSync(gen, {
        runBatch: (ops) =>
          ops.map((op) => {
            counts[op.kind] = (counts[op.kind] ?? 0) + 1;
            return mem.apply(op);
          }),
      }),
    cache: new BlockCache(cacheBytes),
    blockSize: B,
    spillBytes: 1 << 20,
    lease: null,
    staleness: 0,
    readAhead: null,
    maintain: (prefix) => maintained.push(prefix),
    checkpointEvery,
    requestTimeoutMs: 10_000,
  };
  const take = (): Record<string, number> => {
    const c = { ...counts };
    for (const k of Object.keys(counts)) delete counts[k];
    return c;
  };
  return { h: new S3Handlers({ bucket: "bkt", context }), take, maintained };
}

/** Every key with its ETag: what "nothing changed in the store" compares. */
const snapshot = (mem: MemStore): [string, string][] =>
  [...mem.objects].map(([k, o]) => [k, o.etag]);

/** `n` bytes of `value`. */
const fill = (n: number, value: number): Uint8Array => new Uint8Array(n).fill(value);

/** Bytes of file `id` at `offset`. */
function read(h: S3Handlers, id: number, n: number, offset: number): Uint8Array {
  const dst = new Uint8Array(n);
  h.xRead(id, dst, offset);
  return dst;
}

/** One write transaction: lock, write `src` at `offset`, xSync, unlock. */
function transact(h: S3Handlers, id: number, src: Uint8Array, offset: number): void {
  for (const level of [SHARED, RESERVED, EXCLUSIVE]) assert.equal(h.xLock(id, level), F.SQLITE_OK);
  assert.equal(h.xWrite(id, src, offset), F.SQLITE_OK);
  assert.equal(h.xSync(id, F.SQLITE_SYNC_NORMAL), F.SQLITE_OK);
  assert.equal(h.xUnlock(id, NONE), F.SQLITE_OK);
}

const size = (h: S3Handlers, id: number): number => {
  const out = new DataView(new ArrayBuffer(8));
  assert.equal(h.xFileSize(id, out), F.SQLITE_OK);
  return Number(out.getBigInt64(0, true));
};

Deno.test("S3Handlers io methods behaviour: bytes in, bytes out, one commit object at xSync", () => {
  const mem = store();
  const { h, take, maintained } = vfs(mem, 2);
  assert.equal(h.xOpen("db", 7, MAIN, null), F.SQLITE_OK);
  for (const level of [SHARED, RESERVED, EXCLUSIVE]) assert.equal(h.xLock(7, level), F.SQLITE_OK);
  take();
  const page = new Uint8Array(B).map((_, i) => i % 251);
  assert.equal(h.xWrite(7, page, 0), F.SQLITE_OK);
  assert.equal(h.xWrite(7, fill(B, 2), B), F.SQLITE_OK);
  assert.equal(size(h, 7), 2 * B);
  assert.deepEqual(read(h, 7, 4, B - 2), new Uint8Array([page[B - 2], page[B - 1], 2, 2]));
  assert.deepEqual(take(), {}, "writes and reads of the transaction need no request");
  assert.equal(mem.objects.size, 0, "nothing written before xSync");
  assert.equal(h.xSync(7, F.SQLITE_SYNC_NORMAL), F.SQLITE_OK);
  assert.deepEqual(
    [...mem.objects.keys()].sort(),
    ["db.s3vfs/checkpoint", "db.s3vfs/config", LOG(mem, 1)],
    "config, checkpoint record and ONE commit object",
  );
  assert.equal(take().put, 3);
  // Short reads zero-fill; everything comes from the cache.
  const dst = fill(B + 10, 0xff);
  assert.equal(h.xRead(7, dst, B), F.SQLITE_IOERR_SHORT_READ);
  assert.deepEqual(dst.subarray(0, B), fill(B, 2));
  assert.deepEqual(dst.subarray(B), new Uint8Array(10), "a short read zero-fills");
  assert.equal(h.xRead(7, dst, 4 * B), F.SQLITE_IOERR_SHORT_READ);
  assert.deepEqual(dst, new Uint8Array(B + 10), "a read past the end is all zeros");
  // A truncation from an up-to-date state: one PUT, nothing else.
  assert.equal(h.xTruncate(7, B), F.SQLITE_OK);
  assert.equal(size(h, 7), B);
  assert.equal(h.xSync(7, F.SQLITE_SYNC_NORMAL), F.SQLITE_OK);
  assert.deepEqual(take(), { put: 1 });
  assert.ok(mem.objects.has(LOG(mem, 2)));
  assert.deepEqual(maintained, ["db"], "checkpointEvery 2: asked after the second commit");
  assert.equal(h.xSync(7, F.SQLITE_SYNC_NORMAL), F.SQLITE_OK, "nothing to commit");
  assert.deepEqual(take(), {});
  assert.equal(h.xUnlock(7, NONE), F.SQLITE_OK);
  assert.deepEqual(read(h, 7, B, 0), page);
  assert.equal(size(h, 7), B);
  assert.equal(h.xFileControl(7, F.SQLITE_FCNTL_SYNC), F.SQLITE_OK);
  assert.equal(h.xFileControl(7, F.SQLITE_FCNTL_PRAGMA), F.SQLITE_NOTFOUND);
  assert.equal(h.xSectorSize(7), 512);
  assert.equal(
    h.xDeviceCharacteristics(7) & F.SQLITE_IOCAP_SAFE_APPEND,
    F.SQLITE_IOCAP_SAFE_APPEND,
  );
  assert.equal(h.xClose(7), F.SQLITE_OK);
  assert.throws(() => h.xRead(7, dst, 0), /unknown file handle/);
});

Deno.test("S3Handlers.xLock() behaviour: a second VFS sees new commits at xLock(SHARED)", () => {
  const mem = store();
  const a = vfs(mem);
  a.h.xOpen("db", 1, MAIN, null);
  transact(a.h, 1, fill(2 * B, 1), 0);
  const b = vfs(mem);
  assert.equal(b.h.xOpen("db", 1, MAIN | F.SQLITE_OPEN_READONLY, null), F.SQLITE_OK);
  b.take();
  assert.equal(b.h.xLock(1, SHARED), F.SQLITE_OK);
  assert.deepEqual(b.take(), { get: 1 }, "a refresh with nothing new: 1 GET");
  assert.deepEqual(read(b.h, 1, 2 * B, 0), fill(2 * B, 1));
  assert.deepEqual(b.take(), {}, "the blocks came inline with the commit");
  assert.equal(b.h.xUnlock(1, NONE), F.SQLITE_OK);
  a.take();
  transact(a.h, 1, fill(B, 3), B);
  assert.deepEqual(a.take(), { get: 1, put: 1 }, "refresh, then a single-block commit");
  assert.equal(b.h.xLock(1, SHARED), F.SQLITE_OK);
  assert.deepEqual(b.take(), { get: 2 }, "log/2, then a 404 for log/3");
  assert.equal(size(b.h, 1), 2 * B);
  assert.deepEqual(read(b.h, 1, 2 * B, 0), new Uint8Array([...fill(B, 1), ...fill(B, 3)]));
  assert.deepEqual(b.take(), {});
  assert.equal(b.h.xUnlock(1, NONE), F.SQLITE_OK);
  assert.equal(b.h.xLock(1, SHARED), F.SQLITE_OK);
  assert.deepEqual(b.take(), { get: 1 });
});

Deno.test("S3Handlers.xSync() behaviour: the second commit on one snapshot is SQLITE_BUSY_SNAPSHOT", () => {
  const mem = store();
  const [a, b] = [vfs(mem), vfs(mem)];
  a.h.xOpen("db", 1, MAIN, null);
  transact(a.h, 1, fill(2 * B, 1), 0);
  b.h.xOpen("db", 1, MAIN, null);
  for (const v of [a, b]) {
    for (const level of [SHARED, RESERVED, EXCLUSIVE]) v.h.xLock(1, level);
    v.take();
  }
  assert.equal(a.h.xWrite(1, fill(10, 0xa), 5), F.SQLITE_OK);
  assert.equal(b.h.xWrite(1, fill(10, 0xb), 5), F.SQLITE_OK);
  assert.equal(a.h.xSync(1, 0), F.SQLITE_OK, "the first commit of txid 2 wins");
  assert.deepEqual(a.take(), { put: 1 });
  const before = snapshot(mem);
  let lost: unknown;
  assert.throws(() => b.h.xSync(1, 0), (e) => (lost = e) instanceof VfsError);
  assert.equal((lost as VfsError).sqliteCode, SQLITE_BUSY_SNAPSHOT);
  assert.equal(b.h.fail(lost, F.SQLITE_IOERR_FSYNC), SQLITE_BUSY_SNAPSHOT, "what C gets");
  assert.deepEqual(b.take(), { put: 1, head: 1 }, "the lost PUT, then a HEAD to read it back");
  assert.deepEqual(snapshot(mem), before, "nothing of the lost transaction is stored");
  assert.throws(() => b.h.xSync(1, 0), /already lost its commit/);
  // SQLite's rollback writes the snapshot's bytes back and syncs: a no-op.
  assert.equal(b.h.xWrite(1, fill(10, 1), 5), F.SQLITE_OK);
  assert.equal(b.h.xSync(1, 0), F.SQLITE_OK);
  assert.deepEqual(b.take(), {});
  assert.deepEqual(snapshot(mem), before);
  assert.equal(b.h.xUnlock(1, NONE), F.SQLITE_OK);
  assert.equal(a.h.xUnlock(1, NONE), F.SQLITE_OK);
  // Retried on a fresh snapshot, it commits txid 3 on top of the winner's.
  transact(b.h, 1, fill(2, 0xc), 0);
  assert.equal(b.take().put, 1);
  assert.ok(mem.objects.has(LOG(mem, 3)));
  a.h.xLock(1, SHARED);
  const want = fill(2 * B, 1);
  want.fill(0xa, 5, 15).fill(0xc, 0, 2);
  assert.deepEqual(read(a.h, 1, 2 * B, 0), want);
});

// Found by review: a database created by another process, and the loser of a creation race.

Deno.test({
  name: "S3Handlers.xOpen() behaviour: a database another process created since can be opened",
  fn(): void {
    const mem = store();
    const { h } = vfs(mem);
    const RO = F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READONLY;
    assert.throws(() => h.xOpen("db", 1, RO, null), /no database/);
    const other = vfs(mem).h;
    other.xOpen("db", 1, MAIN, null);
    transact(other, 1, fill(B, 1), 0);
    assert.equal(h.xOpen("db", 1, RO, null), F.SQLITE_OK); // throws: "absent" was cached
  },
});

Deno.test({
  name: "S3Handlers.xSync() behaviour: the loser of a creation race can roll back",
  fn(): void {
    const mem = store();
    const [a, b] = [vfs(mem), vfs(mem)];
    a.h.xOpen("db", 1, MAIN, null);
    b.h.xOpen("db", 1, MAIN, null);
    for (const level of [SHARED, RESERVED, EXCLUSIVE]) b.h.xLock(1, level);
    transact(a.h, 1, fill(B, 1), 0);
    b.h.xWrite(1, fill(B, 2), 0);
    assert.throws(
      () => b.h.xSync(1, 0),
      (e) => e instanceof VfsError && e.sqliteCode === SQLITE_BUSY_SNAPSHOT,
    );
    // The rollback of a new (empty) database: truncate to 0 bytes, then xSync.
    assert.equal(b.h.xTruncate(1, 0), F.SQLITE_OK);
    assert.equal(b.h.xSync(1, 0), F.SQLITE_OK); // fails: SQLITE_BUSY_SNAPSHOT again
  },
});

Deno.test("S3Handlers behaviour: a database deleted and created again under an open connection fails it clearly; a new one opens what is there", () => {
  const mem = store();
  const a = vfs(mem, 100, 0); // no block cache: reads go to S3
  a.h.xOpen("db", 1, MAIN, null);
  transact(a.h, 1, fill(2 * B, 1), 0);
  // Deleted (every object), then created again by another process, and folded.
  for (const k of [...mem.objects.keys()]) mem.objects.delete(k);
  const b = vfs(mem);
  b.h.xOpen("db", 1, MAIN, null);
  transact(b.h, 1, fill(2 * B, 7), 0);
  mem.now += 70_000; // the default grace period passed
  const config = runSync(readConfig("db"), { runBatch: (ops) => ops.map((o) => mem.apply(o)) })!;
  runSync(checkpoint("db", config), { runBatch: (ops) => ops.map((o) => mem.apply(o)) });
  // The old connection: its next read finds a block of another incarnation, checks the record.
  assert.equal(a.h.xLock(1, SHARED), F.SQLITE_OK);
  assert.throws(() => read(a.h, 1, B, 0), DatabaseReplacedError);
  assert.throws(() => a.h.xLock(1, SHARED), DatabaseReplacedError, "the handle stays failed");
  assert.equal(a.h.xUnlock(1, NONE), F.SQLITE_OK);
  assert.equal(a.h.xClose(1), F.SQLITE_OK);
  // A new connection of the same VFS opens the database there now.
  assert.equal(a.h.xOpen("db", 2, MAIN, null), F.SQLITE_OK);
  assert.equal(a.h.xLock(2, SHARED), F.SQLITE_OK);
  assert.deepEqual(read(a.h, 2, 2 * B, 0), fill(2 * B, 7));
});

Deno.test("S3Handlers behaviour: maintenance is asked for when a read-write open finds commits past the grace period, after a commit and at the last close; never by a reader", () => {
  const mem = store();
  const w = vfs(mem);
  w.h.xOpen("db", 1, MAIN, null);
  transact(w.h, 1, fill(B, 1), 0);
  assert.deepEqual(w.maintained, [], "a young commit: nothing due");
  w.h.xClose(1);
  mem.now += 70_000; // past G + M, by the server's clock
  const reader = vfs(mem);
  reader.h.xOpen("db", 1, F.SQLITE_OPEN_MAIN_DB | F.SQLITE_OPEN_READONLY, null);
  reader.h.xClose(1);
  assert.deepEqual(reader.maintained, [], "a read-only process never folds");
  const next = vfs(mem);
  next.h.xOpen("db", 1, MAIN, null);
  assert.deepEqual(next.maintained, ["db"], "a short-lived writer: asked at open");
  transact(next.h, 1, fill(B, 2), 0);
  assert.deepEqual(next.maintained, ["db", "db"], "and after its commit (the old one is due)");
  next.h.xClose(1);
  assert.deepEqual(next.maintained, ["db", "db", "db"], "and when its last connection closes");
});

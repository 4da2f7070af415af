/**
 * Unit tests of the per-file lock state machine (src/vfs/locks.ts):
 * NONE -> SHARED -> RESERVED -> PENDING -> EXCLUSIVE, what blocks what
 * between holders, and unlocking.
 */

import assert from "node:assert/strict";
import {
  LOCK_EXCLUSIVE,
  LOCK_NONE,
  LOCK_PENDING,
  LOCK_RESERVED,
  LOCK_SHARED,
  type LockHolder,
  LockTable,
} from "./locks.ts";

const holder = (): LockHolder => ({ level: LOCK_NONE });

/** A table and `n` holders all at SHARED. */
function sharedBy(n: number): { t: LockTable; hs: LockHolder[] } {
  const t = new LockTable();
  const hs = Array.from({ length: n }, holder);
  for (const h of hs) assert.equal(t.lock(h, LOCK_SHARED), true);
  return { t, hs };
}

Deno.test("LOCK_* constants are SQLite's lock levels 0..4", () => {
  assert.deepEqual(
    [LOCK_NONE, LOCK_SHARED, LOCK_RESERVED, LOCK_PENDING, LOCK_EXCLUSIVE],
    [0, 1, 2, 3, 4],
  );
});

Deno.test("LockTable.lock() walks one holder NONE -> SHARED -> RESERVED -> EXCLUSIVE", () => {
  const t = new LockTable();
  const h = holder();
  assert.equal(t.reservedHeld(), false);
  assert.equal(t.lock(h, LOCK_SHARED), true);
  assert.equal(h.level, LOCK_SHARED);
  assert.equal(t.sharedCount, 1);
  assert.equal(t.reservedHeld(), false);
  assert.equal(t.lock(h, LOCK_RESERVED), true);
  assert.equal(h.level, LOCK_RESERVED);
  assert.equal(t.reservedHeld(), true);
  assert.equal(t.lock(h, LOCK_EXCLUSIVE), true);
  assert.equal(h.level, LOCK_EXCLUSIVE);
  assert.equal(t.sharedCount, 1);
});

Deno.test("LockTable.lock() goes SHARED -> EXCLUSIVE directly when alone", () => {
  const { t, hs: [h] } = sharedBy(1);
  assert.equal(t.lock(h, LOCK_EXCLUSIVE), true);
  assert.equal(h.level, LOCK_EXCLUSIVE);
  assert.equal(t.reservedHeld(), true);
});

Deno.test("LockTable.lock() takes PENDING on request and EXCLUSIVE from PENDING", () => {
  const { t, hs: [h] } = sharedBy(1);
  assert.equal(t.lock(h, LOCK_PENDING), true);
  assert.equal(h.level, LOCK_PENDING);
  assert.equal(t.reservedHeld(), true);
  assert.equal(t.lock(h, LOCK_EXCLUSIVE), true);
  assert.equal(h.level, LOCK_EXCLUSIVE);
});

Deno.test("LockTable.lock() at or below the current level succeeds and changes nothing", () => {
  const { t, hs: [h] } = sharedBy(1);
  assert.equal(t.lock(h, LOCK_RESERVED), true);
  assert.equal(t.lock(h, LOCK_SHARED), true);
  assert.equal(t.lock(h, LOCK_RESERVED), true);
  assert.equal(h.level, LOCK_RESERVED);
  assert.equal(t.sharedCount, 1, "a repeated SHARED is not counted twice");
});

Deno.test("LockTable.lock() throws for RESERVED/PENDING/EXCLUSIVE without SHARED first", () => {
  for (const level of [LOCK_RESERVED, LOCK_PENDING, LOCK_EXCLUSIVE]) {
    const t = new LockTable();
    const h = holder();
    assert.throws(() => t.lock(h, level), RangeError);
    assert.equal(h.level, LOCK_NONE);
    assert.equal(t.reservedHeld(), false);
  }
});

Deno.test("LockTable.lock() lets many holders share SHARED and counts them", () => {
  const { t, hs } = sharedBy(3);
  assert.equal(t.sharedCount, 3);
  assert.ok(hs.every((h) => h.level === LOCK_SHARED));
});

Deno.test("LockTable.lock() allows SHARED while another holder has RESERVED", () => {
  const { t, hs: [w] } = sharedBy(1);
  assert.equal(t.lock(w, LOCK_RESERVED), true);
  const r = holder();
  assert.equal(t.lock(r, LOCK_SHARED), true);
  assert.equal(t.sharedCount, 2);
});

Deno.test("LockTable.lock() refuses RESERVED while another holder has RESERVED", () => {
  const { t, hs: [a, b] } = sharedBy(2);
  assert.equal(t.lock(a, LOCK_RESERVED), true);
  assert.equal(t.lock(b, LOCK_RESERVED), false);
  assert.equal(b.level, LOCK_SHARED);
  assert.equal(t.lock(b, LOCK_EXCLUSIVE), false, "nor EXCLUSIVE");
  assert.equal(b.level, LOCK_SHARED, "a refused EXCLUSIVE behind RESERVED stays SHARED");
});

Deno.test("LockTable.lock() refuses EXCLUSIVE while other SHARED holders remain, leaving PENDING", () => {
  const { t, hs: [w, r] } = sharedBy(2);
  assert.equal(t.lock(w, LOCK_EXCLUSIVE), false);
  assert.equal(w.level, LOCK_PENDING);
  assert.equal(t.reservedHeld(), true);
  // The reader leaves: the retry succeeds.
  t.unlock(r, LOCK_NONE);
  assert.equal(t.sharedCount, 1);
  assert.equal(t.lock(w, LOCK_EXCLUSIVE), true);
  assert.equal(w.level, LOCK_EXCLUSIVE);
});

Deno.test("LockTable.lock() refuses new SHARED while another holder is PENDING", () => {
  const { t, hs: [w] } = sharedBy(2);
  assert.equal(t.lock(w, LOCK_EXCLUSIVE), false); // stuck at PENDING
  const late = holder();
  assert.equal(t.lock(late, LOCK_SHARED), false);
  assert.equal(late.level, LOCK_NONE);
  assert.equal(t.sharedCount, 2);
});

Deno.test("LockTable.lock() refuses SHARED, RESERVED and PENDING while another holds EXCLUSIVE", () => {
  const { t, hs: [w, r] } = sharedBy(2);
  t.unlock(r, LOCK_NONE);
  assert.equal(t.lock(w, LOCK_EXCLUSIVE), true);
  assert.equal(t.lock(r, LOCK_SHARED), false);
  assert.equal(r.level, LOCK_NONE);
  // A holder that kept SHARED from before cannot climb either.
  const { t: t2, hs: [a, b] } = sharedBy(2);
  assert.equal(t2.lock(a, LOCK_PENDING), true);
  assert.equal(t2.lock(b, LOCK_RESERVED), false);
  assert.equal(t2.lock(b, LOCK_PENDING), false);
  assert.equal(b.level, LOCK_SHARED);
});

Deno.test("LockTable.lock() refuses PENDING while another holder has RESERVED", () => {
  const { t, hs: [a, b] } = sharedBy(2);
  assert.equal(t.lock(a, LOCK_RESERVED), true);
  assert.equal(t.lock(b, LOCK_PENDING), false);
  assert.equal(b.level, LOCK_SHARED);
});

Deno.test("LockTable.unlock() to SHARED releases RESERVED, PENDING and EXCLUSIVE but keeps the count", () => {
  const { t, hs: [a, b] } = sharedBy(2);
  t.unlock(b, LOCK_NONE);
  assert.equal(t.lock(a, LOCK_EXCLUSIVE), true);
  t.unlock(a, LOCK_SHARED);
  assert.equal(a.level, LOCK_SHARED);
  assert.equal(t.sharedCount, 1);
  assert.equal(t.reservedHeld(), false);
  // Everything is free for the other holder again.
  assert.equal(t.lock(b, LOCK_SHARED), true);
  assert.equal(t.lock(b, LOCK_RESERVED), true);
});

Deno.test("LockTable.unlock() to NONE from EXCLUSIVE drops the shared count too", () => {
  const { t, hs: [a] } = sharedBy(1);
  assert.equal(t.lock(a, LOCK_EXCLUSIVE), true);
  t.unlock(a, LOCK_NONE);
  assert.equal(a.level, LOCK_NONE);
  assert.equal(t.sharedCount, 0);
  assert.equal(t.reservedHeld(), false);
});

Deno.test("LockTable.unlock() of a PENDING writer lets new readers in", () => {
  const { t, hs: [w] } = sharedBy(2);
  assert.equal(t.lock(w, LOCK_EXCLUSIVE), false);
  t.unlock(w, LOCK_SHARED);
  assert.equal(t.reservedHeld(), false);
  assert.equal(t.lock(holder(), LOCK_SHARED), true);
  assert.equal(t.sharedCount, 3);
});

Deno.test("LockTable.unlock() at or above the current level is a no-op", () => {
  const { t, hs: [a] } = sharedBy(1);
  t.unlock(a, LOCK_SHARED);
  assert.equal(a.level, LOCK_SHARED);
  assert.equal(t.sharedCount, 1);
  const n = holder();
  t.unlock(n, LOCK_NONE);
  assert.equal(t.sharedCount, 1, "unlocking a holder at NONE does not decrement");
});

Deno.test("LockTable.unlock() by a holder not owning RESERVED leaves the owner's lock", () => {
  const { t, hs: [a, b] } = sharedBy(2);
  assert.equal(t.lock(a, LOCK_RESERVED), true);
  t.unlock(b, LOCK_NONE);
  assert.equal(t.reservedHeld(), true);
  assert.equal(t.sharedCount, 1);
  assert.equal(t.lock(holder(), LOCK_SHARED), true);
});

Deno.test("LockTable instances are independent per file", () => {
  const f1 = new LockTable(), f2 = new LockTable();
  const a = holder(), b = holder();
  assert.equal(f1.lock(a, LOCK_SHARED), true);
  assert.equal(f1.lock(a, LOCK_EXCLUSIVE), true);
  assert.equal(f2.lock(b, LOCK_SHARED), true);
  assert.equal(f2.lock(b, LOCK_EXCLUSIVE), true);
  assert.equal(f2.sharedCount, 1);
});

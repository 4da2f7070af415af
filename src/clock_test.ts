import { equal, ok } from "node:assert/strict";
import { elapsed, ElapsedClock, WALL_STEP_BACK_MS } from "./clock.ts";

Deno.test("ElapsedClock.read() follows the monotonic clock while both clocks run together", () => {
  const c = new ElapsedClock();
  equal(c.read(100, 5_000), 100);
  equal(c.read(350, 5_250), 350);
  equal(c.read(1_350, 6_250), 1_350);
});

Deno.test("ElapsedClock.read() counts a suspend: the wall clock ran on, the monotonic one stopped", () => {
  const c = new ElapsedClock();
  c.read(0, 1_000_000);
  // 60 s with the lid closed: performance.now() advanced 5 ms, Date.now() 60 s.
  equal(c.read(5, 1_060_000), 60_000);
  // Afterwards it follows the monotonic clock again, 60 s ahead of it.
  equal(c.read(1_005, 1_061_000), 61_000);
});

Deno.test("ElapsedClock.read() counts many short suspends in full, however often it is read", () => {
  const c = new ElapsedClock();
  let mono = 0;
  let wall = 1_000_000;
  c.read(mono, wall);
  for (let k = 0; k < 100; k++) {
    mono += 100; // running
    wall += 100;
    c.read(mono, wall);
    wall += 300; // a 300 ms pause of the VM: only the wall clock moves
    c.read(mono, wall);
  }
  equal(c.read(mono, wall), 100 * 400);
});

Deno.test("ElapsedClock.read() never goes backwards when the wall clock is set back", () => {
  const c = new ElapsedClock();
  c.read(0, 1_000_000);
  equal(c.read(500, 900_000), 500);
  equal(c.read(600, 900_100), 600);
  // A suspend after the set-back counts from there.
  equal(c.read(610, 930_100), 30_600);
});

Deno.test("ElapsedClock.read() adds wall-clock jitter at most once", () => {
  const c = new ElapsedClock();
  let last = 0;
  for (let mono = 0; mono <= 100_000; mono += 0.25) {
    // Date.now() in whole ms and 3 ms of jitter around performance.now().
    last = c.read(mono, 2_000_000 + Math.floor(mono) + ((mono * 7) % 3));
  }
  ok(last >= 100_000 && last <= 100_004, `${last}`);
});

Deno.test("ElapsedClock.read() ignores a small drop of the wall clock, rebases on a big one", () => {
  const c = new ElapsedClock();
  c.read(0, 0);
  equal(c.read(10, 10 - WALL_STEP_BACK_MS / 2), 10, "a small drop: nothing counts, nothing moves");
  equal(c.read(20, 20), 20, "back to the old lead: nothing counted twice");
  equal(c.read(30, 30 - 2 * WALL_STEP_BACK_MS), 30);
  equal(c.read(40, 40 - 2 * WALL_STEP_BACK_MS + 500), 540, "a lead from the new base counts");
});

Deno.test("ElapsedClock.peek() tells what read() would, without moving the clock", () => {
  const c = new ElapsedClock();
  c.read(0, 1_000_000);
  for (let k = 1; k <= 100; k++) equal(c.peek(5, 1_000_000 + k * 200), k * 200);
  equal(c.read(5, 1_020_000), 20_000, "the whole suspend counts at the first read after it");
});

Deno.test("elapsed() is monotonic and tracks performance.now()", () => {
  const a = elapsed();
  const p = performance.now();
  const b = elapsed();
  ok(b >= a);
  ok(b >= p - 1, "never behind the monotonic clock");
});

/**
 * The simulation's scheduler: actors are protocol generators run one store
 * operation at a time, in an order chosen by a seeded PRNG, with faults drawn
 * per operation: the actor crashes (its in-flight requests may still land),
 * the response is lost (applied, the actor sees no answer), a transient 503
 * (not applied), a delayed request (the actor times out, the request lands
 * later), and long pauses (the actor sleeps while the server clock runs on).
 * The same seed always replays the same run.
 *
 * @module
 */

import { ElapsedClock } from "../src/clock.ts";
import { type Step, type StoreOp, type StoreResult, UNSENT } from "../src/log/store.ts";
import type { MemStore } from "./log_sim_store.ts";

function envOf(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * `LOG_SIM_CLOCK=mono`: actors measure elapsed time with the monotonic clock
 * alone, as before src/clock.ts (a suspend then goes unnoticed).
 */
const MONO_ONLY = envOf("LOG_SIM_CLOCK") === "mono";

/**
 * `LOG_SIM_FENCE=unbounded`: a delayed fenced write (a checkpointer's block
 * PUT) may land any time later, not within its attempt timeout: the residual
 * risk of docs/protocol.md 16, which the claim cannot cover.
 */
const UNBOUNDED = envOf("LOG_SIM_FENCE") === "unbounded";

/** Small seeded PRNG (mulberry32). */
export class Rng {
  #s: number;
  /** Seeds it. */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A random element. */
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Random bytes. */
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
  /** A random put id. */
  id(): string {
    return Array.from({ length: 12 }, () => "0123456789abcdefghijklmnopqrstuvwxyz"[this.int(0, 35)])
      .join("");
  }
}

/** Fault probabilities per store operation. */
export interface Faults {
  /** The actor dies here. */
  crash: number;
  /** Applied, but the answer is lost. */
  lost: number;
  /** 503, not applied. */
  transient: number;
  /** Times out now, lands later. */
  delay: number;
  /** The actor pauses after this operation. */
  pause: number;
}

/** No faults. */
export const NO_FAULTS: Faults = { crash: 0, lost: 0, transient: 0, delay: 0, pause: 0 };

interface Actor {
  name: string;
  gen: Step<void>;
  started: boolean;
  batch?: StoreOp[];
  results: StoreResult[];
  pending: number[];
  state: "ready" | "sleeping" | "dead" | "done";
  wakeAt: number;
  skew: number;
  /** Local clock rate against the server's (1: the same). */
  rate: number;
  /** Server time at spawn (the local clock runs at `rate` from there). */
  base: number;
  /** Offset of its wall clock from the server's. */
  wallSkew: number;
  /** Server time its monotonic clock stood still (suspends), finished ones. */
  suspended: number;
  /** Server time the current suspend began (undefined: not suspended). */
  suspendStart?: number;
  /** How it turns its monotonic and wall clocks into elapsed time (src/clock.ts). */
  clock: ElapsedClock;
  sleepAfterBatch?: number;
  onCrash?: () => void;
}

/** Counts of what happened, for the report. */
export interface WorldStats {
  /** Scheduler steps. */
  steps: number;
  /** Store operations performed. */
  ops: number;
  /** Faults injected, by kind. */
  faults: Record<keyof Faults, number>;
  /** Pauses that were suspends (the monotonic clock stood still). */
  suspends: number;
  /** Fenced writes that were not sent (past their send-by time). */
  unsent: number;
}

/** Runs actors against a store. */
export class World {
  readonly actors: Actor[] = [];
  /** Delayed requests: due at a step; a fenced one lands by `deadline` (server time) at the latest. */
  readonly #delayed: { op: StoreOp; due: number; deadline?: number }[] = [];
  /** Counters. */
  readonly stats: WorldStats = {
    steps: 0,
    ops: 0,
    faults: { crash: 0, lost: 0, transient: 0, delay: 0, pause: 0 },
    suspends: 0,
    unsent: 0,
  };

  /** A world over `store`; `afterStep` runs after every step (invariant checks). */
  constructor(
    readonly rng: Rng,
    readonly store: MemStore,
    public faults: Faults,
    readonly pauseMs: () => number,
    readonly afterStep: () => void,
  ) {}

  /** Called whenever an actor's local clock is read (before the reading is handed over). */
  onClock?: (name: string) => void;

  /**
   * Adds an actor; `onCrash` runs if it crashes (to start a replacement
   * process); `rate` is its local clock's rate against the server's.
   */
  spawn(name: string, gen: Step<void>, onCrash?: () => void, rate = 1): void {
    this.actors.push({
      name,
      gen,
      started: false,
      results: [],
      pending: [],
      state: "ready",
      wakeAt: 0,
      skew: this.rng.int(-3_600_000, 3_600_000),
      rate,
      base: this.store.now,
      wallSkew: this.rng.int(-3_600_000, 3_600_000),
      suspended: 0,
      clock: new ElapsedClock(),
      onCrash,
    });
  }

  /**
   * The named actor's local clock now, as it would read it (its skew, its
   * rate, its suspends), without it reading it.
   */
  localNow(name: string): number {
    const a = this.actors.find((x) => x.name === name)!;
    return this.#local(a, true);
  }

  #local(a: Actor, peek = false): number {
    const now = this.store.now;
    const still = a.suspended + (a.suspendStart === undefined ? 0 : now - a.suspendStart);
    const mono = a.skew + a.base + (now - a.base - still) * a.rate;
    if (MONO_ONLY) return mono;
    // The machine's wall clock drifts with its monotonic one, but runs on through suspends.
    const wall = a.wallSkew + a.base + (now - a.base) * a.rate;
    const v = peek ? a.clock.peek(mono, wall) : a.clock.read(mono, wall);
    return v;
  }

  #clock(a: Actor): StoreResult {
    this.onClock?.(a.name);
    return { status: 200, clock: this.#local(a) };
  }

  /** Makes the named actor sleep `ms` of server time once its current batch is done. */
  sleep(name: string, ms: number): void {
    const a = this.actors.find((x) => x.name === name && x.state !== "done" && x.state !== "dead");
    if (a) a.sleepAfterBatch = ms;
  }

  /** Runs until every actor is done or dead and no delayed request is left; false on timeout. */
  run(maxSteps: number): boolean {
    while (this.stats.steps < maxSteps) {
      if (!this.#step()) return true;
      this.stats.steps++;
      this.afterStep();
    }
    return false;
  }

  #step(): boolean {
    const { rng, store } = this;
    this.#advance(store.now + rng.int(0, 200));
    for (const a of this.actors) {
      if (a.state === "sleeping" && a.wakeAt <= store.now) this.#wake(a);
    }
    const due = this.#delayed.findIndex((d) => d.due <= this.stats.steps);
    if (due >= 0 && rng.chance(0.5)) {
      store.apply(this.#delayed.splice(due, 1)[0].op);
      return true;
    }
    const ready = this.actors.filter((a) => a.state === "ready");
    if (ready.length === 0) {
      const sleepers = this.actors.filter((a) => a.state === "sleeping");
      if (sleepers.length > 0) {
        this.#advance(Math.max(store.now, Math.min(...sleepers.map((a) => a.wakeAt))));
        return true;
      }
      if (this.#delayed.length > 0) {
        store.apply(this.#delayed.shift()!.op);
        return true;
      }
      return false;
    }
    const a = rng.pick(ready);
    if (!a.batch) this.#resume(a);
    else this.#perform(a);
    return true;
  }

  #resume(a: Actor): void {
    for (;;) {
      const r = a.started ? a.gen.next(a.results) : a.gen.next();
      a.started = true;
      if (r.done) {
        a.state = "done";
        return;
      }
      a.results = new Array(r.value.length);
      if (r.value.length > 0) {
        a.batch = r.value;
        a.pending = r.value.map((_, i) => i);
        if (r.value.some((op) => op.kind !== "clock")) {
          // A clock in a batch with requests is read before any of them is sent (as the drivers do).
          a.pending = a.pending.filter((i) => r.value[i].kind !== "clock");
          r.value.forEach((op, i) => {
            if (op.kind === "clock") a.results[i] = this.#clock(a);
          });
        }
        return;
      }
    }
  }

  #perform(a: Actor): void {
    const { rng, store, faults } = this;
    const k = a.pending.splice(rng.int(0, a.pending.length - 1), 1)[0];
    const op = a.batch![k];
    this.stats.ops++;
    let result: StoreResult;
    if (op.kind === "clock") {
      result = this.#clock(a);
    } else if (op.kind === "put" && op.sendBy !== undefined && this.#local(a) >= op.sendBy) {
      this.stats.unsent++;
      result = { ...UNSENT }; // the driver does not send a fenced write past its send-by time
    } else if (rng.chance(faults.crash)) {
      this.stats.faults.crash++;
      a.state = "dead";
      for (const i of [k, ...a.pending]) {
        const o = a.batch![i];
        if (o.kind === "put" && o.sendBy !== undefined && this.#local(a) >= o.sendBy) continue;
        const p = rng.next();
        if (p < 0.4) store.apply(a.batch![i]);
        else if (p < 0.6) this.#delay(a.batch![i]);
      }
      a.batch = undefined;
      a.onCrash?.();
      return;
    } else if (rng.chance(faults.lost)) {
      this.stats.faults.lost++;
      store.apply(op);
      result = { status: 0, message: "connection reset after the request was sent" };
    } else if (rng.chance(faults.transient)) {
      this.stats.faults.transient++;
      result = { status: 503, date: Math.floor(store.now / 1000) * 1000, message: "SlowDown" };
    } else if (rng.chance(faults.delay)) {
      this.stats.faults.delay++;
      this.#delay(op);
      result = { status: 0, message: "timeout" };
    } else {
      result = store.apply(op);
    }
    a.results[k] = result;
    if (a.pending.length === 0) {
      a.batch = undefined;
      const sleep = a.sleepAfterBatch ?? (rng.chance(faults.pause) ? this.pauseMs() : 0);
      if (a.sleepAfterBatch === undefined && sleep > 0) this.stats.faults.pause++;
      a.sleepAfterBatch = undefined;
      if (sleep > 0) {
        a.state = "sleeping";
        a.wakeAt = store.now + sleep;
        // Some pauses are suspends (a laptop lid): the monotonic clock stands still meanwhile.
        if (rng.chance(0.3)) {
          a.suspendStart = store.now;
          this.stats.suspends++;
        }
      }
    }
  }

  #wake(a: Actor): void {
    a.state = "ready";
    if (a.suspendStart !== undefined) {
      a.suspended += this.store.now - a.suspendStart;
      a.suspendStart = undefined;
    }
  }

  /**
   * Moves the server clock to `to`, first landing every delayed fenced write
   * whose deadline comes before (it takes effect within its timeout of being
   * sent: the assumption of docs/protocol.md 16).
   */
  #advance(to: number): void {
    for (;;) {
      const k = this.#delayed.findIndex((d) => d.deadline !== undefined && d.deadline < to);
      if (k < 0) break;
      const d = this.#delayed.splice(k, 1)[0];
      this.store.now = Math.max(this.store.now, Math.min(to, d.deadline! - 1));
      this.store.apply(d.op);
      this.afterStep();
    }
    this.store.now = Math.max(this.store.now, to);
  }

  #delay(op: StoreOp): void {
    if (op.kind === "clock") return;
    const p = this.rng.next();
    const late = p < 0.5 ? 20 : p < 0.8 ? 300 : 3000;
    const fenced = op.kind === "put" && op.sendBy !== undefined && !UNBOUNDED;
    this.#delayed.push({
      op,
      due: this.stats.steps + this.rng.int(1, late),
      ...(fenced ? { deadline: this.store.now + (op.timeoutMs ?? 0) } : {}),
    });
  }

  /** Lands every delayed request now (before the final checks). */
  flush(): void {
    while (this.#delayed.length > 0) {
      this.store.apply(this.#delayed.splice(this.rng.int(0, this.#delayed.length - 1), 1)[0].op);
      this.afterStep();
    }
  }
}

/**
 * Waiting for another process's writer lease, as the CLI's writing commands
 * do (`--wait <seconds>`, default 60: longer than a lease lives after its
 * holder's last write or crash, 40 s with the default timing). While it
 * waits it says who holds the lease and until when: a countdown line on a
 * terminal, one line otherwise. Giving up, the error says the same.
 *
 * @module
 */

import { runAsync } from "../log/driver.ts";
import { LeaseBusyError } from "../log/errors.ts";
import { readLease } from "../log/lease.ts";
import { readConfig } from "../log/records.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { Location } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import type { Session } from "./session.ts";

/** Default `--wait`, seconds. */
export const DEFAULT_WAIT_S = 60;

/** The `--wait` option of the writing commands. */
export const WAIT_OPTION = {
  wait: {
    type: "string",
    value: "seconds",
    help: `wait this long for another writer's lease (default ${DEFAULT_WAIT_S})`,
  },
} as const;

/** `--wait` in ms (default {@linkcode DEFAULT_WAIT_S}). */
export function waitMs(s: Session): number {
  const v = s.option("wait");
  if (v === undefined) return DEFAULT_WAIT_S * 1000;
  if (!/^\d+$/.test(v)) {
    throw new UsageError(`--wait takes whole seconds, got ${v}`, s.command);
  }
  return Number(v) * 1000;
}

/** The LeaseBusyError behind `err` (itself, a cause, or `lastError` after "database is locked"). */
export function leaseBusyOf(err: unknown, lastError?: Error): LeaseBusyError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof LeaseBusyError) return e;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return /database is locked|busy/i.test(msg) && lastError instanceof LeaseBusyError
    ? lastError
    : undefined;
}

/** Who holds it and until when, in words. */
function holder(b: LeaseBusyError): string {
  const until = b.expiresAt === undefined
    ? ""
    : ` until ${new Date(b.expiresAt).toISOString().slice(11, 19)} UTC unless renewed`;
  return `held by ${b.host || "?"} pid ${b.pid}${until}`;
}

const sab = new Int32Array(new SharedArrayBuffer(4));

/** Waits for the lease of one database, for one command. */
export class LeaseWaiter {
  #url: string;
  #waitMs: number;
  #err: (text: string) => void;
  #tty: boolean;
  #started?: number;
  #drawn = false;

  /** `err` writes to stderr; `tty`: draw a countdown line. */
  constructor(url: string, waitMs: number, err: (text: string) => void, tty: boolean) {
    this.#url = url;
    this.#waitMs = waitMs;
    this.#err = err;
    this.#tty = tty;
  }

  #left(): number {
    this.#started ??= performance.now();
    return this.#waitMs - (performance.now() - this.#started);
  }

  #say(b: LeaseBusyError, left: number): void {
    const line = `waiting for the writer lease of ${this.#url}: ${holder(b)}`;
    if (this.#tty) {
      this.#err(`\r\x1b[2K${line}; ${Math.ceil(left / 1000)} s left (--wait)`);
      this.#drawn = true;
    } else if (!this.#drawn) {
      this.#err(`${line}; waiting up to ${Math.round(this.#waitMs / 1000)} s (--wait)\n`);
      this.#drawn = true;
    }
  }

  /** Clears the countdown line (after the wait ended, either way). */
  done(): void {
    if (this.#tty && this.#drawn) this.#err("\r\x1b[2K");
    this.#drawn = false;
    this.#started = undefined;
  }

  /** The error of giving up. */
  gaveUp(b: LeaseBusyError, cause: unknown): CliError {
    this.done();
    return new CliError(
      `the writer lease of ${this.#url} is ${holder(b)}; gave up after ${
        Math.round(this.#waitMs / 1000)
      } s (--wait <seconds> waits longer)`,
      { cause },
    );
  }

  /** Blocks up to a second (SQL runs synchronously); false once `--wait` is spent. */
  waitSync(b: LeaseBusyError): boolean {
    const left = this.#left();
    if (left <= 0) return false;
    this.#say(b, left);
    Atomics.wait(sab, 0, 0, Math.min(1000, left));
    return true;
  }

  /** Waits up to a second; false once `--wait` is spent. */
  async wait(b: LeaseBusyError): Promise<boolean> {
    const left = this.#left();
    if (left <= 0) return false;
    this.#say(b, left);
    await new Promise((r) => setTimeout(r, Math.min(1000, left)));
    return true;
  }
}

/**
 * Runs a whole-database write (`import`, `cp`, `restore`: each one commit
 * under the lease) once no other process holds `loc`'s writer lease, waiting
 * up to `--wait`; run again if it still met a live lease (it wrote nothing).
 */
export async function withLease<T>(s: Session, loc: Location, op: () => Promise<T>): Promise<T> {
  const waiter = new LeaseWaiter(loc.url, waitMs(s), (t) => s.err(t), Deno.stderr.isTerminal());
  const store = new S3LogStore(s.client(), loc.bucket);
  const config = await runAsync(readConfig(loc.prefix), store);
  for (;;) {
    // First without sending anything: a staged import would upload the whole file in vain.
    const lease = config ? await runAsync(readLease(loc.prefix, config.timing), store) : null;
    let busy = lease?.live
      ? new LeaseBusyError({
        prefix: loc.prefix,
        host: lease.record.host,
        pid: lease.record.pid,
        expiresAt: lease.expiresAt,
      })
      : undefined;
    let cause: unknown;
    if (!busy) {
      try {
        const out = await op();
        waiter.done();
        return out;
      } catch (e) {
        busy = leaseBusyOf(e);
        if (!busy) {
          waiter.done();
          throw e;
        }
        cause = e;
      }
    }
    if (!(await waiter.wait(busy))) throw waiter.gaveUp(busy, cause);
  }
}

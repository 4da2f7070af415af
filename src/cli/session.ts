/**
 * What one run of the tool shares between its steps: the S3 settings from
 * the options and the AWS_* environment, an S3 client, the S3VFS of each
 * bucket (made after `@db/sqlite` is loaded, so both use one libsqlite3, and
 * closed at the end), stdout and stderr, and Ctrl-C: while a transfer runs,
 * SIGINT aborts it through its AbortSignal (the streams then leave the target
 * as it was) instead of killing the process; a second Ctrl-C (a second or more later) exits at once.
 *
 * @module
 */

import type { Timing } from "../log/rules.ts";
import { S3Client } from "../s3/client.ts";
import type { S3ConnectionOptions } from "../s3/config.ts";
import { S3VFS } from "../vfs/vfs.ts";
import { intOption, type ParsedArgs } from "./args.ts";
import { CliError, EXIT_INTERRUPTED } from "./errors.ts";
import { type DbSqlite, loadDbSqlite } from "./sqlite.ts";

const encoder = new TextEncoder();

/** Signals that interrupt a transfer (stopping it cleanly) instead of killing the process. */
const INTERRUPTS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** A signal this long after the first one means "exit now"; sooner, it is the same one again. */
const SECOND_INTERRUPT_MS = 1000;

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let o = 0; o < bytes.length;) o += file.writeSync(bytes.subarray(o));
}

/** One run of a command. */
export class Session {
  /** The command's name (for messages). */
  readonly command: string;
  /** Its parsed arguments. */
  readonly args: ParsedArgs;
  #client?: S3Client;
  #vfs = new Map<string, S3VFS>();

  /** A run of `command` with its parsed arguments. */
  constructor(command: string, args: ParsedArgs) {
    this.command = command;
    this.args = args;
  }

  /** `--block-size`, if given. */
  get blockSize(): number | undefined {
    return intOption(this.args.values["block-size"], "block-size", this.command);
  }

  /** A flag's value. */
  flag(name: string): boolean {
    return this.args.values[name] === true;
  }

  /** A string option's value. */
  option(name: string): string | undefined {
    const v = this.args.values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** Endpoint and region from the options (the rest from the environment). */
  connection(): S3ConnectionOptions {
    const o: S3ConnectionOptions = {};
    const endpoint = this.option("endpoint");
    const region = this.option("region");
    if (endpoint) o.endpoint = endpoint;
    if (region) o.region = region;
    return o;
  }

  /** The S3 client (made on first use). */
  client(): S3Client {
    return this.#client ??= new S3Client(this.connection());
  }

  /** @db/sqlite (loaded on first use). */
  sqlite(): Promise<DbSqlite> {
    return loadDbSqlite();
  }

  /**
   * An S3VFS on `bucket` with `blockSize` (default `--block-size`, else 4096)
   * and the `timing` of databases it creates (default: the library's).
   */
  async vfs(bucket: string, blockSize?: number, timing?: Timing): Promise<S3VFS> {
    const size = blockSize ?? this.blockSize;
    const id = `${bucket}\0${size ?? ""}\0${timing ? JSON.stringify(timing) : ""}`;
    let vfs = this.#vfs.get(id);
    if (!vfs) {
      await this.sqlite(); // first: the VFS registers in the libsqlite3 @db/sqlite loaded
      vfs = new S3VFS({
        ...this.connection(),
        bucket,
        ...(size ? { blockSize: size } : {}),
        ...(timing ? { timing } : {}),
      });
      this.#vfs.set(id, vfs);
    }
    return vfs;
  }

  /** Writes to stdout. */
  out(text: string): void {
    writeAll(Deno.stdout, text);
  }

  /** Writes to stderr. */
  err(text: string): void {
    writeAll(Deno.stderr, text);
  }

  /**
   * Runs `fn` with a signal that Ctrl-C aborts (with a CliError, exit code
   * 130, saying `what` was left as it was). A second Ctrl-C (a second or more later) exits at once.
   */
  async interruptible<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let first = 0;
    const onSignal = (sig: Deno.Signal): void => {
      // A second Ctrl-C exits at once; not one within a second of the first: under `deno task` a
      // terminal's Ctrl-C reaches this process twice (directly and forwarded by the task runner).
      // SIGTERM and SIGHUP (a supervisor, a terminal closing) only ever stop it cleanly.
      if (controller.signal.aborted) {
        if (sig === "SIGINT" && performance.now() - first > SECOND_INTERRUPT_MS) {
          Deno.exit(EXIT_INTERRUPTED);
        }
        return;
      }
      first = performance.now();
      controller.abort(
        new CliError(`interrupted: ${what} left as it was`, { exitCode: EXIT_INTERRUPTED }),
      );
    };
    // Ctrl-C, and what a terminal closing or a supervisor (`deno task` among them) may send
    // instead: each one stops the transfer the same way, leaving the target as it was.
    const listeners = new Map<Deno.Signal, () => void>();
    for (const sig of INTERRUPTS) {
      const listener = () => onSignal(sig);
      try {
        Deno.addSignalListener(sig, listener);
        listeners.set(sig, listener);
      } catch { /* not on this platform (Windows has SIGINT and SIGBREAK only) */ }
    }
    try {
      return await fn(controller.signal); // finished despite a late Ctrl-C: it is done
    } catch (e) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw e;
    } finally {
      for (const [sig, listener] of listeners) Deno.removeSignalListener(sig, listener);
    }
  }

  /** Closes the VFSes (connections must be closed first). */
  close(): void {
    for (const vfs of this.#vfs.values()) {
      try {
        vfs.close();
      } catch { /* a connection left open by a failure: the process exits anyway */ }
    }
    this.#vfs.clear();
  }
}

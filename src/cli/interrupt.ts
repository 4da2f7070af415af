/**
 * Ctrl-C that cancels the running SQL statement instead of the process, for
 * the shell. SQL runs synchronously on the main thread, so no signal
 * listener there can run while a statement does: a small worker listens for
 * SIGINT and sets a flag in shared memory, and SQLite's progress handler
 * (called every 1,000 virtual-machine steps) sees it and interrupts the
 * statement, which then fails with "interrupted".
 *
 * @module
 */

import { loadSqlite } from "../ffi/library.ts";

/** The worker: SIGINT sets the flag it was given. */
const WORKER = `self.onmessage = (e) => {
  const flag = new Int32Array(e.data);
  Deno.addSignalListener("SIGINT", () => Atomics.store(flag, 0, 1));
  self.postMessage("ready");
};`;

/** Interrupts statements of one connection on Ctrl-C while installed. */
export class SqlInterrupter implements Disposable {
  #flag = new Int32Array(new SharedArrayBuffer(4));
  #worker: Worker;
  #callback: Deno.UnsafeCallback<
    { readonly parameters: readonly ["pointer"]; readonly result: "i32" }
  >;
  #db: Deno.PointerValue;
  #progress: (db: Deno.PointerValue, n: number, cb: Deno.PointerValue, arg: null) => void;

  private constructor(libraryPath: string, db: Deno.PointerValue) {
    const lib = loadSqlite(libraryPath);
    this.#db = db;
    this.#progress = (d, n, cb, arg) => lib.symbols.sqlite3_progress_handler(d, n, cb, arg);
    this.#callback = new Deno.UnsafeCallback(
      { parameters: ["pointer"], result: "i32" } as const,
      () => Atomics.load(this.#flag, 0), // non-zero: SQLITE_INTERRUPT
    );
    this.#progress(db, 1000, this.#callback.pointer, null);
    const url = URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" }));
    this.#worker = new Worker(url, { type: "module" });
    URL.revokeObjectURL(url);
  }

  /** Installs it on the connection `db` (its `unsafeHandle`) of the libsqlite3 at `libraryPath`. */
  static async install(libraryPath: string, db: Deno.PointerValue): Promise<SqlInterrupter> {
    const it = new SqlInterrupter(libraryPath, db);
    await new Promise<void>((resolve, reject) => {
      it.#worker.onmessage = () => resolve();
      it.#worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`cannot watch for Ctrl-C: ${e.message}`));
      };
      it.#worker.postMessage(it.#flag.buffer);
    });
    return it;
  }

  /** Forgets a Ctrl-C pressed before now (call before each statement). */
  arm(): void {
    Atomics.store(this.#flag, 0, 0);
  }

  /** Whether Ctrl-C was pressed since {@linkcode SqlInterrupter.arm}. */
  get interrupted(): boolean {
    return Atomics.load(this.#flag, 0) !== 0;
  }

  /** Removes the handler and stops the worker: Ctrl-C ends the process again. */
  [Symbol.dispose](): void {
    this.#progress(this.#db, 0, null, null);
    this.#worker.terminate();
    this.#callback.close();
  }
}

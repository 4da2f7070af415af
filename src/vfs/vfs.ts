/**
 * S3VFS: a SQLite VFS, registered in libsqlite3 through Deno FFI, that keeps
 * each database as block objects in S3 (`<name>/<10-digit block index>`,
 * the layout of the Python sqlite-s3vfs).
 *
 * This file is the public face: options, registration, accounting, streams
 * and shutdown. The handlers, one per VFS method, are in `handlers.ts`, the
 * native structs they are called through in `facade.ts`, the per-database
 * protocol logic in `log_file.ts`.
 *
 * @module
 */

import { Bridge } from "../bridge/caller.ts";
import type { CheckpointOutcome } from "../log/checkpoint.ts";
import { runSync } from "../log/driver.ts";
import { FoldMemory } from "../log/fold_memory.ts";
import type { Timing } from "../log/rules.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { StoreOp } from "../log/store.ts";
import { BlockCache } from "./cache.ts";
import { VfsError } from "../errors.ts";
import * as F from "../ffi/mod.ts";
import { StatsCounter, type VfsStats } from "./stats.ts";
import type { LogContext } from "./log_file.ts";
import { S3Client } from "../s3/client.ts";
import type { ResolvedS3Config } from "../s3/config.ts";
import {
  type BlockStoreContext,
  deserialize,
  deserializeFromFile,
  deserializeFromObject,
  type DeserializeFromObjectOptions,
  type DeserializeOptions,
  type DeserializeResult,
  type DeserializeSource,
  serialize,
  type SerializeOptions,
  serializeToFile,
  serializeToObject,
  type SerializeToObjectOptions,
  type SerializeToObjectResult,
} from "../streams/mod.ts";
import {
  checkStaleness,
  resolveVfsOptions,
  type S3VFSOptions,
  type UriOptions,
} from "./options.ts";
import { VfsFacade } from "./facade.ts";
import { type CheckpointCallOptions, checkpointUntilDone } from "./checkpoint_call.ts";
import {
  type DatabaseInfo,
  databaseInfo,
  history,
  type HistoryEntry,
  restore,
  type RestoreOptions,
  type RestoreResult,
} from "./time_travel.ts";
import { checkName, S3Handlers } from "./handlers.ts";

let counter = 0;

/** Events after which the process normally exits: the end, an uncaught error or rejection. */
const EXIT_EVENTS = ["unload", "error", "unhandledrejection"] as const;

/** The `at` URI parameter: a txid, or a time as ISO 8601. */
function encodeAt(at: number | Date): string {
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw new RangeError("at is an invalid Date");
    return encodeURIComponent(at.toISOString());
  }
  if (!Number.isSafeInteger(at) || at < 0) {
    throw new RangeError(`at must be a txid (an integer >= 0) or a Date, got ${at}`);
  }
  return String(at);
}

/**
 * A SQLite VFS storing databases in S3. Registered on construction; open a
 * connection with `@db/sqlite` by {@linkcode S3VFS.uri} and {@linkcode OPEN_READWRITE}.
 *
 * @example Open a database stored in S3
 * ```ts
 * import { Database } from "@db/sqlite";
 * import { OPEN_READONLY, OPEN_READWRITE, S3VFS } from "@s3vfs/sqlite";
 * // bucket from S3VFS_BUCKET; endpoint, region and credentials from the AWS_* variables
 * using vfs = new S3VFS({ bucket: Deno.env.get("S3VFS_BUCKET") });
 * const db = new Database(vfs.uri("my/path/class.sqlite"), { flags: OPEN_READWRITE });
 * db.exec("CREATE TABLE IF NOT EXISTS t (x)");
 * db.exec("INSERT INTO t VALUES (42)");
 * db.close();
 * const ro = new Database(vfs.uri("my/path/class.sqlite"), { flags: OPEN_READONLY });
 * const [x] = ro.prepare("SELECT x FROM t").value<[number]>()!;
 * ro.close();
 * if (x !== 42) throw new Error(`read ${x}`);
 * if (vfs.stats().requests.put === 0) throw new Error("nothing went to S3");
 * ```
 */
export class S3VFS {
  /** Registered VFS name. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** Block size in bytes. */
  readonly blockSize: number;
  /** Path of the libsqlite3 this VFS is registered in (open connections in the same copy). */
  readonly libraryPath: string;
  /** Version of that libsqlite3, e.g. `3.40.1`. */
  readonly sqliteVersion: string;

  #bridge: Bridge;
  #lib: F.SqliteLib;
  #cache: BlockCache;
  #stats = new StatsCounter();
  #closed = false;
  #methods: S3Handlers;
  #facade: VfsFacade;
  #s3Config: ResolvedS3Config;
  #concurrency: number | undefined;
  #client?: S3Client;
  #timing: Timing | undefined;
  #leaseOff: boolean;
  #closeWaitMs: number;
  #storeCheck: "enforce" | "single-writer";
  /** What `checkpoint()` remembers of each database's blocks between calls. */
  #foldMemory = new Map<string, FoldMemory>();

  /** Resolves options, starts the I/O worker and registers the VFS. */
  constructor(options: S3VFSOptions = {}) {
    const o = resolveVfsOptions(options); // every bad option throws here, before anything starts
    const { bucket, s3, concurrency } = o;
    this.bucket = bucket;
    this.#s3Config = s3;
    this.blockSize = o.blockSize;
    this.#concurrency = options.concurrency;
    this.#timing = o.timing;
    this.#leaseOff = o.lease === null;
    this.#closeWaitMs = o.closeWaitMs;
    this.#storeCheck = o.storeCheck;
    this.#cache = new BlockCache(o.cacheBytes);
    const lib = F.loadSqlite(options.libraryPath);
    this.#lib = lib;
    this.libraryPath = lib.path;
    this.sqliteVersion = lib.version;
    this.name = options.name ?? `s3vfs-${++counter}`;
    const sym = this.#lib.symbols;
    if (sym.sqlite3_vfs_find(F.cstring(this.name)) !== null) {
      throw new TypeError(`a VFS named ${JSON.stringify(this.name)} is already registered`);
    }
    this.#bridge = new Bridge({
      type: "init",
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: s3.credentials,
      forcePathStyle: s3.forcePathStyle,
      timeoutMs: s3.timeoutMs,
      maxAttempts: s3.maxAttempts,
      bucket,
      concurrency,
      storeCheck: o.storeCheck,
    }, o.bridgeTimeoutMs);
    this.#bridge.onStats = (s, ms, side) => this.#stats.add(s, ms, side);
    this.#bridge.onBackground = (side) => this.#stats.addSide(side);
    const batches = { runBatch: (ops: StoreOp[]) => this.#bridge.call(ops) };
    const context: LogContext = {
      run: (gen) => runSync(gen, batches),
      cache: this.#cache,
      blockSize: this.blockSize,
      timing: this.#timing,
      readAhead: o.readAhead,
      maintain: (prefix, config) => this.#bridge.maintain({ prefix, config }),
      checkpointEvery: o.checkpointEvery,
      requestTimeoutMs: s3.timeoutMs,
      spillBytes: o.spillBytes,
      lease: o.lease,
      staleness: o.staleness,
    };
    const defaultVfs = sym.sqlite3_vfs_find(null);
    if (defaultVfs === null) throw new VfsError("libsqlite3 has no default VFS");
    this.#methods = new S3Handlers({ bucket, context });
    this.#facade = new VfsFacade(this.name, defaultVfs, this.#methods, (bytes) => {
      const p = sym.sqlite3_malloc(bytes.length);
      if (p !== null) {
        new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, bytes.length)).set(bytes);
      }
      return p;
    });
    const rc = sym.sqlite3_vfs_register(this.#facade.pointer, options.makeDefault ? 1 : 0);
    if (rc !== F.SQLITE_OK) {
      this.#bridge.close();
      this.#facade.close();
      throw new VfsError(`sqlite3_vfs_register failed: ${F.errorString(this.#lib, rc)}`, {
        sqliteCode: rc,
      });
    }
    // Leases still held when the process ends (a script that never closed, an uncaught error)
    // are given up instead of blocking other writers until their TTL.
    for (const e of EXIT_EVENTS) globalThis.addEventListener(e, this.#onUnload);
  }

  /**
   * A URI opening `prefix` through this VFS: `file:<prefix>?vfs=<name>` (use
   * with {@linkcode OPEN_READWRITE}). `staleness` lets this connection's read
   * transactions use a snapshot up to that many ms old without asking S3.
   */
  uri(prefix: string, options: UriOptions = {}): string {
    if (this.#closed) throw new VfsError(`S3VFS ${this.name} is closed`);
    if (typeof prefix !== "string") throw new TypeError(`prefix must be a string, got ${prefix}`);
    checkName(prefix);
    const path = encodeURI(prefix).replace(/[?#]/g, (c) => encodeURIComponent(c));
    let uri = `file:${path}?vfs=${encodeURIComponent(this.name)}`;
    if (options.staleness !== undefined) {
      uri += `&staleness=${checkStaleness(options.staleness, "staleness")}`;
    }
    if (options.at !== undefined) uri += `&mode=ro&at=${encodeAt(options.at)}`;
    return uri;
  }

  /** Request and cache accounting since creation or {@linkcode S3VFS.resetStats}. */
  stats(): VfsStats {
    const s = this.#stats;
    return {
      requests: { ...s.requests },
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      retried: s.retried,
      cache: { ...this.#cache.counters },
      roundTrips: s.roundTrips,
      waitMs: s.waitMs,
      background: { ...s.background },
      maintenance: { ...s.maintenance },
      storeCheck: { ...s.storeCheck, requests: { ...s.storeCheck.requests } },
    };
  }

  /** Zeroes the counters of {@linkcode S3VFS.stats}. */
  resetStats(): void {
    this.#stats.reset();
    this.#cache.resetCounters();
  }

  /** Whether {@linkcode S3VFS.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The last failure inside a VFS callback (an S3Error or VfsError): the cause of a SQLITE_IOERR. */
  get lastError(): Error | undefined {
    return this.#methods.lastError;
  }

  /** Forgets in-memory state of `prefix` (cache, size) after it was changed outside SQLite. */
  forget(prefix: string): void {
    this.#methods.forget(prefix);
  }

  /**
   * Unregisters the VFS and stops its worker. Every connection using it must
   * be closed first (a still-open one makes this throw, instead of leaving
   * SQLite with dangling callbacks).
   */
  close(): void {
    if (this.#closed) return;
    const open = this.#methods.openFiles;
    if (open) {
      throw new VfsError(`S3VFS ${this.name}: close the ${open} open database file(s) first`);
    }
    this.#closed = true;
    this.#methods.onIdle = undefined;
    for (const e of EXIT_EVENTS) globalThis.removeEventListener(e, this.#onUnload);
    this.#methods.closed = true;
    this.#lib.symbols.sqlite3_vfs_unregister(this.#facade.pointer);
    // Background maintenance in progress finishes (bounded), or stops and gives its claim up.
    this.#bridge.drain(this.#closeWaitMs, this.#closeWaitMs + this.#s3Config.timeoutMs + 5_000);
    this.#bridge.close();
    this.#facade.close();
  }

  // -------------------------------------------------------------------------
  // Whole databases as Web Streams (see streams.ts for the guarantees)

  #streams(): BlockStoreContext {
    if (this.#closed) throw new VfsError(`S3VFS ${this.name} is closed`);
    this.#client ??= new S3Client(this.#s3Config);
    return {
      client: this.#client,
      bucket: this.bucket,
      blockSize: this.blockSize,
      concurrency: this.#concurrency,
      storeCheck: this.#storeCheck,
      ...(this.#timing ? { timing: this.#timing } : {}),
      ...(this.#leaseOff ? { lease: false as const } : {}),
    };
  }

  /** Checks the name; forgets cached state of `prefix` when no connection has it open. */
  // deno-lint-ignore require-await
  async #beforeLoad(prefix: string): Promise<BlockStoreContext> {
    checkName(prefix);
    const ctx = this.#streams();
    this.#methods.forget(prefix);
    return ctx;
  }

  // deno-lint-ignore require-await
  async #afterLoad(_ctx: BlockStoreContext, prefix: string): Promise<void> {
    this.#methods.forget(prefix);
  }

  /**
   * Folds every commit of `prefix` older than the grace period into its block
   * objects now, under the checkpoint claim (one checkpointer at a time per
   * database: while another holds it, this waits, up to `waitMs`). The VFS
   * also does it in the background. After a checkpoint with nothing left to
   * fold, the blocks under `<prefix>/` are exactly the database, as Python
   * sqlite-s3vfs reads it.
   *
   * @example Fold the log now and say what it did
   * ```ts
   * import { S3VFS } from "@s3vfs/sqlite";
   * using vfs = new S3VFS();
   * const out = await vfs.checkpoint("my/path/cool.sqlite");
   * console.log(out.kind === "folded" ? `folded up to txid ${out.to}` : out.kind);
   * ```
   */
  async checkpoint(
    prefix: string,
    options: CheckpointCallOptions = {},
  ): Promise<CheckpointOutcome> {
    checkName(prefix);
    const store = new S3LogStore(this.#streams().client, this.bucket, {
      storeCheck: this.#storeCheck,
    });
    let memory = this.#foldMemory.get(prefix);
    if (!memory) this.#foldMemory.set(prefix, memory = new FoldMemory());
    return await checkpointUntilDone(store, prefix, {
      concurrency: this.#concurrency,
      requestTimeoutMs: this.#s3Config.timeoutMs,
      memory,
    }, options);
  }

  /**
   * The database at `prefix` as the bytes of a plain SQLite file, block by
   * block in order, many blocks fetched at once. The stream errors (never
   * ends normally) if the database changed while it was read.
   *
   * @example Save a database to a local file
   * ```ts
   * import { S3VFS } from "@s3vfs/sqlite";
   * using vfs = new S3VFS();
   * const path = await Deno.makeTempFile({ suffix: ".sqlite" });
   * const file = await Deno.open(path, { write: true, truncate: true });
   * await vfs.serialize("my/path/cool.sqlite").pipeTo(file.writable);
   * await Deno.remove(path);
   * ```
   */
  serialize(prefix: string, options?: SerializeOptions): ReadableStream<Uint8Array> {
    return serialize(this.#streams(), prefix, options);
  }

  /**
   * Stores a plain SQLite file from any byte source (stream, async or sync
   * iterable of chunks) at `prefix` in this VFS's block size. Checks the
   * header before writing, refuses an existing database unless `overwrite`,
   * writes block 0 last and deletes stale blocks; a failure leaves the target
   * as it was.
   *
   * @example Load a database from any byte stream (a fetch body, a file, ...)
   * ```ts
   * import { Database } from "@db/sqlite";
   * import { OPEN_READWRITE, S3VFS } from "@s3vfs/sqlite";
   * using vfs = new S3VFS();
   * const db = new Database(vfs.uri("my/path/source.sqlite"), { flags: OPEN_READWRITE });
   * db.exec("CREATE TABLE IF NOT EXISTS t (x)");
   * db.close();
   * const bytes = await new Response(vfs.serialize("my/path/source.sqlite")).bytes();
   * const { blocks } = await vfs.deserialize("my/path/clone.sqlite", new Blob([bytes]).stream(), {
   *   overwrite: true,
   * });
   * if (blocks === 0) throw new Error("empty copy");
   * ```
   */
  async deserialize(
    prefix: string,
    source: DeserializeSource,
    options?: DeserializeOptions,
  ): Promise<DeserializeResult> {
    const ctx = await this.#beforeLoad(prefix);
    const result = await deserialize(ctx, prefix, source, options);
    await this.#afterLoad(ctx, prefix);
    return result;
  }

  /**
   * The kept commits of `prefix`, oldest first: txid, time, kind, object
   * size, database size after it and pages changed. Each can be opened with
   * `uri(prefix, { at: txid })` or made current with {@linkcode S3VFS.restore}.
   *
   * @example List a database's history
   * ```ts
   * import { S3VFS } from "@s3vfs/sqlite";
   * using vfs = new S3VFS();
   * for await (const c of vfs.history("my/path/cool.sqlite")) {
   *   console.log(c.txid, c.time.toISOString(), c.kind, c.pagesChanged);
   * }
   * ```
   */
  history(prefix: string): AsyncIterable<HistoryEntry> {
    checkName(prefix);
    return history(this.#streams(), prefix);
  }

  /**
   * Makes the state of `prefix` at a past txid or time current again, as one
   * new commit (readers see it atomically; restoring the txid before it
   * undoes it). Close this VFS's connections to `prefix` first. The whole
   * past state is read and written once.
   */
  async restore(prefix: string, options: RestoreOptions): Promise<RestoreResult> {
    const ctx = await this.#beforeLoad(prefix);
    const result = await restore(ctx, prefix, options);
    await this.#afterLoad(ctx, prefix);
    return result;
  }

  /** The storage state of `prefix` (sizes, txids, checkpoint, history, lease), or null. */
  info(prefix: string): Promise<DatabaseInfo | null> {
    checkName(prefix);
    return databaseInfo(this.#streams(), prefix);
  }

  /** {@linkcode S3VFS.serialize} into a local file (written completely or not at all). */
  serializeToFile(
    prefix: string,
    path: string | URL,
    options?: SerializeOptions,
  ): Promise<{ bytes: number }> {
    return serializeToFile(this.#streams(), prefix, path, options);
  }

  /** {@linkcode S3VFS.deserialize} from a local file. */
  async deserializeFromFile(
    prefix: string,
    path: string | URL,
    options?: DeserializeOptions,
  ): Promise<DeserializeResult> {
    const ctx = await this.#beforeLoad(prefix);
    const result = await deserializeFromFile(ctx, prefix, path, options);
    await this.#afterLoad(ctx, prefix);
    return result;
  }

  /** {@linkcode S3VFS.serialize} into one plain S3 object (`s3://bucket/key`) by multipart upload, bounded memory. */
  serializeToObject(
    prefix: string,
    s3url: string,
    options?: SerializeToObjectOptions,
  ): Promise<SerializeToObjectResult> {
    return serializeToObject(this.#streams(), prefix, s3url, options);
  }

  /** {@linkcode S3VFS.deserialize} from one plain S3 object (`s3://bucket/key`). */
  async deserializeFromObject(
    prefix: string,
    s3url: string,
    options?: DeserializeFromObjectOptions,
  ): Promise<DeserializeResult> {
    const ctx = await this.#beforeLoad(prefix);
    const result = await deserializeFromObject(ctx, prefix, s3url, options);
    await this.#afterLoad(ctx, prefix);
    return result;
  }

  /**
   * {@linkcode S3VFS.close} at the end of a `using` scope. With connections
   * still open (say the scope is left by an error before `db.close()`), it
   * does not throw over that error: it warns, and the VFS closes by itself
   * once the last connection is closed.
   */
  [Symbol.dispose](): void {
    const open = this.#methods.openFiles;
    if (this.#closed || !open) return this.close();
    console.warn(
      `s3vfs: S3VFS ${this.name} was disposed with ${open} open database file(s); ` +
        "it closes when they are closed",
    );
    this.#methods.onIdle = () => {
      // Not from inside SQLite's xClose: once it has returned.
      setTimeout(() => {
        if (!this.#closed && this.#methods.openFiles === 0) this.close();
      }, 0);
    };
  }

  /** At process exit: give up the writer leases still held (a script that never closed, or died). */
  #onUnload = (): void => {
    if (!this.#closed) this.#methods.releaseLeasesAtExit();
  };
}

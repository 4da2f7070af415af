/**
 * `checkStore()`: what a store enforces and how it answers, for a user
 * pointing the package at a new store (`s3vfs doctor`). It runs the store
 * check the VFS runs before its first write (src/log/capabilities.ts), then
 * measures the clock offset between this machine and the store and the
 * latency of small GETs and PUTs, and deletes everything it wrote.
 *
 * @module
 */

import {
  type CapabilityRow,
  ProbeFailedError,
  probeStore,
  type Verdict,
} from "../log/capabilities.ts";
import { runAsync } from "../log/driver.ts";
import { newPutId } from "../log/keys.ts";
import { S3LogStore } from "../log/s3_store.ts";
import { isSuccess, type StoreOp, type StoreResult } from "../log/store.ts";
import { S3Client } from "../s3/client.ts";
import type { S3ConnectionOptions } from "../s3/config.ts";

export type { CapabilityId, CapabilityRow, Need, Verdict } from "../log/capabilities.ts";

/** Options of {@linkcode checkStore}: the bucket, where to write, and the S3 connection. */
export interface CheckStoreOptions extends S3ConnectionOptions {
  /** Bucket to check. */
  bucket: string;
  /**
   * A database prefix (`my/app/db.sqlite`: the check writes under
   * `my/app/db.sqlite.s3vfs/probe/`, where the VFS's own check would) or a
   * folder ending in `/` (under `<folder>.s3vfs-probe/`). Default: the
   * bucket's top level.
   */
  prefix?: string;
  /** Small GETs and PUTs timed for the latency figures (default 20 each). */
  samples?: number;
}

/** Latency of one kind of request, in ms. */
export interface Latency {
  /** Requests timed. */
  n: number;
  /** Median. */
  p50: number;
  /** 99th percentile (the largest of fewer than 100). */
  p99: number;
}

/** What {@linkcode checkStore} found. */
export interface StoreReport {
  /** The endpoint. */
  endpoint: string;
  /** The bucket. */
  bucket: string;
  /** Key prefix the check wrote under (deleted again). */
  base: string;
  /** Safe for many writers, reads only (the VFS refuses writes), or unusable. */
  verdict: Verdict;
  /** Why writes are denied, when the credentials may not write (then no capability was tried). */
  denied?: string;
  /** Required capabilities the store lacks. */
  missing: string[];
  /** One row per capability: what was tried, what came back, what it means here. */
  capabilities: CapabilityRow[];
  /** Whether single-part ETags are content hashes. */
  contentEtags?: boolean;
  /**
   * The store's clock minus this machine's, in ms, and how far off that may
   * be (`Date` has whole seconds). The protocol times everything by the
   * store's clock; a large offset only matters to people reading logs.
   */
  clock?: { offsetMs: number; uncertaintyMs: number };
  /** Latency of small requests. */
  latency: { get?: Latency; put?: Latency; list?: Latency };
  /** Requests sent in all. */
  requests: number;
  /** How long the whole check took (ms). */
  ms: number;
  /** Whether everything written was deleted again. */
  cleanedUp: boolean;
}

function latency(samples: number[]): Latency | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)) };
}

/** Where the check writes for `prefix` (see {@linkcode CheckStoreOptions.prefix}). */
function baseFor(prefix: string | undefined): string {
  const id = newPutId();
  if (!prefix) return `s3vfs-doctor.s3vfs-probe/${id}`;
  if (prefix.endsWith("/")) return `${prefix}s3vfs-doctor.s3vfs-probe/${id}`;
  return `${prefix}.s3vfs/probe/${id}`;
}

/**
 * Checks a store: its conditional writes and everything else the commit log
 * relies on, the clock offset, and request latency. Writes only small
 * objects under its own prefix and deletes them. Throws when the store
 * cannot be reached or answers nothing useful (a missing bucket: S3Error).
 *
 * @example Check the store the AWS_* variables point at
 * ```ts
 * import { checkStore } from "@s3vfs/sqlite";
 * const report = await checkStore({ bucket: Deno.env.get("S3VFS_BUCKET")!, samples: 5 });
 * console.log(report.verdict, report.missing);
 * if (report.verdict !== "many-writers") throw new Error("this store would lose commits");
 * ```
 */
export async function checkStore(options: CheckStoreOptions): Promise<StoreReport> {
  const { bucket, prefix, samples = 20, ...s3 } = options;
  if (typeof bucket !== "string" || bucket === "") {
    throw new TypeError("checkStore needs a bucket");
  }
  if (!Number.isSafeInteger(samples) || samples < 1 || samples > 1000) {
    throw new RangeError(`samples must be an integer in 1..1000, got ${samples}`);
  }
  const client = new S3Client(s3);
  const store = new S3LogStore(client, bucket, { storeCheck: "off" });
  const started = performance.now();
  let requests = 0;
  // Each answer's Date bounds the offset: server - local is in [D - t1, D + 1000 - t0].
  let low = -Infinity;
  let high = Infinity;
  const timed = async (op: StoreOp, into?: number[]): Promise<StoreResult> => {
    const t0 = Date.now();
    const p0 = performance.now();
    const r = await store.run(op);
    const ms = performance.now() - p0;
    const t1 = Date.now();
    requests++;
    if (r.date !== undefined && r.status !== 0) {
      low = Math.max(low, r.date - t1);
      high = Math.min(high, r.date + 1000 - t0);
    }
    if (into && r.status !== 0 && r.status < 500) into.push(ms);
    return r;
  };
  const base = baseFor(prefix);
  const endpoint = client.config.endpoint;
  const done = (
    rest: Omit<StoreReport, "endpoint" | "bucket" | "base" | "requests" | "ms" | "clock">,
  ): StoreReport => ({
    endpoint,
    bucket,
    base,
    ...rest,
    ...(low <= high
      ? { clock: { offsetMs: (low + high) / 2, uncertaintyMs: (high - low) / 2 } }
      : {}),
    requests,
    ms: performance.now() - started,
  });

  let report;
  try {
    report = await runAsync(probeStore(base), { run: (op) => timed(op) });
  } catch (e) {
    if (!(e instanceof ProbeFailedError) || e.status < 400 || e.status >= 500) throw e;
    if (e.status === 404 && e.result.error?.code === "NoSuchBucket") throw e;
    // These credentials may not write: reads are all that is left to time.
    const lists: number[] = [];
    for (let i = 0; i < samples; i++) await timed({ kind: "list", prefix: base }, lists);
    return done({
      verdict: "read-only",
      denied: e.message,
      missing: [],
      capabilities: [],
      latency: { list: latency(lists) },
      cleanedUp: true,
    });
  }

  // Latency: small create-only PUTs (as commits are) and GETs of one of them.
  const puts: number[] = [];
  const gets: number[] = [];
  const keys: string[] = [];
  const body = new Uint8Array(1024);
  for (let i = 0; i < samples; i++) {
    const key = `${base}/latency/${String(i).padStart(4, "0")}`;
    const r = await timed({ kind: "put", key, body, ifNoneMatch: true }, puts);
    if (isSuccess(r)) keys.push(key);
  }
  for (let i = 0; i < samples && keys.length > 0; i++) {
    await timed({ kind: "get", key: keys[0] }, gets);
  }
  let cleanedUp = report.cleanedUp;
  for (const key of keys) {
    if (!isSuccess(await timed({ kind: "delete", key }))) cleanedUp = false;
  }
  return done({
    verdict: report.verdict,
    missing: report.missing,
    capabilities: report.rows,
    contentEtags: report.contentEtags,
    latency: { get: latency(gets), put: latency(puts) },
    cleanedUp,
  });
}

/**
 * Sizes, shared types and small helpers of the benchmark (`deno task bench`).
 *
 * @module
 */

/** Requests by kind, the same shape for every contender. */
export interface Requests {
  get: number;
  put: number;
  list: number;
  delete: number;
  deleteMany: number;
  head: number;
  other: number;
  total: number;
}

/** One workload as run by one contender. */
export interface WorkloadResult {
  /** bulk | commits | cold | warm | exclusive | scan | deserialize | serialize. */
  name: string;
  /** Wall time in ms. */
  ms: number;
  /** Operations done: rows, commits, queries, 1 scan, or bytes for transfers. */
  ops: number;
  /** Requests sent (every attempt). */
  requests: Requests;
  /** Bytes moved (transfers). */
  bytes?: number;
  /** Extra detail: conditional GETs and 304s, cache hits, round trips, a check value. */
  detail?: Record<string, number | string>;
  /** Result of the query, to check contenders computed the same thing. */
  check?: number;
}

/** Sizes of one run. */
export interface Sizes {
  rows: number;
  commits: number;
  lookups: number;
  /** Bytes of the serialize/deserialize database (ours, ceiling, floor). */
  transferBytes: number;
  /** The Python peer's scaled-down counts (per-operation rates are compared then). */
  py: { rows: number; commits: number; lookups: number; transferBytes: number };
}

/** One latency setting. */
export interface Setting {
  /** Key in results.json: `direct` or `proxy20`. */
  id: string;
  /** Human label. */
  label: string;
  /** Added per-request latency in ms (0: straight to MinIO). */
  delayMs: number;
  sizes: Sizes;
}

const MiB = 1024 * 1024;

/** The two latency settings, full or quick. */
export function settings(quick: boolean): Setting[] {
  if (quick) {
    const sizes: Sizes = {
      rows: 3000,
      commits: 10,
      lookups: 40,
      transferBytes: 2 * MiB,
      py: { rows: 3000, commits: 5, lookups: 10, transferBytes: 512 * 1024 },
    };
    return [
      { id: "direct", label: "straight to MinIO", delayMs: 0, sizes },
      { id: "proxy20", label: "through the 20 ms proxy", delayMs: 20, sizes },
    ];
  }
  return [
    {
      id: "direct",
      label: "straight to MinIO",
      delayMs: 0,
      sizes: {
        rows: 100_000,
        commits: 200,
        lookups: 1000,
        transferBytes: 256 * MiB,
        py: { rows: 100_000, commits: 50, lookups: 100, transferBytes: 64 * MiB },
      },
    },
    {
      id: "proxy20",
      label: "through the 20 ms proxy",
      delayMs: 20,
      sizes: {
        rows: 100_000,
        commits: 200,
        lookups: 1000,
        transferBytes: 16 * MiB,
        py: { rows: 100_000, commits: 30, lookups: 100, transferBytes: 8 * MiB },
      },
    },
  ];
}

/** The same pseudo-random primary keys as bench/py/peer.py lookup_ids(). */
export function lookupIds(n: number, rows: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number((BigInt(i + 1) * 2654435761n) % 4294967296n) % rows + 1);
  }
  return out;
}

/** The schema of workloads 1-4. */
export const SCHEMA =
  "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, payload TEXT); CREATE INDEX t_k ON t(k);";

/** Workload 1: `rows` rows with a 100-character payload, in ONE transaction. */
export function bulkSql(rows: number): string {
  return `BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) ` +
    `INSERT INTO t SELECT x, (x * 7919) % ${rows}, substr(hex(randomblob(50)), 1, 100) FROM c; COMMIT;`;
}

/** Workload 3's query. */
export const POINT_QUERY = "SELECT payload FROM t WHERE id = ?";
/** Workload 4's query. */
export const SCAN_QUERY = "SELECT sum(length(payload)) FROM t";

/** No requests. */
export function zeroRequests(): Requests {
  return { get: 0, put: 0, list: 0, delete: 0, deleteMany: 0, head: 0, other: 0, total: 0 };
}

/** Prints a progress line on stderr. */
export function log(msg: string): void {
  console.error(`  ${msg}`);
}

/** Formats a result line for the log. */
export function summary(who: string, r: WorkloadResult): string {
  return `[${who}] ${r.name}: ${r.ms.toFixed(0)} ms for ${r.ops} ops, ${r.requests.total} requests`;
}

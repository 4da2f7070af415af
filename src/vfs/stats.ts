/**
 * Request accounting of one S3VFS: what `vfs.stats()` returns.
 *
 * @module
 */

import type { BridgeSide, BridgeStats, MaintenanceStats } from "../bridge/protocol.ts";

export type { MaintenanceStats } from "../bridge/protocol.ts";
import type { CacheCounters } from "./cache.ts";

/** Counts since creation or the last `resetStats()`. */
export interface VfsStats {
  /** Requests by kind. */
  requests: {
    get: number;
    put: number;
    delete: number;
    deleteMany: number;
    list: number;
    head: number;
    total: number;
  };
  /** Response body bytes received. */
  bytesIn: number;
  /** Request body bytes sent. */
  bytesOut: number;
  /** Requests that needed a retry. */
  retried: number;
  /** Block cache lookups that hit / missed, prefetched blocks used / wasted, evictions. */
  cache: CacheCounters;
  /** Bridge round trips (each may carry many requests). */
  roundTrips: number;
  /** Milliseconds SQLite's thread spent blocked waiting for S3. */
  waitMs: number;
  /** Requests of background work (checkpoints, retention), off every transaction's path. */
  background: VfsStats["requests"];
  /** What background maintenance did: runs, folds, commits folded, blocks written, busy, failures. */
  maintenance: MaintenanceStats;
  /**
   * The store check before the first write (once per VFS and bucket): its
   * requests (not in `requests`), how long it took, and its verdict.
   */
  storeCheck: {
    /** Its requests by kind. */
    requests: VfsStats["requests"];
    /** Milliseconds it took (0 before it ran). */
    ms: number;
    /** `many-writers`, `read-only` (writes refused) or `unusable`; absent before it ran. */
    verdict?: "many-writers" | "read-only" | "unusable";
    /** Required capabilities the store lacks. */
    missing?: string[];
  };
}

/** Mutable accumulator behind `vfs.stats()`. */
export class StatsCounter {
  /** Requests by kind. */
  requests: VfsStats["requests"] = StatsCounter.#zero();
  /** Bytes in. */
  bytesIn = 0;
  /** Bytes out. */
  bytesOut = 0;
  /** Retried requests. */
  retried = 0;
  /** Round trips. */
  roundTrips = 0;
  /** Wait time. */
  waitMs = 0;
  /** Background requests by kind. */
  background: VfsStats["requests"] = StatsCounter.#zero();
  /** Background maintenance. */
  maintenance: MaintenanceStats = StatsCounter.#noMaintenance();
  /** The store check. */
  storeCheck: VfsStats["storeCheck"] = { requests: StatsCounter.#zero(), ms: 0 };

  static #noMaintenance(): MaintenanceStats {
    return { runs: 0, folds: 0, commits: 0, blocks: 0, busy: 0, failures: 0 };
  }

  static #zero(): VfsStats["requests"] {
    return {
      get: 0,
      put: 0,
      delete: 0,
      deleteMany: 0,
      list: 0,
      head: 0,
      total: 0,
    };
  }

  /** Adds one bridge call's accounting, and the background work's since the last call. */
  add(s: BridgeStats, waitedMs: number, side: BridgeSide = {}): void {
    this.addSide(side);
    StatsCounter.#count(this.requests, s);
    this.bytesIn += s.bytesIn;
    this.bytesOut += s.bytesOut;
    this.retried += s.retried;
    this.roundTrips++;
    this.waitMs += waitedMs;
  }

  /** Adds background work's and the store check's accounting (with a call, or at close). */
  addSide({ background, maintenance, check }: BridgeSide): void {
    if (check) {
      StatsCounter.#count(this.storeCheck.requests, check.requests);
      if (check.verdict !== undefined) {
        this.storeCheck.verdict = check.verdict;
        this.storeCheck.ms += check.ms ?? 0;
        this.storeCheck.missing = check.missing;
      }
    }
    if (background) StatsCounter.#count(this.background, background);
    if (maintenance) {
      const m = this.maintenance;
      m.runs += maintenance.runs;
      m.folds += maintenance.folds;
      m.commits += maintenance.commits;
      m.blocks += maintenance.blocks;
      m.busy += maintenance.busy;
      m.failures += maintenance.failures;
      if (maintenance.lastFailure !== undefined) m.lastFailure = maintenance.lastFailure;
    }
  }

  static #count(r: VfsStats["requests"], s: BridgeStats): void {
    r.get += (s.requests.GET ?? 0) + (s.requests.GET_COND ?? 0);
    r.put += s.requests.PUT ?? 0;
    r.delete += s.requests.DELETE ?? 0;
    r.deleteMany += s.requests.DELETE_MANY ?? 0;
    r.list += s.requests.LIST ?? 0;
    r.head += s.requests.HEAD ?? 0;
    r.total += Object.values(s.requests).reduce((a, b) => a + (b ?? 0), 0);
  }

  /** Zeroes everything. */
  reset(): void {
    this.requests = StatsCounter.#zero();
    this.background = StatsCounter.#zero();
    this.maintenance = StatsCounter.#noMaintenance();
    this.storeCheck = { requests: StatsCounter.#zero(), ms: 0 };
    this.bytesIn =
      this.bytesOut =
      this.retried =
      this.roundTrips =
      this.waitMs =
        0;
  }
}

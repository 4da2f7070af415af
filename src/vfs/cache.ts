/**
 * LRU cache of clean blocks with a byte budget, shared by every file of one
 * S3VFS. Entries remember the ETag they were read or written with and whether
 * read-ahead brought them in (for the used/wasted accounting).
 *
 * @module
 */

/** One cached block. */
export interface CacheEntry {
  /** Block bytes. */
  data: Uint8Array;
  /** ETag of the object holding them. */
  etag: string;
  /** Brought in by read-ahead and not yet read. */
  prefetched: boolean;
}

/** Counters the cache keeps. */
export interface CacheCounters {
  /** Lookups that found the block. */
  hits: number;
  /** Lookups that did not. */
  misses: number;
  /** Prefetched blocks read at least once. */
  prefetchUsed: number;
  /** Prefetched blocks dropped without being read. */
  prefetchWasted: number;
  /** Prefetched blocks still cached and not read yet (neither used nor wasted so far). */
  prefetchPending: number;
  /** Blocks evicted for the budget. */
  evictions: number;
}

/** Byte-budgeted LRU over (file id, block index). */
export class BlockCache {
  #lru = new Map<string, CacheEntry>();
  #byFile = new Map<number, Set<number>>();
  #bytes = 0;
  /** Counters (reset with {@linkcode BlockCache.resetCounters}). */
  counters: CacheCounters = BlockCache.#zero();
  /** Budget in bytes (0 disables caching). */
  readonly budget: number;

  /** Creates a cache holding at most `budget` bytes of blocks. */
  constructor(budget: number) {
    if (!(budget >= 0)) throw new RangeError(`cacheBytes must be >= 0, got ${budget}`);
    this.budget = budget;
  }

  static #zero(): CacheCounters {
    return {
      hits: 0,
      misses: 0,
      prefetchUsed: 0,
      prefetchWasted: 0,
      prefetchPending: 0,
      evictions: 0,
    };
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Looks a block up, marking it most recently used; counts a hit or miss. */
  get(file: number, index: number): CacheEntry | undefined {
    const k = `${file}:${index}`;
    const e = this.#lru.get(k);
    if (!e) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    if (e.prefetched) {
      e.prefetched = false;
      this.counters.prefetchUsed++;
      this.counters.prefetchPending--;
    }
    this.#lru.delete(k);
    this.#lru.set(k, e);
    return e;
  }

  /** Looks a block up without counting or reordering. */
  peek(file: number, index: number): CacheEntry | undefined {
    return this.#lru.get(`${file}:${index}`);
  }

  /** Inserts or replaces a block, then evicts least recently used blocks over the budget. */
  set(file: number, index: number, entry: CacheEntry): void {
    if (this.budget === 0) return;
    this.delete(file, index);
    const k = `${file}:${index}`;
    this.#lru.set(k, entry);
    this.#bytes += entry.data.length;
    if (entry.prefetched) this.counters.prefetchPending++;
    let set = this.#byFile.get(file);
    if (!set) this.#byFile.set(file, set = new Set());
    set.add(index);
    for (const [key, e] of this.#lru) {
      if (this.#bytes <= this.budget) break;
      const [f, i] = key.split(":").map(Number);
      this.#drop(f, i, e);
      this.counters.evictions++;
    }
  }

  #drop(file: number, index: number, e: CacheEntry): void {
    this.#lru.delete(`${file}:${index}`);
    this.#byFile.get(file)?.delete(index);
    this.#bytes -= e.data.length;
    if (e.prefetched) {
      this.counters.prefetchWasted++;
      this.counters.prefetchPending--;
    }
  }

  /** Drops one block. */
  delete(file: number, index: number): void {
    const e = this.#lru.get(`${file}:${index}`);
    if (e) this.#drop(file, index, e);
  }

  /** Drops every block of a file with index >= `from`. */
  invalidate(file: number, from = 0): void {
    const set = this.#byFile.get(file);
    if (!set) return;
    for (const i of [...set]) if (i >= from) this.delete(file, i);
  }

  /** Zeroes the counters. */
  resetCounters(): void {
    const pending = this.counters.prefetchPending;
    this.counters = BlockCache.#zero();
    this.counters.prefetchPending = pending; // a level, not a count of events
  }
}

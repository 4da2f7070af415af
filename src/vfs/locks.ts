/**
 * SQLite's lock levels as a state machine within one process, shared by
 * every connection of one S3VFS to the same file (like the unix VFS's
 * per-inode lock info). A cross-machine lease can plug in at the
 * transitions (NONE->SHARED, SHARED->RESERVED, ->EXCLUSIVE) without
 * reshaping the VFS.
 *
 * @module
 */

import {
  SQLITE_LOCK_EXCLUSIVE as LOCK_EXCLUSIVE,
  SQLITE_LOCK_NONE as LOCK_NONE,
  SQLITE_LOCK_PENDING as LOCK_PENDING,
  SQLITE_LOCK_RESERVED as LOCK_RESERVED,
  SQLITE_LOCK_SHARED as LOCK_SHARED,
} from "../ffi/constants.ts";

/** SQLite's lock levels (SQLITE_LOCK_*, defined in src/ffi/constants.ts) under short names. */
export { LOCK_EXCLUSIVE, LOCK_NONE, LOCK_PENDING, LOCK_RESERVED, LOCK_SHARED };

/** Anything holding a lock level (a file handle). */
export interface LockHolder {
  /** Current level, LOCK_NONE..LOCK_EXCLUSIVE. */
  level: number;
}

/** The lock state of one file. */
export class LockTable {
  #shared = 0;
  #reserved: LockHolder | null = null;
  #pending: LockHolder | null = null;
  #exclusive: LockHolder | null = null;

  /** Number of holders at SHARED or above. */
  get sharedCount(): number {
    return this.#shared;
  }

  /**
   * Raises `h` to `level`. Returns false (SQLITE_BUSY) when another holder
   * prevents it; a refused EXCLUSIVE leaves `h` at PENDING, as in SQLite.
   */
  lock(h: LockHolder, level: number): boolean {
    if (h.level >= level) return true;
    const other = (x: LockHolder | null): boolean => x !== null && x !== h;
    if (level === LOCK_SHARED) {
      if (other(this.#pending) || other(this.#exclusive)) return false;
      this.#shared++;
      h.level = LOCK_SHARED;
      return true;
    }
    if (h.level < LOCK_SHARED) throw new RangeError("lock above SHARED requested without SHARED");
    if (level === LOCK_RESERVED) {
      if (other(this.#reserved) || other(this.#pending) || other(this.#exclusive)) return false;
      this.#reserved = h;
      h.level = LOCK_RESERVED;
      return true;
    }
    // PENDING or EXCLUSIVE
    if (other(this.#pending) || other(this.#exclusive)) return false;
    if (other(this.#reserved)) return false;
    this.#reserved = h;
    this.#pending = h;
    h.level = LOCK_PENDING;
    if (level === LOCK_PENDING) return true;
    if (this.#shared > 1) return false;
    this.#exclusive = h;
    h.level = LOCK_EXCLUSIVE;
    return true;
  }

  /** Lowers `h` to SHARED or NONE. */
  unlock(h: LockHolder, level: number): void {
    if (h.level <= level) return;
    if (h.level > LOCK_SHARED) {
      if (this.#reserved === h) this.#reserved = null;
      if (this.#pending === h) this.#pending = null;
      if (this.#exclusive === h) this.#exclusive = null;
    }
    if (level === LOCK_NONE && h.level >= LOCK_SHARED) this.#shared--;
    h.level = level;
  }

  /** True if any holder is at RESERVED or above (xCheckReservedLock). */
  reservedHeld(): boolean {
    return this.#reserved !== null || this.#pending !== null || this.#exclusive !== null;
  }
}

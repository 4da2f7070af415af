/**
 * SQLite's lock levels as a state machine within one process, shared by
 * every connection of one S3VFS to the same file (like the unix VFS's
 * per-inode lock info). A cross-machine lease can plug in at the
 * transitions (NONE->SHARED, SHARED->RESERVED, ->EXCLUSIVE) without
 * reshaping the VFS.
 *
 * @module
 */

/** SQLITE_LOCK_NONE. */
export const LOCK_NONE = 0;
/** SQLITE_LOCK_SHARED. */
export const LOCK_SHARED = 1;
/** SQLITE_LOCK_RESERVED. */
export const LOCK_RESERVED = 2;
/** SQLITE_LOCK_PENDING. */
export const LOCK_PENDING = 3;
/** SQLITE_LOCK_EXCLUSIVE. */
export const LOCK_EXCLUSIVE = 4;

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

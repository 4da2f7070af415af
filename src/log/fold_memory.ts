/**
 * What a checkpointer remembers of the base blocks between its runs, so that
 * the next run writes a changed block with one conditional PUT instead of a
 * HEAD and a PUT: each block's ETag and txid as its own writes (or HEADs)
 * left them, and the ETag of its last write of the checkpoint record.
 *
 * Exact, not a guess: base blocks are written only under the checkpoint
 * claim, and taking the claim rewrites the record (a fresh nonce, so a new
 * ETag). If the record still has the ETag of our last write when a run
 * begins, nobody took the claim since, so no block changed since we last
 * saw it; otherwise everything remembered is dropped. A run that does not
 * end with its own write of the record leaves the memory stale by the same
 * test.
 *
 * @module
 */

/** One block as last seen: its ETag and the txid it holds. */
export interface KnownBlock {
  /** ETag of the block object. */
  etag: string;
  /** The txid whose content it holds. */
  txid: number;
}

/** Most blocks remembered per database (about 20 MiB); more are simply not remembered. */
export const MAX_KNOWN_BLOCKS = 1 << 18;

/** A checkpointer's memory of one database's base blocks. */
export class FoldMemory {
  #id: string | undefined;
  #recordEtag: string | undefined;
  #blocks = new Map<number, KnownBlock>();
  #inUse = false;

  /**
   * Takes the memory for one run; false while another run (of this process)
   * has it: that run then goes without (two runs at once never share it).
   */
  acquire(): boolean {
    if (this.#inUse) return false;
    this.#inUse = true;
    return true;
  }

  /** Gives the memory back at the end of a run, however it ended. */
  release(): void {
    this.#inUse = false;
  }

  /**
   * At the start of a run, with the config id and the record's ETag as read:
   * keeps what is remembered only if the record is still our last write of it.
   */
  begin(configId: string | undefined, recordEtag: string | undefined): void {
    if (recordEtag === undefined || recordEtag !== this.#recordEtag || configId !== this.#id) {
      this.#blocks.clear();
    }
    this.#id = configId;
    this.#recordEtag = undefined; // until this run's own final write of the record
  }

  /** A block as last seen, if remembered. */
  get(index: number): KnownBlock | undefined {
    return this.#blocks.get(index);
  }

  /** Remembers a block as just written or read. */
  note(index: number, etag: string | undefined, txid: number): void {
    if (etag === undefined) return this.forget(index);
    if (this.#blocks.size >= MAX_KNOWN_BLOCKS && !this.#blocks.has(index)) return;
    this.#blocks.set(index, { etag, txid });
  }

  /** Forgets a block (its state is unknown). */
  forget(index: number): void {
    this.#blocks.delete(index);
  }

  /** At the end of a run, with the ETag of its own final write of the record. */
  end(recordEtag: string): void {
    this.#recordEtag = recordEtag;
  }

  /** Blocks remembered. */
  get size(): number {
    return this.#blocks.size;
  }
}

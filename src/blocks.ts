/**
 * Block layout shared with the Python sqlite-s3vfs: a file of `size` bytes is
 * stored as objects `<prefix>/<10-digit block index>`, every block
 * `blockSize` bytes except the last. Pure functions, no I/O.
 *
 * @module
 */

/** The default block size, as in sqlite-s3vfs. */
export const DEFAULT_BLOCK_SIZE = 4096;

/** Object key of block `index` under `prefix` (10-digit zero padding, so list order is block order). */
export function blockKey(prefix: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 9_999_999_999) {
    throw new RangeError(`block index out of range: ${index}`);
  }
  return `${prefix}/${String(index).padStart(10, "0")}`;
}

/** Block index of `key` if it is a block key directly under `prefix`, else undefined. */
export function blockIndexOf(prefix: string, key: string): number | undefined {
  if (!key.startsWith(prefix + "/")) return undefined;
  const rest = key.slice(prefix.length + 1);
  return /^\d{10}$/.test(rest) ? Number(rest) : undefined;
}

/** Number of blocks a file of `size` bytes occupies. */
export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** Length of block `index` in a file of `size` bytes (0 past the end). */
export function blockLength(index: number, size: number, blockSize: number): number {
  return Math.max(0, Math.min(blockSize, size - index * blockSize));
}

/** One piece of a byte range that falls within a single block. */
export interface BlockSpan {
  /** Block index. */
  index: number;
  /** Offset of the piece inside the block. */
  inBlock: number;
  /** Offset of the piece inside the caller's buffer. */
  inBuffer: number;
  /** Length of the piece. */
  length: number;
}

/** Splits the byte range [offset, offset+length) into per-block spans, in order. */
export function blockSpans(offset: number, length: number, blockSize: number): BlockSpan[] {
  if (!(blockSize > 0)) throw new RangeError(`blockSize must be > 0, got ${blockSize}`);
  const spans: BlockSpan[] = [];
  let pos = offset;
  const end = offset + length;
  while (pos < end) {
    const index = Math.floor(pos / blockSize);
    const inBlock = pos - index * blockSize;
    const n = Math.min(blockSize - inBlock, end - pos);
    spans.push({ index, inBlock, inBuffer: pos - offset, length: n });
    pos += n;
  }
  return spans;
}

/** Validates a block size option (1 byte .. 64 MiB, integer). */
export function checkBlockSize(blockSize: number): number {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 64 * 1024 * 1024) {
    throw new RangeError(`blockSize must be an integer between 1 and 67108864, got ${blockSize}`);
  }
  return blockSize;
}

/** An ETag without the weak prefix and quotes, for comparison. */
export function bareEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/"/g, "");
}

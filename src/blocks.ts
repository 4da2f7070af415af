/**
 * Block layout shared with the Python sqlite-s3vfs: a file of `size` bytes is
 * stored as objects `<prefix>/<10-digit block index>`, every block
 * `blockSize` bytes except the last. Pure functions, plus the two reads of
 * the layout every layer needs (the block listing, the hot-journal check),
 * written against the few client methods they use so this stays a leaf.
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

/** One block object found by {@linkcode listBlocks}. */
export interface BlockEntry {
  /** Block index. */
  index: number;
  /** Object key. */
  key: string;
  /** Object size in bytes. */
  size: number;
  /** ETag, bare (see {@linkcode bareEtag}). */
  etag: string;
}

/** The client calls the layout reads need (the S3 client has them). */
export interface LayoutClient {
  /** Lists every object under a prefix. */
  list(
    bucket: string,
    options: { prefix: string },
  ): AsyncIterable<{ key: string; size: number; etag: string }>;
  /** Reads (part of) an object. */
  get(
    bucket: string,
    key: string,
    options: { range: { offset: number; length: number }; signal?: AbortSignal },
  ): Promise<{ status: string; body?: Uint8Array }>;
}

/** Every block object under `prefix/`, sorted by index (other keys ignored). */
export async function listBlocks(
  client: LayoutClient,
  bucket: string,
  prefix: string,
): Promise<BlockEntry[]> {
  const out: BlockEntry[] = [];
  for await (const e of client.list(bucket, { prefix: prefix + "/" })) {
    const index = blockIndexOf(prefix, e.key);
    if (index !== undefined) out.push({ index, key: e.key, size: e.size, etag: bareEtag(e.etag) });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Whether a rollback journal stored under `journalPrefix` is hot: its block 0
 * exists and its first byte is non-zero (what SQLite checks before rolling
 * it back).
 */
export async function hasHotJournal(
  client: LayoutClient,
  bucket: string,
  journalPrefix: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const r = await client.get(bucket, blockKey(journalPrefix, 0), {
    range: { offset: 0, length: 1 },
    signal,
  });
  return r.status === "ok" && r.body !== undefined && r.body.length > 0 && r.body[0] !== 0;
}

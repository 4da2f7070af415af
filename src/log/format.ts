/**
 * Object formats: the config object, the checkpoint record, the commit object
 * (a fixed header, a JSON index, then block data, so one block can be read with
 * a ranged GET) and the user metadata on commit objects and base blocks. Pure
 * encode/decode with validation; no I/O.
 *
 * @module
 */

import { blockCount, blockLength } from "../blocks.ts";
import { crc32 } from "./crc32.ts";
import { LogCorruptError } from "./errors.ts";
import { checkTiming, type CommitStamp, type Timing } from "./rules.ts";
import type { Metadata } from "./store.ts";

/** Version of every format here. */
export const FORMAT_VERSION = 1;

/** Magic bytes at the start of a commit object. */
export const COMMIT_MAGIC = "S3VFSLOG";

/** Bytes before the JSON index: magic, version, index length, index CRC, reserved (u32 BE each). */
export const COMMIT_HEADER_BYTES = 24;

/** Metadata names used by the protocol. */
export interface MetaNames {
  /** Commit object: the writer's random put id. */
  readonly putId: string;
  /** Commit object: "commit" or "abort". */
  readonly kind: string;
  /** Commit object: server time the writer proved its snapshot (ms). */
  readonly validatedAt: string;
  /** Commit object: server time of its first staged chunk (ms), if any. */
  readonly stagedAt: string;
  /** Base block: the txid whose content it holds. */
  readonly txid: string;
  /** Commit object: the log incarnation (config id) it was written into. */
  readonly incarnation: string;
}

/** Metadata names (`x-amz-meta-…`). */
export const META: MetaNames = Object.freeze({
  /** Commit object: the writer's random put id. */
  putId: "s3vfs-putid",
  /** Commit object: "commit" or "abort". */
  kind: "s3vfs-kind",
  /** Commit object: server time the writer proved its snapshot (ms). */
  validatedAt: "s3vfs-validated",
  /** Commit object: server time of its first staged chunk (ms), if any. */
  stagedAt: "s3vfs-staged",
  /** Base block: the txid whose content it holds (absent: 0, written by Python). */
  txid: "s3vfs-txid",
  /** Commit object: the log incarnation (config id) it was written into. */
  incarnation: "s3vfs-incarnation",
});

const enc = new TextEncoder();
const dec = new TextDecoder();

function isInt(v: unknown, min = 0): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(dec.decode(bytes));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* reported below */ }
  throw new LogCorruptError(`${what} is not a JSON object`);
}

/** `<prefix>.s3vfs/config`: created once, never changed. */
export interface ConfigRecord {
  /** Format version. */
  version: number;
  /** Block size of the base blocks and of every commit. */
  blockSize: number;
  /** Time rules every process applies. */
  timing: Timing;
  /**
   * Random id of this incarnation of the database's log, tagged on every base
   * block a checkpoint writes: a block tagged by another incarnation (the
   * companion objects were removed, Python wrote, the log was started again)
   * holds the base content, txid 0.
   */
  id?: string;
  /**
   * 2: the log lives under `log/<id>/` and every commit carries the id (the
   * release of the checkpoint claim on). Absent: `log/<txid>` (earlier ones).
   */
  layout?: number;
}

/** The log layout of the configs this release writes. */
export const LOG_LAYOUT = 2;

/** Encodes a config object. */
export function encodeConfig(c: ConfigRecord): Uint8Array {
  return enc.encode(
    JSON.stringify({
      version: c.version,
      blockSize: c.blockSize,
      timing: c.timing,
      id: c.id,
      ...(c.layout === undefined ? {} : { layout: c.layout }),
    }),
  );
}

/** Decodes and validates a config object. */
export function decodeConfig(bytes: Uint8Array): ConfigRecord {
  const v = parseJson(bytes, "config");
  if (v.version !== FORMAT_VERSION) throw new LogCorruptError(`config version ${v.version}`);
  if (!isInt(v.blockSize, 1)) throw new LogCorruptError(`config blockSize ${v.blockSize}`);
  let timing: Timing;
  try {
    timing = checkTiming(v.timing as Timing);
  } catch (e) {
    throw new LogCorruptError(`config timing: ${(e as Error).message}`);
  }
  const id = typeof v.id === "string" ? v.id : undefined;
  if (v.layout !== undefined && !(isInt(v.layout, 1) && id)) {
    throw new LogCorruptError(`config layout ${v.layout}`);
  }
  if (v.layout !== undefined && (v.layout as number) > LOG_LAYOUT) {
    throw new LogCorruptError(
      `config layout ${v.layout}: written by a newer release of @s3vfs/sqlite; upgrade this one`,
    );
  }
  return {
    version: FORMAT_VERSION,
    blockSize: v.blockSize,
    timing,
    ...(id ? { id } : {}),
    ...(v.layout === undefined ? {} : { layout: v.layout as number }),
  };
}

/** Version of the checkpoint record written here (1: before the checkpoint claim). */
export const CHECKPOINT_VERSION = 2;

/**
 * The checkpoint claim (docs/protocol.md section 16): which checkpointer may
 * write base blocks. Taken, renewed and given up with `If-Match` writes of
 * the checkpoint record; it counts until the server's clock passes the
 * record's Last-Modified + `ttlMs` + M, unless `released`.
 */
export interface CheckpointClaim {
  /** Random id of the claiming run. */
  holder: string;
  /** Host name of its process (for people; may be empty). */
  host: string;
  /** Process id (for people). */
  pid: number;
  /** Incremented at every take; renewals keep it. */
  generation: number;
  /** Time to live after each write of the record, in ms (whole seconds). */
  ttlMs: number;
  /** Given up by its holder: anyone may take it at once. */
  released: boolean;
  /** New at every write, so every write of the record has a new ETag. */
  nonce: string;
}

/** `<prefix>.s3vfs/checkpoint`: the txid (and its size) every base block is at least at. */
export interface CheckpointRecord {
  /** Every base block holds its version at this txid or a newer one. */
  txid: number;
  /** Database size in bytes at `txid`. */
  size: number;
  /** Page size at `txid` (0 if unknown). */
  pageSize: number;
  /** The log incarnation (the config's `id`); absent in records of version 1. */
  id?: string;
  /** Server time (ms) at which the last retention pass started. */
  retainedAt?: number;
  /** The checkpoint claim, once a checkpointer took it. */
  claim?: CheckpointClaim;
}

/** Encodes a checkpoint record (always the current version). */
export function encodeCheckpoint(c: CheckpointRecord): Uint8Array {
  return enc.encode(JSON.stringify({
    version: CHECKPOINT_VERSION,
    txid: c.txid,
    size: c.size,
    pageSize: c.pageSize,
    ...(c.id === undefined ? {} : { id: c.id }),
    ...(c.retainedAt === undefined ? {} : { retainedAt: c.retainedAt }),
    ...(c.claim === undefined ? {} : { claim: c.claim }),
  }));
}

function decodeClaim(v: unknown): CheckpointClaim | undefined {
  const c = v as Record<string, unknown> | null;
  if (
    c && typeof c === "object" && typeof c.holder === "string" && c.holder !== "" &&
    typeof c.host === "string" && isInt(c.pid) && isInt(c.generation, 1) &&
    isInt(c.ttlMs, 1000) && typeof c.released === "boolean" && typeof c.nonce === "string"
  ) {
    return {
      holder: c.holder,
      host: c.host,
      pid: c.pid,
      generation: c.generation,
      ttlMs: c.ttlMs,
      released: c.released,
      nonce: c.nonce,
    };
  }
  return undefined;
}

/**
 * Decodes and validates a checkpoint record of version 1 or 2. A newer
 * version is refused (a process of an older release must not checkpoint a
 * database whose record it does not fully understand).
 */
export function decodeCheckpoint(bytes: Uint8Array): CheckpointRecord {
  const v = parseJson(bytes, "checkpoint");
  const bad = (): never => {
    throw new LogCorruptError(`bad checkpoint record ${dec.decode(bytes).slice(0, 200)}`);
  };
  if (v.version !== 1 && v.version !== CHECKPOINT_VERSION) {
    throw new LogCorruptError(
      `checkpoint record version ${v.version}: written by a newer release of @s3vfs/sqlite; ` +
        "upgrade this one",
    );
  }
  if (!isInt(v.txid) || !isInt(v.size) || !isInt(v.pageSize)) bad();
  const out: CheckpointRecord = {
    txid: v.txid as number,
    size: v.size as number,
    pageSize: v.pageSize as number,
  };
  if (v.id !== undefined) {
    if (typeof v.id !== "string" || v.id === "") bad();
    out.id = v.id as string;
  }
  if (v.retainedAt !== undefined) {
    if (!isInt(v.retainedAt)) bad();
    out.retainedAt = v.retainedAt as number;
  }
  if (v.claim !== undefined) out.claim = decodeClaim(v.claim) ?? bad();
  return out;
}

/** Where one block's new content is: inline in the commit object, or in a staged chunk. */
export interface BlockRef {
  /** Block index. */
  index: number;
  /** Offset: from the start of the inline data, or in the chunk. */
  offset: number;
  /** Length (the block's length at the commit's size). */
  length: number;
  /** CRC-32 of the content. */
  crc: number;
  /** Staged chunk number; absent when inline. */
  chunk?: number;
}

/** The JSON index of a commit object. */
export interface CommitIndex extends CommitStamp {
  /** This commit's txid (the writer's snapshot + 1). */
  txid: number;
  /** Random id of the writer's attempt (also in metadata). */
  putId: string;
  /** Database size in bytes after this commit. */
  size: number;
  /** Database size at the writer's snapshot. */
  prevSize: number;
  /** Page size after this commit. */
  pageSize: number;
  /** Block size (must equal the config's). */
  blockSize: number;
  /** Changed blocks, ascending. */
  blocks: BlockRef[];
}

/**
 * Encodes a commit object: header, index, then the inline blocks' bytes in
 * the order of their `offset`s. `inline` holds the content of each block
 * without a `chunk`, in index order.
 */
export function encodeCommit(index: CommitIndex, inline: Uint8Array[]): Uint8Array {
  const json = enc.encode(JSON.stringify({
    ...index,
    version: FORMAT_VERSION,
    blocks: index.blocks.map((b) =>
      b.chunk === undefined
        ? [b.index, b.offset, b.length, b.crc]
        : [b.index, b.offset, b.length, b.crc, b.chunk]
    ),
  }));
  const dataLength = inline.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(COMMIT_HEADER_BYTES + json.length + dataLength);
  out.set(enc.encode(COMMIT_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, FORMAT_VERSION);
  view.setUint32(12, json.length);
  view.setUint32(16, crc32(json));
  out.set(json, COMMIT_HEADER_BYTES);
  let pos = COMMIT_HEADER_BYTES + json.length;
  for (const b of inline) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** Bytes of header + index, from the first 24 bytes of a commit object. */
export function commitIndexEnd(head: Uint8Array): number {
  if (head.length < COMMIT_HEADER_BYTES || dec.decode(head.subarray(0, 8)) !== COMMIT_MAGIC) {
    throw new LogCorruptError("commit object without its magic header");
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getUint32(8) !== FORMAT_VERSION) {
    throw new LogCorruptError(`commit format ${view.getUint32(8)}`);
  }
  return COMMIT_HEADER_BYTES + view.getUint32(12);
}

/** Decodes and checks the index from the first `commitIndexEnd()` bytes of a commit object. */
export function decodeCommitIndex(bytes: Uint8Array, blockSize: number): CommitIndex {
  const end = commitIndexEnd(bytes);
  if (bytes.length < end) throw new LogCorruptError("commit index cut short");
  const json = bytes.subarray(COMMIT_HEADER_BYTES, end);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32(json) !== view.getUint32(16)) throw new LogCorruptError("commit index checksum");
  const v = parseJson(json, "commit index");
  const ok = isInt(v.txid, 1) && typeof v.putId === "string" &&
    (v.kind === "commit" || v.kind === "abort") && isInt(v.validatedAt) &&
    (v.stagedAt === undefined || isInt(v.stagedAt)) &&
    (v.incarnation === undefined || (typeof v.incarnation === "string" && v.incarnation !== "")) &&
    isInt(v.size) && isInt(v.prevSize) &&
    isInt(v.pageSize) && v.blockSize === blockSize && Array.isArray(v.blocks);
  if (!ok) throw new LogCorruptError(`bad commit index ${dec.decode(json).slice(0, 200)}`);
  const size = v.size as number;
  let last = -1;
  const blocks = (v.blocks as unknown[]).map((raw): BlockRef => {
    const a = raw as unknown[];
    if (!Array.isArray(a) || !a.slice(0, 4).every((x) => isInt(x)) || a.length > 5) {
      throw new LogCorruptError(`bad block entry ${JSON.stringify(raw)}`);
    }
    const [index, offset, length, crc, chunk] = a as number[];
    if (index <= last || length !== blockLength(index, size, blockSize)) {
      throw new LogCorruptError(`block entry ${index} out of order or of wrong length`);
    }
    last = index;
    return chunk === undefined
      ? { index, offset, length, crc }
      : { index, offset, length, crc, chunk };
  });
  if (last >= blockCount(size, blockSize)) throw new LogCorruptError("block past the end");
  return {
    txid: v.txid as number,
    putId: v.putId as string,
    kind: v.kind as "commit" | "abort",
    validatedAt: v.validatedAt as number,
    ...(v.stagedAt === undefined ? {} : { stagedAt: v.stagedAt as number }),
    ...(v.incarnation === undefined ? {} : { incarnation: v.incarnation as string }),
    size,
    prevSize: v.prevSize as number,
    pageSize: v.pageSize as number,
    blockSize,
    blocks,
  };
}

/** Metadata of a commit object: enough to recognise it and decide it with one HEAD. */
export function commitMeta(index: CommitIndex): Metadata {
  const m: Metadata = {
    [META.putId]: index.putId,
    [META.kind]: index.kind,
    [META.validatedAt]: String(index.validatedAt),
  };
  if (index.stagedAt !== undefined) m[META.stagedAt] = String(index.stagedAt);
  if (index.incarnation !== undefined) m[META.incarnation] = index.incarnation;
  return m;
}

/** Reads the stamp and put id back from a commit object's metadata (undefined if foreign). */
export function stampFromMeta(
  meta: Metadata | undefined,
): (CommitStamp & { putId: string }) | undefined {
  const putId = meta?.[META.putId];
  const kind = meta?.[META.kind];
  const validatedAt = Number(meta?.[META.validatedAt]);
  if (!putId || (kind !== "commit" && kind !== "abort") || !isInt(validatedAt)) return undefined;
  const out: CommitStamp & { putId: string } = { putId, kind, validatedAt };
  const staged = meta?.[META.stagedAt];
  if (staged !== undefined) {
    const stagedAt = Number(staged);
    if (!isInt(stagedAt)) return undefined;
    out.stagedAt = stagedAt;
  }
  const incarnation = meta?.[META.incarnation];
  if (incarnation) out.incarnation = incarnation;
  return out;
}

/** The metadata value tagging a base block with `txid` of the log incarnation `id`. */
export function blockTag(txid: number, id: string | undefined): string {
  return id ? `${txid}@${id}` : String(txid);
}

/** A base block's tag parsed: the txid it holds and the log incarnation that wrote it. */
export interface BlockTag {
  /** Txid whose content the block holds (0: untagged, Python's). */
  txid: number;
  /** Config id of the incarnation whose checkpoint wrote it (absent: untagged or legacy). */
  id?: string;
}

/** Parses the tag of a base block (`<txid>` or `<txid>@<id>`; none: txid 0). */
export function parseBlockTag(meta: Metadata | undefined): BlockTag {
  const raw = meta?.[META.txid];
  if (raw === undefined) return { txid: 0 };
  const at = raw.indexOf("@");
  const n = Number(at >= 0 ? raw.slice(0, at) : raw);
  if (!isInt(n) || (at >= 0 && at === raw.length - 1)) {
    throw new LogCorruptError(`base block txid metadata ${JSON.stringify(raw)}`);
  }
  return at >= 0 ? { txid: n, id: raw.slice(at + 1) } : { txid: n };
}

/**
 * The txid a base block holds: 0 when it has no tag (written by Python
 * sqlite-s3vfs) or, when `id` is given, a tag of another incarnation of the
 * log (see {@linkcode ConfigRecord.id}).
 */
export function blockTxid(meta: Metadata | undefined, id?: string): number {
  const tag = parseBlockTag(meta);
  if (id !== undefined && tag.id !== undefined && tag.id !== id) return 0;
  return tag.txid;
}

/**
 * Reading commit objects: fetch one (its index with a ranged GET of the first
 * bytes, which for a small commit is the whole object), decide whether it is
 * effective, and locate each block it carries (inline or in a staged chunk).
 *
 * @module
 */

import { LogCorruptError } from "./errors.ts";
import { type CommitIndex, commitIndexEnd, decodeCommitIndex } from "./format.ts";
import { logKey, logNamespace, stageKey } from "./keys.ts";

/** What reading a database's commits needs of its config: block size and log namespace. */
export interface LogShape {
  /** Block size. */
  blockSize: number;
  /** The config id. */
  id?: string;
  /** The log layout (see `logNamespace`). */
  layout?: number;
}
import { commitEffective, type Timing } from "./rules.ts";
import { crc32 } from "./crc32.ts";
import { dateOf, expectOk, isAbsent, request, type Step } from "./store.ts";

/** Bytes fetched first from a commit object: small commits arrive whole. */
export const DEFAULT_PROBE_BYTES = 256 * 1024;

/** A commit object as fetched. */
export interface FetchedCommit {
  /** Its index. */
  index: CommitIndex;
  /** Its Last-Modified (ms, from the GET). */
  lastModified: number;
  /** Server time of the GET that returned it. */
  date: number;
  /** The object's first bytes (at least header and index). */
  bytes: Uint8Array;
  /** Where the inline data starts. */
  dataStart: number;
}

/** The result of {@linkcode fetchCommit}. */
export type FetchResult = { absent: false; commit: FetchedCommit } | { absent: true; date: number };

/**
 * GETs the first `probeBytes` of `log/<txid>` (and the rest of the index if it
 * is longer). Absent is a result; a second GET that finds the object gone or
 * replaced (retention, then a void re-creation) counts as absent too.
 */
export function* fetchCommit(
  prefix: string,
  txid: number,
  config: LogShape,
  probeBytes = DEFAULT_PROBE_BYTES,
): Step<FetchResult> {
  const { blockSize } = config;
  const key = logKey(prefix, txid, logNamespace(config));
  const op = { kind: "get", key, range: { offset: 0, length: probeBytes } } as const;
  const r = expectOk(op, yield* request(op), true);
  const date = dateOf(op, r);
  if (isAbsent(r)) return { absent: true, date };
  let bytes = r.body ?? new Uint8Array(0);
  const end = commitIndexEnd(bytes);
  if (end > bytes.length) {
    const op2 = {
      kind: "get",
      key,
      range: { offset: bytes.length, length: end - bytes.length },
    } as const;
    const r2 = expectOk(op2, yield* request(op2), true);
    if (isAbsent(r2) || r2.etag !== r.etag) return { absent: true, date: dateOf(op2, r2) };
    const all = new Uint8Array(bytes.length + (r2.body?.length ?? 0));
    all.set(bytes);
    all.set(r2.body ?? new Uint8Array(0), bytes.length);
    bytes = all;
  }
  const index = decodeCommitIndex(bytes, blockSize);
  if (index.txid !== txid) throw new LogCorruptError(`${key} holds txid ${index.txid}`);
  if (r.lastModified === undefined) throw new LogCorruptError(`${key}: no Last-Modified`);
  return {
    absent: false,
    commit: { index, lastModified: r.lastModified, date, bytes, dataStart: end },
  };
}

/**
 * Whether the fetched commit's blocks and size apply for a reader of the
 * log incarnation `config.id` (see `commitEffective`).
 */
export function isEffective(c: FetchedCommit, config: { timing: Timing; id?: string }): boolean {
  return commitEffective(c.lastModified, c.index, config.timing, config.id);
}

/** Where one version of one block can be read. */
export interface BlockVersion {
  /** The commit that wrote it. */
  txid: number;
  /** Object holding the bytes (the commit object or a stage chunk). */
  key: string;
  /** Put id the object must carry when it is the commit object (a re-created key does not). */
  putId?: string;
  /** Offset of the bytes in that object. */
  offset: number;
  /** Length. */
  length: number;
  /** CRC-32 of the bytes. */
  crc: number;
}

/** Locates every block of an effective commit. */
export function versionsOf(prefix: string, c: FetchedCommit): BlockVersion[] {
  return locateBlocks(prefix, c.index, c.dataStart);
}

/** Locates every block of a commit from its index (`dataStart`: where its inline data begins). */
export function locateBlocks(
  prefix: string,
  index: CommitIndex,
  dataStart: number,
): BlockVersion[] {
  return index.blocks.map((b) =>
    b.chunk === undefined
      ? {
        txid: index.txid,
        key: logKey(prefix, index.txid, index.incarnation),
        putId: index.putId,
        offset: dataStart + b.offset,
        length: b.length,
        crc: b.crc,
      }
      : {
        txid: index.txid,
        key: stageKey(prefix, index.txid, index.putId, b.chunk, index.incarnation),
        offset: b.offset,
        length: b.length,
        crc: b.crc,
      }
  );
}

/** The bytes of `v` if they arrived with the fetched commit (checked), else undefined. */
export function inlineBytes(c: FetchedCommit, v: BlockVersion): Uint8Array | undefined {
  if (v.putId === undefined || v.offset + v.length > c.bytes.length) return undefined;
  const bytes = c.bytes.slice(v.offset, v.offset + v.length);
  if (crc32(bytes) !== v.crc) throw new LogCorruptError(`block checksum in log/${c.index.txid}`);
  return bytes;
}

/**
 * Object keys of a database and its companion objects. The base blocks keep
 * the Python sqlite-s3vfs layout, `<prefix>/<10-digit block>`; everything the
 * log protocol adds lives under `<prefix>.s3vfs/`, outside `<prefix>/` (Python
 * sums every object under `<prefix>/` as the file size). Database names with a
 * path segment ending in `.s3vfs` are refused, so no key of one database can
 * ever be a key of another. Pure functions, no I/O.
 *
 * @module
 */

/** Suffix of the companion folder; reserved at the end of every path segment. */
export const COMPANION_SUFFIX = ".s3vfs";

/** Longest database name in UTF-8 bytes (S3 keys are at most 1,024; the stage keys add 72). */
export const MAX_NAME_BYTES = 900;

const encoder = new TextEncoder();

/**
 * Returns `name` if it is a valid database name, else throws a TypeError: empty,
 * longer than {@linkcode MAX_NAME_BYTES}, a leading or trailing "/", an empty,
 * "." or ".." segment, a control character, or a segment ending in ".s3vfs".
 */
export function checkDatabaseName(name: string): string {
  const bad = (why: string): never => {
    throw new TypeError(`invalid database name ${JSON.stringify(name)}: ${why}`);
  };
  if (typeof name !== "string" || name.length === 0) bad("empty");
  if (encoder.encode(name).length > MAX_NAME_BYTES) bad(`longer than ${MAX_NAME_BYTES} bytes`);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) bad("control character");
  if (name.startsWith("/")) bad('leading "/"');
  if (name.endsWith("/")) bad('trailing "/"');
  for (const segment of name.split("/")) {
    if (segment === "") bad("empty path segment");
    if (segment === "." || segment === "..") bad(`"${segment}" segment`);
    if (segment.endsWith(COMPANION_SUFFIX)) {
      bad(`segment ending in "${COMPANION_SUFFIX}" (reserved)`);
    }
  }
  return name;
}

/** Zero-pads a txid to 20 digits. */
export function padTxid(txid: number): string {
  if (!Number.isSafeInteger(txid) || txid < 0) throw new RangeError(`bad txid ${txid}`);
  return String(txid).padStart(20, "0");
}

/** `<prefix>.s3vfs/`: every companion object starts with this. */
export function companionPrefix(prefix: string): string {
  return `${prefix}${COMPANION_SUFFIX}/`;
}

/** The immutable config object (format, block size, timing). */
export function configKey(prefix: string): string {
  return `${companionPrefix(prefix)}config`;
}

/** The checkpoint record (txid and size the base blocks hold). */
export function checkpointKey(prefix: string): string {
  return `${companionPrefix(prefix)}checkpoint`;
}

/** The writer lease (docs/protocol.md 15). */
export function leaseKey(prefix: string): string {
  return `${companionPrefix(prefix)}lease`;
}

/**
 * The log namespace of a database: its config id when its config says the
 * log lives under it (`layout` 2, every database this release creates), so
 * that a process of a deleted incarnation can never read, write or delete a
 * commit object of the database created again in its place. Undefined for
 * a database of an earlier release (its log is `log/<txid>`).
 */
export function logNamespace(config: { id?: string; layout?: number }): string | undefined {
  return config.layout !== undefined && config.layout >= 2 ? config.id : undefined;
}

/** Prefix of the commit objects (of the log namespace `ns`, see {@linkcode logNamespace}). */
export function logPrefix(prefix: string, ns?: string): string {
  return `${companionPrefix(prefix)}log/${ns === undefined ? "" : `${ns}/`}`;
}

/** The commit object of `txid` (in the log namespace `ns`). */
export function logKey(prefix: string, txid: number, ns?: string): string {
  return logPrefix(prefix, ns) + padTxid(txid);
}

/** The txid of a commit object key (of the log namespace `ns`), or undefined if `key` is not one. */
export function txidOfLogKey(prefix: string, key: string, ns?: string): number | undefined {
  const lp = logPrefix(prefix, ns);
  if (!key.startsWith(lp)) return undefined;
  const rest = key.slice(lp.length);
  return /^\d{20}$/.test(rest) ? Number(rest) : undefined;
}

/** Prefix of the staged block data of big transactions (of the log namespace `ns`). */
export function stagePrefix(prefix: string, ns?: string): string {
  return `${companionPrefix(prefix)}stage/${ns === undefined ? "" : `${ns}/`}`;
}

/** Prefix of the chunks one writer staged for `txid` under its put id (in the namespace `ns`). */
export function stageDir(prefix: string, txid: number, putId: string, ns?: string): string {
  if (!/^[0-9a-z]{1,40}$/.test(putId)) throw new RangeError(`bad put id ${putId}`);
  return `${stagePrefix(prefix, ns)}${padTxid(txid)}.${putId}/`;
}

/** Chunk `seq` of a writer's staged data (in the log namespace `ns`). */
export function stageKey(
  prefix: string,
  txid: number,
  putId: string,
  seq: number,
  ns?: string,
): string {
  return stageDir(prefix, txid, putId, ns) + String(seq).padStart(10, "0");
}

/** The parts of a stage chunk key (of the namespace `ns`), or undefined if `key` is not one. */
export function parseStageKey(
  prefix: string,
  key: string,
  ns?: string,
): { txid: number; putId: string; seq: number } | undefined {
  const sp = stagePrefix(prefix, ns);
  if (!key.startsWith(sp)) return undefined;
  const m = /^(\d{20})\.([0-9a-z]{1,40})\/(\d{10})$/.exec(key.slice(sp.length));
  return m ? { txid: Number(m[1]), putId: m[2], seq: Number(m[3]) } : undefined;
}

/** A fresh random put id (32 hex digits). */
export function newPutId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

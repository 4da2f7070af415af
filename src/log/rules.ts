/**
 * The time rules of the protocol. Every age is measured on the S3 server's
 * clock (the `Date` and `Last-Modified` headers), never on a client's, and
 * every comparison is made in whole seconds because HTTP dates have second
 * precision. The parameters are recorded in the database's config object, so
 * every process applies the same rules. docs/protocol.md explains each bound.
 *
 * @module
 */

/** Timing parameters of a database, all in ms and whole seconds. */
export interface Timing {
  /** G: a commit is folded into the base blocks only once it is older than this. */
  graceMs: number;
  /** W: a commit is void unless written within this of its writer's proof of its snapshot. */
  maxCommitLagMs: number;
  /** R: a folded commit object is kept at least this long. */
  keepHistoryMs: number;
  /** X: a commit with staged data is void unless written within this of its staging. */
  maxStageAgeMs: number;
  /** M: allowance for the gap between a server's evaluation of a request and its headers. */
  marginMs: number;
}

/** Defaults: G 60 s, W 30 s, R 15 min, X 1 h, M 2 s. */
export const DEFAULT_TIMING: Readonly<Timing> = Object.freeze({
  graceMs: 60_000,
  maxCommitLagMs: 30_000,
  keepHistoryMs: 15 * 60_000,
  maxStageAgeMs: 60 * 60_000,
  marginMs: 2_000,
});

/**
 * Validates timing parameters: whole seconds, M >= 1 s, W >= 2 M,
 * R >= max(G, W + 4 M), X >= W. Returns a copy; throws RangeError.
 */
export function checkTiming(t: Timing): Timing {
  const out = { ...t };
  for (const [name, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v <= 0 || v % 1000 !== 0) {
      throw new RangeError(`timing.${name} must be a positive whole number of seconds in ms`);
    }
  }
  const { graceMs: g, maxCommitLagMs: w, keepHistoryMs: r, maxStageAgeMs: x, marginMs: m } = out;
  if (w < 2 * m) throw new RangeError(`maxCommitLagMs ${w} < 2 * marginMs`);
  if (r < g || r < w + 4 * m) {
    throw new RangeError(
      `keepHistoryMs ${r} must be >= graceMs and >= maxCommitLagMs + 4 * marginMs`,
    );
  }
  if (x < w) throw new RangeError(`maxStageAgeMs ${x} < maxCommitLagMs`);
  return out;
}

/** Truncates a server time to whole seconds (HTTP dates have no finer precision). */
export function floorSec(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** What decides whether a commit object counts: from its metadata or index. */
export interface CommitStamp {
  /** "commit", or "abort" for a marker a writer wrote to close its slot. */
  kind: "commit" | "abort";
  /** Server time at which the writer proved its snapshot current. */
  validatedAt: number;
  /** Server time of the writer's first staged chunk, if it staged data. */
  stagedAt?: number;
  /**
   * The log incarnation (config id) the writer committed into. A commit of
   * another incarnation (a process that kept writing after the database was
   * deleted and created again) is void. Absent in commits of older versions.
   */
  incarnation?: string;
}

/**
 * Whether a commit object is effective (its blocks and size apply). An abort
 * marker never is; a commit is void when it was written more than W after its
 * writer proved its snapshot current, or more than X after it staged data,
 * or into another incarnation of the log than `incarnation` (the reader's
 * config id). Every process decides this from the same immutable facts: the
 * object's Last-Modified and the stamps it carries.
 */
export function commitEffective(
  lastModified: number,
  stamp: CommitStamp,
  t: Timing,
  incarnation?: string,
): boolean {
  if (stamp.kind !== "commit") return false;
  if (foreignIncarnation(stamp, incarnation)) return false;
  const lm = floorSec(lastModified);
  if (lm - floorSec(stamp.validatedAt) > t.maxCommitLagMs) return false;
  if (stamp.stagedAt !== undefined && lm - floorSec(stamp.stagedAt) > t.maxStageAgeMs) return false;
  return true;
}

/** Whether a commit was written into another incarnation of the log than `incarnation`. */
export function foreignIncarnation(stamp: CommitStamp, incarnation: string | undefined): boolean {
  return stamp.incarnation !== undefined && incarnation !== undefined &&
    stamp.incarnation !== incarnation;
}

/**
 * Whether an answer observed at server time `observedAt` about the log slot
 * after a snapshot proven current at `provenAt` can be taken at face value:
 * no commit made after `provenAt` can have been folded AND deleted by retention
 * yet. Past this window a process must confirm with the checkpoint record.
 */
export function freshEnough(provenAt: number, observedAt: number, t: Timing): boolean {
  return floorSec(observedAt) - floorSec(provenAt) < t.keepHistoryMs - t.marginMs;
}

/** Whether a commit last modified at `lastModified` may be folded at server time `now`. */
export function foldable(lastModified: number, now: number, t: Timing): boolean {
  return floorSec(now) - floorSec(lastModified) > t.graceMs + t.marginMs;
}

/** Whether a folded commit object may be deleted at server time `now`. */
export function retentionExpired(lastModified: number, now: number, t: Timing): boolean {
  return floorSec(now) - floorSec(lastModified) > t.keepHistoryMs + t.marginMs;
}

/** Whether an unreferenced stage chunk may be deleted at server time `now`. */
export function stageExpired(lastModified: number, now: number, t: Timing): boolean {
  return floorSec(now) - floorSec(lastModified) > t.maxStageAgeMs + 2 * t.marginMs;
}

/**
 * Whether a writer whose PUT succeeded with response `date` may report success
 * without reading the object back: its Last-Modified is at most `date`, so it
 * is effective if `date` itself satisfies both bounds of `commitEffective`.
 */
export function surelyInTime(stamp: CommitStamp, date: number, t: Timing): boolean {
  const d = floorSec(date);
  if (d - floorSec(stamp.validatedAt) > t.maxCommitLagMs - t.marginMs) return false;
  return stamp.stagedAt === undefined ||
    d - floorSec(stamp.stagedAt) <= t.maxStageAgeMs - t.marginMs;
}

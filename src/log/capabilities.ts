/**
 * What a store must enforce for the commit log (docs/protocol.md section 2),
 * checked by trying it, sans-IO: {@linkcode probeStore} writes a few small
 * objects under a key prefix of its own, tries every conditional write the
 * protocol relies on, reads them back (metadata, ranges, listing order), and
 * deletes them. {@linkcode verdictOf} turns the answers into: safe for many
 * writers, reads only (writes would lose commits), or unusable.
 *
 * 15 requests in 5 round trips on a store that enforces everything.
 *
 * @module
 */

import { isSuccess, parallel, type Step, type StoreOp, type StoreResult } from "./store.ts";

/** A behaviour the probe checks. */
export type CapabilityId =
  | "createOnly"
  | "createOnlyRace"
  | "ifMatch"
  | "ifMatchAbsent"
  | "date"
  | "lastModified"
  | "metadata"
  | "range"
  | "listOrder"
  | "dateLag"
  | "contentEtags";

/** What a capability is needed for: writing safely, reading at all, or only worth knowing. */
export type Need = "write" | "read" | "info";

/** One line of the report: what was tried, what came back, what it means here. */
export interface CapabilityRow {
  /** Which capability. */
  id: CapabilityId;
  /** What it is needed for. */
  need: Need;
  /** The request(s) tried. */
  tried: string;
  /** What came back. */
  got: string;
  /** Whether the store behaved as the protocol needs (informational rows: as documented). */
  ok: boolean;
  /** What that means for this package. */
  meaning: string;
}

/** Safe for many writers; reads only (writes refused); or not usable at all. */
export type Verdict = "many-writers" | "read-only" | "unusable";

/** The outcome of {@linkcode probeStore}. */
export interface CapabilityReport {
  /** Key prefix the probe wrote under (its objects are deleted afterwards). */
  base: string;
  /** One row per capability. */
  rows: CapabilityRow[];
  /** Required capabilities that failed. */
  missing: CapabilityId[];
  /** What the package does with this store. */
  verdict: Verdict;
  /** Whether the store's single-part ETags are content hashes (same bytes, same ETag). */
  contentEtags: boolean;
  /** Requests sent. */
  requests: number;
  /** Server time (`Date`) of the last answer, ms since the epoch. */
  serverDate?: number;
  /** Whether every probe object was deleted again. */
  cleanedUp: boolean;
}

/**
 * The probe could not finish: a write was denied, or a request got no answer
 * (the store's behaviour is then unknown, not wrong).
 */
export class ProbeFailedError extends Error {
  /** Status of the failing answer (0: none). */
  readonly status: number;
  /** The answer. */
  readonly result: StoreResult;
  /** Describes the failure of `what`. */
  constructor(what: string, r: StoreResult) {
    super(
      `store check: ${what} answered ${r.status || "nothing"}${r.message ? `: ${r.message}` : ""}`,
    );
    this.name = "ProbeFailedError";
    this.status = r.status;
    this.result = r;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const META_KEY = "s3vfs-probe";

/** The status of an answer, for the report ("412", "200 (ETag \"..\")", "no answer"). */
function shown(r: StoreResult): string {
  if (r.status === 0) return "no answer";
  const code = r.error?.code ? ` ${r.error.code}` : "";
  return `${r.status}${code}`;
}

const lostRace = (r: StoreResult): boolean => r.status === 412 || r.status === 409;

/** 501, or 400 NotImplemented: the store does not implement the header. */
const notImplemented = (r: StoreResult): boolean =>
  r.status === 501 || r.error?.code === "NotImplemented";

/**
 * Runs the probe under `base` (e.g. `<prefix>.s3vfs/probe/<random>`): nothing
 * else may write there. Throws {@linkcode ProbeFailedError} when it cannot
 * conclude (a write denied, a request without an answer).
 */
export function* probeStore(base: string): Step<CapabilityReport> {
  let requests = 0;
  let last: number | undefined;
  const dates: boolean[] = [];
  function* batch(ops: StoreOp[]): Step<StoreResult[]> {
    const rs = yield* parallel<StoreResult>(ops.map((op) => one(op)));
    return rs;
  }
  function* one(op: StoreOp): Step<StoreResult> {
    const [r] = yield [op];
    requests++;
    if (r.status !== 0 && r.status < 500) {
      dates.push(r.date !== undefined);
      if (r.date !== undefined) last = Math.max(last ?? 0, r.date);
    }
    return r;
  }
  const a = `${base}/a`;
  const a0 = `${base}/a0`;
  const b = `${base}/b`;
  const race = `${base}/r`;
  const bodyA = enc.encode("s3vfs store check: object a");
  const meta = { [META_KEY]: "1" };

  // 1. Two objects, create-only (both must be created).
  const [pa, pa0] = yield* batch([
    { kind: "put", key: a, body: bodyA, ifNoneMatch: true, meta },
    { kind: "put", key: a0, body: bodyA, ifNoneMatch: true, meta },
  ]);
  if (notImplemented(pa) || notImplemented(pa0)) {
    // Conditional PUTs are refused outright (Backblaze B2 does this): reads only.
    const left = [[pa, a], [pa0, a0]].filter(([r]) => isSuccess(r as StoreResult));
    yield* batch(left.map(([, key]) => ({ kind: "delete", key: key as string }) as StoreOp));
    const row: CapabilityRow = {
      id: "createOnly",
      need: "write",
      tried: "PUT If-None-Match: * of a new key",
      got: shown(notImplemented(pa) ? pa : pa0),
      ok: false,
      meaning:
        "the store does not implement conditional PUTs: concurrent writers could not be told apart",
    };
    return {
      base,
      rows: [row],
      missing: ["createOnly"],
      verdict: "read-only",
      contentEtags: false,
      requests,
      ...(last !== undefined ? { serverDate: last } : {}),
      cleanedUp: true,
    };
  }
  for (const [r, k] of [[pa, a], [pa0, a0]] as const) {
    if (!isSuccess(r)) throw new ProbeFailedError(`PUT ${k} If-None-Match: *`, r);
  }
  const etagA = pa.etag;

  // 2. Conditional writes that must all fail, and a race of two create-only PUTs.
  const [overwrite, wrongMatch, absentMatch, race1, race2] = yield* batch([
    { kind: "put", key: a, body: enc.encode("overwritten"), ifNoneMatch: true, meta },
    {
      kind: "put",
      key: a,
      body: enc.encode("wrong etag"),
      ifMatch: '"0123456789abcdef0123456789abcdef"',
      meta,
    },
    { kind: "put", key: b, body: enc.encode("b"), ifMatch: etagA ?? '"x"', meta },
    { kind: "put", key: race, body: enc.encode("race one"), ifNoneMatch: true },
    { kind: "put", key: race, body: enc.encode("race two"), ifNoneMatch: true },
  ]);
  for (
    const [r, what] of [
      [overwrite, "PUT If-None-Match over an object"],
      [wrongMatch, "PUT If-Match a wrong ETag"],
      [absentMatch, "PUT If-Match on a missing key"],
      [race1, "PUT If-None-Match (race)"],
      [race2, "PUT If-None-Match (race)"],
    ] as const
  ) {
    if (r.status === 0 || r.status >= 500) throw new ProbeFailedError(what, r);
  }

  // 3. Read back a0 (untouched whatever the store did to a), what b is, the listing (with no
  // write in flight: some stores list an upload in progress under a temporary name).
  const [range, headA, headB, list] = yield* batch([
    { kind: "get", key: a0, range: { offset: 6, length: 5 } },
    { kind: "head", key: a0 },
    { kind: "head", key: b },
    { kind: "list", prefix: `${base}/` },
  ]);
  for (
    const [r, what] of [[range, `GET ${a0}`], [headA, `HEAD ${a0}`], [
      list,
      `LIST ${base}/`,
    ]] as const
  ) {
    if (r.status === 0 || r.status >= 500) throw new ProbeFailedError(what, r);
  }

  // 4. The same bytes as a again: do ETags name contents?
  const [again] = yield* batch([
    { kind: "put", key: a, body: bodyA, ifMatch: etagA ?? '"x"', meta },
  ]);

  // 5. Clean up.
  const written = [a, a0, race, ...(headB.status === 200 || isSuccess(absentMatch) ? [b] : [])];
  const deleted = yield* batch(written.map((key) => ({ kind: "delete", key }) as StoreOp));

  const rows: CapabilityRow[] = [];
  const row = (r: CapabilityRow): void => void rows.push(r);
  row({
    id: "createOnly",
    need: "write",
    tried: "PUT If-None-Match: * over an existing object",
    got: shown(overwrite),
    ok: lostRace(overwrite),
    meaning: lostRace(overwrite)
      ? "a commit never overwrites another"
      : "the store ignores If-None-Match: concurrent writers would overwrite each other's commits",
  });
  const raceOk = [race1, race2].filter(isSuccess).length === 1 &&
    [race1, race2].some(lostRace);
  const loser = isSuccess(race1) ? race2 : race1;
  row({
    id: "createOnlyRace",
    need: "write",
    tried: "two PUT If-None-Match: * of one new key at once",
    got: `${shown(race1)}, ${shown(race2)}`,
    ok: raceOk,
    meaning: raceOk
      ? `exactly one wins; the other gets ${loser.status}` +
        (loser.status === 409 ? " (409 ConditionalRequestConflict, handled as a lost race)" : "")
      : "both writers were told they won: commits would be lost",
  });
  const wrongOk = lostRace(wrongMatch);
  row({
    id: "ifMatch",
    need: "write",
    tried: "PUT If-Match: <a wrong ETag>",
    got: shown(wrongMatch),
    ok: wrongOk,
    meaning: wrongOk
      ? "checkpoints, the lease and the record move only from the version they read"
      : "the store ignores If-Match: checkpoints and the writer lease could overwrite newer state",
  });
  const absentOk = !isSuccess(absentMatch) && headB.status === 404;
  row({
    id: "ifMatchAbsent",
    need: "write",
    tried: "PUT If-Match: <an ETag> on a missing key",
    got: `${shown(absentMatch)}; then HEAD ${shown(headB)}`,
    ok: absentOk,
    meaning: absentOk
      ? "a conditional write never creates a key"
      : "If-Match on a missing key created it: a deleted record or lease could come back",
  });
  const allDated = dates.every(Boolean) && dates.length > 0;
  row({
    id: "date",
    need: "read",
    tried: "the Date header of every answer",
    got: allDated ? "present" : `missing in ${dates.filter((d) => !d).length} answers`,
    ok: allDated,
    meaning: allDated
      ? "snapshot proofs and lease expiry use the store's clock"
      : "the protocol times everything by the store's Date: it cannot be used",
  });
  const lmOk = headA.lastModified !== undefined && !Number.isNaN(headA.lastModified) &&
    range.lastModified !== undefined;
  row({
    id: "lastModified",
    need: "read",
    tried: "Last-Modified of GET and HEAD",
    got: lmOk ? new Date(headA.lastModified!).toISOString() : "missing",
    ok: lmOk,
    meaning: lmOk ? "commit ages are known" : "commit ages cannot be told: it cannot be used",
  });
  const metaOk = headA.meta?.[META_KEY] === "1" && range.meta?.[META_KEY] === "1";
  row({
    id: "metadata",
    need: "read",
    tried: "x-amz-meta-* on GET and HEAD",
    got: metaOk
      ? "returned"
      : `GET ${JSON.stringify(range.meta ?? {})}, HEAD ${JSON.stringify(headA.meta ?? {})}`,
    ok: metaOk,
    meaning: metaOk
      ? "commit stamps and block tags are read back"
      : "user metadata is not returned: commits and blocks cannot be told apart",
  });
  const rangeBody = range.body ? dec.decode(range.body) : "";
  const rangeOk = isSuccess(range) && rangeBody === dec.decode(bodyA.subarray(6, 11)) &&
    range.size === bodyA.length;
  row({
    id: "range",
    need: "read",
    tried: "GET Range: bytes=6-10",
    got: `${shown(range)} ${JSON.stringify(rangeBody)}, size ${range.size ?? "?"}`,
    ok: rangeOk,
    meaning: rangeOk
      ? "blocks are read out of commit objects without fetching them whole"
      : "ranged reads do not work: reads would return wrong bytes",
  });
  const keys = (list.entries ?? []).map((e) => e.key);
  const expected = [a, a0, ...(headB.status === 200 ? [b] : []), race];
  const listOk = list.status === 200 && keys.join("\n") === expected.join("\n") &&
    (list.entries ?? []).every((e) => !Number.isNaN(e.lastModified));
  row({
    id: "listOrder",
    need: "read",
    tried: "LIST of the probe's keys",
    got: list.status === 200
      ? `${keys.length} keys${
        listOk ? ", in byte order" : ": " + keys.map((k) => k.slice(base.length + 1)).join(",")
      }`
      : shown(list),
    ok: listOk,
    meaning: listOk
      ? "the log is listed in txid order"
      : "listings are not in byte order: the log cannot be read",
  });
  // The Date of the answer to a PUT against the Last-Modified it gave the object: a store whose
  // Date trails its own clock (a cached Date header) makes commits look younger to their
  // writer than to readers; the margin M (at least 1 s) covers a trail of up to 1 s.
  const lag = headA.lastModified !== undefined && pa0.date !== undefined
    ? Math.floor(headA.lastModified / 1000) - Math.floor(pa0.date / 1000)
    : undefined;
  const lagOk = lag !== undefined && lag <= 1;
  row({
    id: "dateLag",
    need: "write",
    tried: "Date of a PUT's answer against the object's Last-Modified",
    got: lag === undefined
      ? "not comparable"
      : lag <= 0
      ? "Date not behind"
      : `Date ${lag} s behind`,
    ok: lagOk,
    meaning: lagOk
      ? lag! > 0
        ? "the store's Date trails its clock by up to a second: within the margin M (>= 1 s)"
        : "Date and Last-Modified come from one clock"
      : "Date trails Last-Modified by more than the 1 s margin: a writer could acknowledge a late commit",
  });
  const contentEtags = isSuccess(again) && again.etag !== undefined && again.etag === etagA;
  row({
    id: "contentEtags",
    need: "info",
    tried: "PUT the same bytes again (If-Match its ETag)",
    got: isSuccess(again)
      ? (contentEtags ? `same ETag ${etagA}` : `new ETag ${again.etag}`)
      : shown(again),
    ok: true,
    meaning: contentEtags
      ? "ETags are content hashes: the checkpoint claim is what keeps block writes safe"
      : "ETags differ per write (SSE-KMS, SSE-C or the store's choice); the claim is taken all the same",
  });
  const missing = rows.filter((r) => !r.ok && r.need !== "info").map((r) => r.id);
  return {
    base,
    rows,
    missing,
    verdict: verdictOf(rows),
    contentEtags,
    requests,
    ...(last !== undefined ? { serverDate: last } : {}),
    cleanedUp: deleted.every(isSuccess),
  };
}

/** Many writers when every capability holds; reads only when only write ones fail. */
export function verdictOf(rows: readonly CapabilityRow[]): Verdict {
  if (rows.some((r) => !r.ok && r.need === "read")) return "unusable";
  if (rows.some((r) => !r.ok && r.need === "write")) return "read-only";
  return "many-writers";
}

/** The required capabilities a report lacks, as one sentence each (for error messages). */
export function describeMissing(report: CapabilityReport): string {
  return report.rows.filter((r) => !r.ok && r.need !== "info")
    .map((r) => `${r.tried} answered ${r.got}: ${r.meaning}`).join("; ");
}

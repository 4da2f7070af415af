/**
 * The store check before the first write: once per process (isolate),
 * endpoint and bucket, the first write to a bucket waits for
 * {@linkcode probeStore} (about 15 requests, under the written database's
 * companion prefix) and every write after it is let through, or refused:
 * a store that does not enforce conditional PUTs would silently lose commits
 * of concurrent writers. Reads never wait for it.
 *
 * @module
 */

import {
  type CapabilityReport,
  describeMissing,
  ProbeFailedError,
  probeStore,
} from "./capabilities.ts";
import { runAsync } from "./driver.ts";
import { COMPANION_SUFFIX, newPutId } from "./keys.ts";
import type { Refusal, StoreOp, StoreResult } from "./store.ts";

/**
 * `enforce` (the default): writes to a store without conditional PUTs are
 * refused. `single-writer`: allowed with a warning (only safe when exactly one
 * process ever writes the bucket). `off`: no check (tests of the check).
 */
export type StoreCheckMode = "enforce" | "single-writer" | "off";

/** A finished check of one endpoint and bucket. */
export interface StoreCheckResult {
  /** The store's endpoint. */
  endpoint: string;
  /** The bucket. */
  bucket: string;
  /** What the probe found. */
  report: CapabilityReport;
  /** How long the probe took (ms). */
  ms: number;
}

const checks = new Map<string, Promise<StoreCheckResult>>();
const warned = new Set<string>();

/**
 * Where the probe for a write to `key` writes: under the companion prefix of
 * the database the key belongs to (`<prefix>.s3vfs/probe/<random>`), so the
 * credentials that may write the database may write the probe.
 */
export function probeBase(key: string): string {
  const rand = newPutId();
  const i = key.indexOf(`${COMPANION_SUFFIX}/`);
  if (i >= 0) return `${key.slice(0, i + COMPANION_SUFFIX.length)}/probe/${rand}`;
  const block = /^(.+)\/\d{10}$/.exec(key);
  if (block) return `${block[1]}${COMPANION_SUFFIX}/probe/${rand}`;
  return `${key}${COMPANION_SUFFIX}/probe/${rand}`;
}

/** The finished check of `endpoint` and `bucket` in this process, if any. */
export async function storeCheckOf(
  endpoint: string,
  bucket: string,
): Promise<StoreCheckResult | undefined> {
  const p = checks.get(`${endpoint} ${bucket}`);
  try {
    return p ? await p : undefined;
  } catch {
    return undefined;
  }
}

/** Forgets every check (tests). */
export function forgetStoreChecks(): void {
  checks.clear();
  warned.clear();
}

/**
 * Lets a write through (undefined) or answers it without sending it: a
 * refusal (drivers throw `UnsafeStoreError`), the probe's own 4xx (writes
 * are denied: the write would be too), or 503 when the check could not
 * finish (the write was not sent; the next one checks again).
 */
export async function gateWrite(
  op: StoreOp & { key: string },
  where: { endpoint: string; bucket: string; mode: StoreCheckMode },
  run: (op: StoreOp) => Promise<StoreResult>,
  onDone?: (result: StoreCheckResult) => void,
): Promise<StoreResult | undefined> {
  if (where.mode === "off") return undefined;
  const id = `${where.endpoint} ${where.bucket}`;
  let pending = checks.get(id);
  if (!pending) {
    pending = (async () => {
      const t0 = performance.now();
      const report = await runAsync(probeStore(probeBase(op.key)), { run });
      const done = { ...where, report, ms: performance.now() - t0 };
      onDone?.(done);
      return done;
    })();
    checks.set(id, pending);
  }
  let result: StoreCheckResult;
  try {
    result = await pending;
  } catch (e) {
    if (checks.get(id) === pending) checks.delete(id);
    if (!(e instanceof ProbeFailedError)) throw e;
    if (e.status >= 400 && e.status < 500) return { ...e.result, message: e.message };
    return { status: 503, message: `${e.message}; ${op.kind.toUpperCase()} ${op.key} not sent` };
  }
  const { report } = result;
  if (report.verdict === "many-writers") return undefined;
  const detail = describeMissing(report);
  if (where.mode === "single-writer" && report.verdict === "read-only") {
    if (!warned.has(id)) {
      warned.add(id);
      console.warn(
        `s3vfs: bucket ${where.bucket} at ${where.endpoint}: ${detail}. Writing anyway ` +
          '(storeCheck: "single-writer"): a second writer process would lose commits',
      );
    }
    return undefined;
  }
  const refused: Refusal = {
    endpoint: where.endpoint,
    bucket: where.bucket,
    missing: report.missing,
    detail,
  };
  return { status: 0, message: detail, refused };
}

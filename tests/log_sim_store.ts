/**
 * An in-memory object store with S3's semantics, for the log protocol's
 * deterministic simulation: strong consistency, create-only PUT
 * (`If-None-Match: *`), `If-Match` PUT (412 on a changed ETag, 404 on an absent
 * key as MinIO answers), DELETE ignoring `If-Match` (as MinIO does), LIST in
 * byte order with small pages, a server clock set by the simulator, `Date` and
 * `Last-Modified` headers with second precision and listings with ms,
 * content-derived ETags. A lost race answers 409 ConditionalRequestConflict
 * instead of 412 now and then.
 *
 * @module
 */

import type { ListEntry, Metadata, StoreOp, StoreResult } from "../src/log/store.ts";
import { crc32 } from "../src/log/crc32.ts";

/**
 * ETags as S3 and MinIO make them for a single-part PUT: derived from the
 * body (here a CRC-32 and the length; MD5 there), so equal bytes get equal
 * ETags and every 0-byte object shares one. `LOG_SIM_ETAGS=unique` gives
 * every write a fresh ETag instead (as SSE-KMS does), which hides the
 * checkpointer's ETag ABA (docs/protocol.md 16).
 */
const CONTENT_ETAGS = (() => {
  try {
    return Deno.env.get("LOG_SIM_ETAGS") !== "unique";
  } catch {
    return true;
  }
})();

/** One stored object. */
export interface StoredObject {
  /** Content. */
  body: Uint8Array;
  /** ETag. */
  etag: string;
  /** User metadata. */
  meta: Metadata;
  /** Server time it was written (ms). */
  lastModified: number;
}

/** Called after every change: the key, what it held before and after (undefined: absent). */
export type ChangeHook = (key: string, before?: StoredObject, after?: StoredObject) => void;

const floorSec = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** The store. `now` is the server clock in ms; the simulator advances it. */
export class MemStore {
  /** Server clock (ms since the epoch). */
  now: number;
  /** Objects by key. */
  readonly objects: Map<string, StoredObject> = new Map();
  /** Keys per LIST page. */
  pageSize: number;
  /** Called after every applied change. */
  onChange?: ChangeHook;
  /** Decides whether a lost race answers 409 rather than 412. */
  conflict409: () => boolean = () => false;
  /** Which conditional headers this store ignores (a store that does not enforce them). */
  ignores: { ifNoneMatch?: boolean; ifMatch?: boolean } = {};
  #etags = 0;

  /** A store starting at server time `now`, listing `pageSize` keys per page. */
  constructor(now: number, pageSize = 1000) {
    this.now = now;
    this.pageSize = pageSize;
  }

  /** Applies one operation now and answers as S3 would. */
  apply(op: StoreOp): StoreResult {
    const date = floorSec(this.now);
    if (op.kind === "clock") return { status: 200, clock: this.now, date };
    if (op.kind === "list") return this.#list(op.prefix, op.startAfter, date);
    const obj = this.objects.get(op.key);
    switch (op.kind) {
      case "get": {
        if (!obj) return { status: 404, date, message: "NoSuchKey" };
        const size = obj.body.length;
        let body = obj.body;
        if (op.range) {
          if (op.range.offset >= size && size > 0) return { status: 416, date, etag: obj.etag };
          body = obj.body.slice(op.range.offset, op.range.offset + op.range.length);
        }
        return {
          status: op.range ? 206 : 200,
          date,
          body: body.slice(),
          size,
          etag: obj.etag,
          meta: { ...obj.meta },
          lastModified: floorSec(obj.lastModified),
        };
      }
      case "head":
        if (!obj) return { status: 404, date };
        return {
          status: 200,
          date,
          size: obj.body.length,
          etag: obj.etag,
          meta: { ...obj.meta },
          lastModified: floorSec(obj.lastModified),
        };
      case "put": {
        const lost = (): StoreResult =>
          this.conflict409()
            ? { status: 409, date, message: "ConditionalRequestConflict" }
            : { status: 412, date, message: "PreconditionFailed" };
        if (op.ifNoneMatch && obj && !this.ignores.ifNoneMatch) return lost();
        if (op.ifMatch !== undefined && !this.ignores.ifMatch) {
          if (!obj) return { status: 404, date, message: "NoSuchKey" };
          if (obj.etag !== op.ifMatch) return lost();
        }
        const after: StoredObject = {
          body: op.body.slice(),
          etag: CONTENT_ETAGS
            ? `"c${crc32(op.body).toString(16)}-${op.body.length}"`
            : `"e${++this.#etags}"`,
          meta: { ...(op.meta ?? {}) },
          lastModified: this.now,
        };
        this.objects.set(op.key, after);
        this.onChange?.(op.key, obj, after);
        return { status: 200, date, etag: after.etag };
      }
      case "delete":
        if (obj) {
          this.objects.delete(op.key);
          this.onChange?.(op.key, obj, undefined);
        }
        return { status: 204, date };
    }
  }

  #list(prefix: string, startAfter: string | undefined, date: number): StoreResult {
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (startAfter === undefined || k > startAfter))
      .sort();
    const page = keys.slice(0, this.pageSize);
    const entries: ListEntry[] = page.map((key) => {
      const o = this.objects.get(key)!;
      return { key, size: o.body.length, etag: o.etag, lastModified: o.lastModified };
    });
    return { status: 200, date, entries, truncated: keys.length > page.length };
  }
}

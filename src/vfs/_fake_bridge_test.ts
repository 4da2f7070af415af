/**
 * Test helper (no tests): a fake bridge call for the FileStore tests, an
 * in-memory object map answering get/put/delete/deleteMany/stat that logs
 * every call's operations as text, phase by phase.
 */

import { blockIndexOf, blockKey } from "../blocks.ts";
import type { OpResult } from "../bridge/protocol.ts";
import type { BridgeOp } from "../bridge/protocol.ts";
import { BlockCache } from "./cache.ts";
import { FileStore, type ReadCursor, type StoreContext } from "./store.ts";

export const B = 4; // tiny blocks keep the byte arrays readable
export const NAME = "db";

/** An in-memory S3 behind the StoreContext.call interface, logging each call's ops. */
export class FakeBridge {
  objects = new Map<string, { data: Uint8Array; etag: string }>();
  /** One entry per call: its phases, each op rendered as text. */
  log: string[][][] = [];
  /** Keys whose next operation fails with 503 SlowDown. */
  failing = new Set<string>();
  #n = 0;

  call = (phases: BridgeOp[][]): OpResult[][] => {
    this.log.push(phases.map((p) => p.map(render)));
    let failed = false;
    return phases.map((phase) => {
      if (failed) return phase.map((): OpResult => ({ status: "error", skipped: true }));
      const out = phase.map((op) => this.#run(op));
      failed = out.some((r) => r.status === "error");
      return out;
    });
  };

  #run(op: BridgeOp): OpResult {
    const key = "key" in op ? op.key : undefined;
    if (key && this.failing.delete(key)) {
      const error = { status: 503, code: "SlowDown", message: "slow down", method: op.op, key };
      return { status: "error", error };
    }
    switch (op.op) {
      case "get": {
        const o = this.objects.get(op.key);
        if (!o) return { status: "absent" };
        if (op.ifNoneMatch === o.etag) return { status: "not-modified", etag: o.etag };
        return { status: "ok", etag: o.etag, data: o.data.slice() };
      }
      case "put": {
        const etag = `"v${++this.#n}"`;
        this.objects.set(op.key, { data: op.data!.slice(), etag });
        return { status: "ok", etag };
      }
      case "delete":
        this.objects.delete(op.key);
        return { status: "ok" };
      case "deleteMany":
        for (const k of op.keys) this.objects.delete(k);
        return { status: "ok" };
      case "stat": {
        const blocks = [...this.objects.keys()].map((k) => [k, blockIndexOf(op.prefix, k)] as const)
          .filter(([, i]) => i !== undefined) as [string, number][];
        const size = blocks.reduce((s, [k]) => s + this.objects.get(k)!.data.length, 0);
        const end = Math.max(-1, ...blocks.map(([, i]) => i)) + 1;
        return { status: "ok", size, end };
      }
    }
  }

  /** Stores `bytes` as blocks of B under NAME (as another writer would). */
  seed(bytes: number[]): void {
    for (let i = 0; i * B < bytes.length; i++) {
      const etag = `"s${++this.#n}"`;
      this.objects.set(k(i), { data: new Uint8Array(bytes.slice(i * B, (i + 1) * B)), etag });
    }
  }

  /** The calls logged since the last take(), then forgets them. */
  take(): string[][][] {
    const out = this.log;
    this.log = [];
    return out;
  }
}

export const k = (i: number): string => blockKey(NAME, i);
const idx = (key: string): number => blockIndexOf(NAME, key)!;

function render(op: BridgeOp): string {
  switch (op.op) {
    case "get":
      return `get ${idx(op.key)}${op.ifNoneMatch ? ` if-none-match ${op.ifNoneMatch}` : ""}`;
    case "put":
      return `put ${idx(op.key)} [${[...op.data!]}]`;
    case "delete":
      return `delete ${idx(op.key)}`;
    case "deleteMany":
      return `deleteMany ${op.keys.map(idx)}`;
    case "stat":
      return `stat ${op.prefix}`;
  }
}

/** 0, 1, 2, ... n-1 */
export const seq = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

export function setup(
  opts: { budget?: number; readAhead?: StoreContext["readAhead"] } = {},
): { s3: FakeBridge; store: FileStore; cache: BlockCache } {
  const s3 = new FakeBridge();
  const cache = new BlockCache(opts.budget ?? 1 << 20);
  const ctx: StoreContext = {
    call: s3.call,
    cache,
    blockSize: B,
    readAhead: opts.readAhead === undefined ? { initial: 2, max: 8 } : opts.readAhead,
  };
  return { s3, store: new FileStore(NAME, ctx), cache };
}

/** Reads `n` bytes at `offset`; returns [bytes read, the buffer as an array]. */
export function read(
  store: FileStore,
  offset: number,
  n: number,
  cursor?: ReadCursor,
): [number, number[]] {
  const dst = new Uint8Array(n).fill(0xee); // must be overwritten everywhere
  const got = store.read(dst, offset, cursor);
  return [got, [...dst]];
}

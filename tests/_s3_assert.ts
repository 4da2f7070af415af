/**
 * Assertions shared by the S3 client tests: an operation rejects with an
 * S3Error; no rendering of an error leaks a secret.
 */

import assert from "node:assert/strict";
import { S3Error } from "../src/errors.ts";

/** Asserts that no rendering of `err` contains `secret`. */
export function assertNoSecret(err: unknown, secret: string): void {
  const renderings = [
    String(err),
    err instanceof Error ? err.message : "",
    err instanceof Error ? err.stack ?? "" : "",
    JSON.stringify(err),
    Deno.inspect(err, { depth: 10 }),
  ];
  for (const r of renderings) assert.ok(!r.includes(secret), `secret leaked into: ${r}`);
}

/** Awaits `p`, which must reject with an {@linkcode S3Error}; returns that error. */
export async function rejectsS3(p: Promise<unknown>): Promise<S3Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${err}`);
    return err;
  }
  assert.fail("expected the call to reject");
}

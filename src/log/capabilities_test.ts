import assert from "node:assert/strict";
import { MemStore } from "../../tests/log_sim_store.ts";
import { describeMissing, probeStore, verdictOf } from "./capabilities.ts";
import type { Step } from "./store.ts";

function drive<T>(step: Step<T>, store: MemStore): T {
  let next = step.next();
  while (!next.done) next = step.next(next.value.map((op) => store.apply(op)));
  return next.value;
}

const BASE = "db.sqlite.s3vfs/probe/p1";

Deno.test("probeStore() on a store with S3's semantics: many writers, nothing left behind", () => {
  const store = new MemStore(Date.UTC(2026, 0, 1));
  const report = drive(probeStore(BASE), store);
  assert.equal(report.verdict, "many-writers");
  assert.deepEqual(report.missing, []);
  assert.equal(report.requests, 15);
  assert.equal(report.contentEtags, true);
  assert.equal(report.cleanedUp, true);
  assert.equal(store.objects.size, 0, "every probe object deleted");
  assert.equal(report.serverDate, Date.UTC(2026, 0, 1));
  const ids = report.rows.map((r) => r.id);
  assert.deepEqual(ids, [
    "createOnly",
    "createOnlyRace",
    "ifMatch",
    "ifMatchAbsent",
    "date",
    "lastModified",
    "metadata",
    "range",
    "listOrder",
    "dateLag",
    "contentEtags",
  ]);
  assert.ok(report.rows.every((r) => r.ok));
});

Deno.test("probeStore() on a store ignoring If-None-Match or If-Match: read-only, and says why", () => {
  const inm = new MemStore(0);
  inm.ignores.ifNoneMatch = true;
  const r1 = drive(probeStore(BASE), inm);
  assert.equal(r1.verdict, "read-only");
  assert.deepEqual(r1.missing, ["createOnly", "createOnlyRace"]);
  assert.match(describeMissing(r1), /ignores If-None-Match: concurrent writers would overwrite/);
  assert.equal(inm.objects.size, 0);

  const im = new MemStore(0);
  im.ignores.ifMatch = true;
  const r2 = drive(probeStore(BASE), im);
  assert.equal(r2.verdict, "read-only");
  assert.deepEqual(r2.missing, ["ifMatch", "ifMatchAbsent"]);
  assert.equal(im.objects.size, 0, "the key If-Match created is deleted too");
});

Deno.test("probeStore() on per-write ETags: still many writers, contentEtags false", () => {
  const store = new MemStore(0);
  let n = 0;
  const apply = store.apply.bind(store);
  // A store whose ETag names the write, not the bytes (as SSE-KMS does).
  store.apply = (op) => {
    const r = apply(op);
    return r.etag && op.kind === "put" ? { ...r, etag: `"w${++n}"` } : r;
  };
  const report = drive(probeStore(BASE), store);
  assert.equal(report.contentEtags, false);
});

Deno.test("verdictOf() is unusable when a read capability fails", () => {
  const store = new MemStore(0);
  const apply = store.apply.bind(store);
  store.apply = (op) => { // a store that drops user metadata
    const r = apply(op);
    return r.meta ? { ...r, meta: {} } : r;
  };
  const report = drive(probeStore(BASE), store);
  assert.equal(report.verdict, "unusable");
  assert.deepEqual(report.missing, ["metadata"]);
  assert.equal(verdictOf(report.rows), "unusable");
});

Deno.test("probeStore() on a store answering 501 to conditional PUTs: read-only, nothing written", () => {
  const store = new MemStore(0);
  const apply = store.apply.bind(store);
  store.apply = (op) =>
    op.kind === "put" && (op.ifNoneMatch || op.ifMatch)
      ? {
        status: 501,
        date: 0,
        error: { status: 501, code: "NotImplemented", message: "no", method: "PUT" },
      }
      : apply(op);
  const report = drive(probeStore(BASE), store);
  assert.equal(report.verdict, "read-only");
  assert.deepEqual(report.missing, ["createOnly"]);
  assert.match(report.rows[0].got, /^501 NotImplemented$/);
  assert.equal(store.objects.size, 0);
});

Deno.test("probeStore() on a store whose Date trails Last-Modified by 2 s: reads only", () => {
  const store = new MemStore(Date.UTC(2026, 0, 1, 0, 0, 30));
  const apply = store.apply.bind(store);
  store.apply = (op) => { // answers dated 2 s early, as a store with a stale cached Date
    const r = apply(op);
    return r.date !== undefined ? { ...r, date: r.date - 2000 } : r;
  };
  const report = drive(probeStore(BASE), store);
  assert.equal(report.verdict, "read-only");
  assert.deepEqual(report.missing, ["dateLag"]);
  assert.equal(report.rows.find((r) => r.id === "dateLag")!.got, "Date 2 s behind");
});

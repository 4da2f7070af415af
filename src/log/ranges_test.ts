import { deepEqual, equal, throws } from "node:assert/strict";
import type { BlockVersion } from "./commits.ts";
import { crc32 } from "./crc32.ts";
import { LogCorruptError } from "./errors.ts";
import { META } from "./format.ts";
import { coalesce, splitRun } from "./ranges.ts";

function v(key: string, offset: number, length: number, bytes?: Uint8Array): BlockVersion {
  return { txid: 1, key, offset, length, crc: bytes ? crc32(bytes) : 0 };
}

Deno.test("coalesce() joins versions side by side in one object, up to maxBytes", () => {
  const wanted = [
    { index: 3, version: v("c", 300, 100) },
    { index: 0, version: v("c", 0, 100) },
    { index: 1, version: v("c", 100, 100) },
    { index: 2, version: v("c", 200, 100) }, // adjacent: joins 0, 1
    { index: 9, version: v("d", 100, 100) }, // another object
    { index: 7, version: v("c", 500, 100) }, // a gap: a new run
  ];
  const runs = coalesce(wanted, 300);
  deepEqual(runs.map((r) => [r.op.key, r.op.range, r.blocks.map((b) => b.index)]), [
    ["c", { offset: 0, length: 300 }, [0, 1, 2]],
    ["c", { offset: 300, length: 100 }, [3]], // 400 would pass maxBytes
    ["c", { offset: 500, length: 100 }, [7]],
    ["d", { offset: 100, length: 100 }, [9]],
  ]);
  equal(coalesce([{ index: 0, version: v("c", 0, 5000) }], 300).length, 1, "a bigger one alone");
  deepEqual(coalesce([]), []);
});

Deno.test("splitRun() cuts the answer apart, checks each CRC, and says gone for 404/416/put id", () => {
  const a = new Uint8Array([1, 2, 3]), b = new Uint8Array([4, 5]);
  const [run] = coalesce([
    { index: 0, version: { ...v("k", 10, 3, a), putId: "p" } },
    { index: 1, version: { ...v("k", 13, 2, b), putId: "p" } },
  ]);
  // A fresh answer each time: splitRun frees the range it cut apart.
  const ok = (bytes = [1, 2, 3, 4, 5], putId = "p") => ({
    status: 206,
    body: new Uint8Array(bytes),
    meta: { [META.putId]: putId },
  });
  const answer = ok();
  deepEqual(splitRun(run, answer), [a, b]);
  equal(answer.body.byteLength, 0, "the range was freed");
  equal(splitRun(run, { status: 404 }), "gone");
  equal(splitRun(run, { status: 416 }), "gone");
  equal(splitRun(run, ok(undefined, "q")), "gone");
  throws(
    () => splitRun(run, ok([1, 2, 3, 4, 6])),
    (e) =>
      e instanceof LogCorruptError && /block 1 of txid 1 in k fails its checksum/.test(e.message),
  );
  throws(() => splitRun(run, ok([1, 2, 3, 4])), LogCorruptError);
});

/**
 * The test vectors of docs/format.md (tests/data/vectors.json) are what this
 * package's code computes: a compatible implementation in another language
 * can check itself against them.
 */

import { deepEqual } from "node:assert/strict";
import { vectors } from "./format_vectors.ts";

Deno.test("format vectors: tests/data/vectors.json is what the code computes (regenerate: deno run -A tests/format_vectors.ts > tests/data/vectors.json)", async () => {
  const stored = JSON.parse(
    await Deno.readTextFile(new URL("./data/vectors.json", import.meta.url)),
  );
  deepEqual(JSON.parse(JSON.stringify(vectors())), stored);
});

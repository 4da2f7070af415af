import { equal } from "node:assert/strict";
import { crc32, crc32Sliced } from "./crc32.ts";

/** The textbook byte-at-a-time CRC-32, to check the sliced one against. */
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

for (const [name, f] of [["crc32()", crc32], ["crc32Sliced()", crc32Sliced]] as const) {
  Deno.test(`${name} gives the standard check value and matches the bitwise CRC at every length`, () => {
    equal(f(new TextEncoder().encode("123456789")), 0xcbf43926);
    equal(f(new Uint8Array(0)), 0);
    const bytes = crypto.getRandomValues(new Uint8Array(4099));
    for (let n = 0; n <= 40; n++) equal(f(bytes.subarray(0, n)), reference(bytes.subarray(0, n)));
    equal(f(bytes), reference(bytes));
    equal(f(bytes.subarray(3, 4000)), reference(bytes.subarray(3, 4000)), "unaligned view");
    equal(f(new Uint8Array(4096).fill(0xff)), reference(new Uint8Array(4096).fill(0xff)));
  });
}

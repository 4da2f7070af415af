/**
 * Frees a byte array that nothing will read again, at once (detaching its
 * buffer) instead of at the next garbage collection: V8 only collects
 * off-heap buffers after tens of MiB have piled up, which dominated the peak
 * RSS of large transfers. Only an array that is its whole, non-shared buffer
 * is freed; anything else is left to the collector.
 *
 * @module
 */

/** Frees `bytes`' buffer now if `bytes` is all of it (see the module doc). */
export function release(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength &&
    typeof buffer.transfer === "function"
  ) {
    buffer.transfer(0);
  }
}

/**
 * Native memory for a VFS: the `sqlite3_vfs` and `sqlite3_io_methods`
 * structs, filled with `Deno.UnsafeCallback` pointers (or the default VFS's
 * own function pointers), kept referenced for the VFS's whole life and closed
 * in one place.
 *
 * @module
 */

import * as F from "../ffi/mod.ts";

/** One struct slot: an offset and either a callback to create or a raw pointer to copy. */
export type Slot =
  | {
    offset: number;
    def: Deno.UnsafeCallbackDefinition;
    // deno-lint-ignore no-explicit-any
    fn: (...args: any[]) => any;
  }
  | { offset: number; pointer: bigint };

/** A native struct built from slots; owns its memory and callbacks. */
export class NativeStruct {
  /** Pointer to the struct. */
  readonly pointer: Deno.PointerObject;
  #buf: Uint8Array;
  #keep: unknown[]; // memory the struct points into (names)
  #callbacks: Deno.UnsafeCallback[] = [];

  /** Allocates `size` bytes, writes the i32 header fields, then every slot. */
  constructor(
    size: number,
    ints: [offset: number, value: number][],
    slots: Slot[],
    keep: unknown[] = [],
  ) {
    this.#buf = new Uint8Array(size);
    this.#keep = keep;
    const view = new DataView(this.#buf.buffer);
    for (const [off, v] of ints) view.setInt32(off, v, true);
    for (const s of slots) {
      let p: bigint;
      if ("pointer" in s) p = s.pointer;
      else {
        // deno-lint-ignore no-explicit-any
        const cb = new Deno.UnsafeCallback(s.def, s.fn as any);
        this.#callbacks.push(cb as unknown as Deno.UnsafeCallback);
        p = F.pointerValue(cb.pointer);
      }
      view.setBigUint64(s.offset, p, true);
    }
    this.pointer = Deno.UnsafePointer.of(this.#buf)!;
  }

  /** Writes a pointer field after construction. */
  setPointer(offset: number, value: bigint): void {
    new DataView(this.#buf.buffer).setBigUint64(offset, value, true);
  }

  /** Closes every callback (only once nothing can call them any more). */
  close(): void {
    for (const cb of this.#callbacks) cb.close();
    this.#callbacks = [];
    this.#keep.length = 0; // referenced until now: a collected buffer would dangle
  }
}

/**
 * The multi-process commit protocol of the S3 VFS, sans-IO: every algorithm
 * is a generator of store operations (see ./store.ts), driven by ./driver.ts
 * or by a simulator. docs/protocol.md describes the protocol. An index for
 * tests and tools; the package itself imports the modules directly (this file
 * is not published).
 *
 * @module
 */

export { VfsError } from "../errors.ts";
export * from "./errors.ts";
export * from "./store.ts";
export * from "./keys.ts";
export * from "./rules.ts";
export * from "./format.ts";
export * from "./records.ts";
export * from "./commits.ts";
export * from "./snapshot.ts";
export * from "./read.ts";
export * from "./open.ts";
export * from "./writer.ts";
export * from "./checkpoint.ts";
export * from "./retention.ts";
export * from "./history.ts";
export * from "./driver.ts";
export { crc32 } from "./crc32.ts";
export { S3LogStore } from "./s3_store.ts";

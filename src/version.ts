/**
 * The package's version (the `version` of deno.json, which a test keeps
 * equal), for `s3vfs --version` and messages.
 *
 * @module
 */

/** This package's version. */
export const VERSION = "0.1.0";

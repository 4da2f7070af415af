/**
 * Arguments of the command-line tool: the options every command takes
 * (`--endpoint`, `--region`, `--block-size`, `--verbose`, `--help`), each
 * command's own, parsed with `node:util`'s `parseArgs` (strict: an unknown
 * option or a missing value is a {@linkcode UsageError}), database locations
 * (`s3://bucket/key/prefix`) and the help text built from the same tables.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { checkDatabaseName } from "../log/keys.ts";
import { UsageError } from "./errors.ts";

/** One option: its type, an optional one-letter alias, and its help. */
export interface OptionSpec {
  /** `string` takes a value, `boolean` is a flag. */
  type: "string" | "boolean";
  /** One-letter alias (`-h`). */
  short?: string;
  /** Name of the value in the help (`<url>`). */
  value?: string;
  /** One line of help. */
  help: string;
}

/** The parsed arguments of one command. */
export interface ParsedArgs {
  /** Option values by name (strings, or true for flags given). */
  values: Record<string, string | boolean | undefined>;
  /** The positional arguments after the command name. */
  positionals: string[];
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  endpoint: {
    type: "string",
    value: "url",
    help: "S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_ENDPOINT, else AWS)",
  },
  region: {
    type: "string",
    value: "name",
    help: "signing region (default: AWS_REGION, us-east-1)",
  },
  "block-size": {
    type: "string",
    value: "bytes",
    help: "block size of a database created here (default 4096; existing ones keep theirs)",
  },
  verbose: { type: "boolean", short: "v", help: "print the stack of a failure" },
  help: { type: "boolean", short: "h", help: "show help" },
};

/** Parses `argv` (the arguments after the command name) against the global and `options`. */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: Record<string, OptionSpec>,
): ParsedArgs {
  const all = { ...GLOBAL_OPTIONS, ...options };
  const spec: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(all)) {
    spec[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: spec,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    // node's messages end with a hint about `--` we do not need; keep the first sentence.
    const msg = (e as Error).message.split(". ")[0].replace(/\.$/, "");
    throw new UsageError(msg, command);
  }
}

/** A database location: a bucket and a database name (key prefix) in it. */
export interface Location {
  /** Bucket name. */
  bucket: string;
  /** Database name: the key prefix of its blocks. */
  prefix: string;
  /** As given, for messages (`s3://bucket/prefix`). */
  url: string;
}

const S3_URL = /^s3:\/\/([^/]+)(?:\/(.*))?$/s;

/** Parses `s3://bucket/key/prefix`; a UsageError names what is wrong. */
export function parseLocation(url: string, command: string): Location {
  const m = S3_URL.exec(url);
  if (!m) {
    throw new UsageError(`not a database location: ${url} (expected s3://bucket/key)`, command);
  }
  const [, bucket, prefix] = m;
  if (!prefix) throw new UsageError(`${url} names no database (expected s3://bucket/key)`, command);
  try {
    checkDatabaseName(prefix);
  } catch (e) {
    throw new UsageError((e as Error).message, command);
  }
  return { bucket, prefix, url: `s3://${bucket}/${prefix}` };
}

/** Parses `s3://bucket[/prefix]` for listing: the prefix may be empty or end in `/`. */
export function parseBucketUrl(url: string, command: string): { bucket: string; prefix: string } {
  const m = S3_URL.exec(url);
  if (!m) {
    throw new UsageError(`not an S3 location: ${url} (expected s3://bucket[/prefix])`, command);
  }
  return { bucket: m[1], prefix: m[2] ?? "" };
}

/** Parses a positive integer option (`--block-size 65536`). */
export function intOption(
  value: string | boolean | undefined,
  name: string,
  command: string,
): number | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${value}`, command);
  }
  return n;
}

/** `--at`: a txid (digits) or a time (ISO 8601, e.g. 2026-11-26T10:00:00Z). */
export function parseAt(value: string, command: string): number | Date {
  if (/^\d+$/.test(value)) return Number(value);
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) {
    throw new UsageError(`--at must be a txid or a time (ISO 8601), got ${value}`, command);
  }
  return t;
}

/** The lines of help describing `options`. */
export function optionsHelp(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` <${o.value}>` : ""}`;
    return [flag, o.help];
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join("\n");
}

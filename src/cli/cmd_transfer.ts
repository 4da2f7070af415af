/**
 * `import`, `export` and `cp`: whole databases through the S3VFS streams.
 * `import` is one commit (`deserialize`): interrupted or failing, it leaves
 * the target as it was. `export` to a file goes through a temporary file
 * renamed at the end (`serializeToFile`), so the file is complete or
 * untouched. `cp` pipes one consistent snapshot of the source
 * (`serialize`) into `deserialize` of the target, across buckets too. Ctrl-C
 * aborts through the streams' AbortSignal; the progress bar is drawn only on
 * a terminal.
 *
 * @module
 */

import { runAsync } from "../log/driver.ts";
import { readConfig } from "../log/records.ts";
import { S3LogStore } from "../log/s3_store.ts";
import type { ConfigRecord } from "../log/format.ts";
import type { Timing } from "../log/rules.ts";
import type { DeserializeResult } from "../streams/types.ts";
import { type Location, parseAt, parseLocation } from "./args.ts";
import type { Command } from "./command.ts";
import { CliError, UsageError } from "./errors.ts";
import { formatBytes } from "./format.ts";
import { inspect } from "./inspect.ts";
import { startProgress } from "./progress.ts";
import type { Session } from "./session.ts";
import { formatTiming, parseTiming, sameTiming } from "./timing.ts";
import { WAIT_OPTION, withLease } from "./lease_wait.ts";

const OVERWRITE = {
  overwrite: { type: "boolean", help: "replace what is at the target" },
} as const;

const TIMING = {
  timing: {
    type: "string",
    value: "name=duration,...",
    help: "timing a database created here records, e.g. grace=2s,keep-history=20m " +
      "(names: grace, max-commit-lag, keep-history, max-stage-age, margin)",
  },
} as const;

/** Settings of a database written at `loc`: its own if it exists, else the options', else `from`'s. */
async function targetSettings(
  s: Session,
  loc: Location,
  from?: ConfigRecord,
): Promise<{ blockSize?: number; timing?: Timing }> {
  // Options first: a bad one is a usage error before any request.
  const blockSize = s.blockSize;
  const given = s.option("timing");
  const timing = given === undefined ? undefined : parseTiming(given, s.command);
  const config = await runAsync(readConfig(loc.prefix), new S3LogStore(s.client(), loc.bucket));
  if (config && timing && !sameTiming(config.timing, timing)) {
    throw new CliError(
      `${loc.url} exists with timing ${formatTiming(config.timing)}; --timing applies to a ` +
        `database created here and cannot change an existing one (leave it out, or delete ` +
        `the database first)`,
    );
  }
  return {
    blockSize: blockSize ?? config?.blockSize ?? from?.blockSize,
    timing: config ? undefined : timing ?? from?.timing,
  };
}

/** The library's hint, in the tool's words. */
function cliWords<T>(p: Promise<T>): Promise<T> {
  return p.catch((e) => {
    if (e instanceof Error && e.message.includes("pass overwrite: true")) {
      throw new CliError(e.message.replace("pass overwrite: true", "add --overwrite"));
    }
    throw e;
  });
}

function summary(verb: string, r: DeserializeResult, loc: Location, from = ""): string {
  const what = `${formatBytes(r.bytes)} (${r.blocks} blocks)${from ? ` from ${from}` : ""}`;
  return `${verb} ${what} into ${loc.url} at txid ${r.txid}\n`;
}

/**
 * The chunks of `stream`, ending with the signal's reason as soon as it is
 * aborted: a pending read of stdin only settles when input comes, so the
 * reader is cancelled without waiting for it.
 */
async function* abortable(
  stream: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    while (true) {
      signal.throwIfAborted();
      const r = await Promise.race([reader.read(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    reader.cancel().catch(() => {}); // not awaited: see above
  }
}

/** `import <file|-> s3://bucket/prefix`. */
export const importCommand: Command = {
  name: "import",
  summary: "store a local SQLite file (or stdin) as a database in S3",
  usage: "import <file|-> s3://bucket/prefix [--overwrite] [--timing name=duration,...]",
  details: "Reads a plain SQLite file (`-`: stdin) and stores it as one commit: readers see the\n" +
    "whole new database at once, and a failure or Ctrl-C leaves the target as it was. A\n" +
    "database created here gets --block-size and --timing (else the defaults: 4096 bytes;\n" +
    "grace 60 s, history kept 15 min, ...); an existing one keeps its own.",
  options: { ...OVERWRITE, ...TIMING, ...WAIT_OPTION },
  positionals: ["source", "target"],
  async run(s: Session): Promise<number> {
    const [source, target] = s.args.positionals;
    const loc = parseLocation(target, "import");
    const settings = await targetSettings(s, loc);
    const vfs = await s.vfs(loc.bucket, settings.blockSize, settings.timing);
    const progress = startProgress(`import ${loc.prefix}`);
    try {
      const result = await withLease(s, loc, () =>
        s.interruptible(`${loc.url}`, async (signal) => {
          const options = { overwrite: s.flag("overwrite"), signal, onProgress: progress.update };
          if (source === "-") {
            const stdin = abortable(Deno.stdin.readable, signal);
            return await cliWords(vfs.deserialize(loc.prefix, stdin, options));
          }
          return await cliWords(vfs.deserializeFromFile(loc.prefix, source, options));
        }));
      progress.stop();
      if (result.bytes === 0 && result.txid === 0) {
        // An empty source is the empty database, which a new prefix stores as nothing at all.
        throw new CliError(
          `${source === "-" ? "stdin" : source} is empty: nothing was stored at ${loc.url} ` +
            "(an empty file is an empty database; one is created at its first write)",
        );
      }
      s.out(summary("imported", result, loc));
      return 0;
    } finally {
      progress.stop();
    }
  },
};

/** `export s3://bucket/prefix <file|->`. */
export const exportCommand: Command = {
  name: "export",
  summary: "write a database in S3 to a local SQLite file (or stdout)",
  usage: "export s3://bucket/prefix <file|-> [--overwrite] [--at <txid|time>]",
  details: "Writes one consistent snapshot as a plain SQLite file (`-`: stdout). The file is\n" +
    "written under a temporary name and renamed when complete: a failure or Ctrl-C leaves\n" +
    "no partial file. An existing file is replaced only with --overwrite. --at writes the\n" +
    "database as it was at a past txid or time (see history).",
  options: {
    ...OVERWRITE,
    at: { type: "string", value: "txid|time", help: "export the database as it was then" },
  },
  positionals: ["source", "target"],
  async run(s: Session): Promise<number> {
    const [source, target] = s.args.positionals;
    const loc = parseLocation(source, "export");
    const found = await inspect(s.client(), loc.bucket, loc.prefix);
    if (!found) throw new CliError(`no database at ${loc.url}`);
    if (target !== "-") {
      const info = await Deno.stat(target).catch(() => undefined);
      if (info?.isDirectory) {
        const name = loc.prefix.split("/").at(-1);
        throw new CliError(`${target} is a folder: name the file, e.g. ${target}/${name}`);
      }
      if (info && !s.flag("overwrite")) {
        throw new CliError(`${target} exists (add --overwrite to replace it)`);
      }
    }
    const vfs = await s.vfs(loc.bucket, found.config.blockSize);
    const progress = startProgress(`export ${loc.prefix}`);
    try {
      const bytes = await s.interruptible(target === "-" ? "stdout" : target, async (signal) => {
        const at = s.option("at");
        const options = {
          signal,
          onProgress: progress.update,
          ...(at === undefined ? {} : { at: parseAt(at, "export") }),
        };
        if (target !== "-") return (await vfs.serializeToFile(loc.prefix, target, options)).bytes;
        let n = 0;
        for await (const chunk of vfs.serialize(loc.prefix, options)) {
          for (let o = 0; o < chunk.length;) o += await Deno.stdout.write(chunk.subarray(o));
          n += chunk.length;
        }
        return n;
      });
      progress.stop();
      if (target !== "-") s.out(`exported ${formatBytes(bytes)} from ${loc.url} to ${target}\n`);
      return 0;
    } finally {
      progress.stop();
    }
  },
};

/** `cp s3://a s3://b`. */
export const cpCommand: Command = {
  name: "cp",
  summary: "copy a database (one consistent snapshot; across buckets too)",
  usage: "cp s3://bucket/from s3://bucket/to [--overwrite] [--timing name=duration,...]",
  details: "Reads one snapshot of the source and stores it at the target as one commit. The\n" +
    "target keeps its block size and timing if it exists, else gets the source's (or\n" +
    "--block-size, --timing).",
  options: { ...OVERWRITE, ...TIMING, ...WAIT_OPTION },
  positionals: ["source", "target"],
  async run(s: Session): Promise<number> {
    const [from, to] = s.args.positionals;
    const src = parseLocation(from, "cp");
    const dst = parseLocation(to, "cp");
    if (src.url === dst.url) throw new UsageError("source and target are the same database", "cp");
    const found = await inspect(s.client(), src.bucket, src.prefix);
    if (!found) throw new CliError(`no database at ${src.url}`);
    const srcVfs = await s.vfs(src.bucket, found.config.blockSize);
    const settings = await targetSettings(s, dst, found.config);
    const dstVfs = await s.vfs(dst.bucket, settings.blockSize, settings.timing);
    const progress = startProgress(`cp ${src.prefix}`);
    try {
      const result = await withLease(s, dst, () =>
        s.interruptible(dst.url, async (signal) => {
          const stream = srcVfs.serialize(src.prefix, { signal });
          return await cliWords(dstVfs.deserialize(dst.prefix, stream, {
            overwrite: s.flag("overwrite"),
            signal,
            onProgress: (p) => progress.update({ bytes: p.bytes, total: p.total ?? found.size }),
          }));
        }));
      progress.stop();
      s.out(summary("copied", result, dst, src.url));
      return 0;
    } finally {
      progress.stop();
    }
  },
};

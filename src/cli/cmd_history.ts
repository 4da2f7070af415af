/**
 * `checkpoint`, `history` and `restore`: the commit log's maintenance and
 * time travel (`S3VFS.checkpoint`, `S3VFS.history`, `S3VFS.restore`). A
 * restore is one commit: Ctrl-C before it leaves the database as it was.
 *
 * @module
 */

import { parseAt, parseLocation } from "./args.ts";
import type { Command } from "./command.ts";
import { CliError, UsageError } from "./errors.ts";
import { formatBytes, jsonReplacer, table } from "./format.ts";
import { inspect } from "./inspect.ts";
import { startProgress } from "./progress.ts";
import type { Session } from "./session.ts";
import { WAIT_OPTION, withLease } from "./lease_wait.ts";
import type { S3VFS } from "../vfs/vfs.ts";

/** The S3VFS for the existing database at `url`. */
async function openVfs(
  s: Session,
  url: string,
  command: string,
): Promise<{ vfs: S3VFS; prefix: string }> {
  const loc = parseLocation(url, command);
  const found = await inspect(s.client(), loc.bucket, loc.prefix);
  if (!found) throw new CliError(`no database at ${loc.url}`);
  return { vfs: await s.vfs(loc.bucket, found.config.blockSize), prefix: loc.prefix };
}

/** `checkpoint s3://bucket/prefix`. */
export const checkpointCommand: Command = {
  name: "checkpoint",
  summary: "fold the log into the block objects now",
  usage: "checkpoint s3://bucket/prefix",
  details: "Copies the commits older than the grace period (60 s by default) into the block\n" +
    "objects. Once nothing is left to fold, Python sqlite-s3vfs reads the current database.\n" +
    "A bar shows the blocks done on a terminal; the last line says what was written.",
  options: {},
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const { vfs, prefix } = await openVfs(s, s.args.positionals[0], "checkpoint");
    const bs = vfs.blockSize;
    const started = performance.now();
    const progress = startProgress(`checkpoint ${prefix}`);
    let o;
    try {
      o = await vfs.checkpoint(prefix, {
        onProgress: (p) => progress.update({ bytes: p.done * bs, total: p.total * bs }),
      });
    } finally {
      progress.stop();
    }
    const secs = (performance.now() - started) / 1000;
    switch (o.kind) {
      case "folded":
        s.out(
          `folded txids ${o.from + 1}..${o.to} into the blocks: ${o.written} of ${o.blocks} ` +
            `blocks written (${formatBytes(o.written * bs)}) in ${secs.toFixed(1)} s, ` +
            `${Math.round(o.written / Math.max(secs, 0.001))} blocks/s\n`,
        );
        return 0;
      case "idle":
        s.out(
          `nothing to fold: the blocks hold txid ${o.txid} (newer commits wait out the grace period)\n`,
        );
        return 0;
      case "none":
        s.out("nothing to fold: the database has no log (Python's layout)\n");
        return 0;
      case "raced":
        throw new CliError(`checkpoint raced with another one: ${o.reason}`);
      case "busy":
        throw new CliError(
          `another checkpoint is running (${o.holder}, until ${
            new Date(o.until).toISOString()
          } unless renewed); try again later`,
        );
      case "stopped":
        throw new CliError(`checkpoint stopped before it finished (${o.written} blocks written)`);
      case "replaced":
        throw new CliError(`the database changed under the checkpoint: ${o.reason}`);
    }
  },
};

/** `history s3://bucket/prefix`. */
export const historyCommand: Command = {
  name: "history",
  summary: "list the commits still kept (for restore and time travel)",
  usage: "history s3://bucket/prefix [--json]",
  details: "Oldest first: txid, time, kind (commit, void, abort), commit object size, database\n" +
    "size after it, pages changed, and whether the snapshot after it is complete (yes: it\n" +
    "opens and reads whole; maybe: opening checks that no checkpoint rewrote a block it needs).",
  options: { json: { type: "boolean", help: "print JSON" } },
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const { vfs, prefix } = await openVfs(s, s.args.positionals[0], "history");
    const entries = [];
    for await (const e of vfs.history(prefix)) entries.push(e);
    if (s.flag("json")) {
      s.out(JSON.stringify(entries, jsonReplacer, 2) + "\n");
      return 0;
    }
    s.out(
      table(
        ["txid", "time", "kind", "bytes", "size", "pages changed", "complete"],
        entries.map((e) => [
          e.txid,
          e.time.toISOString(),
          e.kind,
          e.bytes,
          formatBytes(e.size),
          e.pagesChanged,
          e.complete ? "yes" : "maybe",
        ]),
      ) + "\n",
    );
    return 0;
  },
};

/** `restore s3://bucket/prefix --at <txid|time>`. */
export const restoreCommand: Command = {
  name: "restore",
  summary: "make a past state current again, as one new commit",
  usage: "restore s3://bucket/prefix --at <txid|time>",
  details: "Writes the database as it was at a txid (see history) or a time (ISO 8601) as a\n" +
    "new commit: readers see it at once, and it can itself be undone.",
  options: {
    at: { type: "string", value: "txid|time", help: "the state to restore" },
    ...WAIT_OPTION,
  },
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const at = s.option("at");
    if (at === undefined) throw new UsageError("restore needs --at <txid|time>", "restore");
    const when = parseAt(at, "restore");
    const { vfs, prefix } = await openVfs(s, s.args.positionals[0], "restore");
    const progress = startProgress(`restore ${prefix}`);
    try {
      const loc = parseLocation(s.args.positionals[0], "restore");
      const r = await withLease(s, loc, () =>
        s.interruptible(
          s.args.positionals[0],
          (signal) => vfs.restore(prefix, { at: when, signal, onProgress: progress.update }),
        ));
      progress.stop();
      s.out(`restored txid ${r.from} (${formatBytes(r.bytes)}) as txid ${r.txid}\n`);
      return 0;
    } finally {
      progress.stop();
    }
  },
};

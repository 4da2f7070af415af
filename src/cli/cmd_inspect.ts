/**
 * `ls` and `info`: what is stored, read from the objects (see inspect.ts),
 * with the history kept and the writer lease from `S3VFS.info`.
 *
 * @module
 */

import { parseBucketUrl, parseLocation } from "./args.ts";
import type { DatabaseInfo, LeaseInfo } from "../../mod.ts";
import type { Command } from "./command.ts";
import { CliError } from "./errors.ts";
import { formatBytes, jsonReplacer, keyValueTable, plural, table } from "./format.ts";
import { findDatabases, inspect, type Inspection } from "./inspect.ts";
import type { Session } from "./session.ts";
import { formatTiming } from "./timing.ts";

const JSON_OPTION = { json: { type: "boolean", help: "print JSON" } } as const;

/** `S3VFS.info` of the inspected database (lease, history kept). */
async function infoOf(s: Session, bucket: string, i: Inspection): Promise<DatabaseInfo | null> {
  const vfs = await s.vfs(bucket, i.config.blockSize);
  return await vfs.info(i.prefix);
}

function leaseText(lease: LeaseInfo | null | undefined): string {
  if (!lease) return "none";
  const who = `${lease.host || "?"} pid ${lease.pid}`;
  if (lease.live) {
    return `${who}, generation ${lease.generation}, until ${lease.expiresAt.toISOString()}`;
  }
  return `none (last held by ${who}, ${lease.released ? "released" : "expired"})`;
}

function leaseHolder(lease: LeaseInfo | null | undefined): string {
  return lease?.live ? `${lease.host || "?"}:${lease.pid}` : "-";
}

/** `ls s3://bucket[/prefix]`. */
export const lsCommand: Command = {
  name: "ls",
  summary: "list the databases under a bucket or prefix",
  usage: "ls s3://bucket[/prefix] [--json]",
  details: "Finds databases by their objects (`<name>.s3vfs/config`, or Python's\n" +
    "`<name>/0000000000`) and shows size, page size, block size, current txid, commits\n" +
    "not yet checkpointed (log) and the lease holder.",
  options: JSON_OPTION,
  positionals: ["location"],
  async run(s: Session): Promise<number> {
    const { bucket, prefix } = parseBucketUrl(s.args.positionals[0], "ls");
    const names = await findDatabases(s.client(), bucket, prefix);
    const rows = [];
    for (const name of names) {
      const i = await inspect(s.client(), bucket, name);
      if (!i) continue; // deleted meanwhile
      rows.push({ i, lease: (await infoOf(s, bucket, i))?.lease ?? null });
    }
    if (s.flag("json")) {
      const out = rows.map(({ i, lease }) => ({
        database: `s3://${bucket}/${i.prefix}`,
        size: i.size,
        pageSize: i.pageSize,
        blockSize: i.config.blockSize,
        txid: i.txid,
        logLength: i.logLength,
        lease: lease ?? null,
      }));
      s.out(JSON.stringify(out, jsonReplacer, 2) + "\n");
      return 0;
    }
    if (!rows.length) {
      s.err(`no databases under s3://${bucket}/${prefix}\n`);
      return 0;
    }
    s.out(
      table(
        ["database", "size", "page size", "block size", "txid", "log", "staged", "lease"],
        rows.map(({ i, lease }) => [
          i.prefix,
          i.size,
          i.pageSize,
          i.config.blockSize,
          i.adopted ? i.txid : "-",
          i.logLength,
          i.stagedObjects ? formatBytes(i.stagedBytes) : "-",
          leaseHolder(lease),
        ]),
      ) + "\n",
    );
    return 0;
  },
};

const ENCODINGS: Record<number, string> = { 1: "UTF-8", 2: "UTF-16le", 3: "UTF-16be" };

/** `info s3://bucket/prefix`. */
export const infoCommand: Command = {
  name: "info",
  summary: "show a database's SQLite header, block layout, checkpoint, log and lease",
  usage: "info s3://bucket/prefix [--json]",
  details: "Reads the database's objects (config, checkpoint record, log, block 0 at the\n" +
    "current txid) without SQLite.",
  options: JSON_OPTION,
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const loc = parseLocation(s.args.positionals[0], "info");
    const i = await inspect(s.client(), loc.bucket, loc.prefix);
    if (!i) throw new CliError(`no database at ${loc.url}`);
    const vfsInfo = await infoOf(s, loc.bucket, i);
    const lease = vfsInfo?.lease ?? null;
    const h = i.header;
    const bs = i.config.blockSize;
    if (s.flag("json")) {
      const { state: _state, config, ...rest } = i;
      const out = {
        database: loc.url,
        ...rest,
        blockSize: bs,
        historyFrom: vfsInfo?.historyFrom ?? null,
        timing: config.timing,
        lease,
      };
      s.out(JSON.stringify(out, jsonReplacer, 2) + "\n");
      return 0;
    }
    const history = i.logTxids.length
      ? `${plural(i.logTxids.length, "commit object")} kept (txids ${i.logTxids[0]}..${
        i.logTxids.at(-1)
      }); snapshots from txid ${vfsInfo?.historyFrom ?? "?"}`
      : "none kept";
    const rows: [string, unknown][] = [
      ["database", loc.url],
      ["storage", i.adopted ? "commit log + blocks" : "blocks only (Python sqlite-s3vfs, no log)"],
      ["size", `${i.size} bytes (${formatBytes(i.size)})`],
      ["page size", i.pageSize],
      ["pages", i.pageSize ? i.size / i.pageSize : "-"],
      ["block size", bs],
      [
        "blocks",
        `${
          Math.ceil(i.size / bs)
        } in the database; ${i.blockObjects} objects stored (${i.blockBytes} bytes)`,
      ],
      ["txid", i.txid],
      [
        "checkpoint",
        i.checkpoint ? `txid ${i.checkpoint.txid}, ${i.checkpoint.size} bytes` : "none",
      ],
      ["log", `${plural(i.logLength, "commit")} after the checkpoint`],
      [
        "staged",
        i.stagedObjects
          ? `${plural(i.stagedObjects, "chunk")} (${
            formatBytes(i.stagedBytes)
          }): big transactions' data; check tells what is garbage`
          : "none",
      ],
      ["history", history],
      ["timing", formatTiming(i.config.timing)],
      ["lease", leaseText(lease)],
    ];
    if (h) {
      rows.push(
        ["text encoding", ENCODINGS[h.textEncoding] ?? String(h.textEncoding)],
        ["journal", h.writeVersion === 2 ? "WAL (file format 2)" : "rollback (file format 1)"],
        ["schema format", h.schemaFormat],
        ["user_version", h.userVersion],
        ["application_id", h.applicationId],
        ["change counter", h.changeCounter],
        ["freelist pages", h.freelistCount],
        ["reserved bytes", h.reservedBytes],
        ["written by", sqliteVersionText(h.sqliteVersion)],
      );
    }
    s.out(keyValueTable(rows) + "\n");
    return 0;
  },
};

/** 3040001 -> "SQLite 3.40.1". */
function sqliteVersionText(n: number): string {
  return `SQLite ${Math.floor(n / 1_000_000)}.${Math.floor(n / 1000) % 1000}.${n % 1000}`;
}

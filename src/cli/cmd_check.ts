/**
 * `check`: the storage invariants (check.ts) and SQLite's
 * `PRAGMA integrity_check` through the S3VFS, read-only. Prints one line per
 * thing verified or broken; exits 1 when anything is broken.
 *
 * @module
 */

import { OPEN_READONLY } from "../vfs/options.ts";
import { parseLocation } from "./args.ts";
import { checkStorage } from "./check.ts";
import type { Command } from "./command.ts";
import { CliError, describeError } from "./errors.ts";
import type { Session } from "./session.ts";

/** `check s3://bucket/prefix`. */
export const checkCommand: Command = {
  name: "check",
  summary: "verify a database: storage invariants and PRAGMA integrity_check",
  usage: "check s3://bucket/prefix",
  details: "Checks that every block is present with the right size, that the checkpoint\n" +
    "record and the log agree (contiguous txids after the checkpoint, every commit object\n" +
    "parses, CRCs match, staged chunks exist), then runs PRAGMA integrity_check.\n" +
    "Exits 1 when anything is broken.",
  options: {},
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const loc = parseLocation(s.args.positionals[0], "check");
    const report = await checkStorage(s.client(), loc.bucket, loc.prefix);
    if (!report.exists) throw new CliError(`no database at ${loc.url}`);
    const { passed, problems } = report;
    const sqlite = await s.sqlite();
    const vfs = await s.vfs(loc.bucket, report.blockSize);
    let db;
    try {
      db = new sqlite.Database(vfs.uri(loc.prefix), { flags: OPEN_READONLY });
      const rows = db.prepare("PRAGMA integrity_check").values<[string]>().map(([m]) => m);
      if (rows.length === 1 && rows[0] === "ok") passed.push("PRAGMA integrity_check: ok");
      else for (const r of rows) problems.push(`integrity_check: ${r}`);
    } catch (e) {
      problems.push(`integrity_check failed: ${describeError(e, vfs.lastError)}`);
    } finally {
      db?.close();
    }
    for (const p of passed) s.out(`ok      ${p}\n`);
    for (const p of report.notes) s.out(`note    ${p}\n`);
    for (const p of problems) s.out(`BROKEN  ${p}\n`);
    s.out(
      problems.length
        ? `${loc.url}: ${problems.length} problem${problems.length > 1 ? "s" : ""}\n`
        : `${loc.url}: ok\n`,
    );
    return problems.length ? 1 : 0;
  },
};

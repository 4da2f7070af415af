/**
 * `query`: SQL from the command line, rows as a table, JSON or CSV;
 * read-only unless `--write` (`shell` is in ./cmd_shell.ts).
 *
 * @module
 */

import type { Command } from "./command.ts";
import { UsageError } from "./errors.ts";
import { connect, outputMode, runSql } from "./sql.ts";
import type { Session } from "./session.ts";
import { WAIT_OPTION } from "./lease_wait.ts";

/** Options of `query` and `shell`. */
export const SQL_OPTIONS = {
  json: { type: "boolean", help: "print rows as JSON" },
  csv: { type: "boolean", help: "print rows as CSV" },
  write: { type: "boolean", help: "open read-write (default: read-only)" },
  at: {
    type: "string",
    value: "txid|time",
    help: "read the database as it was then (see history)",
  },
  ...WAIT_OPTION,
} as const;

/** `query s3://bucket/prefix "SQL"`. */
export const queryCommand: Command = {
  name: "query",
  summary: "run SQL on a database in S3 and print the rows",
  usage: 'query s3://bucket/prefix "SQL" [--json | --csv] [--write | --at <txid|time>]',
  details: "Runs each statement of the SQL through @db/sqlite and prints the rows of those\n" +
    "that return rows. Read-only unless --write; each statement outside an explicit\n" +
    "transaction is its own commit.",
  options: SQL_OPTIONS,
  positionals: ["database", "sql"],
  async run(s: Session): Promise<number> {
    if (s.flag("json") && s.flag("csv")) throw new UsageError("--json or --csv, not both", "query");
    const [url, sql] = s.args.positionals;
    const c = await connect(s, url, "query");
    try {
      s.out(runSql(c, sql, outputMode(s)));
    } finally {
      c.db.close();
    }
    return 0;
  },
};

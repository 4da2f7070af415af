/**
 * `query` (SQL from the command line, rows as a table, JSON or CSV) and
 * `shell` (an interactive SQL prompt, as the sqlite3 command gives: statements
 * end with `;`, a few dot commands). Both are read-only unless `--write`.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { describeError, UsageError } from "./errors.ts";
import { connect, type OutputMode, outputMode, runSql, type SqlConnection } from "./sql.ts";
import type { Session } from "./session.ts";

const SQL_OPTIONS = {
  json: { type: "boolean", help: "print rows as JSON" },
  csv: { type: "boolean", help: "print rows as CSV" },
  write: { type: "boolean", help: "open read-write (default: read-only)" },
  at: {
    type: "string",
    value: "txid|time",
    help: "read the database as it was then (see history)",
  },
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

const SHELL_HELP = `.tables            list the tables
.schema [table]     show CREATE statements
.mode table|json|csv
.help               this text
.quit               leave (also Ctrl-D)
`;

/** Runs one dot command; false to leave. */
function dotCommand(
  s: Session,
  c: SqlConnection,
  line: string,
  state: { mode: OutputMode },
): boolean {
  const [cmd, arg] = line.trim().split(/\s+/, 2);
  switch (cmd) {
    case ".quit":
    case ".exit":
      return false;
    case ".help":
      s.out(SHELL_HELP);
      break;
    case ".tables":
      s.out(
        runSql(c, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", "csv")
          .split("\r\n").slice(1).filter(Boolean).join("  ") + "\n",
      );
      break;
    case ".schema": {
      const where = arg ? ` AND tbl_name = '${arg.replace(/'/g, "''")}'` : "";
      const sql =
        `SELECT sql || ';' FROM sqlite_schema WHERE sql IS NOT NULL${where} ORDER BY rowid`;
      const rows = c.db.prepare(sql).values<[string]>();
      s.out(rows.map(([x]) => x).join("\n") + (rows.length ? "\n" : ""));
      break;
    }
    case ".mode":
      if (arg === "table" || arg === "json" || arg === "csv") state.mode = arg;
      else s.err("error: .mode table|json|csv\n");
      break;
    default:
      s.err(`error: unknown command ${cmd} (.help lists them)\n`);
  }
  return true;
}

/** The lines of a byte stream (without their `\n` / `\r\n`). */
async function* readLines(bytes: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of bytes.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) yield rest;
}

/** `shell s3://bucket/prefix`. */
export const shellCommand: Command = {
  name: "shell",
  summary: "an interactive SQL prompt on a database in S3",
  usage: "shell s3://bucket/prefix [--write | --at <txid|time>] [--json | --csv]",
  details: "Reads SQL from the terminal (or stdin): a statement runs when it ends with `;`.\n" +
    "Dot commands: .tables, .schema, .mode, .help, .quit. Read-only unless --write.\n" +
    "Not a terminal: exits 1 if a statement failed.",
  options: SQL_OPTIONS,
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const c = await connect(s, s.args.positionals[0], "shell");
    const interactive = Deno.stdin.isTerminal();
    const state = { mode: outputMode(s) };
    let failed = false;
    try {
      if (interactive) {
        s.out(
          `${c.location.url} (${
            c.writable ? "read-write" : "read-only"
          }), SQLite ${c.sqlite.SQLITE_VERSION}. ` +
            `.help for help.\n`,
        );
      }
      const prompt = (more: boolean): void => {
        if (interactive) s.out(more ? "   ...> " : "s3vfs> ");
      };
      let buffer = "";
      prompt(false);
      for await (const line of readLines(Deno.stdin.readable)) {
        if (!buffer && line.trim().startsWith(".")) {
          if (!dotCommand(s, c, line, state)) break;
        } else {
          buffer += (buffer ? "\n" : "") + line;
          if (c.sqlite.isComplete(buffer)) {
            try {
              s.out(runSql(c, buffer, state.mode));
            } catch (e) {
              failed = true;
              s.err(`error: ${describeError(e)}\n`);
            }
            buffer = "";
          }
        }
        prompt(buffer !== "");
      }
      if (buffer.trim()) {
        try {
          s.out(runSql(c, buffer, state.mode));
        } catch (e) {
          failed = true;
          s.err(`error: ${describeError(e)}\n`);
        }
      }
      if (interactive) s.out("\n");
    } finally {
      c.db.close();
    }
    return failed && !interactive ? 1 : 0;
  },
};

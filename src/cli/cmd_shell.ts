/**
 * `shell`: an interactive SQL prompt, as sqlite3's shell gives one.
 * Statements end with `;` and may span lines; a few dot commands. On a
 * terminal: line editing and history (node:readline; kept in
 * `~/.s3vfs_history`, or `S3VFS_HISTORY`), Ctrl-C cancels the line being
 * typed or the statement running (./interrupt.ts) and returns to the prompt,
 * Ctrl-D (or `.quit`) leaves, closing the connection (which gives the writer
 * lease up). From a pipe: the statements in order; exit 1 if one failed.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import { SQL_OPTIONS } from "./cmd_query.ts";
import type { Command } from "./command.ts";
import { describeError } from "./errors.ts";
import { SqlInterrupter } from "./interrupt.ts";
import type { Session } from "./session.ts";
import { connect, type OutputMode, outputMode, runSql, type SqlConnection } from "./sql.ts";

const SHELL_HELP = `.tables            list the tables
.schema [table]     show CREATE statements
.mode table|json|csv
.help               this text
.quit               leave (also Ctrl-D)
Ctrl-C cancels the line being typed or the statement running.
`;

/** Most lines kept in the history file. */
const HISTORY_LINES = 1000;

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

/** Where the history is kept: `S3VFS_HISTORY`, else `~/.s3vfs_history` (none without a home). */
function historyPath(): string | undefined {
  const set = Deno.env.get("S3VFS_HISTORY");
  if (set !== undefined) return set || undefined;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  return home ? `${home}/.s3vfs_history` : undefined;
}

/** The history, newest first (readline's order); nothing if it cannot be read. */
function loadHistory(path: string | undefined): string[] {
  if (!path) return [];
  try {
    return Deno.readTextFileSync(path).split("\n").filter(Boolean).reverse().slice(
      0,
      HISTORY_LINES,
    );
  } catch {
    return [];
  }
}

/** Saves the history (newest first, as readline keeps it); a failure is not worth an error. */
function saveHistory(path: string | undefined, lines: string[]): void {
  if (!path) return;
  try {
    Deno.writeTextFileSync(path, [...lines].slice(0, HISTORY_LINES).reverse().join("\n") + "\n");
  } catch { /* no history then */ }
}

/** The interactive loop on a terminal. */
async function interactive(
  s: Session,
  c: SqlConnection,
  state: { mode: OutputMode },
): Promise<void> {
  const path = historyPath();
  using interrupter = await SqlInterrupter.install(c.vfs.libraryPath, c.db.unsafeHandle);
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history: loadHistory(path),
    historySize: HISTORY_LINES,
    removeHistoryDuplicates: true,
    prompt: "s3vfs> ",
  });
  let buffer = "";
  const prompt = (): void => {
    rl.setPrompt(buffer ? "   ...> " : "s3vfs> ");
    rl.prompt();
  };
  rl.on("SIGINT", () => {
    // Ctrl-C at the prompt: drop the line being typed and the statement begun, stay.
    const had = buffer !== "" || (rl as unknown as { line: string }).line !== "";
    buffer = "";
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
    s.out(had ? "^C\n" : "^C (.quit or Ctrl-D leaves)\n");
    prompt();
  });
  prompt();
  try {
    for await (const line of rl) {
      if (!buffer && line.trim().startsWith(".")) {
        if (!dotCommand(s, c, line, state)) break;
      } else {
        buffer += (buffer ? "\n" : "") + line;
        if (c.sqlite.isComplete(buffer)) {
          const sql = buffer;
          buffer = "";
          // While SQL runs, the terminal is out of raw mode: Ctrl-C is a signal, which the
          // interrupter turns into SQLITE_INTERRUPT for the statement.
          rl.pause();
          process.stdin.setRawMode?.(false);
          interrupter.arm();
          try {
            s.out(runSql(c, sql, state.mode));
          } catch (e) {
            s.err(
              interrupter.interrupted
                ? "^C (statement cancelled)\n"
                : `error: ${describeError(e)}\n`,
            );
          } finally {
            process.stdin.setRawMode?.(true);
            rl.resume();
          }
        }
      }
      prompt();
    }
  } finally {
    saveHistory(path, (rl as unknown as { history: string[] }).history ?? []);
    rl.close();
    s.out("\n");
  }
}

/** `shell s3://bucket/prefix`. */
export const shellCommand: Command = {
  name: "shell",
  summary: "an interactive SQL prompt on a database in S3",
  usage: "shell s3://bucket/prefix [--write | --at <txid|time>] [--json | --csv]",
  details: "Reads SQL from the terminal (or stdin): a statement runs when it ends with `;`.\n" +
    "Dot commands: .tables, .schema, .mode, .help, .quit. Read-only unless --write.\n" +
    "On a terminal: line editing, history (~/.s3vfs_history, or S3VFS_HISTORY), Ctrl-C\n" +
    "cancels the line or the statement running, Ctrl-D leaves. Not a terminal: exits 1\n" +
    "if a statement failed.",
  options: SQL_OPTIONS,
  positionals: ["database"],
  async run(s: Session): Promise<number> {
    const c = await connect(s, s.args.positionals[0], "shell");
    const state = { mode: outputMode(s) };
    let failed = false;
    try {
      if (Deno.stdin.isTerminal()) {
        s.out(
          `${c.location.url} (${
            c.writable ? "read-write" : "read-only"
          }), SQLite ${c.sqlite.SQLITE_VERSION}. .help for help.\n`,
        );
        await interactive(s, c, state);
        return 0;
      }
      let buffer = "";
      const run = (sql: string): void => {
        try {
          s.out(runSql(c, sql, state.mode));
        } catch (e) {
          failed = true;
          s.err(`error: ${describeError(e)}\n`);
        }
      };
      for await (const line of readLines(Deno.stdin.readable)) {
        if (!buffer && line.trim().startsWith(".")) {
          if (!dotCommand(s, c, line, state)) break;
        } else {
          buffer += (buffer ? "\n" : "") + line;
          if (c.sqlite.isComplete(buffer)) {
            run(buffer);
            buffer = "";
          }
        }
      }
      if (buffer.trim()) run(buffer);
    } finally {
      c.db.close(); // the last connection: gives the writer lease up
    }
    return failed ? 1 : 0;
  },
};

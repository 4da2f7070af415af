/**
 * The command-line tool's entry point: the table of commands, help, and one
 * run from arguments to exit code. Failures are printed on one line
 * (`error: ...` with the cause; the stack with `--verbose`); exit codes are
 * 0 ok, 1 failure, 2 usage, 130 interrupted (`doctor` adds 3 and 4).
 *
 * @module
 */

import { GLOBAL_OPTIONS, optionsHelp, parseCommandArgs } from "./args.ts";
import { cpCommand, exportCommand, importCommand } from "./cmd_transfer.ts";
import { infoCommand, lsCommand } from "./cmd_inspect.ts";
import { queryCommand } from "./cmd_query.ts";
import { shellCommand } from "./cmd_shell.ts";
import { checkCommand } from "./cmd_check.ts";
import { doctorCommand } from "./cmd_doctor.ts";
import { checkpointCommand, historyCommand, restoreCommand } from "./cmd_history.ts";
import type { Command } from "./command.ts";
import { describeError, EXIT_USAGE, exitCodeOf, UsageError } from "./errors.ts";
import { Session } from "./session.ts";
import { VERSION } from "../version.ts";

/** The tool's name in help and messages. */
export const TOOL = "s3vfs";

/** Every command, in the order of the help. */
export const COMMANDS: readonly Command[] = [
  importCommand,
  exportCommand,
  cpCommand,
  lsCommand,
  infoCommand,
  queryCommand,
  shellCommand,
  checkCommand,
  doctorCommand,
  checkpointCommand,
  historyCommand,
  restoreCommand,
];

/** The tool's help. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `${TOOL}: SQLite databases stored in S3 (@s3vfs/sqlite)

Usage: ${TOOL} <command> [options] [arguments]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Databases are s3://bucket/key/prefix. Endpoint, region and credentials come from
AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL, S3_ENDPOINT), AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the options below.

Options of every command:
${optionsHelp(GLOBAL_OPTIONS)}

'${TOOL} <command> --help' describes a command; '${TOOL} --version' prints the version.
Exit codes: 0 ok, 1 failure, 2 usage, 130 interrupted (Ctrl-C; doctor: 3 reads only,
4 unusable).
`;
}

/** A command's help. */
export function commandHelp(c: Command): string {
  const own = Object.keys(c.options).length ? `\nOptions:\n${optionsHelp(c.options)}\n` : "";
  return `Usage: ${TOOL} ${c.usage}

${c.summary[0].toUpperCase()}${c.summary.slice(1)}.
${c.details}
${own}
Options of every command:
${optionsHelp(GLOBAL_OPTIONS)}
`;
}

/** The index of the command name in `args` (global options with values may come first). */
function commandIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("-")) return i;
    const name = a.replace(/^--?/, "");
    if (!a.includes("=") && GLOBAL_OPTIONS[name]?.type === "string") i++;
  }
  return -1;
}

function print(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let o = 0; o < bytes.length;) o += file.writeSync(bytes.subarray(o));
}

/** Runs the tool with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const at = commandIndex(args);
  const name = at >= 0 ? args[at] : undefined;
  const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 1)] : args;
  const verbose = args.includes("--verbose") || args.includes("-v");
  let session: Session | undefined;
  try {
    if (name === undefined && (args.includes("--version") || args.includes("-V"))) {
      print(Deno.stdout, `${TOOL} ${VERSION} (@s3vfs/sqlite; Deno ${Deno.version.deno})\n`);
      return 0;
    }
    if (name === undefined || name === "help") {
      const topic = name === "help" ? rest.find((a) => !a.startsWith("-")) : undefined;
      const c = COMMANDS.find((x) => x.name === topic);
      if (topic !== undefined && !c) throw new UsageError(`unknown command ${topic}`);
      const asked = name === "help" || args.includes("--help") || args.includes("-h");
      print(asked ? Deno.stdout : Deno.stderr, c ? commandHelp(c) : mainHelp());
      return asked ? 0 : EXIT_USAGE;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command ${name}`);
    const parsed = parseCommandArgs(command.name, rest, command.options);
    if (parsed.values.help) {
      print(Deno.stdout, commandHelp(command));
      return 0;
    }
    const needed = command.positionals.filter((p) => !p.endsWith("?")).length;
    const n = parsed.positionals.length;
    if (n < needed || n > command.positionals.length) {
      throw new UsageError(
        `${command.name} takes ${
          command.positionals.map((p) => `<${p}>`).join(" ")
        }, got ${n} argument${n === 1 ? "" : "s"}`,
        command.name,
      );
    }
    session = new Session(command.name, parsed);
    return await command.run(session);
  } catch (err) {
    print(Deno.stderr, `error: ${describeError(err)}\n`);
    if (err instanceof UsageError) {
      print(Deno.stderr, `(see '${TOOL}${err.command ? ` ${err.command}` : ""} --help')\n`);
    }
    if (verbose && err instanceof Error && err.stack) {
      let e: unknown = err;
      for (let depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
        print(Deno.stderr, `${depth ? "caused by: " : ""}${e.stack}\n`);
      }
    }
    return exitCodeOf(err);
  } finally {
    session?.close();
  }
}

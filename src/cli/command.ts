/**
 * The shape of a command of the tool: its name, help (one-line summary,
 * usage, details, own options) and the positional arguments it requires,
 * and `run`, which returns the exit code. The table of commands is in
 * main.ts.
 *
 * @module
 */

import type { OptionSpec } from "./args.ts";
import type { Session } from "./session.ts";

/** One command. */
export interface Command {
  /** What users type (`import`). */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line, after the tool's name. */
  usage: string;
  /** More help: what it does, guarantees, examples. */
  details: string;
  /** Its own options (the global ones are added). */
  options: Readonly<Record<string, Readonly<OptionSpec>>>;
  /** Names of the positional arguments it needs (exactly these; optional ones end in `?`). */
  positionals: readonly string[];
  /** Runs it; the exit code. */
  run(session: Session): Promise<number>;
}

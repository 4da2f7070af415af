/**
 * How the command-line tool fails: a {@linkcode UsageError} (bad arguments,
 * exit code 2), a {@linkcode CliError} (a clear failure with its own message,
 * exit code 1), or anything else thrown below (exit code 1). Every failure is
 * printed as one line, `error: <message>: <cause>: ...`, the causes joined
 * where they add something (the S3 answer behind a SQLite I/O error, say);
 * the stack only with `--verbose`.
 *
 * @module
 */

/** Exit code of a successful run. */
export const EXIT_OK = 0;
/** Exit code of a failure (S3, SQL, a broken database, an interruption). */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error (unknown command or option, missing argument). */
export const EXIT_USAGE = 2;
/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** Bad command-line arguments: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  /** The command whose usage was wrong, for the hint (undefined: the tool itself). */
  readonly command?: string;

  /** Builds the error. */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure the tool explains itself (no database there, a broken database): exit code 1. */
export class CliError extends Error {
  /** Exit code to end with (default 1). */
  readonly exitCode: number;

  /** Builds the error. */
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options?.exitCode ?? EXIT_FAILURE;
  }
}

/** The message of anything thrown, on one line. */
function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/\s*\n\s*/g, " ").trim();
  return String(err).replace(/\s*\n\s*/g, " ").trim();
}

/**
 * One line describing `err` and its causes: each cause's message is appended
 * unless the line already contains it (S3Errors wrapped by the log store
 * repeat their cause's message).
 */
export function describeError(err: unknown, extraCause?: unknown): string {
  let line = messageOf(err);
  const seen = new Set<unknown>([err]);
  let cause = err instanceof Error ? err.cause : undefined;
  const causes: unknown[] = [];
  while (cause !== undefined && !seen.has(cause) && causes.length < 5) {
    seen.add(cause);
    causes.push(cause);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (extraCause !== undefined && !seen.has(extraCause)) causes.push(extraCause);
  for (const c of causes) {
    const m = messageOf(c);
    // An S3 failure wrapped by the log store ("GET k: unexpected 403 S3 403 ..."): the S3 line says it all.
    if (c instanceof Error && c.name === "S3Error" && line.includes(m)) line = m;
    else if (m && !line.includes(m)) line += `: ${m}`;
  }
  // The library's words for its options, in the tool's: there is no `credentials` option here.
  return line.replace(
    "pass `credentials` or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)",
  );
}

/** The exit code for `err`. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof CliError) return err.exitCode;
  return EXIT_FAILURE;
}

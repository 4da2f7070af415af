/**
 * `s3vfs shell` on a terminal (issue 19), keys typed into a pseudo-terminal
 * one step at a time (tests/_pty_keys.py): line editing, history kept in a
 * file across sessions, Ctrl-C cancelling a half-typed line, a multi-line
 * statement and a statement running (back at the prompt each time, the
 * process alive), Ctrl-D leaving with exit 0 and the writer lease given up.
 */

import { equal, match, ok } from "node:assert/strict";
import { DEFAULT_TIMING } from "../src/log/rules.ts";
import { readLease } from "../src/log/lease.ts";
import { runAsync, S3LogStore } from "../src/log/mod.ts";
import { cliArgs, cliEnv, runCli, stripAnsi } from "./_cli.ts";
import { freshBucket } from "./_harness.ts";
import { CHINOOK_PATH } from "./_vfs.ts";

const DRIVER = new URL("./_pty_keys.py", import.meta.url).pathname;
const PROMPT = "s3vfs> ";
const MORE = "...> ";
const LEFT = "\x1b[D";
const UP = "\x1b[A";

/** Runs `shell args` under a pseudo-terminal, typing `steps` ([keys, text to wait for]). */
async function shell(
  args: string[],
  steps: [string, string][],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("python3", {
    args: [DRIVER, JSON.stringify(steps), Deno.execPath(), ...cliArgs(["shell", ...args])],
    env: cliEnv(env),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = stripAnsi(new TextDecoder().decode(out.stdout));
  return { code: out.code, output: output + new TextDecoder().decode(out.stderr) };
}

Deno.test("cli shell: editing, history, Ctrl-C cancels the line or the statement, Ctrl-D leaves", async () => {
  await using b = await freshBucket("cli-shell");
  const url = `s3://${b.bucket}/c.db`;
  equal((await runCli(["import", CHINOOK_PATH, url])).code, 0);
  const dir = await Deno.makeTempDir();
  const env = { S3VFS_HISTORY: `${dir}/history` };
  try {
    const first = await shell(["--write", url], [
      ["", PROMPT],
      // Editing: "SELECT 'ac' AS w;", cursor back before "c", insert "b".
      [`SELECT 'ac' AS w;${LEFT.repeat(8)}b\r`, PROMPT],
      // A multi-line statement.
      ["SELECT count(*) AS n\r", MORE],
      ["FROM Artist;\r", PROMPT],
      // Ctrl-C on a half-typed line, and inside a multi-line statement.
      ["SELECT 1", ""],
      ["\x03", PROMPT],
      ["SELECT\r", MORE],
      ["\x03", PROMPT],
      // Ctrl-C while a statement runs (it would never end).
      [
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\r",
        "",
      ],
      ["\x03", "statement cancelled"],
      ["", PROMPT],
      ["INSERT INTO Genre (Name) VALUES ('shell');\r", PROMPT],
      ["\x04", ""],
    ], env);
    equal(first.code, 0, first.output);
    match(first.output, /│ abc │/, `the edited line ran: ${first.output}`);
    match(first.output, /│ 275 │/, "the multi-line statement ran");
    equal((first.output.match(/\^C/g) ?? []).length >= 3, true, first.output);
    match(first.output, /\^C \(statement cancelled\)/);
    ok(!/error:/.test(first.output), first.output);

    // The writer lease was given up at Ctrl-D, and the insert is there.
    const lease = await runAsync(
      readLease("c.db", DEFAULT_TIMING),
      new S3LogStore(b.client, b.bucket),
    );
    equal(lease?.record.released, true, "lease released");
    const genre = await runCli([
      "query",
      url,
      "SELECT count(*) FROM Genre WHERE Name = 'shell'",
      "--csv",
    ]);
    match(genre.stdout, /\n1\r?\n?$/);

    // A new session recalls the last line of the previous one.
    const second = await shell([url], [
      ["", PROMPT],
      [UP, "INSERT INTO Genre"],
      ["\x15", ""], // Ctrl-U: clear the recalled line (Ctrl-D on a line deletes, not leaves)
      ["\x04", ""],
    ], env);
    equal(second.code, 0, second.output);
    match(second.output, /s3vfs> INSERT INTO Genre \(Name\) VALUES \('shell'\);/);
    ok((await Deno.readTextFile(`${dir}/history`)).includes("SELECT count(*) AS n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

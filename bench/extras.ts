/**
 * The slow checks that live in the benchmark suite rather than the test run:
 * the 1 GiB lock-byte database (bench/lockbyte.ts) and the peak RSS of a
 * 256 MiB serialize + deserialize (bench/memory_stream.ts). Each runs as a
 * child process; its output is appended to RESULTS.md and a failure fails
 * the bench.
 *
 * @module
 */

const here = (p: string): string => new URL(p, import.meta.url).pathname;

/** One extra check: a script and its arguments. */
interface Extra {
  title: string;
  script: string;
  args: string[];
}

const EXTRAS: Extra[] = [
  {
    title:
      "Memory: 256 MiB deserialize + serialize; peak RSS asserted < 128 MiB for 1 MiB blocks x 2 in flight",
    script: "./memory_stream.ts",
    args: ["--configs=1m:2!,1m:16,64k:64"],
  },
  {
    title: "A database crossing the 1 GiB lock-byte page (64 KiB pages and blocks)",
    script: "./lockbyte.ts",
    args: [],
  },
];

/** Runs every extra check, appends their output to `resultsPath`; returns false if one failed. */
export async function runExtras(resultsPath: string): Promise<boolean> {
  let ok = true;
  let md = "\n## Extra checks (run by `deno task bench` after the workloads)\n";
  for (const extra of EXTRAS) {
    console.log(`\n[bench] ${extra.title}`);
    const started = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", here(extra.script), ...extra.args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    console.log(text);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    md += `\n### ${extra.title}\n\n${out.success ? "Passed" : "**FAILED**"} in ${seconds} s ` +
      `(\`deno run -A bench/${extra.script.slice(2)} ${
        extra.args.join(" ")
      }\`):\n\n\`\`\`\n${text.trim()}\n\`\`\`\n`;
    ok &&= out.success;
  }
  await Deno.writeTextFile(resultsPath, md, { append: true });
  return ok;
}

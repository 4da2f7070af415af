/**
 * The import graph of the package's own modules, for the layering test and
 * the published-files test.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Relative module specifiers a source file imports (static, dynamic, re-exports). */
export function importsOf(code: string): string[] {
  const out: string[] = [];
  code = code.replace(/\/\*[\s\S]*?\*\//g, ""); // examples in JSDoc are not imports
  const re =
    /(?:^|[\s;])(?:import|export)\s[^"'`;]*?from\s*["'](\.{1,2}\/[^"']+)["']|(?:^|[\s;])import\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** Project files (root-relative) reached from `entry` through relative imports. */
export async function reachableFrom(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const code = await Deno.readTextFile(new URL(f, ROOT));
    for (const spec of importsOf(code)) {
      todo.push(new URL(spec, new URL(f, ROOT)).href.slice(ROOT.href.length));
    }
  }
  return seen;
}

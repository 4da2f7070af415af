/**
 * The layering of src/ stays true: imports go one way only (down the table
 * below, or within one folder), and no module imports itself through others.
 *
 * | rank | layer | folder |
 * |---|---|---|
 * | 0 | leaves every layer may use | `src/*.ts` (errors, codes, block layout, header) |
 * | 1 | S3 client | `src/s3/` |
 * | 2 | commit-log protocol (sans-IO, plus its S3 store) | `src/log/` |
 * | 3 | bridge; FFI; streams | `src/bridge/`, `src/ffi/`, `src/streams/` |
 * | 4 | the VFS | `src/vfs/` |
 * | 5 | public API | `mod.ts` |
 * | 6 | the command-line tool (above the public API; nothing below imports it) | `cli.ts`, `src/cli/` |
 */

import { deepEqual, ok } from "node:assert/strict";
import { importsOf } from "./_imports.ts";

const ROOT = new URL("../", import.meta.url);

/** Rank and layer name of a project file (path relative to the root). */
export function layerOf(path: string): { rank: number; layer: string } | undefined {
  if (path === "mod.ts") return { rank: 5, layer: "mod" };
  if (path === "cli.ts") return { rank: 6, layer: "cli" };
  const m = /^src\/(?:([^/]+)\/)?[^/]+\.ts$/.exec(path);
  if (!m) return undefined;
  const folder = m[1];
  if (folder === undefined) return { rank: 0, layer: "leaf" };
  const ranks: Record<string, number> = {
    s3: 1,
    log: 2,
    bridge: 3,
    ffi: 3,
    streams: 3,
    vfs: 4,
    cli: 6,
  };
  return folder in ranks ? { rank: ranks[folder], layer: folder } : { rank: -1, layer: folder };
}

async function sourceFiles(): Promise<string[]> {
  const out: string[] = ["mod.ts", "cli.ts"];
  async function walk(dir: string): Promise<void> {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      const p = `${dir}${e.name}`;
      if (e.isDirectory) await walk(`${p}/`);
      else if (p.endsWith(".ts") && !p.endsWith("_test.ts")) out.push(p);
    }
  }
  await walk("src/");
  return out.sort();
}

async function graph(): Promise<Map<string, string[]>> {
  const g = new Map<string, string[]>();
  for (const f of await sourceFiles()) {
    const code = await Deno.readTextFile(new URL(f, ROOT));
    const deps = importsOf(code).map((spec) =>
      new URL(spec, new URL(f, ROOT)).href.slice(ROOT.href.length)
    );
    g.set(f, [...new Set(deps)]);
  }
  return g;
}

Deno.test("src/ and cli.ts imports go down the layer order only", async () => {
  const bad: string[] = [];
  for (const [from, deps] of await graph()) {
    const a = layerOf(from)!;
    if (a.rank < 0) bad.push(`${from}: src/${a.layer}/ is not a known layer`);
    for (const to of deps) {
      const b = layerOf(to);
      if (!b) {
        bad.push(`${from} imports ${to}, outside src/`);
      } else if (b.rank > a.rank || (b.rank === a.rank && b.layer !== a.layer)) {
        bad.push(`${from} (${a.layer}) imports ${to} (${b.layer})`);
      }
    }
  }
  deepEqual(bad, []);
});

Deno.test("src/ has no import cycle", async () => {
  const g = await graph();
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "visiting") {
      cycles.push([...path.slice(path.indexOf(f)), f].join(" -> "));
      return;
    }
    state.set(f, "visiting");
    for (const d of g.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, "done");
  };
  for (const f of g.keys()) visit(f, []);
  deepEqual(cycles, []);
});

Deno.test("importsOf() finds static, type-only, re-export and dynamic imports", () => {
  deepEqual(
    importsOf(`import { a } from "./a.ts";
import type { B } from "../b.ts";
export { c } from "./c.ts";
export * from "./d.ts";
import "./e.ts";
const f = await import("./f.ts");
import { g } from "npm:g";`),
    ["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts"],
  );
});

Deno.test("layerOf() ranks the folders of src/", () => {
  deepEqual(layerOf("src/errors.ts"), { rank: 0, layer: "leaf" });
  deepEqual(layerOf("src/vfs/store.ts"), { rank: 4, layer: "vfs" });
  deepEqual(layerOf("src/cli/main.ts"), { rank: 6, layer: "cli" });
  deepEqual(layerOf("cli.ts"), { rank: 6, layer: "cli" });
  ok(layerOf("mod.ts")!.rank < layerOf("cli.ts")!.rank, "the CLI sits above the public API");
  ok(layerOf("tests/x.ts") === undefined);
});

/**
 * Serves the package as JSR would: exactly the files `deno publish` uploads
 * (the list comes from `deno publish --dry-run`), over HTTP with a
 * TypeScript content type, with bare specifiers rewritten to what deno.json's
 * import map says (as `deno publish` does). Used to test the package imported
 * from a remote URL, not only from `file://`.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Paths (relative to the project root) that `deno publish` would upload. */
export async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const files = [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map((m) =>
    decodeURIComponent(new URL(m[1]).pathname).slice(decodeURIComponent(ROOT.pathname).length)
  );
  if (files.length === 0) throw new Error(`no files in deno publish --dry-run output:\n${text}`);
  return files;
}

/** A running package server. */
export interface PackageServer {
  /** Base URL; the package's `mod.ts` is at `${url}mod.ts`. */
  url: string;
  /** `host:port`, for `--allow-import`. */
  host: string;
  /** Paths requested so far. */
  requested: string[];
  /** Requested paths that are not in the package (answered 404). */
  missing: string[];
  /** Stops the server. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Rewrites bare specifiers (`from "aws4fetch"`) to the import map's targets. */
export function rewriteBareSpecifiers(code: string, imports: Record<string, string>): string {
  let out = code;
  for (const [bare, target] of Object.entries(imports)) {
    const quoted = bare.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    out = out.replace(
      new RegExp(`((?:from|import)\\s*\\(?\\s*)(["'])${quoted}\\2`, "g"),
      `$1"${target}"`,
    );
  }
  return out;
}

/** Starts a server for `files` on a free loopback port. */
export async function servePackage(files: string[]): Promise<PackageServer> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const imports: Record<string, string> = config.imports ?? {};
  const allowed = new Set(files);
  const requested: string[] = [];
  const missing: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen(): void {} },
    async (req): Promise<Response> => {
      const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\//, "");
      requested.push(path);
      if (!allowed.has(path)) {
        missing.push(path);
        return new Response("not in the package", { status: 404 });
      }
      let body = await Deno.readTextFile(new URL(path, ROOT));
      if (path.endsWith(".ts")) body = rewriteBareSpecifiers(body, imports);
      const type = path.endsWith(".ts") ? "application/typescript; charset=utf-8" : "text/plain";
      return new Response(body, { headers: { "content-type": type } });
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    url: `http://${host}/`,
    host,
    requested,
    missing,
    async [Symbol.asyncDispose](): Promise<void> {
      await server.shutdown();
    },
  };
}

/**
 * A store that ignores conditional writes, for tests of the store check: an
 * HTTP proxy in front of the test MinIO that removes `If-None-Match` and
 * `If-Match` from every request, re-signs it with the test credentials
 * (aws4fetch) and forwards it, so a create-only or conditional PUT becomes a
 * plain overwrite that answers 200, as stores that ignore the headers do.
 * Clients sign for the proxy's address with the same credentials. With
 * `dropMetadata` it also loses user metadata (a store the log cannot use).
 *
 * @example
 * ```ts ignore
 * await using proxy = startUnconditionalProxy({ upstream, accessKeyId, secretAccessKey });
 * // clients use proxy.url as their endpoint
 * ```
 *
 * @module
 */

import { testS3Options } from "./_harness.ts";
import { AwsClient } from "npm:aws4fetch@^1.0.20";

/** Options of {@linkcode startUnconditionalProxy}. */
export interface UnconditionalProxyOptions {
  /** The real endpoint (`http://127.0.0.1:9000`). */
  upstream: string;
  /** Credentials the proxy signs with. */
  accessKeyId: string;
  /** Credentials the proxy signs with. */
  secretAccessKey: string;
  /** Region (default us-east-1). */
  region?: string;
  /** Which headers to drop (default both). */
  drop?: readonly ("if-none-match" | "if-match")[];
  /** Also drop `x-amz-meta-*` from answers (a store that loses user metadata). */
  dropMetadata?: boolean;
}

/** A running proxy; dispose to stop it. */
export interface UnconditionalProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Conditional headers removed so far. */
  readonly dropped: { ifNoneMatch: number; ifMatch: number };
}

const SIGNED = ["authorization", "x-amz-date", "x-amz-content-sha256", "host", "connection"];

/** Starts the proxy on a free loopback port. */
export function startUnconditionalProxy(o: UnconditionalProxyOptions): UnconditionalProxy {
  const drop = new Set(o.drop ?? ["if-none-match", "if-match"]);
  const signer = new AwsClient({
    accessKeyId: o.accessKeyId,
    secretAccessKey: o.secretAccessKey,
    region: o.region ?? "us-east-1",
    service: "s3",
    retries: 0,
  });
  const dropped = { ifNoneMatch: 0, ifMatch: 0 };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const target = new URL(url.pathname + url.search, o.upstream);
      const headers = new Headers();
      for (const [name, value] of req.headers) {
        if (SIGNED.includes(name) || name === "content-length") continue;
        if (drop.has(name as "if-match")) {
          if (name === "if-none-match") dropped.ifNoneMatch++;
          else dropped.ifMatch++;
          continue;
        }
        headers.set(name, value);
      }
      const body = req.method === "GET" || req.method === "HEAD"
        ? undefined
        : new Uint8Array(await req.arrayBuffer());
      const signed = await signer.sign(target.toString(), { method: req.method, headers, body });
      const res = await fetch(signed);
      const out = new Headers(res.headers);
      if (req.method !== "HEAD") out.delete("content-length"); // a HEAD's says the object's size
      if (o.dropMetadata) {
        for (const name of [...out.keys()]) if (name.startsWith("x-amz-meta-")) out.delete(name);
      }
      out.delete("content-encoding");
      const empty = req.method === "HEAD" || res.status === 204 || res.status === 304;
      return new Response(empty ? null : await res.arrayBuffer(), {
        status: res.status,
        headers: out,
      });
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    dropped,
    async [Symbol.asyncDispose](): Promise<void> {
      await server.shutdown();
    },
  };
}

/** The proxy in front of the test store (its endpoint and credentials). */
export function proxyToTestStore(dropMetadata = false): UnconditionalProxy {
  const s3 = testS3Options();
  return startUnconditionalProxy({
    upstream: s3.endpoint,
    accessKeyId: s3.credentials.accessKeyId,
    secretAccessKey: s3.credentials.secretAccessKey,
    region: s3.region,
    dropMetadata,
  });
}

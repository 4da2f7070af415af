/**
 * A fault-injecting HTTP/1.1 proxy for the multi-process tests
 * (tests/mp_faults_test.ts): it listens on a free loopback port in front of
 * the S3 endpoint and, per request, with a seeded PRNG and a configurable
 * rate, injects one of three faults:
 *
 * - `slowDown`: answers 503 SlowDown without forwarding (S3 never saw it);
 * - `reset`: closes the client's connection without forwarding or answering;
 * - `dropped`: forwards the request, lets the endpoint act on it and reads its
 *   whole answer, then closes the client's connection without answering (the
 *   lost response: the request took effect, the client cannot know).
 *
 * Everything else is forwarded byte for byte: the request line, every header
 * (the `Host` header as the client sent it, which is what SigV4 signed; MinIO
 * verifies the signature against the Host it receives, so the client signs
 * for the proxy's address and MinIO accepts it) and the body. Only the
 * `Connection` header is replaced by `Connection: close` both ways (aws4fetch
 * does not sign it), so each connection carries one request and an answer
 * ends at end of stream: no response parsing needed.
 *
 * Point an S3 client or S3VFS at {@linkcode FaultProxy.url} (the `endpoint`
 * option, or `AWS_ENDPOINT_URL_S3` in a child's environment).
 *
 * @example
 * ```ts ignore
 * await using proxy = startFaultProxy({ upstream: "http://127.0.0.1:9000", rate: 0.1, seed: 7 });
 * // ... clients use proxy.url ...
 * console.log(proxy.counts); // { requests, forwarded, slowDown, reset, dropped }
 * ```
 *
 * @module
 */

/** What the proxy counted so far. */
export interface FaultCounts {
  /** Requests received (complete request heads). */
  requests: number;
  /** Requests forwarded and answered normally. */
  forwarded: number;
  /** 503 SlowDown answered without forwarding. */
  slowDown: number;
  /** Connections closed without forwarding. */
  reset: number;
  /** Requests forwarded, acted on by the endpoint, and then left unanswered. */
  dropped: number;
  /** Requests forwarded whose endpoint connection failed (answered 502). */
  upstreamErrors: number;
  /** Requests answered 403 by `deny`. */
  denied: number;
}

/** Options of {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** The endpoint to forward to, e.g. `http://127.0.0.1:9000` (http only). */
  upstream: string;
  /** Probability that a request gets a fault (0..1), split evenly among the kinds. */
  rate: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Fault kinds to inject (default all three). */
  kinds?: readonly FaultKind[];
  /** Give up on a connection after this many ms (default 60,000). */
  connectionTimeoutMs?: number;
  /**
   * Requests to answer 403 AccessDenied without forwarding (read-only
   * credentials, say: `(method) => method !== "GET" && method !== "HEAD"`).
   */
  deny?: (method: string, target: string) => boolean;
}

/** A fault the proxy injects. */
export type FaultKind = "slowDown" | "reset" | "dropped";

/** A running proxy; dispose (or `close()`) to stop it. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Live counters. */
  readonly counts: FaultCounts;
  /** Changes the fault rate (e.g. 0 to let a final check through untouched). */
  setRate(rate: number): void;
  /** Stops listening, closes open connections and waits for their handlers. */
  close(): Promise<void>;
  /** Same as close(). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const enc = new TextEncoder();
const dec = new TextDecoder();

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads from `conn` into a growing buffer; `null` at end of stream. */
class Reader {
  buf: Uint8Array = new Uint8Array(0);
  #chunk = new Uint8Array(64 * 1024);
  constructor(private conn: Deno.Conn) {}
  async more(): Promise<boolean> {
    const n = await this.conn.read(this.#chunk);
    if (n === null) return false;
    this.buf = concat(this.buf, this.#chunk.subarray(0, n));
    return true;
  }
  take(n: number): Uint8Array {
    const out = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return out;
  }
}

/** Reads one request: head (with `Connection: close`) and raw body bytes; null if the client left. */
async function readRequest(
  r: Reader,
): Promise<{ head: string; body: Uint8Array; method: string; target: string } | null> {
  let end: number;
  while ((end = indexOf(r.buf, CRLFCRLF)) < 0) {
    if (!(await r.more())) return null;
  }
  const headText = dec.decode(r.take(end + 4));
  const lines = headText.slice(0, -4).split("\r\n");
  const [method, target] = lines[0].split(" ");
  const kept: string[] = [lines[0]];
  let contentLength = 0;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "connection" || name === "keep-alive") continue;
    if (name === "content-length") contentLength = Number(value);
    if (name === "transfer-encoding" && /chunked/i.test(value)) chunked = true;
    kept.push(line);
  }
  kept.push("Connection: close");
  let body: Uint8Array;
  if (chunked) {
    // Keep the chunked encoding as sent; find where it ends (the 0-size chunk and trailers).
    let pos = 0;
    while (true) {
      let lineEnd: number;
      while ((lineEnd = indexOf(r.buf, new Uint8Array([13, 10]), pos)) < 0) {
        if (!(await r.more())) return null;
      }
      const size = parseInt(dec.decode(r.buf.subarray(pos, lineEnd)).split(";")[0], 16);
      if (size === 0) {
        // Trailers end with an empty line.
        let trailerEnd: number;
        while ((trailerEnd = indexOf(r.buf, CRLFCRLF, lineEnd)) < 0) {
          if (!(await r.more())) return null;
        }
        body = r.take(trailerEnd + 4);
        break;
      }
      const next = lineEnd + 2 + size + 2;
      while (r.buf.length < next) if (!(await r.more())) return null;
      pos = next;
    }
  } else {
    while (r.buf.length < contentLength) if (!(await r.more())) return null;
    body = r.take(contentLength);
  }
  return { head: kept.join("\r\n") + "\r\n\r\n", body, method, target };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Sends the request upstream and returns its whole answer (read to end of stream). */
async function forward(
  upstream: URL,
  head: string,
  body: Uint8Array,
): Promise<Uint8Array> {
  const conn = await Deno.connect({
    hostname: upstream.hostname,
    port: Number(upstream.port || 80),
  });
  try {
    await writeAll(conn, concat(enc.encode(head), body));
    const r = new Reader(conn);
    while (await r.more()) { /* until the endpoint closes (Connection: close) */ }
    return r.buf;
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/** Replaces or adds `Connection: close` in a raw answer's head. */
function closeAfter(answer: Uint8Array): Uint8Array {
  const end = indexOf(answer, CRLFCRLF);
  if (end < 0) return answer;
  const lines = dec.decode(answer.subarray(0, end)).split("\r\n")
    .filter((l) => !/^(connection|keep-alive)\s*:/i.test(l));
  lines.push("Connection: close");
  return concat(enc.encode(lines.join("\r\n") + "\r\n\r\n"), answer.subarray(end + 4));
}

function deniedAnswer(target: string): Uint8Array {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>` +
    `<Message>Access Denied. (injected by the test proxy)</Message><Resource>${
      target.replace(/[<&>]/g, "")
    }</Resource><RequestId>fault-proxy</RequestId></Error>`;
  const body = enc.encode(xml);
  return enc.encode(
    `HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n` +
      `Content-Length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Connection: close\r\n\r\n${xml}`,
  );
}

function slowDownAnswer(target: string): Uint8Array {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>` +
    `<Message>Please reduce your request rate (injected by the test proxy).</Message>` +
    `<Resource>${
      target.replace(/[<&>]/g, "")
    }</Resource><RequestId>fault-proxy</RequestId></Error>`;
  const body = enc.encode(xml);
  return enc.encode(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n` +
      `Content-Length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Connection: close\r\n\r\n${xml}`,
  );
}

/** Starts the proxy on 127.0.0.1 and a free port. */
export function startFaultProxy(options: FaultProxyOptions): FaultProxy {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== "http:") throw new TypeError("fault proxy: upstream must be http");
  const random = seededRandom(options.seed ?? 1);
  const kinds: readonly FaultKind[] = options.kinds ?? ["slowDown", "reset", "dropped"];
  const timeoutMs = options.connectionTimeoutMs ?? 60_000;
  let rate = options.rate;
  const counts: FaultCounts = {
    requests: 0,
    forwarded: 0,
    slowDown: 0,
    reset: 0,
    dropped: 0,
    upstreamErrors: 0,
    denied: 0,
  };
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  let closed = false;

  const closeConn = (conn: Deno.Conn): void => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };

  const handle = async (conn: Deno.Conn): Promise<void> => {
    const timer = setTimeout(() => closeConn(conn), timeoutMs);
    try {
      const req = await readRequest(new Reader(conn));
      if (!req) return;
      counts.requests++;
      if (options.deny?.(req.method, req.target)) {
        counts.denied++;
        await writeAll(conn, deniedAnswer(req.target));
        return;
      }
      // Decide the fault once per request, in arrival order (seeded).
      const roll = random();
      const kind = roll < rate ? kinds[Math.floor(random() * kinds.length)] : undefined;
      if (kind === "slowDown") {
        counts.slowDown++;
        await writeAll(conn, slowDownAnswer(req.target));
        return;
      }
      if (kind === "reset") {
        counts.reset++;
        return; // closed below without an answer
      }
      let answer: Uint8Array;
      try {
        answer = await forward(upstream, req.head, req.body);
      } catch {
        counts.upstreamErrors++;
        await writeAll(
          conn,
          enc.encode("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        );
        return;
      }
      if (kind === "dropped") {
        counts.dropped++;
        return; // the endpoint acted; the client never hears of it
      }
      counts.forwarded++;
      await writeAll(conn, closeAfter(answer));
    } catch {
      // the client went away, or the connection was closed on shutdown
    } finally {
      clearTimeout(timer);
      closeConn(conn);
    }
  };

  const accepting = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      open.add(conn);
      const p = handle(conn);
      handlers.add(p);
      p.finally(() => handlers.delete(p));
    }
  })();

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    try {
      listener.close();
    } catch {
      // already closed
    }
    await accepting;
    for (const c of [...open]) closeConn(c);
    await Promise.allSettled([...handlers]);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setRate(r: number): void {
      rate = r;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

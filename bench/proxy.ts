/**
 * A TCP-level delaying proxy for the benchmarks: listens on loopback and
 * forwards every connection to `target`, holding each client->server chunk
 * for `delayMs` before passing it on (order preserved per connection, chunks
 * pipelined: a chunk that arrives at t leaves at t + delayMs whatever is
 * queued before it). Server->client bytes pass straight through. Each HTTP
 * request thus costs one extra `delayMs`, like a round trip to a far region.
 *
 * Nothing above TCP is touched, so SigV4 keeps working: clients connect to
 * the proxy's address and sign that Host header, which MinIO verifies as sent.
 *
 * Run as a program (the benchmark does, in a child process, because an S3VFS
 * blocks the main thread of its own process in Atomics.wait):
 *   deno run --allow-net bench/proxy.ts --target 127.0.0.1:9000 --delay 20
 * It prints `{"port":N}` on stdout once listening and runs until stdin closes
 * or it gets SIGTERM/SIGINT.
 *
 * @module
 */

/** A running proxy. */
export interface DelayProxy {
  /** Port the proxy listens on (127.0.0.1). */
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Stops listening and closes every connection. */
  close(): void;
}

const DEBUG = Deno.env.get("PROXY_DEBUG") === "1";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Client -> server: read chunks as they come, write each `delayMs` after its arrival, in order. */
async function pumpDelayed(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  const queue: { at: number; data: Uint8Array }[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const reader = (async () => {
    try {
      while (true) {
        const buf = new Uint8Array(64 * 1024);
        const n = await from.read(buf);
        if (n === null) break;
        queue.push({ at: performance.now() + delayMs, data: buf.subarray(0, n) });
        if (DEBUG) console.error(`c->s ${n} bytes at ${performance.now().toFixed(1)}`);
        wake?.();
      }
    } catch {
      // connection reset: stop
    } finally {
      ended = true;
      wake?.();
    }
  })();
  try {
    while (true) {
      if (!queue.length) {
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const { at, data } = queue.shift()!;
      const wait = at - performance.now();
      // setTimeout fires 1-2 ms late: aim 1 ms early so the added delay averages ~delayMs.
      if (wait > 1.5) await sleep(wait - 1);
      await writeAll(to, data);
      if (DEBUG) console.error(`   fwd ${data.length} at ${performance.now().toFixed(1)}`);
    }
    await to.closeWrite().catch(() => {});
  } catch {
    // peer gone
  } finally {
    await reader;
  }
}

/** Server -> client: straight through. */
async function pumpDirect(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  try {
    const buf = new Uint8Array(256 * 1024);
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      await writeAll(to, buf.subarray(0, n));
      if (DEBUG) console.error(`s->c ${n} bytes at ${performance.now().toFixed(1)}`);
    }
    await to.closeWrite().catch(() => {});
  } catch {
    // peer gone
  }
}

/** Starts a delaying proxy to `target` (`host:port`). */
export function startDelayProxy(target: string, delayMs: number, port = 0): DelayProxy {
  const [host, p] = target.split(":");
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const open = new Set<Deno.Conn>();
  let count = 0;
  let closed = false;
  const close = (c: Deno.Conn): void => {
    open.delete(c);
    try {
      c.close();
    } catch {
      // already closed
    }
  };
  (async () => {
    for await (const client of listener) {
      count++;
      open.add(client);
      (async () => {
        let server: Deno.Conn | undefined;
        try {
          server = await Deno.connect({ hostname: host, port: Number(p) });
          open.add(server);
          (client as Deno.TcpConn).setNoDelay(true);
          (server as Deno.TcpConn).setNoDelay(true);
          await Promise.all([pumpDelayed(client, server, delayMs), pumpDirect(server, client)]);
        } catch {
          // connect failed or reset
        } finally {
          close(client);
          if (server) close(server);
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connections: () => count,
    close(): void {
      if (closed) return;
      closed = true;
      listener.close();
      for (const c of [...open]) close(c);
    },
  };
}

/** A proxy in a child process (so a blocked main thread cannot stall it); kill() stops it. */
export async function spawnDelayProxy(
  target: string,
  delayMs: number,
): Promise<{ port: number; endpoint: string; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env=PROXY_DEBUG",
      new URL(import.meta.url).pathname,
      "--target",
      target,
      "--delay",
      String(delayMs),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!text.includes("\n")) {
    const r = await Promise.race([
      reader.read(),
      sleep(Math.max(0, deadline - Date.now())).then(() => null),
    ]);
    if (!r || r.done) {
      child.kill("SIGKILL");
      throw new Error(`delay proxy did not start (got ${JSON.stringify(text)})`);
    }
    text += r.value;
  }
  const { port } = JSON.parse(text.split("\n")[0]);
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* ignore */ }
    } catch { /* closed */ }
  })();
  let stopped: Promise<void> | undefined;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      stopped ??= (async () => {
        try {
          await child.stdin.close();
        } catch { /* gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 3000);
        await child.status;
        clearTimeout(timer);
        await drain;
      })(),
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const get = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const target = get("--target");
  if (!target) {
    console.error(
      "usage: deno run --allow-net bench/proxy.ts --target host:port [--delay ms] [--port n]",
    );
    Deno.exit(2);
  }
  const proxy = startDelayProxy(target, Number(get("--delay") ?? 20), Number(get("--port") ?? 0));
  console.log(JSON.stringify({ port: proxy.port }));
  const done = Promise.withResolvers<void>();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => done.resolve());
  }
  // stdin closing (the parent stopped us or died) ends the proxy too.
  (async () => {
    const buf = new Uint8Array(64);
    try {
      while ((await Deno.stdin.read(buf)) !== null) { /* ignore */ }
    } catch { /* closed */ }
    done.resolve();
  })();
  await done.promise;
  proxy.close();
  Deno.exit(0);
}

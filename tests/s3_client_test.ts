/**
 * Tests of the S3 client (src/s3/client.ts).
 *
 * - "unit:" tests stub `fetch` (signing, retries, timeouts, error hygiene, URLs).
 * - "minio:" tests talk to the MinIO started by `deno task test`, one fresh
 *   bucket per test, and cover every operation the VFS relies on.
 */

import assert from "node:assert/strict";
import { S3Error } from "../src/errors.ts";
import { encodeKey, type RequestEvent, S3Client, type S3ClientOptions } from "../src/s3/client.ts";
import { mapLimit } from "../src/s3/retry.ts";
import { closedPort, freshBucket, patternBytes, testClient, testS3Options } from "./_harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------
// Unit tests with a stubbed fetch
// ---------------------------------------------------------------------------

const STUB_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const STUB_KEY_ID = "AKIDEXAMPLE";

interface Stub {
  fetch: typeof fetch;
  /** Every request the client sent, in order. */
  calls: Request[];
}

/** A fetch that records requests and answers with `handler(request, callNumber)`. */
function stubFetch(
  handler: (req: Request, n: number, init?: RequestInit) => Response | Promise<Response>,
): Stub {
  const calls: Request[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(input, init);
    calls.push(req);
    return await handler(req, calls.length, init);
  };
  return { fetch: f as typeof fetch, calls };
}

function stubClient(stub: Stub, extra: S3ClientOptions = {}): S3Client {
  return new S3Client({
    endpoint: "http://s3.test:9000",
    region: "us-east-1",
    credentials: { accessKeyId: STUB_KEY_ID, secretAccessKey: STUB_SECRET },
    retryDelayMs: { base: 1, max: 2 },
    maxAttempts: 4,
    fetch: stub.fetch,
    ...extra,
  });
}

function xmlError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
      `<RequestId>REQ123</RequestId></Error>`,
    { status, headers: { "content-type": "application/xml", ...headers } },
  );
}

const ok = (body = "", headers: Record<string, string> = {}): Response =>
  new Response(body, { status: 200, headers: { etag: '"e1"', ...headers } });

/** Asserts that no rendering of `err` contains `secret`. */
function assertNoSecret(err: unknown, secret: string): void {
  const renderings = [
    String(err),
    err instanceof Error ? err.message : "",
    err instanceof Error ? err.stack ?? "" : "",
    JSON.stringify(err),
    Deno.inspect(err, { depth: 10 }),
  ];
  for (const r of renderings) assert.ok(!r.includes(secret), `secret leaked into: ${r}`);
}

async function rejectsS3(p: Promise<unknown>): Promise<S3Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${err}`);
    return err;
  }
  assert.fail("expected the call to reject");
}

Deno.test("unit: requests are SigV4-signed for s3/us-east-1 with x-amz-date", async () => {
  const stub = stubFetch(() => ok("hello"));
  const client = stubClient(stub);
  const got = await client.get("bkt", "dir/key 1.txt", {
    range: { offset: 2, length: 3 },
    ifNoneMatch: '"x"',
  });
  assert.equal(got.status, "ok");
  assert.equal(stub.calls.length, 1);
  const req = stub.calls[0];
  assert.equal(req.method, "GET");
  assert.equal(req.url, "http://s3.test:9000/bkt/dir/key%201.txt");
  const auth = req.headers.get("authorization") ?? "";
  assert.match(
    auth,
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
  );
  const signed = /SignedHeaders=([^,]+)/.exec(auth)![1].split(";");
  for (const h of ["host", "x-amz-date", "x-amz-content-sha256", "if-none-match"]) {
    assert.ok(signed.includes(h), `${h} is signed (${signed})`);
  }
  const date = req.headers.get("x-amz-date") ?? "";
  assert.match(date, /^\d{8}T\d{6}Z$/);
  assert.equal(
    auth.slice(auth.indexOf("/") + 1, auth.indexOf("/") + 9),
    date.slice(0, 8),
    "scope date = x-amz-date",
  );
  assert.equal(req.headers.get("range"), "bytes=2-4");
  assert.equal(req.headers.get("if-none-match"), '"x"');
  assert.ok(!auth.includes(STUB_SECRET));
});

Deno.test("unit: session token is sent as x-amz-security-token", async () => {
  const stub = stubFetch(() => ok());
  const client = stubClient(stub, {
    credentials: {
      accessKeyId: STUB_KEY_ID,
      secretAccessKey: STUB_SECRET,
      sessionToken: "TOKEN123",
    },
  });
  await client.head("bkt", "k");
  assert.equal(stub.calls[0].method, "HEAD");
  assert.equal(stub.calls[0].headers.get("x-amz-security-token"), "TOKEN123");
});

Deno.test("unit: 503 SlowDown is retried until success; attempts are counted", async () => {
  const events: RequestEvent[] = [];
  const stub = stubFetch((_req, n) =>
    n <= 2 ? xmlError(503, "SlowDown", "Please reduce your request rate.") : ok("x")
  );
  const client = stubClient(stub, { onRequest: (e) => events.push(e) });
  const got = await client.get("bkt", "k");
  assert.equal(got.status, "ok");
  assert.equal(stub.calls.length, 3);
  assert.equal(events.length, 1, "one event per request, not per attempt");
  assert.equal(events[0].attempts, 3);
  assert.equal(events[0].status, 200);
  assert.equal(events[0].kind, "GET");
});

Deno.test("unit: 503 is retried even for a conditional PUT (server did not process it)", async () => {
  const stub = stubFetch((_req, n) =>
    n === 1 ? xmlError(503, "SlowDown", "slow down") : ok("", { etag: '"new"' })
  );
  const client = stubClient(stub);
  const r = await client.put("bkt", "k", enc.encode("v"), { ifNoneMatch: "*" });
  assert.equal(r.etag, '"new"');
  assert.equal(stub.calls.length, 2);
  assert.equal(stub.calls[1].headers.get("if-none-match"), "*");
});

Deno.test("unit: 500 is retried for GET", async () => {
  const stub = stubFetch((_req, n) =>
    n === 1 ? xmlError(500, "InternalError", "We encountered an internal error.") : ok("v")
  );
  const got = await stubClient(stub).get("bkt", "k");
  assert.equal(got.status, "ok");
  assert.equal(got.status === "ok" && dec.decode(got.body), "v");
  assert.equal(stub.calls.length, 2);
});

Deno.test("unit: 500 is NOT retried for a conditional PUT", async () => {
  const stub = stubFetch(() => xmlError(500, "InternalError", "We encountered an internal error."));
  const err = await rejectsS3(
    stubClient(stub).put("bkt", "k", enc.encode("v"), { ifMatch: '"e1"' }),
  );
  assert.equal(stub.calls.length, 1);
  assert.equal(err.status, 500);
  assert.equal(err.code, "InternalError");
});

Deno.test("unit: a network error is NOT retried for a conditional PUT", async () => {
  for (const options of [{ ifNoneMatch: "*" }, { ifMatch: '"e1"' }]) {
    const stub = stubFetch(() => {
      throw new TypeError("error sending request: connection reset");
    });
    const err = await rejectsS3(stubClient(stub).put("bkt", "k", enc.encode("v"), options));
    assert.equal(stub.calls.length, 1, JSON.stringify(options));
    assert.equal(err.code, "NetworkError");
    assert.equal(err.status, 0);
  }
});

Deno.test("unit: a network error IS retried for idempotent requests, up to maxAttempts", async () => {
  const stub = stubFetch(() => {
    throw new TypeError("connection refused");
  });
  const client = stubClient(stub, { maxAttempts: 3 });
  const err = await rejectsS3(client.put("bkt", "k", enc.encode("v")));
  assert.equal(err.code, "NetworkError");
  assert.equal(stub.calls.length, 3);
  const stub2 = stubFetch((_req, n) => {
    if (n === 1) throw new TypeError("connection reset");
    return ok("v");
  });
  assert.equal((await stubClient(stub2).get("bkt", "k")).status, "ok");
  assert.equal(stub2.calls.length, 2);
});

Deno.test("unit: persistent 503 gives up after maxAttempts with the S3 error", async () => {
  const stub = stubFetch(() => xmlError(503, "SlowDown", "Please reduce your request rate."));
  const err = await rejectsS3(stubClient(stub, { maxAttempts: 3 }).get("bkt", "a/b"));
  assert.equal(stub.calls.length, 3);
  assert.equal(err.status, 503);
  assert.equal(err.code, "SlowDown");
  assert.equal(err.bucket, "bkt");
  assert.equal(err.key, "a/b");
  assert.equal(err.requestId, "REQ123");
  assert.match(err.message, /^S3 503 SlowDown on GET bkt\/a\/b: Please reduce your request rate\./);
});

Deno.test("unit: 4xx errors are not retried", async () => {
  const stub = stubFetch(() => xmlError(403, "AccessDenied", "Access Denied."));
  const err = await rejectsS3(stubClient(stub).get("bkt", "k"));
  assert.equal(stub.calls.length, 1);
  assert.equal(err.code, "AccessDenied");
});

Deno.test("unit: per-attempt timeout gives S3Error Timeout after the attempts", async () => {
  const stub = stubFetch((_req, _n, init) =>
    new Promise<Response>((_resolve, reject) => {
      const signal = init?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    })
  );
  const started = performance.now();
  const err = await rejectsS3(stubClient(stub, { timeoutMs: 30, maxAttempts: 2 }).get("bkt", "k"));
  assert.equal(err.code, "Timeout");
  assert.equal(err.status, 0);
  assert.equal(stub.calls.length, 2);
  assert.ok(performance.now() - started < 2000);
});

Deno.test("unit: a caller's abort rejects with its reason and is not retried", async () => {
  const stub = stubFetch((_req, _n, init) =>
    new Promise<Response>((_resolve, reject) => {
      const signal = init?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    })
  );
  const ac = new AbortController();
  const reason = new Error("caller gave up");
  setTimeout(() => ac.abort(reason), 10);
  await assert.rejects(
    stubClient(stub).get("bkt", "k", { signal: ac.signal }),
    (e) => e === reason,
  );
  assert.equal(stub.calls.length, 1);
});

Deno.test("unit: error messages never contain the secret key", async () => {
  const handlers: ((req: Request) => Response)[] = [
    () =>
      xmlError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      ),
    () => new Response(null, { status: 403 }),
    () => {
      throw new TypeError("error sending request for url (http://s3.test:9000/bkt/k)");
    },
  ];
  for (const h of handlers) {
    const stub = stubFetch(h);
    const client = stubClient(stub, { maxAttempts: 1 });
    for (
      const op of [() => client.get("bkt", "k"), () => client.put("bkt", "k", enc.encode("x"))]
    ) {
      const err = await rejectsS3(op());
      assertNoSecret(err, STUB_SECRET);
      assertNoSecret(err, STUB_SECRET.slice(0, 12));
    }
  }
});

Deno.test("unit: a 416 without Content-Range (MinIO) reports the size from ActualObjectSize", async () => {
  const stub = stubFetch(() =>
    new Response(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRange</Code><Message>The requested range ` +
        `&#39;bytes=5-10&#39; is not satisfiable</Message><ActualObjectSize>5</ActualObjectSize></Error>`,
      { status: 416 },
    )
  );
  const got = await stubClient(stub).get("bkt", "k", { range: { offset: 5, length: 6 } });
  assert.deepEqual(got, { status: "ok", body: new Uint8Array(0), etag: "", size: 5 });
  const stub2 = stubFetch(() =>
    new Response("", { status: 416, headers: { "content-range": "bytes */7" } })
  );
  const got2 = await stubClient(stub2).get("bkt", "k", { range: { offset: 9, length: 1 } });
  assert.equal(got2.status === "ok" && got2.size, 7);
});

Deno.test("unit: deleteMany sends batches of <= 1,000 keys with Content-MD5 and escaped keys", async () => {
  const bodies: string[] = [];
  const seen: { md5: string | null; url: string; size: number }[] = [];
  const stub = stubFetch(async (req) => {
    const text = await req.text();
    bodies.push(text);
    seen.push({
      md5: req.headers.get("content-md5"),
      url: req.url,
      size: (text.match(/<Object>/g) ?? []).length,
    });
    return ok(`<DeleteResult></DeleteResult>`);
  });
  const client = stubClient(stub);
  const keys = Array.from({ length: 2500 }, (_, i) => `p/${i}&<x>`);
  assert.equal(await client.deleteMany("bkt", keys, 2), 2500);
  assert.deepEqual(seen.map((s) => s.size).sort((a, b) => a - b), [500, 1000, 1000]);
  for (const s of seen) {
    assert.equal(s.url, "http://s3.test:9000/bkt?delete=");
    assert.match(s.md5 ?? "", /^[A-Za-z0-9+/]{22}==$/);
  }
  assert.ok(bodies.some((b) => b.includes("<Key>p/0&amp;&lt;x&gt;</Key>")));
  assert.equal(await client.deleteMany("bkt", []), 0);
});

Deno.test("unit: url() builds path-style and virtual-hosted URLs and encodes keys", () => {
  const creds = { accessKeyId: "a", secretAccessKey: "b" };
  const path = new S3Client({
    endpoint: "http://127.0.0.1:9000/",
    region: "us-east-1",
    credentials: creds,
  });
  assert.equal(path.url("bkt"), "http://127.0.0.1:9000/bkt");
  assert.equal(path.url("bkt", "a/b c+d"), "http://127.0.0.1:9000/bkt/a/b%20c%2Bd");
  assert.equal(
    path.url("bkt", "x", { "list-type": "2", prefix: "a b&c" }),
    "http://127.0.0.1:9000/bkt/x?list-type=2&prefix=a%20b%26c",
  );
  assert.equal(path.url("bkt", undefined, { delete: "" }), "http://127.0.0.1:9000/bkt?delete=");

  const vhost = new S3Client({
    endpoint: "https://s3.eu-west-1.amazonaws.com",
    region: "eu-west-1",
    credentials: creds,
    forcePathStyle: false,
  });
  assert.equal(
    vhost.url("my-bucket", "db/0000000001"),
    "https://my-bucket.s3.eu-west-1.amazonaws.com/db/0000000001",
  );
  assert.equal(vhost.url("my-bucket"), "https://my-bucket.s3.eu-west-1.amazonaws.com/");
  assert.equal(
    vhost.url("my-bucket", undefined, { "list-type": "2" }),
    "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2",
  );
  const vhostPort = new S3Client({
    endpoint: "http://localhost:9000",
    region: "us-east-1",
    credentials: creds,
    forcePathStyle: false,
  });
  assert.equal(vhostPort.url("b1", "k"), "http://b1.localhost:9000/k");

  const prefixed = new S3Client({
    endpoint: "https://gw.example.com/s3/",
    region: "us-east-1",
    credentials: creds,
  });
  assert.equal(prefixed.url("bkt", "k"), "https://gw.example.com/s3/bkt/k");
});

Deno.test("unit: encodeKey keeps '/' and percent-encodes RFC 3986 reserved characters", () => {
  assert.equal(encodeKey("a/b/c"), "a/b/c");
  assert.equal(encodeKey("sp é+€"), "sp%20%C3%A9%2B%E2%82%AC");
  assert.equal(encodeKey("!'()*~-_.x"), "%21%27%28%29%2A~-_.x");
  assert.equal(encodeKey("a&b<c>?#%"), "a%26b%3Cc%3E%3F%23%25");
});

// ---------------------------------------------------------------------------
// Integration tests against MinIO
// ---------------------------------------------------------------------------

const CONCURRENCY = 32;

Deno.test("minio: get of an absent key is {status: 'absent'}; head is null", async () => {
  await using b = await freshBucket("absent");
  assert.deepEqual(await b.client.get(b.bucket, "nope"), { status: "absent" });
  assert.deepEqual(await b.client.get(b.bucket, "nope", { range: { offset: 0, length: 10 } }), {
    status: "absent",
  });
  assert.deepEqual(await b.client.get(b.bucket, "nope", { ifNoneMatch: '"abc"' }), {
    status: "absent",
  });
  assert.equal(await b.client.head(b.bucket, "nope"), null);
});

Deno.test("minio: put then get returns the bytes, size and the same etag", async () => {
  await using b = await freshBucket("putget");
  const data = patternBytes(10_000, 7);
  const { etag } = await b.client.put(b.bucket, "db/0000000000", data);
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const got = await b.client.get(b.bucket, "db/0000000000");
  assert.equal(got.status, "ok");
  if (got.status !== "ok") return;
  assert.deepEqual(got.body, data);
  assert.equal(got.size, 10_000);
  assert.equal(got.etag, etag);
  // Overwrite with an empty object.
  await b.client.put(b.bucket, "db/0000000000", new Uint8Array(0));
  const empty = await b.client.get(b.bucket, "db/0000000000");
  assert.equal(empty.status === "ok" && empty.body.length, 0);
  assert.equal(empty.status === "ok" && empty.size, 0);
});

Deno.test("minio: keys with spaces, unicode and reserved characters round-trip", async () => {
  await using b = await freshBucket("keys");
  const keys = ["dir/a b+c&d<e>'\"é€😀!()*.txt", "x/=;,:@$", "percent%25/y", "tilde~/-_."];
  for (const [i, key] of keys.entries()) {
    await b.client.put(b.bucket, key, enc.encode(`v${i}`));
    const got = await b.client.get(b.bucket, key);
    assert.equal(got.status === "ok" && dec.decode(got.body), `v${i}`, key);
    assert.ok(await b.client.head(b.bucket, key), key);
  }
  const listed: string[] = [];
  for await (const e of b.client.list(b.bucket)) listed.push(e.key);
  assert.deepEqual(listed, [...keys].sort());
  for (const key of keys) await b.client.delete(b.bucket, key);
  for (const key of keys) assert.deepEqual(await b.client.get(b.bucket, key), { status: "absent" });
});

Deno.test("minio: byte ranges, incl. past the end and starting at/after the end", async () => {
  await using b = await freshBucket("range");
  const data = patternBytes(1000, 3);
  await b.client.put(b.bucket, "obj", data);
  const mid = await b.client.get(b.bucket, "obj", { range: { offset: 100, length: 50 } });
  assert.equal(mid.status, "ok");
  if (mid.status !== "ok") return;
  assert.deepEqual(mid.body, data.slice(100, 150));
  assert.equal(mid.size, 1000, "size is the whole object's, from Content-Range");

  const tail = await b.client.get(b.bucket, "obj", { range: { offset: 900, length: 500 } });
  assert.equal(tail.status === "ok" && tail.body.length, 100);
  assert.deepEqual(tail.status === "ok" && tail.body, data.slice(900));
  assert.equal(tail.status === "ok" && tail.size, 1000);

  for (const offset of [1000, 5000]) {
    const past = await b.client.get(b.bucket, "obj", { range: { offset, length: 10 } });
    assert.equal(past.status, "ok");
    assert.equal(past.status === "ok" && past.body.length, 0, `offset ${offset}`);
    assert.equal(past.status === "ok" && past.size, 1000, `offset ${offset}`);
  }
  await assert.rejects(
    b.client.get(b.bucket, "obj", { range: { offset: -1, length: 1 } }),
    RangeError,
  );
  await assert.rejects(
    b.client.get(b.bucket, "obj", { range: { offset: 0, length: 0 } }),
    RangeError,
  );
});

Deno.test("minio: conditional GET answers not-modified while the etag holds, 200 after a change", async () => {
  await using b = await freshBucket("condget");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const { etag } = await client.put(b.bucket, "k", enc.encode("one"));
  assert.deepEqual(await client.get(b.bucket, "k", { ifNoneMatch: etag }), {
    status: "not-modified",
    etag,
  });
  assert.equal(events.at(-1)?.kind, "GET_COND");
  assert.equal(events.at(-1)?.status, 304);
  const { etag: etag2 } = await client.put(b.bucket, "k", enc.encode("two!"));
  assert.notEqual(etag2, etag);
  const got = await client.get(b.bucket, "k", { ifNoneMatch: etag });
  assert.equal(got.status, "ok");
  assert.equal(got.status === "ok" && dec.decode(got.body), "two!");
  assert.equal(got.status === "ok" && got.etag, etag2);
});

Deno.test("minio: head gives etag, size and last-modified", async () => {
  await using b = await freshBucket("head");
  const before = Date.now();
  const { etag } = await b.client.put(b.bucket, "k", patternBytes(1234));
  const h = await b.client.head(b.bucket, "k");
  assert.ok(h);
  assert.equal(h.etag, etag);
  assert.equal(h.size, 1234);
  assert.ok(h.lastModified instanceof Date);
  assert.ok(Math.abs(h.lastModified.getTime() - before) < 60_000);
});

Deno.test("minio: PUT If-None-Match:* creates when absent, 412 when the key exists", async () => {
  await using b = await freshBucket("ifnonematch");
  const { etag } = await b.client.put(b.bucket, "lock", enc.encode("first"), { ifNoneMatch: "*" });
  assert.match(etag, /^".+"$/);
  const err = await rejectsS3(
    b.client.put(b.bucket, "lock", enc.encode("second"), { ifNoneMatch: "*" }),
  );
  assert.ok(err.isPreconditionFailed);
  assert.equal(err.status, 412);
  assert.equal(err.code, "PreconditionFailed");
  assert.equal(err.key, "lock");
  const got = await b.client.get(b.bucket, "lock");
  assert.equal(
    got.status === "ok" && dec.decode(got.body),
    "first",
    "the losing write changed nothing",
  );
});

Deno.test("minio: PUT If-Match: 412 with a wrong etag, succeeds with the current one", async () => {
  await using b = await freshBucket("ifmatch");
  const { etag } = await b.client.put(b.bucket, "manifest", enc.encode("v1"));
  const err = await rejectsS3(
    b.client.put(b.bucket, "manifest", enc.encode("v2"), {
      ifMatch: '"00000000000000000000000000000000"',
    }),
  );
  assert.ok(err.isPreconditionFailed);
  assert.equal(err.status, 412);
  const { etag: etag2 } = await b.client.put(b.bucket, "manifest", enc.encode("v2"), {
    ifMatch: etag,
  });
  assert.notEqual(etag2, etag);
  const got = await b.client.get(b.bucket, "manifest");
  assert.equal(got.status === "ok" && dec.decode(got.body), "v2");
  // The old etag is stale now.
  const stale = await rejectsS3(
    b.client.put(b.bucket, "manifest", enc.encode("v3"), { ifMatch: etag }),
  );
  assert.ok(stale.isPreconditionFailed);
});

Deno.test("minio: DELETE removes the object; deleting an absent key is fine", async () => {
  await using b = await freshBucket("delete");
  await b.client.put(b.bucket, "k", enc.encode("x"));
  await b.client.delete(b.bucket, "k");
  assert.deepEqual(await b.client.get(b.bucket, "k"), { status: "absent" });
  assert.equal(await b.client.head(b.bucket, "k"), null);
  await b.client.delete(b.bucket, "k");
  await b.client.delete(b.bucket, "never-existed");
});

/** Puts `keys` (body = key) concurrently. */
async function putAll(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  await mapLimit(keys, CONCURRENCY, (k) => client.put(bucket, k, enc.encode(k)));
}

Deno.test("minio: listing 1,500 keys spans pages; prefix, startAfter and pageSize work", async () => {
  await using b = await freshBucket("list1500");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const blocks = Array.from({ length: 1500 }, (_, i) => `db/${String(i).padStart(10, "0")}`);
  const others = ["a-first", "db-journal/0000000000", "z-last"];
  await putAll(client, b.bucket, [...blocks, ...others]);

  events.length = 0;
  const all = [];
  for await (const e of client.list(b.bucket)) all.push(e);
  assert.equal(all.length, 1503);
  assert.equal(
    events.filter((e) => e.kind === "LIST").length,
    2,
    "1,503 keys = 2 pages of <= 1,000",
  );
  assert.deepEqual(all.map((e) => e.key), [...blocks, ...others].sort());
  const first = all.find((e) => e.key === blocks[0])!;
  assert.equal(first.size, blocks[0].length);
  assert.match(first.etag, /^"[0-9a-f]{32}"$/);
  assert.ok(first.lastModified instanceof Date && !isNaN(first.lastModified.getTime()));

  const prefixed: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "db/" })) prefixed.push(e.key);
  assert.deepEqual(prefixed, blocks);

  const after: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "db/", startAfter: blocks[1234] })) {
    after.push(e.key);
  }
  assert.deepEqual(after, blocks.slice(1235));

  events.length = 0;
  const paged: string[] = [];
  for await (
    const e of client.list(b.bucket, { prefix: "db/", startAfter: blocks[1449], pageSize: 7 })
  ) {
    paged.push(e.key);
  }
  assert.deepEqual(paged, blocks.slice(1450));
  assert.equal(events.filter((e) => e.kind === "LIST").length, Math.ceil(50 / 7));

  const none: string[] = [];
  for await (const e of client.list(b.bucket, { prefix: "nothing-here/" })) none.push(e.key);
  assert.deepEqual(none, []);
});

Deno.test("minio: deleteMany removes 1,500 keys in batches; the bucket lists empty", async () => {
  await using b = await freshBucket("delmany");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  const keys = Array.from({ length: 1500 }, (_, i) => `db/${String(i).padStart(10, "0")}`);
  await putAll(client, b.bucket, keys);
  events.length = 0;
  assert.equal(await client.deleteMany(b.bucket, keys), 1500);
  assert.equal(events.filter((e) => e.kind === "DELETE_MANY").length, 2);
  const left: string[] = [];
  for await (const e of client.list(b.bucket)) left.push(e.key);
  assert.deepEqual(left, []);
  // Deleting keys that are already gone is not an error.
  assert.equal(await client.deleteMany(b.bucket, keys.slice(0, 10)), 10);
});

Deno.test("minio: multipart upload of two parts (5 MiB + rest) completes with the right content", async () => {
  await using b = await freshBucket("multipart");
  const part1 = patternBytes(5 * 1024 * 1024, 11);
  const part2 = patternBytes(300_001, 12);
  const uploadId = await b.client.createMultipartUpload(
    b.bucket,
    "big.db",
    "application/octet-stream",
  );
  assert.ok(uploadId.length > 0);
  // Upload out of order: completion sorts by part number.
  const p2 = await b.client.uploadPart(b.bucket, "big.db", uploadId, 2, part2);
  const p1 = await b.client.uploadPart(b.bucket, "big.db", uploadId, 1, part1);
  assert.equal(p1.partNumber, 1);
  assert.match(p1.etag, /^".+"$/);
  const { etag } = await b.client.completeMultipartUpload(b.bucket, "big.db", uploadId, [p2, p1]);
  assert.match(etag, /^"[0-9a-f]{32}-2"$/, "multipart etag names 2 parts");
  const h = await b.client.head(b.bucket, "big.db");
  assert.equal(h?.size, part1.length + part2.length);
  assert.equal(h?.etag, etag);
  const got = await b.client.get(b.bucket, "big.db");
  assert.equal(got.status, "ok");
  if (got.status !== "ok") return;
  assert.equal(got.body.length, part1.length + part2.length);
  assert.deepEqual(got.body.subarray(0, part1.length), part1);
  assert.deepEqual(got.body.subarray(part1.length), part2);
  // A range across the part boundary.
  const across = await b.client.get(b.bucket, "big.db", {
    range: { offset: part1.length - 10, length: 20 },
  });
  assert.deepEqual(
    across.status === "ok" && across.body,
    got.body.slice(part1.length - 10, part1.length + 10),
  );
});

Deno.test("minio: an aborted multipart upload leaves no object and cannot be completed", async () => {
  await using b = await freshBucket("mpabort");
  const uploadId = await b.client.createMultipartUpload(b.bucket, "gone.db");
  const p1 = await b.client.uploadPart(b.bucket, "gone.db", uploadId, 1, patternBytes(1024));
  await b.client.abortMultipartUpload(b.bucket, "gone.db", uploadId);
  assert.deepEqual(await b.client.get(b.bucket, "gone.db"), { status: "absent" });
  const err = await rejectsS3(
    b.client.completeMultipartUpload(b.bucket, "gone.db", uploadId, [p1]),
  );
  assert.equal(err.code, "NoSuchUpload");
  await b.client.abortMultipartUpload(b.bucket, "gone.db", uploadId); // again: fine
});

Deno.test("minio: multipart with a too-small first part fails at completion with EntityTooSmall", async () => {
  await using b = await freshBucket("mpsmall");
  const uploadId = await b.client.createMultipartUpload(b.bucket, "small.db");
  const p1 = await b.client.uploadPart(b.bucket, "small.db", uploadId, 1, patternBytes(1024, 1));
  const p2 = await b.client.uploadPart(b.bucket, "small.db", uploadId, 2, patternBytes(1024, 2));
  const err = await rejectsS3(
    b.client.completeMultipartUpload(b.bucket, "small.db", uploadId, [p1, p2]),
  );
  assert.equal(err.code, "EntityTooSmall");
  await b.client.abortMultipartUpload(b.bucket, "small.db", uploadId);
});

Deno.test("minio: copy duplicates an object server-side", async () => {
  await using b = await freshBucket("copy");
  const data = patternBytes(5000, 9);
  const { etag } = await b.client.put(b.bucket, "stage/0000000001", data);
  const copied = await b.client.copy(b.bucket, "stage/0000000001", "db/0000000001");
  assert.equal(copied.etag, etag, "same content, same md5 etag");
  const got = await b.client.get(b.bucket, "db/0000000001");
  assert.deepEqual(got.status === "ok" && got.body, data);
  const err = await rejectsS3(b.client.copy(b.bucket, "stage/absent", "db/x"));
  assert.equal(err.code, "NoSuchKey");
});

Deno.test("minio: wrong credentials give a 403 S3Error naming the S3 error, without the secret", async () => {
  await using b = await freshBucket("badcreds");
  const real = testS3Options().credentials;
  const wrongSecret = "this-is-not-the-secret-" + crypto.randomUUID();
  const cases: [string, { accessKeyId: string; secretAccessKey: string }, string][] = [
    [
      "wrong secret",
      { accessKeyId: real.accessKeyId, secretAccessKey: wrongSecret },
      "SignatureDoesNotMatch",
    ],
    [
      "unknown key id",
      { accessKeyId: "NOSUCHKEYID0000", secretAccessKey: wrongSecret },
      "InvalidAccessKeyId",
    ],
  ];
  for (const [label, credentials, code] of cases) {
    let attempts = 0;
    const client = testClient({ credentials, onRequest: (e) => (attempts = e.attempts) });
    for (
      const op of [
        () => client.get(b.bucket, "k"),
        () => client.put(b.bucket, "k", enc.encode("x")),
      ]
    ) {
      const err = await rejectsS3(op());
      assert.equal(err.status, 403, label);
      assert.equal(err.code, code, label);
      assert.ok(err.message.includes(code), label);
      assert.equal(attempts, 1, `${label}: not retried`);
      assertNoSecret(err, wrongSecret);
      assertNoSecret(err, real.secretAccessKey);
    }
    const headErr = await rejectsS3(client.head(b.bucket, "k"));
    assert.equal(headErr.status, 403, label);
    assertNoSecret(headErr, wrongSecret);
  }
});

Deno.test("minio: a missing bucket is S3Error NoSuchBucket for every operation", async () => {
  const client = testClient();
  const bucket = `t-missing-${crypto.randomUUID().slice(0, 8)}`;
  const ops: [string, () => Promise<unknown>][] = [
    ["get", () => client.get(bucket, "k")],
    ["get range", () => client.get(bucket, "k", { range: { offset: 0, length: 1 } })],
    ["head", () => client.head(bucket, "k")],
    ["put", () => client.put(bucket, "k", enc.encode("x"))],
    ["put if-none-match", () => client.put(bucket, "k", enc.encode("x"), { ifNoneMatch: "*" })],
    ["list", () => Array.fromAsync(client.list(bucket))],
    ["deleteMany", () => client.deleteMany(bucket, ["a", "b"])],
    ["createMultipartUpload", () => client.createMultipartUpload(bucket, "k")],
  ];
  for (const [label, op] of ops) {
    const err = await rejectsS3(op());
    assert.equal(err.code, "NoSuchBucket", label);
    assert.equal(err.status, 404, label);
    assert.equal(err.bucket, bucket, label);
  }
});

Deno.test("minio: createBucket is idempotent for its owner; deleteBucket of a missing bucket is fine", async () => {
  const client = testClient();
  const bucket = `t-create-${crypto.randomUUID().slice(0, 8)}`;
  await client.createBucket(bucket);
  await client.createBucket(bucket);
  await client.put(bucket, "k", enc.encode("x"));
  assert.ok(await client.head(bucket, "k"));
  await client.delete(bucket, "k");
  await client.deleteBucket(bucket);
  await client.deleteBucket(bucket);
  const err = await rejectsS3(client.get(bucket, "k"));
  assert.equal(err.code, "NoSuchBucket");
});

Deno.test("minio: an endpoint that is not listening fails with NetworkError in bounded time", async () => {
  const port = closedPort();
  const events: RequestEvent[] = [];
  const client = new S3Client({
    ...testS3Options(),
    endpoint: `http://127.0.0.1:${port}`,
    maxAttempts: 3,
    timeoutMs: 2000,
    retryDelayMs: { base: 10, max: 20 },
    onRequest: (e) => events.push(e),
  });
  const started = performance.now();
  for (
    const op of [
      () => client.get("bkt", "k"),
      () => client.put("bkt", "k", enc.encode("x"), { ifNoneMatch: "*" }),
    ]
  ) {
    const err = await rejectsS3(op());
    assert.equal(err.code, "NetworkError");
    assert.equal(err.status, 0);
    assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
    assertNoSecret(err, testS3Options().credentials.secretAccessKey);
  }
  assert.ok(performance.now() - started < 10_000, "bounded time");
  assert.deepEqual(events.map((e) => e.attempts), [3, 1], "GET retried, conditional PUT not");
});

Deno.test("minio: onRequest reports kind, status and byte counts", async () => {
  await using b = await freshBucket("events");
  const events: RequestEvent[] = [];
  const client = testClient({ onRequest: (e) => events.push(e) });
  await client.put(b.bucket, "k", patternBytes(4096));
  await client.get(b.bucket, "k");
  await client.get(b.bucket, "k", { range: { offset: 0, length: 100 } });
  await client.head(b.bucket, "k");
  await client.delete(b.bucket, "k");
  assert.deepEqual(
    events.map((e) => [e.kind, e.status, e.bytesOut, e.bytesIn, e.attempts]),
    [
      ["PUT", 200, 4096, 0, 1],
      ["GET", 200, 0, 4096, 1],
      ["GET", 206, 0, 100, 1],
      ["HEAD", 200, 0, 0, 1],
      ["DELETE", 204, 0, 0, 1],
    ],
  );
  assert.ok(events.every((e) => e.ms >= 0));
});

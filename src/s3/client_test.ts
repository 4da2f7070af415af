/**
 * Unit tests of the S3 client (src/s3/client.ts) with a stubbed `fetch`:
 * signing, retries, timeouts, error hygiene, URLs. No server needed.
 * The MinIO integration tests are in tests/s3_client_test.ts.
 */

import assert from "node:assert/strict";
import { encodeKey, type RequestEvent, S3Client, type S3ClientOptions } from "./client.ts";
import { assertNoSecret, rejectsS3 } from "../../tests/_s3_assert.ts";

// --- a recording stub of fetch and an S3Client that uses it ---

/** The stub client's secret key (tests check it never leaks into errors). */
const STUB_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/** The stub client's access key id. */
const STUB_KEY_ID = "AKIDEXAMPLE";

/** A stubbed fetch and the requests it received. */
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
    init?.signal?.throwIfAborted(); // as fetch does
    const req = input instanceof Request ? input : new Request(input, init);
    calls.push(req);
    return await handler(req, calls.length, init);
  };
  return { fetch: f as typeof fetch, calls };
}

/** An S3Client for `http://s3.test:9000` that sends through `stub` (fast retries, 4 attempts). */
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

/** An S3 XML error answer (RequestId `REQ123`). */
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

/** A 200 answer with ETag `"e1"` (headers may override it). */
const ok = (body = "", headers: Record<string, string> = {}): Response =>
  new Response(body, { status: 200, headers: { etag: '"e1"', ...headers } });

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("S3Client: requests are SigV4-signed for s3/us-east-1 with x-amz-date", async () => {
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

Deno.test("S3Client: session token is sent as x-amz-security-token", async () => {
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

Deno.test("S3Client: 503 SlowDown is retried until success; attempts are counted", async () => {
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

Deno.test("S3Client: 503 is retried even for a conditional PUT (server did not process it)", async () => {
  const stub = stubFetch((_req, n) =>
    n === 1 ? xmlError(503, "SlowDown", "slow down") : ok("", { etag: '"new"' })
  );
  const client = stubClient(stub);
  const r = await client.put("bkt", "k", enc.encode("v"), { ifNoneMatch: "*" });
  assert.equal(r.etag, '"new"');
  assert.equal(stub.calls.length, 2);
  assert.equal(stub.calls[1].headers.get("if-none-match"), "*");
});

Deno.test("S3Client: 500 is retried for GET", async () => {
  const stub = stubFetch((_req, n) =>
    n === 1 ? xmlError(500, "InternalError", "We encountered an internal error.") : ok("v")
  );
  const got = await stubClient(stub).get("bkt", "k");
  assert.equal(got.status, "ok");
  assert.equal(got.status === "ok" && dec.decode(got.body), "v");
  assert.equal(stub.calls.length, 2);
});

Deno.test("S3Client: 500 is NOT retried for a conditional PUT", async () => {
  const stub = stubFetch(() => xmlError(500, "InternalError", "We encountered an internal error."));
  const err = await rejectsS3(
    stubClient(stub).put("bkt", "k", enc.encode("v"), { ifMatch: '"e1"' }),
  );
  assert.equal(stub.calls.length, 1);
  assert.equal(err.status, 500);
  assert.equal(err.code, "InternalError");
});

Deno.test("S3Client: a network error is NOT retried for a conditional PUT", async () => {
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

Deno.test("S3Client: a network error IS retried for idempotent requests, up to maxAttempts", async () => {
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

Deno.test("S3Client: persistent 503 gives up after maxAttempts with the S3 error", async () => {
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

Deno.test("S3Client: 4xx errors are not retried", async () => {
  const stub = stubFetch(() => xmlError(403, "AccessDenied", "Access Denied."));
  const err = await rejectsS3(stubClient(stub).get("bkt", "k"));
  assert.equal(stub.calls.length, 1);
  assert.equal(err.code, "AccessDenied");
});

Deno.test("S3Client: per-attempt timeout gives S3Error Timeout after the attempts", async () => {
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

Deno.test("S3Client: a caller's abort rejects with its reason and is not retried", async () => {
  const stub = stubFetch((_req, _n, init) =>
    new Promise<Response>((_resolve, reject) => {
      const signal = init?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    })
  );
  const ac = new AbortController();
  const reason = new Error("caller gave up");
  const started = stub.calls.length;
  const get = stubClient(stub).get("bkt", "k", { signal: ac.signal });
  while (stub.calls.length === started) await new Promise((r) => setTimeout(r, 1)); // in flight
  ac.abort(reason);
  await assert.rejects(get, (e) => e === reason);
  assert.equal(stub.calls.length, 1);
});

Deno.test("S3Client: a signal aborted before sending rejects with its reason, nothing sent", async () => {
  const stub = stubFetch(() => new Response(""));
  const reason = new Error("caller gave up");
  await assert.rejects(
    stubClient(stub).get("bkt", "k", { signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  assert.equal(stub.calls.length, 0);
});

Deno.test("S3Client: error messages never contain the secret key", async () => {
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

Deno.test("S3Client: a 416 without Content-Range (MinIO) reports the size from ActualObjectSize", async () => {
  const stub = stubFetch(() =>
    new Response(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRange</Code><Message>The requested range ` +
        `&#39;bytes=5-10&#39; is not satisfiable</Message><ActualObjectSize>5</ActualObjectSize></Error>`,
      { status: 416 },
    )
  );
  const got = await stubClient(stub).get("bkt", "k", { range: { offset: 5, length: 6 } });
  assert.deepEqual(got, { status: "ok", body: new Uint8Array(0), etag: "", size: 5, meta: {} });
  const stub2 = stubFetch(() =>
    new Response("", { status: 416, headers: { "content-range": "bytes */7" } })
  );
  const got2 = await stubClient(stub2).get("bkt", "k", { range: { offset: 9, length: 1 } });
  assert.equal(got2.status === "ok" && got2.size, 7);
});

Deno.test("S3Client.deleteMany() sends batches of <= 1,000 keys with Content-MD5 and escaped keys", async () => {
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

Deno.test("S3Client.url() builds path-style and virtual-hosted URLs and encodes keys", () => {
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

Deno.test("encodeKey() keeps '/' and percent-encodes RFC 3986 reserved characters", () => {
  assert.equal(encodeKey("a/b/c"), "a/b/c");
  assert.equal(encodeKey("sp é+€"), "sp%20%C3%A9%2B%E2%82%AC");
  assert.equal(encodeKey("!'()*~-_.x"), "%21%27%28%29%2A~-_.x");
  assert.equal(encodeKey("a&b<c>?#%"), "a%26b%3Cc%3E%3F%23%25");
});

/**
 * A recording stub of `fetch` and an {@linkcode S3Client} that uses it, for
 * the unit tests of the S3 client (no server involved).
 */

import { S3Client, type S3ClientOptions } from "../src/s3/client.ts";

/** The stub client's secret key (tests check it never leaks into errors). */
export const STUB_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/** The stub client's access key id. */
export const STUB_KEY_ID = "AKIDEXAMPLE";

/** A stubbed fetch and the requests it received. */
export interface Stub {
  fetch: typeof fetch;
  /** Every request the client sent, in order. */
  calls: Request[];
}

/** A fetch that records requests and answers with `handler(request, callNumber)`. */
export function stubFetch(
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

/** An S3Client for `http://s3.test:9000` that sends through `stub` (fast retries, 4 attempts). */
export function stubClient(stub: Stub, extra: S3ClientOptions = {}): S3Client {
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
export function xmlError(
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
export const ok = (body = "", headers: Record<string, string> = {}): Response =>
  new Response(body, { status: 200, headers: { etag: '"e1"', ...headers } });

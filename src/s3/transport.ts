/**
 * The request engine behind `S3Client` (./client.ts): builds the URL, signs each
 * attempt with SigV4 (`aws4fetch`, service `s3`), sends it with a per-attempt
 * timeout, retries what may be retried (see ./retry.ts), reports one
 * {@linkcode RequestEvent} per request and turns failed answers into
 * {@linkcode S3Error}s.
 *
 * @module
 */

import { AwsClient } from "npm:aws4fetch@^1.0.20";
import { S3Error } from "../errors.ts";
import type { RequestEvent, RequestKind, S3ClientOptions } from "./types.ts";
import { attemptTimeoutMs, type ResolvedS3Config } from "./config.ts";
import { type AttemptOutcome, backoffDelay, shouldRetry } from "./retry.ts";
import { xmlText } from "./xml.ts";

/** One S3 request, as the operations describe it. */
export interface Call {
  /** What the request is, for {@linkcode RequestEvent}. */
  kind: RequestKind;
  /** HTTP method. */
  method: string;
  /** Bucket (none: the service endpoint). */
  bucket?: string;
  /** Object key (none: the bucket itself). */
  key?: string;
  /** Query parameters. */
  query?: Record<string, string>;
  /** Request headers (signed). */
  headers?: Record<string, string>;
  /** Request body. */
  body?: Uint8Array;
  /** Whether repeating the request is harmless (decides what is retried). */
  idempotent: boolean;
  /** Statuses that are answers, not errors. */
  accept?: number[];
  /** Abort signal of the caller. */
  signal?: AbortSignal;
  /** Cap on the attempt timeout in ms (default: the client's, grown for big transfers). */
  timeoutMs?: number;
  /** Attempts at most (default: the client's `maxAttempts`). */
  maxAttempts?: number;
}

/** Bytes a call moves: its body, or the byte range it asks for. */
function transferBytes(call: Call): number {
  if (call.body) return call.body.length;
  const m = /^bytes=(\d+)-(\d+)$/.exec(call.headers?.range ?? "");
  return m ? Number(m[2]) - Number(m[1]) + 1 : 0;
}

/** The answer to a {@linkcode Call}, body read in full. */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** Response body. */
  body: Uint8Array;
}

const textDecoder = new TextDecoder();

/** Error codes for answers without an S3 error body. */
const FALLBACK_CODES: Record<number, string> = {
  301: "PermanentRedirect",
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  412: "PreconditionFailed",
  416: "InvalidRange",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

/** Encodes an object key for a URL path, keeping `/`. */
export function encodeKey(key: string): string {
  return key.split("/").map((s) =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
    )
  ).join("/");
}

/**
 * Signs, sends and retries requests for one `S3Client`; holds its
 * credentials (through `aws4fetch`), fetch, accounting hook and retry delays.
 */
export class S3Transport {
  /** The client's resolved settings (credentials included: never log this). */
  readonly config: ResolvedS3Config;
  #aws: AwsClient;
  #fetch: typeof fetch;
  #onRequest?: (event: RequestEvent) => void;
  #retryBase: number;
  #retryMax: number;

  /** Uses `config` (already resolved) and the fetch, hook and delays of `options`. */
  constructor(config: ResolvedS3Config, options: S3ClientOptions) {
    this.config = config;
    const c = this.config.credentials;
    this.#aws = new AwsClient({
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
      service: "s3",
      region: this.config.region,
      retries: 0,
    });
    this.#fetch = options.fetch ?? fetch;
    this.#onRequest = options.onRequest;
    this.#retryBase = options.retryDelayMs?.base ?? 100;
    this.#retryMax = options.retryDelayMs?.max ?? 5000;
  }

  /** The URL of a bucket or object. */
  url(bucket: string, key?: string, query?: Record<string, string>): string {
    const base = new URL(this.config.endpoint);
    let path: string;
    if (this.config.forcePathStyle) {
      path = `${base.pathname.replace(/\/$/, "")}/${bucket}${
        key !== undefined ? "/" + encodeKey(key) : ""
      }`;
    } else {
      if (bucket) base.hostname = `${bucket}.${base.hostname}`;
      path = `${base.pathname.replace(/\/$/, "")}/${key !== undefined ? encodeKey(key) : ""}`;
    }
    const qs = query
      ? "?" +
        Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join("&")
      : "";
    return `${base.protocol}//${base.host}${path}${qs}`;
  }

  /**
   * The {@linkcode S3Error} for a failed answer: code, message and request id
   * from the S3 error body, MinIO's error headers (bodiless answers), or
   * `fallback` and a code named after the status.
   */
  error(
    method: string,
    bucket: string | undefined,
    key: string | undefined,
    r: Reply,
    fallback?: string,
  ): S3Error {
    const text = textDecoder.decode(r.body);
    // Bodiless answers (HEAD): MinIO names the error in x-minio-error-code/-desc headers.
    const headerCode = r.headers.get("x-minio-error-code") ?? undefined;
    const headerDesc = r.headers.get("x-minio-error-desc")?.replace(/^"|"$/g, "");
    return new S3Error({
      status: r.status,
      code: xmlText(text, "Code") ?? headerCode ?? FALLBACK_CODES[r.status] ?? `HTTP${r.status}`,
      message: xmlText(text, "Message") ?? headerDesc ?? fallback ?? "",
      method,
      bucket,
      key,
      requestId: xmlText(text, "RequestId") ?? r.headers.get("x-amz-request-id") ?? undefined,
    });
  }

  /**
   * Sends `call` (retrying what may be retried) and returns the answer when its
   * status is 2xx or in `call.accept`; throws an {@linkcode S3Error} otherwise,
   * or the caller's abort reason.
   */
  async call(call: Call): Promise<Reply> {
    const started = performance.now();
    const url = this.url(call.bucket ?? "", call.key, call.query);
    const label = call.query && !call.key
      ? `${call.method} ?${Object.keys(call.query)[0]}`
      : call.method;
    const attemptMs = Math.min(
      call.timeoutMs ?? Infinity,
      attemptTimeoutMs(this.config.timeoutMs, transferBytes(call)),
    );
    const policy = {
      maxAttempts: call.maxAttempts ?? this.config.maxAttempts,
      baseDelayMs: this.#retryBase,
      maxDelayMs: this.#retryMax,
    };
    let attempt = 0;
    let bytesIn = 0;
    const report = (status: number): void =>
      this.#onRequest?.({
        kind: call.kind,
        status,
        bytesIn,
        bytesOut: (call.body?.length ?? 0) * attempt,
        attempts: attempt,
        ms: performance.now() - started,
      });
    while (true) {
      attempt++;
      let outcome: AttemptOutcome;
      let failure: S3Error;
      // Per-attempt timeout covering the response body too; cleared when the attempt ends
      // (no timer left behind for test sanitizers or long-lived processes).
      const timeout = new AbortController();
      const timer = setTimeout(
        () => timeout.abort(new DOMException("S3 request timed out", "TimeoutError")),
        attemptMs,
      );
      const signal = call.signal ? AbortSignal.any([call.signal, timeout.signal]) : timeout.signal;
      try {
        const req = await this.#aws.sign(url, {
          method: call.method,
          headers: call.headers,
          body: call.body as BodyInit | undefined,
        });
        signal.throwIfAborted(); // aborted while signing: send nothing
        const res = await this.#fetch(req, { signal });
        const body = new Uint8Array(await res.arrayBuffer());
        bytesIn += body.length;
        const reply: Reply = { status: res.status, headers: res.headers, body };
        if ((res.status >= 200 && res.status < 300) || call.accept?.includes(res.status)) {
          report(res.status);
          return reply;
        }
        failure = this.error(label, call.bucket, call.key, reply);
        outcome = { kind: "response", status: res.status, code: failure.code };
      } catch (err) {
        if (call.signal?.aborted) {
          report(0);
          throw call.signal.reason;
        }
        const timedOut = timeout.signal.aborted;
        outcome = { kind: timedOut ? "timeout" : "network" };
        failure = new S3Error({
          status: 0,
          code: timedOut ? "Timeout" : "NetworkError",
          message: timedOut
            ? `no answer from ${this.config.endpoint} within ${attemptMs} ms`
            : `cannot reach ${this.config.endpoint}: ${
              err instanceof Error ? err.message : String(err)
            }`,
          method: label,
          bucket: call.bucket,
          key: call.key,
          cause: err,
        });
      } finally {
        clearTimeout(timer);
      }
      if (attempt >= policy.maxAttempts || !shouldRetry(outcome, call.idempotent)) {
        report(failure.status);
        throw failure;
      }
      await new Promise((r) => setTimeout(r, backoffDelay(attempt - 1, policy)));
    }
  }
}

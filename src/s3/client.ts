/**
 * A small S3 client on `aws4fetch` (SigV4, service `s3`): object GET (whole,
 * ranged, conditional), HEAD, PUT (conditional), DELETE, DeleteObjects,
 * ListObjectsV2 and multipart upload, with retries and per-attempt timeouts.
 *
 * The operations live here (multipart upload and DeleteObjects in
 * ./multipart.ts and ./delete_objects.ts); signing, sending, retrying and
 * error parsing in ./transport.ts.
 *
 * @module
 */

import { type ResolvedS3Config, resolveS3Config } from "./config.ts";
import { deleteObjects } from "./delete_objects.ts";
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  uploadPart,
} from "./multipart.ts";
import { type Call, encodeKey, type Reply, S3Transport } from "./transport.ts";
import type {
  CompletedPart,
  GetOptions,
  GetResult,
  HeadResult,
  ListEntry,
  ListOptions,
  PutOptions,
  S3ClientOptions,
} from "./types.ts";
import { xmlElements, xmlText } from "./xml.ts";

export { type Call, encodeKey, type Reply } from "./transport.ts";
export type {
  CompletedPart,
  GetOptions,
  GetResult,
  HeadResult,
  ListEntry,
  ListOptions,
  PutOptions,
  RequestEvent,
  RequestKind,
  S3ClientOptions,
} from "./types.ts";

const textDecoder = new TextDecoder();

/** User metadata, Last-Modified and the server's Date of an answer about an object. */
function objectInfo(
  h: Headers,
): { meta: Record<string, string>; lastModified?: Date; date?: Date } {
  const meta: Record<string, string> = {};
  for (const [name, value] of h) {
    if (name.startsWith("x-amz-meta-")) meta[name.slice("x-amz-meta-".length)] = value;
  }
  const lm = h.get("last-modified");
  const date = h.get("date");
  return {
    meta,
    ...(lm ? { lastModified: new Date(lm) } : {}),
    ...(date ? { date: new Date(date) } : {}),
  };
}

/**
 * S3 over `aws4fetch`. Every method makes real requests; failures are
 * {@linkcode S3Error}s; absent objects and 304s are results, not errors.
 *
 * @example Put and get
 * ```ts
 * import { S3Client } from "./client.ts";
 * const s3 = new S3Client(); // endpoint, region and credentials from the AWS_* variables
 * const bucket = Deno.env.get("S3VFS_BUCKET")!;
 * await s3.put(bucket, "hello.txt", new TextEncoder().encode("hi"));
 * const got = await s3.get(bucket, "hello.txt");
 * if (got.status !== "ok" || new TextDecoder().decode(got.body) !== "hi") throw new Error("lost");
 * await s3.delete(bucket, "hello.txt");
 * ```
 */
export class S3Client {
  /** The resolved settings (credentials included: never log this). */
  readonly config: ResolvedS3Config;
  /** Signs, sends and retries the requests; parses error answers. */
  #transport: S3Transport;

  /** Resolves options against the environment (see {@linkcode S3ConnectionOptions}). */
  constructor(options: S3ClientOptions = {}) {
    this.config = resolveS3Config(options);
    this.#transport = new S3Transport(this.config, options);
  }

  /** The URL of a bucket or object. */
  url(bucket: string, key?: string, query?: Record<string, string>): string {
    return this.#transport.url(bucket, key, query);
  }

  /**
   * Sends one request as described (signed, retried when `idempotent`) and
   * returns the answer when its status is 2xx or in `accept`; throws an
   * {@linkcode S3Error} otherwise. For callers that need the raw answer
   * (headers, statuses), such as the commit-log store.
   */
  async send(call: Call): Promise<Reply> {
    return await this.#transport.call(call);
  }

  /** GET an object, a byte range, or only if changed (`ifNoneMatch`). */
  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    const headers: Record<string, string> = {};
    if (options.range) {
      const { offset, length } = options.range;
      if (!(offset >= 0) || !(length > 0)) throw new RangeError(`bad range ${offset}+${length}`);
      headers["range"] = `bytes=${offset}-${offset + length - 1}`;
    }
    if (options.ifNoneMatch) headers["if-none-match"] = options.ifNoneMatch;
    const r = await this.#transport.call({
      kind: options.ifNoneMatch ? "GET_COND" : "GET",
      method: "GET",
      bucket,
      key,
      headers,
      idempotent: true,
      accept: [304, 404, 416],
      signal: options.signal,
    });
    if (r.status === 304) {
      return { status: "not-modified", etag: r.headers.get("etag") ?? options.ifNoneMatch! };
    }
    if (r.status === 404) {
      const code = xmlText(textDecoder.decode(r.body), "Code");
      if (code && code !== "NoSuchKey") throw this.#transport.error("GET", bucket, key, r);
      return { status: "absent" };
    }
    const etag = r.headers.get("etag") ?? "";
    if (r.status === 416) {
      // The range starts at or past the end. S3 sends `Content-Range: bytes */<size>`;
      // MinIO sends no Content-Range but <ActualObjectSize> in the error body.
      const m = /\/(\d+)\s*$/.exec(r.headers.get("content-range") ?? "");
      const actual = xmlText(textDecoder.decode(r.body), "ActualObjectSize");
      const size = m ? Number(m[1]) : actual !== undefined ? Number(actual) : options.range!.offset;
      return { status: "ok", body: new Uint8Array(0), etag, size, ...objectInfo(r.headers) };
    }
    const size = r.status === 206 ? this.#rangeTotal(r) : r.body.length;
    return { status: "ok", body: r.body, etag, size, ...objectInfo(r.headers) };
  }

  #rangeTotal(r: Reply): number {
    const m = /\/(\d+)\s*$/.exec(r.headers.get("content-range") ?? "");
    return m ? Number(m[1]) : r.body.length;
  }

  /** HEAD an object: its ETag and size, or null when absent. */
  async head(bucket: string, key: string): Promise<HeadResult | null> {
    const r = await this.#transport.call({
      kind: "HEAD",
      method: "HEAD",
      bucket,
      key,
      idempotent: true,
      accept: [404],
    });
    if (r.status === 404) {
      // HEAD answers have no body; MinIO names the error in a header, S3 does not.
      const code = r.headers.get("x-minio-error-code");
      if (code && code !== "NoSuchKey") throw this.#transport.error("HEAD", bucket, key, r);
      return null;
    }
    return {
      etag: r.headers.get("etag") ?? "",
      size: Number(r.headers.get("content-length") ?? 0),
      ...objectInfo(r.headers),
    };
  }

  /**
   * PUT an object. With `ifMatch` / `ifNoneMatch` a failed condition throws an
   * {@linkcode S3Error} whose `isPreconditionFailed` is true (412, or 409
   * ConditionalRequestConflict).
   */
  async put(
    bucket: string,
    key: string,
    body: Uint8Array,
    options: PutOptions = {},
  ): Promise<{ etag: string }> {
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers["if-match"] = options.ifMatch;
    if (options.ifNoneMatch) headers["if-none-match"] = options.ifNoneMatch;
    if (options.contentType) headers["content-type"] = options.contentType;
    for (const [name, value] of Object.entries(options.meta ?? {})) {
      if (!/^[a-z0-9-]+$/.test(name)) {
        throw new TypeError(`bad metadata name ${JSON.stringify(name)}`);
      }
      headers[`x-amz-meta-${name}`] = value;
    }
    const conditional = !!(options.ifMatch || options.ifNoneMatch);
    const r = await this.#transport.call({
      kind: "PUT",
      method: "PUT",
      bucket,
      key,
      headers,
      body,
      idempotent: !conditional,
      signal: options.signal,
    });
    return { etag: r.headers.get("etag") ?? "" };
  }

  /** DELETE one object (absent is fine). `ifMatch` makes it conditional. */
  async delete(bucket: string, key: string, options: { ifMatch?: string } = {}): Promise<void> {
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers["if-match"] = options.ifMatch;
    await this.#transport.call({
      kind: "DELETE",
      method: "DELETE",
      bucket,
      key,
      headers,
      idempotent: !options.ifMatch,
      accept: [404],
    });
  }

  /**
   * DeleteObjects in batches of at most 1,000 keys (with Content-MD5), the
   * batches `concurrency` at a time. Throws the first per-key error.
   * Returns the number of keys deleted.
   */
  async deleteMany(bucket: string, keys: readonly string[], concurrency = 4): Promise<number> {
    return await deleteObjects(this.#transport, bucket, keys, concurrency);
  }

  /** ListObjectsV2 over every page, as an async iterator of entries in key order. */
  async *list(
    bucket: string,
    options: ListOptions = {},
  ): AsyncGenerator<ListEntry, void, undefined> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2" };
      if (options.prefix) query["prefix"] = options.prefix;
      if (options.startAfter && !token) query["start-after"] = options.startAfter;
      if (options.pageSize) query["max-keys"] = String(options.pageSize);
      if (token) query["continuation-token"] = token;
      const r = await this.#transport.call({
        kind: "LIST",
        method: "GET",
        bucket,
        query,
        idempotent: true,
      });
      const text = textDecoder.decode(r.body);
      for (const c of xmlElements(text, "Contents")) {
        yield {
          key: xmlText(c, "Key") ?? "",
          size: Number(xmlText(c, "Size") ?? 0),
          etag: xmlText(c, "ETag") ?? "",
          lastModified: new Date(xmlText(c, "LastModified") ?? 0),
        };
      }
      token = xmlText(text, "IsTruncated") === "true"
        ? xmlText(text, "NextContinuationToken")
        : undefined;
    } while (token);
  }

  /** Starts a multipart upload; returns its upload id. */
  async createMultipartUpload(bucket: string, key: string, contentType?: string): Promise<string> {
    return await createMultipartUpload(this.#transport, bucket, key, contentType);
  }

  /** Uploads one part (>= 5 MiB except the last); returns its ETag. */
  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
  ): Promise<CompletedPart> {
    return await uploadPart(this.#transport, bucket, key, uploadId, partNumber, body);
  }

  /** Completes a multipart upload from its parts; returns the object's ETag. */
  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<{ etag: string }> {
    return await completeMultipartUpload(this.#transport, bucket, key, uploadId, parts);
  }

  /** Aborts a multipart upload (its parts are discarded). */
  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await abortMultipartUpload(this.#transport, bucket, key, uploadId);
  }

  /** Creates a bucket (already owning it is fine; a bucket owned by someone else is an error). */
  async createBucket(bucket: string): Promise<void> {
    const r = await this.#transport.call({
      kind: "BUCKET",
      method: "PUT",
      bucket,
      idempotent: true,
      accept: [409],
    });
    if (r.status === 409) {
      const code = xmlText(textDecoder.decode(r.body), "Code");
      if (code !== "BucketAlreadyOwnedByYou") {
        throw this.#transport.error("PUT", bucket, undefined, r);
      }
    }
  }

  /** Deletes an empty bucket. */
  async deleteBucket(bucket: string): Promise<void> {
    await this.#transport.call({
      kind: "BUCKET",
      method: "DELETE",
      bucket,
      idempotent: true,
      accept: [404],
    });
  }

  /**
   * Server-side copy (CopyObject: a PUT of `dstKey` with `x-amz-copy-source`)
   * of `srcKey` to `dstKey` in the same bucket; returns the new object's ETag.
   * Used by `deserialize` to move staged blocks into place. Objects up to 5 GiB.
   */
  async copy(bucket: string, srcKey: string, dstKey: string): Promise<{ etag: string }> {
    const r = await this.#transport.call({
      kind: "PUT",
      method: "PUT",
      bucket,
      key: dstKey,
      headers: { "x-amz-copy-source": `/${bucket}/${encodeKey(srcKey)}` },
      idempotent: true,
    });
    const text = textDecoder.decode(r.body);
    // S3 may answer 200 with an <Error> body when the copy fails late.
    if (xmlElements(text, "Error").length) {
      throw this.#transport.error("PUT (copy)", bucket, dstKey, r);
    }
    return { etag: xmlText(text, "ETag") ?? r.headers.get("etag") ?? "" };
  }
}

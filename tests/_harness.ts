/**
 * Shared test helpers: the S3 endpoint started by `deno task test`
 * (scripts/test.ts) and throwaway buckets, one per test, so no test ever
 * sees another's objects.
 *
 * @example One bucket per test
 * ```ts ignore
 * Deno.test("something", async () => {
 *   await using b = await freshBucket("something");
 *   await b.client.put(b.bucket, "k", new Uint8Array([1]));
 * }); // bucket emptied and deleted here
 * ```
 *
 * @module
 */

import { S3Client, type S3ClientOptions } from "../src/s3/client.ts";
import type { S3Credentials } from "../src/s3/config.ts";
import type { Timing } from "../src/log/rules.ts";
import { decodeConfig } from "../src/log/format.ts";
import { configKey, logKey, logNamespace, logPrefix, stagePrefix } from "../src/log/keys.ts";

/**
 * The environment a child process (a user script, `deno test --doc`) needs
 * to reach the test endpoint the way users configure it: the AWS_* variables.
 */
export function testS3Env(): Record<string, string> {
  const s3 = testS3Options();
  return {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
}

/**
 * Which S3 implementation the tests run against (`S3VFS_TEST_STORE`, set by
 * `deno task test`): `minio` (the default) or `versitygw`.
 */
export const TEST_STORE: "minio" | "versitygw" = (() => {
  try {
    return Deno.env.get("S3VFS_TEST_STORE") === "versitygw" ? "versitygw" : "minio";
  } catch {
    return "minio";
  }
})();

/**
 * How the test store answers a request signed with an unknown access key id:
 * MinIO (as AWS) 403 InvalidAccessKeyId; versitygw 404 XAdminUserNotFound
 * (and to a HEAD, a bare 404: indistinguishable from a missing object).
 */
export const UNKNOWN_KEY_ID: { status: number; code: string } = TEST_STORE === "versitygw"
  ? { status: 404, code: "XAdminUserNotFound" }
  : { status: 403, code: "InvalidAccessKeyId" };

/** Connection settings of the test endpoint. */
export interface TestS3Options {
  /** Endpoint URL of the harness's MinIO (or `S3_ENDPOINT`). */
  endpoint: string;
  /** Signing region. */
  region: string;
  /** Credentials of the endpoint. */
  credentials: S3Credentials;
}

/** A bucket created for one test; disposing it deletes its objects and the bucket. */
export interface TestBucket {
  /** A client for the test endpoint. */
  client: S3Client;
  /** The bucket's name (unique per call). */
  bucket: string;
  /** Empties and deletes the bucket. */
  [Symbol.asyncDispose](): Promise<void>;
}

const NO_HARNESS = "tests need the MinIO harness: run `deno task test` " +
  "(optionally with test files / --filter), not `deno test` directly";

/**
 * Connection settings from the environment set by scripts/test.ts
 * (`S3VFS_TEST_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_REGION`). Throws a clear Error when the harness is not running.
 */
export function testS3Options(): TestS3Options {
  const get = (name: string): string | undefined => {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  };
  const endpoint = get("S3VFS_TEST_ENDPOINT");
  const accessKeyId = get("AWS_ACCESS_KEY_ID");
  const secretAccessKey = get("AWS_SECRET_ACCESS_KEY");
  if (!endpoint || !accessKeyId || !secretAccessKey) throw new Error(NO_HARNESS);
  return {
    endpoint,
    region: get("AWS_REGION") ?? "us-east-1",
    credentials: { accessKeyId, secretAccessKey },
  };
}

/** An {@linkcode S3Client} for the test endpoint; `overrides` win over the defaults. */
export function testClient(overrides: S3ClientOptions = {}): S3Client {
  return new S3Client({ ...testS3Options(), ...overrides });
}

/**
 * A unique valid bucket name `t-<label>-<random>`: lowercase letters, digits
 * and hyphens, 3..63 characters.
 */
export function uniqueBucketName(label: string): string {
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(5)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  const room = 63 - "t-".length - 1 - suffix.length;
  const middle = clean.slice(0, room).replace(/-+$/g, "");
  return middle ? `t-${middle}-${suffix}` : `t-${suffix}`;
}

/** Deletes every object of `bucket` (listing until empty). Returns how many were deleted. */
export async function emptyBucket(client: S3Client, bucket: string): Promise<number> {
  let total = 0;
  while (true) {
    const keys: string[] = [];
    for await (const e of client.list(bucket)) keys.push(e.key);
    if (!keys.length) return total;
    total += await client.deleteMany(bucket, keys);
  }
}

/**
 * Creates a fresh bucket named after `label` (see {@linkcode uniqueBucketName}).
 * Use with `await using`; disposal empties and deletes it (failures to clean up
 * are reported on stderr, not thrown, so they never mask the test's own error).
 */
export async function freshBucket(
  label: string,
  overrides: S3ClientOptions = {},
): Promise<TestBucket> {
  const client = testClient(overrides);
  // Cleanup uses a plain client so a test's stubbed fetch or tiny timeouts don't break it.
  const admin = testClient();
  const bucket = uniqueBucketName(label);
  await admin.createBucket(bucket);
  return {
    client,
    bucket,
    async [Symbol.asyncDispose](): Promise<void> {
      try {
        await emptyBucket(admin, bucket);
        await admin.deleteBucket(bucket);
      } catch (err) {
        console.error(`warning: could not remove test bucket ${bucket}:`, err);
      }
    },
  };
}

/** Runs `fn` with a fresh bucket and removes the bucket afterwards (see {@linkcode freshBucket}). */
export async function withBucket(
  label: string,
  fn: (ctx: { client: S3Client; bucket: string }) => Promise<void>,
  overrides: S3ClientOptions = {},
): Promise<void> {
  await using b = await freshBucket(label, overrides);
  await fn({ client: b.client, bucket: b.bucket });
}

/** A loopback port nothing listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `n` bytes of a deterministic pattern depending on `seed` (cheap, non-constant content). */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Short protocol periods (docs/protocol.md section 5) for databases a test
 * creates, so that a checkpoint can fold its commits after a short wait:
 * grace 1 s, commit lag 2 s, history 6 s, stage age 2 s, margin 1 s.
 */
export const FAST_TIMING: Readonly<Timing> = {
  graceMs: 1000,
  maxCommitLagMs: 2000,
  keepHistoryMs: 6000,
  maxStageAgeMs: 2000,
  marginMs: 1000,
};

/**
 * How long until a commit made now may be folded under {@linkcode FAST_TIMING}:
 * older than G + M by the store's `Date`, compared in whole seconds (+1 s),
 * where `Date` may trail the store's own clock by up to a second (versitygw
 * caches it), plus 0.5 s of slack.
 */
export const FOLDABLE_AFTER_MS: number = FAST_TIMING.graceMs + FAST_TIMING.marginMs + 2500;

/**
 * The key of commit `txid` of the database at `prefix` (its log lives under
 * its config id, `log/<id>/<txid>`): read from its config in `bucket`.
 */
export async function commitKeyIn(
  client: S3Client,
  bucket: string,
  prefix: string,
  txid: number,
): Promise<string> {
  const got = await client.get(bucket, configKey(prefix));
  if (got.status !== "ok") throw new Error(`no config for ${prefix}`);
  return logKey(prefix, txid, logNamespace(decodeConfig(got.body)));
}

/** Like {@linkcode commitKeyIn}, the prefix of the commit objects (and `stage/` for staged chunks). */
export async function logPrefixIn(
  client: S3Client,
  bucket: string,
  prefix: string,
  what: "log" | "stage" = "log",
): Promise<string> {
  const got = await client.get(bucket, configKey(prefix));
  if (got.status !== "ok") throw new Error(`no config for ${prefix}`);
  const ns = logNamespace(decodeConfig(got.body));
  return what === "log" ? logPrefix(prefix, ns) : stagePrefix(prefix, ns);
}

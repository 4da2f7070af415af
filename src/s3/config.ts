/**
 * S3 connection settings, from explicit options or the usual environment
 * variables.
 *
 * @module
 */

/** AWS-style credentials. */
export interface S3Credentials {
  /** Access key id (`AWS_ACCESS_KEY_ID`). */
  accessKeyId: string;
  /** Secret access key (`AWS_SECRET_ACCESS_KEY`). */
  secretAccessKey: string;
  /** Session token for temporary credentials (`AWS_SESSION_TOKEN`). */
  sessionToken?: string;
}

/** Options shared by the S3 client and the VFS. Unset fields come from the environment. */
export interface S3ConnectionOptions {
  /**
   * Endpoint URL, e.g. `http://127.0.0.1:9000`. Default: `AWS_ENDPOINT_URL_S3`,
   * `AWS_ENDPOINT_URL`, `S3_ENDPOINT`, else `https://s3.<region>.amazonaws.com`.
   */
  endpoint?: string;
  /** Signing region. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`. */
  region?: string;
  /** Credentials. Default: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`. */
  credentials?: S3Credentials;
  /** Path-style URLs (`endpoint/bucket/key`, the default) or virtual-hosted (`bucket.host/key`). */
  forcePathStyle?: boolean;
  /**
   * Per-attempt timeout in ms (default 10,000), for requests of up to 1 MiB;
   * bigger bodies get 1 s more per MiB (see {@linkcode attemptTimeoutMs}).
   */
  timeoutMs?: number;
  /** Attempts per request, including the first (default 5). */
  maxAttempts?: number;
}

/** Fully resolved settings. */
export interface ResolvedS3Config {
  /** Endpoint URL without a trailing slash. */
  endpoint: string;
  /** Signing region. */
  region: string;
  /** Credentials. */
  credentials: S3Credentials;
  /** Path-style addressing. */
  forcePathStyle: boolean;
  /** Per-attempt timeout in ms. */
  timeoutMs: number;
  /** Attempts per request. */
  maxAttempts: number;
}

/** Default per-attempt timeout of a request of up to 1 MiB. */
export const DEFAULT_TIMEOUT_MS = 10_000;

const MIB = 1024 * 1024;

/**
 * The attempt timeout of a request moving `bytes` (its body, or the range it
 * asks for): `baseMs`, plus 1 s per MiB past the first (a slow link still
 * moves a big part, a small request still fails fast).
 */
export function attemptTimeoutMs(baseMs: number, bytes: number): number {
  return baseMs + Math.ceil(Math.max(0, bytes - MIB) / MIB) * 1000;
}

function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined; // no --allow-env: behave as unset
  }
}

/** Resolves options against the environment; throws TypeError/RangeError on bad values. */
export function resolveS3Config(options: S3ConnectionOptions = {}): ResolvedS3Config {
  const region = options.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "us-east-1";
  const endpointRaw = options.endpoint ?? env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL") ??
    env("S3_ENDPOINT") ?? `https://s3.${region}.amazonaws.com`;
  let url: URL;
  try {
    url = new URL(endpointRaw);
  } catch {
    throw new TypeError(`S3 endpoint is not a URL: ${JSON.stringify(endpointRaw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`S3 endpoint must be http(s), got ${url.protocol}`);
  }
  const credentials = options.credentials ?? (() => {
    const accessKeyId = env("AWS_ACCESS_KEY_ID");
    const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
    if (!accessKeyId || !secretAccessKey) {
      throw new TypeError(
        "No S3 credentials: pass `credentials` or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
      );
    }
    return { accessKeyId, secretAccessKey, sessionToken: env("AWS_SESSION_TOKEN") };
  })();
  if (!credentials.accessKeyId || !credentials.secretAccessKey) {
    throw new TypeError("S3 credentials need accessKeyId and secretAccessKey");
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  return {
    endpoint: url.href.replace(/\/+$/, ""),
    region,
    credentials,
    forcePathStyle: options.forcePathStyle ?? true,
    timeoutMs,
    maxAttempts,
  };
}

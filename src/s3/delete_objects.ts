/**
 * DeleteObjects in batches: the body of `S3Client.deleteMany`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { S3Error } from "../errors.ts";
import { mapLimit } from "./retry.ts";
import type { S3Transport } from "./transport.ts";
import { escapeXmlText, xmlElements, xmlText } from "./xml.ts";

const textDecoder = new TextDecoder();

/**
 * DeleteObjects in batches of at most 1,000 keys (with Content-MD5), the
 * batches `concurrency` at a time. Throws the first per-key error.
 * Returns the number of keys deleted.
 */
export async function deleteObjects(
  t: S3Transport,
  bucket: string,
  keys: readonly string[],
  concurrency: number,
): Promise<number> {
  const batches: string[][] = [];
  for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
  let deleted = 0;
  await mapLimit(batches, Math.max(1, Math.floor(concurrency)), async (batch) => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${
      batch.map((k) => `<Object><Key>${escapeXmlText(k)}</Key></Object>`).join("")
    }</Delete>`;
    const body = new TextEncoder().encode(xml);
    const md5 = createHash("md5").update(body).digest("base64");
    const r = await t.call({
      kind: "DELETE_MANY",
      method: "POST",
      bucket,
      query: { delete: "" },
      headers: { "content-md5": md5, "content-type": "application/xml" },
      body,
      idempotent: true,
    });
    const text = textDecoder.decode(r.body);
    const errors = xmlElements(text, "Error");
    if (errors.length) {
      const e = errors[0];
      throw new S3Error({
        status: r.status,
        code: xmlText(e, "Code") ?? "DeleteError",
        message: `${xmlText(e, "Message") ?? ""} (${errors.length} of ${batch.length} keys failed)`,
        method: "POST ?delete",
        bucket,
        key: xmlText(e, "Key"),
        requestId: r.headers.get("x-amz-request-id") ?? undefined,
      });
    }
    deleted += batch.length;
  });
  return deleted;
}

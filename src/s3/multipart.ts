/**
 * Multipart upload (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload) over an
 * {@linkcode S3Transport}: the bodies of the `S3Client` methods of the same
 * names.
 *
 * @module
 */

import type { CompletedPart } from "./types.ts";
import type { S3Transport } from "./transport.ts";
import { escapeXmlText, xmlElements, xmlText } from "./xml.ts";

const textDecoder = new TextDecoder();

/** Starts a multipart upload; returns its upload id. */
export async function createMultipartUpload(
  t: S3Transport,
  bucket: string,
  key: string,
  contentType?: string,
): Promise<string> {
  const r = await t.call({
    kind: "MULTIPART",
    method: "POST",
    bucket,
    key,
    query: { uploads: "" },
    headers: contentType ? { "content-type": contentType } : {},
    idempotent: false,
  });
  const id = xmlText(textDecoder.decode(r.body), "UploadId");
  if (!id) throw t.error("POST ?uploads", bucket, key, r, "no UploadId in response");
  return id;
}

/** Uploads one part (>= 5 MiB except the last); returns its ETag. */
export async function uploadPart(
  t: S3Transport,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Uint8Array,
): Promise<CompletedPart> {
  const r = await t.call({
    kind: "MULTIPART",
    method: "PUT",
    bucket,
    key,
    query: { partNumber: String(partNumber), uploadId },
    body,
    idempotent: true,
  });
  return { partNumber, etag: r.headers.get("etag") ?? "" };
}

/** Completes a multipart upload from its parts; returns the object's ETag. */
export async function completeMultipartUpload(
  t: S3Transport,
  bucket: string,
  key: string,
  uploadId: string,
  parts: readonly CompletedPart[],
): Promise<{ etag: string }> {
  const xml = `<CompleteMultipartUpload>${
    [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) =>
      `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXmlText(p.etag)}</ETag></Part>`
    ).join("")
  }</CompleteMultipartUpload>`;
  const r = await t.call({
    kind: "MULTIPART",
    method: "POST",
    bucket,
    key,
    query: { uploadId },
    headers: { "content-type": "application/xml" },
    body: new TextEncoder().encode(xml),
    idempotent: false,
  });
  const text = textDecoder.decode(r.body);
  // S3 may answer 200 with an <Error> body when completion fails late.
  if (xmlElements(text, "Error").length) throw t.error("POST ?uploadId", bucket, key, r);
  return { etag: xmlText(text, "ETag") ?? "" };
}

/** Aborts a multipart upload (its parts are discarded). */
export async function abortMultipartUpload(
  t: S3Transport,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<void> {
  await t.call({
    kind: "MULTIPART",
    method: "DELETE",
    bucket,
    key,
    query: { uploadId },
    idempotent: true,
    accept: [404],
  });
}

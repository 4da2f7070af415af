/**
 * Minimal reader for S3's XML responses.
 *
 * Why not a full XML parser: every S3 response this client reads
 * (ListBucketResult, Error, DeleteResult, InitiateMultipartUploadResult,
 * CompleteMultipartUploadResult) is a flat, attribute-free document of
 * element-only records whose text content is entity-escaped and never uses
 * CDATA or nests an element inside one of the same name. Reading those needs
 * exactly two operations - the text of a child element and the list of
 * records with a given tag - which this file implements in ~50 lines, keeping
 * the worker free of an npm dependency it would have to load. Tested on real
 * MinIO responses in tests/s3_client_test.ts and on fixtures in src/s3/xml_test.ts.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Decodes the five XML entities and numeric character references. */
export function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name[0] === "#") {
      const cp = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isInteger(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return ENTITIES[name] ?? whole;
  });
}

/** Escapes text for use inside an XML element. */
export function escapeXmlText(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`,
  );
}

/** Inner XML of every `<tag>...</tag>` element (also `<tag/>` as ""), in document order. */
export function xmlElements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*?)?(?:/>|>([\\s\\S]*?)</${tag}>)`, "g");
  for (const m of xml.matchAll(re)) out.push(m[1] ?? "");
  return out;
}

/** Decoded text of the first `<tag>` element, or undefined when there is none. */
export function xmlText(xml: string, tag: string): string | undefined {
  const all = xmlElements(xml, tag);
  return all.length ? decodeXmlText(all[0]) : undefined;
}

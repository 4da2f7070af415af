/**
 * Unit tests of the minimal XML reader (src/s3/xml.ts) on responses captured
 * verbatim from a real MinIO server (RequestId/HostId values kept as sent).
 */

import assert from "node:assert/strict";
import { decodeXmlText, escapeXmlText, xmlElements, xmlText } from "./xml.ts";

// --- fixtures captured from MinIO (go install github.com/minio/minio@latest) ---

/** ListObjectsV2, max-keys=2, first page: truncated, a key with &, <, >, ETags as &#34;. */
const LIST_PAGE_1 = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>fxbucket</Name><Prefix></Prefix><NextContinuationToken>azFbbWluaW9fY2FjaGU6djIscmV0dXJuOl0=</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b&lt;c&gt;.txt</Key><LastModified>2026-11-21T08:51:04.893Z</LastModified><ETag>&#34;5d41402abc4b2a76b9719d911017c592&#34;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>k1</Key><LastModified>2026-11-21T08:51:04.896Z</LastModified><ETag>&#34;9dd4e461268c8034f5c8564e155c67a6&#34;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`;

/** ListObjectsV2 with start-after=k1: last page. */
const LIST_PAGE_LAST = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>fxbucket</Name><Prefix></Prefix><StartAfter>k1</StartAfter><KeyCount>1</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>k2</Key><LastModified>2026-11-21T08:51:04.899Z</LastModified><ETag>&#34;2fb1c5cf58867b5bbc9a1b145a86f3a0&#34;</ETag><Size>2</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`;

/** ListObjectsV2 with a non-ASCII key (sent raw, UTF-8). */
const LIST_UNICODE = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>fixtures</Name><Prefix>sp</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>sp é+€</Key><LastModified>2026-11-21T08:51:44.709Z</LastModified><ETag>&#34;9dd4e461268c8034f5c8564e155c67a6&#34;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`;

/** ListObjectsV2 of a prefix with no keys. */
const LIST_EMPTY = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>fixtures</Name><Prefix>nothing</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`;

/** GET of a missing key. */
const ERROR_NO_SUCH_KEY = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>nokey</Key><BucketName>fxbucket</BucketName><Resource>/fxbucket/nokey</Resource><RequestId>18EA0354F6698D7C</RequestId><HostId>f4461c9cca268ace4a737ab85af848193862f4b65b127d96c9cb4c3c7d0d19ba</HostId></Error>`;

/** GET with a range past the end (416): &#39; entities, ActualObjectSize, escaped key. */
const ERROR_INVALID_RANGE = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidRange</Code><Message>The requested range &#39;bytes=5-10&#39; is not satisfiable</Message><Key>a&amp;b&lt;c&gt;.txt</Key><BucketName>fxbucket</BucketName><Resource>/fxbucket/a&amp;b&lt;c&gt;.txt</Resource><RequestId>18EA0355ECF131D4</RequestId><HostId>f4461c9cca268ace4a737ab85af848193862f4b65b127d96c9cb4c3c7d0d19ba</HostId><ActualObjectSize>5</ActualObjectSize><RangeRequested>5-10</RangeRequested></Error>`;

/** PUT If-None-Match: * of an existing key. */
const ERROR_PRECONDITION = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Key>k2</Key><BucketName>fxbucket</BucketName><Resource>/fxbucket/k2</Resource><RequestId>18EA0354F6E046CA</RequestId><HostId>f4461c9cca268ace4a737ab85af848193862f4b65b127d96c9cb4c3c7d0d19ba</HostId></Error>`;

/** Wrong secret key. */
const ERROR_SIGNATURE = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><Key>k1</Key><BucketName>fxbucket</BucketName><Resource>/fxbucket/k1</Resource><RequestId>18EA0354F8CCF76B</RequestId><HostId>f4461c9cca268ace4a737ab85af848193862f4b65b127d96c9cb4c3c7d0d19ba</HostId></Error>`;

/** DeleteObjects (not quiet): one deleted, one per-key error. */
const DELETE_RESULT_WITH_ERROR = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>db/0000000000</Key></Deleted><Error><Code>XMinioInvalidObjectName</Code><Message>Object name contains unsupported characters.</Message><Key></Key><VersionId></VersionId></Error></DeleteResult>`;

/** DeleteObjects (not quiet): all deleted. */
const DELETE_RESULT_OK = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>db/0000000000</Key></Deleted><Deleted><Key>x</Key></Deleted></DeleteResult>`;

/** DeleteObjects with Quiet=true and no failures. */
const DELETE_RESULT_QUIET = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`;

/** CreateMultipartUpload. */
const INITIATE_MULTIPART = `<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>fixtures</Bucket><Key>big</Key><UploadId>YWNmNjNlOGYtODk1Yi00MTI0LWE2ZGItYjFjMWI4NDAzYzJjLjJkYjE0MmY2LWRkMDgtNDUwYS05OGMyLWE1NDFkOWVmMzEyOHgxNzk1MjUxMTA0Njk3MDc0MTg5</UploadId></InitiateMultipartUploadResult>`;

/** CompleteMultipartUpload. */
const COMPLETE_MULTIPART = `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1:9123/fixtures/big</Location><Bucket>fixtures</Bucket><Key>big</Key><ETag>&#34;af5da9f45af7a300e3aded972f8ff687-1&#34;</ETag></CompleteMultipartUploadResult>`;

// --- entities ---

Deno.test("decodeXmlText: the five named entities", () => {
  assert.equal(decodeXmlText("&amp;&lt;&gt;&quot;&apos;"), `&<>"'`);
  assert.equal(decodeXmlText("a &amp;amp; b"), "a &amp; b", "decoding is single-pass");
});

Deno.test("decodeXmlText: decimal and hex character references, incl. astral", () => {
  assert.equal(decodeXmlText("&#34;x&#34;"), '"x"');
  assert.equal(decodeXmlText("&#x22;&#X41;"), '"&#X41;', "only lowercase x is a hex reference");
  assert.equal(decodeXmlText("&#xe9;&#233;&#x1F600;"), "éé😀");
});

Deno.test("decodeXmlText: unknown or invalid references are left as they are", () => {
  assert.equal(decodeXmlText("&nbsp; &bogus; & alone"), "&nbsp; &bogus; & alone");
  assert.equal(
    decodeXmlText("&#x110000; &#99999999;"),
    "&#x110000; &#99999999;",
    "beyond U+10FFFF",
  );
  assert.equal(decodeXmlText("no entities"), "no entities");
});

Deno.test("escapeXmlText: escapes the five specials and round-trips", () => {
  assert.equal(escapeXmlText(`a&b<c>"d'`), "a&amp;b&lt;c&gt;&quot;d&apos;");
  for (const s of ["", "plain", "a&b<c>.txt", `'"&&<<>>`, "sp é+€ 😀", "&amp;"]) {
    assert.equal(decodeXmlText(escapeXmlText(s)), s);
  }
});

// --- element access ---

Deno.test("xmlElements: document order, self-closing, attributes, no prefix matches", () => {
  assert.deepEqual(xmlElements("<a><b>1</b><b/><b x=\"y\">3</b><b x='z'/></a>", "b"), [
    "1",
    "",
    "3",
    "",
  ]);
  assert.deepEqual(xmlElements("<Errors><Error>e</Error></Errors>", "Error"), ["e"]);
  assert.deepEqual(xmlElements("<KeyCount>2</KeyCount><Key>k</Key>", "Key"), ["k"]);
  assert.deepEqual(xmlElements("<a>nothing</a>", "b"), []);
  assert.deepEqual(xmlElements("<b>multi\nline</b>", "b"), ["multi\nline"]);
});

Deno.test("xmlText: first element's decoded text, or undefined", () => {
  assert.equal(xmlText("<r><v>a&amp;b</v><v>second</v></r>", "v"), "a&b");
  assert.equal(xmlText("<r><Prefix></Prefix></r>", "Prefix"), "");
  assert.equal(xmlText("<r/>", "v"), undefined);
});

// --- MinIO fixtures ---

Deno.test("fixture ListBucketResult page 1: entries, truncation, continuation token", () => {
  const contents = xmlElements(LIST_PAGE_1, "Contents");
  assert.equal(contents.length, 2);
  assert.deepEqual(
    contents.map((c) => ({
      key: xmlText(c, "Key"),
      size: Number(xmlText(c, "Size")),
      etag: xmlText(c, "ETag"),
      lastModified: xmlText(c, "LastModified"),
    })),
    [
      {
        key: "a&b<c>.txt",
        size: 5,
        etag: '"5d41402abc4b2a76b9719d911017c592"',
        lastModified: "2026-11-21T08:51:04.893Z",
      },
      {
        key: "k1",
        size: 1,
        etag: '"9dd4e461268c8034f5c8564e155c67a6"',
        lastModified: "2026-11-21T08:51:04.896Z",
      },
    ],
  );
  assert.equal(xmlText(LIST_PAGE_1, "IsTruncated"), "true");
  assert.equal(
    xmlText(LIST_PAGE_1, "NextContinuationToken"),
    "azFbbWluaW9fY2FjaGU6djIscmV0dXJuOl0=",
  );
  assert.equal(xmlText(LIST_PAGE_1, "KeyCount"), "2");
  assert.equal(xmlText(LIST_PAGE_1, "Prefix"), "");
});

Deno.test("fixture ListBucketResult last page, unicode key, empty listing", () => {
  assert.equal(xmlText(LIST_PAGE_LAST, "IsTruncated"), "false");
  assert.equal(xmlText(LIST_PAGE_LAST, "NextContinuationToken"), undefined);
  assert.equal(xmlText(LIST_PAGE_LAST, "StartAfter"), "k1");
  assert.deepEqual(xmlElements(LIST_PAGE_LAST, "Contents").map((c) => xmlText(c, "Key")), ["k2"]);
  assert.deepEqual(xmlElements(LIST_UNICODE, "Contents").map((c) => xmlText(c, "Key")), ["sp é+€"]);
  assert.deepEqual(xmlElements(LIST_EMPTY, "Contents"), []);
  assert.equal(xmlText(LIST_EMPTY, "KeyCount"), "0");
});

Deno.test("fixture Error documents: code, message, key, request id", () => {
  assert.equal(xmlText(ERROR_NO_SUCH_KEY, "Code"), "NoSuchKey");
  assert.equal(xmlText(ERROR_NO_SUCH_KEY, "Key"), "nokey");
  assert.equal(xmlText(ERROR_NO_SUCH_KEY, "RequestId"), "18EA0354F6698D7C");
  assert.equal(xmlText(ERROR_INVALID_RANGE, "Code"), "InvalidRange");
  assert.equal(
    xmlText(ERROR_INVALID_RANGE, "Message"),
    "The requested range 'bytes=5-10' is not satisfiable",
  );
  assert.equal(xmlText(ERROR_INVALID_RANGE, "Key"), "a&b<c>.txt");
  assert.equal(xmlText(ERROR_INVALID_RANGE, "ActualObjectSize"), "5");
  assert.equal(xmlText(ERROR_PRECONDITION, "Code"), "PreconditionFailed");
  assert.equal(xmlText(ERROR_SIGNATURE, "Code"), "SignatureDoesNotMatch");
  assert.match(xmlText(ERROR_SIGNATURE, "Message")!, /^The request signature we calculated/);
});

Deno.test("fixture DeleteResult: per-key errors, deleted keys, quiet success", () => {
  const errors = xmlElements(DELETE_RESULT_WITH_ERROR, "Error");
  assert.equal(errors.length, 1);
  assert.equal(xmlText(errors[0], "Code"), "XMinioInvalidObjectName");
  assert.equal(xmlText(errors[0], "Message"), "Object name contains unsupported characters.");
  assert.equal(xmlText(errors[0], "Key"), "");
  assert.deepEqual(xmlElements(DELETE_RESULT_WITH_ERROR, "Deleted").map((d) => xmlText(d, "Key")), [
    "db/0000000000",
  ]);
  assert.deepEqual(xmlElements(DELETE_RESULT_OK, "Error"), []);
  assert.deepEqual(xmlElements(DELETE_RESULT_OK, "Deleted").map((d) => xmlText(d, "Key")), [
    "db/0000000000",
    "x",
  ]);
  assert.deepEqual(xmlElements(DELETE_RESULT_QUIET, "Error"), []);
  assert.deepEqual(xmlElements(DELETE_RESULT_QUIET, "Deleted"), []);
});

Deno.test("fixture multipart: UploadId and the completed ETag", () => {
  assert.equal(
    xmlText(INITIATE_MULTIPART, "UploadId"),
    "YWNmNjNlOGYtODk1Yi00MTI0LWE2ZGItYjFjMWI4NDAzYzJjLjJkYjE0MmY2LWRkMDgtNDUwYS05OGMyLWE1NDFkOWVmMzEyOHgxNzk1MjUxMTA0Njk3MDc0MTg5",
  );
  assert.equal(xmlText(COMPLETE_MULTIPART, "ETag"), '"af5da9f45af7a300e3aded972f8ff687-1"');
  assert.deepEqual(xmlElements(COMPLETE_MULTIPART, "Error"), []);
});

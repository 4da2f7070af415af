/**
 * Output formats of the command-line tool: rows as a box table (with
 * `cli-table3`), as JSON (one array of objects) or as CSV (RFC 4180), and
 * the small formatters the commands share (bytes, rates, durations, SQL
 * values).
 *
 * @module
 */

import Table from "npm:cli-table3@^0.6.5";

/** A SQL value as @db/sqlite returns it. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array | undefined;

const BORDERLESS_MIDDLE = { "mid": "", "left-mid": "", "mid-mid": "", "right-mid": "" };

/** `bytes` as hex, `x'0a1b'` as SQLite writes blob literals. */
function blobLiteral(bytes: Uint8Array): string {
  return `x'${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}'`;
}

/** A value as text for a table cell (NULL for null, blobs as `x'..'`). */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (v instanceof Uint8Array) return blobLiteral(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return JSON.stringify(v, jsonReplacer);
  return String(v);
}

/** JSON.stringify replacer: bigints as numbers when safe (else strings), blobs as `x'..'`. */
export function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  if (v instanceof Uint8Array) return blobLiteral(v);
  return v;
}

/** Keeps the line under the header, drops the ones between rows (as sqlite3's box mode). */
function headerRuleOnly(text: string): string {
  let first = true;
  return text.split("\n").filter((line) => {
    if (!line.startsWith("├")) return true;
    const keep = first;
    first = false;
    return keep;
  }).join("\n");
}

/** A box table of `rows` under `head` (numbers right-aligned). */
export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) {
    t.push(row.map((v) => ({
      content: cellText(v),
      hAlign: typeof v === "number" || typeof v === "bigint" ? "right" : "left",
    })));
  }
  return headerRuleOnly(t.toString());
}

/** Two columns, name and value, without a header (for `info`). */
export function keyValueTable(rows: [string, unknown][]): string {
  const t = new Table({ chars: BORDERLESS_MIDDLE, style: { head: [], border: [], compact: true } });
  for (const [k, v] of rows) t.push([k, cellText(v)]);
  return t.toString();
}

/** Rows as a JSON array of objects keyed by column name. */
export function jsonRows(columns: string[], rows: unknown[][]): string {
  const objects = rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
  return JSON.stringify(objects, jsonReplacer, 2);
}

/** One CSV field, quoted when it must be (RFC 4180). NULL is an empty field. */
function csvField(v: unknown): string {
  const s = v === null || v === undefined
    ? ""
    : v instanceof Uint8Array
    ? blobLiteral(v)
    : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as CSV with a header line, CRLF line ends (RFC 4180). */
export function csvRows(columns: string[], rows: unknown[][]): string {
  return [columns, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `1536` -> `1.5 KiB`. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

/** Seconds as `1h02m`, `3m05s` or `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** `3 commit objects`, `1 commit object`. */
export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/**
 * `doctor`: checks a store before anything is put in it (`checkStore`):
 * every conditional write and answer the commit log relies on, the clock
 * offset, request latency, and the verdict, with an exit code per verdict.
 *
 * @module
 */

import { checkStore, type StoreReport } from "../vfs/check_store.ts";
import { intOption, parseBucketUrl } from "./args.ts";
import type { Command } from "./command.ts";
import { jsonReplacer, table } from "./format.ts";
import type { Session } from "./session.ts";

/** Exit code when the store is safe for reads only (writes would be refused). */
export const EXIT_READ_ONLY = 3;
/** Exit code when the store cannot be used at all. */
export const EXIT_UNUSABLE = 4;

const VERDICTS = {
  "many-writers": "SAFE FOR MANY WRITERS: every writer process may write at once",
  "read-only":
    "SAFE FOR READS ONLY: writes would be refused (concurrent writers could lose commits)",
  unusable: "UNUSABLE: the commit log cannot be read correctly from this store",
} as const;

function ms(n: number): string {
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

/** The report as text. */
export function formatReport(r: StoreReport): string {
  const lines = [`store ${r.endpoint}, bucket ${r.bucket}`, ""];
  if (r.denied) {
    lines.push(`writes denied with these credentials: ${r.denied}`, "");
  } else {
    lines.push(
      table(
        ["", "capability", "tried", "got", "for this package"],
        r.capabilities.map((c) => [
          c.ok ? "ok" : c.need === "info" ? "-" : "NO",
          c.id,
          c.tried,
          c.got,
          c.meaning,
        ]),
      ),
      "",
    );
  }
  if (r.clock) {
    const s = (r.clock.offsetMs / 1000).toFixed(1);
    const u = (r.clock.uncertaintyMs / 1000).toFixed(1);
    lines.push(
      `clock: store minus this machine ${s} s (± ${u} s); harmless, the protocol times by ` +
        "the store's clock",
    );
  }
  const lat = Object.entries(r.latency).filter(([, l]) => l)
    .map(([k, l]) => `${k.toUpperCase()} p50 ${ms(l!.p50)}, p99 ${ms(l!.p99)} (${l!.n})`);
  if (lat.length) lines.push(`latency: ${lat.join("; ")}`);
  lines.push(
    `${r.requests} requests in ${ms(r.ms)}; ${
      r.cleanedUp ? "everything written was deleted" : `some objects were left under ${r.base}/`
    }`,
    "",
    `verdict: ${VERDICTS[r.verdict]}`,
  );
  return lines.join("\n") + "\n";
}

/** `doctor s3://bucket[/prefix]`. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "check what a store enforces before putting databases in it",
  usage: "doctor s3://bucket[/prefix]",
  details: "Tries every conditional write the commit log relies on (If-None-Match: * and\n" +
    "If-Match on PUT, also racing), reads back metadata, ranges and listings, measures the\n" +
    "clock offset and the latency of small GETs and PUTs, deletes what it wrote and prints\n" +
    "a verdict. Writes only small objects under <prefix>.s3vfs/probe/ (a database prefix)\n" +
    "or the bucket's top level.\n" +
    "Exit codes: 0 safe for many writers, 3 safe for reads only (the VFS refuses writes),\n" +
    "4 unusable, 1 the check itself failed.",
  options: {
    json: { type: "boolean", help: "print the report as JSON" },
    samples: { type: "string", value: "<n>", help: "requests timed per kind (default 20)" },
  },
  positionals: ["store"],
  async run(s: Session): Promise<number> {
    const { bucket, prefix } = parseBucketUrl(s.args.positionals[0], "doctor");
    const samples = intOption(s.args.values.samples, "samples", "doctor");
    const report = await checkStore({
      ...s.connection(),
      bucket,
      ...(prefix ? { prefix } : {}),
      ...(samples ? { samples } : {}),
    });
    s.out(s.flag("json") ? JSON.stringify(report, jsonReplacer, 2) + "\n" : formatReport(report));
    return report.verdict === "many-writers"
      ? 0
      : report.verdict === "read-only"
      ? EXIT_READ_ONLY
      : EXIT_UNUSABLE;
  },
};

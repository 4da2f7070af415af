/**
 * `--timing`: the commit-log timing a database created by `import` or `cp`
 * records (the library's `timing` option, docs/protocol.md section 5), as
 * `name=duration` pairs: `--timing grace=2s,keep-history=20s`. Names are the
 * library's fields in the tool's words; durations take a unit (`ms`, `s`,
 * `m`, `h`, `d`) and must be whole seconds. Unnamed fields keep the default.
 *
 * @module
 */

import { checkTiming, DEFAULT_TIMING, type Timing } from "../log/rules.ts";
import { UsageError } from "./errors.ts";

/** The tool's name of each timing field. */
export const TIMING_NAMES: Readonly<Record<string, keyof Timing>> = {
  grace: "graceMs",
  "max-commit-lag": "maxCommitLagMs",
  "keep-history": "keepHistoryMs",
  "max-stage-age": "maxStageAgeMs",
  margin: "marginMs",
};

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The library's field names in a message, in the tool's words. */
function inCliWords(message: string): string {
  let out = message.replace(/^timing\./, "").replace(" of seconds in ms", " of seconds");
  for (const [cli, field] of Object.entries(TIMING_NAMES)) out = out.replaceAll(field, cli);
  return out;
}

/** Parses `--timing` into a whole, checked timing (defaults for the fields not named). */
export function parseTiming(value: string, command: string): Timing {
  const t: Timing = { ...DEFAULT_TIMING };
  const seen = new Set<string>();
  for (const pair of value.split(",")) {
    const m = /^\s*([a-z-]+)\s*=\s*(\d+)\s*(ms|s|m|h|d)\s*$/.exec(pair);
    if (!m) {
      throw new UsageError(
        `--timing takes name=duration pairs (e.g. grace=2s,keep-history=20m), got ${
          JSON.stringify(pair)
        }`,
        command,
      );
    }
    const [, name, n, unit] = m;
    const field = TIMING_NAMES[name];
    if (!field) {
      throw new UsageError(
        `--timing: unknown name ${name} (one of ${Object.keys(TIMING_NAMES).join(", ")})`,
        command,
      );
    }
    if (seen.has(name)) throw new UsageError(`--timing: ${name} given twice`, command);
    seen.add(name);
    t[field] = Number(n) * UNIT_MS[unit];
  }
  try {
    return checkTiming(t);
  } catch (e) {
    throw new UsageError(`--timing: ${inCliWords((e as Error).message)}`, command);
  }
}

/** `grace 2 s, max-commit-lag 30 s, ...`: every field, in seconds. */
export function formatTiming(t: Timing): string {
  return Object.entries(TIMING_NAMES).map(([cli, field]) => `${cli} ${t[field] / 1000} s`)
    .join(", ");
}

/** Whether two timings are the same. */
export function sameTiming(a: Timing, b: Timing): boolean {
  return Object.values(TIMING_NAMES).every((f) => a[f] === b[f]);
}

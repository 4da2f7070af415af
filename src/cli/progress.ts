/**
 * The progress bar of `import`, `export` and `cp`: bytes done of the total,
 * rate and time left, drawn on stderr with `cli-progress` and only when
 * stderr is a terminal (`Deno.stderr.isTerminal()`); piped or redirected, the
 * tool prints nothing while it works. A transfer of unknown size (from
 * stdin) shows bytes and rate without a bar.
 *
 * @module
 */

// @ts-types="npm:@types/cli-progress@^3.11.6"
import cliProgress from "npm:cli-progress@^3.12.0";
import process from "node:process";
import type { TransferProgress } from "../streams/types.ts";
import { formatBytes, formatDuration } from "./format.ts";

/** What the commands call: `update` on every progress report, `stop` at the end (or failure). */
export interface Progress {
  /** Reports progress (from the streams' `onProgress`). */
  update(p: TransferProgress): void;
  /** Removes the bar (idempotent). */
  stop(): void;
}

const NOOP: Progress = { update(): void {}, stop(): void {} };

/** Whether a bar is drawn: stderr is a terminal. */
export function progressWanted(): boolean {
  return Deno.stderr.isTerminal();
}

/** A progress bar labelled `label` on stderr, or one that prints nothing (not a terminal). */
export function startProgress(label: string): Progress {
  if (!progressWanted()) return NOOP;
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  let knownTotal: number | undefined;
  const payload = (p: TransferProgress): Record<string, string> => {
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? p.bytes / secs : 0;
    const left = p.total !== undefined && rate > 0 ? (p.total - p.bytes) / rate : NaN;
    return {
      label,
      done: formatBytes(p.bytes),
      all: p.total !== undefined ? formatBytes(p.total) : "?",
      rate: `${formatBytes(Math.round(rate))}/s`,
      left: Number.isNaN(left) ? "?" : formatDuration(left),
    };
  };
  return {
    update(p: TransferProgress): void {
      if (!bar) {
        knownTotal = p.total;
        bar = new cliProgress.SingleBar({
          stream: process.stderr,
          format: knownTotal !== undefined
            ? "{label} [{bar}] {percentage}% {done} / {all}, {rate}, {left} left"
            : "{label} {done}, {rate}",
          barCompleteChar: "#",
          barIncompleteChar: "-",
          barsize: 30,
          hideCursor: true,
          clearOnComplete: false,
          fps: 10,
          // progressWanted() already decided that stderr is a terminal.
          noTTYOutput: true,
          notTTYSchedule: 200,
        });
        bar.start(knownTotal ?? 0, 0, payload(p));
      }
      bar.update(p.bytes, payload(p));
    },
    stop(): void {
      if (!bar) return;
      bar.stop();
      bar = undefined;
    },
  };
}

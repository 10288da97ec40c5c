/**
 * How much of a plan rests on measured times, and where they came from. A split made from no
 * timings, or from timings that miss most files, is a guess; every splitter users complain about
 * (circleci-docs#4594, parallel_tests#426) falls back silently. This one says so in the plan, the
 * run summary and the `shards` CLI, from the same figures. Pure: resolved timings in, data and text out.
 */
import type { ResolvedTimings, Timings } from "./timings.js";

/** What the estimate of a file without timing was based on. */
export type EstimateBasis = "median" | "file-size" | "equal";

/** Why the split is a guess; undefined when most files were measured. */
export type TimingFallback = "no-timings" | "most-files-unknown";

export interface TimingCoverage {
  /** Where the timings came from (`spec/timings.json`, `--timings timings.json`, `(none)`). */
  source: string;
  format: Timings["format"];
  files: { total: number; measured: number };
  /** Examples with a time of their own (an rspec id in the timings), and how many examples run when known. */
  examples: { measured: number; total?: number; inMeasuredFiles?: number };
  /** How the unmeasured files were estimated (irrelevant when every file was measured). */
  basis: EstimateBasis;
  medianSeconds?: number;
  fallback?: TimingFallback;
}

/** Below this share of measured files the split is called a guess. */
export const MOST_FILES_UNKNOWN = 0.5;

/** The coverage of a plan: files measured vs estimated, examples with their own time. */
export function planTimingCoverage(timings: Pick<Timings, "format" | "source">, resolved: ResolvedTimings, options: { fileSizeFallback?: boolean } = {}): TimingCoverage {
  const total = resolved.files.length;
  const measuredFiles = resolved.files.filter((f) => !f.estimated);
  const examples = measuredFiles.reduce((n, f) => n + (f.examples?.length ?? 0), 0);
  const basis: EstimateBasis = resolved.medianSeconds !== undefined ? "median" : options.fileSizeFallback ? "file-size" : "equal";
  const fallback: TimingFallback | undefined =
    measuredFiles.length === 0 ? "no-timings" : measuredFiles.length / Math.max(total, 1) < MOST_FILES_UNKNOWN ? "most-files-unknown" : undefined;
  return {
    source: timings.source,
    format: timings.format,
    files: { total, measured: measuredFiles.length },
    examples: { measured: examples },
    basis,
    ...(resolved.medianSeconds !== undefined ? { medianSeconds: resolved.medianSeconds } : {}),
    ...(fallback ? { fallback } : {}),
  };
}

/**
 * The coverage of a run: of the examples that ran (ids from rspec's JSON report), how many had a
 * time of their own in the previous timings, and how many were in a measured file.
 */
export function runTimingCoverage(plan: TimingCoverage, previous: ResolvedTimings, ranIds: readonly string[]): TimingCoverage {
  const ownTime = new Set<string>();
  const measuredFiles = new Set<string>();
  for (const f of previous.files) {
    if (f.estimated) continue;
    measuredFiles.add(f.path);
    for (const e of f.examples ?? []) ownTime.add(e.id);
  }
  const fileOf = (id: string) => id.replace(/(\[[\d:,]+\]|:\d+)$/, "");
  return {
    ...plan,
    examples: {
      measured: ranIds.filter((id) => ownTime.has(id)).length,
      total: ranIds.length,
      inMeasuredFiles: ranIds.filter((id) => measuredFiles.has(fileOf(id))).length,
    },
  };
}

const percent = (part: number, whole: number) => `${whole > 0 ? Math.round((100 * part) / whole) : 0}%`;

function basisText(c: TimingCoverage): string {
  if (c.basis === "median") return `the median measured time${c.medianSeconds !== undefined ? ` (${c.medianSeconds.toFixed(2)} s)` : ""}`;
  return c.basis === "file-size" ? "file sizes" : "equal times (a split by file count)";
}

/**
 * One or two lines: the shares measured and their source, then, when the split fell back, a line
 * starting with `WARNING:` that says why and how to fix it.
 */
export function formatTimingCoverage(c: TimingCoverage): string {
  const unknown = c.files.total - c.files.measured;
  const from = c.format === "none" ? `no timings (${c.source})` : `${c.source} (${c.format})`;
  const examples =
    c.examples.total !== undefined
      ? `${c.examples.measured} of ${c.examples.total} examples run (${percent(c.examples.measured, c.examples.total)}) had their own time, ${c.examples.inMeasuredFiles ?? 0} (${percent(c.examples.inMeasuredFiles ?? 0, c.examples.total)}) a measured file`
      : `${c.examples.measured} examples with their own time`;
  const lines = [
    `timings: ${c.files.measured} of ${c.files.total} files measured (${percent(c.files.measured, c.files.total)}), ${examples}; from ${from}${unknown > 0 ? `; ${unknown} file(s) estimated from ${basisText(c)}` : ""}`,
  ];
  const fix = "pass --timings with timings.json (or the JUnit report) of a previous run, or commit it as test.timingsFile";
  if (c.fallback === "no-timings") {
    lines.push(`WARNING: no measured timings: all ${c.files.total} files are estimated from ${basisText(c)}, so the split is a guess (fix: ${fix})`);
  } else if (c.fallback === "most-files-unknown") {
    lines.push(`WARNING: most files have no timing: only ${c.files.measured} of ${c.files.total} (${percent(c.files.measured, c.files.total)}) measured, the rest estimated, so the split is mostly a guess (fix: ${fix})`);
  }
  return lines.join("\n");
}

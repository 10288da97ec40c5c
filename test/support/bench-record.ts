/**
 * The figures `npm run bench:example-run -- --format json` prints per run, from a run's result.
 * Pure, so the JSON shape is unit-tested (test/unit/bench-record.test.ts).
 */
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import type { TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";

export interface BenchRun {
  strategy: string;
  shards: number;
  slowestSeconds: number;
  meanSeconds: number;
  maxOverMean: number;
  examples: number;
  passed: number;
  failed: number;
  /** Ids (or locations) of the examples that failed, then passed on a retry. */
  flaky: string[];
  brokenShards: number;
  /** What the retries cost (wall seconds, summed over shards), and what they may cost: the retried examples' time in every retry attempt plus one boot per shard that retried. */
  retrySeconds: number;
  retryBudgetSeconds: number;
  /** Where the plan's timings came from, and whether it fell back. */
  timings: string;
}

const round = (x: number) => Number(x.toFixed(3));

/** `Finished in 1.2 seconds (files took 7.1 seconds to load)`: the first boot in a shard's output. */
export function bootSeconds(output: string): number | undefined {
  const m = /files took ([\d.]+) seconds? to load/.exec(output.replace(/\x1b\[[0-9;]*m/g, ""));
  return m ? Number(m[1]) : undefined;
}

export function benchRecord(
  strategy: string,
  shards: number,
  result: TestRunResult,
  outcomes: ReadonlyArray<{ output: string; retrySeconds?: number; retries?: ReadonlyArray<{ junit: string }> }>,
): BenchRun {
  const secs = result.summary.shards.filter((s) => s.actualSource !== "none").map((s) => s.actualSeconds);
  const slowest = secs.length ? Math.max(...secs) : 0;
  const mean = secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : 0;
  const retried = outcomes.filter((o) => (o.retrySeconds ?? 0) > 0);
  const retriedExamplesSeconds = retried.flatMap((o) => o.retries ?? []).reduce((t, r) => t + (r.junit ? parseJUnit(r.junit, "retry").totals.time : 0), 0);
  const boots = retried.reduce((t, o) => t + (bootSeconds(o.output) ?? 0), 0);
  return {
    strategy,
    shards,
    slowestSeconds: round(slowest),
    meanSeconds: round(mean),
    maxOverMean: mean > 0 ? round(slowest / mean) : 1,
    examples: result.summary.totals.tests,
    passed: result.summary.totals.passed,
    failed: result.summary.totals.failures,
    flaky: result.flaky.map((f) => f.id ?? f.location),
    brokenShards: result.brokenShards,
    retrySeconds: round(retried.reduce((t, o) => t + (o.retrySeconds ?? 0), 0)),
    retryBudgetSeconds: round(retriedExamplesSeconds + boots),
    timings: `${result.coverage.source} (${result.coverage.files.measured}/${result.coverage.files.total} files measured${result.coverage.fallback ? `, ${result.coverage.fallback}` : ""})`,
  };
}

/**
 * Stale timings for the bench: the committed knapsack timings with every file's examples scaled by
 * a factor from 0.25 to 3 picked by the file's path (deterministic), so the relative times are wrong
 * the way timings recorded before big spec changes are.
 */
export function staleTimings(knapsackJson: string): string {
  const timings = JSON.parse(knapsackJson) as Record<string, number>;
  const factor = (key: string) => {
    const file = key.replace(/(\[[\d:,]+\]|:\d+)$/, "");
    let h = 2166136261;
    for (const ch of file) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    return 0.25 + ((h % 1000) / 1000) * 2.75;
  };
  return JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number((v * factor(k)).toFixed(6))])), null, 2);
}

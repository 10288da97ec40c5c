/**
 * The glue of a sharded test run, pure: plan the shards from what was read (spec files, previous
 * timings, file sizes), then turn what the shards produced into the reports the run exports
 * (merged JUnit, next run's timings, summary). The Dagger wiring and the integration test both
 * call these, so they cannot disagree.
 */
import { mergeJUnit } from "./junit.js";
import { parseShardUnit, planShards, validateShardOptions, type ShardPlan } from "./shards.js";
import { formatTestSummary, resolveTestSummary, type TestSummary } from "./test-summary.js";
import { formatKnapsackTimings, parseTimingsOrWarn, resolveTimings, type ResolvedTimings } from "./timings.js";

export interface TestRunInput {
  /** `spec/...` files that exist in the source. */
  specFiles: string[];
  /** Previous timings (any format `parseTimings` reads); undefined: none. */
  timingsText?: string;
  timingsSource: string;
  /** Bytes per spec file: the estimate when no timing at all is known. */
  fileSizes: Record<string, number>;
  shards: number;
  /** -1: every shard; otherwise only this one. */
  shardIndex: number;
  /** Split a file that alone exceeds total/shards by its example ids (default true). */
  splitExamples?: boolean;
}

export interface TestRunPlan {
  shardPlan: ShardPlan;
  /** The shard indices this call runs. */
  selected: number[];
  previous: ResolvedTimings;
  warnings: string[];
  /**
   * Per shard index: the split files whose examples unknown to the timings it also runs (the lowest
   * shard holding part of the file), so an example added since the timings ran somewhere.
   */
  catchAll: Record<number, Array<{ file: string; knownIds: string[] }>>;
}

/** Bytes per second of spec file, for the size fallback: only the ratios between files matter. */
const BYTES_PER_SECOND = 1000;

export function planTestRun(input: TestRunInput): TestRunPlan {
  validateShardOptions(input.shards, input.shardIndex === -1 ? undefined : input.shardIndex);
  const timings = parseTimingsOrWarn(input.timingsText, input.timingsSource);
  const fallbackSeconds = Object.fromEntries(Object.entries(input.fileSizes).map(([f, bytes]) => [f, Math.max(bytes, 1) / BYTES_PER_SECOND]));
  const previous = resolveTimings(timings, input.specFiles, { fallbackSeconds });
  const shardPlan = planShards(previous.files, {
    shards: input.shards,
    ...(input.shardIndex >= 0 ? { shardIndex: input.shardIndex } : {}),
    splitExamples: input.splitExamples ?? true,
  });
  const selected = input.shardIndex >= 0 ? [input.shardIndex] : shardPlan.shards.map((s) => s.index);
  return { shardPlan, selected, previous, warnings: previous.warnings, catchAll: planCatchAll(shardPlan, previous) };
}

function planCatchAll(shardPlan: ShardPlan, previous: ResolvedTimings): TestRunPlan["catchAll"] {
  const out: TestRunPlan["catchAll"] = {};
  for (const split of shardPlan.splitFiles) {
    const owner = shardPlan.shards.find((s) => s.units.some((u) => parseShardUnit(u).file === split.path));
    const knownIds = previous.files.find((f) => f.path === split.path)?.examples?.map((e) => e.id) ?? [];
    if (owner) (out[owner.index] ??= []).push({ file: split.path, knownIds });
  }
  return out;
}

/** What one shard left behind (files may be missing when it broke before rspec). */
export interface ShardOutcome {
  index: number;
  /** The process's exit code; -1 when the engine failed the shard without one. */
  exitCode: number;
  /** stdout */
  output: string;
  /** stderr: the shard script's reasons (`pipeline: ...`) and rspec's errors outside examples. */
  stderr?: string;
  /** The engine's error when it failed the shard (a process killed by a signal, a service that never started). */
  failure?: string;
  junit: string;
  /** rspec's JSON report: per-example ids and run times. */
  rspecJson?: string;
  seconds?: number;
}

export interface TestRunResult {
  summary: TestSummary;
  text: string;
  failures: number;
  brokenShards: number;
  mergedJUnit: string;
  /** Knapsack JSON for the next run: per example where ids are known, else per file. */
  timingsJson: string;
}

export function summariseTestRun(plan: TestRunPlan, outcomes: readonly ShardOutcome[]): TestRunResult {
  const summary = resolveTestSummary(
    outcomes.map((o) => ({
      index: o.index,
      units: plan.shardPlan.shards[o.index]!.units,
      predictedSeconds: plan.shardPlan.shards[o.index]!.predictedSeconds,
      junit: o.junit || undefined,
      wallSeconds: o.seconds,
      ...(o.exitCode >= 0 ? { exitCode: o.exitCode } : {}),
      reason: explainShardOutcome(o),
    })),
  );
  const reports = outcomes.filter((o) => o.junit).map((o) => ({ xml: o.junit, name: `shard-${o.index}` }));
  const warnings = plan.warnings.length ? `\n\nTimings warnings:\n${plan.warnings.map((w) => `  ${w}`).join("\n")}` : "";
  return {
    summary,
    text: formatTestSummary(summary) + warnings,
    failures: summary.totals.failures,
    brokenShards: summary.problems.length,
    mergedJUnit: mergeJUnit(reports, { name: "rspec" }),
    timingsJson: nextTimings(plan.previous, outcomes),
  };
}

const SIGNALS: Record<number, string> = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM" };

/**
 * Why a shard broke, in a line: a death by signal (exit 128+n: 137 is SIGKILL, usually the kernel's
 * out-of-memory killer), the engine's error, and the last lines the shard wrote to stderr (the
 * script's `pipeline: ...` reasons first). Undefined when there is nothing to say.
 */
export function explainShardOutcome(o: Pick<ShardOutcome, "exitCode" | "stderr" | "failure">): string | undefined {
  const parts: string[] = [];
  if (o.exitCode >= 128 && o.exitCode <= 191) {
    const n = o.exitCode - 128;
    parts.push(`killed by signal ${n}${SIGNALS[n] ? ` (${SIGNALS[n]}${n === 9 ? ", usually out of memory" : ""})` : ""}, exit ${o.exitCode}`);
  }
  if (o.failure && !(o.exitCode >= 128 && o.exitCode <= 191)) parts.push(o.failure);
  const lines = (o.stderr ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  const reasons = lines.filter((l) => l.startsWith("pipeline:"));
  const tail = (reasons.length > 0 ? reasons : lines).slice(-3).map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l));
  if (tail.length > 0) parts.push(`stderr: ${tail.join(" | ")}`);
  return parts.length > 0 ? parts.join("; ") : undefined;
}

/** `status.json` of the report: what CI decides from, read from the same call that exported it. */
export function testStatus(result: TestRunResult): { schemaVersion: 1; passed: boolean; tests: number; failures: number; brokenShards: number; shards: number } {
  const s = result.summary;
  return { schemaVersion: 1, passed: s.passed, tests: s.totals.tests, failures: s.totals.failures, brokenShards: result.brokenShards, shards: s.totals.shards };
}

/**
 * The timings the next run plans with: what this run measured (per example, from rspec's JSON),
 * and for files this call did not run (a single --shard-index) the previous measurement.
 */
export function nextTimings(previous: ResolvedTimings, outcomes: readonly ShardOutcome[]): string {
  const measured = new Map<string, Array<{ key: string; seconds: number }>>();
  for (const o of outcomes) {
    if (!o.rspecJson) continue;
    for (const f of parseTimingsOrWarn(o.rspecJson, `shard ${o.index} rspec.json`).files) {
      const entries = measured.get(f.path) ?? [];
      if (f.examples) entries.push(...f.examples.map((e) => ({ key: e.id, seconds: e.seconds })));
      else entries.push({ key: f.path, seconds: f.seconds });
      measured.set(f.path, entries);
    }
  }
  const out: Array<{ path: string; seconds: number }> = [];
  for (const [, entries] of measured) out.push(...entries.map((e) => ({ path: e.key, seconds: e.seconds })));
  for (const f of previous.files) {
    if (measured.has(f.path) || f.estimated) continue;
    if (f.examples) out.push(...f.examples.map((e) => ({ path: e.id, seconds: e.seconds })));
    else out.push({ path: f.path, seconds: f.seconds });
  }
  return formatKnapsackTimings(out);
}

/**
 * The glue of a sharded test run, pure: plan the shards from what was read (spec files, previous
 * timings, file sizes), then turn what the shards produced into the reports the run exports
 * (merged JUnit, next run's timings, summary). The Dagger wiring and the integration test both
 * call these, so they cannot disagree.
 */
import { PipelineError } from "./errors.js";
import { mergeJUnit } from "./junit.js";
import { narrowUnits, restrictToExamples } from "./only-failures.js";
import { flakyExamples, formatAttemptsJUnit, formatFlakyExamples, resolveAttempts, type AttemptReport, type ExampleVerdict, type FlakyExample } from "./retries.js";
import { parseShardUnit, planShards, validateShardOptions, type ShardPlan } from "./shard-planner.js";
import { formatTestSummary, resolveTestSummary, type TestSummary } from "./test-summary.js";
import { formatTimingCoverage, planTimingCoverage, runTimingCoverage, type TimingCoverage } from "./timing-coverage.js";
import { formatKnapsackTimings, parseTimingsOrWarn, resolveTimings, type ResolvedFileTiming, type ResolvedTimings } from "./timings.js";

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
  /** `--only-failures`: run just these example ids (or files) from the previous run's failures. */
  onlyExamples?: readonly string[];
}

export interface TestRunPlan {
  shardPlan: ShardPlan;
  /** The shard indices this call runs. */
  selected: number[];
  previous: ResolvedTimings;
  /** How much of the plan rests on measured times, and from where. */
  coverage: TimingCoverage;
  warnings: string[];
  /**
   * Per shard index: the split files whose examples unknown to the timings it also runs (the lowest
   * shard holding part of the file), so an example added since the timings ran somewhere.
   */
  catchAll: Record<number, Array<{ file: string; knownIds: string[] }>>;
  /** True for `--only-failures`: the run measures only some examples of a file. */
  partial?: boolean;
  /** The files the plan was made from: every spec file, or only the failed examples' (`--only-failures`). */
  plannedFiles: ResolvedFileTiming[];
}

/** Bytes per second of spec file, for the size fallback: only the ratios between files matter. */
const BYTES_PER_SECOND = 1000;

export function planTestRun(input: TestRunInput): TestRunPlan {
  validateShardOptions(input.shards, input.shardIndex === -1 ? undefined : input.shardIndex);
  const timings = parseTimingsOrWarn(input.timingsText, input.timingsSource);
  const fallbackSeconds = Object.fromEntries(Object.entries(input.fileSizes).map(([f, bytes]) => [f, Math.max(bytes, 1) / BYTES_PER_SECOND]));
  const previous = resolveTimings(timings, input.specFiles, { fallbackSeconds });
  const only = input.onlyExamples ? restrictToExamples(previous.files, input.onlyExamples) : undefined;
  if (only && only.files.length === 0) {
    throw new PipelineError("SHARD_PLAN_INVALID", "--only-failures: the previous run has no failed example that still exists, so there is nothing to rerun", {
      hint: "drop --only-failures to run the whole suite, or pass the report of the run that failed with --previous",
    });
  }
  const options = { shards: input.shards, ...(input.shardIndex >= 0 ? { shardIndex: input.shardIndex } : {}), splitExamples: input.splitExamples ?? true };
  const shardPlan = only ? narrowUnits(planShards(only.files, options), only.files) : planShards(previous.files, options);
  const selected = input.shardIndex >= 0 ? [input.shardIndex] : shardPlan.shards.map((s) => s.index);
  const coverage = planTimingCoverage(timings, previous, { fileSizeFallback: Object.keys(input.fileSizes).length > 0 });
  // Rerunning failures runs exactly the failed ids: no catch-all for examples added since the timings.
  const catchAll = only ? {} : planCatchAll(shardPlan, previous);
  return { shardPlan, selected, previous, coverage, warnings: [...previous.warnings, ...(only?.warnings ?? [])], catchAll, plannedFiles: only?.files ?? previous.files, ...(only ? { partial: true } : {}) };
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
  /** Reports of the retries of failed examples (`--retries`), attempt 1 first. */
  retries?: AttemptReport[];
  /** Wall seconds the retries took. */
  retrySeconds?: number;
}

/** One example of the run, as `examples.json` in the report lists it. */
export interface ExampleRecord {
  id?: string;
  file?: string;
  name: string;
  verdict: ExampleVerdict;
  /** The shard (static plan) or queue worker that ran it. */
  shard: number;
  attempts: number;
  seconds: number;
}

export interface TestRunResult {
  summary: TestSummary;
  text: string;
  failures: number;
  brokenShards: number;
  mergedJUnit: string;
  /** Every example with its verdict and the shard that ran it. */
  examples: ExampleRecord[];
  /** Examples that failed, then passed on a retry: listed apart, never counted as passed. */
  flaky: FlakyExample[];
  /** The plan's timing coverage, with the examples that ran. */
  coverage: TimingCoverage;
  /** Knapsack JSON for the next run: per example where ids are known, else per file. */
  timingsJson: string;
}

export function summariseTestRun(plan: TestRunPlan, outcomes: readonly ShardOutcome[]): TestRunResult {
  const attempts = outcomes.map(withAttempts);
  const summary = resolveTestSummary(
    attempts.map(({ outcome: o, junit }) => ({
      index: o.index,
      units: plan.shardPlan.shards[o.index]!.units,
      predictedSeconds: plan.shardPlan.shards[o.index]!.predictedSeconds,
      junit: junit || undefined,
      wallSeconds: o.seconds,
      ...(o.exitCode >= 0 ? { exitCode: o.exitCode } : {}),
      reason: explainShardOutcome(o),
    })),
  );
  const reports = attempts.filter((a) => a.junit).map((a) => ({ xml: a.junit, name: `shard-${a.outcome.index}` }));
  const flaky = attempts.flatMap((a) => flakyExamples(a.outcome.index, a.examples));
  // A flaky example's testcase passes in JUnit (Surefire's convention); the summary never counts it as passed.
  if (flaky.length > 0) {
    summary.totals = { ...summary.totals, passed: summary.totals.passed - flaky.length, flaky: flaky.length };
    for (const s of summary.shards) s.passed -= flaky.filter((f) => f.shardIndex === s.index).length;
  }
  const flakyText = flaky.length ? `\n\n${formatFlakyExamples(flaky)}` : "";
  const warnings = plan.warnings.length ? `\n\nTimings warnings:\n${plan.warnings.map((w) => `  ${w}`).join("\n")}` : "";
  const coverage = runTimingCoverage(plan.coverage, plan.previous, ranExampleIds(outcomes));
  return {
    summary,
    coverage,
    text: `${formatTestSummary(summary)}${flakyText}\n${formatTimingCoverage(coverage)}${warnings}`,
    examples: attempts.flatMap((a) => a.examples.map((e) => exampleRecord(a.outcome.index, e))),
    flaky,
    failures: summary.totals.failures,
    brokenShards: summary.problems.length,
    mergedJUnit: mergeJUnit(reports, { name: "rspec" }),
    timingsJson: nextTimings(plan.previous, outcomes, { partial: plan.partial ?? false }),
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

/**
 * A shard's attempts resolved per example; its JUnit rewritten with every attempt and the example ids
 * when rspec's JSON report was written (else kept as it was: an unreadable one is reported as such).
 */
function withAttempts(outcome: ShardOutcome): { outcome: ShardOutcome; junit: string; examples: ReturnType<typeof resolveAttempts> } {
  if (!outcome.junit || (!outcome.rspecJson && !outcome.retries?.length)) return { outcome, junit: outcome.junit, examples: [] };
  try {
    const examples = resolveAttempts([{ junit: outcome.junit, rspecJson: outcome.rspecJson }, ...(outcome.retries ?? [])], `shard ${outcome.index} JUnit report`);
    return { outcome, junit: formatAttemptsJUnit(examples, { name: `shard-${outcome.index}` }), examples };
  } catch {
    return { outcome, junit: outcome.junit, examples: [] };
  }
}

function exampleRecord(shard: number, e: ReturnType<typeof resolveAttempts>[number]): ExampleRecord {
  const first = e.attempts[0]!;
  return {
    ...(e.id ? { id: e.id } : {}),
    ...(first.file ? { file: first.file } : {}),
    name: first.name,
    verdict: e.verdict,
    shard,
    attempts: e.attempts.length,
    seconds: first.time,
  };
}

/** `examples.json` of the report: one line per example, so a later `--only-failures` and people can read it. */
export function formatExamplesJson(examples: readonly ExampleRecord[]): string {
  return `{"examples": [\n${examples.map((e) => `  ${JSON.stringify(e)}`).join(",\n")}\n]}\n`;
}

/** The ids of the examples the shards ran, from their rspec JSON reports. */
function ranExampleIds(outcomes: readonly ShardOutcome[]): string[] {
  const ids: string[] = [];
  for (const o of outcomes) {
    if (!o.rspecJson) continue;
    for (const f of parseTimingsOrWarn(o.rspecJson, `shard ${o.index} rspec.json`).files) ids.push(...(f.examples ?? []).map((e) => e.id));
  }
  return ids;
}

/**
 * The timings the next run plans with: what this run measured (per example, from rspec's JSON),
 * and for files this call did not run (a single --shard-index) the previous measurement.
 */
export function nextTimings(previous: ResolvedTimings, outcomes: readonly ShardOutcome[], options: { partial?: boolean } = {}): string {
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
    if (f.estimated) continue;
    if (measured.has(f.path)) {
      // A partial run (--only-failures) measured some examples of the file: keep the others' times.
      if (!options.partial || !f.examples) continue;
      const fresh = new Set(measured.get(f.path)!.map((e) => e.key));
      out.push(...f.examples.filter((e) => !fresh.has(e.id)).map((e) => ({ path: e.id, seconds: e.seconds })));
      continue;
    }
    if (f.examples) out.push(...f.examples.map((e) => ({ path: e.id, seconds: e.seconds })));
    else out.push({ path: f.path, seconds: f.seconds });
  }
  return formatKnapsackTimings(out);
}

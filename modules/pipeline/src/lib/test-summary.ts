/**
 * The summary of a sharded test run: per shard predicted vs actual seconds, the balance ratio
 * (max / mean of actual), every failure with `file:line` and message, and totals. Pure: the caller
 * passes the plan's per-shard figures and each shard's JUnit XML (+ wall time, exit code);
 * `formatTestSummary` gives the text the Dagger function prints and fails with.
 */
import { errorMessage } from "./errors.js";
import { parseJUnit, type JUnitReport } from "./junit.js";

export interface ShardRunInput {
  index: number;
  /** The units the plan gave this shard (rspec arguments). */
  units: readonly string[];
  predictedSeconds: number;
  /** The shard's JUnit XML (string, parsed here) or an already parsed report; undefined when none was written. */
  junit?: string | JUnitReport;
  /** Measured wall seconds of the shard's rspec command; the JUnit time is used when absent. */
  wallSeconds?: number;
  /** rspec's exit code; a non-zero code without failed examples (load error, crash) fails the run too. */
  exitCode?: number;
  /** Why the shard broke, when it did (a signal, the engine's error, its stderr): added to its problem. */
  reason?: string;
}

export interface ShardSummary {
  index: number;
  units: number;
  predictedSeconds: number;
  /** Wall seconds when measured, else the JUnit time, else 0. */
  actualSeconds: number;
  actualSource: "wall" | "junit" | "none";
  tests: number;
  passed: number;
  failures: number;
  skipped: number;
  exitCode?: number;
  /** Why the shard failed without a failing example (no report, unreadable report, non-zero exit). */
  problem?: string;
}

export interface FailureSummary {
  shardIndex: number;
  /** `spec/a_spec.rb:42`, or the file when the line is unknown, or the classname. */
  location: string;
  name: string;
  message: string;
}

export interface TestSummary {
  /** True when no example failed and every shard ran cleanly. */
  passed: boolean;
  shards: ShardSummary[];
  /** `flaky`: failed, then passed on a retry; not in `passed` (set by the run when retries ran). */
  totals: { shards: number; tests: number; passed: number; failures: number; skipped: number; units: number; flaky?: number };
  /** Slowest shard's actual seconds (the run's wall time when shards run in parallel). */
  makespanSeconds: number;
  /** Slowest shard's predicted seconds. */
  predictedMakespanSeconds: number;
  /** max / mean of the actual seconds of the shards that measured any (1 is perfectly balanced); 1 when none did. */
  balanceRatio: number;
  failures: FailureSummary[];
  /** Shard problems that are not example failures. */
  problems: Array<{ shardIndex: number; message: string }>;
}

/** Build the run summary from every shard's plan figures and results. */
export function resolveTestSummary(shards: readonly ShardRunInput[]): TestSummary {
  const summaries: ShardSummary[] = [];
  const failures: FailureSummary[] = [];
  const problems: TestSummary["problems"] = [];
  for (const shard of [...shards].sort((a, b) => a.index - b.index)) {
    let report: JUnitReport | undefined;
    let problem: string | undefined;
    if (typeof shard.junit === "string") {
      try {
        report = parseJUnit(shard.junit, `shard ${shard.index} JUnit report`);
      } catch (err) {
        problem = `its JUnit report is unreadable: ${errorMessage(err).split("\n")[0]}`;
      }
    } else if (shard.junit) {
      report = shard.junit;
    } else if (shard.units.length > 0) {
      problem = "it wrote no JUnit report";
    }
    const totals = report?.totals ?? { tests: 0, passed: 0, failures: 0, skipped: 0, time: 0 };
    if (!problem && shard.exitCode !== undefined && shard.exitCode !== 0 && totals.failures === 0) {
      problem = `rspec exited with ${shard.exitCode} but no example failed (an error outside examples, e.g. a load error)`;
    }
    if (problem && shard.exitCode !== undefined && shard.exitCode !== 0 && !problem.includes("exited")) problem += ` (rspec exited with ${shard.exitCode})`;
    if (problem && shard.reason) problem += `: ${shard.reason}`;
    if (problem) problems.push({ shardIndex: shard.index, message: problem });

    for (const c of report?.cases ?? []) {
      if (c.status !== "failed") continue;
      failures.push({
        shardIndex: shard.index,
        location: c.location ?? c.file ?? c.classname,
        name: c.name,
        message: (c.failure?.message ?? "").trim() || firstLine(c.failure?.text ?? "") || "failed",
      });
    }
    const actualSource: ShardSummary["actualSource"] = shard.wallSeconds !== undefined ? "wall" : report ? "junit" : "none";
    summaries.push({
      index: shard.index,
      units: shard.units.length,
      predictedSeconds: shard.predictedSeconds,
      actualSeconds: shard.wallSeconds ?? (report ? (report.reportedTime ?? totals.time) : 0),
      actualSource,
      tests: totals.tests,
      passed: totals.passed,
      failures: totals.failures,
      skipped: totals.skipped,
      ...(shard.exitCode !== undefined ? { exitCode: shard.exitCode } : {}),
      ...(problem ? { problem } : {}),
    });
  }
  // Shards with nothing measured (no report, no wall time) say nothing about balance.
  const actual = summaries.filter((s) => s.actualSource !== "none").map((s) => s.actualSeconds);
  const makespan = actual.length ? Math.max(...actual) : 0;
  const mean = actual.length ? actual.reduce((a, b) => a + b, 0) / actual.length : 0;
  const add = (key: "tests" | "passed" | "failures" | "skipped" | "units") => summaries.reduce((n, s) => n + s[key], 0);
  return {
    passed: failures.length === 0 && problems.length === 0,
    shards: summaries,
    totals: { shards: summaries.length, tests: add("tests"), passed: add("passed"), failures: add("failures"), skipped: add("skipped"), units: add("units") },
    makespanSeconds: makespan,
    predictedMakespanSeconds: summaries.length ? Math.max(...summaries.map((s) => s.predictedSeconds)) : 0,
    balanceRatio: mean > 0 ? makespan / mean : 1,
    failures,
    problems,
  };
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.trim() ?? "";
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

/**
 * The readable text of a summary: verdict, a per-shard table (predicted vs actual), balance, then
 * failures as `file:line  name` + message (at most `maxFailures`, default 50) and shard problems.
 */
export function formatTestSummary(summary: TestSummary, options: { maxFailures?: number } = {}): string {
  const t = summary.totals;
  const secs = (x: number) => `${x.toFixed(1)} s`;
  const verdict = summary.passed ? "PASSED" : "FAILED";
  const lines = [
    `${verdict}: ${t.tests} examples, ${t.failures} failed, ${t.flaky ? `${t.flaky} flaky, ` : ""}${t.skipped} skipped, ${t.passed} passed in ${t.shards} shard(s); slowest shard ${secs(summary.makespanSeconds)}`,
    "",
    "shard  units  predicted     actual  tests  failed  skipped",
  ];
  for (const s of summary.shards) {
    lines.push(
      `${pad(s.index, 5)}  ${pad(s.units, 5)}  ${pad(secs(s.predictedSeconds), 9)}  ${pad(s.actualSource === "none" ? "-" : secs(s.actualSeconds), 9)}  ${pad(s.tests, 5)}  ${pad(s.failures, 6)}  ${pad(s.skipped, 7)}${s.problem ? "  !" : ""}`,
    );
  }
  lines.push("");
  lines.push(`balance: max/mean ${summary.balanceRatio.toFixed(2)} (actual), predicted makespan ${secs(summary.predictedMakespanSeconds)}, actual ${secs(summary.makespanSeconds)}`);
  const max = options.maxFailures ?? 50;
  if (summary.failures.length > 0) {
    lines.push("", `Failures (${summary.failures.length}):`);
    for (const f of summary.failures.slice(0, max)) {
      lines.push(`  ${f.location}  ${f.name}  [shard ${f.shardIndex}]`);
      const message = f.message.split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "").slice(0, 3);
      for (const m of message) lines.push(`    ${m}`);
    }
    if (summary.failures.length > max) lines.push(`  ... and ${summary.failures.length - max} more (see the merged JUnit report)`);
    const rerun = [...new Set(summary.failures.map((f) => f.location))].filter((l) => /\.rb(:\d+)?$/.test(l)).slice(0, 20);
    if (rerun.length > 0) lines.push("", `rerun: bundle exec rspec ${rerun.join(" ")}`);
  }
  if (summary.problems.length > 0) {
    lines.push("", `Shard problems (${summary.problems.length}):`);
    for (const p of summary.problems) lines.push(`  shard ${p.shardIndex}: ${p.message}`);
  }
  return lines.join("\n");
}

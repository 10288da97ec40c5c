/**
 * `npm run --silent shards -- --shards <n> [--source <app dir>] [--timings <file>] [--shard-index i] [--format json|text]`
 *
 * Plans timing-balanced rspec shards without Dagger.
 * - With `--source <app dir>` it plans exactly as `dagger call test` does (the same `planTestRun`):
 *   the units are the files `test.specGlob` of the app's pipeline.json matches (default
 *   `spec/**\/*_spec.rb`), timed or not; the timings are `--timings`, else the app's committed
 *   `test.timingsFile`, else the spec files' sizes. Timed files that vanished are dropped, untimed ones
 *   get the median time; a timings file that cannot be parsed only warns and the split falls back.
 * - Without `--source`, the units are exactly the entries of `--timings` (strict: it must parse).
 * - `--shard-index i` prints only shard i: its units as rspec arguments (text) or its JSON object.
 *
 * stdout carries only the result; warnings go to stderr. Exit status: see cli/args.ts (2 for a bad
 * flag or input file, 1 for a failed operation); errors print `[CODE] message` and a `fix:` line.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PipelineError } from "../src/lib/errors.js";
import { formatShardPlan, formatShellArgs, MAX_SHARDS, planShards, validateShardOptions, type ShardPlan } from "../src/lib/shard-planner.js";
import { planTestRun, type TestRunInput } from "../src/lib/test-run.js";
import { formatTimingCoverage, planTimingCoverage, type TimingCoverage } from "../src/lib/timing-coverage.js";
import { parseTimings, resolveTimings } from "../src/lib/timings.js";
import { parseFlags, runCli, type CliIo } from "./args.js";
import { readInputText } from "./input-file.js";
import { listSourceFiles, readOptionalSourceText, readSourceConfig, requireSourceDirectory } from "./source-dir.js";

export const SHARDS_FLAGS = {
  timings: { type: "string", description: "previous timings: knapsack JSON, JUnit XML, parallel_tests log or rspec JSON" },
  shards: { type: "integer", required: true, min: 1, max: MAX_SHARDS, description: "number of parallel shards" },
  source: { type: "string", description: "the application directory, planned as dagger call test plans it" },
  "shard-index": { type: "integer", description: "print only this shard (0-based, below --shards)" },
  format: { type: "string", choices: ["json", "text"], default: "json" },
  "whole-files": { type: "boolean", description: "never split a file by example ids" },
} as const;

const COMMAND = "npm run shards --";
const SUMMARY =
  "Plans timing-balanced rspec shards without Dagger. With --source it splits exactly as dagger call test does " +
  "(the app's test.specGlob, then --timings, the restored test.timingsCacheFile, the committed test.timingsFile, or " +
  "file sizes); without it the " +
  "units are the entries of --timings.";
const TIMINGS_HINT = "pass the timings file of a previous run (e.g. timings.json exported by `dagger call test`), or leave --timings out and pass --source";

function readTimingsFlag(file: string): string {
  return readInputText(file, { label: `--timings ${file}`, code: "TIMINGS_INVALID", hint: TIMINGS_HINT });
}

/**
 * What `dagger call test` reads from the app (src/test-suite.ts `readTestInputs`), read from a local
 * directory: the spec files `test.specGlob` matches, the timings (`--timings`, else the restored
 * `test.timingsCacheFile`, else the committed `test.timingsFile`), and the spec files' sizes when
 * there are no timings.
 */
export function readSourceTestInputs(source: string, timingsFlag?: string): Pick<TestRunInput, "specFiles" | "timingsText" | "timingsSource" | "fileSizes"> {
  requireSourceDirectory(source);
  const config = readSourceConfig(source);
  const specFiles = listSourceFiles(source, config.test.specGlob);
  if (specFiles.length === 0) {
    throw new PipelineError("SOURCE_FILE_MISSING", `no spec files match ${config.test.specGlob} in --source ${source}`, {
      hint: "pass the application repository with --source <dir> (it needs a spec/ folder), or set test.specGlob in pipeline.json",
    });
  }
  let timingsText: string | undefined;
  let timingsSource = "(none)";
  if (timingsFlag !== undefined) {
    timingsText = readTimingsFlag(timingsFlag);
    timingsSource = `--timings ${timingsFlag}`;
  } else {
    // The same order as the module: the previous run's merged timings where CI restored its cache, then the committed file.
    for (const [file, key] of [[config.test.timingsCacheFile, "timingsCacheFile"], [config.test.timingsFile, "timingsFile"]] as const) {
      timingsText = readOptionalSourceText(source, file, "TIMINGS_INVALID", `make ${file} a timings file, or set test.${key} in pipeline.json`);
      if (timingsText !== undefined) {
        timingsSource = file;
        break;
      }
    }
  }
  const fileSizes = timingsText === undefined ? Object.fromEntries(specFiles.map((f) => [f, statSync(path.join(source, f)).size])) : {};
  return { specFiles, timingsText, timingsSource, fileSizes };
}

/** The plan as the CLI prints it in JSON (`shards`, `lowerBoundSeconds`, `makespanSeconds`, ...). */
export function planToJson(plan: ShardPlan, warnings: readonly string[], coverage?: TimingCoverage): object {
  return {
    shards: plan.shards.map((s) => ({ index: s.index, units: s.units, predictedSeconds: round(s.predictedSeconds) })),
    lowerBoundSeconds: round(plan.lowerBoundSeconds),
    makespanSeconds: round(plan.makespanSeconds),
    ratio: Number(plan.ratio.toFixed(6)),
    totalSeconds: round(plan.totalSeconds),
    bottleneck: { ...plan.bottleneck, unitSeconds: round(plan.bottleneck.unitSeconds) },
    splitFiles: plan.splitFiles,
    unsplittable: plan.unsplittable.map((u) => ({ ...u, seconds: round(u.seconds) })),
    fileCount: plan.fileCount,
    estimatedCount: plan.estimatedCount,
    ...(coverage ? { coverage } : {}),
    warnings,
  };
}

function round(x: number): number {
  return Number(x.toFixed(3));
}

/** The CLI body, with I/O injected for tests. */
export function runShardsCli(argv: readonly string[], io: Pick<CliIo, "stdout" | "stderr">): void {
  const flags = parseFlags(argv, SHARDS_FLAGS, { command: COMMAND, summary: SUMMARY });
  if (flags.timings === undefined && flags.source === undefined) {
    throw new PipelineError("ARGUMENT_INVALID", `${COMMAND}: neither --timings nor --source was given, so there is nothing to plan`, {
      hint: "pass --timings <previous timings file>, --source <app dir>, or both",
    });
  }
  // Validate --shards / --shard-index before any file work, so the message is about the flag.
  validateShardOptions(flags.shards, flags["shard-index"], { command: COMMAND });
  const options = {
    shards: flags.shards,
    ...(flags["shard-index"] !== undefined ? { shardIndex: flags["shard-index"] } : {}),
    splitExamples: !flags["whole-files"],
  };

  let plan: ShardPlan;
  let warnings: string[];
  let coverage: TimingCoverage;
  if (flags.source !== undefined) {
    // The very planTestRun of dagger call test, on the same inputs.
    const run = planTestRun({ ...readSourceTestInputs(flags.source, flags.timings), shards: options.shards, shardIndex: options.shardIndex ?? -1, splitExamples: options.splitExamples });
    ({ shardPlan: plan, warnings, coverage } = run);
  } else {
    const timings = parseTimings(readTimingsFlag(flags.timings!), flags.timings!);
    const resolved = resolveTimings(timings);
    plan = planShards(resolved.files, options);
    warnings = resolved.warnings;
    coverage = planTimingCoverage(timings, resolved);
  }
  for (const w of warnings) io.stderr(`warning: ${w}\n`);
  // A fallback is said on stderr as well (stdout carries only the result): a guessed split is never silent.
  if (coverage.fallback) io.stderr(`${formatTimingCoverage(coverage).split("\n").slice(1).join("\n")}\n`);

  if (plan.selected) {
    const s = plan.selected;
    if (flags.format === "text") io.stdout(s.units.length > 0 ? `${formatShellArgs(s.units)}\n` : "");
    else io.stdout(`${JSON.stringify({ index: s.index, units: s.units, predictedSeconds: round(s.predictedSeconds) })}\n`);
    if (s.units.length === 0) io.stderr(`warning: shard ${s.index} has nothing to run (more shards than units): skip it, do not run rspec without arguments\n`);
    return;
  }
  if (flags.format === "text") io.stdout(`${formatShardPlan(plan)}\n${formatTimingCoverage(coverage)}\n`);
  else io.stdout(`${JSON.stringify(planToJson(plan, warnings, coverage), null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  void runCli((io) => runShardsCli(process.argv.slice(2), io));
}

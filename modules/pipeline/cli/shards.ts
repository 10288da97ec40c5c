/**
 * `npm run --silent shards -- --timings <file> --shards <n> [--source <app dir>] [--shard-index i] [--format json|text]`
 *
 * Plans timing-balanced rspec shards without Dagger, exactly as `dagger call test` does.
 * - Without `--source`, the units are exactly the entries of the timings file (it must be readable).
 * - With `--source <app dir>`, the units are the `spec/**\/*_spec.rb` files there, timed or not; timed
 *   files that vanished are dropped, untimed ones get the median time; a timings file that cannot be
 *   parsed only warns (on stderr) and the split falls back to estimates (a missing one is an error).
 * - `--shard-index i` prints only shard i: its units as rspec arguments (text) or its JSON object.
 *
 * stdout carries only the result; warnings go to stderr. Bad input exits non-zero with `[CODE] message`
 * and a `fix:` line, no stack trace.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { PipelineError } from "../src/lib/errors.js";
import { formatShardPlan, formatShellArgs, planShards, validateShardOptions, type ShardPlan } from "../src/lib/shards.js";
import { formatTimingCoverage, planTimingCoverage, type TimingCoverage } from "../src/lib/timing-coverage.js";
import { parseTimings, parseTimingsOrWarn, resolveTimings, type Timings } from "../src/lib/timings.js";
import { parseFlags, runCli, type CliIo } from "./args.js";

export const SHARDS_FLAGS = {
  timings: { type: "string", description: "previous timings: knapsack JSON, JUnit XML, parallel_tests log or rspec JSON" },
  shards: { type: "integer", required: true, description: "number of parallel shards" },
  source: { type: "string", description: "the application directory whose spec/**/*_spec.rb files are planned" },
  "shard-index": { type: "integer", description: "print only this shard (0-based)" },
  format: { type: "string", choices: ["json", "text"], default: "json" },
  "whole-files": { type: "boolean", description: "never split a file by example ids" },
} as const;

const COMMAND = "npm run shards --";

/** Spec files under `<source>/spec` (`**\/*_spec.rb`), as `spec/...` paths, sorted. */
export function readSpecFiles(source: string): string[] {
  const root = resolve(source);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new PipelineError("ARGUMENT_INVALID", `--source ${source} is not a directory`, { hint: "pass the application's root directory, e.g. --source test/fixtures/rails-api" });
  }
  const specDir = join(root, "spec");
  if (!existsSync(specDir) || !statSync(specDir).isDirectory()) {
    throw new PipelineError("SOURCE_FILE_MISSING", `spec/ is missing from the source directory ${source} (the shards are made of spec/**/*_spec.rb files)`, {
      hint: "pass the application repository with --source <dir>, one that has a spec/ folder",
    });
  }
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if ((entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith("_spec.rb")) files.push(relative(root, full).split(sep).join("/"));
    }
  };
  walk(specDir);
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function readTimingsText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new PipelineError("TIMINGS_INVALID", `--timings ${path} cannot be read (${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (code ?? "read error")})`, {
      hint: "pass the timings file of a previous run (e.g. timings.json exported by `dagger call test`), or leave --timings out and pass --source",
      cause: err,
    });
  }
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
  const flags = parseFlags(argv, SHARDS_FLAGS, { command: COMMAND });
  if (flags.timings === undefined && flags.source === undefined) {
    throw new PipelineError("ARGUMENT_INVALID", `${COMMAND}: neither --timings nor --source was given, so there is nothing to plan`, {
      hint: "pass --timings <previous timings file>, --source <app dir>, or both",
    });
  }
  // Validate --shards / --shard-index before any file work, so the message is about the flag.
  validateShardOptions(flags.shards, flags["shard-index"]);

  let timings: Timings;
  let existing: string[] | undefined;
  if (flags.source !== undefined) {
    existing = readSpecFiles(flags.source);
    if (existing.length === 0) {
      throw new PipelineError("SHARD_PLAN_INVALID", `--source ${flags.source} has no spec/**/*_spec.rb files`, { hint: "pass the application directory that holds the rspec suite" });
    }
    // A timings file that was named but is missing is an error (likely a typo); one that cannot be
    // parsed only warns, and the split falls back to estimates.
    timings = flags.timings === undefined ? parseTimingsOrWarn(undefined, "(no --timings)") : parseTimingsOrWarn(readTimingsText(flags.timings), flags.timings);
  } else {
    timings = parseTimings(readTimingsText(flags.timings!), flags.timings!);
  }
  const resolved = resolveTimings(timings, existing);
  for (const w of resolved.warnings) io.stderr(`warning: ${w}\n`);
  const coverage = planTimingCoverage(timings, resolved);
  // A fallback is said on stderr as well (stdout carries only the result): a guessed split is never silent.
  if (coverage.fallback) io.stderr(`${formatTimingCoverage(coverage).split("\n").slice(1).join("\n")}\n`);

  const plan = planShards(resolved.files, {
    shards: flags.shards,
    ...(flags["shard-index"] !== undefined ? { shardIndex: flags["shard-index"] } : {}),
    splitExamples: !flags["whole-files"],
  });

  if (plan.selected) {
    const s = plan.selected;
    if (flags.format === "text") io.stdout(s.units.length > 0 ? `${formatShellArgs(s.units)}\n` : "");
    else io.stdout(`${JSON.stringify({ index: s.index, units: s.units, predictedSeconds: round(s.predictedSeconds) })}\n`);
    if (s.units.length === 0) io.stderr(`warning: shard ${s.index} has nothing to run (more shards than units): skip it, do not run rspec without arguments\n`);
    return;
  }
  if (flags.format === "text") io.stdout(`${formatShardPlan(plan)}\n${formatTimingCoverage(coverage)}\n`);
  else io.stdout(`${JSON.stringify(planToJson(plan, resolved.warnings, coverage), null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  void runCli((io) => runShardsCli(process.argv.slice(2), io));
}

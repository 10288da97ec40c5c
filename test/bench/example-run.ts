/**
 * `npm run bench:example-run -- [--source DIR] [--timings FILE|none|stale] [--shards N]
 *   [--strategies static,queue,chunks] [--retries N] [--with-flaky] [--whole-files] [--format json|text]`
 *
 * An app's suite (default: the example app) run for real, split several ways side by side in one
 * run, each shard with its own postgres and redis and all shards of a strategy in parallel (as
 * `dagger call test` does):
 * - `static`: this planner's timing-balanced lists (what --shard-index across CI nodes uses);
 * - `queue`: queue mode, the workers pulling shrinking batches from one queue server;
 * - `chunks`: equal-count contiguous chunks, the baseline of splitting without timings.
 * `--timings none` plans without timings (file sizes), `--timings stale` with the committed timings
 * distorted per file (test/support/bench-record.ts), any other value is a timings file.
 * `--with-flaky` adds a flaky and an always-failing example (a copy of the app) to measure retries.
 * Prints every shard's seconds, the slowest, max/mean, examples, flaky ids and broken shards, plus
 * the machine's load before and after (`/proc/loadavg`). Note: N shards on a 2-core machine share
 * the CPUs, so absolute seconds are inflated for all strategies alike; compare the ratios.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseFlags } from "../../modules/pipeline/cli/args.js";
import { planQueue } from "../../modules/pipeline/src/lib/queue-plan.js";
import { summariseQueueRun } from "../../modules/pipeline/src/lib/queue-run.js";
import { planChunks } from "../../modules/pipeline/src/lib/shard-planner.js";
import { planTestRun, summariseTestRun, type TestRunPlan, type TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";
import { benchRecord, staleTimings, type BenchRun } from "../support/bench-record.js";
import { makeFlakyApp } from "../support/flaky-app.js";
import { EXAMPLE_APP, readExampleInputs, runQueue, runShard, shardOf } from "../support/shard-runner.js";

const STRATEGIES = ["static", "queue", "chunks"] as const;
type Strategy = (typeof STRATEGIES)[number];

const flags = parseFlags(
  process.argv.slice(2),
  {
    source: { type: "string", description: "the application directory (default: the example app)" },
    timings: { type: "string", description: "a timings file, `none` (plan without timings) or `stale` (the committed timings distorted)" },
    shards: { type: "integer", default: 8, min: 1, description: "number of shards (queue workers)" },
    strategies: { type: "string", default: "static,queue,chunks", description: "comma-separated: static, queue, chunks" },
    retries: { type: "integer", default: 0, min: 0, description: "rerun failed examples up to N times" },
    "with-flaky": { type: "boolean", description: "add a flaky and an always-failing example (a copy of the app)" },
    "whole-files": { type: "boolean", description: "plan without example-level splitting" },
    format: { type: "string", choices: ["json", "text"], default: "text" },
  },
  { command: "npm run bench:example-run --" },
);

const strategies = flags.strategies.split(",").map((s) => s.trim()).filter(Boolean);
for (const s of strategies) {
  if (!(STRATEGIES as readonly string[]).includes(s)) throw new Error(`--strategies: unknown strategy ${JSON.stringify(s)} (use ${STRATEGIES.join(", ")})`);
}

const log = (line: string) => (flags.format === "json" ? process.stderr : process.stdout).write(`${line}\n`);
const loadavg = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");

const scratch = await mkdtemp(path.join(os.tmpdir(), "bench-example-run-"));
const app = flags["with-flaky"] ? await makeFlakyApp(scratch) : path.resolve(flags.source ?? EXAMPLE_APP);
const inputs = await readExampleInputs(app);
let timingsText = inputs.timingsText;
let timingsSource = inputs.timingsSource;
if (flags.timings === "none") [timingsText, timingsSource] = [undefined, "(none)"];
else if (flags.timings === "stale") [timingsText, timingsSource] = [timingsText && staleTimings(timingsText), `${inputs.timingsSource} (stale)`];
else if (flags.timings !== undefined) [timingsText, timingsSource] = [await readFile(flags.timings, "utf8"), flags.timings];
const plan = planTestRun({ ...inputs, timingsText, timingsSource, shards: flags.shards, shardIndex: -1, splitExamples: !flags["whole-files"] });

async function measure(strategy: Strategy): Promise<BenchRun> {
  const outRoot = await mkdtemp(path.join(scratch, `${strategy}-`));
  await rm(path.join(app, "tmp/flaky-once"), { force: true }); // each strategy meets the flaky example fresh
  const extra = { retries: flags.retries, appDir: app };
  let result: TestRunResult;
  let outcomes: Array<{ output: string; retrySeconds?: number }>;
  if (strategy === "queue") {
    const queue = planQueue(plan.plannedFiles, { workers: flags.shards, splitExamples: !flags["whole-files"] });
    const run = await runQueue(queue, outRoot, extra);
    result = summariseQueueRun(plan, queue, run.workers, run.outcomes);
    outcomes = run.outcomes;
  } else {
    // Equal-count chunks: the same files, no timings used (what splitting by file count gives).
    const chunks: TestRunPlan = { ...plan, shardPlan: planChunks(plan.previous.files.map((f) => ({ path: f.path, seconds: f.seconds })), { shards: flags.shards }), catchAll: {} };
    const chosen = strategy === "chunks" ? chunks : plan;
    const ran = await Promise.all(chosen.selected.map((i) => runShard(shardOf(chosen, i, extra), outRoot)));
    result = summariseTestRun(chosen, ran);
    outcomes = ran;
  }
  const record = benchRecord(strategy, flags.shards, result, outcomes);
  log(`\n== ${strategy}: ${record.examples} examples, ${record.failed} failed, ${record.flaky.length} flaky, ${record.brokenShards} broken shard(s)`);
  log(`   per shard (s): ${result.summary.shards.map((s) => s.actualSeconds.toFixed(1)).join("  ")}`);
  return record;
}

const before = await loadavg();
const runs: BenchRun[] = [];
for (const s of strategies as Strategy[]) runs.push(await measure(s));
const after = await loadavg();

if (flags.format === "json") {
  process.stdout.write(`${JSON.stringify({ runs, machine: { cpus: os.cpus().length, loadBefore: before, loadAfter: after }, timings: runs[0]?.timings ?? timingsSource }, null, 2)}\n`);
} else {
  console.log(`\n${path.relative(process.cwd(), app) || "."}, ${flags.shards} shards, measured side by side in one run; load average before ${before}, after ${after} (${os.cpus().length} CPUs)`);
  console.log(`timings: ${runs[0]?.timings ?? timingsSource}`);
  console.log("strategy   slowest s   mean s   max/mean   examples  failed  flaky  broken  retry s / budget s");
  for (const r of runs) {
    console.log(
      `${r.strategy.padEnd(9)} ${r.slowestSeconds.toFixed(1).padStart(9)} ${r.meanSeconds.toFixed(1).padStart(8)} ${r.maxOverMean.toFixed(2).padStart(10)} ${String(r.examples).padStart(10)} ${String(r.failed).padStart(7)} ${String(r.flaky.length).padStart(6)} ${String(r.brokenShards).padStart(7)}   ${r.retrySeconds.toFixed(1)} / ${r.retryBudgetSeconds.toFixed(1)}`,
    );
  }
}
if (runs.some((r) => r.brokenShards > 0 || (!flags["with-flaky"] && r.failed > 0))) {
  console.error("a run had broken shards or failing examples");
  process.exitCode = 1;
}

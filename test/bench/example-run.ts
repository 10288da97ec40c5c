/**
 * `npm run bench:example-run [-- --shards 8] [--whole-files]`
 *
 * The example app's suite run for real, split three ways side by side in one run, each shard with
 * its own postgres and redis and all shards of a split in parallel (as `dagger call test` does):
 * this planner from the committed per-example timings, equal-count chunks (what splitting without
 * timings does), and with --whole-files this planner without example-level splitting.
 * Prints every shard's measured seconds, the slowest (the run's wall time) and max/mean.
 * Note: 8 shards on a 2-core machine share the CPUs, so absolute seconds are inflated for all
 * strategies alike; compare the ratios.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseFlags } from "../../modules/pipeline/cli/args.js";
import { planChunks } from "../../modules/pipeline/src/lib/shards.js";
import { planTestRun, summariseTestRun, type TestRunPlan } from "../../modules/pipeline/src/lib/test-run.js";
import { readExampleInputs, runShard, shardOf } from "../support/shard-runner.js";

const flags = parseFlags(
  process.argv.slice(2),
  {
    shards: { type: "integer", default: 8, min: 1, description: "number of shards" },
    "whole-files": { type: "boolean", description: "also run the planner without example-level splitting" },
  },
  { command: "npm run bench:example-run --" },
);

async function measure(name: string, plan: TestRunPlan): Promise<{ name: string; max: number; mean: number; predicted: number; ok: boolean }> {
  const outRoot = await mkdtemp(path.join(os.tmpdir(), `bench-${name.replace(/\W+/g, "-")}-`));
  const outcomes = await Promise.all(plan.selected.map((i) => runShard(shardOf(plan, i), outRoot)));
  const result = summariseTestRun(plan, outcomes);
  const secs = result.summary.shards.map((s) => s.actualSeconds);
  const max = Math.max(...secs);
  const mean = secs.reduce((a, b) => a + b, 0) / secs.length;
  console.log(`\n== ${name}: ${result.summary.totals.tests} examples, ${result.summary.totals.failures} failed`);
  console.log(`   per shard (s): ${secs.map((s) => s.toFixed(1)).join("  ")}`);
  return { name, max, mean, predicted: result.summary.predictedMakespanSeconds, ok: result.summary.passed };
}

const inputs = await readExampleInputs();
const lpt = planTestRun({ ...inputs, shards: flags.shards, shardIndex: -1 });
// Equal-count chunks: the same files, no timings used (what splitting by file count gives).
const chunks: TestRunPlan = {
  ...lpt,
  shardPlan: planChunks(lpt.previous.files.map((f) => ({ path: f.path, seconds: f.seconds })), { shards: flags.shards }),
  catchAll: {},
};
const runs = [await measure("this planner (per-example timings)", lpt), await measure("equal-count chunks (no timings)", chunks)];
if (flags["whole-files"]) runs.push(await measure("this planner, whole files", planTestRun({ ...inputs, shards: flags.shards, shardIndex: -1, splitExamples: false })));

console.log(`\nexample app, ${flags.shards} shards, measured side by side in one run`);
console.log("strategy                                 slowest s   mean s   max/mean   predicted slowest s");
for (const r of runs) {
  console.log(`${r.name.padEnd(40)} ${r.max.toFixed(1).padStart(9)} ${r.mean.toFixed(1).padStart(8)} ${(r.max / r.mean).toFixed(2).padStart(10)} ${r.predicted.toFixed(1).padStart(21)}`);
}
console.log(`wall-time ratio chunks/planner: ${(runs[1]!.max / runs[0]!.max).toFixed(2)}x`);
if (runs.some((r) => !r.ok)) {
  console.error("a run had failing examples or broken shards");
  process.exitCode = 1;
}

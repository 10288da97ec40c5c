/**
 * `npm run bench:shards [-- --timings <junit|knapsack|parallel_tests|rspec-json file>] [--shards 8,16,24,32]`
 *
 * Side by side, for the shared knapsack report (and for `--timings` when given, e.g. measured
 * example-app timings): makespan / lower bound of this planner (LPT), of alphabetical round-robin and of
 * equal-count chunks (splitting without timings), with and without example-level splitting; then the
 * CPU time to plan 1,000 and 10,000 synthetic files, side by side. Exits 1 when the planner is more
 * than 2% above the lower bound at 8 shards on the shared report, when ten times the files cost 20
 * times the time or more (n log n is 13.3), or when planning 10,000 files takes 100 ms or more.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { parseFlags } from "../../modules/pipeline/cli/args.js";
import { planChunks, planRoundRobin, planShards, type ShardPlan, type ShardUnitInput } from "../../modules/pipeline/src/lib/shard-planner.js";
import { parseTimings, resolveTimings } from "../../modules/pipeline/src/lib/timings.js";
import { cpuMilliseconds, median } from "./cpu-time.js";

const here = dirname(fileURLToPath(import.meta.url));
const SHARED_REPORT = resolve(here, "../../../shared/data/timings/ecf_knapsack_rspec_report.json");
const SYNTHETIC_EXAMPLES = 40;

const flags = parseFlags(process.argv.slice(2), {
  timings: { type: "string", description: "a measured timings file to bench as well" },
  shards: { type: "string", default: "8,16,24,32", description: "comma-separated shard counts" },
}, { command: "npm run bench:shards --" });
const shardCounts = flags.shards.split(",").map((s) => Number(s.trim()));

/** Split the longest file's time into `n` examples of uneven, deterministic sizes, unless it has examples. */
function withExamplesForDominant(files: ShardUnitInput[], n: number): { files: ShardUnitInput[]; note: string } {
  const dominant = [...files].sort((a, b) => b.seconds - a.seconds || (a.path < b.path ? -1 : 1))[0]!;
  if (dominant.examples && dominant.examples.length > 1) {
    return { files, note: `${dominant.path} (${dominant.seconds.toFixed(1)} s) has ${dominant.examples.length} measured example ids` };
  }
  const weights = Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 11) / 5); // 1.0 .. 3.0, uneven
  const sum = weights.reduce((a, b) => a + b, 0);
  const examples = weights.map((w, i) => ({ id: `${dominant.path}[1:${i + 1}]`, seconds: (dominant.seconds * w) / sum }));
  return {
    files: files.map((f) => (f === dominant ? { ...f, examples } : f)),
    note: `the report has no per-example timings: SYNTHESISED ${n} examples of uneven size (1x..3x) for ${dominant.path} (${dominant.seconds.toFixed(1)} s)`,
  };
}

function row(cells: Array<string | number>, widths: number[]): string {
  return cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("  ");
}

function bench(title: string, text: string, source: string): { lpt8?: ShardPlan } {
  const timings = parseTimings(text, source);
  const resolved = resolveTimings(timings);
  const files: ShardUnitInput[] = resolved.files;
  const total = files.reduce((a, f) => a + f.seconds, 0);
  const longest = Math.max(...files.map((f) => f.seconds));
  const { files: withExamples, note } = withExamplesForDominant(files, SYNTHETIC_EXAMPLES);
  console.log(`\n== ${title}: ${source}`);
  console.log(`   ${timings.format}, ${files.length} files, ${total.toFixed(1)} s in total, longest file ${longest.toFixed(1)} s`);
  console.log(`   example-level splitting: ${note}`);
  const widths = [7, 26, 11, 11, 11, 8];
  console.log(row(["shards", "strategy", "makespan s", "bound s", "file bound", "ratio"], widths));
  let lpt8: ShardPlan | undefined;
  for (const shards of shardCounts) {
    const fileBound = Math.max(longest, total / shards);
    const plans: Array<[string, ShardPlan]> = [
      ["lpt (this planner), split", planShards(withExamples, { shards })],
      ["lpt, whole files", planShards(files, { shards, splitExamples: false })],
      ["round-robin alphabetical", planRoundRobin(files, { shards })],
      ["equal-count chunks", planChunks(files, { shards })],
    ];
    if (shards === 8) lpt8 = plans[1]![1];
    for (const [name, plan] of plans) {
      console.log(
        row([shards, name, plan.makespanSeconds.toFixed(1), plan.lowerBoundSeconds.toFixed(1), fileBound.toFixed(1), plan.ratio.toFixed(4)], widths),
      );
    }
    const [split, whole] = [plans[0]![1], plans[1]![1]];
    if (split.makespanSeconds < whole.makespanSeconds - 1e-9) {
      console.log(`${"".padEnd(9)}example-level splitting cuts the makespan ${whole.makespanSeconds.toFixed(1)} s -> ${split.makespanSeconds.toFixed(1)} s (-${(100 * (1 - split.makespanSeconds / whole.makespanSeconds)).toFixed(1)}%)`);
    }
  }
  return lpt8 ? { lpt8 } : {};
}

let failed = false;
const shared = bench("shared knapsack report", readFileSync(SHARED_REPORT, "utf8"), SHARED_REPORT);
if (shared.lpt8) {
  const over = (shared.lpt8.ratio - 1) * 100;
  const ok = shared.lpt8.ratio <= 1.02;
  failed ||= !ok;
  console.log(
    `\ntarget: planner within 2% of the lower bound at 8 shards on the shared report: makespan ${shared.lpt8.makespanSeconds.toFixed(3)} s, bound ${shared.lpt8.lowerBoundSeconds.toFixed(3)} s, ${over.toFixed(4)}% above -> ${ok ? "PASS" : "FAIL"}`,
  );
}
if (flags.timings) bench("measured timings", readFileSync(flags.timings, "utf8"), flags.timings);

// Planning speed: 10,000 synthetic files with a skewed (heavy-tailed) time distribution.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const synthetic: ShardUnitInput[] = Array.from({ length: 10_000 }, (_, i) => ({
  path: `spec/synthetic/dir_${i % 97}/file_${i}_spec.rb`,
  seconds: Number((0.05 + -Math.log(1 - random()) * 2).toFixed(3)),
}));
// CPU time (cpu-time.ts), 1,000 and 10,000 files interleaved so a change in load hits both alike;
// their ratio is the scaling side by side: 10 is linear, 13.3 is n log n, 100 would be quadratic.
// A 1,000-file sample is ten plans in a row (divided by ten): as much work and garbage as one
// 10,000-file plan, so neither timer overhead nor garbage collection favours one side.
const RUNS = 21;
const MAX_SCALING_RATIO = 20;
const thousand = synthetic.slice(0, 1_000);
const coldMs = cpuMilliseconds(() => planShards(synthetic, { shards: 8 }));
planShards(thousand, { shards: 8 }); // warm-up
const smallMs: number[] = [];
const largeMs: number[] = [];
for (let i = 0; i < RUNS; i++) {
  smallMs.push(cpuMilliseconds(() => {
    for (let k = 0; k < 10; k++) planShards(thousand, { shards: 8 });
  }) / 10);
  largeMs.push(cpuMilliseconds(() => planShards(synthetic, { shards: 8 })));
}
const [small, large] = [median(smallMs), median(largeMs)];
const scaling = large / small;
const scalingOk = scaling < MAX_SCALING_RATIO;
const speedOk = large < 100;
failed ||= !scalingOk || !speedOk;
console.log(`\nplanning onto 8 shards, CPU time, median of ${RUNS} interleaved runs:`);
console.log(
  `  1,000 files ${small.toFixed(2)} ms, 10,000 files ${large.toFixed(2)} ms: ratio ${scaling.toFixed(1)} (linear 10, n log n 13.3, quadratic 100; limit < ${MAX_SCALING_RATIO}) -> ${scalingOk ? "PASS" : "FAIL"}`,
);
console.log(`  10,000 files: cold ${coldMs.toFixed(1)} ms, warm median ${large.toFixed(1)} ms (target: well under 100 ms) -> ${speedOk ? "PASS" : "FAIL"}`);
process.exitCode = failed ? 1 : 0;

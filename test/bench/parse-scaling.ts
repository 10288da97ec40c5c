/**
 * `npm run bench:parsers [-- --filter <text>] [--runs 7]`
 *
 * Linear time, measured: every module in test/bench/scaling-cases/*.ts exports `cases: ScalingCase[]`
 * (types.ts). For each case the runner finds a base size n at which one run takes about 20 ms, builds
 * inputs of sizes n, 2n, 4n and 8n (outside the timing), times `run` on each (the median of a few
 * runs, after one warm-up) and prints the time ratio per doubling side by side: about 2 is linear,
 * about 4 quadratic. A ratio above 3 is flagged and the exit code is 1.
 *
 * Times are the process's CPU time (user + system, all threads, garbage collection included), not
 * wall time: on a machine shared with other jobs, wall time mostly measures the other jobs. The runs
 * of the four sizes are interleaved (n, 2n, 4n, 8n, n, 2n, ...) so a change in load hits all alike.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseFlags } from "../../modules/pipeline/cli/args.js";
import { cpuMilliseconds, median } from "./cpu-time.js";
import type { ScalingCase } from "./scaling-cases/types.js";

const FLAG_RATIO = 3;
const TARGET_MS = 20;
const MAX_SIZE = 1 << 24;

const flags = parseFlags(
  process.argv.slice(2),
  {
    filter: { type: "string", description: "only cases whose name contains this text" },
    runs: { type: "integer", default: 7, min: 1, description: "timed runs per size (the median is kept)" },
  },
  { command: "npm run bench:parsers --" },
);

async function loadCases(): Promise<{ file: string; scalingCase: ScalingCase }[]> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "scaling-cases");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "types.ts").sort();
  const all: { file: string; scalingCase: ScalingCase }[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { cases?: ScalingCase[] };
    if (!Array.isArray(mod.cases)) throw new Error(`test/bench/scaling-cases/${file} does not export cases: ScalingCase[]`);
    for (const scalingCase of mod.cases) all.push({ file, scalingCase });
  }
  return all.filter(({ scalingCase }) => !flags.filter || scalingCase.name.includes(flags.filter));
}

/** CPU milliseconds of one run. */
const timeOnce = (c: ScalingCase, input: string): number => cpuMilliseconds(() => c.run(input));

/** Smallest power-of-two size whose run takes TARGET_MS or more (median of 3, after a warm-up). */
function baseSize(c: ScalingCase): number {
  let size = 16;
  while (size < MAX_SIZE) {
    const input = c.make(size);
    timeOnce(c, input);
    if (median([timeOnce(c, input), timeOnce(c, input), timeOnce(c, input)]) >= TARGET_MS) return size;
    size *= 2;
  }
  return size;
}

function measure(c: ScalingCase): { n: number; ms: number[] } {
  const n = baseSize(c);
  const inputs = [n, 2 * n, 4 * n, 8 * n].map((size) => c.make(size));
  for (const input of inputs) timeOnce(c, input);
  const samples: number[][] = inputs.map(() => []);
  for (let run = 0; run < flags.runs; run++) inputs.forEach((input, i) => samples[i]!.push(timeOnce(c, input)));
  return { n, ms: samples.map(median) };
}

const cases = await loadCases();
if (cases.length === 0) {
  console.error("no scaling cases found (test/bench/scaling-cases/*.ts)");
  process.exit(1);
}
const nameWidth = Math.max(...cases.map(({ scalingCase }) => scalingCase.name.length), 4);
const header = `${"case".padEnd(nameWidth)}  ${"n".padStart(8)}  ${["t(n)", "t(2n)", "t(4n)", "t(8n)"].map((h) => h.padStart(9)).join("")}   ratio per doubling`;
console.log(`CPU time, median of ${flags.runs} interleaved runs per size; about 2 = linear, about 4 = quadratic; > ${FLAG_RATIO} is flagged`);
console.log(header);
console.log("-".repeat(header.length + 12));
let flagged = 0;
for (const { scalingCase } of cases) {
  const { n, ms } = measure(scalingCase);
  const ratios = ms.slice(1).map((t, i) => t / ms[i]!);
  const bad = ratios.some((r) => r > FLAG_RATIO);
  if (bad) flagged++;
  console.log(
    `${scalingCase.name.padEnd(nameWidth)}  ${String(n).padStart(8)}  ${ms.map((t) => `${t.toFixed(1)}ms`.padStart(9)).join("")}   ${ratios.map((r) => r.toFixed(2)).join("  ")}${bad ? "   FLAG: superlinear" : ""}`,
  );
}
if (flagged > 0) {
  console.error(`${flagged} case(s) grow faster than linear (a ratio above ${FLAG_RATIO} per doubling)`);
  process.exitCode = 1;
}

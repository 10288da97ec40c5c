/**
 * Timings parsers, linear in the size of the file (issue #11 item 7: each bad knapsack entry used to
 * rescan the text, 200,000 of them took over 120 s).
 */
import { parseTimingsOrWarn } from "../../../modules/pipeline/src/lib/timings.js";
import type { ScalingCase } from "./types.js";

const entries = (size: number, value: (i: number) => string) =>
  `{\n${Array.from({ length: size }, (_, i) => `  "spec/dir${i % 97}/file${i}_spec.rb": ${value(i)}`).join(",\n")}\n}\n`;

export const cases: ScalingCase[] = [
  { name: "timings: knapsack, every entry valid", make: (size) => entries(size, (i) => String((i % 1000) / 7)), run: (input) => parseTimingsOrWarn(input, "k.json") },
  { name: "timings: knapsack, every entry bad", make: (size) => entries(size, () => `"slow"`), run: (input) => parseTimingsOrWarn(input, "k.json") },
  {
    name: "timings: knapsack, every key twice",
    make: (size) => entries(size, (i) => String(i % 13)).replace(/\n\}\n$/, `,\n${entries(size, () => "1").slice(2)}`),
    run: (input) => parseTimingsOrWarn(input, "k.json"),
  },
  {
    name: "timings: parallel_tests log appended, rspec lines",
    make: (size) => Array.from({ length: size }, (_, i) => (i % 10 === 0 ? "Randomized with seed 1234" : `spec/dir${i % 97}/file${i % (size >> 2 || 1)}_spec.rb:${i % 100}.5`)).join("\n"),
    run: (input) => parseTimingsOrWarn(input, "rt.log"),
  },
  {
    name: "timings: rspec JSON examples",
    make: (size) => JSON.stringify({ version: "3.13", examples: Array.from({ length: size }, (_, i) => ({ id: `./spec/f${i % 50}_spec.rb[1:${i}]`, run_time: i / 1000 })) }),
    run: (input) => parseTimingsOrWarn(input, "rspec.json"),
  },
  { name: "timings: JSON nested deep, cut short", make: (size) => `{"spec/a_spec.rb": ${"[".repeat(size)}`, run: (input) => parseTimingsOrWarn(input, "deep.json") },
];

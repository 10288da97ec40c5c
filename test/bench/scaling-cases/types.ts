/**
 * One input family for `npm run bench:parsers` (test/bench/parse-scaling.ts): `make(size)` builds an
 * input whose size grows linearly with `size` (lines, entries, nesting...), `run(input)` is the work
 * whose time must grow linearly too (parse, edit, merge). Every module in this folder exports
 * `cases: ScalingCase[]`; the runner finds a sensible base size n itself.
 */
export interface ScalingCase {
  name: string;
  make(size: number): string;
  run(input: string): unknown;
}

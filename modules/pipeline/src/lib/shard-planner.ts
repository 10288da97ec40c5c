/**
 * The shard planner: a deterministic split of spec files (and, for a file that alone is longer than
 * its fair share, of its examples) over `shards` parallel runs. Pure and deterministic: the same
 * files and times give the same plan on every CI node, whatever order they come in.
 *
 * Strategy (`planShards`): longest processing time first onto the least loaded shard; units sorted by
 * seconds descending then path (byte order), the least loaded shard chosen by load then index.
 * Quality is reported against the lower bound `max(longest unit, total / shards)`: no split of these
 * units can finish sooner.
 *
 * Example-level splitting: a file longer than `total / shards` whose examples all have ids
 * (`spec/big_spec.rb[1:2:3]` or `spec/big_spec.rb:42`) is planned example by example; the examples
 * a shard gets are written back as one rspec argument (`spec/big_spec.rb[1:1,1:4]`, `spec/big_spec.rb:10:42`),
 * or as the plain file when one shard gets them all.
 *
 * Baselines for comparison: `planRoundRobin` (alphabetical, file i to shard i mod n) and `planChunks`
 * (alphabetical, equal-count contiguous chunks: what splitting without timings does).
 */
import { PipelineError, ProblemsError, type Problem } from "./errors.js";
import { shellCommand } from "./shell.js";

/** A file to plan, with its (measured or estimated) seconds and, when known, its examples. */
export interface ShardUnitInput {
  /** `spec/...` path. */
  path: string;
  seconds: number;
  /** True when `seconds` is an estimate (no timing data); reported, not used by the algorithm. */
  estimated?: boolean;
  /** Every example of the file with an rspec id and seconds; enables splitting this file. */
  examples?: ReadonlyArray<{ id: string; seconds: number }>;
}

export interface PlanShardsOptions {
  /** Number of shards (the `--shards` flag), a whole number ≥ 1. */
  shards: number;
  /** Validated against `shards` (the `--shard-index` flag); the plan still covers every shard. */
  shardIndex?: number;
  /** Split files longer than total/shards by example ids when they have them (default true). */
  splitExamples?: boolean;
}

export interface PlannedShard {
  index: number;
  /** rspec arguments, sorted: file paths and grouped example ids. Empty when there are more shards than units. */
  units: string[];
  predictedSeconds: number;
}

export interface ShardBottleneck {
  /** The shard that finishes last (lowest index among equals). */
  shardIndex: number;
  /** Its longest unit. */
  unit: string;
  unitSeconds: number;
  /** `longest-unit`: that unit alone is at least total/shards, splitting it is the only way down; else `balance`. */
  reason: "longest-unit" | "balance";
}

export interface ShardPlan {
  strategy: "lpt" | "round-robin" | "chunks" | "queue";
  shardCount: number;
  shards: PlannedShard[];
  totalSeconds: number;
  /** `max(longest unit, total / shards)`, units being what the strategy could place (examples of split files). */
  lowerBoundSeconds: number;
  /** The predicted time of the slowest shard. */
  makespanSeconds: number;
  /** makespan / lower bound (1 is optimal). */
  ratio: number;
  bottleneck: ShardBottleneck;
  /** Files planned example by example, and into how many shard arguments they ended up. */
  splitFiles: Array<{ path: string; seconds: number; examples: number; parts: number }>;
  /** Files longer than total/shards that could not be split because no example ids are known. */
  unsplittable: Array<{ path: string; seconds: number }>;
  fileCount: number;
  /** Number of files whose time is estimated. */
  estimatedCount: number;
  /** The shard `shardIndex` asked for. */
  selected?: PlannedShard;
}

interface Atom {
  /** The rspec argument: the path or one example id. */
  key: string;
  file: string;
  /** Set for examples of split files. */
  exampleId?: string;
  seconds: number;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Example ids in reading order: `[1:2]` before `[1:10]`, `:9` before `:42`. */
function compareIds(a: string, b: string): number {
  const na = a.match(/\d+/g)?.map(Number) ?? [];
  const nb = b.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < Math.min(na.length, nb.length); i++) if (na[i] !== nb[i]) return na[i]! - nb[i]!;
  return na.length - nb.length || compare(a, b);
}

/**
 * The most shards a run may have: the one cap for pipeline.json `test.shards`, `dagger call test
 * --shards` and `npm run shards -- --shards` (a plan allocates per shard, so an unbounded count
 * exhausts memory instead of failing with a message).
 */
export const MAX_SHARDS = 64;

/**
 * Validate `--shards` and `--shard-index`; throws `ARGUMENT_INVALID` naming the flag.
 * @param options.command prefixes the message with the command that was run (`npm run shards --`).
 */
export function validateShardOptions(shards: number, shardIndex?: number, options: { command?: string } = {}): void {
  const prefix = options.command ? `${options.command}: ` : "";
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new PipelineError("ARGUMENT_INVALID", `${prefix}--shards ${String(shards)} must be a whole number from 1 to ${MAX_SHARDS}`, {
      hint: "pass --shards 8 for eight parallel shards (--shards 1 runs everything in one)",
    });
  }
  if (shardIndex !== undefined && (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= shards)) {
    throw new PipelineError("ARGUMENT_INVALID", `${prefix}--shard-index ${String(shardIndex)} is out of range for --shards ${shards} (valid: 0 to ${shards - 1})`, {
      hint: `pass --shard-index from 0 to ${shards - 1}, e.g. $CIRCLE_NODE_INDEX with parallelism ${shards}`,
    });
  }
}

function validateUnits(inputs: readonly ShardUnitInput[]): void {
  if (inputs.length === 0) {
    throw new PipelineError("SHARD_PLAN_INVALID", "there are no spec files to split into shards", {
      hint: "check that the source has spec/**/*_spec.rb files, or that the timings file lists some",
    });
  }
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    if (typeof input.path !== "string" || input.path === "") problems.push({ path: "(unit)", message: "has an empty path" });
    else if (seen.has(input.path)) problems.push({ path: input.path, message: "is listed twice", hint: "list every file once" });
    seen.add(input.path);
    if (!(Number.isFinite(input.seconds) && input.seconds >= 0)) {
      problems.push({ path: input.path, message: `has ${String(input.seconds)} seconds, expected a finite number ≥ 0` });
    }
    for (const e of input.examples ?? []) {
      if (!(Number.isFinite(e.seconds) && e.seconds >= 0)) problems.push({ path: e.id, message: `has ${String(e.seconds)} seconds` });
    }
    if (problems.length >= 20) break;
  }
  if (problems.length > 0) throw new ProblemsError("SHARD_PLAN_INVALID", "the units to plan are invalid", problems);
}

/** Sort atoms longest first, ties by key (byte order): the one order every node agrees on. */
function sortAtoms(atoms: Atom[]): Atom[] {
  return atoms.sort((a, b) => b.seconds - a.seconds || compare(a.key, b.key));
}

/** Min-heap of shards by (load, index). */
class ShardHeap {
  private readonly idx: Int32Array;
  constructor(
    private readonly loads: Float64Array,
    n: number,
  ) {
    this.idx = new Int32Array(n);
    for (let i = 0; i < n; i++) this.idx[i] = i; // all loads 0: already a heap ordered by index
  }
  private less(a: number, b: number): boolean {
    const la = this.loads[a]!;
    const lb = this.loads[b]!;
    return la < lb || (la === lb && a < b);
  }
  top(): number {
    return this.idx[0]!;
  }
  /** The top shard's load grew: sift it down. */
  siftTop(): void {
    const idx = this.idx;
    const n = idx.length;
    let i = 0;
    const item = idx[0]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(idx[r]!, idx[l]!) ? r : l;
      if (!this.less(idx[c]!, item)) break;
      idx[i] = idx[c]!;
      i = c;
    }
    idx[i] = item;
  }
}

/**
 * Plan `inputs` onto `options.shards` shards (LPT, deterministic), splitting dominant files by example
 * ids when they have them. Throws `ARGUMENT_INVALID` for a bad `--shards`/`--shard-index` and
 * `SHARD_PLAN_INVALID` for no, duplicate or badly timed units.
 */
export function planShards(inputs: readonly ShardUnitInput[], options: PlanShardsOptions): ShardPlan {
  validateShardOptions(options.shards, options.shardIndex);
  validateUnits(inputs);
  const n = options.shards;
  const split = options.splitExamples ?? true;

  // Whole files in LPT order first; the total is summed in that order so that it (and every figure
  // derived from it) is bit-identical whatever order the inputs came in.
  let atoms: Atom[] = sortAtoms(wholeFiles(inputs));
  const total = sumAtoms(atoms);
  const share = total / n;

  const splitInputs = new Map<string, ShardUnitInput>();
  const unsplittable: ShardPlan["unsplittable"] = [];
  if (n > 1 && share > 0 && atoms[0]!.seconds > share) {
    const byPath = new Map(inputs.map((i) => [i.path, i]));
    const exampleAtoms: Atom[] = [];
    // Atoms are sorted longest first: the files longer than the fair share come first.
    for (const atom of atoms) {
      if (atom.seconds <= share) break;
      const input = byPath.get(atom.file)!;
      if (!(split && input.examples && input.examples.length > 1)) {
        unsplittable.push({ path: input.path, seconds: input.seconds });
        continue;
      }
      splitInputs.set(input.path, input);
      const examples = [...input.examples].sort((a, b) => compare(a.id, b.id));
      let exampleTotal = 0;
      for (const e of examples) exampleTotal += e.seconds;
      // Examples carry the file's whole time (load, before(:all)) in proportion to their own.
      const scale = exampleTotal > 0 ? input.seconds / exampleTotal : 0;
      for (const e of examples) {
        const seconds = exampleTotal > 0 ? e.seconds * scale : input.seconds / examples.length;
        exampleAtoms.push({ key: e.id, file: input.path, exampleId: e.id, seconds });
      }
    }
    if (splitInputs.size > 0) atoms = sortAtoms([...atoms.filter((a) => !splitInputs.has(a.file)), ...exampleAtoms]);
  }

  const loads = new Float64Array(n);
  const assigned: Atom[][] = Array.from({ length: n }, () => []);
  const heap = new ShardHeap(loads, n);
  for (const atom of atoms) {
    const s = heap.top();
    assigned[s]!.push(atom);
    loads[s] = loads[s]! + atom.seconds;
    heap.siftTop();
  }

  const plan = describePlan("lpt", n, assigned, total, atoms.length > 0 ? atoms[0]!.seconds : 0, inputs, splitInputs);
  return finish({ ...plan, unsplittable }, options.shardIndex);
}

/** Baseline: files in alphabetical order, file i to shard i mod n (whole files, timings ignored). */
export function planRoundRobin(inputs: readonly ShardUnitInput[], options: PlanShardsOptions): ShardPlan {
  validateShardOptions(options.shards, options.shardIndex);
  validateUnits(inputs);
  const n = options.shards;
  const sorted = wholeFiles(inputs).sort((a, b) => compare(a.key, b.key));
  const assigned: Atom[][] = Array.from({ length: n }, () => []);
  sorted.forEach((atom, i) => assigned[i % n]!.push(atom));
  return finish(describePlan("round-robin", n, assigned, sumAtoms(sorted), maxSeconds(sorted), inputs, new Map()), options.shardIndex);
}

/** Baseline: files in alphabetical order cut into n contiguous chunks of equal count (±1). */
export function planChunks(inputs: readonly ShardUnitInput[], options: PlanShardsOptions): ShardPlan {
  validateShardOptions(options.shards, options.shardIndex);
  validateUnits(inputs);
  const n = options.shards;
  const sorted = wholeFiles(inputs).sort((a, b) => compare(a.key, b.key));
  const assigned: Atom[][] = Array.from({ length: n }, () => []);
  const base = Math.floor(sorted.length / n);
  const extra = sorted.length % n;
  let at = 0;
  for (let s = 0; s < n; s++) {
    const size = base + (s < extra ? 1 : 0);
    assigned[s] = sorted.slice(at, at + size);
    at += size;
  }
  return finish(describePlan("chunks", n, assigned, sumAtoms(sorted), maxSeconds(sorted), inputs, new Map()), options.shardIndex);
}

function wholeFiles(inputs: readonly ShardUnitInput[]): Atom[] {
  return inputs.map((i) => ({ key: i.path, file: i.path, seconds: i.seconds }));
}

function maxSeconds(atoms: readonly Atom[]): number {
  let max = 0;
  for (const a of atoms) if (a.seconds > max) max = a.seconds;
  return max;
}

function sumAtoms(atoms: readonly Atom[]): number {
  let total = 0;
  for (const a of atoms) total += a.seconds;
  return total;
}

function finish(plan: ShardPlan, shardIndex: number | undefined): ShardPlan {
  return shardIndex === undefined ? plan : { ...plan, selected: plan.shards[shardIndex]! };
}

/** Turn the atoms of each shard into rspec arguments and compute the plan's figures. */
function describePlan(
  strategy: ShardPlan["strategy"],
  n: number,
  assigned: Atom[][],
  total: number,
  longestAtom: number,
  inputs: readonly ShardUnitInput[],
  splitInputs: ReadonlyMap<string, ShardUnitInput>,
): ShardPlan {
  const parts = new Map<string, number>();
  const shards: PlannedShard[] = assigned.map((atoms, index) => {
    const units: string[] = [];
    const groups = new Map<string, Atom[]>();
    let predicted = 0;
    for (const atom of atoms) {
      predicted += atom.seconds;
      if (atom.exampleId === undefined) units.push(atom.key);
      else {
        let g = groups.get(atom.file);
        if (!g) groups.set(atom.file, (g = []));
        g.push(atom);
      }
    }
    for (const [file, group] of groups) {
      parts.set(file, (parts.get(file) ?? 0) + 1);
      const input = splitInputs.get(file)!;
      if (group.length === input.examples!.length) units.push(file);
      else units.push(...groupExampleIds(file, group.map((a) => a.exampleId!)));
    }
    units.sort(); // default sort: UTF-16 code unit order, the same order as `compare`, and faster
    return { index, units, predictedSeconds: predicted };
  });

  let makespanShard = 0;
  for (const s of shards) if (s.predictedSeconds > shards[makespanShard]!.predictedSeconds) makespanShard = s.index;
  const makespan = shards[makespanShard]!.predictedSeconds;
  const lowerBound = Math.max(longestAtom, total / n);
  let dominant: Atom | undefined;
  for (const a of assigned[makespanShard]!) if (!dominant || a.seconds > dominant.seconds || (a.seconds === dominant.seconds && a.key < dominant.key)) dominant = a;

  return {
    strategy,
    shardCount: n,
    shards,
    totalSeconds: total,
    lowerBoundSeconds: lowerBound,
    makespanSeconds: makespan,
    ratio: lowerBound > 0 ? makespan / lowerBound : 1,
    bottleneck: {
      shardIndex: makespanShard,
      unit: dominant?.key ?? "",
      unitSeconds: dominant?.seconds ?? 0,
      reason: dominant && dominant.seconds >= total / n && dominant.seconds > 0 ? "longest-unit" : "balance",
    },
    splitFiles: [...splitInputs.values()]
      .map((i) => ({ path: i.path, seconds: i.seconds, examples: i.examples!.length, parts: parts.get(i.path) ?? 0 }))
      .sort((a, b) => compare(a.path, b.path)),
    unsplittable: [],
    fileCount: inputs.length,
    estimatedCount: inputs.filter((i) => i.estimated).length,
  };
}

/**
 * Group example ids of one file into rspec arguments: `file[1:1,1:3]` for bracket ids, `file:10:42`
 * for line ids (rspec accepts both forms with several ids).
 */
export function groupExampleIds(file: string, ids: readonly string[]): string[] {
  const brackets: string[] = [];
  const lines: string[] = [];
  const other: string[] = [];
  for (const id of [...ids].sort(compareIds)) {
    const b = /\[([\d:,]+)\]$/.exec(id);
    const l = /:(\d+)$/.exec(id);
    if (b && id.startsWith(file)) brackets.push(b[1]!);
    else if (l && id.startsWith(file)) lines.push(l[1]!);
    else other.push(id);
  }
  const out: string[] = [];
  if (brackets.length > 0) out.push(`${file}[${brackets.join(",")}]`);
  if (lines.length > 0) out.push(`${file}:${lines.join(":")}`);
  return [...out, ...other];
}

/**
 * Expand an rspec argument back into the file and the example ids it selects:
 * `spec/a_spec.rb` → `{ file, ids: [] }` (the whole file); `spec/a_spec.rb[1:1,1:3]` →
 * ids `spec/a_spec.rb[1:1]`, `spec/a_spec.rb[1:3]`; `spec/a_spec.rb:10:42` → `spec/a_spec.rb:10`, `spec/a_spec.rb:42`.
 */
export function parseShardUnit(unit: string): { file: string; ids: string[] } {
  const b = /^(.+?)\[([\d:,]+)\]$/.exec(unit);
  if (b) return { file: b[1]!, ids: b[2]!.split(",").map((id) => `${b[1]}[${id}]`) };
  const l = /^(.+?\.rb)((?::\d+)+)$/.exec(unit);
  if (l) return { file: l[1]!, ids: l[2]!.slice(1).split(":").map((line) => `${l[1]}:${line}`) };
  return { file: unit, ids: [] };
}

/**
 * Units as rspec arguments on a POSIX shell line: quoted when they hold glob or other special
 * characters (`[`, `]`, spaces), and a unit starting with `-` (a timings key such as `-x_spec.rb`)
 * written as `./-x_spec.rb`, so rspec reads a file and not an option.
 */
export function formatShellArgs(units: readonly string[]): string {
  return shellCommand(units.map((unit) => (unit.startsWith("-") ? `./${unit}` : unit)));
}

/** A readable text block of a plan (the CLI's `--format text` and the Dagger log). */
export function formatShardPlan(plan: ShardPlan): string {
  const s = (x: number) => `${x.toFixed(1)} s`;
  const lines = [
    `${plan.strategy} plan: ${plan.fileCount} files over ${plan.shardCount} shard(s), ${s(plan.totalSeconds)} in total` +
      (plan.estimatedCount > 0 ? ` (${plan.estimatedCount} file time(s) estimated)` : ""),
    `makespan ${s(plan.makespanSeconds)}, lower bound ${s(plan.lowerBoundSeconds)}, ratio ${plan.ratio.toFixed(4)}`,
    `bottleneck: shard ${plan.bottleneck.shardIndex}, longest unit ${plan.bottleneck.unit} (${s(plan.bottleneck.unitSeconds)}, ${plan.bottleneck.reason})`,
  ];
  for (const f of plan.splitFiles) lines.push(`split ${f.path} (${s(f.seconds)}) by ${f.examples} example ids into ${f.parts} part(s)`);
  for (const f of plan.unsplittable) {
    lines.push(`cannot split ${f.path} (${s(f.seconds)} > total/shards): no example ids known; feed per-example timings (rspec --format json, or knapsack keys like ${f.path}[1:1]) to split it`);
  }
  for (const shard of plan.shards) {
    lines.push(`shard ${shard.index}: ${s(shard.predictedSeconds)}, ${shard.units.length} unit(s)${shard.units.length === 0 ? " (nothing to run: skip this shard)" : ""}`);
  }
  return lines.join("\n");
}

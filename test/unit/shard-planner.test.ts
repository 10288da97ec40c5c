import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import {
  MAX_SHARDS,
  formatShardPlan,
  formatShellArgs,
  groupExampleIds,
  parseShardUnit,
  planChunks,
  planRoundRobin,
  planShards,
  type ShardPlan,
  type ShardUnitInput,
} from "../../modules/pipeline/src/lib/shard-planner.js";
import { parseTimings, resolveTimings } from "../../modules/pipeline/src/lib/timings.js";
import { thrown } from "../support/errors.js";
import { REPO_ROOT } from "../support/introspect.js";

const KNAPSACK = path.resolve(REPO_ROOT, "../shared/data/timings/ecf_knapsack_rspec_report.json");
const shared: ShardUnitInput[] = resolveTimings(parseTimings(readFileSync(KNAPSACK, "utf8"), "ecf.json")).files;
const DOMINANT = "spec/features/schools/choose_programme/choose_programme_spec.rb";


/** Deterministic pseudo-random generator for property tests. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every file of `inputs` runs exactly once: whole, or each of its example ids exactly once. */
function expectEveryUnitOnce(plan: ShardPlan, inputs: readonly ShardUnitInput[]): void {
  const whole = new Map<string, number>();
  const ids = new Map<string, number>();
  for (const shard of plan.shards) {
    for (const unit of shard.units) {
      const { file, ids: unitIds } = parseShardUnit(unit);
      if (unitIds.length === 0) whole.set(file, (whole.get(file) ?? 0) + 1);
      for (const id of unitIds) ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  }
  for (const input of inputs) {
    const w = whole.get(input.path) ?? 0;
    if (w === 1) {
      expect(input.examples?.some((e) => ids.has(e.id)) ?? false, input.path).toBe(false);
      continue;
    }
    expect(w, `${input.path} as a whole`).toBe(0);
    for (const e of input.examples ?? []) expect(ids.get(e.id), e.id).toBe(1);
    expect(input.examples?.length, `${input.path} must run somewhere`).toBeGreaterThan(0);
  }
  const known = new Set(inputs.flatMap((i) => [i.path, ...(i.examples ?? []).map((e) => e.id)]));
  for (const key of [...whole.keys(), ...ids.keys()]) expect(known.has(key), `unknown unit ${key}`).toBe(true);
}

function randomInputs(seed: number, n: number): ShardUnitInput[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    path: `spec/dir_${i % 7}/file_${i}_spec.rb`,
    // heavy tail plus exact ties (rounded) to exercise tie-breaking
    seconds: Math.round(-Math.log(1 - r()) * 4 * 4) / 4,
  }));
}

function withExamples(inputs: readonly ShardUnitInput[], file: string, count: number, style: "id" | "line" = "id"): ShardUnitInput[] {
  return inputs.map((f) => {
    if (f.path !== file) return f;
    const weights = Array.from({ length: count }, (_, i) => 1 + ((i * 37) % 11) / 5);
    const sum = weights.reduce((a, b) => a + b, 0);
    return {
      ...f,
      examples: weights.map((w, i) => ({ id: style === "id" ? `${f.path}[1:${i + 1}]` : `${f.path}:${10 * (i + 1)}`, seconds: (f.seconds * w) / sum })),
    };
  });
}

describe("planShards properties", () => {
  const cases: Array<[string, ShardUnitInput[], number]> = [
    ["shared report, 8 shards", shared, 8],
    ["shared report, 3 shards", shared, 3],
    ["shared report, 24 shards", shared, 24],
    ["shared report, 1 shard", shared, 1],
    ["shared report with a split dominant file, 24 shards", withExamples(shared, DOMINANT, 40), 24],
    ["shared report with a line-split dominant file, 32 shards", withExamples(shared, DOMINANT, 30, "line"), 32],
    ["200 random files with ties, 7 shards", randomInputs(1, 200), 7],
    ["5 files, 8 shards (empty shards)", randomInputs(2, 5), 8],
    ["all zero seconds, 4 shards", randomInputs(3, 10).map((f) => ({ ...f, seconds: 0 })), 4],
  ];

  it.each(cases)("%s: every unit exactly once, makespan ≥ bound, ratio, figures add up", (_name, inputs, shards) => {
    const plan = planShards(inputs, { shards });
    expect(plan.shards.map((s) => s.index)).toEqual(Array.from({ length: shards }, (_, i) => i));
    expectEveryUnitOnce(plan, inputs);
    const total = inputs.reduce((s, f) => s + f.seconds, 0);
    expect(plan.totalSeconds).toBeCloseTo(total, 6);
    expect(plan.shards.reduce((s, x) => s + x.predictedSeconds, 0)).toBeCloseTo(total, 6);
    expect(plan.makespanSeconds).toBe(Math.max(...plan.shards.map((s) => s.predictedSeconds)));
    expect(plan.makespanSeconds).toBeGreaterThanOrEqual(plan.lowerBoundSeconds - 1e-9);
    expect(plan.lowerBoundSeconds).toBeGreaterThanOrEqual(total / shards - 1e-9);
    expect(plan.ratio).toBeCloseTo(plan.lowerBoundSeconds > 0 ? plan.makespanSeconds / plan.lowerBoundSeconds : 1, 9);
    // LPT guarantee: makespan ≤ (4/3 - 1/(3m)) · OPT ≤ that · bound... against the bound it is at most 4/3 + longest unit
    expect(plan.makespanSeconds).toBeLessThanOrEqual(total / shards + plan.lowerBoundSeconds + 1e-9);
    expect(plan.bottleneck.shardIndex).toBe(plan.shards.findIndex((s) => s.predictedSeconds === plan.makespanSeconds));
    for (const s of plan.shards) expect([...s.units].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(s.units);
  });

  it.each(cases)("%s: the same plan for every input order", (_name, inputs, shards) => {
    const reference = JSON.stringify(planShards(inputs, { shards }));
    for (const seed of [7, 8, 9]) {
      const reordered = shuffled(inputs, seed).map((f) => (f.examples ? { ...f, examples: shuffled(f.examples, seed) } : f));
      expect(JSON.stringify(planShards(reordered, { shards }))).toBe(reference);
    }
  });

  it("is within 2% of the lower bound on the shared report at 8 shards", () => {
    const plan = planShards(shared, { shards: 8 });
    expect(plan.ratio).toBeLessThanOrEqual(1.02);
    expect(plan.lowerBoundSeconds).toBeCloseTo(3313.58 / 8, 1);
    expect(plan.fileCount).toBe(758);
  });

  it("beats both baselines on the shared report", () => {
    for (const shards of [8, 16]) {
      const lpt = planShards(shared, { shards }).makespanSeconds;
      expect(lpt).toBeLessThan(planRoundRobin(shared, { shards }).makespanSeconds);
      expect(lpt).toBeLessThan(planChunks(shared, { shards }).makespanSeconds);
    }
  });
});

describe("tie-breaking", () => {
  it.each([
    [
      "equal seconds: path order decides, shards fill by index",
      [
        { path: "spec/c_spec.rb", seconds: 1 },
        { path: "spec/a_spec.rb", seconds: 1 },
        { path: "spec/b_spec.rb", seconds: 1 },
      ],
      2,
      [["spec/a_spec.rb", "spec/c_spec.rb"], ["spec/b_spec.rb"]],
    ],
    [
      "longest first onto the least loaded shard",
      [
        { path: "spec/a_spec.rb", seconds: 1 },
        { path: "spec/b_spec.rb", seconds: 5 },
        { path: "spec/c_spec.rb", seconds: 3 },
        { path: "spec/d_spec.rb", seconds: 3 },
      ],
      2,
      // b(5) -> 0, c(3) -> 1, d(3) -> 1 (3 < 5), a(1) -> 0 (5 < 6)
      [["spec/a_spec.rb", "spec/b_spec.rb"], ["spec/c_spec.rb", "spec/d_spec.rb"]],
    ],
    [
      "byte order, not locale order (upper case first)",
      [
        { path: "spec/b_spec.rb", seconds: 2 },
        { path: "spec/B_spec.rb", seconds: 2 },
      ],
      2,
      [["spec/B_spec.rb"], ["spec/b_spec.rb"]],
    ],
    [
      "equal loads: the lower shard index gets the next unit",
      [
        { path: "spec/a_spec.rb", seconds: 2 },
        { path: "spec/b_spec.rb", seconds: 2 },
        { path: "spec/c_spec.rb", seconds: 1 },
      ],
      3,
      [["spec/a_spec.rb"], ["spec/b_spec.rb"], ["spec/c_spec.rb"]],
    ],
  ])("%s", (_name, inputs, shards, expected) => {
    expect(planShards(inputs, { shards }).shards.map((s) => s.units)).toEqual(expected);
  });
});

describe("example-level splitting", () => {
  it("splits a file longer than total/shards and lowers the makespan toward total/shards", () => {
    const inputs = withExamples(shared, DOMINANT, 40);
    const whole = planShards(inputs, { shards: 24, splitExamples: false });
    const split = planShards(inputs, { shards: 24 });
    expect(whole.makespanSeconds).toBeCloseTo(172.39, 1); // the file alone bounds it
    expect(whole.bottleneck).toMatchObject({ unit: DOMINANT, reason: "longest-unit" });
    expect(split.makespanSeconds).toBeLessThan(whole.makespanSeconds * 0.85);
    expect(split.makespanSeconds).toBeLessThanOrEqual((3313.58 / 24) * 1.01);
    expect(split.lowerBoundSeconds).toBeCloseTo(3313.58 / 24, 0);
    expect(split.splitFiles).toEqual([expect.objectContaining({ path: DOMINANT, examples: 40 })]);
    expect(split.splitFiles[0]!.parts).toBeGreaterThan(1);
    expect(split.bottleneck.reason).toBe("balance");
  });

  it("writes the examples a shard gets as one rspec argument per file", () => {
    const inputs = withExamples(shared, DOMINANT, 40);
    const plan = planShards(inputs, { shards: 24 });
    const parts = plan.shards.flatMap((s) => s.units.filter((u) => u.startsWith(DOMINANT)));
    expect(parts.length).toBe(plan.splitFiles[0]!.parts);
    for (const s of plan.shards) expect(s.units.filter((u) => u.startsWith(DOMINANT)).length).toBeLessThanOrEqual(1);
    expect(parts.every((u) => /^spec\/.+_spec\.rb\[[\d:,]+\]$/.test(u))).toBe(true);
  });

  it("keeps the file whole when it is not longer than total/shards", () => {
    const plan = planShards(withExamples(shared, DOMINANT, 40), { shards: 8 });
    expect(plan.splitFiles).toEqual([]);
    expect(plan.shards.some((s) => s.units.includes(DOMINANT))).toBe(true);
  });

  it("reports a dominant file without example ids as unsplittable", () => {
    const plan = planShards(shared, { shards: 24 });
    expect(plan.unsplittable).toEqual([{ path: DOMINANT, seconds: expect.closeTo(172.39, 1) }]);
    expect(formatShardPlan(plan)).toContain(`cannot split ${DOMINANT}`);
  });

  it("puts all examples on one shard back as the plain file", () => {
    const inputs: ShardUnitInput[] = [
      { path: "spec/big_spec.rb", seconds: 10, examples: [{ id: "spec/big_spec.rb[1:1]", seconds: 9 }, { id: "spec/big_spec.rb[1:2]", seconds: 1 }] },
      { path: "spec/a_spec.rb", seconds: 1 },
    ];
    // total 11, share 5.5: the file is split, but 9 + 1 cannot both move: [1:1] alone, [1:2] + a together
    const plan = planShards(inputs, { shards: 2 });
    expect(plan.shards.map((s) => s.units)).toEqual([["spec/big_spec.rb[1:1]"], ["spec/a_spec.rb", "spec/big_spec.rb[1:2]"]]);
    expect(plan.lowerBoundSeconds).toBe(9);
    expect(plan.makespanSeconds).toBe(9);
    const one = planShards([{ path: "spec/big_spec.rb", seconds: 10, examples: [{ id: "spec/big_spec.rb[1:1]", seconds: 5 }, { id: "spec/big_spec.rb[1:2]", seconds: 5 }] }, { path: "spec/a_spec.rb", seconds: 0 }], { shards: 1 });
    expect(one.shards[0]!.units).toEqual(["spec/a_spec.rb", "spec/big_spec.rb"]);
  });

  it("scales example times to the file's time (load and hooks included)", () => {
    const inputs: ShardUnitInput[] = [
      { path: "spec/big_spec.rb", seconds: 20, examples: [{ id: "spec/big_spec.rb[1:1]", seconds: 3 }, { id: "spec/big_spec.rb[1:2]", seconds: 1 }] },
      { path: "spec/a_spec.rb", seconds: 4 },
    ];
    const plan = planShards(inputs, { shards: 2 });
    expect(plan.shards.map((s) => s.predictedSeconds)).toEqual([15, 9]);
  });

  it.each([
    ["bracket ids in reading order", "spec/a_spec.rb", ["spec/a_spec.rb[1:10]", "spec/a_spec.rb[1:2]", "spec/a_spec.rb[2:1]"], ["spec/a_spec.rb[1:2,1:10,2:1]"]],
    ["line ids", "spec/a_spec.rb", ["spec/a_spec.rb:42", "spec/a_spec.rb:7"], ["spec/a_spec.rb:7:42"]],
    ["mixed", "spec/a_spec.rb", ["spec/a_spec.rb:42", "spec/a_spec.rb[1:1]"], ["spec/a_spec.rb[1:1]", "spec/a_spec.rb:42"]],
  ])("groupExampleIds: %s (parseShardUnit inverts it)", (_name, file, ids, expected) => {
    const grouped = groupExampleIds(file, ids);
    expect(grouped).toEqual(expected);
    expect(grouped.flatMap((u) => parseShardUnit(u).ids).sort()).toEqual([...ids].sort());
  });
});

describe("baselines", () => {
  const inputs = ["e", "a", "d", "b", "c"].map((x, i) => ({ path: `spec/${x}_spec.rb`, seconds: i + 1 }));
  it("round-robin deals alphabetical files in turn", () => {
    expect(planRoundRobin(inputs, { shards: 2 }).shards.map((s) => s.units)).toEqual([
      ["spec/a_spec.rb", "spec/c_spec.rb", "spec/e_spec.rb"],
      ["spec/b_spec.rb", "spec/d_spec.rb"],
    ]);
  });
  it("chunks cut alphabetical files into equal-count contiguous runs", () => {
    const plan = planChunks(inputs, { shards: 2 });
    expect(plan.shards.map((s) => s.units)).toEqual([["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb"], ["spec/d_spec.rb", "spec/e_spec.rb"]]);
    expect(plan.strategy).toBe("chunks");
    expectEveryUnitOnce(plan, inputs);
  });
});

describe("validation", () => {
  const one = [{ path: "spec/a_spec.rb", seconds: 1 }];
  it("pipeline.json caps test.shards where the planner does", () => {
    expect(parseConfig({ test: { shards: MAX_SHARDS } }).test.shards).toBe(MAX_SHARDS);
    expect(() => parseConfig({ test: { shards: MAX_SHARDS + 1 } })).toThrow(`test.shards: must be at most ${MAX_SHARDS}`);
    expect(planShards(one, { shards: MAX_SHARDS }).shards).toHaveLength(MAX_SHARDS);
  });

  it.each([
    ["zero shards", one, { shards: 0 }, "ARGUMENT_INVALID", "--shards 0 must be a whole number from 1 to 64"],
    ["more shards than the cap (pipeline.json caps test.shards at 64 too)", one, { shards: 65 }, "ARGUMENT_INVALID", "--shards 65 must be a whole number from 1 to 64"],
    ["a count that would exhaust memory", one, { shards: 100_000_000_000 }, "ARGUMENT_INVALID", "--shards 100000000000 must be a whole number from 1 to 64"],
    ["negative shards", one, { shards: -2 }, "ARGUMENT_INVALID", "--shards -2"],
    ["fractional shards", one, { shards: 2.5 }, "ARGUMENT_INVALID", "--shards 2.5"],
    ["NaN shards", one, { shards: Number.NaN }, "ARGUMENT_INVALID", "--shards NaN"],
    ["shard index = shards", one, { shards: 4, shardIndex: 4 }, "ARGUMENT_INVALID", "--shard-index 4 is out of range for --shards 4 (valid: 0 to 3)"],
    ["negative shard index", one, { shards: 4, shardIndex: -1 }, "ARGUMENT_INVALID", "--shard-index -1"],
    ["no units", [], { shards: 2 }, "SHARD_PLAN_INVALID", "there are no spec files to split into shards"],
    ["duplicate unit", [...one, ...one], { shards: 2 }, "SHARD_PLAN_INVALID", "spec/a_spec.rb: is listed twice"],
    ["negative seconds", [{ path: "spec/a_spec.rb", seconds: -1 }], { shards: 2 }, "SHARD_PLAN_INVALID", "spec/a_spec.rb: has -1 seconds"],
    ["infinite seconds", [{ path: "spec/a_spec.rb", seconds: Infinity }], { shards: 2 }, "SHARD_PLAN_INVALID", "has Infinity seconds"],
  ])("%s", (_name, inputs, options, code, fragment) => {
    for (const plan of [planShards, planRoundRobin, planChunks]) {
      const err = thrown(() => plan(inputs, options));
      expect(err.code).toBe(code);
      expect(err.message).toContain(fragment);
    }
  });

  it("lists several bad units at once", () => {
    const err = thrown(() => planShards([{ path: "spec/a_spec.rb", seconds: -1 }, { path: "spec/b_spec.rb", seconds: Number.NaN }], { shards: 2 }));
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).problems).toHaveLength(2);
  });

  it("selects the shard --shard-index asks for, from the same full plan", () => {
    const full = planShards(shared, { shards: 8 });
    const seventh = planShards(shared, { shards: 8, shardIndex: 7 });
    expect(seventh.selected).toEqual(full.shards[7]);
    expect(seventh.shards).toEqual(full.shards);
  });
});

describe("formatting", () => {
  it("formatShardPlan names makespan, bound, ratio, bottleneck and every shard", () => {
    const text = formatShardPlan(planShards(shared, { shards: 8 }));
    expect(text).toContain("lpt plan: 758 files over 8 shard(s)");
    expect(text).toMatch(/makespan 414\.\d s, lower bound 414\.\d s, ratio 1\.0\d{3}/);
    expect(text).toContain("bottleneck: shard");
    expect(text.split("\n").filter((l) => l.startsWith("shard "))).toHaveLength(8);
  });

  it("marks empty shards", () => {
    expect(formatShardPlan(planShards([{ path: "spec/a_spec.rb", seconds: 1 }], { shards: 2 }))).toContain("shard 1: 0.0 s, 0 unit(s) (nothing to run: skip this shard)");
  });

  it.each([
    ["plain paths", ["spec/a_spec.rb", "spec/b_spec.rb:10:20"], "spec/a_spec.rb spec/b_spec.rb:10:20"],
    ["glob characters quoted", ["spec/a_spec.rb[1:1,1:2]"], "'spec/a_spec.rb[1:1,1:2]'"],
    ["quotes and spaces", ["spec/it's a_spec.rb"], `'spec/it'\\''s a_spec.rb'`],
    ["a key starting with a dash is a file, not an rspec option", ["-x_spec.rb", "--require=evil.rb"], "./-x_spec.rb ./--require=evil.rb"],
    ["a dashed key with example ids", ["-x_spec.rb[1:2]"], "'./-x_spec.rb[1:2]'"],
  ])("formatShellArgs: %s", (_name, units, expected) => {
    expect(formatShellArgs(units)).toBe(expected);
  });
});

/**
 * The work one `planShards` call does, counted without a clock: every comparison made by the sorts
 * it calls with a comparator (Array.prototype.sort wrapped for this one synchronous call; the wrapper
 * counts and passes through) and every read of the inputs (the list and each input behind a Proxy).
 */
function countPlanningWork(inputs: readonly ShardUnitInput[], shards: number): { plan: ShardPlan; comparisons: number; reads: number } {
  let comparisons = 0;
  let reads = 0;
  const countReads = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, key, receiver) {
        reads++;
        return Reflect.get(object, key, receiver) as unknown;
      },
    });
  const counted = countReads(inputs.map(countReads));
  const sort = Array.prototype.sort;
  Array.prototype.sort = function <T>(this: T[], compare?: (a: T, b: T) => number): T[] {
    return sort.call(this, compare && ((a: T, b: T) => (comparisons++, compare(a, b)))) as T[];
  };
  try {
    return { plan: planShards(counted, { shards }), comparisons, reads };
  } finally {
    Array.prototype.sort = sort;
  }
}

describe("scale (work counted, not timed: the speed itself is `npm run bench:shards`)", () => {
  const inputs = randomInputs(11, 10_000);

  it("plans 10,000 files onto 8 shards: every file once, near the bound, the same plan whatever the input order", () => {
    const plan = planShards(inputs, { shards: 8 });
    expect(plan.shards.reduce((n, s) => n + s.units.length, 0)).toBe(10_000);
    expectEveryUnitOnce(plan, inputs);
    expect(plan.ratio).toBeLessThan(1.001);
    expect(planShards(shuffled(inputs, 5), { shards: 8 })).toEqual(plan);
  });

  it("grows like n log n: ten times the files cost at most ~13x the comparisons and 10x the input reads", () => {
    const small = countPlanningWork(inputs.slice(0, 1_000), 8);
    const large = countPlanningWork(inputs, 8);
    expect(large.plan).toEqual(planShards(inputs, { shards: 8 })); // counting does not change the plan
    expect(small.comparisons).toBeGreaterThan(1_000); // the sort is observed
    // n log n: 10 * log(10,000) / log(1,000) = 13.3; a quadratic step would make it about 100.
    expect(large.comparisons / small.comparisons).toBeLessThan(10 * (Math.log(10_000) / Math.log(1_000)) * 1.25);
    expect(large.reads / small.reads).toBeLessThan(10 * 1.05);
  });
});

/**
 * `dagger call test` for real, minus the engine: the exact per-shard script the graph runs
 * (lib/shard-script.ts), planned and summarised by the same pure functions (lib/test-run.ts), run
 * against the example app with a real postgres and redis per shard. Then the run's measured
 * timings feed a second plan, as the next CI run would.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { parseShardUnit } from "../../modules/pipeline/src/lib/shard-planner.js";
import { planTestRun, summariseTestRun, type TestRunPlan, type TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";
import { REPO_ROOT } from "../support/introspect.js";
import { readExampleInputs, runShard, shardOf } from "../support/shard-runner.js";

const SHARDS = 4;

let first: { plan: TestRunPlan; result: TestRunResult; specFiles: string[] };

beforeAll(async () => {
  const inputs = await readExampleInputs();
  const specFiles = inputs.specFiles;
  const plan = planTestRun({ ...inputs, shards: SHARDS, shardIndex: -1 });
  const outRoot = await mkdtemp(path.join(os.tmpdir(), "test-shards-"));
  const outcomes = await Promise.all(plan.selected.map((i) => runShard(shardOf(plan, i), outRoot)));
  const result = summariseTestRun(plan, outcomes);
  // The summary table only when it explains a failure: a passing run keeps the test output quiet.
  if (!result.summary.passed) console.log(result.text);
  first = { plan, result, specFiles };
  // Kept for `npm run bench:shards -- --timings test/.tmp/example-app-timings.json`.
  await mkdir(path.join(REPO_ROOT, "test/.tmp"), { recursive: true });
  await writeFile(path.join(REPO_ROOT, "test/.tmp/example-app-timings.json"), result.timingsJson);
}, 600_000);

describe("sharded rspec run on the example app (real postgres and redis per shard)", () => {
  it("every shard ran cleanly and every example passed", () => {
    const { summary } = first.result;
    expect(summary.problems).toEqual([]);
    expect(summary.failures).toEqual([]);
    expect(summary.passed).toBe(true);
    expect(summary.shards).toHaveLength(SHARDS);
    expect(summary.totals.tests).toBeGreaterThan(100);
  });

  it("every spec file ran exactly once across the shards (merged JUnit)", () => {
    const merged = parseJUnit(first.result.mergedJUnit, "merged");
    expect(merged.files.map((f) => f.file).sort()).toEqual(first.specFiles);
    expect(merged.totals.tests).toBe(first.result.summary.totals.tests);
  });

  it("measured each shard's wall time and reports predicted vs actual", () => {
    for (const s of first.result.summary.shards) {
      expect(s.actualSource).toBe("wall");
      expect(s.actualSeconds).toBeGreaterThan(0);
    }
    expect(first.result.text).toMatch(/shard\s+units\s+predicted\s+actual/);
  });

  it("the next run's timings are per example and re-plan closer to the lower bound", () => {
    const timings = JSON.parse(first.result.timingsJson) as Record<string, number>;
    expect(Object.keys(timings).some((k) => /\[\d+(:\d+)*\]$/.test(k))).toBe(true);
    const measured = { specFiles: first.specFiles, timingsText: first.result.timingsJson, timingsSource: "timings.json", fileSizes: {}, shards: 8, shardIndex: -1 };
    const replanned = planTestRun(measured);
    // One file is longer than total/8: with example ids it is split and the plan lands near total/8.
    expect(replanned.shardPlan.splitFiles.length).toBeGreaterThan(0);
    expect(replanned.shardPlan.ratio).toBeLessThan(1.1);
    const whole = planTestRun({ ...measured, splitExamples: false });
    expect(replanned.shardPlan.makespanSeconds).toBeLessThan(whole.shardPlan.makespanSeconds);
  });

  it("examples added to a split file since the timings were recorded still run, each exactly once", async () => {
    const timings = JSON.parse(first.result.timingsJson) as Record<string, number>;
    const merged = parseJUnit(first.result.mergedJUnit, "merged");
    const big = [...merged.files].sort((a, b) => b.time - a.time)[0]!;
    const ids = Object.keys(timings).filter((k) => k.startsWith(`${big.file}[`));
    expect(ids.length).toBe(big.tests);
    // Pretend the last three examples are new: the timings do not know them.
    const byPosition = (id: string) => Number(/\[(?:\d+:)*(\d+)\]$/.exec(id)![1]);
    const known = [...ids].sort((a, b) => byPosition(a) - byPosition(b)).slice(0, -3);
    const reduced = Object.fromEntries(Object.entries(timings).filter(([k]) => !k.startsWith(`${big.file}[`) || known.includes(k)));
    const plan = planTestRun({ specFiles: first.specFiles, timingsText: JSON.stringify(reduced), timingsSource: "reduced", fileSizes: {}, shards: 8, shardIndex: -1 });
    expect(plan.shardPlan.splitFiles.map((f) => f.path)).toContain(big.file);

    // Run only the big file's parts, on every shard that holds one.
    const parts = plan.shardPlan.shards
      .map((s) => ({ ...shardOf(plan, s.index), units: s.units.filter((u) => parseShardUnit(u).file === big.file) }))
      .filter((s) => s.units.length > 0);
    expect(parts.length).toBeGreaterThan(1);
    const outRoot = await mkdtemp(path.join(os.tmpdir(), "test-split-"));
    const outcomes = await Promise.all(parts.map((p) => runShard(p, outRoot)));
    expect(outcomes.map((o) => o.exitCode)).toEqual(parts.map(() => 0));
    const cases = outcomes.flatMap((o) => parseJUnit(o.junit, `shard ${o.index}`).cases).filter((c) => c.file === big.file);
    expect(cases).toHaveLength(big.tests);
    expect(new Set(cases.map((c) => `${c.classname} ${c.name}`)).size).toBe(big.tests);
  }, 300_000);
});

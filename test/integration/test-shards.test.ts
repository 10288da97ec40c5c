/**
 * `dagger call test` for real, minus the engine: the exact per-shard script the graph runs
 * (lib/shard-script.ts), planned and summarised by the same pure functions (lib/test-run.ts), run
 * against the example app with a real postgres and redis per shard. Then the run's measured
 * timings feed a second plan, as the next CI run would.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSpecFiles } from "../../modules/pipeline/src/cli/shards.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { formatShardScript } from "../../modules/pipeline/src/lib/shard-script.js";
import { parseShardUnit } from "../../modules/pipeline/src/lib/shards.js";
import { planTestRun, summariseTestRun, type ShardOutcome, type TestRunPlan, type TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";
import { REPO_ROOT } from "../support/introspect.js";
import { startPostgres, startRedis, type RunningService } from "../support/services.js";

const APP = path.join(REPO_ROOT, "test/fixtures/rails-api");
const SHARDS = 4;
const config = parseConfig(undefined);
const services: RunningService[] = [];

interface ShardRun {
  index: number;
  shardCount: number;
  units: string[];
  catchAll?: Array<{ file: string; knownIds: string[] }>;
}

const shardOf = (plan: TestRunPlan, index: number): ShardRun => ({
  index,
  shardCount: plan.shardPlan.shards.length,
  units: plan.shardPlan.shards[index]!.units,
  catchAll: plan.catchAll[index],
});

async function runShard({ index, shardCount, units, catchAll }: ShardRun, outRoot: string): Promise<ShardOutcome> {
  const [pg, redis] = await Promise.all([startPostgres({ database: `blinker_test_${index}` }), startRedis()]);
  services.push(pg, redis);
  const outDir = path.join(outRoot, `shard-${index}`);
  const script = path.join(outRoot, `shard-${index}.sh`);
  await writeFile(
    script,
    formatShardScript({
      shardIndex: index,
      shardCount,
      units,
      catchAll,
      setupCommands: config.test.setupCommands,
      outDir,
      postgres: { host: "127.0.0.1", port: pg.port },
      redis: { host: "127.0.0.1", port: redis.port },
    }),
  );
  const env = { ...process.env, RAILS_ENV: "test", DATABASE_URL: pg.url, REDIS_URL: redis.url, TEST_SHARD: `shard-${index}-of-${shardCount}` };
  const child = spawn("bash", [script], { cwd: APP, env });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exitCode: number = await new Promise((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  const read = (f: string) => readFile(path.join(outDir, f), "utf8").catch(() => undefined);
  const [junit, rspecJson, seconds] = await Promise.all([read("junit.xml"), read("rspec.json"), read("seconds")]);
  if (exitCode !== 0) console.error(`shard ${index} output:\n${output}`);
  return { index, exitCode, output, junit: junit ?? "", rspecJson, seconds: seconds === undefined ? undefined : Number(seconds) };
}

let first: { plan: TestRunPlan; result: TestRunResult; specFiles: string[] };

beforeAll(async () => {
  const specFiles = readSpecFiles(APP);
  const timingsText = await readFile(path.join(APP, config.test.timingsFile), "utf8").catch(() => undefined);
  const sizes = await Promise.all(specFiles.map(async (f) => (await stat(path.join(APP, f))).size));
  const plan = planTestRun({
    specFiles,
    timingsText,
    timingsSource: config.test.timingsFile,
    fileSizes: Object.fromEntries(specFiles.map((f, i) => [f, sizes[i]!])),
    shards: SHARDS,
    shardIndex: -1,
  });
  const outRoot = await mkdtemp(path.join(os.tmpdir(), "test-shards-"));
  const outcomes = await Promise.all(plan.selected.map((i) => runShard(shardOf(plan, i), outRoot)));
  const result = summariseTestRun(plan, outcomes);
  console.log(result.text);
  first = { plan, result, specFiles };
  // Kept for `npm run bench:shards -- --timings test/.tmp/example-app-timings.json`.
  await writeFile(path.join(REPO_ROOT, "test/.tmp/example-app-timings.json"), result.timingsJson).catch(() => undefined);
}, 600_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
});

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
    const replanned = planTestRun({
      specFiles: first.specFiles,
      timingsText: first.result.timingsJson,
      timingsSource: "timings.json",
      fileSizes: {},
      shards: 8,
      shardIndex: -1,
    });
    // One file is longer than total/8: with example ids it is split and the plan lands near total/8.
    expect(replanned.shardPlan.splitFiles.length).toBeGreaterThan(0);
    expect(replanned.shardPlan.ratio).toBeLessThan(1.1);
    const whole = planTestRun({
      specFiles: first.specFiles,
      timingsText: first.result.timingsJson,
      timingsSource: "timings.json",
      fileSizes: {},
      shards: 8,
      shardIndex: -1,
      splitExamples: false,
    });
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

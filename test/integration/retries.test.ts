/**
 * `--retries` for real: a copy of the example app with one flaky example (fails the first time,
 * passes after) and one that always fails, run by the same shard script the graph runs, with a real
 * postgres and redis. The flaky example must end `flaky` (never passed), the failing one `failed`
 * with every attempt in the merged JUnit, which the project's own parser reads.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { planTestRun, summariseTestRun, type TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";
import { FLAKY_SPEC_FILE, makeFlakyApp } from "../support/flaky-app.js";
import { runShard, shardOf } from "../support/shard-runner.js";


let result: TestRunResult;
let retrySeconds: number | undefined;

beforeAll(async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), "retries-"));
  const app = await makeFlakyApp(root);
  const specFiles = [FLAKY_SPEC_FILE, "spec/models/vehicle_spec.rb"];
  const plan = planTestRun({ specFiles, timingsSource: "(none)", fileSizes: {}, shards: 1, shardIndex: -1 });
  const outcome = await runShard(shardOf(plan, 0, { retries: 2, appDir: app }), root);
  retrySeconds = outcome.retrySeconds;
  result = summariseTestRun(plan, [outcome]);
}, 300_000);

describe("--retries on the example app (real rspec, postgres, redis)", () => {
  it.each([
    ["retried examples passes", "passed", 1],
    ["retried examples fails the first time only", "flaky", 2],
    ["retried examples always fails", "failed", 3],
  ])("%s ends %s after %i attempt(s)", (name, verdict, attempts) => {
    const e = result.examples.find((x) => x.name === name)!;
    expect(e).toMatchObject({ verdict, attempts, file: "spec/flaky/retry_spec.rb" });
    expect(e.id).toMatch(/^spec\/flaky\/retry_spec\.rb\[1:\d\]$/);
  });

  it("no flaky example is counted as passed; only the always-failing one fails the run", () => {
    expect(result.flaky.map((f) => f.name)).toEqual(["retried examples fails the first time only"]);
    expect(result.summary.totals.flaky).toBe(1);
    expect(result.summary.totals.passed).toBe(result.summary.totals.tests - 2);
    expect(result.failures).toBe(1);
    expect(result.brokenShards).toBe(0);
    expect(result.text).toContain("Flaky: failed, then passed on a retry (1)");
  });

  it("the merged JUnit keeps every attempt, one testcase per example, and parses with lib/junit.ts", () => {
    const merged = parseJUnit(result.mergedJUnit, "merged");
    expect(merged.cases).toHaveLength(result.examples.length);
    expect(new Set(merged.cases.map((c) => c.id)).size).toBe(merged.cases.length);
    expect(result.mergedJUnit.match(/<flakyFailure /g)).toHaveLength(1);
    expect(result.mergedJUnit.match(/<rerunFailure /g)).toHaveLength(2);
    expect(merged.cases.find((c) => c.name === "retried examples always fails")!.status).toBe("failed");
  });

  it("measures what the retries cost", () => {
    expect(retrySeconds).toBeGreaterThan(0);
    expect(result.summary.shards[0]!.actualSeconds).toBeGreaterThan(retrySeconds!);
  });
});

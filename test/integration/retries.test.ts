/**
 * `--retries` for real: a copy of the example app with one flaky example (fails the first time,
 * passes after) and one that always fails, run by the same shard script the graph runs, with a real
 * postgres and redis. The flaky example must end `flaky` (never passed), the failing one `failed`
 * with every attempt in the merged JUnit, which the project's own parser reads.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { planTestRun, summariseTestRun, type TestRunResult } from "../../modules/pipeline/src/lib/test-run.js";
import { EXAMPLE_APP, runShard, shardOf } from "../support/shard-runner.js";

const FLAKY_SPEC = `# frozen_string_literal: true

require "rails_helper"

RSpec.describe "retried examples" do
  it "passes" do
    expect(Loan.count).to eq(0)
  end

  it "fails the first time only" do
    marker = Rails.root.join("tmp", "flaky-once")
    first = !File.exist?(marker)
    File.write(marker, "seen")
    expect(first).to be(false)
  end

  it "always fails" do
    expect(1 + 1).to eq(3)
  end
end
`;

let result: TestRunResult;
let retrySeconds: number | undefined;

beforeAll(async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), "retries-"));
  const app = path.join(root, "app");
  execFileSync("cp", ["-a", EXAMPLE_APP, app]);
  await mkdir(path.join(app, "spec/flaky"), { recursive: true });
  await writeFile(path.join(app, "spec/flaky/retry_spec.rb"), FLAKY_SPEC);
  const specFiles = ["spec/flaky/retry_spec.rb", "spec/models/vehicle_spec.rb"];
  const plan = planTestRun({ specFiles, timingsSource: "(none)", fileSizes: {}, shards: 1, shardIndex: -1 });
  const outcome = await runShard(shardOf(plan, 0, { retries: 2, appDir: app }), root);
  retrySeconds = outcome.retrySeconds;
  result = summariseTestRun(plan, [outcome]);
  console.log(result.text);
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

/** Why a shard broke (lib/test-run.ts explainShardOutcome), in the summary and the outcome CI decides from. */
import { describe, expect, it } from "vitest";
import { formatTestOutcome } from "../../modules/pipeline/src/lib/test-outcome.js";
import { explainShardOutcome, planTestRun, summariseTestRun } from "../../modules/pipeline/src/lib/test-run.js";

describe("explainShardOutcome", () => {
  it.each([
    ["SIGKILL (the OOM killer)", { exitCode: 137, stderr: "Killed" }, "killed by signal 9 (SIGKILL, usually out of memory), exit 137; stderr: Killed"],
    ["SIGSEGV", { exitCode: 139 }, "killed by signal 11 (SIGSEGV), exit 139"],
    ["SIGTERM", { exitCode: 143 }, "killed by signal 15 (SIGTERM), exit 143"],
    ["the script's own reasons first", { exitCode: 90, stderr: "warning: x\npipeline: postgres not ready after 60s\n" }, "stderr: pipeline: postgres not ready after 60s"],
    ["the last stderr lines otherwise", { exitCode: 1, stderr: "a\nb\nc\nd\n" }, "stderr: b | c | d"],
    ["the engine's error without an exit code", { exitCode: -1, failure: "start svc-3: health check errored" }, "start svc-3: health check errored"],
    ["nothing to say", { exitCode: 0, stderr: "" }, undefined],
  ])("%s", (_name, outcome, expected) => {
    expect(explainShardOutcome(outcome)).toBe(expected);
  });
});

describe("a broken shard in the run summary and outcome.json", () => {
  const plan = planTestRun({ specFiles: ["spec/a_spec.rb", "spec/b_spec.rb"], timingsSource: "(none)", fileSizes: { "spec/a_spec.rb": 10, "spec/b_spec.rb": 10 }, shards: 2, shardIndex: -1 });
  const junit = '<testsuite name="rspec" tests="1" failures="0" errors="0" skipped="0" time="1"><testcase classname="a" name="x" file="./spec/a_spec.rb" time="1"/></testsuite>';

  it("keeps the healthy shard's results and names the broken shard's reason", () => {
    const result = summariseTestRun(plan, [
      { index: 0, exitCode: 0, output: "", junit },
      { index: 1, exitCode: 137, output: "", stderr: "Killed", junit: "" },
    ]);
    expect(result.summary.totals.tests).toBe(1);
    expect(result.brokenShards).toBe(1);
    expect(result.text).toContain("shard 1: it wrote no JUnit report (rspec exited with 137): killed by signal 9");
    expect(JSON.parse(formatTestOutcome({ ...result, flaky: result.flaky.length }))).toEqual({ pipelineTestOutcome: 1, failures: 0, brokenShards: 1, flaky: 0 });
  });

  it("passes when every shard ran cleanly", () => {
    const result = summariseTestRun(plan, [0, 1].map((index) => ({ index, exitCode: 0, output: "", junit })));
    expect(result.summary.passed).toBe(true);
    expect(JSON.parse(formatTestOutcome({ ...result, flaky: result.flaky.length }))).toMatchObject({ failures: 0, brokenShards: 0 });
  });
});

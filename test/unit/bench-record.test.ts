import { describe, expect, it } from "vitest";
import { planTestRun, summariseTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import { benchRecord, bootSeconds, staleTimings } from "../support/bench-record.js";

const junit = (cases: Array<[string, boolean]>) =>
  `<testsuite name="rspec">${cases.map(([n, ok]) => `<testcase classname="c" name="${n}" file="./spec/a_spec.rb" time="1">${ok ? "" : '<failure message="m">x</failure>'}</testcase>`).join("")}</testsuite>`;
const json = (cases: Array<[string, string, boolean]>) =>
  JSON.stringify({ examples: cases.map(([id, n, ok]) => ({ id: `./${id}`, full_description: n, file_path: "./spec/a_spec.rb", status: ok ? "passed" : "failed", run_time: 1 })) });

describe("benchRecord", () => {
  it("gives the documented fields: balance from the shards' seconds, flaky ids apart, retry cost vs budget", () => {
    const plan = planTestRun({ specFiles: ["spec/a_spec.rb", "spec/b_spec.rb"], timingsSource: "(none)", fileSizes: {}, shards: 2, shardIndex: -1 });
    const first = { junit: junit([["ok", true], ["flaky", false]]), rspecJson: json([["spec/a_spec.rb[1:1]", "ok", true], ["spec/a_spec.rb[1:2]", "flaky", false]]) };
    const retry = { junit: junit([["flaky", true]]), rspecJson: json([["spec/a_spec.rb[1:2]", "flaky", true]]) };
    const outcomes = [
      { index: 0, exitCode: 0, output: "Finished in 1 second (files took 4.5 seconds to load)", ...first, retries: [retry], seconds: 12, retrySeconds: 5 },
      { index: 1, exitCode: 0, output: "", junit: junit([]), seconds: 8 },
    ];
    const record = benchRecord("static", 2, summariseTestRun(plan, outcomes), outcomes);
    expect(Object.keys(record).slice(0, 10)).toEqual(["strategy", "shards", "slowestSeconds", "meanSeconds", "maxOverMean", "examples", "passed", "failed", "flaky", "brokenShards"]);
    expect(record).toMatchObject({ strategy: "static", shards: 2, slowestSeconds: 12, meanSeconds: 10, maxOverMean: 1.2, examples: 2, passed: 1, failed: 0, flaky: ["spec/a_spec.rb[1:2]"], brokenShards: 0, retrySeconds: 5, retryBudgetSeconds: 5.5 });
  });

  it("reads the boot time from rspec's output, colours or not", () => {
    expect(bootSeconds("\u001b[0mFinished in 0.07 seconds (files took 7.1 seconds to load)")).toBe(7.1);
    expect(bootSeconds("no rspec here")).toBeUndefined();
  });
});

describe("staleTimings", () => {
  it("distorts every file's times by one factor per file, deterministically", () => {
    const committed = JSON.stringify({ "spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 2, "spec/b_spec.rb": 4 });
    const stale = JSON.parse(staleTimings(committed)) as Record<string, number>;
    expect(stale["spec/a_spec.rb[1:2]"]! / stale["spec/a_spec.rb[1:1]"]!).toBeCloseTo(2, 4);
    expect(stale["spec/b_spec.rb"]).not.toBe(4);
    expect(staleTimings(committed)).toBe(staleTimings(committed));
  });
});

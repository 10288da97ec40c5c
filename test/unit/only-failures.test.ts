import { describe, expect, it } from "vitest";
import { formatJUnit, type TestCase } from "../../modules/pipeline/src/lib/junit.js";
import { resolvePreviousFailures } from "../../modules/pipeline/src/lib/only-failures.js";
import { parseShardUnit } from "../../modules/pipeline/src/lib/shard-planner.js";
import { formatExamplesJson, nextTimings, planTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import { thrown } from "../support/errors.js";

const examplesJson = formatExamplesJson([
  { id: "spec/a_spec.rb[1:1]", file: "spec/a_spec.rb", name: "a1", verdict: "passed", shard: 0, attempts: 1, seconds: 1 },
  { id: "spec/a_spec.rb[1:2]", file: "spec/a_spec.rb", name: "a2", verdict: "failed", shard: 0, attempts: 3, seconds: 1 },
  { id: "spec/b_spec.rb[1:1]", file: "spec/b_spec.rb", name: "b1", verdict: "flaky", shard: 1, attempts: 2, seconds: 1 },
  { id: "spec/c_spec.rb[2:1]", file: "spec/c_spec.rb", name: "c1", verdict: "failed", shard: 1, attempts: 1, seconds: 1 },
]);

const kase = (over: Partial<TestCase>): TestCase => ({ fileSource: "file", name: "x", classname: "x", time: 1, status: "passed", ...over });

describe("resolvePreviousFailures", () => {
  it("from a report directory's examples.json: the failed ids, not the flaky or passed ones", () => {
    expect(resolvePreviousFailures({ source: "test_results", examplesJson })).toEqual({ ids: ["spec/a_spec.rb[1:2]", "spec/c_spec.rb[2:1]"], warnings: [] });
  });

  it("from JUnit: the id attribute, else file:line, else the whole file with a warning", () => {
    const xml = formatJUnit([
      kase({ file: "spec/a_spec.rb", id: "spec/a_spec.rb[1:3]", status: "failed", failure: { kind: "failure", message: "m", text: "" } }),
      kase({ file: "spec/b_spec.rb", name: "by line", status: "failed", failure: { kind: "failure", message: "m", text: "# ./spec/b_spec.rb:12:in 'block'" } }),
      kase({ file: "spec/c_spec.rb", name: "no line", status: "failed", failure: { kind: "failure", message: "m", text: "" } }),
      kase({ file: "spec/d_spec.rb", name: "passes" }),
    ]);
    const failed = resolvePreviousFailures({ source: "junit", junit: [{ name: "merged.xml", xml }] });
    expect(failed.ids).toEqual(["spec/a_spec.rb[1:3]", "spec/b_spec.rb:12", "spec/c_spec.rb"]);
    expect(failed.warnings).toEqual(['merged.xml: the failed example "no line" has no id or line: its whole file spec/c_spec.rb reruns']);
  });

  it("names the report when examples.json is unreadable", () => {
    expect(thrown(() => resolvePreviousFailures({ source: "out", examplesJson: "{" })).message).toContain("[ARGUMENT_INVALID] --previous out: examples.json cannot be read");
  });
});

describe("planTestRun with --only-failures", () => {
  const specFiles = ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb", "spec/d_spec.rb"];
  const timingsText = JSON.stringify({ "spec/a_spec.rb[1:1]": 5, "spec/a_spec.rb[1:2]": 1, "spec/a_spec.rb[1:3]": 2, "spec/b_spec.rb": 4, "spec/c_spec.rb": 3, "spec/d_spec.rb": 9 });
  const input = { specFiles, timingsText, timingsSource: "t.json", fileSizes: {}, shards: 2, shardIndex: -1 };
  const ids = ["spec/a_spec.rb[1:2]", "spec/a_spec.rb[1:3]", "spec/c_spec.rb", "spec/gone_spec.rb[1:1]"];

  it("runs exactly the failed examples (and whole failed files), each once, no catch-all", () => {
    const plan = planTestRun({ ...input, onlyExamples: ids });
    const units = plan.shardPlan.shards.flatMap((s) => s.units);
    const ran = units.flatMap((u) => {
      const { file, ids } = parseShardUnit(u);
      return ids.length ? ids : [file];
    });
    expect(ran.sort()).toEqual(["spec/a_spec.rb[1:2]", "spec/a_spec.rb[1:3]", "spec/c_spec.rb"]);
    expect(plan.catchAll).toEqual({});
    expect(plan.warnings).toContain("--only-failures: 1 failed file(s) no longer exist and are skipped: spec/gone_spec.rb");
  });

  it("is deterministic: the same failures in any order give a byte-identical plan", () => {
    const a = planTestRun({ ...input, onlyExamples: ids });
    const b = planTestRun({ ...input, onlyExamples: [...ids].reverse() });
    expect(JSON.stringify(b.shardPlan)).toBe(JSON.stringify(a.shardPlan));
  });

  it("fails clearly when nothing that failed still exists", () => {
    expect(thrown(() => planTestRun({ ...input, onlyExamples: ["spec/gone_spec.rb[1:1]"] })).message).toContain("--only-failures: the previous run has no failed example that still exists");
  });

  it("the next timings keep the times of the examples the partial run did not run", () => {
    const plan = planTestRun({ ...input, onlyExamples: ["spec/a_spec.rb[1:2]"] });
    const rspecJson = JSON.stringify({ examples: [{ id: "./spec/a_spec.rb[1:2]", file_path: "./spec/a_spec.rb", run_time: 0.5, status: "passed" }] });
    const next = JSON.parse(nextTimings(plan.previous, [{ index: 0, exitCode: 0, output: "", junit: "", rspecJson }], { partial: true })) as Record<string, number>;
    expect(next).toMatchObject({ "spec/a_spec.rb[1:1]": 5, "spec/a_spec.rb[1:2]": 0.5, "spec/a_spec.rb[1:3]": 2, "spec/d_spec.rb": 9 });
  });
});

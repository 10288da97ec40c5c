import { describe, expect, it } from "vitest";
import { planTestRun, summariseTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import { formatTimingCoverage, planTimingCoverage, runTimingCoverage } from "../../modules/pipeline/src/lib/timing-coverage.js";
import { parseTimingsOrWarn, resolveTimings } from "../../modules/pipeline/src/lib/timings.js";

const FILES = ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb", "spec/d_spec.rb"];
const knapsack = (entries: Record<string, number>) => JSON.stringify(entries);

function coverageOf(text: string | undefined, files = FILES, fileSizeFallback = false) {
  const timings = parseTimingsOrWarn(text, "spec/timings.json");
  return planTimingCoverage(timings, resolveTimings(timings, files), { fileSizeFallback });
}

describe("planTimingCoverage", () => {
  it.each([
    ["every file measured", knapsack({ "spec/a_spec.rb": 1, "spec/b_spec.rb": 2, "spec/c_spec.rb": 3, "spec/d_spec.rb": 4 }), 4, undefined],
    ["half the files measured: not a fallback", knapsack({ "spec/a_spec.rb": 1, "spec/b_spec.rb": 2 }), 2, undefined],
    ["one file of four measured", knapsack({ "spec/a_spec.rb": 1 }), 1, "most-files-unknown"],
    ["timings of files that are all gone", knapsack({ "spec/gone_spec.rb": 1 }), 0, "no-timings"],
    ["no timings file", undefined, 0, "no-timings"],
    ["an unreadable timings file", "{ not json", 0, "no-timings"],
  ])("%s", (_name, text, measured, fallback) => {
    const c = coverageOf(text);
    expect(c.files).toEqual({ total: 4, measured });
    expect(c.fallback).toBe(fallback);
  });

  it("counts examples with a time of their own and names the source and format", () => {
    const c = coverageOf(knapsack({ "spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 2, "spec/b_spec.rb": 3 }));
    expect(c).toMatchObject({ source: "spec/timings.json", format: "knapsack", examples: { measured: 2 }, basis: "median" });
  });

  it("says what unmeasured files were estimated from", () => {
    expect(coverageOf(undefined, FILES, true).basis).toBe("file-size");
    expect(coverageOf(undefined).basis).toBe("equal");
  });
});

describe("runTimingCoverage", () => {
  it("counts the examples that ran with their own previous time and those in measured files", () => {
    const timings = parseTimingsOrWarn(knapsack({ "spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 1, "spec/b_spec.rb": 2 }), "t.json");
    const resolved = resolveTimings(timings, FILES);
    const ran = ["spec/a_spec.rb[1:1]", "spec/a_spec.rb[1:2]", "spec/a_spec.rb[1:3]", "spec/b_spec.rb[1:1]", "spec/c_spec.rb[1:1]"];
    const c = runTimingCoverage(planTimingCoverage(timings, resolved), resolved, ran);
    expect(c.examples).toEqual({ measured: 2, total: 5, inMeasuredFiles: 4 });
  });
});

describe("formatTimingCoverage", () => {
  it("states the shares and the source without a warning when most files were measured", () => {
    const text = formatTimingCoverage(coverageOf(knapsack({ "spec/a_spec.rb[1:1]": 1, "spec/b_spec.rb": 2, "spec/c_spec.rb": 3 })));
    expect(text).toBe(
      "timings: 3 of 4 files measured (75%), 1 examples with their own time; from spec/timings.json (knapsack); 1 file(s) estimated from the median measured time (2.00 s)",
    );
  });

  it.each([
    ["no timings", undefined, /^WARNING: no measured timings: all 4 files are estimated from file sizes, so the split is a guess \(fix: pass --timings/m],
    ["most files unknown", knapsack({ "spec/a_spec.rb": 1 }), /^WARNING: most files have no timing: only 1 of 4 \(25%\) measured/m],
  ])("warns loudly on a fallback: %s", (_name, text, warning) => {
    const out = formatTimingCoverage(coverageOf(text, FILES, true));
    expect(out.split("\n")).toHaveLength(2);
    expect(out).toMatch(warning);
  });

  it("reports the run's example shares", () => {
    const timings = parseTimingsOrWarn(knapsack({ "spec/a_spec.rb[1:1]": 1, "spec/b_spec.rb": 1 }), "t.json");
    const resolved = resolveTimings(timings, ["spec/a_spec.rb", "spec/b_spec.rb"]);
    const c = runTimingCoverage(planTimingCoverage(timings, resolved), resolved, ["spec/a_spec.rb[1:1]", "spec/b_spec.rb[1:1]", "spec/b_spec.rb[1:2]", "spec/b_spec.rb[1:3]"]);
    expect(formatTimingCoverage(c)).toContain("1 of 4 examples run (25%) had their own time, 4 (100%) a measured file");
  });
});

describe("the test run reports its coverage", () => {
  it("in the plan and in the run summary, with the fallback warning", () => {
    const plan = planTestRun({ specFiles: FILES, timingsSource: "(none)", fileSizes: { "spec/a_spec.rb": 100 }, shards: 2, shardIndex: -1 });
    expect(plan.coverage).toMatchObject({ fallback: "no-timings", basis: "file-size", files: { total: 4, measured: 0 } });
    const rspecJson = JSON.stringify({ examples: [{ id: "./spec/a_spec.rb[1:1]", file_path: "./spec/a_spec.rb", run_time: 0.1, status: "passed" }] });
    const junit = '<testsuite name="rspec" tests="1" failures="0"><testcase classname="spec.a_spec" name="a" file="./spec/a_spec.rb" time="0.1"/></testsuite>';
    const result = summariseTestRun(plan, [
      { index: 0, exitCode: 0, output: "", junit, rspecJson, seconds: 1 },
      { index: 1, exitCode: 0, output: "", junit: junit.replace(/a_spec/g, "b_spec"), seconds: 1 },
    ]);
    expect(result.coverage.examples).toEqual({ measured: 0, total: 1, inMeasuredFiles: 0 });
    expect(result.text).toMatch(/^timings: 0 of 4 files measured \(0%\), 0 of 1 examples run/m);
    expect(result.text).toMatch(/^WARNING: no measured timings/m);
  });
});

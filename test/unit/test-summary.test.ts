import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { formatTestSummary, resolveTestSummary, type ShardRunInput } from "../../modules/pipeline/src/lib/test-summary.js";
import { REPO_ROOT } from "../support/introspect.js";

const JUNIT = path.resolve(REPO_ROOT, "../shared/data/junit");
const sample = (name: string) => readFileSync(path.join(JUNIT, name), "utf8");
const POLARIS = sample("polaris_rspec_84tests_3failures_34skipped.xml");
const SAFECAST_186 = sample("safecast_rspec_186tests.xml");
const SAFECAST_29 = sample("safecast_rspec_29tests_1failure.xml");

const passing = (file: string, time: number) => `<testsuite><testcase classname="c" name="ok" file="./${file}" time="${time}"/></testsuite>`;

describe("resolveTestSummary", () => {
  it("summarises shards from the shared samples: totals, failures with file:line, predicted vs actual", () => {
    const summary = resolveTestSummary([
      { index: 1, units: ["spec/a_spec.rb"], predictedSeconds: 60, junit: SAFECAST_29, wallSeconds: 61 },
      { index: 0, units: ["spec/b_spec.rb", "spec/c_spec.rb"], predictedSeconds: 10, junit: POLARIS, exitCode: 1 },
      { index: 2, units: ["spec/d_spec.rb"], predictedSeconds: 300, junit: parseJUnit(SAFECAST_186) },
    ]);
    expect(summary.passed).toBe(false);
    expect(summary.totals).toEqual({ shards: 3, tests: 299, passed: 261, failures: 4, skipped: 34, units: 4 });
    expect(summary.shards.map((s) => [s.index, s.predictedSeconds, s.actualSeconds, s.actualSource])).toEqual([
      [0, 10, 8.992127, "junit"],
      [1, 60, 61, "wall"],
      [2, 300, 343.947971, "junit"],
    ]);
    expect(summary.makespanSeconds).toBe(343.947971);
    expect(summary.predictedMakespanSeconds).toBe(300);
    expect(summary.balanceRatio).toBeCloseTo(343.947971 / ((8.992127 + 61 + 343.947971) / 3), 9);
    expect(summary.failures.map((f) => [f.shardIndex, f.location])).toEqual([
      [0, "spec/models/trucking_pricing_spec.rb:236"],
      [0, "spec/models/trucking_pricing_spec.rb:256"],
      [0, "spec/models/trucking_pricing_spec.rb:278"],
      [1, "spec/models/ingest_measurment_spec.rb"],
    ]);
    expect(summary.failures[0]!.message).toBe("Expected example to fail since it is pending, but it passed.");
    expect(summary.problems).toEqual([]);
  });

  it.each([
    [
      "all passing, balanced",
      [
        { index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: passing("spec/a_spec.rb", 1), exitCode: 0 },
        { index: 1, units: ["spec/b_spec.rb"], predictedSeconds: 1, junit: passing("spec/b_spec.rb", 1), exitCode: 0 },
      ],
      { passed: true, balanceRatio: 1, problems: [] },
    ],
    [
      "a shard without a report fails the run",
      [
        { index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: passing("spec/a_spec.rb", 1) },
        { index: 1, units: ["spec/b_spec.rb"], predictedSeconds: 1, exitCode: 137 },
      ],
      { passed: false, problems: [{ shardIndex: 1, message: "it wrote no JUnit report (rspec exited with 137)" }] },
    ],
    [
      "a load error: non-zero exit without failed examples",
      [{ index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: `<testsuite tests="0"/>`, exitCode: 1 }],
      { passed: false, problems: [{ shardIndex: 0, message: "rspec exited with 1 but no example failed (an error outside examples, e.g. a load error)" }] },
    ],
    [
      "an unreadable report",
      [{ index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: "<testsuite><testcase", exitCode: 1 }],
      { passed: false, problems: [{ shardIndex: 0, message: expect.stringContaining("its JUnit report is unreadable: [JUNIT_INVALID] shard 0 JUnit report:1:12") }] },
    ],
    [
      "an empty shard (more shards than units) is fine without a report",
      [
        { index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: passing("spec/a_spec.rb", 2) },
        { index: 1, units: [], predictedSeconds: 0 },
      ],
      { passed: true, balanceRatio: 1, problems: [] },
    ],
  ])("%s", (_name, shards, expected) => {
    expect(resolveTestSummary(shards as ShardRunInput[])).toMatchObject(expected);
  });

  it("falls back to the summed case times when the report has no time attribute", () => {
    const s = resolveTestSummary([{ index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: `<testsuites><testsuite><testcase file="spec/a_spec.rb" name="x" time="1.5"/><testcase file="spec/a_spec.rb" name="y" time="2"/></testsuite></testsuites>` }]);
    expect(s.shards[0]!.actualSeconds).toBe(3.5);
  });

  it("handles no shards", () => {
    expect(resolveTestSummary([])).toMatchObject({ passed: true, makespanSeconds: 0, balanceRatio: 1, totals: { shards: 0, tests: 0 } });
  });
});

describe("formatTestSummary", () => {
  const summary = resolveTestSummary([
    { index: 0, units: ["spec/b_spec.rb", "spec/c_spec.rb"], predictedSeconds: 10, junit: POLARIS, wallSeconds: 12.25, exitCode: 1 },
    { index: 1, units: ["spec/a_spec.rb"], predictedSeconds: 60, junit: SAFECAST_29, wallSeconds: 61 },
    { index: 2, units: ["spec/x_spec.rb"], predictedSeconds: 5, exitCode: 1 },
  ]);
  const text = formatTestSummary(summary);

  it.each([
    ["the verdict and totals", "FAILED: 113 examples, 4 failed, 34 skipped, 75 passed in 3 shard(s); slowest shard 61.0 s"],
    ["the table header", "shard  units  predicted     actual  tests  failed  skipped"],
    ["predicted vs actual of a shard", "    0      2     10.0 s     12.3 s     84       3       34"],
    ["a shard without a report", "    2      1      5.0 s          -      0       0        0  !"],
    ["the balance (the shard without a report left out)", "balance: max/mean 1.67 (actual), predicted makespan 60.0 s, actual 61.0 s"],
    ["failures with file:line and name", "  spec/models/trucking_pricing_spec.rb:236  TruckingPricing class methods .find_by_hub_id zipcode identifier finds the correct pricing and destinations  [shard 0]"],
    ["the failure message", "    Expected example to fail since it is pending, but it passed."],
    ["a failure without a line", "  spec/models/ingest_measurment_spec.rb  IngestMeasurement#data_for_device should fetch data  [shard 1]"],
    ["a rerun command", "rerun: bundle exec rspec spec/models/trucking_pricing_spec.rb:236 spec/models/trucking_pricing_spec.rb:256 spec/models/trucking_pricing_spec.rb:278 spec/models/ingest_measurment_spec.rb"],
    ["shard problems", "  shard 2: it wrote no JUnit report (rspec exited with 1)"],
  ])("shows %s", (_name, fragment) => {
    expect(text).toContain(fragment);
  });

  it("limits the number of failures shown", () => {
    const limited = formatTestSummary(summary, { maxFailures: 1 });
    expect(limited).toContain("... and 3 more (see the merged JUnit report)");
    expect(limited).not.toContain(":256  TruckingPricing");
  });

  it("says PASSED without failure sections when everything passed", () => {
    const ok = formatTestSummary(resolveTestSummary([{ index: 0, units: ["spec/a_spec.rb"], predictedSeconds: 1, junit: passing("spec/a_spec.rb", 1), wallSeconds: 1.5 }]));
    expect(ok.startsWith("PASSED: 1 examples, 0 failed")).toBe(true);
    expect(ok).not.toContain("Failures");
    expect(ok).not.toContain("rerun");
  });
});

/**
 * The CI side of `test`, recorded without an engine: where the previous timings come from, what the
 * report holds for check-tests and merge-timings, and those two functions reading exported files.
 */
import { dag } from "@dagger.io/dagger";
import { describe, expect, it } from "vitest";
import { formatNodeTimings } from "../../modules/pipeline/src/lib/node-timings.js";
import { formatTestOutcome } from "../../modules/pipeline/src/lib/test-outcome.js";
import { planTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import { checkExportedReport, mergeTimingsFrom } from "../../modules/pipeline/src/test-results.js";
import { runTests } from "../../modules/pipeline/src/test-suite.js";
import { captureLog } from "../support/console.js";
import { installRecorder, lastPath } from "../support/dagger-recorder.js";

const SPECS = ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb"];

/** A source with Gemfile etc., the given timings files, and shards that pass with one example each. */
function appAnswers(timingsFiles: Record<string, string>) {
  return (field: string, query: string): unknown => {
    const last = lastPath(query);
    if (field === "exists") return ["Gemfile", "Gemfile.lock", "Dockerfile.base"].includes(last) || last in timingsFiles;
    if (field === "glob") return SPECS;
    if (field === "size") return 100;
    if (field === "entries") return ["junit.xml", "rspec.json"];
    if (field === "contents") {
      if (last in timingsFiles) return timingsFiles[last];
      if (last === "Dockerfile.base") return "FROM ruby\n";
      if (last === "rspec.json") return JSON.stringify({ examples: [{ id: "./spec/a_spec.rb[1:1]", file_path: "./spec/a_spec.rb", run_time: 0.25 }] });
      if (last === "junit.xml") return '<testsuite tests="1" failures="0"><testcase classname="a" name="x" file="./spec/a_spec.rb" time="0.25"/></testsuite>';
      return "";
    }
    return undefined;
  };
}

const squash = (q: string) => q.replace(/\s+/g, "");

describe("test reads the previous timings from the restored cache first", () => {
  it.each([
    ["the cache and the committed file exist: the cache (.pipeline/timings.json)", { ".pipeline/timings.json": '{"spec/c_spec.rb": 9}', "spec/timings.json": '{"spec/a_spec.rb": 9}' }, ".pipeline/timings.json", "spec/timings.json"],
    ["no cache (a first run): the committed spec/timings.json", { "spec/timings.json": '{"spec/a_spec.rb": 9}' }, "spec/timings.json", ".pipeline/timings.json"],
  ])("%s", async (_, files, read, notRead) => {
    const rec = await installRecorder(appAnswers(files));
    const { result: report, printed } = await captureLog(() => runTests(dag.host().directory("/app"), { shards: 2, shardIndex: -1 }));
    expect(printed).toEqual([report.summary]); // the summary goes to the Dagger log, not to the test output
    const contentsOf = (p: string) => rec.queries.some((q) => squash(q).includes(`file(path:"${p}"){contents}`));
    expect(contentsOf(read)).toBe(true);
    expect(contentsOf(notRead)).toBe(false);
  });

  it("the report holds outcome.json and one timings/shard-<i>-of-<n>.json per shard run, and no runner copy holds .pipeline", async () => {
    const rec = await installRecorder(appAnswers({ ".pipeline/timings.json": '{"spec/c_spec.rb": 9}' }));
    const { result: report } = await captureLog(() => runTests(dag.host().directory("/app"), { shards: 2, shardIndex: 1 }));
    await report.report.id();
    const dir = squash(rec.expanded().at(-1)!);
    expect(dir).toContain(`withNewFile(path:"outcome.json",contents:${JSON.stringify(formatTestOutcome({ failures: 0, brokenShards: 0, flaky: 0 }))}`.replace(/\s+/g, ""));
    expect(dir).toContain('withNewFile(path:"timings/shard-1-of-2.json"');
    expect(dir).not.toContain("shard-0-of-2.json");
    const runnerCopies = rec.expanded().filter((q) => squash(q).includes('withDirectory(path:"/var/www/blinker"'));
    expect(runnerCopies.length).toBeGreaterThan(0);
    for (const q of runnerCopies) expect(squash(q)).toMatch(/withDirectory\(path:"\/var\/www\/blinker".*exclude:\[[^\]]*"\.pipeline"/);
  });
});

describe("check-tests --report <exported dir>: fails from the exported files, never runs the suite", () => {
  const exported = (files: Record<string, string>) => async () =>
    installRecorder((field, query) => {
      const last = lastPath(query);
      if (field === "exists") return last in files;
      if (field === "contents") return files[last];
      return undefined;
    });

  it("fails with the summary when examples failed", async () => {
    const rec = await exported({ "outcome.json": formatTestOutcome({ failures: 3, brokenShards: 0, flaky: 0 }), "summary.txt": "FAILED: 3 examples failed\n  spec/a_spec.rb:7" })();
    await expect(checkExportedReport(dag.host().directory("test_results"), false)).rejects.toThrow(/\[TESTS_FAILED\] FAILED: 3 examples failed\n {2}spec\/a_spec\.rb:7/);
    expect(rec.queries.some((q) => /withExec|dockerBuild|container/.test(q))).toBe(false);
  });

  it("fails when a shard broke, even with no failed example", async () => {
    await exported({ "outcome.json": formatTestOutcome({ failures: 0, brokenShards: 1, flaky: 0 }), "summary.txt": "shard 3 broke" })();
    await expect(checkExportedReport(dag.host().directory("test_results"), false)).rejects.toThrow("shard 3 broke");
  });

  it("prints the summary when everything passed", async () => {
    await exported({ "outcome.json": formatTestOutcome({ failures: 0, brokenShards: 0, flaky: 0 }), "summary.txt": "PASSED: 40 examples" })();
    await expect(checkExportedReport(dag.host().directory("test_results"), false)).resolves.toBe("PASSED: 40 examples");
  });

  it.each([
    [false, "prints the summary"],
    [true, "fails"],
  ])("flaky examples with --fail-on-flaky %s: %s", async (failOnFlaky) => {
    await exported({ "outcome.json": formatTestOutcome({ failures: 0, brokenShards: 0, flaky: 2 }), "summary.txt": "PASSED with 2 flaky" })();
    const checked = checkExportedReport(dag.host().directory("test_results"), failOnFlaky);
    if (failOnFlaky) await expect(checked).rejects.toThrow(/\[TESTS_FAILED\] 2 flaky example\(s\) with --fail-on-flaky\nPASSED with 2 flaky/);
    else await expect(checked).resolves.toBe("PASSED with 2 flaky");
  });

  it("refuses a folder that is not an exported report, saying how to export one", async () => {
    await exported({ "merged.xml": "<x/>" })();
    await expect(checkExportedReport(dag.host().directory("test_results"), false)).rejects.toThrow(/\[SOURCE_FILE_MISSING\] --report has no outcome\.json[\s\S]*report export --path test_results/);
  });
});

describe("merge-timings --nodes <dir>", () => {
  it("reads every node file of the folder and returns the merged timings.json", async () => {
    const input = { specFiles: SPECS, timingsText: undefined, timingsSource: "(none)", fileSizes: { "spec/a_spec.rb": 1, "spec/b_spec.rb": 1, "spec/c_spec.rb": 1 }, shards: 2 };
    const files: Record<string, string> = {};
    for (const i of [0, 1]) {
      const plan = planTestRun({ ...input, shardIndex: i });
      const examples = plan.shardPlan.shards[i]!.units.map((u) => ({ id: `./${u}[1:1]`, file_path: `./${u}`, run_time: 1 + i }));
      const [node] = formatNodeTimings(plan.shardPlan, [{ index: i, exitCode: 0, output: "", junit: "", rspecJson: JSON.stringify({ examples }) }]);
      files[`node-${i}/${node!.path}`] = node!.text;
    }
    const rec = await installRecorder((field, query) => {
      if (field === "glob") return [...Object.keys(files), "node-0/summary.json"];
      if (field === "contents") return files[lastPath(query)] ?? "{}";
      return undefined;
    });
    const { result: merged, printed } = await captureLog(() => mergeTimingsFrom(dag.host().directory("/tmp/workspace/timings")));
    expect(printed).toHaveLength(1); // its summary goes to the Dagger log
    await merged.id();
    const made = squash(rec.expanded().at(-1)!);
    expect(made).toContain('file(name:"timings.json"');
    for (const spec of SPECS) expect(made).toContain(`${spec}[1:1]`);
    expect(made).not.toContain("summary.json");
  });
});

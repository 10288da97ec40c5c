/**
 * The CI side of a test run, after `test ... report export --path test_results`:
 * - `checkExportedReport`: fail (with the summary) when the exported report says examples failed or
 *   a shard broke; the suite is not run again, the exported files are read.
 * - `mergeTimingsFrom`: the nodes' `timings/shard-<i>-of-<n>.json` files into the next run's
 *   timings file (lib/node-timings.ts).
 */
import { dag, type Directory, type File } from "@dagger.io/dagger";
import { PipelineError } from "./lib/errors.js";
import { mergeNodeTimings } from "./lib/node-timings.js";
import { parseTestOutcome, TEST_OUTCOME_FILE } from "./lib/test-outcome.js";
import { TestReport } from "./test-report.js";

export async function checkExportedReport(report: Directory, failOnFlaky: boolean): Promise<string> {
  if (!(await report.exists(TEST_OUTCOME_FILE))) {
    throw new PipelineError("SOURCE_FILE_MISSING", `--report has no ${TEST_OUTCOME_FILE}: it is not a folder test's report was exported to`, {
      hint: "export it first: dagger call test ... report export --path test_results, then dagger call check-tests --report test_results",
    });
  }
  const outcome = parseTestOutcome(await report.file(TEST_OUTCOME_FILE).contents(), `--report: ${TEST_OUTCOME_FILE}`);
  const summary = (await report.exists("summary.txt")) ? await report.file("summary.txt").contents() : `${outcome.failures} failed example(s), ${outcome.brokenShards} broken shard(s)`;
  return new TestReport(report, summary, outcome.failures, outcome.brokenShards, outcome.flaky).check(failOnFlaky);
}

export async function mergeTimingsFrom(nodes: Directory): Promise<File> {
  const names = (await nodes.glob("**/*.json")).sort();
  const files = await Promise.all(names.map(async (name) => ({ name, text: await nodes.file(name).contents() })));
  const merged = mergeNodeTimings(files);
  console.log(merged.summary);
  return dag.file("timings.json", merged.timingsJson);
}

/**
 * The machine-readable outcome a test report carries (`outcome.json`), pure. `test` never fails on
 * failing examples, so a CI step can export the report first; `check-tests --report <dir>` then
 * reads this file from the exported folder and fails the job, without running the suite again.
 */
import { PipelineError } from "./errors.js";

export const TEST_OUTCOME_FILE = "outcome.json";

export interface TestOutcome {
  pipelineTestOutcome: 1;
  /** Failed examples. */
  failures: number;
  /** Shards whose run did not finish normally. */
  brokenShards: number;
  /** Examples that failed, then passed on a retry (they fail the check only with --fail-on-flaky). */
  flaky: number;
}

export function formatTestOutcome(result: { failures: number; brokenShards: number; flaky: number }): string {
  const outcome: TestOutcome = { pipelineTestOutcome: 1, failures: result.failures, brokenShards: result.brokenShards, flaky: result.flaky };
  return JSON.stringify(outcome, null, 2) + "\n";
}

/** Read `outcome.json`; `where` names the file in errors (e.g. `--report test_results: outcome.json`). */
export function parseTestOutcome(text: string, where: string): TestOutcome {
  let data: Partial<TestOutcome> | undefined;
  try {
    data = JSON.parse(text) as Partial<TestOutcome>;
  } catch {
    data = undefined;
  }
  const count = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  if (data?.pipelineTestOutcome !== 1 || !count(data.failures) || !count(data.brokenShards) || !count(data.flaky)) {
    throw new PipelineError("ARGUMENT_INVALID", `${where} is not a test outcome (pipelineTestOutcome 1, failures, brokenShards, flaky)`, {
      hint: "pass the folder `dagger call test ... report export --path <dir>` wrote, unchanged",
    });
  }
  return data as TestOutcome;
}

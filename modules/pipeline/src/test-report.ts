/**
 * The result of `dagger call test`: the reports as a Directory, the summary, and a `check` that
 * fails with the summary. Kept apart from running the tests so a CI step can export the JUnit files
 * even when examples failed, then fail the build from the exported files (the suite runs once):
 *   dagger call test --shards 8 report export --path test_results
 *   dagger call check-tests --report test_results
 */
import { Directory, func, object } from "@dagger.io/dagger";
import { PipelineError } from "./lib/errors.js";

@object()
export class TestReport {
  /** junit/merged.xml, junit/shard-<i>.xml, timings.json (knapsack format), timings/shard-<i>-of-<n>.json, summary.txt, outcome.json, plan.json. */
  @func() report: Directory;
  /** Per-shard predicted vs actual seconds, balance, failures with file:line. */
  @func() summary: string;
  /** Number of failed examples (0 when everything passed). */
  @func() failures: number;
  /** Shards whose run did not finish normally (services not ready, setup failed, crash). */
  @func() brokenShards: number;

  constructor(report: Directory, summary: string, failures: number, brokenShards: number) {
    this.report = report;
    this.summary = summary;
    this.failures = failures;
    this.brokenShards = brokenShards;
  }

  /**
   * Fail with the summary when any example failed or a shard broke; print it otherwise.
   *
   * Example: dagger call test --shards 8 check
   */
  @func()
  check(): string {
    if (this.failures > 0 || this.brokenShards > 0) {
      throw new PipelineError("TESTS_FAILED", this.summary, {
        hint: "read junit/merged.xml of the exported report (dagger call test ... report export --path test_results)",
      });
    }
    return this.summary;
  }
}

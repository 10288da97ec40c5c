/**
 * The result of `dagger call test`: the reports as a Directory, the summary, and a `check` that
 * fails with the summary. Kept apart from running the tests so a CI step can export the JUnit files
 * even when examples failed, then decide from the exported `status.json`:
 *   dagger call test report export --path test_results
 *   jq -e .passed test_results/status.json >/dev/null || { cat test_results/summary.txt; exit 1; }
 * `test` is never answered from Dagger's cache (a rerun reruns the suite), so calling it a second
 * time for `check` would run the suite again and could disagree with the exported reports.
 */
import { Directory, func, object } from "@dagger.io/dagger";
import { PipelineError } from "./lib/errors.js";

@object()
export class TestReport {
  /** junit/merged.xml, junit/shard-<i>.xml, timings.json (knapsack format), summary.txt, status.json (passed, failures, brokenShards), plan.json. */
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
   * Fail with the summary when any example failed or a shard broke; print it otherwise. To keep
   * the reports too, export them instead and read status.json: a second `test` call runs again.
   *
   * Example: dagger call test --shards 8 check
   */
  @func()
  check(): string {
    if (this.failures > 0 || this.brokenShards > 0) {
      throw new PipelineError("TESTS_FAILED", this.summary, {
        hint: "export the reports with `dagger call test ... report export --path test_results` and read junit/merged.xml",
      });
    }
    return this.summary;
  }
}

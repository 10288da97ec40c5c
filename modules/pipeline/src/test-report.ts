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
  /** Examples that failed, then passed on a retry (`--retries`); they fail `check` only with --fail-on-flaky. */
  @func() flaky: number;

  constructor(report: Directory, summary: string, failures: number, brokenShards: number, flaky = 0) {
    this.report = report;
    this.summary = summary;
    this.failures = failures;
    this.brokenShards = brokenShards;
    this.flaky = flaky;
  }

  /**
   * Fail with the summary when any example failed (every attempt) or a shard broke; print it otherwise.
   * Flaky examples (failed, then passed on a retry) are listed in the summary and fail only with --fail-on-flaky.
   *
   * Example: dagger call test --shards 8 check
   * Example: dagger call test --shards 8 --retries 2 check --fail-on-flaky
   */
  @func()
  check(
    /** Also fail when an example was flaky (failed, then passed on a retry); default false. */
    failOnFlaky = false,
  ): string {
    if (this.failures > 0 || this.brokenShards > 0 || (failOnFlaky && this.flaky > 0)) {
      const why = this.failures === 0 && this.brokenShards === 0 ? `${this.flaky} flaky example(s) with --fail-on-flaky\n` : "";
      throw new PipelineError("TESTS_FAILED", `${why}${this.summary}`, {
        hint: "read junit/merged.xml of the exported report (dagger call test ... report export --path test_results)",
      });
    }
    return this.summary;
  }
}

/**
 * The checks on `dagger call test`'s flags that need no file: each names the flag and the fix, and
 * runs before anything is built.
 */
import { PipelineError } from "./errors.js";
import { validateRetries } from "./retries.js";

export interface TestFlags {
  retries: number;
  /** `--strategy queue`. */
  queue: boolean;
  /** -1: every shard. */
  shardIndex: number;
  onlyFailures: boolean;
  /** Whether `--previous` was given. */
  previous: boolean;
}

export function validateTestFlags(flags: TestFlags): void {
  validateRetries(flags.retries);
  if (flags.queue && flags.shardIndex >= 0) {
    throw new PipelineError("ARGUMENT_INVALID", `--strategy queue runs every shard in this engine, so it cannot be combined with --shard-index ${flags.shardIndex}`, {
      hint: "use --strategy static (the default) with --shard-index across CI nodes, or drop --shard-index to run the queue here",
    });
  }
  if (flags.onlyFailures && !flags.previous) {
    throw new PipelineError("ARGUMENT_INVALID", "--only-failures needs --previous: the report of the run whose failures to rerun", {
      hint: "export the failed run's report (dagger call test ... report export --path test_results) and pass --previous ./test_results",
    });
  }
}

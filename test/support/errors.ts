/** Assertion helpers shared by the unit tests. */
import { expect } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";

/** Run `act`, assert it throws a PipelineError, and return it (to check code, message, hint). */
export function thrown(act: () => unknown): PipelineError {
  try {
    act();
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error("expected a PipelineError");
}

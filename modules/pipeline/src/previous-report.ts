/**
 * Reading `--previous` (the report directory of an earlier `dagger call test`, or any folder of
 * JUnit files) into the plain data lib/only-failures.ts takes: its `examples.json` when present
 * (ids and verdicts of every example), else `junit/merged.xml`, else every `*.xml` in it.
 */
import type { Directory } from "@dagger.io/dagger";
import { PipelineError } from "./lib/errors.js";
import type { PreviousReport } from "./lib/only-failures.js";

export async function readPreviousReport(previous: Directory, source = "--previous"): Promise<PreviousReport> {
  if (await previous.exists("examples.json")) return { source, examplesJson: await previous.file("examples.json").contents() };
  const names = (await previous.exists("junit/merged.xml")) ? ["junit/merged.xml"] : (await previous.glob("**/*.xml")).sort();
  if (names.length === 0) {
    throw new PipelineError("ARGUMENT_INVALID", `${source} holds neither examples.json nor a JUnit XML file, so the failures of the previous run are unknown`, {
      hint: "pass the report directory of the failed run (dagger call test ... report export --path test_results, then --previous test_results) or a folder with its JUnit XML",
    });
  }
  const junit = await Promise.all(names.map(async (name) => ({ name: `${source}/${name}`, xml: await previous.file(name).contents() })));
  return { source, junit };
}

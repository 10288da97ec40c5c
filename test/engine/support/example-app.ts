/**
 * A copy of the example app with its own pipeline.json, passed to a call with `--source <dir>`:
 * the calls still run in test/fixtures/rails-api (the blueprint project), but read the copy's
 * registry and infrastructure-live settings (a local registry, the local bare infrastructure-live).
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXAMPLE_APP } from "./dagger-cli.js";

/** Copy the example app (without tmp/, log/, dagger.json) and write `pipeline` as its pipeline.json. */
export function exampleAppWith(pipeline: unknown, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), "engine-app-"));
  cpSync(EXAMPLE_APP, dir, { recursive: true, filter: (src) => !["tmp", "log", "dagger.json", "test_results", ".pipeline"].includes(path.relative(EXAMPLE_APP, src)) });
  rmSync(path.join(dir, "pipeline.json"), { force: true });
  writeFileSync(path.join(dir, "pipeline.json"), `${JSON.stringify(pipeline, null, 2)}\n`);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

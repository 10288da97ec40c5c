/**
 * `dagger call plan`: read the source directory, check the env files, plan, print. Executes
 * nothing; with `--check-registry` it also asks the registry (a read) whether the base image
 * exists, so the plan says which path `base-image` will take.
 */
import type { Directory } from "@dagger.io/dagger";
import type { RunCredentials } from "./run-credentials.js";
import { registryFor, type ImageDeps } from "./images.js";
import { formatPlan, parsePlanFormat } from "./lib/pipeline-plan-format.js";
import { planPipeline, type PlanInput } from "./lib/pipeline-plan.js";
import { checkEnvFiles } from "./secrets.js";
import { readConfig, readDependencyFiles } from "./source.js";

export interface PlanFlags {
  branch: string;
  tag: string;
  sha: string;
  env: string;
  format: string;
  checkRegistry?: boolean;
}

export async function runPlan(source: Directory, flags: PlanFlags, credentials: RunCredentials = { aws: {} }, deps: ImageDeps = {}): Promise<string> {
  const format = parsePlanFormat(flags.format);
  const config = await readConfig(source);
  await checkEnvFiles(source, config); // first, as deploy does: a plaintext prod secret stops the run here
  const files = await readDependencyFiles(source, config);
  const input: PlanInput = { config, files, env: flags.env || undefined, ref: { branch: flags.branch, tag: flags.tag, sha: flags.sha } };
  let plan = planPipeline(input);
  if (flags.checkRegistry) {
    const registry = await registryFor(config, credentials, deps);
    const { exists } = await registry.lookup(config.registry.repository, plan.images.base.tag);
    plan = planPipeline({ ...input, baseImageExists: exists });
  }
  return formatPlan(plan, format);
}

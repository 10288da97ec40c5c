/**
 * `dagger call plan`: read the source directory, check the env files, plan, print. Executes nothing.
 */
import type { Directory } from "@dagger.io/dagger";
import { formatPlan, parsePlanFormat } from "./lib/plan-format.js";
import { planPipeline } from "./lib/plan.js";
import { checkEnvFiles } from "./secrets.js";
import { readConfig, readDependencyFiles } from "./source.js";

export interface PlanFlags {
  branch: string;
  tag: string;
  sha: string;
  env: string;
  format: string;
}

export async function runPlan(source: Directory, flags: PlanFlags): Promise<string> {
  const format = parsePlanFormat(flags.format);
  const config = await readConfig(source);
  await checkEnvFiles(source, config); // first, as deploy does: a plaintext prod secret stops the run here
  const files = await readDependencyFiles(source, config);
  const plan = planPipeline({ config, files, env: flags.env || undefined, ref: { branch: flags.branch, tag: flags.tag, sha: flags.sha } });
  return formatPlan(plan, format);
}

/**
 * Feature environments: the seed's "Feature Environment Deployment" and "Feature Cleanup".
 *
 * - `feature-deploy` is `deploy` for a `feature/<name>` branch (`runDeploy` with requireFeature):
 *   the six generated terragrunt.hcl files in one commit, then dependencies applied first.
 * - `feature-teardown --name <name>`: AssumeRole into the host environment's role, clone
 *   infrastructure-live, `terragrunt destroy` the units in reverse apply order (a unit whose folder
 *   is already gone is skipped; a unit with nothing left to destroy exits 0), and only when every
 *   destroy succeeded remove `<unitsRoot>/<name>` in one commit. Running it twice succeeds: the
 *   second run finds nothing to destroy and nothing to commit. A failed destroy keeps the configs so
 *   the next run picks up where this one stopped.
 * - `feature-sweep --live-branches <list>`: every `<unitsRoot>/<name>` whose `feature/<name>` branch
 *   is not in the list is torn down (one after the other; a failure does not stop the others, the
 *   sweep fails at the end); the report says what it kept.
 */
import type { Directory } from "@dagger.io/dagger";
import type { RunCredentials } from "./run-credentials.js";
import {
  assumeDeployRole,
  cloneInfraLive,
  CLUSTER_ACCESS_HINT,
  daggerInfraEffects,
  DeployFailedError,
  failStep,
  infraLiveOutcome,
  type InfraEffects,
} from "./deploy.js";
import { applyInfraWriteBack } from "./infra/write-back.js";
import type { Workspace } from "./infra/workspace.js";
import type { PipelineConfig } from "./lib/config.js";
import { errorMessage, PipelineError } from "./lib/errors.js";
import { featurePrefix, formatFeatureSweepPlan, parseLiveBranches, planFeatureSweep, type FeatureSweepPlan } from "./lib/feature-sweep.js";
import { planFeatureTeardown, type FeatureTeardownInfraPlan } from "./lib/infra-live-changes.js";
import {
  formatDeployReport,
  formatTerragruntSummary,
  markStep,
  parseClusterAccessMode,
  planClusterAccess,
  planTerragruntRuns,
  startDeployReport,
  CHECKOUT_MOUNT,
  type ClusterAccessMode,
  type DeployReport,
} from "./lib/terragrunt-runs.js";
import { resolveTeardownTarget } from "./lib/refs.js";
import { readConfig } from "./source.js";
import { runTerragrunt } from "./terragrunt.js";

export const TEARDOWN_STEPS = ["assume-role", "terragrunt-destroy", "infra-live-write-back"] as const;

export interface TeardownOptions {
  clusterAccess?: ClusterAccessMode;
}

/** Tear one feature environment down. Returns the report; throws DeployFailedError on failure. */
export async function executeFeatureTeardown<W extends Workspace>(
  plan: FeatureTeardownInfraPlan,
  config: PipelineConfig,
  effects: InfraEffects<W>,
  options: TeardownOptions = {},
): Promise<DeployReport> {
  const env = config.environments[plan.configEnvironment];
  const report = startDeployReport(`tear down ${plan.environment}`, "destroy", TEARDOWN_STEPS);
  const log = effects.log;

  let access;
  try {
    access = planClusterAccess(env.eksClusterArn, { mode: options.clusterAccess, configPath: `environments.${plan.configEnvironment}.eksClusterArn` });
    planTerragruntRuns({ action: "destroy", steps: plan.destroyOrder, terragrunt: config.terragrunt, root: CHECKOUT_MOUNT });
  } catch (err) {
    failStep(report, "terragrunt-destroy", err, "CONFIG_INVALID", "fix pipeline.json; nothing was destroyed");
  }
  let assumed;
  try {
    assumed = await assumeDeployRole(effects, env, plan.environment);
    markStep(report, "assume-role", "done", [assumed.line]);
  } catch (err) {
    failStep(report, "assume-role", err, "AWS_ASSUME_ROLE_FAILED", "nothing was destroyed");
  }

  let tg;
  try {
    const ws = await effects.newWorkspace("teardown");
    await cloneInfraLive(ws, plan, effects.gitAuth);
    const executor = effects.terragrunt(ws, { credentials: assumed.credentials, region: env.region, cluster: access });
    const runs = planTerragruntRuns({ action: "destroy", steps: plan.destroyOrder, terragrunt: config.terragrunt, root: executor.root });
    tg = await runTerragrunt(executor, { action: "destroy", runs, access, log });
  } catch (err) {
    failStep(report, "terragrunt-destroy", err, "TERRAGRUNT_FAILED", "nothing was removed from infrastructure-live; run feature-teardown again");
  }
  report.terragrunt = tg;
  if (!tg.ok) {
    markStep(report, "terragrunt-destroy", "failed", [formatTerragruntSummary(tg)]);
    const failed = tg.units.find((u) => u.status === "failed");
    throw new DeployFailedError(report, "terragrunt-destroy", "TERRAGRUNT_FAILED", tg.setupFailure ? "cluster access failed" : `unit ${failed?.unit} failed (exit ${failed?.exitCode})`, {
      hint: tg.setupFailure
        ? `${CLUSTER_ACCESS_HINT}; nothing was destroyed`
        : "fix the unit (output above) and run feature-teardown again; the configs stay in infrastructure-live until every unit is destroyed",
    });
  }
  markStep(report, "terragrunt-destroy", "done", [formatTerragruntSummary(tg)]);

  try {
    const wb = await applyInfraWriteBack(await effects.newWorkspace("write-back"), plan, { ...effects.writeBack, auth: effects.gitAuth, log });
    report.infraLive = infraLiveOutcome(wb);
    markStep(report, "infra-live-write-back", "done", [wb.committed ? `pushed ${wb.commitSha}: removed ${plan.root}/ (${wb.changes.length} file(s))` : `no commit: ${plan.root}/ is not in ${wb.branch}`]);
  } catch (err) {
    failStep(report, "infra-live-write-back", err, "GIT_FAILED", "the units are destroyed; run feature-teardown again to remove the configs");
  }
  return report;
}

/** Folder names directly under `dir` in the checkout's HEAD (none when `dir` does not exist). */
export async function listFeatureFolders(ws: Workspace, dir: string): Promise<string[]> {
  const r = await ws.run(["git", "ls-tree", "-d", "--name-only", "HEAD", "--", `${dir.replace(/\/+$/, "")}/`]);
  if (r.exitCode !== 0) {
    throw new PipelineError("GIT_FAILED", `git could not list ${dir} in infrastructure-live (exit ${r.exitCode}): ${r.stderr.trim().split("\n").at(-1)}`, {
      hint: "check feature.unitsRoot in pipeline.json",
    });
  }
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.slice(l.lastIndexOf("/") + 1));
}

export interface FeatureSweepResult {
  plan: FeatureSweepPlan;
  torndown: { name: string; report: DeployReport }[];
  failed: { name: string; error: string }[];
}

/** Tear down every feature environment whose branch is gone. */
export async function executeFeatureSweep<W extends Workspace>(
  liveBranchesText: string,
  config: PipelineConfig,
  effects: InfraEffects<W>,
  options: TeardownOptions = {},
): Promise<FeatureSweepResult> {
  const prefix = featurePrefix(config);
  const liveBranches = parseLiveBranches(liveBranchesText, prefix);
  const il = config.infraLive;
  const probe = await effects.newWorkspace("sweep");
  await cloneInfraLive(probe, { repoUrl: il.repoUrl, branch: il.branch }, effects.gitAuth);
  const existing = await listFeatureFolders(probe, config.feature.unitsRoot);
  const plan = planFeatureSweep({ liveBranches, existing, prefix });
  effects.log(formatFeatureSweepPlan(plan));
  const result: FeatureSweepResult = { plan, torndown: [], failed: [] };
  for (const name of plan.teardown) {
    try {
      result.torndown.push({ name, report: await executeFeatureTeardown(planFeatureTeardown(name, config), config, effects, options) });
    } catch (err) {
      result.failed.push({ name, error: errorMessage(err) });
    }
  }
  return result;
}

export function formatFeatureSweepResult(result: FeatureSweepResult): string {
  const parts = [formatFeatureSweepPlan(result.plan)];
  for (const t of result.torndown) parts.push(formatDeployReport(t.report).trimEnd());
  for (const f of result.failed) parts.push(`tear down feature-${f.name} FAILED:\n${f.error}`);
  return parts.join("\n\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Dagger wiring

export interface TeardownFlags {
  gitImage: string;
  clusterAccess: string;
}

/** `dagger call feature-teardown --name <name>`. */
export async function runFeatureTeardown(source: Directory, name: string, flags: TeardownFlags, credentials: RunCredentials): Promise<string> {
  const clusterAccess = parseClusterAccessMode(flags.clusterAccess);
  const config = await readConfig(source);
  const plan = planFeatureTeardown(name, config);
  const report = await executeFeatureTeardown(plan, config, daggerInfraEffects(config, credentials, { gitImage: flags.gitImage }), { clusterAccess });
  return formatDeployReport(report);
}

/** `feature-teardown --name <name>` or `--branch <deleted ref>`: a branch that is no feature tears nothing down. */
export async function runFeatureTeardownOf(source: Directory, which: { name: string; branch: string }, flags: TeardownFlags, credentials: RunCredentials): Promise<string> {
  const target = resolveTeardownTarget(which, await readConfig(source));
  return "skip" in target ? target.skip : runFeatureTeardown(source, target.name, flags, credentials);
}

/** `dagger call feature-sweep --live-branches <list>`. */
export async function runFeatureSweep(source: Directory, liveBranches: string, flags: TeardownFlags, credentials: RunCredentials): Promise<string> {
  const clusterAccess = parseClusterAccessMode(flags.clusterAccess);
  const config = await readConfig(source);
  const result = await executeFeatureSweep(liveBranches, config, daggerInfraEffects(config, credentials, { gitImage: flags.gitImage }), { clusterAccess });
  const text = formatFeatureSweepResult(result);
  if (result.failed.length > 0) {
    throw new PipelineError("TERRAGRUNT_FAILED", `feature-sweep: ${result.failed.length} of ${result.plan.teardown.length} teardown(s) failed (${result.failed.map((f) => f.name).join(", ")})\n\n${text}`, {
      hint: "fix the failing units and run feature-sweep again; environments torn down so far stay torn down",
    });
  }
  return text;
}

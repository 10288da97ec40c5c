/**
 * The infrastructure-live change plan (pure): which files a deploy edits or generates, the commit it
 * makes, and the order terragrunt applies (or destroys) the units in. `plan`/`deploy --dry-run` print
 * it; the git write-back (`src/infra/write-back.ts`) and the terragrunt runs execute exactly it.
 *
 * Seed equivalents: dev/stage/prod run `terraform-update-variable --name image_version --value
 * "\"$DOCKER_TAG\""` on clockwork, sidekiq and rails-api, then `terragrunt apply` each in that order;
 * a feature branch generates six units, commits them with "Deploy feature env '<name>' with tag
 * '<tag>'" and `[ci skip]`, applies postgres, redis, pgadmin then the app units.
 */
import type { EnvironmentName, FeatureUnitConfig, PipelineConfig } from "./config.js";
import { PipelineError } from "./errors.js";
import { featureEnvRoot, planFeatureFiles, type FeatureUnitFile } from "./feature-env.js";
import { formatHclString } from "./hcl.js";
import { parseExistingFeatureName, parseFeatureName, type DeployTarget } from "./refs.js";

/** One `setHclAttribute` to make in infrastructure-live. */
export interface InfraUnitEdit {
  unit: string;
  /** Unit folder, relative to the repository root (the terragrunt working dir). */
  dir: string;
  /** `<dir>/terragrunt.hcl`. */
  file: string;
  attribute: string;
  /** The new value as an HCL expression (the tag, quoted). */
  value: string;
}

/** One terragrunt run: unit name and working directory relative to the repository root. */
export interface InfraUnitStep {
  unit: string;
  dir: string;
}

export interface InfraAuthor {
  name: string;
  email: string;
}

interface InfraPlanBase {
  repoUrl: string;
  branch: string;
  /** Author and committer of the one commit. */
  author: InfraAuthor;
  commitMessage: string;
  /** `dev`, `stage`, `prod` or `feature-<name>`. */
  environment: string;
  /** The configured environment whose account, role and cluster run terragrunt. */
  configEnvironment: EnvironmentName;
}

/** dev/stage/prod: retag every unit of the environment. */
export interface EnvironmentInfraPlan extends InfraPlanBase {
  kind: "environment";
  tag: string;
  edits: InfraUnitEdit[];
  applyOrder: InfraUnitStep[];
}

/** A feature deploy: (re)generate the unit files, dependencies applied first. */
export interface FeatureDeployInfraPlan extends InfraPlanBase {
  kind: "feature-deploy";
  featureName: string;
  tag: string;
  /** `<feature.unitsRoot>/<name>`: the only folder this plan touches. */
  root: string;
  files: FeatureUnitFile[];
  applyOrder: InfraUnitStep[];
  /** What a later teardown destroys: applyOrder reversed. */
  teardownOrder: InfraUnitStep[];
}

/** A feature teardown: destroy in reverse order, then remove the folder in one commit. */
export interface FeatureTeardownInfraPlan extends InfraPlanBase {
  kind: "feature-teardown";
  featureName: string;
  root: string;
  destroyOrder: InfraUnitStep[];
}

export type InfraChangePlan = EnvironmentInfraPlan | FeatureDeployInfraPlan | FeatureTeardownInfraPlan;

/** The write-back and apply plan for a resolved deploy target (see `resolveRef`). */
export function planInfraChange(target: DeployTarget, config: PipelineConfig): EnvironmentInfraPlan | FeatureDeployInfraPlan {
  if (target.kind === "feature") {
    if (!target.featureName) {
      throw new PipelineError("REF_INVALID", `deploy target ${target.name} is a feature environment without a feature name`, {
        hint: "resolve feature targets with resolveRef (branch feature/<name>)",
      });
    }
    return planFeatureDeploy(target.featureName, target.appTag, config);
  }
  const env = config.environments[target.configEnvironment];
  const attribute = config.infraLive.variableName;
  const value = formatHclString(target.appTag);
  return {
    kind: "environment",
    ...base(config, target.name, target.configEnvironment, `Deploy ${config.registry.repository} ${target.appTag} to ${target.name}`),
    tag: target.appTag,
    edits: env.infraLive.units.map((u) => ({ unit: u.name, dir: u.path, file: `${u.path}/terragrunt.hcl`, attribute, value })),
    applyOrder: env.infraLive.units.map((u) => ({ unit: u.name, dir: u.path })),
  };
}

export function planFeatureDeploy(featureName: string, appTag: string, config: PipelineConfig): FeatureDeployInfraPlan {
  const name = parseFeatureName(featureName, "feature name", config.feature.units.map((u) => u.name));
  const files = planFeatureFiles(config, { featureName: name, appTag });
  const applyOrder = featureApplyOrder(config.feature.units).map((u) => ({ unit: u.name, dir: files.find((f) => f.unit === u.name)!.dir }));
  return {
    kind: "feature-deploy",
    ...base(config, `feature-${name}`, config.feature.hostEnvironment, `Deploy feature env '${name}' with tag '${appTag}'`),
    featureName: name,
    tag: appTag,
    root: featureEnvRoot(config, name),
    files,
    applyOrder,
    teardownOrder: [...applyOrder].reverse(),
  };
}

export function planFeatureTeardown(featureName: string, config: PipelineConfig): FeatureTeardownInfraPlan {
  const name = parseExistingFeatureName(featureName, "--name");
  const root = featureEnvRoot(config, name);
  const applyOrder = featureApplyOrder(config.feature.units).map((u) => ({ unit: u.name, dir: `${root}/${u.name}` }));
  return {
    kind: "feature-teardown",
    ...base(config, `feature-${name}`, config.feature.hostEnvironment, `Tear down feature env '${name}'`),
    featureName: name,
    root,
    destroyOrder: applyOrder.reverse(),
  };
}

/** Dependencies (postgres, redis) first, then every other unit; config order within each group. */
export function featureApplyOrder<T extends Pick<FeatureUnitConfig, "kind">>(units: readonly T[]): T[] {
  return [...units.filter((u) => u.kind === "dependency"), ...units.filter((u) => u.kind !== "dependency")];
}

/** `message [ci skip]`, or just the message when the flag is configured empty. */
export function formatCommitMessage(message: string, skipCiFlag: string): string {
  return skipCiFlag.trim() ? `${message} ${skipCiFlag.trim()}` : message;
}

function base(config: PipelineConfig, environment: string, configEnvironment: EnvironmentName, message: string): InfraPlanBase {
  const il = config.infraLive;
  return {
    repoUrl: il.repoUrl,
    branch: il.branch,
    author: { name: il.gitUserName, email: il.gitUserEmail },
    commitMessage: formatCommitMessage(message, il.skipCiFlag),
    environment,
    configEnvironment,
  };
}

/** Human-readable lines for `plan` output (no file bodies). */
export function formatInfraPlan(plan: InfraChangePlan): string {
  const lines = [`infrastructure-live ${plan.repoUrl} (${plan.branch}): commit "${plan.commitMessage}" as ${plan.author.name} <${plan.author.email}>`];
  if (plan.kind === "environment") {
    for (const e of plan.edits) lines.push(`  set ${e.attribute} = ${e.value} in ${e.file}`);
    lines.push(`  terragrunt apply: ${plan.applyOrder.map((s) => s.unit).join(" -> ")}`);
  } else if (plan.kind === "feature-deploy") {
    for (const f of plan.files) lines.push(`  write ${f.file} (${f.image}:${f.tag})`);
    lines.push(`  terragrunt apply: ${plan.applyOrder.map((s) => s.unit).join(" -> ")}`);
  } else {
    lines.push(`  terragrunt destroy: ${plan.destroyOrder.map((s) => s.unit).join(" -> ")}`);
    lines.push(`  remove ${plan.root}/`);
  }
  return lines.join("\n");
}

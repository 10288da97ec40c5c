/**
 * The pipeline plan: everything a run of lint → test → base image → app image → deploy will do,
 * computed from plain data and executing nothing. `dagger call plan`, `npm run plan` and
 * `deploy --dry-run` print it; `deploy` executes exactly this object, so the dry run cannot drift.
 *
 * The JSON shape (`PipelinePlan`, `schemaVersion: 1`) is documented in README.md and is stable:
 * fields may be added, never renamed or removed within a schema version.
 */
import { baseImageTag, dependencyChecksum, type DependencyFiles } from "./checksum.js";
import { imageRepository, isEcr, registryHost, type PipelineConfig } from "./config.js";
import { isDevelopBranch } from "./image-build.js";
import { planInfraChange, type InfraChangePlan } from "./infra-live-changes.js";
import { parseGitRef, resolveEnvironment, resolveRef, type DeployTarget, type GitRef } from "./refs.js";

export interface PlanInput {
  config: PipelineConfig;
  ref: { branch?: string; tag?: string; sha: string };
  /** Force an environment (manual deploy) instead of resolving it from the ref. */
  env?: string;
  files: DependencyFiles;
  /** Whether the base image tag already exists, when the caller asked the registry; else unknown. */
  baseImageExists?: boolean;
}

export interface PipelinePlan {
  schemaVersion: 1;
  ref: GitRef;
  deploy: boolean;
  /** Why nothing deploys (unknown branch), else null. */
  reason: string | null;
  environment: null | {
    name: string;
    kind: DeployTarget["kind"];
    featureName: string | null;
    awsAccountId: string;
    region: string;
    roleArn: string;
    eksClusterArn: string;
    vpcName: string;
  };
  images: {
    registry: string;
    registryKind: "ecr" | "oci";
    repository: string;
    base: {
      ref: string;
      tag: string;
      checksum: string;
      devVariant: boolean;
      dockerfile: string;
      /** Alias also pushed (develop branch only), else null. */
      latestAlias: string | null;
      /** true: pull, nothing built; false: build and push; null: checked at run time. */
      exists: boolean | null;
      action: "use-existing" | "build-and-push" | "check-registry-then-build-if-missing";
    };
    app: null | { ref: string; tag: string; dockerfile: string; buildArgs: Record<string, string> };
  };
  infraLive: InfraChangePlan | null;
  steps: string[];
}

/** Plan a run. Throws PipelineError on a bad ref, feature name or environment. */
export function planPipeline(input: PlanInput): PipelinePlan {
  const { config } = input;
  const ref = parseGitRef(input.ref);
  const resolution = input.env
    ? ({ deploy: true, target: resolveEnvironment(input.env, ref, config) } as const)
    : resolveRef(ref, config);
  const target = resolution.deploy ? resolution.target : null;
  const devVariant = target ? target.devVariant : true;

  const repository = imageRepository(config);
  const checksum = dependencyChecksum(input.files);
  const baseTag = baseImageTag(checksum, devVariant);
  const baseRef = `${repository}:${baseTag}`;
  const exists = input.baseImageExists ?? null;

  const envConfig = target ? config.environments[target.configEnvironment] : null;
  const steps = ["check-env", "lint", "test", "base-image"];
  if (target) steps.push("app-image", "infra-live-write-back", "assume-role", "terragrunt-apply");

  return {
    schemaVersion: 1,
    ref,
    deploy: target !== null,
    reason: resolution.deploy ? null : resolution.reason,
    environment:
      target && envConfig
        ? {
            name: target.name,
            kind: target.kind,
            featureName: target.featureName ?? null,
            awsAccountId: envConfig.awsAccountId,
            region: envConfig.region,
            roleArn: envConfig.roleArn,
            eksClusterArn: envConfig.eksClusterArn,
            vpcName: target.kind === "feature" ? target.name : envConfig.vpcName,
          }
        : null,
    images: {
      registry: registryHost(config),
      registryKind: isEcr(config) ? "ecr" : "oci",
      repository,
      base: {
        ref: baseRef,
        tag: baseTag,
        checksum,
        devVariant,
        dockerfile: config.images.baseDockerfile,
        // The same rule planBaseImageBuild applies: develop branch and dev variant only.
        latestAlias: devVariant && ref.kind === "branch" && isDevelopBranch(ref.name, config) ? `${repository}:${config.registry.baseLatestTag}` : null,
        exists,
        action: exists === null ? "check-registry-then-build-if-missing" : exists ? "use-existing" : "build-and-push",
      },
      app: target
        ? {
            ref: `${repository}:${target.appTag}`,
            tag: target.appTag,
            dockerfile: config.images.appDockerfile,
            buildArgs: { BASE_IMAGE_NAME: baseRef, DOCKER_TAG: target.appTag, VPC_NAME: envConfig!.vpcName },
          }
        : null,
    },
    infraLive: target ? planInfraChange(target, config) : null,
    steps,
  };
}

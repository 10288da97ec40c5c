/**
 * What the image builds are, as plain data: the Dockerfile text, the build args, the secret id, the
 * refs and the alias. Pure. `src/images.ts` hands these to Dagger's `dockerBuild`; the integration
 * tests hand the very same values to `docker build`, so what is tested is what the pipeline runs.
 *
 * Nothing secret is ever part of a plan: the GitHub token travels only as a BuildKit secret whose
 * id (`images.githubTokenSecretId`) is all a plan knows.
 */
import { baseImageTag, dependencyChecksum, devVariantDockerfile, type DependencyFiles } from "./checksum.js";
import { imageRepository, registryHost, type PipelineConfig } from "./config.js";
import { PipelineError } from "./errors.js";
import { digestOf } from "./image-ref.js";
import { parseEnvironmentName, resolveRef, type DeployTarget, type GitRef } from "./refs.js";

/** Where the dev variant of the base Dockerfile is written inside the build context. */
export const DEV_DOCKERFILE_PATH = ".pipeline/Dockerfile.base.dev";

export interface BuildArgValue {
  name: string;
  value: string;
}

export interface BaseImageBuildPlan {
  registry: string;
  repository: string;
  tag: string;
  /** `<registry>/<repository>:<tag>` */
  ref: string;
  checksum: string;
  devVariant: boolean;
  /** The Dockerfile in the repository (`images.baseDockerfile`). */
  sourceDockerfile: string;
  /** The Dockerfile the build uses: the source one (prod) or DEV_DOCKERFILE_PATH (dev variant). */
  dockerfilePath: string;
  /** Its text: the dev variant has every line with `images.devVariantMarker` dropped. */
  dockerfileText: string;
  /** True when dockerfileText must be written into the context at dockerfilePath first. */
  writeDockerfile: boolean;
  buildArgs: BuildArgValue[];
  /** BuildKit secret id of the GitHub token (`RUN --mount=type=secret,id=<this>`). */
  secretId: string;
  /** The `latest` alias pushed after the main push (develop branch, dev variant), else null. */
  latestRef: string | null;
}

export interface BaseImageSelection {
  devVariant: boolean;
  pushLatest: boolean;
  /** Why this variant, for the report. */
  reason: string;
}

/** The branch mapped to dev by a branch rule (the seed's da/develop): it alone moves the latest alias. */
export function isDevelopBranch(branch: string, config: PipelineConfig): boolean {
  return config.refs.some((r) => r.match === "branch" && r.environment === "dev" && r.name === branch);
}

/**
 * Which base image variant a run needs. `--env` decides the variant when given (non-prod
 * environments keep dev/test gems, prod drops them, per `environments.<env>.devVariant`);
 * otherwise the branch or tag is resolved like `plan` does (unknown branches: dev variant). The
 * latest alias is pushed only for the develop branch and only for the dev variant.
 */
export function resolveBaseImageSelection(input: { config: PipelineConfig; env?: string; branch?: string; tag?: string }): BaseImageSelection {
  const { config } = input;
  const branch = input.branch?.trim() || undefined;
  const tag = input.tag?.trim() || undefined;
  if (branch && tag) {
    throw new PipelineError("REF_INVALID", `both --branch ${branch} and --tag ${tag} were given`, {
      hint: "pass --branch for a branch build or --tag for a tag build, not both",
    });
  }
  let devVariant: boolean;
  let reason: string;
  if (input.env) {
    const name = parseEnvironmentName(input.env);
    devVariant = config.environments[name].devVariant;
    reason = `--env ${name}`;
  } else if (branch || tag) {
    // The base image does not depend on the commit: resolve with a placeholder sha.
    const ref: GitRef = branch ? { kind: "branch", name: branch, sha: "0".repeat(40) } : { kind: "tag", name: tag!, sha: "0".repeat(40) };
    const resolution = resolveRef(ref, config);
    devVariant = resolution.deploy ? resolution.target.devVariant : true;
    reason = resolution.deploy ? `${ref.kind} ${ref.name} -> ${resolution.target.name}` : `${ref.kind} ${ref.name} (no deploy rule)`;
  } else {
    throw new PipelineError("ARGUMENT_INVALID", "base-image needs --env or --branch/--tag to choose the dev or prod variant", {
      hint: "pass --env dev (or stage, prod), or --branch $CIRCLE_BRANCH / --tag $CIRCLE_TAG",
    });
  }
  const pushLatest = devVariant && branch !== undefined && isDevelopBranch(branch, config);
  return { devVariant, pushLatest, reason };
}

/** The base image build for these dependency files and variant. */
export function planBaseImageBuild(input: {
  config: PipelineConfig;
  files: DependencyFiles;
  devVariant: boolean;
  pushLatest: boolean;
}): BaseImageBuildPlan {
  const { config, files, devVariant } = input;
  const checksum = dependencyChecksum(files);
  const tag = baseImageTag(checksum, devVariant);
  const repository = imageRepository(config);
  const sourceText = new TextDecoder().decode(files.dockerfileBase);
  return {
    registry: registryHost(config),
    repository: config.registry.repository,
    tag,
    ref: `${repository}:${tag}`,
    checksum,
    devVariant,
    sourceDockerfile: config.images.baseDockerfile,
    dockerfilePath: devVariant ? DEV_DOCKERFILE_PATH : config.images.baseDockerfile,
    dockerfileText: devVariant ? devVariantDockerfile(sourceText, config.images.devVariantMarker) : sourceText,
    writeDockerfile: devVariant,
    buildArgs: [{ name: "RUBY_IMAGE", value: config.images.rubyImage }],
    secretId: config.images.githubTokenSecretId,
    latestRef: input.pushLatest && devVariant ? `${repository}:${config.registry.baseLatestTag}` : null,
  };
}

export interface AppImageBuildPlan {
  registry: string;
  repository: string;
  tag: string;
  /** `<registry>/<repository>:<app tag>` */
  ref: string;
  environment: string;
  dockerfilePath: string;
  /** Exactly the seed's: BASE_IMAGE_NAME, DOCKER_TAG, VPC_NAME. */
  buildArgs: BuildArgValue[];
  baseRef: string;
}

/** The app image for a resolved deploy target, FROM the base image ref. */
export function planAppImageBuild(input: { config: PipelineConfig; target: DeployTarget; baseRef: string }): AppImageBuildPlan {
  const { config, target, baseRef } = input;
  const envConfig = config.environments[target.configEnvironment];
  const vpcName = target.kind === "feature" ? target.name : envConfig.vpcName;
  const repository = imageRepository(config);
  return {
    registry: registryHost(config),
    repository: config.registry.repository,
    tag: target.appTag,
    ref: `${repository}:${target.appTag}`,
    environment: target.name,
    dockerfilePath: config.images.appDockerfile,
    buildArgs: [
      { name: "BASE_IMAGE_NAME", value: baseRef },
      { name: "DOCKER_TAG", value: target.appTag },
      { name: "VPC_NAME", value: vpcName },
    ],
    baseRef,
  };
}

/** What `base-image` did. */
export interface BaseImageOutcome {
  ref: string;
  cacheHit: boolean;
  /** Manifest digest (from the registry on a hit, from the push on a miss), when known. */
  digest?: string;
  /** Number of image builds run: 0 on a hit, 1 on a miss. */
  builds: number;
  /** The alias pushed, else null. */
  latestRef: string | null;
}

/** One line per fact, stable for logs: `cache hit <ref>@<digest>` / `cache miss: built and pushed ...`. */
export function formatBaseImageOutcome(o: BaseImageOutcome): string {
  const at = o.digest ? `@${o.digest}` : "";
  const lines = [o.cacheHit ? `cache hit ${o.ref}${at} (nothing built)` : `cache miss: built and pushed ${o.ref}${at}`];
  if (o.latestRef) lines.push(`alias ${o.latestRef} -> ${o.ref}${at}`);
  return lines.join("\n");
}

/** The steps of ensure-base-image, each an effect supplied by the caller (Dagger, docker CLI, a test). */
export interface BaseImageEffects<B> {
  lookup(): Promise<{ exists: boolean; digest?: string }>;
  /** Build the image (and wait for it), failing with BUILD_FAILED. */
  build(): Promise<B>;
  /** Push to a ref; resolves to `ref@digest` (or the digest), failing with PUSH_FAILED. */
  publish(built: B, ref: string): Promise<string>;
  log?(line: string): void;
}

/**
 * Ensure semantics: a hit builds nothing; a miss builds, pushes the checksum tag, and only after
 * that push succeeded pushes the latest alias, so the alias never points at a missing image.
 * No I/O of its own: every effect is injected.
 */
export async function ensureBaseImage<B>(plan: BaseImageBuildPlan, effects: BaseImageEffects<B>): Promise<BaseImageOutcome> {
  const found = await effects.lookup();
  if (found.exists) {
    effects.log?.(`cache hit ${plan.ref}`);
    return { ref: plan.ref, cacheHit: true, digest: found.digest, builds: 0, latestRef: null };
  }
  effects.log?.(`cache miss ${plan.ref}: building ${plan.dockerfilePath}${plan.devVariant ? " (dev variant)" : ""}`);
  const built = await effects.build();
  const published = await effects.publish(built, plan.ref);
  const digest = digestOf(published) ?? (published.startsWith("sha256:") ? published : undefined);
  let latestRef: string | null = null;
  if (plan.latestRef) {
    await effects.publish(built, plan.latestRef);
    latestRef = plan.latestRef;
  }
  return { ref: plan.ref, cacheHit: false, digest, builds: 1, latestRef };
}

/**
 * Ref resolution: (branch or tag, commit sha) -> which environment deploys and with which image tag.
 * Pure; the rules come from the config (`refs`), whose defaults are the seed's:
 * da/develop -> dev, da/stage -> stage, release-<version> tag -> prod, feature/<name> -> feature-<name>.
 */
import { PipelineError } from "./errors.js";
import type { EnvironmentName, PipelineConfig } from "./config.js";

export type GitRef = { kind: "branch"; name: string; sha: string } | { kind: "tag"; name: string; sha: string };

export interface DeployTarget {
  /** `dev`, `stage`, `prod` or `feature-<name>`. */
  name: string;
  kind: EnvironmentName | "feature";
  /** The configured environment whose account, role and cluster are used. */
  configEnvironment: EnvironmentName;
  featureName?: string;
  /** Tag of the app image (dev/stage: full sha; prod: release version; feature: feat-<name>-<sha7>). */
  appTag: string;
  /** Whether the base image keeps development and test gems. */
  devVariant: boolean;
}

export type Resolution = { deploy: true; target: DeployTarget } | { deploy: false; reason: string; devVariant: true };

export const FEATURE_NAME_PATTERN = /^[a-zA-Z0-9-]+$/;

/** A full 40-hex sha, as CI gives it (CIRCLE_SHA1, GITHUB_SHA). */
export function parseSha(sha: string, flag = "--sha"): string {
  if (!/^[0-9a-f]{40}$/.test(sha)) {
    throw new PipelineError("REF_INVALID", `${flag} ${JSON.stringify(sha)} is not a full 40-character lowercase commit sha`, {
      hint: "pass the full sha, e.g. --sha $(git rev-parse HEAD) or --sha $CIRCLE_SHA1",
    });
  }
  return sha;
}

/** Build a GitRef from the flags a CLI or CI passes: exactly one of branch and tag. */
export function parseGitRef(input: { branch?: string; tag?: string; sha: string }): GitRef {
  const branch = input.branch?.trim() || undefined;
  const tag = input.tag?.trim() || undefined;
  if (branch && tag) {
    throw new PipelineError("REF_INVALID", `both --branch ${branch} and --tag ${tag} were given`, {
      hint: "pass --branch for a branch build or --tag for a tag build, not both",
    });
  }
  if (!branch && !tag) {
    throw new PipelineError("REF_INVALID", "neither --branch nor --tag was given", {
      hint: "pass --branch $CIRCLE_BRANCH or --tag $CIRCLE_TAG",
    });
  }
  const sha = parseSha(input.sha);
  const name = (branch ?? tag)!;
  if (/[\s\x00-\x1f~^:?*[\\]/.test(name) || name.includes("..")) {
    throw new PipelineError("REF_INVALID", `${branch ? "--branch" : "--tag"} ${JSON.stringify(name)} is not a valid git ref name`, {
      hint: "use the ref exactly as git shows it, without spaces or control characters",
    });
  }
  return branch ? { kind: "branch", name, sha } : { kind: "tag", name, sha };
}

/** Validate a feature name: the seed's `^[a-zA-Z0-9-]+$`, because it becomes hostnames and paths. */
export function parseFeatureName(name: string, source = `feature name`): string {
  if (!FEATURE_NAME_PATTERN.test(name)) {
    throw new PipelineError("FEATURE_NAME_INVALID", `${source} ${JSON.stringify(name)} may contain only letters, digits and dashes`, {
      hint: "rename the branch, e.g. feature/new-loan-flow (no slashes, spaces, dots or other symbols after feature/)",
    });
  }
  return name;
}

/** Resolve a ref against the configured rules; the first matching rule wins. */
export function resolveRef(ref: GitRef, config: PipelineConfig): Resolution {
  for (const rule of config.refs) {
    if (rule.match === "branch" && ref.kind === "branch" && ref.name === rule.name) {
      return { deploy: true, target: environmentTarget(rule.environment, ref.sha, config) };
    }
    if (rule.match === "tag" && ref.kind === "tag" && ref.name.startsWith(rule.prefix)) {
      const version = ref.name.slice(rule.prefix.length);
      return { deploy: true, target: environmentTarget(rule.environment, ref.sha, config, { version, tag: ref.name }) };
    }
    if (rule.match === "feature" && ref.kind === "branch" && ref.name.startsWith(rule.prefix)) {
      const name = parseFeatureName(ref.name.slice(rule.prefix.length), `feature branch ${JSON.stringify(ref.name)}: name`);
      return { deploy: true, target: featureTarget(name, ref.sha, config) };
    }
  }
  return {
    deploy: false,
    devVariant: true,
    reason: `${ref.kind} ${ref.name} matches no deploy rule (${describeRules(config)}): lint, test and base image only`,
  };
}

/** Resolve an explicit `--env` (manual deploys): prod still needs a release tag for its version. */
export function resolveEnvironment(env: string, ref: GitRef, config: PipelineConfig): DeployTarget {
  const name = parseEnvironmentName(env);
  if (name === "prod" || config.environments[name].devVariant === false) {
    const rule = config.refs.find((r) => r.match === "tag" && r.environment === name);
    if (rule?.match === "tag" && ref.kind === "tag" && ref.name.startsWith(rule.prefix)) {
      return environmentTarget(name, ref.sha, config, { version: ref.name.slice(rule.prefix.length), tag: ref.name });
    }
    if (rule?.match === "tag") {
      throw new PipelineError("REF_INVALID", `--env ${name} needs a release tag, got ${ref.kind} ${ref.name}`, {
        hint: `pass --tag ${rule.prefix}<version>; ${name} images are tagged with the release version`,
      });
    }
  }
  return environmentTarget(name, ref.sha, config);
}

export function parseEnvironmentName(env: string): EnvironmentName {
  if (env === "dev" || env === "stage" || env === "prod") return env;
  if (env.startsWith("feature-")) {
    throw new PipelineError("ENVIRONMENT_UNKNOWN", `--env ${env}: feature environments are chosen by branch`, {
      hint: "use feature-deploy --branch feature/<name> (or plan --branch feature/<name>)",
    });
  }
  throw new PipelineError("ENVIRONMENT_UNKNOWN", `--env ${JSON.stringify(env)} is not a configured environment`, {
    hint: "use one of dev, stage, prod",
  });
}

function environmentTarget(
  name: EnvironmentName,
  sha: string,
  config: PipelineConfig,
  release?: { version: string; tag: string },
): DeployTarget {
  let appTag = sha;
  if (release) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(release.version)) {
      throw new PipelineError("REF_INVALID", `tag ${release.tag} gives version ${JSON.stringify(release.version)}, which is not a valid image tag`, {
        hint: "tag releases like release-v1.2.3 (letters, digits, '.', '_', '-' after the prefix)",
      });
    }
    appTag = release.version;
  }
  return { name, kind: name, configEnvironment: name, appTag, devVariant: config.environments[name].devVariant };
}

function featureTarget(featureName: string, sha: string, config: PipelineConfig): DeployTarget {
  const host = config.feature.hostEnvironment;
  return {
    name: `feature-${featureName}`,
    kind: "feature",
    configEnvironment: host,
    featureName,
    appTag: featureImageTag(featureName, sha),
    devVariant: true,
  };
}

export function featureImageTag(featureName: string, sha: string): string {
  return `feat-${featureName}-${sha.slice(0, 7)}`;
}

function describeRules(config: PipelineConfig): string {
  return config.refs
    .map((r) => (r.match === "branch" ? `branch ${r.name}` : r.match === "tag" ? `tag ${r.prefix}*` : `branch ${r.prefix}<name>`))
    .join(", ");
}

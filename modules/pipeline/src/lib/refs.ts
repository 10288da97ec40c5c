/**
 * Ref resolution: (branch or tag, commit sha) -> which environment deploys and with which image tag.
 * Pure; the rules come from the config (`refs`), whose defaults are the seed's:
 * da/develop -> dev, da/stage -> stage, release-<version> tag -> prod, feature/<name> -> feature-<name>.
 */
import { formatChanges, type CheckoutChange, type CheckoutState } from "./checkout-state.js";
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

/**
 * The seed's check (`^[a-zA-Z0-9-]+$`): safe as a path segment. Names already in
 * infrastructure-live are recognised by it (teardown, sweep), so environments made before the
 * DNS rules below can still be removed.
 */
export const FEATURE_NAME_PATTERN = /^[a-zA-Z0-9-]+$/;

/** RFC 1123 labels (DNS host names, Kubernetes names) are at most 63 characters. */
export const DNS_LABEL_MAX_LENGTH = 63;
/** A label starts and ends with a letter or digit (RFC 1123 section 2.1, RFC 952). */
const DNS_LABEL_EDGES = /^[A-Za-z0-9](?:.*[A-Za-z0-9])?$/s;

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

/**
 * The names a feature name becomes: the environment `feature-<name>` and one Kubernetes service
 * per unit, `<name>-<unit>` (see feature-env.ts). Each must be an RFC 1123 label.
 */
export function featureDnsNames(name: string, unitNames: readonly string[]): string[] {
  return [`feature-${name}`, ...unitNames.map((unit) => `${name}-${unit}`)];
}

/** The longest feature name for which every name in `featureDnsNames` fits in a DNS label. */
export function maxFeatureNameLength(unitNames: readonly string[]): number {
  return DNS_LABEL_MAX_LENGTH - Math.max("feature-".length, ...unitNames.map((unit) => unit.length + 1));
}

/**
 * Validate the name of a NEW feature environment: it becomes host names and Kubernetes names
 * (`feature-<name>`, `<name>-<unit>`), so it must be an RFC 1123 label: letters, digits and dashes
 * (the seed's rule), starting and ending with a letter or digit, and short enough that every
 * derived name stays within 63 characters (`unitNames`: the configured feature units).
 * `source` names the input in the message, e.g. `feature branch "feature/abc-": name`.
 */
export function parseFeatureName(name: string, source = "feature name", unitNames: readonly string[] = []): string {
  const fail = (why: string, hint: string) => new PipelineError("FEATURE_NAME_INVALID", `${source} ${JSON.stringify(name)} ${why}`, { hint });
  const rename = "rename the branch, e.g. feature/new-loan-flow";
  if (name === "") throw fail("is empty", `${rename} (a name after feature/)`);
  if (!FEATURE_NAME_PATTERN.test(name)) {
    throw fail("may contain only letters, digits and dashes", `${rename} (no slashes, spaces, dots or other symbols after feature/)`);
  }
  if (!DNS_LABEL_EDGES.test(name)) {
    throw fail(
      `${name.startsWith("-") ? "starts" : "ends"} with '-': it becomes DNS and Kubernetes names (feature-${name}), which must start and end with a letter or digit (RFC 1123 label)`,
      `${rename} (no dash at the start or the end)`,
    );
  }
  const max = maxFeatureNameLength(unitNames);
  if (name.length > max) {
    const longest = featureDnsNames(name, unitNames).reduce((a, b) => (b.length > a.length ? b : a));
    throw fail(
      `is ${name.length} characters, longer than the ${max} that fit: it becomes ${longest} (${longest.length} characters), and an RFC 1123 label (DNS, Kubernetes names) has at most ${DNS_LABEL_MAX_LENGTH}`,
      `${rename} with at most ${max} characters after feature/`,
    );
  }
  return name;
}

/** Validate the name of an EXISTING feature environment (teardown): the seed's rule only. */
export function parseExistingFeatureName(name: string, source = "feature name"): string {
  if (!FEATURE_NAME_PATTERN.test(name)) {
    throw new PipelineError("FEATURE_NAME_INVALID", `${source} ${JSON.stringify(name)} may contain only letters, digits and dashes`, {
      hint: "pass the folder name of the feature environment in infrastructure-live, e.g. --name new-loan-flow",
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
      const name = parseFeatureName(
        ref.name.slice(rule.prefix.length),
        `feature branch ${JSON.stringify(ref.name)}: name`,
        config.feature.units.map((u) => u.name),
      );
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

// --- the ref of a run: flags first, then the project's checkout -------------------------------

/** The ref flags of a command as typed: empty strings for flags not given. */
export interface RefFlags {
  branch: string;
  tag: string;
  sha: string;
}

export interface RunRefInput {
  flags: RefFlags;
  /** `--env` as typed ("" when not given): a tag-deployed environment (prod) prefers a release tag at HEAD. */
  env: string;
  /** What the checkout holds; undefined when it was not read (every flag needed was given). */
  checkout?: CheckoutState;
  config: PipelineConfig;
  /** Whether the command needs a commit sha (plan, images, deploy) or only a branch or tag (base-image). */
  needSha: boolean;
  /** Whether the command needs a branch or a tag (false: base-image --env dev chooses without one). */
  needRef: boolean;
}

export interface RunRef {
  /** Flags completed from the checkout, for the planners (which still validate them). */
  flags: RefFlags;
  /** Which values came from the checkout (empty when everything was given). */
  fromCheckout: Array<"sha" | "branch" | "tag">;
  /** Uncommitted changes of the checkout (empty when it was not read or is clean). */
  uncommitted: CheckoutChange[];
  /** One line for the log: what runs, and where each value came from. */
  description: string;
}

/** Whether the checkout must be read: a needed value is missing (the dirty check asks on its own). */
export function needsCheckout(input: Pick<RunRefInput, "flags" | "needSha" | "needRef">): boolean {
  const { flags } = input;
  return (input.needSha && !flags.sha.trim()) || (input.needRef && !flags.branch.trim() && !flags.tag.trim());
}

/**
 * Complete the ref flags from the checkout: `--sha` defaults to HEAD's commit; `--branch`/`--tag`
 * default to the checked-out branch, or on a detached HEAD to a tag at HEAD (one matching a deploy
 * rule first). With `--env` of a tag-deployed environment (prod: `release-<version>`), a matching
 * tag at HEAD wins over the branch. Flags given always win. Pure: the checkout was read before.
 */
export function resolveRunRef(input: RunRefInput): RunRef {
  const given = { branch: input.flags.branch.trim(), tag: input.flags.tag.trim(), sha: input.flags.sha.trim() };
  const checkout = input.checkout;
  const git = checkout?.kind === "git" ? checkout : undefined;
  const unreadable = () =>
    checkout === undefined ? "the project's checkout was not read" : checkout.kind === "none" ? checkout.reason : "HEAD has no commit yet";
  const fromCheckout: RunRef["fromCheckout"] = [];

  let sha = given.sha;
  if (!sha && input.needSha) {
    if (!git?.sha) {
      throw new PipelineError("CHECKOUT_UNREADABLE", `--sha was not given and ${unreadable()}`, {
        hint: "run dagger call in the project's git checkout (with at least one commit), or pass --sha <40-character sha> with --branch or --tag",
      });
    }
    sha = git.sha;
    fromCheckout.push("sha");
  }

  let { branch, tag } = given;
  if (!branch && !tag && input.needRef) {
    if (!git) {
      throw new PipelineError("CHECKOUT_UNREADABLE", `neither --branch nor --tag was given and ${unreadable()}`, {
        hint: "run dagger call in the project's git checkout, or pass --branch <name> or --tag <name>",
      });
    }
    const chosen = chooseCheckoutRef(git, input.env, input.config);
    if (!chosen) {
      throw new PipelineError("CHECKOUT_UNREADABLE", `HEAD is detached${git.sha ? ` at ${git.sha.slice(0, 12)}` : ""} and no tag points at it, so there is no branch or tag to build`, {
        hint: "check out a branch (git switch <branch>), tag the commit, or pass --branch <name> or --tag <name>",
      });
    }
    if (chosen.kind === "branch") branch = chosen.name;
    else tag = chosen.name;
    fromCheckout.push(chosen.kind);
  }

  const uncommitted = git?.changes ?? [];
  return { flags: { branch, tag, sha }, fromCheckout, uncommitted, description: describeRunRef({ branch, tag, sha }, fromCheckout, git) };
}

function chooseCheckoutRef(git: Extract<CheckoutState, { kind: "git" }>, env: string, config: PipelineConfig): { kind: "branch" | "tag"; name: string } | undefined {
  const tagPrefixes = config.refs.flatMap((r) => (r.match === "tag" && (!env || r.environment === env) ? [r.prefix] : []));
  const newestFirst = [...git.tags].sort((a, b) => b.localeCompare(a, "en", { numeric: true }));
  const releaseTag = newestFirst.find((t) => tagPrefixes.some((p) => t.startsWith(p)));
  // `--env prod` deploys a release: a release tag at HEAD is what it needs, even on a branch.
  if (env && releaseTag) return { kind: "tag", name: releaseTag };
  if (git.branch) return { kind: "branch", name: git.branch };
  const tag = releaseTag ?? newestFirst[0];
  return tag ? { kind: "tag", name: tag } : undefined;
}

function describeRunRef(flags: RefFlags, fromCheckout: RunRef["fromCheckout"], git?: Extract<CheckoutState, { kind: "git" }>): string {
  const ref = flags.branch ? `branch ${flags.branch}` : flags.tag ? `tag ${flags.tag}` : "";
  const subject = [flags.sha ? `commit ${flags.sha}` : "", ref].filter(Boolean).join(", ");
  const origin = fromCheckout.length ? `${fromCheckout.join(" and ")} read from the checkout` : "as given";
  const notes: string[] = [];
  if (git?.sha && flags.sha && git.sha !== flags.sha) notes.push(`the checkout's HEAD is ${git.sha.slice(0, 12)}`);
  if (git) notes.push(git.changes.length ? `${git.changes.length} uncommitted change(s): ${formatChanges(git.changes, 5)}` : "no uncommitted changes");
  return `${subject || "no ref"} (${[origin, ...notes].join("; ")})`;
}

/** Refuse to deploy a working tree that is not its commit: the image would not match the sha it is tagged with. */
export function refuseUncommitted(ref: RunRef, command: string): void {
  if (ref.uncommitted.length === 0) return;
  throw new PipelineError("CHECKOUT_DIRTY", `${command} would deploy uncommitted changes as commit ${ref.flags.sha.slice(0, 12)}: ${formatChanges(ref.uncommitted)}`, {
    hint: `commit or stash them (git stash --include-untracked) and run it again, or pass --allow-dirty to deploy the working tree as it is`,
  });
}

/**
 * The feature name of a deleted branch as webhooks send it (`feature/<name>` or
 * `refs/heads/feature/<name>`), or undefined for any other branch (nothing to tear down).
 */
export function featureNameOfBranch(branch: string, config: PipelineConfig): string | undefined {
  const name = branch.trim().replace(/^refs\/heads\//, "");
  for (const rule of config.refs) {
    if (rule.match === "feature" && name.startsWith(rule.prefix)) {
      return parseFeatureName(name.slice(rule.prefix.length), `deleted branch ${JSON.stringify(branch)}: name`);
    }
  }
  return undefined;
}

/** Which feature environment `feature-teardown` tears down: `--name`, or the feature of `--branch` (a deleted ref). */
export function resolveTeardownTarget(input: { name: string; branch: string }, config: PipelineConfig): { name: string } | { skip: string } {
  const name = input.name.trim();
  const branch = input.branch.trim();
  if (name && branch) {
    throw new PipelineError("ARGUMENT_INVALID", `both --name ${name} and --branch ${branch} were given`, {
      hint: "pass --name <feature name>, or --branch with the deleted branch (feature/<name>)",
    });
  }
  if (name) return { name: parseFeatureName(name, "--name") };
  if (!branch) {
    throw new PipelineError("ARGUMENT_INVALID", "neither --name nor --branch was given", {
      hint: "pass --name <feature name>, or --branch with the deleted branch (e.g. --branch \"$DELETED_REF\")",
    });
  }
  const feature = featureNameOfBranch(branch, config);
  return feature ? { name: feature } : { skip: `deleted branch ${JSON.stringify(branch)} is not a feature branch: nothing to tear down` };
}

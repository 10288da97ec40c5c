/**
 * feature-sweep selection (pure): which feature environments to tear down, given the branches that
 * still exist and the `<feature.unitsRoot>/<name>` folders in infrastructure-live.
 *
 * A folder `<name>` is kept while the branch `<feature prefix><name>` (default `feature/<name>`) is
 * live, and torn down otherwise. Folders whose name is not a valid feature name were not made by the
 * pipeline: they are left alone and listed. The live-branch list must name at least one branch: a
 * repository always has its default branch, so an empty list is a broken input (an empty
 * `$(git ls-remote ...)`), and treating it as "no branches" would tear down every environment.
 */
import type { PipelineConfig } from "./config.js";
import { PipelineError } from "./errors.js";
import { FEATURE_NAME_PATTERN } from "./refs.js";

export interface FeatureSweepPlan {
  /** The feature branch prefix used, e.g. `feature/`. */
  prefix: string;
  /** Feature names to tear down, sorted. */
  teardown: string[];
  /** Feature environments whose branch is live. */
  keep: { name: string; branch: string }[];
  /** Folders under unitsRoot that are not feature environments (left alone). */
  ignored: { name: string; reason: string }[];
}

/**
 * Parse `--live-branches`: names separated by commas or newlines. Accepts the output of
 * `git branch -r` (`origin/feature/x`), `git ls-remote --heads origin` (`<sha>\trefs/heads/x`) and
 * `git for-each-ref` (`refs/heads/x`, `refs/remotes/origin/x`) as well as bare names.
 */
export function parseLiveBranches(text: string, prefix = "feature/"): string[] {
  const names = new Set<string>();
  for (const raw of text.split(/[,\n\r]+/)) {
    let name = raw.trim().replace(/^\*\s+/, "");
    if (name === "" || name.includes(" -> ")) continue; // `origin/HEAD -> origin/main`
    name = name.split(/\s+/).at(-1)!;
    if (name.startsWith("refs/heads/")) name = name.slice("refs/heads/".length);
    else if (name.startsWith("refs/remotes/")) name = name.slice("refs/remotes/".length).replace(/^[^/]+\//, "");
    else if (!name.startsWith(prefix)) {
      // `origin/feature/x` from `git branch -r`.
      const slash = name.indexOf("/");
      if (slash > 0 && name.slice(slash + 1).startsWith(prefix)) name = name.slice(slash + 1);
    }
    if (name !== "") names.add(name);
  }
  return [...names];
}

/** The feature branch prefix of the config's `{ match: "feature" }` rule. */
export function featurePrefix(config: PipelineConfig): string {
  const rule = config.refs.find((r) => r.match === "feature");
  if (!rule || rule.match !== "feature") {
    throw new PipelineError("CONFIG_INVALID", "refs has no { match: \"feature\" } rule, so no branch maps to a feature environment", {
      hint: 'add { "match": "feature", "prefix": "feature/" } to refs in pipeline.json',
    });
  }
  return rule.prefix;
}

/** Which existing feature folders to tear down. Throws ARGUMENT_INVALID for an empty branch list. */
export function planFeatureSweep(input: { liveBranches: readonly string[]; existing: readonly string[]; prefix: string }): FeatureSweepPlan {
  if (input.liveBranches.length === 0) {
    throw new PipelineError("ARGUMENT_INVALID", "--live-branches names no branch; refusing to tear down every feature environment", {
      hint: "pass the repository's branches, e.g. --live-branches \"$(git ls-remote --heads origin)\" (it always lists the default branch)",
    });
  }
  const live = new Set(input.liveBranches);
  const teardown: string[] = [];
  const keep: FeatureSweepPlan["keep"] = [];
  const ignored: FeatureSweepPlan["ignored"] = [];
  for (const name of [...new Set(input.existing)].sort()) {
    if (!FEATURE_NAME_PATTERN.test(name)) {
      ignored.push({ name, reason: "not a feature name (letters, digits and dashes), so not made by the pipeline" });
      continue;
    }
    const branch = `${input.prefix}${name}`;
    if (live.has(branch)) keep.push({ name, branch });
    else teardown.push(name);
  }
  return { prefix: input.prefix, teardown, keep, ignored };
}

export function formatFeatureSweepPlan(plan: FeatureSweepPlan): string {
  const lines = [
    `tear down: ${plan.teardown.length ? plan.teardown.join(", ") : "none"}`,
    `keep:      ${plan.keep.length ? plan.keep.map((k) => `${k.name} (${k.branch} is live)`).join(", ") : "none"}`,
  ];
  for (const i of plan.ignored) lines.push(`ignored:   ${i.name}: ${i.reason}`);
  return lines.join("\n");
}

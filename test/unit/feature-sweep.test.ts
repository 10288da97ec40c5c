import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { featurePrefix, formatFeatureSweepPlan, parseLiveBranches, planFeatureSweep } from "../../modules/pipeline/src/lib/feature-sweep.js";

describe("parseLiveBranches", () => {
  it.each([
    { name: "comma list", text: "da/develop, feature/a,feature/b", want: ["da/develop", "feature/a", "feature/b"] },
    { name: "newline list with blanks", text: "da/develop\n\nfeature/a\r\n", want: ["da/develop", "feature/a"] },
    {
      name: "git ls-remote --heads",
      text: `${"a".repeat(40)}\trefs/heads/da/develop\n${"b".repeat(40)}\trefs/heads/feature/new-loan-flow\n`,
      want: ["da/develop", "feature/new-loan-flow"],
    },
    { name: "git branch -r", text: "  origin/HEAD -> origin/main\n  origin/main\n  origin/feature/x\n", want: ["origin/main", "feature/x"] },
    { name: "for-each-ref remotes", text: "refs/remotes/origin/feature/x\nrefs/heads/main", want: ["feature/x", "main"] },
    { name: "duplicates once", text: "feature/a,feature/a", want: ["feature/a"] },
  ])("$name", ({ text, want }) => {
    expect(parseLiveBranches(text)).toEqual(want);
  });
});

describe("planFeatureSweep", () => {
  it.each([
    {
      name: "tears down environments whose branch is gone, keeps the live ones",
      live: ["da/develop", "feature/keep-me"],
      existing: ["keep-me", "old-flow", "another"],
      teardown: ["another", "old-flow"],
      keep: ["keep-me"],
    },
    { name: "nothing to do", live: ["main", "feature/a"], existing: ["a"], teardown: [], keep: ["a"] },
    { name: "no feature folders", live: ["main"], existing: [], teardown: [], keep: [] },
    { name: "names are case-sensitive like branches", live: ["main", "feature/New-Flow"], existing: ["new-flow", "New-Flow"], teardown: ["new-flow"], keep: ["New-Flow"] },
    { name: "a branch without the prefix does not keep a folder", live: ["main", "a"], existing: ["a"], teardown: ["a"], keep: [] },
  ])("$name", ({ live, existing, teardown, keep }) => {
    const plan = planFeatureSweep({ liveBranches: live, existing, prefix: "feature/" });
    expect(plan.teardown).toEqual(teardown);
    expect(plan.keep.map((k) => k.name)).toEqual(keep);
  });

  it("leaves folders that are not feature names alone", () => {
    const plan = planFeatureSweep({ liveBranches: ["main"], existing: ["_template", "ok-name", "has.dot"], prefix: "feature/" });
    expect(plan.teardown).toEqual(["ok-name"]);
    expect(plan.ignored.map((i) => i.name)).toEqual(["_template", "has.dot"]);
    expect(formatFeatureSweepPlan(plan)).toContain("ignored:   _template: not a feature name");
  });

  it("refuses an empty branch list instead of tearing everything down", () => {
    expect(() => planFeatureSweep({ liveBranches: parseLiveBranches(" \n, "), existing: ["a"], prefix: "feature/" })).toThrow(
      "--live-branches names no branch; refusing to tear down every feature environment",
    );
  });

  it("uses the configured feature prefix", () => {
    expect(featurePrefix(DEFAULT_CONFIG)).toBe("feature/");
    const config = parseConfig({ refs: [{ match: "branch", name: "main", environment: "dev" }, { match: "feature", prefix: "feat/" }] });
    const prefix = featurePrefix(config);
    expect(planFeatureSweep({ liveBranches: parseLiveBranches("main,origin/feat/x", prefix), existing: ["x", "y"], prefix })).toMatchObject({ teardown: ["y"], keep: [{ name: "x", branch: "feat/x" }] });
  });

  it("says what it kept", () => {
    const text = formatFeatureSweepPlan(planFeatureSweep({ liveBranches: ["main", "feature/a"], existing: ["a", "b"], prefix: "feature/" }));
    expect(text).toBe("tear down: b\nkeep:      a (feature/a is live)");
  });

  it("without a feature rule there is nothing to sweep", () => {
    const config = parseConfig({ refs: [{ match: "branch", name: "main", environment: "dev" }] });
    expect(() => featurePrefix(config)).toThrow('refs has no { match: "feature" } rule');
  });
});

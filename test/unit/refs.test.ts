import { describe, expect, it } from "vitest";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { parseExistingFeatureName, parseGitRef, resolveEnvironment, resolveRef } from "../../modules/pipeline/src/lib/refs.js";

const config = parseConfig(undefined);
const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

describe("resolveRef", () => {
  it.each([
    ["develop branch", { branch: "da/develop" }, "dev", SHA, true],
    ["stage branch", { branch: "da/stage" }, "stage", SHA, true],
    ["release tag", { tag: "release-v1.2.3" }, "prod", "v1.2.3", false],
    ["feature branch", { branch: "feature/new-loan-flow" }, "feature-new-loan-flow", "feat-new-loan-flow-a1b2c3d", true],
    ["feature with digits and caps", { branch: "feature/ABC-123" }, "feature-ABC-123", "feat-ABC-123-a1b2c3d", true],
  ])("%s", (_name, ref, env, tag, devVariant) => {
    const r = resolveRef(parseGitRef({ ...ref, sha: SHA }), config);
    expect(r.deploy).toBe(true);
    if (!r.deploy) return;
    expect(r.target.name).toBe(env);
    expect(r.target.appTag).toBe(tag);
    expect(r.target.devVariant).toBe(devVariant);
  });

  it("feature environments live in the dev account", () => {
    const r = resolveRef(parseGitRef({ branch: "feature/x", sha: SHA }), config);
    expect(r.deploy && r.target.configEnvironment).toBe("dev");
  });

  it.each([
    ["unknown branch", { branch: "main" }, "branch main matches no deploy rule"],
    ["release-like branch", { branch: "release-v1" }, "branch release-v1 matches no deploy rule"],
    ["develop as a tag", { tag: "da/develop" }, "tag da/develop matches no deploy rule"],
  ])("does not deploy an %s", (_name, ref, reason) => {
    const r = resolveRef(parseGitRef({ ...ref, sha: SHA }), config);
    expect(r.deploy).toBe(false);
    if (!r.deploy) expect(r.reason).toContain(reason);
  });

  it.each([
    ["shell injection", "feature/a;rm -rf"],
    ["nested path", "feature/a/b"],
    ["unicode", "feature/café"],
    ["underscore", "feature/new_flow"],
    ["dot", "feature/v1.2"],
  ])("rejects a feature branch with %s", (_name, branch) => {
    const act = () => resolveRef({ kind: "branch", name: branch, sha: SHA }, config);
    expect(act).toThrow(PipelineError);
    expect(act).toThrow("may contain only letters, digits and dashes");
    try {
      act();
    } catch (err) {
      expect((err as PipelineError).code).toBe("FEATURE_NAME_INVALID");
    }
  });
});

// Issue #11 item 11: the feature name becomes feature-<name> and <name>-<unit> (Kubernetes names,
// host names), which must be RFC 1123 labels; these were accepted before.
describe("feature names are RFC 1123 labels", () => {
  const longest = "a".repeat(53); // feature-<name> and <name>-clockwork (the longest default unit) fit 63
  it.each([
    ["a lone dash", "feature/-", "name \"-\" starts with '-'", "RFC 1123 label"],
    ["a trailing dash", "feature/abc-", "name \"abc-\" ends with '-'", "must start and end with a letter or digit"],
    ["a leading dash", "feature/-abc", "name \"-abc\" starts with '-'", "feature--abc"],
    ["an empty name", "feature/", 'feature branch "feature/": name "" is empty', "rename the branch"],
    ["a name one too long", `feature/${longest}b`, "is 54 characters, longer than the 53 that fit", `${longest}b-clockwork (64 characters)`],
    ["a name far too long", `feature/${"x".repeat(300)}`, "is 300 characters", "at most 63"],
  ])("rejects %s, naming the branch and the rule", (_name, branch, fragment, rule) => {
    const act = () => resolveRef({ kind: "branch", name: branch, sha: SHA }, config);
    expect(act).toThrow(PipelineError);
    expect(act).toThrow(`feature branch ${JSON.stringify(branch)}: name`);
    expect(act).toThrow(fragment);
    expect(act).toThrow(rule);
    try {
      act();
    } catch (err) {
      expect((err as PipelineError).code).toBe("FEATURE_NAME_INVALID");
    }
  });

  it.each([
    ["the longest that fits", `feature/${longest}`],
    ["one character", "feature/a"],
    ["digits only", "feature/123"],
    ["inner dashes", "feature/a--b"],
  ])("accepts %s", (_name, branch) => {
    const r = resolveRef({ kind: "branch", name: branch, sha: SHA }, config);
    expect(r.deploy && r.target.featureName).toBe(branch.slice("feature/".length));
  });

  it("the length limit follows the configured unit names", () => {
    const units = [{ name: "a-very-long-unit-name-for-workers", kind: "service", image: "app" }];
    const custom = parseConfig({ feature: { units } });
    const name = "b".repeat(30); // b*30 + "-" + 33 = 64 > 63
    expect(() => resolveRef({ kind: "branch", name: `feature/${name}`, sha: SHA }, custom)).toThrow("longer than the 29 that fit");
  });

  it("teardown still reaches environments named before these rules", () => {
    expect(parseExistingFeatureName("abc-", "--name")).toBe("abc-");
    expect(() => parseExistingFeatureName("a/b", "--name")).toThrow("may contain only letters, digits and dashes");
  });
});

describe("parseGitRef", () => {
  it.each([
    ["short sha", { branch: "da/develop", sha: "a1b2c3d" }, "--sha \"a1b2c3d\" is not a full 40-character"],
    ["upper-case sha", { branch: "da/develop", sha: SHA.toUpperCase() }, "is not a full 40-character lowercase commit sha"],
    ["branch and tag", { branch: "da/develop", tag: "release-v1", sha: SHA }, "both --branch da/develop and --tag release-v1"],
    ["neither", { sha: SHA }, "neither --branch nor --tag was given"],
    ["space in branch", { branch: "da develop", sha: SHA }, "is not a valid git ref name"],
    ["dot-dot", { tag: "release-..", sha: SHA }, "is not a valid git ref name"],
  ])("rejects %s", (_name, input, fragment) => {
    expect(() => parseGitRef(input)).toThrow(fragment);
  });
});

describe("resolveEnvironment (--env)", () => {
  it("dev from any branch uses the sha", () => {
    const t = resolveEnvironment("dev", parseGitRef({ branch: "hotfix/x", sha: SHA }), config);
    expect([t.name, t.appTag]).toEqual(["dev", SHA]);
  });
  it.each([
    ["prod without a release tag", "prod", { branch: "da/develop" }, "--env prod needs a release tag"],
    ["unknown environment", "qa", { branch: "da/develop" }, "--env \"qa\" is not a configured environment"],
    ["feature environment", "feature-x", { branch: "da/develop" }, "feature environments are chosen by branch"],
    ["release tag with a bad version", "prod", { tag: "release-v1+2" }, "which is not a valid image tag"],
  ])("rejects %s", (_name, env, ref, fragment) => {
    expect(() => resolveEnvironment(env, parseGitRef({ ...ref, sha: SHA }), config)).toThrow(fragment);
  });
});

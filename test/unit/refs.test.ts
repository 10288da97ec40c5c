import { describe, expect, it } from "vitest";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { parseGitRef, resolveEnvironment, resolveRef } from "../../modules/pipeline/src/lib/refs.js";

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
    ["empty name", "feature/"],
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

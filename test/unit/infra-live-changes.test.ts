import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "../../modules/pipeline/src/lib/config.js";
import {
  featureApplyOrder,
  formatCommitMessage,
  formatInfraPlan,
  planFeatureTeardown,
  planInfraChange,
} from "../../modules/pipeline/src/lib/infra-live-changes.js";
import { parseGitRef, resolveEnvironment, resolveRef, type DeployTarget } from "../../modules/pipeline/src/lib/refs.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

function target(ref: { branch?: string; tag?: string }, config = DEFAULT_CONFIG): DeployTarget {
  const r = resolveRef(parseGitRef({ ...ref, sha: SHA }), config);
  if (!r.deploy) throw new Error(r.reason);
  return r.target;
}

describe("planInfraChange for environments", () => {
  it.each([
    { env: "dev", ref: { branch: "da/develop" }, tag: SHA },
    { env: "stage", ref: { branch: "da/stage" }, tag: SHA },
    { env: "prod", ref: { tag: "release-v1.2.3" }, tag: "v1.2.3" },
  ])("$env: edits clockwork, sidekiq, rails-api in order with the seed's author and message", ({ env, ref, tag }) => {
    const plan = planInfraChange(target(ref), DEFAULT_CONFIG);
    expect(plan.kind).toBe("environment");
    if (plan.kind !== "environment") return;
    expect(plan).toMatchObject({
      repoUrl: "git@github.com:BlinkerGit/infrastructure-live.git",
      branch: "main",
      author: { name: "BlinkerCI", email: "blinkerci@blinker.com" },
      commitMessage: `Deploy rails-api ${tag} to ${env} [ci skip]`,
      environment: env,
      configEnvironment: env,
      tag,
    });
    expect(plan.edits).toEqual(
      ["clockwork", "sidekiq", "rails-api"].map((unit) => ({
        unit,
        dir: `${env}/us-west-2/${env}/apps/${unit}`,
        file: `${env}/us-west-2/${env}/apps/${unit}/terragrunt.hcl`,
        attribute: "image_version",
        value: `"${tag}"`,
      })),
    );
    expect(plan.applyOrder.map((s) => s.unit)).toEqual(["clockwork", "sidekiq", "rails-api"]);
  });

  it("follows the configured units, attribute, author and an empty skip flag", () => {
    const config = parseConfig({
      infraLive: { variableName: "app_version", skipCiFlag: "", gitUserName: "Bot", gitUserEmail: "bot@example.com", branch: "master" },
      environments: { stage: { infraLive: { units: [{ name: "web", path: "stage/web" }] } } },
    });
    const plan = planInfraChange(resolveEnvironment("stage", parseGitRef({ branch: "x", sha: SHA }), config), config);
    expect(plan).toMatchObject({
      branch: "master",
      author: { name: "Bot", email: "bot@example.com" },
      commitMessage: `Deploy rails-api ${SHA} to stage`,
      edits: [{ unit: "web", file: "stage/web/terragrunt.hcl", attribute: "app_version", value: `"${SHA}"` }],
    });
  });
});

describe("feature plans", () => {
  const plan = planInfraChange(target({ branch: "feature/new-loan-flow" }), DEFAULT_CONFIG);

  it("generates the files, applies dependencies first and tears down in reverse", () => {
    expect(plan.kind).toBe("feature-deploy");
    if (plan.kind !== "feature-deploy") return;
    expect(plan).toMatchObject({
      featureName: "new-loan-flow",
      tag: "feat-new-loan-flow-0123456",
      environment: "feature-new-loan-flow",
      configEnvironment: "dev",
      root: "dev/us-west-2/dev/apps/features/new-loan-flow",
      commitMessage: "Deploy feature env 'new-loan-flow' with tag 'feat-new-loan-flow-0123456' [ci skip]",
    });
    expect(plan.files).toHaveLength(6);
    expect(plan.applyOrder.map((s) => s.unit)).toEqual(["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"]);
    expect(plan.applyOrder[0]!.dir).toBe("dev/us-west-2/dev/apps/features/new-loan-flow/postgres");
    expect(plan.teardownOrder.map((s) => s.unit)).toEqual(["sidekiq", "clockwork", "api", "pgadmin", "redis", "postgres"]);
  });

  it("puts dependencies first even when the config lists them later", () => {
    const units = [
      { name: "api", kind: "service" as const },
      { name: "db", kind: "dependency" as const },
      { name: "ui", kind: "service" as const },
      { name: "cache", kind: "dependency" as const },
    ];
    expect(featureApplyOrder(units).map((u) => u.name)).toEqual(["db", "cache", "api", "ui"]);
  });

  it("teardown: reverse order, its own message, validated name", () => {
    const t = planFeatureTeardown("new-loan-flow", DEFAULT_CONFIG);
    expect(t).toMatchObject({
      kind: "feature-teardown",
      root: "dev/us-west-2/dev/apps/features/new-loan-flow",
      commitMessage: "Tear down feature env 'new-loan-flow' [ci skip]",
      author: { name: "BlinkerCI" },
    });
    expect(t.destroyOrder.map((s) => s.unit)).toEqual(["sidekiq", "clockwork", "api", "pgadmin", "redis", "postgres"]);
    expect(() => planFeatureTeardown("../etc", DEFAULT_CONFIG)).toThrowError(/FEATURE_NAME_INVALID[\s\S]*--name "..\/etc"/);
  });

  it("rejects a feature target without a name", () => {
    const bad: DeployTarget = { ...target({ branch: "feature/x" }), featureName: undefined };
    expect(() => planInfraChange(bad, DEFAULT_CONFIG)).toThrowError(/REF_INVALID/);
  });
});

describe("formatting", () => {
  it.each([
    { name: "flag", flag: "[ci skip]", expected: "m [ci skip]" },
    { name: "empty flag", flag: "", expected: "m" },
    { name: "blank flag", flag: "  ", expected: "m" },
  ])("formatCommitMessage: $name", ({ flag, expected }) => {
    expect(formatCommitMessage("m", flag)).toBe(expected);
  });

  it("formatInfraPlan names files, values and order", () => {
    const text = formatInfraPlan(planInfraChange(target({ tag: "release-v2" }), DEFAULT_CONFIG));
    expect(text).toContain('set image_version = "v2" in prod/us-west-2/prod/apps/sidekiq/terragrunt.hcl');
    expect(text).toContain("terragrunt apply: clockwork -> sidekiq -> rails-api");
    expect(formatInfraPlan(planFeatureTeardown("x", DEFAULT_CONFIG))).toContain("remove dev/us-west-2/dev/apps/features/x/");
  });
});

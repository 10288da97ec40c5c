import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dependencyChecksum } from "../../modules/pipeline/src/lib/checksum.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { formatPlan } from "../../modules/pipeline/src/lib/pipeline-plan-format.js";
import { planPipeline, type PipelinePlan } from "../../modules/pipeline/src/lib/pipeline-plan.js";
import { REPO_ROOT } from "../support/introspect.js";

const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const enc = (s: string) => new TextEncoder().encode(s);
const files = { gemfile: enc("gem 'rails'\n"), gemfileLock: enc("GEM\n"), dockerfileBase: enc("FROM ruby\n") };
const SUM = dependencyChecksum(files);
const ECR = "004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api";
const config = parseConfig(undefined);

const plan = (ref: { branch?: string; tag?: string }, env?: string): PipelinePlan => planPipeline({ config, files, env, ref: { ...ref, sha: SHA } });

describe("planPipeline reproduces the seed", () => {
  it("da/develop -> dev", () => {
    const p = plan({ branch: "da/develop" });
    expect(p.environment).toEqual({
      name: "dev",
      kind: "dev",
      featureName: null,
      awsAccountId: "392216643236",
      region: "us-west-2",
      roleArn: "arn:aws:iam::392216643236:role/auto-deploy",
      eksClusterArn: "arn:aws:eks:us-west-2:392216643236:cluster/eks-dev",
      vpcName: "dev",
    });
    expect(p.images.base).toMatchObject({ ref: `${ECR}:base-dev-${SUM}`, devVariant: true, latestAlias: `${ECR}:base-dev-latest` });
    expect(p.images.app).toEqual({
      ref: `${ECR}:${SHA}`,
      tag: SHA,
      dockerfile: "Dockerfile",
      buildArgs: { BASE_IMAGE_NAME: `${ECR}:base-dev-${SUM}`, DOCKER_TAG: SHA, VPC_NAME: "dev" },
    });
    const infra = p.infraLive!;
    expect(infra.kind).toBe("environment");
    if (infra.kind !== "environment") return;
    expect(infra.edits.map((e) => [e.file, e.attribute, e.value])).toEqual([
      ["dev/us-west-2/dev/apps/clockwork/terragrunt.hcl", "image_version", `"${SHA}"`],
      ["dev/us-west-2/dev/apps/sidekiq/terragrunt.hcl", "image_version", `"${SHA}"`],
      ["dev/us-west-2/dev/apps/rails-api/terragrunt.hcl", "image_version", `"${SHA}"`],
    ]);
    expect(infra.applyOrder.map((s) => s.unit)).toEqual(["clockwork", "sidekiq", "rails-api"]);
    expect(infra.author).toEqual({ name: "BlinkerCI", email: "blinkerci@blinker.com" });
    expect(infra.commitMessage).toContain("[ci skip]");
    expect(p.steps).toEqual(["check-env", "lint", "test", "base-image", "app-image", "infra-live-write-back", "assume-role", "terragrunt-apply"]);
  });

  it("da/stage -> stage, dev variant, no latest alias", () => {
    const p = plan({ branch: "da/stage" });
    expect(p.environment?.name).toBe("stage");
    expect(p.images.base.tag).toBe(`base-dev-${SUM}`);
    expect(p.images.base.latestAlias).toBeNull();
    expect(p.images.app?.tag).toBe(SHA);
    const infra = p.infraLive!;
    expect(infra.kind === "environment" && infra.edits.map((e) => e.dir)).toEqual([
      "stage/us-west-2/stage/apps/clockwork",
      "stage/us-west-2/stage/apps/sidekiq",
      "stage/us-west-2/stage/apps/rails-api",
    ]);
  });

  it("release-v1.2.3 -> prod with version tag and prod base variant", () => {
    const p = plan({ tag: "release-v1.2.3" });
    expect(p.environment).toMatchObject({ name: "prod", awsAccountId: "872406820375", eksClusterArn: "arn:aws:eks:us-west-2:872406820375:cluster/eks-prod", vpcName: "prod" });
    expect(p.images.base).toMatchObject({ tag: `base-${SUM}`, devVariant: false, latestAlias: null });
    expect(p.images.app).toMatchObject({ ref: `${ECR}:v1.2.3`, buildArgs: { DOCKER_TAG: "v1.2.3", VPC_NAME: "prod", BASE_IMAGE_NAME: `${ECR}:base-${SUM}` } });
    const infra = p.infraLive!;
    expect(infra.kind === "environment" && infra.edits.map((e) => [e.file, e.value])).toEqual([
      ["prod/us-west-2/prod/apps/clockwork/terragrunt.hcl", '"v1.2.3"'],
      ["prod/us-west-2/prod/apps/sidekiq/terragrunt.hcl", '"v1.2.3"'],
      ["prod/us-west-2/prod/apps/rails-api/terragrunt.hcl", '"v1.2.3"'],
    ]);
  });

  it("feature/new-loan-flow -> isolated feature environment in the dev cluster", () => {
    const p = plan({ branch: "feature/new-loan-flow" });
    expect(p.environment).toMatchObject({ name: "feature-new-loan-flow", kind: "feature", featureName: "new-loan-flow", awsAccountId: "392216643236" });
    expect(p.images.app?.ref).toBe(`${ECR}:feat-new-loan-flow-a1b2c3d`);
    const infra = p.infraLive!;
    expect(infra.kind).toBe("feature-deploy");
    if (infra.kind !== "feature-deploy") return;
    expect(infra.files.map((f) => f.file)).toEqual(
      ["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"].map((u) => `dev/us-west-2/dev/apps/features/new-loan-flow/${u}/terragrunt.hcl`),
    );
    expect(infra.applyOrder.map((s) => s.unit)).toEqual(["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"]);
    expect(infra.commitMessage).toBe("Deploy feature env 'new-loan-flow' with tag 'feat-new-loan-flow-a1b2c3d' [ci skip]");
  });

  it("an unknown branch plans lint, test and base image only", () => {
    const p = plan({ branch: "main" });
    expect(p.deploy).toBe(false);
    expect(p.reason).toContain("branch main matches no deploy rule");
    expect(p.environment).toBeNull();
    expect(p.images.app).toBeNull();
    expect(p.infraLive).toBeNull();
    expect(p.images.base.devVariant).toBe(true);
    expect(p.steps).toEqual(["check-env", "lint", "test", "base-image"]);
  });

  it("promises the latest alias only when base-image would push it (dev variant)", () => {
    const prodLikeDev = parseConfig({ environments: { dev: { devVariant: false } } });
    const p = planPipeline({ config: prodLikeDev, files, ref: { branch: "da/develop", sha: SHA } });
    expect(p.images.base.devVariant).toBe(false);
    expect(p.images.base.latestAlias).toBeNull();
  });

  it("--env dev deploys any branch to dev", () => {
    expect(plan({ branch: "hotfix/x" }, "dev").environment?.name).toBe("dev");
  });

  it("shows which base-image path will run when the registry was asked", () => {
    expect(planPipeline({ config, files, ref: { branch: "da/develop", sha: SHA }, baseImageExists: true }).images.base.action).toBe("use-existing");
    expect(planPipeline({ config, files, ref: { branch: "da/develop", sha: SHA }, baseImageExists: false }).images.base.action).toBe("build-and-push");
  });

  it("text output names every value a reviewer checks", () => {
    const text = formatPlan(plan({ branch: "da/develop" }), "text");
    for (const fragment of [
      "environment  dev",
      "arn:aws:iam::392216643236:role/auto-deploy",
      `base image   ${ECR}:base-dev-${SUM} (dev variant`,
      `app image    ${ECR}:${SHA}`,
      `set image_version = "${SHA}" in dev/us-west-2/dev/apps/clockwork/terragrunt.hcl`,
      "terragrunt apply: clockwork -> sidekiq -> rails-api",
    ]) {
      expect(text).toContain(fragment);
    }
  });
});

describe("npm run plan (no Dagger)", () => {
  const run = (args: string[]) =>
    promisify(execFile)("npx", ["tsx", "modules/pipeline/cli/plan.ts", ...args], { cwd: REPO_ROOT }).then(
      (r) => ({ code: 0, ...r }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );
  const source = mkdtempSync(path.join(os.tmpdir(), "plan-src-"));
  writeFileSync(path.join(source, "Gemfile"), "gem 'rails'\n");
  writeFileSync(path.join(source, "Gemfile.lock"), "GEM\n");
  writeFileSync(path.join(source, "Dockerfile.base"), "FROM ruby\n");

  it("prints the JSON plan of a release tag", async () => {
    const r = await run(["--source", source, "--tag", "release-v1.2.3", "--sha", SHA, "--format", "json"]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout) as PipelinePlan;
    expect(p.schemaVersion).toBe(1);
    expect(p.images.app?.tag).toBe("v1.2.3");
    expect(p.images.base.checksum).toBe(SUM);
  });

  it.each([
    ["a bad feature name", ["--branch", "feature/a;rm", "--sha", SHA], "FEATURE_NAME_INVALID"],
    ["a ref git would refuse", ["--branch", "feature/a;rm -rf", "--sha", SHA], "is not a valid git ref name"],
    ["a short sha", ["--branch", "da/develop", "--sha", "abc"], "is not a full 40-character"],
    ["an unknown flag", ["--branch", "da/develop", "--sha", SHA, "--envv", "dev"], "--envv"],
  ])("exits non-zero with a clear message on %s", async (_name, args, fragment) => {
    const r = await run(["--source", source, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(fragment);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("runs check-env first: a plaintext secret in config/prod.env stops the plan", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "plan-env-"));
    for (const f of ["Gemfile", "Gemfile.lock", "Dockerfile.base"]) writeFileSync(path.join(dir, f), "x\n");
    mkdirSync(path.join(dir, "config"));
    writeFileSync(path.join(dir, "config/prod.env"), "RAILS_ENV=production\nGRAVITY_API_PASSWORD=MySecretPassword123\n");
    const r = await run(["--source", dir, "--tag", "release-v1.2.3", "--sha", SHA]);
    expect(r.code).toBe(2); // an input error: the env file must change
    expect(r.stderr).toContain("[ENV_FILE_PLAINTEXT_SECRET]");
    expect(r.stderr).toContain("config/prod.env:2");
    expect(r.stderr).not.toContain("MySecretPassword123");
  });

  it("names a missing Gemfile.lock", async () => {
    const bare = mkdtempSync(path.join(os.tmpdir(), "plan-bare-"));
    writeFileSync(path.join(bare, "Gemfile"), "");
    const r = await run(["--source", bare, "--branch", "da/develop", "--sha", SHA]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("[SOURCE_FILE_MISSING] Gemfile.lock is missing");
  });

  it.each([
    ["pipeline.json", "[CONFIG_UNREADABLE] pipeline.json in DIR is a directory, not a regular file"],
    ["config/prod.env", "[ENV_FILE_INVALID] config/prod.env in DIR is a directory, not a regular file"],
    ["Gemfile.lock", "[SOURCE_FILE_MISSING] Gemfile.lock in DIR is a directory, not a regular file"],
  ])("refuses %s that is a directory with exit 2 and no stack trace (it was EISDIR)", async (name, fragment) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "plan-dir-"));
    for (const f of ["Gemfile", "Gemfile.lock", "Dockerfile.base"]) if (f !== name) writeFileSync(path.join(dir, f), "x\n");
    mkdirSync(path.join(dir, name), { recursive: true });
    const r = await run(["--source", dir, "--tag", "release-v1.2.3", "--sha", SHA]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(fragment.replace("DIR", dir));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("prints --help and exits 0", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: npm run plan -- --source <value>");
    expect(r.stdout).toContain("exit status: 0 success; 2 a usage or input error");
  });
});

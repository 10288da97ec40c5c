/**
 * The deploy flow end to end on this machine: REAL git (a local bare infrastructure-live), the
 * real write-back, the real terragrunt loop through `LocalTerragrunt`, and STS mocked with
 * aws-sdk-client-mock (the only mock; the credentials go through helper code in aws/credential-provider.ts).
 *
 * terragrunt (and terraform) cannot be installed here: no package source on this machine ships them
 * and their release hosts are unreachable. So a FAKE `terragrunt` on PATH records its arguments,
 * working directory, the AWS variables it was given and the image_version in the unit's
 * terragrunt.hcl at the moment it ran, and fails on demand. A fake `aws` records the cluster access
 * command. The image steps need a Dagger engine (none here): they are stubs that record the call;
 * their graphs are tested in their own files.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeployFailedError, executeDeploy, type DeployEffects, type InfraEffects } from "../../modules/pipeline/src/deploy.js";
import { executeFeatureSweep, executeFeatureTeardown } from "../../modules/pipeline/src/feature.js";
import { createLocalWorkspace, type LocalWorkspace } from "../../modules/pipeline/src/infra/local-workspace.js";
import { parseConfig, type PipelineConfig } from "../../modules/pipeline/src/lib/config.js";
import { checkEnvText } from "../../modules/pipeline/src/lib/env-check.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { planFeatureTeardown } from "../../modules/pipeline/src/lib/infra-live-changes.js";
import { planPipeline } from "../../modules/pipeline/src/lib/pipeline-plan.js";
import { formatDeployReport } from "../../modules/pipeline/src/lib/terragrunt-runs.js";
import { LocalTerragrunt } from "../../modules/pipeline/src/terragrunt.js";
import { seedInfraLive } from "../support/infra-live-seed.js";

const TMP = mkdtempSync(path.join(tmpdir(), "deploy-local-"));
const BARE = path.join(TMP, "infrastructure-live.git");
const BIN = path.join(TMP, "bin");
const TG_LOG = path.join(TMP, "terragrunt.jsonl");
const AWS_LOG = path.join(TMP, "aws.jsonl");
const APP = path.resolve(import.meta.dirname, "../fixtures/rails-api");
const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const UNITS = ["clockwork", "sidekiq", "rails-api"];
const DEPLOY_KEY = { AccessKeyId: "ASIADEPLOYROLEKEY123", SecretAccessKey: "d".repeat(40), SessionToken: "deploy-session-token" };

/** Fake terragrunt: JSON line per call; exits 1 when its working dir ends with $FAKE_TG_FAIL. */
const FAKE_TERRAGRUNT = `#!/usr/bin/env node
// Fake terragrunt for tests: the real one cannot be installed on this machine.
const fs = require("node:fs");
const cwd = process.cwd();
let hcl = null;
try { hcl = (/image_version\\s*=\\s*(.*)/.exec(fs.readFileSync("terragrunt.hcl", "utf8")) || [])[1] || null; } catch {}
const e = process.env;
fs.appendFileSync(e.FAKE_TG_LOG, JSON.stringify({ args: process.argv.slice(2), cwd, hcl,
  key: e.AWS_ACCESS_KEY_ID, secret: e.AWS_SECRET_ACCESS_KEY, token: e.AWS_SESSION_TOKEN, region: e.AWS_REGION, kubeconfig: e.KUBECONFIG, tfInput: e.TF_INPUT }) + "\\n");
const fail = e.FAKE_TG_FAIL;
if (fail && cwd.endsWith("/" + fail)) {
  console.log("Initializing the backend...");
  console.error("Error: timed out waiting for the condition on deployments/" + fail);
  process.exit(1);
}
console.log(process.argv[2] === "destroy" ? "Destroy complete! Resources: 2 destroyed." : "Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
`;

const FAKE_AWS = `#!/usr/bin/env node
const fs = require("node:fs");
fs.appendFileSync(process.env.FAKE_AWS_LOG, JSON.stringify({ args: process.argv.slice(2), key: process.env.AWS_ACCESS_KEY_ID }) + "\\n");
`;

interface TgCall {
  args: string[];
  cwd: string;
  hcl: string | null;
  key?: string;
  secret?: string;
  token?: string;
  region?: string;
  kubeconfig?: string;
  tfInput?: string;
}

function readLog<T>(file: string): T[] {
  return existsSync(file) ? (readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) as T[]) : [];
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

const remoteHead = () => git(BARE, "rev-parse", "main");
const remoteFile = (file: string): string | null => {
  try {
    return execFileSync("git", ["show", `main:${file}`], { cwd: BARE, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return null;
  }
};

function config(overrides: Record<string, unknown> = {}): PipelineConfig {
  return parseConfig({ infraLive: { repoUrl: `file://${BARE}` }, ...overrides });
}

const sts = mockClient(STSClient);
let calls: string[] = [];
let fail = "";
const workspaces: LocalWorkspace[] = [];

function infraEffects(): InfraEffects<LocalWorkspace> {
  return {
    newWorkspace: async () => {
      const ws = await createLocalWorkspace(path.join(TMP, "work"));
      workspaces.push(ws);
      return ws;
    },
    gitAuth: { kind: "none" },
    terragrunt: (ws, access) =>
      new LocalTerragrunt({
        root: ws.root,
        credentials: access.credentials,
        region: access.region,
        access: access.cluster,
        env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, FAKE_TG_LOG: TG_LOG, FAKE_AWS_LOG: AWS_LOG, FAKE_TG_FAIL: fail },
      }),
    aws: async (region) => ({
      sts: () => new STSClient({ region, credentials: { accessKeyId: "AKIACALLERKEY1234567", secretAccessKey: "c".repeat(40) } }),
      credentials: async () => ({ accessKeyId: "AKIACALLERKEY1234567", secretAccessKey: "c".repeat(40) }),
      description: "keys from the test",
    }),
    log: () => {},
    writeBack: { sleep: async () => {} },
  };
}

function deployEffects(): DeployEffects<LocalWorkspace> {
  return {
    ...infraEffects(),
    // The real check-env rules on the example app's env files.
    checkEnv: async () => {
      const lines: string[] = [];
      for (const env of ["dev", "stage", "prod"]) {
        const file = `config/${env}.env`;
        const problems = checkEnvText(readFileSync(path.join(APP, file), "utf8"), file, { environment: env, patterns: ["PASSWORD", "TOKEN", "SECRET", "KEY"], allowList: [] });
        if (problems.length) throw new PipelineError("ENV_FILE_PLAINTEXT_SECRET", `${file}: ${problems[0]!.message}`);
        lines.push(`ok   ${file}`);
      }
      return lines.join("\n");
    },
    baseImage: async () => (calls.push("base-image"), "cache hit (stub: images need a Dagger engine)"),
    appImage: async () => (calls.push("app-image"), `registry.invalid/rails-api:${SHA}@sha256:${"a".repeat(64)}`),
  };
}

function appFiles() {
  const read = (f: string) => new Uint8Array(readFileSync(path.join(APP, f)));
  return { gemfile: read("Gemfile"), gemfileLock: read("Gemfile.lock"), dockerfileBase: read("Dockerfile.base") };
}

const devPlan = (cfg: PipelineConfig) => planPipeline({ config: cfg, files: appFiles(), ref: { branch: "da/develop", sha: SHA } });

beforeAll(() => {
  mkdirSync(BIN);
  writeFileSync(path.join(BIN, "terragrunt"), FAKE_TERRAGRUNT);
  writeFileSync(path.join(BIN, "aws"), FAKE_AWS);
  chmodSync(path.join(BIN, "terragrunt"), 0o755);
  chmodSync(path.join(BIN, "aws"), 0o755);
  seedInfraLive(BARE, path.join(TMP, "seed"), UNITS, { "dev/us-west-2/dev/apps/features/_template/README.md": "not a feature environment\n" });
});

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

beforeEach(() => {
  rmSync(TG_LOG, { force: true });
  rmSync(AWS_LOG, { force: true });
  calls = [];
  fail = "";
  sts.reset();
  sts.on(AssumeRoleCommand).resolves({ Credentials: { ...DEPLOY_KEY, Expiration: new Date(Date.now() + 3600_000) } });
});

describe("deploy (local, real git, fake terragrunt, mocked STS)", () => {
  it("lands one commit, then applies clockwork, sidekiq, rails-api with the role's credentials", async () => {
    const before = remoteHead();
    const cfg = config();
    const report = await executeDeploy(devPlan(cfg), cfg, deployEffects());

    // The commit landed.
    expect(git(BARE, "rev-parse", "main~1")).toBe(before);
    expect(git(BARE, "log", "-1", "--format=%an <%ae>|%s", "main")).toBe(`BlinkerCI <blinkerci@blinker.com>|Deploy rails-api ${SHA} to dev [ci skip]`);
    for (const u of UNITS) expect(remoteFile(`dev/us-west-2/dev/apps/${u}/terragrunt.hcl`)).toContain(`  image_version = "${SHA}"\n  replicas      = 2`);
    expect(report.infraLive).toMatchObject({ committed: true, commitSha: remoteHead() });

    // STS: the dev role, with the caller's session.
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual(["arn:aws:iam::392216643236:role/auto-deploy"]);

    // Cluster access first, then terragrunt per unit in order with the seed's args.
    const aws = readLog<{ args: string[]; key: string }>(AWS_LOG);
    expect(aws).toEqual([{ args: ["eks", "update-kubeconfig", "--name", "eks-dev", "--region", "us-west-2", "--kubeconfig", "/root/.kube/config", "--alias", "arn:aws:eks:us-west-2:392216643236:cluster/eks-dev"], key: DEPLOY_KEY.AccessKeyId }]);
    const tg = readLog<TgCall>(TG_LOG);
    const root = workspaces.at(-1)!.root;
    expect(tg.map((c) => c.args)).toEqual(UNITS.map((u) => ["apply", "--terragrunt-working-dir", `${root}/dev/us-west-2/dev/apps/${u}`, "-input=false", "-auto-approve"]));
    for (const [i, c] of tg.entries()) {
      expect(c.cwd).toBe(`${root}/dev/us-west-2/dev/apps/${UNITS[i]}`);
      // terragrunt ran on the pushed commit, with the assumed role's temporary credentials.
      expect(c.hcl).toBe(`"${SHA}"`);
      expect(c).toMatchObject({ key: DEPLOY_KEY.AccessKeyId, secret: DEPLOY_KEY.SecretAccessKey, token: DEPLOY_KEY.SessionToken, region: "us-west-2", kubeconfig: "/root/.kube/config", tfInput: "0" });
    }
    expect(calls).toEqual(["base-image", "app-image"]);
    const text = formatDeployReport(report);
    expect(text).toContain("to dev: succeeded");
    expect(text).toContain("terragrunt apply: applied clockwork, sidekiq, rails-api");
  });

  it("a failing unit stops the run; the report names the commit and applied / failed / not reached", async () => {
    fail = "sidekiq";
    const cfg = config();
    const sha = SHA.replace("89", "77");
    const plan = planPipeline({ config: cfg, files: appFiles(), ref: { branch: "da/develop", sha } });
    const error = (await executeDeploy(plan, cfg, deployEffects()).catch((e: unknown) => e)) as DeployFailedError;
    expect(error).toBeInstanceOf(DeployFailedError);
    expect(error.code).toBe("TERRAGRUNT_FAILED");
    expect(error.message).toContain("FAILED at terragrunt-apply");
    expect(error.message).toContain(`infrastructure-live: commit ${remoteHead()} on main`);
    expect(error.message).toContain("terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api");
    expect(error.message).toContain("| Error: timed out waiting for the condition on deployments/sidekiq");
    expect(readLog<TgCall>(TG_LOG).map((c) => c.cwd.split("/").at(-1))).toEqual(["clockwork", "sidekiq"]);
    expect(remoteFile("dev/us-west-2/dev/apps/rails-api/terragrunt.hcl")).toContain(`"${sha}"`);
  });

  it("a unit path missing from infrastructure-live fails before any image, push or apply", async () => {
    const before = remoteHead();
    const cfg = config({ environments: { dev: { infraLive: { units: [{ name: "clockwork", path: "dev/us-west-2/dev/apps/clockwork" }, { name: "web", path: "dev/us-west-2/dev/apps/web" }] } } } });
    const error = (await executeDeploy(devPlan(cfg), cfg, deployEffects()).catch((e: unknown) => e)) as PipelineError;
    expect(error.message).toContain("unit web: dev/us-west-2/dev/apps/web/terragrunt.hcl does not exist");
    expect(error.message).toContain("nothing was pushed or applied");
    expect(remoteHead()).toBe(before);
    expect(calls).toEqual([]);
    expect(readLog(TG_LOG)).toEqual([]);
  });

  it("a role that cannot be assumed fails before any image, push or apply", async () => {
    sts.reset();
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error("User: arn:aws:iam::004671295794:user/ci is not authorized to perform: sts:AssumeRole"), { name: "AccessDenied" }));
    const before = remoteHead();
    const cfg = config();
    const error = (await executeDeploy(devPlan(cfg), cfg, deployEffects()).catch((e: unknown) => e)) as PipelineError;
    expect(error.code).toBe("AWS_ASSUME_ROLE_FAILED");
    expect(error.message).toContain("not allowed to assume arn:aws:iam::392216643236:role/auto-deploy");
    expect(remoteHead()).toBe(before);
    expect(calls).toEqual([]);
    expect(readLog(TG_LOG)).toEqual([]);
  });
});

describe("feature environments (local)", () => {
  const FEATURES = "dev/us-west-2/dev/apps/features";
  const featurePlan = (cfg: PipelineConfig, name: string) => planPipeline({ config: cfg, files: appFiles(), ref: { branch: `feature/${name}`, sha: SHA } });

  it("feature-deploy commits six configs in one commit and applies dependencies first", async () => {
    const cfg = config();
    const before = remoteHead();
    await executeDeploy(featurePlan(cfg, "new-loan-flow"), cfg, deployEffects());
    expect(git(BARE, "rev-parse", "main~1")).toBe(before);
    expect(git(BARE, "show", "--name-only", "--format=%s", "main").split("\n").filter(Boolean)).toEqual([
      "Deploy feature env 'new-loan-flow' with tag 'feat-new-loan-flow-89abcde' [ci skip]",
      ...["api", "clockwork", "pgadmin", "postgres", "redis", "sidekiq"].map((u) => `${FEATURES}/new-loan-flow/${u}/terragrunt.hcl`),
    ]);
    expect(readLog<TgCall>(TG_LOG).map((c) => c.cwd.split("/").at(-1))).toEqual(["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"]);
  });

  it("feature-teardown destroys in reverse order, removes the configs in one commit, and a second run succeeds", async () => {
    const cfg = config();
    await executeDeploy(featurePlan(cfg, "teardown-me"), cfg, deployEffects());
    rmSync(TG_LOG, { force: true });
    const before = remoteHead();

    const first = await executeFeatureTeardown(planFeatureTeardown("teardown-me", cfg), cfg, infraEffects());
    const tg = readLog<TgCall>(TG_LOG);
    expect(tg.map((c) => c.cwd.split("/").at(-1))).toEqual(["sidekiq", "clockwork", "api", "pgadmin", "redis", "postgres"]);
    expect(tg.every((c) => c.args[0] === "destroy" && c.args.includes("-auto-approve"))).toBe(true);
    expect(git(BARE, "rev-parse", "main~1")).toBe(before);
    expect(git(BARE, "log", "-1", "--format=%s", "main")).toBe("Tear down feature env 'teardown-me' [ci skip]");
    expect(remoteFile(`${FEATURES}/teardown-me/api/terragrunt.hcl`)).toBeNull();
    expect(first.infraLive!.changes).toHaveLength(6);

    rmSync(TG_LOG, { force: true });
    const head = remoteHead();
    const second = await executeFeatureTeardown(planFeatureTeardown("teardown-me", cfg), cfg, infraEffects());
    expect(remoteHead()).toBe(head);
    expect(readLog(TG_LOG)).toEqual([]);
    expect(second.terragrunt!.units.every((u) => u.status === "already-gone")).toBe(true);
    expect(formatDeployReport(second)).toContain("tear down feature-teardown-me: succeeded");
  });

  it("feature-sweep tears down environments whose branch is gone and keeps the rest", async () => {
    const cfg = config();
    await executeDeploy(featurePlan(cfg, "keep-me"), cfg, deployEffects());
    await executeDeploy(featurePlan(cfg, "old-one"), cfg, deployEffects());
    rmSync(TG_LOG, { force: true });
    const live = `${"a".repeat(40)}\trefs/heads/da/develop\n${"b".repeat(40)}\trefs/heads/feature/keep-me\n${"c".repeat(40)}\trefs/heads/feature/new-loan-flow\n`;
    const result = await executeFeatureSweep(live, cfg, infraEffects());
    expect(result.plan.teardown).toEqual(["old-one"]);
    expect(result.plan.keep.map((k) => k.name)).toEqual(["keep-me", "new-loan-flow"]);
    expect(result.plan.ignored.map((i) => i.name)).toEqual(["_template"]);
    expect(new Set(readLog<TgCall>(TG_LOG).map((c) => c.cwd.split("/").at(-2)))).toEqual(new Set(["old-one"]));
    expect(remoteFile(`${FEATURES}/old-one/api/terragrunt.hcl`)).toBeNull();
    expect(remoteFile(`${FEATURES}/keep-me/api/terragrunt.hcl`)).not.toBeNull();
    expect(remoteFile(`${FEATURES}/_template/README.md`)).not.toBeNull();
  });
});

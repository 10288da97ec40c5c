/**
 * The Dagger graph of a deploy, recorded without an engine (test/support/dagger-recorder.ts): the
 * terragrunt containers (image, checkout mount, working directories, order, secrets), stop at the
 * first failure, and the whole deploy with the git write-back in a container, STS mocked with
 * aws-sdk-client-mock and the image steps stubbed (they have their own graph tests).
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { dag, type Secret } from "@dagger.io/dagger";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  daggerInfraEffects,
  DeployFailedError,
  executeDeploy,
  runDeploy,
  type DeployEffects,
  type DeployFlags,
} from "../../modules/pipeline/src/deploy.js";
import { runPlan } from "../../modules/pipeline/src/plan.js";
import { DaggerWorkspace, GIT_KNOWN_HOSTS_PATH, GIT_SSH_KEY_PATH } from "../../modules/pipeline/src/infra-dagger.js";
import { GITHUB_KNOWN_HOSTS } from "../../modules/pipeline/src/lib/known-hosts.js";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { DEFAULT_CONFIG, parseConfig, type PipelineConfig } from "../../modules/pipeline/src/lib/config.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { planPipeline } from "../../modules/pipeline/src/lib/pipeline-plan.js";
import { planClusterAccess, planTerragruntRuns } from "../../modules/pipeline/src/lib/terragrunt-runs.js";
import { credentialSecrets, DaggerTerragrunt, runTerragrunt } from "../../modules/pipeline/src/terragrunt.js";
import { installRecorder, type Recorder } from "../support/dagger-recorder.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const COMMIT = "c0ffee".padEnd(40, "0");
const KEY_ID = "ASIAQEXAMPLEKEY12345";
const SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
const PLAINTEXTS = [KEY_ID, SECRET_KEY, SESSION_TOKEN];
const UNITS = ["clockwork", "sidekiq", "rails-api"];
const dir = (unit: string) => `dev/us-west-2/dev/apps/${unit}`;

/** The args of the last withExec in an (expanded) query, or null. */
function lastExec(text: string): string[] | null {
  const all = [...text.matchAll(/withExec \(args: (\[(?:"(?:[^"\\]|\\.)*",?)*\])/g)];
  return all.length ? (JSON.parse(all.at(-1)![1]!) as string[]) : null;
}

/** Every withExec of a set of queries, in the order they were sent (each counted once). */
function execsInOrder(rec: Recorder): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const q of rec.queries) {
    const args = q.includes("{ sync }") ? lastExec(q) : null;
    if (!args) continue;
    const key = JSON.stringify(args);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(args);
  }
  return out;
}

interface Answers {
  /** Exit code of a command (default 0). */
  exit?: (args: string[]) => number;
  /** terragrunt.hcl text in the git container. */
  hcl?: string | null;
}

async function recorder(answers: Answers = {}): Promise<Recorder> {
  let rec: Recorder;
  rec = await installRecorder((field, query) => {
    const args = lastExec(rec.expand(query));
    if (field === "exitCode") {
      if (args?.[0] === "git" && args.includes("diff")) return 1; // something is staged
      return answers.exit?.(args ?? []) ?? 0;
    }
    if (field === "stdout" && args?.[0] === "git" && args.includes("rev-parse")) return `${COMMIT}\n`;
    if (field === "exists") return query.includes("terragrunt.hcl") ? answers.hcl !== null : true;
    if (field === "contents") return answers.hcl ?? 'inputs = {\n  image_version = "old"\n}\n';
    return undefined;
  });
  return rec!;
}

const sts = mockClient(STSClient);
beforeEach(() => {
  sts.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: KEY_ID, SecretAccessKey: SECRET_KEY, SessionToken: SESSION_TOKEN, Expiration: new Date(Date.now() + 3600_000) },
  });
});
afterEach(() => sts.reset());

function terragruntFor(config: PipelineConfig, checkout = dag.directory()) {
  const access = planClusterAccess(config.environments.dev.eksClusterArn);
  const executor = new DaggerTerragrunt({
    image: config.terragrunt.image,
    checkout,
    secrets: credentialSecrets({ accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN }, "run1"),
    region: "us-west-2",
    access,
    runId: "run1",
  });
  const runs = planTerragruntRuns({
    action: "apply",
    steps: config.environments.dev.infraLive.units.map((u) => ({ unit: u.name, dir: u.path })),
    terragrunt: config.terragrunt,
    root: executor.root,
  });
  return { executor, runs, access };
}

/** No plaintext credential outside its setSecret query. */
function expectSecretsOnlyInSetSecret(rec: Recorder): void {
  for (const q of rec.queries) {
    for (const p of PLAINTEXTS) {
      if (q.includes(p)) expect(q, "plaintext outside setSecret").toMatch(/^\{ setSecret \(name: "[^"]+",plaintext: "[^"]+"\) \{ id \} \}$/);
    }
  }
}

describe("terragrunt containers", () => {
  it("run clockwork -> sidekiq -> rails-api in the configured image with each unit folder as workdir", async () => {
    const rec = await recorder();
    const config = parseConfig({ terragrunt: { image: "registry.local/terragrunt-aws:0.67" } });
    const { executor, runs, access } = terragruntFor(config);
    const report = await runTerragrunt(executor, { action: "apply", runs, access });
    expect(report.ok).toBe(true);

    const execs = execsInOrder(rec);
    expect(execs.map((a) => a.slice(0, 3).join(" "))).toEqual(["aws eks update-kubeconfig", "terragrunt apply --terragrunt-working-dir", "terragrunt apply --terragrunt-working-dir", "terragrunt apply --terragrunt-working-dir"]);
    expect(execs.slice(1).map((a) => a[3])).toEqual(UNITS.map((u) => `/infra-live/${dir(u)}`));

    const all = rec.expanded().join("\n");
    expect(all).toContain('from (address: "registry.local/terragrunt-aws:0.67")');
    expect(all).not.toContain('from (address: "alpine/terragrunt');
    expect(all).toContain('withMountedCache (path: "/root/.terraform.d/plugin-cache"');
    // Unit folders are looked up in the checkout itself.
    expect(all).toContain('exists (path: "dev/us-west-2/dev/apps/sidekiq",expectedType: DIRECTORY_TYPE)');
    expect(all).toContain('withMountedDirectory (path: "/infra-live",source: "<<{ directory { id } }>>")');
    for (const u of UNITS) {
      expect(all).toContain(
        `withWorkdir (path: "/infra-live/${dir(u)}") { withExec (args: ["terragrunt","apply","--terragrunt-working-dir","/infra-live/${dir(u)}","-input=false","-auto-approve"],expect: ANY)`,
      );
    }
  });

  it("credentials travel as secrets: withSecretVariable only, never env, args or labels", async () => {
    const rec = await recorder();
    const { executor, runs, access } = terragruntFor(DEFAULT_CONFIG);
    await runTerragrunt(executor, { action: "apply", runs, access });
    const all = rec.expanded().join("\n");
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
      expect(all).toMatch(new RegExp(`withSecretVariable \\(name: "${name}",secret: "<<\\{ setSecret \\(name: "deploy-[a-z-]+-run1",plaintext: "[^"]+"\\) \\{ id \\} \\}>>"\\)`));
      expect(all).not.toContain(`withEnvVariable (name: "${name}"`);
    }
    expect(all).not.toContain("withLabel");
    expectSecretsOnlyInSetSecret(rec);
  });

  it("stops at the first failure: sidekiq exits 1, rails-api never runs", async () => {
    const rec = await recorder({ exit: (args) => (args[0] === "terragrunt" && args[3]?.endsWith("/sidekiq") ? 1 : 0) });
    const { executor, runs, access } = terragruntFor(DEFAULT_CONFIG);
    const report = await runTerragrunt(executor, { action: "apply", runs, access });
    expect(report.ok).toBe(false);
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([
      ["clockwork", "applied"],
      ["sidekiq", "failed"],
      ["rails-api", "not-reached"],
    ]);
    const all = rec.queries.join("\n");
    expect(all).toContain(`/infra-live/${dir("sidekiq")}`);
    expect(all).not.toContain(`"terragrunt","apply","--terragrunt-working-dir","/infra-live/${dir("rails-api")}"`);
  });

  it("every unit is one withExec with expect: ANY (a failure is read, not thrown)", async () => {
    const rec = await recorder();
    const { executor, runs, access } = terragruntFor(DEFAULT_CONFIG);
    await runTerragrunt(executor, { action: "apply", runs, access });
    const execQueries = rec.queries.filter((q) => q.includes('withExec (args: ["terragrunt"'));
    expect(execQueries).toHaveLength(3);
    for (const q of execQueries) expect(q).toContain("expect: ANY");
  });
});

describe("git workspace container", () => {
  it("mounts the SSH key as a secret file and names it in GIT_SSH_COMMAND", async () => {
    const rec = await recorder();
    const key = dag.setSecret("ssh-key", "-----BEGIN OPENSSH PRIVATE KEY-----x");
    const ws = new DaggerWorkspace({ image: "local/git:1", sshKey: key as Secret, knownHosts: GITHUB_KNOWN_HOSTS, runId: "r1" });
    await ws.run(["git", "status"], { env: { GIT_SSH_COMMAND: `ssh -i ${GIT_SSH_KEY_PATH}` } });
    const all = rec.expanded().join("\n");
    expect(all).toContain('from (address: "local/git:1")');
    expect(all).toContain(`withMountedSecret (path: "${GIT_SSH_KEY_PATH}",source: "<<{ setSecret (name: "ssh-key"`);
    expect(all).toContain("mode: 384");
    // The host keys SSH checks against sit next to the key (StrictHostKeyChecking=yes).
    expect(all).toContain(`withNewFile (path: "${GIT_KNOWN_HOSTS_PATH}",contents: ${JSON.stringify(GITHUB_KNOWN_HOSTS)}`);
    expect(all).toContain(`withEnvVariable (name: "GIT_SSH_COMMAND",value: "ssh -i ${GIT_SSH_KEY_PATH}")`);
    expect(all).toContain('withEnvVariable (name: "PIPELINE_RUN_ID",value: "r1")');
    // The per-command variable does not leak into the next command.
    expect(all).toContain('withoutEnvVariable (name: "GIT_SSH_COMMAND")');
  });
});

describe("executeDeploy through Dagger (recorded)", () => {
  const credentials: RunCredentials = { aws: {} };

  function effects(config: PipelineConfig, calls: string[]): DeployEffects<DaggerWorkspace> {
    const infra = daggerInfraEffects(config, credentials, { runId: "run1", log: () => {} });
    return {
      ...infra,
      aws: async (region) => ({
        sts: () => new STSClient({ region, credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE12", secretAccessKey: "x".repeat(40) } }),
        credentials: async () => ({ accessKeyId: "unused", secretAccessKey: "unused" }),
        description: "keys from a test",
      }),
      checkEnv: async () => (calls.push("check-env"), "ok   config/dev.env"),
      baseImage: async () => (calls.push("base-image"), "cache hit base"),
      appImage: async () => (calls.push("app-image"), `app@sha256:${"1".repeat(64)}`),
      writeBack: { sleep: async () => {} },
    };
  }

  const plan = (config: PipelineConfig) =>
    planPipeline({ config, ref: { branch: "da/develop", sha: SHA }, files: { gemfile: new Uint8Array(), gemfileLock: new Uint8Array(), dockerfileBase: new Uint8Array() } });

  it("assumes the environment's role, pushes the write-back, then applies the units in order with the role's credentials", async () => {
    const rec = await recorder();
    const calls: string[] = [];
    const config = parseConfig({ infraLive: { repoUrl: "https://git.example/infra-live.git" } });
    const report = await executeDeploy(plan(config), config, effects(config, calls));
    expect(calls).toEqual(["check-env", "base-image", "app-image"]);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toMatchObject({ RoleArn: "arn:aws:iam::392216643236:role/auto-deploy", RoleSessionName: "pipeline-dev" });
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([
      ["check-env", "done"],
      ["lint", "skipped"],
      ["test", "skipped"],
      ["base-image", "done"],
      ["app-image", "done"],
      ["infra-live-write-back", "done"],
      ["assume-role", "done"],
      ["terragrunt-apply", "done"],
    ]);
    expect(report.steps.map((s) => s.name)).toEqual(plan(config).steps);
    expect(report.infraLive).toMatchObject({ committed: true, commitSha: COMMIT });

    const execs = execsInOrder(rec).map((a) => a.join(" "));
    const push = execs.findIndex((e) => e.startsWith("git push"));
    const firstApply = execs.findIndex((e) => e.startsWith("terragrunt apply"));
    expect(push).toBeGreaterThan(0);
    expect(firstApply).toBeGreaterThan(push);
    expect(execs.filter((e) => e.startsWith("terragrunt apply")).map((e) => e.split(" ")[3])).toEqual(UNITS.map((u) => `/infra-live/${dir(u)}`));
    // The terragrunt container mounts the checkout of the write-back's git container.
    const mount = rec.expanded().find((q) => q.includes('withMountedDirectory (path: "/infra-live"'))!;
    expect(mount).toContain('from (address: "alpine/git');
    expect(mount).toContain('"git","push","--porcelain","origin","HEAD:refs/heads/main"');
    expectSecretsOnlyInSetSecret(rec);
  });

  it("a unit folder missing from infrastructure-live fails before any image, push or apply", async () => {
    const rec = await recorder({ hcl: null });
    const calls: string[] = [];
    const error = await executeDeploy(plan(DEFAULT_CONFIG), DEFAULT_CONFIG, effects(DEFAULT_CONFIG, calls)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployFailedError);
    expect((error as PipelineError).message).toContain(`unit clockwork: ${dir("clockwork")}/terragrunt.hcl does not exist`);
    expect((error as PipelineError).message).toContain("nothing was pushed or applied");
    expect(calls).toEqual(["check-env"]);
    const execs = execsInOrder(rec).map((a) => a.join(" "));
    expect(execs.some((e) => e.startsWith("git push"))).toBe(false);
    expect(execs.some((e) => e.startsWith("terragrunt"))).toBe(false);
  });

  it("a terragrunt.hcl that does not parse fails before any image, push or apply", async () => {
    const rec = await recorder({ hcl: 'inputs = {\n  image_version = "old\n' });
    const calls: string[] = [];
    const error = await executeDeploy(plan(DEFAULT_CONFIG), DEFAULT_CONFIG, effects(DEFAULT_CONFIG, calls)).catch((e: unknown) => e);
    expect((error as PipelineError).code).toBe("HCL_INVALID");
    expect(calls).toEqual(["check-env"]);
    expect(execsInOrder(rec).some((a) => a[1] === "push")).toBe(false);
  });

  it("a role that cannot be assumed fails before any image, push or apply", async () => {
    const rec = await recorder();
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error("User is not authorized to perform: sts:AssumeRole"), { name: "AccessDenied" }));
    const calls: string[] = [];
    const error = await executeDeploy(plan(DEFAULT_CONFIG), DEFAULT_CONFIG, effects(DEFAULT_CONFIG, calls)).catch((e: unknown) => e);
    expect((error as PipelineError).code).toBe("AWS_ASSUME_ROLE_FAILED");
    expect((error as PipelineError).message).toContain("FAILED at assume-role");
    expect((error as PipelineError).message).toContain("infrastructure-live: nothing pushed");
    expect(calls).toEqual(["check-env"]);
    expect(execsInOrder(rec)).toEqual([]);
  });

  it("a failing unit midway: the error is the report of exactly what changed", async () => {
    await recorder({ exit: (args) => (args[0] === "terragrunt" && args[3]?.endsWith("/sidekiq") ? 1 : 0) });
    const error = (await executeDeploy(plan(DEFAULT_CONFIG), DEFAULT_CONFIG, effects(DEFAULT_CONFIG, [])).catch((e: unknown) => e)) as DeployFailedError;
    expect(error.code).toBe("TERRAGRUNT_FAILED");
    expect(error.message).toContain("FAILED at terragrunt-apply");
    expect(error.message).toContain(`infrastructure-live: commit ${COMMIT} on main`);
    expect(error.message).toContain("terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api");
    expect(error.report.terragrunt!.units.map((u) => u.status)).toEqual(["applied", "failed", "not-reached"]);
  });
});

describe("cluster access failure", () => {
  it("an image without the AWS CLI: no unit runs and the hint names the way out", async () => {
    const rec = await recorder({ exit: (args) => (args[0] === "aws" ? 127 : 0) });
    const credentials: RunCredentials = { aws: {} };
    const effects: DeployEffects<DaggerWorkspace> = {
      ...daggerInfraEffects(DEFAULT_CONFIG, credentials, { runId: "run1", log: () => {} }),
      aws: async (region) => ({
        sts: () => new STSClient({ region, credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE12", secretAccessKey: "x".repeat(40) } }),
        credentials: async () => ({ accessKeyId: "unused", secretAccessKey: "unused" }),
        description: "keys from a test",
      }),
      checkEnv: async () => "ok",
      baseImage: async () => "hit",
      appImage: async () => "app",
    };
    const plan = planPipeline({ config: DEFAULT_CONFIG, ref: { branch: "da/develop", sha: SHA }, files: { gemfile: new Uint8Array(), gemfileLock: new Uint8Array(), dockerfileBase: new Uint8Array() } });
    const error = (await executeDeploy(plan, DEFAULT_CONFIG, effects).catch((e: unknown) => e)) as DeployFailedError;
    expect(error.message).toContain("cluster access failed (exit 127)");
    expect(error.hint).toContain("--cluster-access none");
    expect(execsInOrder(rec).some((a) => a[0] === "terragrunt")).toBe(false);
  });
});

describe("runDeploy: dry run and bad input", () => {
  /** A source directory without pipeline.json whose other files read as one line. */
  async function sourceRecorder(): Promise<Recorder> {
    return installRecorder((field, query) => {
      if (field === "exists") return !/pipeline\.(json|ya?ml)/.test(query);
      if (field === "contents") return query.includes('.env"') ? "RAILS_ENV=production\n" : "source line\n";
      return undefined;
    });
  }
  const flags = (f: Partial<DeployFlags>): DeployFlags => ({
    env: "",
    branch: "",
    tag: "",
    sha: SHA,
    dryRun: false,
    format: "text",
    gitImage: "alpine/git:2.47.2",
    clusterAccess: "update-kubeconfig",
    ...f,
  });

  it.each([
    { name: "dev by branch, text", f: { branch: "da/develop" } },
    { name: "prod by tag, json", f: { env: "prod", tag: "release-v1.2.3", format: "json" } },
    { name: "feature branch", f: { branch: "feature/new-loan-flow" } },
  ])("--dry-run is exactly plan's output and runs nothing ($name)", async ({ f }) => {
    const rec = await sourceRecorder();
    const dry = await runDeploy(dag.directory(), flags({ ...f, dryRun: true }), { aws: {} });
    const planned = await runPlan(dag.directory(), { branch: "", tag: "", env: "", format: "text", sha: SHA, ...f });
    expect(dry).toBe(planned);
    expect(dry).toContain("terragrunt");
    expect(rec.queries.some((q) => q.includes("withExec") || q.includes("setSecret"))).toBe(false);
  });

  it.each([
    { name: "unknown environment", f: { env: "qa", branch: "da/develop" }, code: "ENVIRONMENT_UNKNOWN", fragment: '--env "qa" is not a configured environment' },
    { name: "feature name", f: { branch: "feature/new_loan.flow" }, code: "FEATURE_NAME_INVALID", fragment: "may contain only letters, digits and dashes" },
    { name: "prod without a release tag", f: { env: "prod", branch: "da/develop" }, code: "REF_INVALID", fragment: "--env prod needs a release tag" },
    { name: "cluster access mode", f: { branch: "da/develop", clusterAccess: "kubergrunt" }, code: "ARGUMENT_INVALID", fragment: "--cluster-access" },
    { name: "a branch that deploys nowhere", f: { branch: "chore/x" }, code: "REF_INVALID", fragment: "nothing to deploy" },
  ])("$name fails before anything runs", async ({ f, code, fragment }) => {
    const rec = await sourceRecorder();
    const error = (await runDeploy(dag.directory(), flags(f), { aws: {} }).catch((e: unknown) => e)) as PipelineError;
    expect(error.code).toBe(code);
    expect(error.message).toContain(fragment);
    expect(rec.queries.some((q) => q.includes("withExec") || q.includes("setSecret"))).toBe(false);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it("feature-deploy refuses a branch that is not a feature branch", async () => {
    await sourceRecorder();
    const error = (await runDeploy(dag.directory(), flags({ branch: "da/develop" }), { aws: {} }, { requireFeature: true }).catch((e: unknown) => e)) as PipelineError;
    expect(error.message).toContain('--branch "da/develop" is not a feature branch');
  });
});

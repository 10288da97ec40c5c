/**
 * Feature environments through Dagger, recorded without an engine: feature-deploy commits the six
 * generated configs in one commit and applies dependencies first; feature-teardown destroys in
 * reverse order, skips units already gone and removes the configs in one commit only after every
 * destroy succeeded; feature-sweep tears down the environments whose branch is gone. Also the
 * `dagger call` surface of the four functions, read by the SDK's introspector.
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { daggerInfraEffects, DeployFailedError, executeDeploy, type DeployEffects, type InfraEffects } from "../../modules/pipeline/src/deploy.js";
import { executeFeatureSweep, executeFeatureTeardown, formatFeatureSweepResult } from "../../modules/pipeline/src/feature.js";
import type { DaggerWorkspace } from "../../modules/pipeline/src/infra-dagger.js";
import { DEFAULT_CONFIG } from "../../modules/pipeline/src/lib/config.js";
import { planFeatureTeardown } from "../../modules/pipeline/src/lib/infra-live-changes.js";
import { planPipeline } from "../../modules/pipeline/src/lib/pipeline-plan.js";
import { installRecorder, type Recorder } from "../support/dagger-recorder.js";
import { introspectModule, type IntrospectedModule } from "../support/introspect.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const COMMIT = "feed".padEnd(40, "0");
const ROOT = "dev/us-west-2/dev/apps/features";
const APPLY_ORDER = ["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"];

function lastExec(text: string): string[] | null {
  const all = [...text.matchAll(/withExec \(args: (\[(?:"(?:[^"\\]|\\.)*",?)*\])/g)];
  return all.length ? (JSON.parse(all.at(-1)![1]!) as string[]) : null;
}

/** Every withExec in the order sent (a command sent again on a new state counts again). */
function execs(rec: Recorder): string[][] {
  return rec.queries.filter((q) => q.includes("{ sync }")).map(lastExec).filter((a): a is string[] => a !== null);
}

interface Answers {
  /** Unit folders (relative) that exist in the checkout; default all. */
  present?: (dir: string) => boolean;
  exit?: (args: string[]) => number;
  /** Tracked files under a feature root (git ls-files). */
  tracked?: (root: string) => string[];
  /** Folders under the units root (git ls-tree). */
  folders?: string[];
}

async function recorder(a: Answers = {}): Promise<Recorder> {
  let rec: Recorder;
  rec = await installRecorder((field, query) => {
    const args = lastExec(rec.expand(query)) ?? [];
    if (field === "exitCode") {
      if (args[0] === "git" && args.includes("diff")) return 1;
      return a.exit?.(args) ?? 0;
    }
    if (field === "stdout" && args[0] === "git") {
      if (args.includes("rev-parse")) return `${COMMIT}\n`;
      if (args.includes("ls-files")) return (a.tracked?.(args.at(-1)!) ?? []).map((f) => `${f}\0`).join("");
      if (args.includes("ls-tree")) return (a.folders ?? []).map((f) => `${ROOT}/${f}\n`).join("");
    }
    if (field === "exists") {
      if (query.includes("REGULAR_TYPE")) return false; // generated files do not exist yet
      const m = /exists \(path: "([^"]+)",expectedType: DIRECTORY_TYPE/.exec(query);
      return m ? (a.present?.(m[1]!) ?? true) : true;
    }
    return undefined;
  });
  return rec!;
}

const sts = mockClient(STSClient);
beforeEach(() => {
  sts.reset();
  sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: "ASIAQEXAMPLEKEY12345", SecretAccessKey: "s".repeat(40), SessionToken: "tok", Expiration: new Date(Date.now() + 3600_000) } });
});

function infraEffects(): InfraEffects<DaggerWorkspace> {
  const credentials: RunCredentials = { aws: {} };
  return {
    ...daggerInfraEffects(DEFAULT_CONFIG, credentials, { runId: "run1", log: () => {} }),
    aws: async (region) => ({
      sts: () => new STSClient({ region, credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE12", secretAccessKey: "x".repeat(40) } }),
      credentials: async () => ({ accessKeyId: "unused", secretAccessKey: "unused" }),
      description: "keys from a test",
    }),
    writeBack: { sleep: async () => {} },
  };
}

const terragrunt = (rec: Recorder, action: string) =>
  execs(rec)
    .filter((a) => a[0] === "terragrunt" && a[1] === action)
    .map((a) => a[3]!.split("/").at(-1)!);

describe("feature-deploy (recorded)", () => {
  it("commits the six generated configs in one commit, then applies dependencies first", async () => {
    const rec = await recorder();
    const plan = planPipeline({
      config: DEFAULT_CONFIG,
      ref: { branch: "feature/new-loan-flow", sha: SHA },
      files: { gemfile: new Uint8Array(), gemfileLock: new Uint8Array(), dockerfileBase: new Uint8Array() },
    });
    const effects: DeployEffects<DaggerWorkspace> = { ...infraEffects(), checkEnv: async () => "ok", baseImage: async () => "hit", appImage: async () => "app@sha256:1" };
    const report = await executeDeploy(plan, DEFAULT_CONFIG, effects);
    expect(report.title).toContain(":feat-new-loan-flow-0123456 to feature-new-loan-flow");
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input.RoleArn).toBe("arn:aws:iam::392216643236:role/auto-deploy");

    const all = rec.expanded().join("\n");
    for (const unit of APPLY_ORDER) expect(all).toContain(`withNewFile (path: "/infra-live/${ROOT}/new-loan-flow/${unit}/terragrunt.hcl"`);
    const commits = execs(rec).filter((a) => a[0] === "git" && a[1] === "commit");
    expect(commits).toEqual([["git", "commit", "--quiet", "--no-verify", "-m", "Deploy feature env 'new-loan-flow' with tag 'feat-new-loan-flow-0123456' [ci skip]"]]);
    expect(terragrunt(rec, "apply")).toEqual(APPLY_ORDER);
    expect(report.infraLive!.changes).toHaveLength(6);
  });
});

describe("feature-teardown (recorded)", () => {
  const files = APPLY_ORDER.map((u) => `${ROOT}/new-loan-flow/${u}/terragrunt.hcl`);

  it("destroys in reverse order with destroyArgs, then removes the configs in one commit", async () => {
    const rec = await recorder({ tracked: () => files });
    const report = await executeFeatureTeardown(planFeatureTeardown("new-loan-flow", DEFAULT_CONFIG), DEFAULT_CONFIG, infraEffects());
    expect(terragrunt(rec, "destroy")).toEqual([...APPLY_ORDER].reverse());
    const seq = execs(rec).map((a) => a.slice(0, 2).join(" "));
    const lastDestroy = seq.lastIndexOf("terragrunt destroy");
    const rm = seq.findIndex((s) => s.startsWith("rm -rf"));
    expect(rm).toBeGreaterThan(lastDestroy);
    expect(execs(rec).filter((a) => a[0] === "rm")).toEqual([["rm", "-rf", "--", `/infra-live/${ROOT}/new-loan-flow`]]);
    expect(seq.filter((s) => s === "git commit")).toHaveLength(1);
    expect(report.infraLive).toMatchObject({ committed: true, commitSha: COMMIT });
    expect(report.steps.map((s) => s.status)).toEqual(["done", "done", "done"]);
  });

  it("skips units whose folder is already gone", async () => {
    const rec = await recorder({ present: (d) => !d.endsWith("/pgadmin") && !d.endsWith("/api"), tracked: () => files });
    const report = await executeFeatureTeardown(planFeatureTeardown("new-loan-flow", DEFAULT_CONFIG), DEFAULT_CONFIG, infraEffects());
    expect(terragrunt(rec, "destroy")).toEqual(["sidekiq", "clockwork", "redis", "postgres"]);
    expect(report.terragrunt!.units.filter((u) => u.status === "already-gone").map((u) => u.unit)).toEqual(["api", "pgadmin"]);
    expect(report.terragrunt!.ok).toBe(true);
  });

  it("a second run finds nothing: no destroy, no cluster access, no commit, and succeeds", async () => {
    const rec = await recorder({ present: () => false, tracked: () => [] });
    const report = await executeFeatureTeardown(planFeatureTeardown("new-loan-flow", DEFAULT_CONFIG), DEFAULT_CONFIG, infraEffects());
    expect(execs(rec).filter((a) => a[0] === "terragrunt" || a[0] === "aws")).toEqual([]);
    expect(execs(rec).filter((a) => a[1] === "commit" || a[1] === "push")).toEqual([]);
    expect(report.infraLive).toMatchObject({ committed: false });
    expect(report.terragrunt!.units.every((u) => u.status === "already-gone")).toBe(true);
  });

  it("a failed destroy keeps the configs: nothing is removed or pushed", async () => {
    const rec = await recorder({ exit: (a) => (a[0] === "terragrunt" && a[3]!.endsWith("/api") ? 1 : 0), tracked: () => files });
    const error = (await executeFeatureTeardown(planFeatureTeardown("new-loan-flow", DEFAULT_CONFIG), DEFAULT_CONFIG, infraEffects()).catch((e: unknown) => e)) as DeployFailedError;
    expect(error).toBeInstanceOf(DeployFailedError);
    expect(error.message).toContain("terragrunt destroy: destroyed sidekiq, clockwork; failed api (exit 1); not reached pgadmin, redis, postgres");
    expect(error.message).toContain("infrastructure-live: nothing pushed");
    expect(execs(rec).filter((a) => a[0] === "rm" || a[1] === "push")).toEqual([]);
  });

  it("rejects a bad feature name before anything runs", () => {
    expect(() => planFeatureTeardown("new/loan", DEFAULT_CONFIG)).toThrow('--name "new/loan" may contain only letters, digits and dashes');
  });
});

describe("feature-sweep (recorded)", () => {
  it("tears down the environments whose branch is gone and says what it kept", async () => {
    const rec = await recorder({ folders: ["gone-one", "still-here", "gone-two"], tracked: (root) => [`${root}/api/terragrunt.hcl`] });
    const result = await executeFeatureSweep("da/develop\nfeature/still-here\n", DEFAULT_CONFIG, infraEffects());
    expect(result.plan.teardown).toEqual(["gone-one", "gone-two"]);
    expect(result.failed).toEqual([]);
    const destroyed = execs(rec)
      .filter((a) => a[0] === "terragrunt")
      .map((a) => a[3]!.split("/").slice(-2).join("/"));
    expect(destroyed).toEqual([...[...APPLY_ORDER].reverse().map((u) => `gone-one/${u}`), ...[...APPLY_ORDER].reverse().map((u) => `gone-two/${u}`)]);
    expect(destroyed.some((d) => d.startsWith("still-here"))).toBe(false);
    const text = formatFeatureSweepResult(result);
    expect(text).toContain("keep:      still-here (feature/still-here is live)");
    expect(text).toContain("tear down feature-gone-one: succeeded");
  });
});

describe("dagger call surface", () => {
  let mod: IntrospectedModule;
  beforeAll(async () => {
    mod = await introspectModule();
  }, 120_000);
  const fn = (name: string) => mod.objects.Pipeline!.methods[name]!;

  it("deploy takes --env --branch --tag --sha --dry-run --format --git-image --cluster-access --allow-dirty --checkout with documented defaults", () => {
    const args = fn("deploy").arguments;
    expect(Object.keys(args)).toEqual(["source", "env", "branch", "tag", "sha", "dryRun", "format", "gitImage", "clusterAccess", "allowDirty", "checkout"]);
    expect(args.allowDirty!.defaultValue).toBe(false);
    expect(args.dryRun!.defaultValue).toBe(false);
    expect(args.gitImage!.defaultValue).toBe("alpine/git:2.47.2");
    // Enums: the introspector records the value; Register sends the member name (update_kubeconfig).
    expect(args.clusterAccess).toMatchObject({ defaultValue: "update-kubeconfig", type: { kind: "ENUM_KIND", name: "ClusterAccess" } });
    expect(args.env).toMatchObject({ isOptional: true, type: { kind: "ENUM_KIND", name: "Environment" } });
    for (const a of Object.values(args)) expect(a.description.length, a.name).toBeGreaterThan(20);
    expect(fn("deploy").description).toContain("Example: dagger call");
  });

  it.each([
    ["featureDeploy", ["source", "branch", "sha", "dryRun", "gitImage", "clusterAccess", "allowDirty", "checkout"]],
    ["featureTeardown", ["source", "name", "branch", "gitImage", "clusterAccess"]],
    ["featureSweep", ["source", "liveBranches", "gitImage", "clusterAccess"]],
  ])("%s flags", (name, want) => {
    expect(Object.keys(fn(name).arguments)).toEqual(want);
    expect(fn(name).description).toContain(`Example: dagger call`);
    expect(fn(name).returnType.kind).toBe("STRING_KIND");
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { planFeatureTeardown, planInfraChange } from "../../modules/pipeline/src/lib/infra-live-changes.js";
import { parseGitRef, resolveRef } from "../../modules/pipeline/src/lib/refs.js";
import {
  formatDeployReport,
  formatTerragruntReport,
  formatTerragruntSummary,
  markStep,
  parseClusterAccessMode,
  parseEksClusterArn,
  planClusterAccess,
  planTerragruntArgs,
  planTerragruntRuns,
  startDeployReport,
  summarizeTerragrunt,
  tailOutput,
  terragruntEnv,
  unitOutcome,
  unitWorkdir,
  type TerragruntRun,
} from "../../modules/pipeline/src/lib/terragrunt-runs.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

function devPlan() {
  const r = resolveRef(parseGitRef({ branch: "da/develop", sha: SHA }), DEFAULT_CONFIG);
  if (!r.deploy) throw new Error("no deploy");
  const plan = planInfraChange(r.target, DEFAULT_CONFIG);
  if (plan.kind !== "environment") throw new Error("not an environment plan");
  return plan;
}

describe("planTerragruntArgs", () => {
  it.each([
    {
      name: "seed apply (terragrunt < 0.73 flags)",
      template: DEFAULT_CONFIG.terragrunt.applyArgs,
      want: ["apply", "--terragrunt-working-dir", "/infra-live/dev/apps/x", "-input=false", "-auto-approve"],
    },
    {
      name: "newer terragrunt: --working-dir=",
      template: ["run", "--working-dir={dir}", "--non-interactive", "--", "apply", "-auto-approve"],
      want: ["run", "--working-dir=/infra-live/dev/apps/x", "--non-interactive", "--", "apply", "-auto-approve"],
    },
    { name: "{dir} twice in one word", template: ["apply", "{dir}:{dir}"], want: ["apply", "/infra-live/dev/apps/x:/infra-live/dev/apps/x"] },
    { name: "no {dir}: the working directory is the unit folder anyway", template: ["apply", "-auto-approve"], want: ["apply", "-auto-approve"] },
  ])("$name", ({ template, want }) => {
    expect(planTerragruntArgs(template, "/infra-live/dev/apps/x")).toEqual(want);
  });

  it.each([
    { name: "unknown placeholder", template: ["apply", "--terragrunt-working-dir", "{path}"], fragment: "terragrunt.applyArgs[2] \"{path}\" uses the unknown placeholder {path}" },
    { name: "empty template", template: [], fragment: "terragrunt.applyArgs is empty" },
  ])("rejects $name", ({ template, fragment }) => {
    expect(() => planTerragruntArgs(template, "/x")).toThrow(fragment);
  });
});

describe("planTerragruntRuns", () => {
  it("dev: clockwork, sidekiq, rails-api with the checkout path in {dir} and as workdir", () => {
    const runs = planTerragruntRuns({ action: "apply", steps: devPlan().applyOrder, terragrunt: DEFAULT_CONFIG.terragrunt, root: "/infra-live" });
    expect(runs).toEqual(
      ["clockwork", "sidekiq", "rails-api"].map((unit) => ({
        unit,
        dir: `dev/us-west-2/dev/apps/${unit}`,
        workdir: `/infra-live/dev/us-west-2/dev/apps/${unit}`,
        args: ["terragrunt", "apply", "--terragrunt-working-dir", `/infra-live/dev/us-west-2/dev/apps/${unit}`, "-input=false", "-auto-approve"],
      })),
    );
  });

  it("destroy uses destroyArgs and the (reversed) destroy order", () => {
    const config = parseConfig({ terragrunt: { destroyArgs: ["destroy", "--working-dir", "{dir}", "-auto-approve"] } });
    const runs = planTerragruntRuns({ action: "destroy", steps: planFeatureTeardown("new-loan-flow", config).destroyOrder, terragrunt: config.terragrunt, root: "/tmp/co/" });
    expect(runs.map((r) => r.unit)).toEqual(["sidekiq", "clockwork", "api", "pgadmin", "redis", "postgres"]);
    expect(runs[0]!.args).toEqual(["terragrunt", "destroy", "--working-dir", "/tmp/co/dev/us-west-2/dev/apps/features/new-loan-flow/sidekiq", "-auto-approve"]);
  });

  it.each([
    { name: "absolute", dir: "/etc" },
    { name: "parent", dir: "dev/../../etc" },
    { name: "empty", dir: "" },
  ])("refuses a $name unit folder", ({ dir }) => {
    expect(() => unitWorkdir("/infra-live", dir)).toThrow("is not a relative path inside infrastructure-live");
  });
});

describe("cluster access", () => {
  it("parses the cluster ARN", () => {
    expect(parseEksClusterArn("arn:aws:eks:us-west-2:392216643236:cluster/eks-dev")).toEqual({
      arn: "arn:aws:eks:us-west-2:392216643236:cluster/eks-dev",
      partition: "aws",
      region: "us-west-2",
      accountId: "392216643236",
      name: "eks-dev",
    });
  });

  it.each(["arn:aws:eks:us-west-2:392216643236:nodegroup/x", "eks-dev", "arn:aws:eks:us-west-2:39221664:cluster/eks-dev"])("rejects %s", (arn) => {
    expect(() => parseEksClusterArn(arn, "environments.dev.eksClusterArn")).toThrow(`environments.dev.eksClusterArn ${JSON.stringify(arn)} is not an EKS cluster ARN`);
  });

  it("update-kubeconfig: the seed's kubergrunt eks configure as an aws eks command and KUBECONFIG", () => {
    const access = planClusterAccess("arn:aws:eks:eu-central-1:872406820375:cluster/eks-prod");
    expect(access.commands).toEqual([
      ["aws", "eks", "update-kubeconfig", "--name", "eks-prod", "--region", "eu-central-1", "--kubeconfig", "/root/.kube/config", "--alias", "arn:aws:eks:eu-central-1:872406820375:cluster/eks-prod"],
    ]);
    expect(terragruntEnv("us-west-2", access)).toMatchObject({ AWS_REGION: "us-west-2", KUBECONFIG: "/root/.kube/config", TF_INPUT: "0" });
  });

  it("none: no commands, no KUBECONFIG", () => {
    const access = planClusterAccess(DEFAULT_CONFIG.environments.dev.eksClusterArn, { mode: "none" });
    expect(access.commands).toEqual([]);
    expect(terragruntEnv("us-west-2", access)).not.toHaveProperty("KUBECONFIG");
  });

  it("names the flag for a bad mode", () => {
    expect(() => parseClusterAccessMode("kubergrunt")).toThrow('--cluster-access "kubergrunt" is not a cluster access mode');
  });
});

const run = (unit: string): TerragruntRun => ({ unit, dir: `apps/${unit}`, workdir: `/infra-live/apps/${unit}`, args: ["terragrunt"] });

describe("report model", () => {
  it.each([
    { name: "apply ok", action: "apply" as const, result: { exitCode: 0, stdout: "Apply complete!", stderr: "" }, status: "applied", note: undefined },
    { name: "destroy ok", action: "destroy" as const, result: { exitCode: 0, stdout: "Destroy complete! Resources: 3 destroyed.", stderr: "" }, status: "destroyed", note: undefined },
    {
      name: "destroy of a unit with nothing left",
      action: "destroy" as const,
      result: { exitCode: 0, stdout: "No changes. No objects need to be destroyed.", stderr: "" },
      status: "destroyed",
      note: "nothing to destroy",
    },
    { name: "destroy of a missing folder", action: "destroy" as const, result: "missing" as const, status: "already-gone", note: "folder not in infrastructure-live" },
    { name: "apply of a missing folder", action: "apply" as const, result: "missing" as const, status: "failed", note: "apps/x does not exist in infrastructure-live" },
    { name: "non-zero exit", action: "apply" as const, result: { exitCode: 1, stdout: "", stderr: "Error: boom" }, status: "failed", note: undefined },
  ])("$name -> $status", ({ action, result, status, note }) => {
    const o = unitOutcome(run("x"), action, result);
    expect(o.status).toBe(status);
    expect(o.note).toBe(note);
  });

  it("keeps the tail of a failed unit's output without colours", () => {
    const stdout = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n");
    const o = unitOutcome(run("x"), "apply", { exitCode: 1, stdout, stderr: "\x1b[31mError:\x1b[0m creating Deployment: forbidden\n" });
    expect(o.outputTail).toHaveLength(25);
    expect(o.outputTail.at(-1)).toBe("Error: creating Deployment: forbidden");
    expect(o.outputTail[0]).toBe("line 17");
    expect(tailOutput({ stdout: "a\n\n\nb\n", stderr: "" }, 5)).toEqual(["a", "b"]);
  });

  it("stops at the first failure: applied / failed / not reached", () => {
    const runs = [run("clockwork"), run("sidekiq"), run("rails-api")];
    const report = summarizeTerragrunt("apply", runs, [
      unitOutcome(runs[0]!, "apply", { exitCode: 0, stdout: "", stderr: "" }),
      unitOutcome(runs[1]!, "apply", { exitCode: 1, stdout: "", stderr: "Error: timeout waiting for rollout" }),
    ]);
    expect(report.ok).toBe(false);
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([
      ["clockwork", "applied"],
      ["sidekiq", "failed"],
      ["rails-api", "not-reached"],
    ]);
    expect(formatTerragruntSummary(report)).toBe("terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api");
    const text = formatTerragruntReport(report);
    expect(text).toContain("FAILED       sidekiq    apps/sidekiq  (exit 1)");
    expect(text).toContain("      | Error: timeout waiting for rollout");
    expect(text).toContain("not reached  rails-api  apps/rails-api");
  });

  it("all applied is ok; already gone counts as done for a teardown", () => {
    const runs = [run("a"), run("b")];
    expect(summarizeTerragrunt("apply", runs, runs.map((r) => unitOutcome(r, "apply", { exitCode: 0, stdout: "", stderr: "" }))).ok).toBe(true);
    const teardown = summarizeTerragrunt("destroy", runs, runs.map((r) => unitOutcome(r, "destroy", "missing")));
    expect(teardown.ok).toBe(true);
    expect(formatTerragruntSummary(teardown)).toBe("terragrunt destroy: already gone a, b");
  });

  it("a failed cluster access step is reported and no unit ran", () => {
    const report = summarizeTerragrunt("apply", [run("a")], [], { command: "aws eks update-kubeconfig --name eks-dev", exitCode: 254, outputTail: ["AccessDeniedException"] });
    expect(report.ok).toBe(false);
    expect(report.units[0]!.status).toBe("not-reached");
    expect(formatTerragruntSummary(report)).toBe("terragrunt apply: cluster access failed (exit 254); no unit ran");
  });
});

describe("formatDeployReport", () => {
  it("prints every step and exactly what changed when a unit fails midway", () => {
    const runs = [run("clockwork"), run("sidekiq"), run("rails-api")];
    const report = startDeployReport("deploy registry/rails-api:abc to dev", "apply", ["check-env", "base-image", "infra-live-write-back", "terragrunt-apply"]);
    markStep(report, "check-env", "done", ["ok   config/dev.env"]);
    markStep(report, "base-image", "done", ["cache hit registry/rails-api:base-dev-1"]);
    markStep(report, "infra-live-write-back", "done", ["pushed abc123 to main"]);
    report.infraLive = { repoUrl: "git@host:infra.git", branch: "main", message: "Deploy rails-api abc to dev [ci skip]", committed: true, commitSha: "abc123", changes: ["apps/clockwork/terragrunt.hcl: edited image_version \"old\" -> \"abc\""] };
    report.terragrunt = summarizeTerragrunt("apply", runs, [
      unitOutcome(runs[0]!, "apply", { exitCode: 0, stdout: "", stderr: "" }),
      unitOutcome(runs[1]!, "apply", { exitCode: 1, stdout: "", stderr: "Error: boom" }),
    ]);
    markStep(report, "terragrunt-apply", "failed", ["terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api"]);
    const text = formatDeployReport(report);
    expect(text.split("\n")[0]).toBe("deploy registry/rails-api:abc to dev: FAILED at terragrunt-apply");
    expect(text).toContain("ok          check-env");
    expect(text).toContain("FAILED      terragrunt-apply");
    expect(text).toContain('infrastructure-live: commit abc123 on main of git@host:infra.git: "Deploy rails-api abc to dev [ci skip]"');
    expect(text).toContain("terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api");
    expect(text).toContain("      | Error: boom");
  });

  it("says nothing was pushed or applied when it failed early", () => {
    const report = startDeployReport("deploy x to prod", "apply", ["check-env", "assume-role"]);
    markStep(report, "assume-role", "failed", ["not allowed to assume arn:aws:iam::1:role/x"]);
    const text = formatDeployReport(report);
    expect(text).toContain("deploy x to prod: FAILED at assume-role");
    expect(text).toContain("not reached check-env");
    expect(text).toContain("infrastructure-live: nothing pushed");
    expect(text).toContain("terragrunt: nothing applied");
  });

  it("a teardown that found nothing", () => {
    const report = startDeployReport("tear down feature-x", "destroy", ["terragrunt-destroy"]);
    markStep(report, "terragrunt-destroy", "done", []);
    report.infraLive = { repoUrl: "r", branch: "main", message: "m", committed: false, commitSha: null, changes: [] };
    const text = formatDeployReport(report);
    expect(text).toContain("tear down feature-x: succeeded");
    expect(text).toContain("no commit (main already had these values)");
    expect(text).toContain("terragrunt: nothing destroyed");
  });
});

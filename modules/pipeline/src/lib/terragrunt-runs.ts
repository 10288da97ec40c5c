/**
 * Terragrunt runs and deploy reports as plain data. Pure.
 *
 * - `planTerragruntRuns`: the command line of every unit, from `terragrunt.applyArgs` /
 *   `terragrunt.destroyArgs` with `{dir}` replaced by the unit folder inside the checkout (the seed's
 *   `terragrunt apply --terragrunt-working-dir /tmp/infrastructure-live/<path> -input=false
 *   -auto-approve`). The command runs with the unit folder as working directory too, so a template
 *   for a terragrunt version without `--terragrunt-working-dir` may leave `{dir}` out.
 * - `planClusterAccess`: what replaces the seed's `kubergrunt eks configure --eks-cluster-arn <arn>`.
 *   Choice: `aws eks update-kubeconfig --name <cluster> --region <region> --kubeconfig <file>
 *   --alias <arn>` run in the terragrunt container before the first unit. It calls
 *   eks:DescribeCluster for the endpoint and CA and writes a kubeconfig whose user runs
 *   `aws eks get-token` (exec auth) — the same shape kubergrunt writes with `kubergrunt eks token` —
 *   using the assumed role's credentials, which the container holds as secret variables only.
 *   `KUBECONFIG` points at the file for terragrunt and the kubernetes/helm providers. So the
 *   terragrunt image must contain the AWS CLI v2 (see README: build one FROM alpine/terragrunt with
 *   `apk add aws-cli`); mode `none` skips this for modules that authenticate on their own.
 * - The report model: every unit is applied / destroyed / already gone / failed (with the tail of
 *   its output) / not reached, and `formatDeployReport` prints the step-by-step deploy report with
 *   exactly what changed (the infrastructure-live commit and the units applied).
 */
import type { PipelineConfig } from "./config.js";
import { PipelineError } from "./errors.js";
import type { InfraUnitStep } from "./infra-live-changes.js";

export type TerragruntAction = "apply" | "destroy";

/** Where the infrastructure-live checkout is mounted in the terragrunt container. */
export const CHECKOUT_MOUNT = "/infra-live";
/** The kubeconfig written by the cluster access step in the terragrunt container. */
export const CONTAINER_KUBECONFIG = "/root/.kube/config";
/** Lines of a failed unit's output kept in the report. */
export const OUTPUT_TAIL_LINES = 25;

/** One terragrunt invocation. */
export interface TerragruntRun {
  unit: string;
  /** Unit folder relative to the checkout root. */
  dir: string;
  /** Absolute unit folder (checkout root + dir): the working directory and `{dir}`. */
  workdir: string;
  /** The whole argv, starting with `terragrunt`. */
  args: string[];
}

const PLACEHOLDER = /\{[^}]*\}/g;

/**
 * `terragrunt.applyArgs`/`destroyArgs` with every `{dir}` replaced by `dir`. Any other `{...}`
 * placeholder is a config error (a typo such as `{path}` would otherwise reach terragrunt verbatim).
 */
export function planTerragruntArgs(template: readonly string[], dir: string, configPath = "terragrunt.applyArgs"): string[] {
  if (template.length === 0) {
    throw new PipelineError("CONFIG_INVALID", `${configPath} is empty`, { hint: 'list the words after terragrunt, e.g. ["apply", "--terragrunt-working-dir", "{dir}", "-input=false", "-auto-approve"]' });
  }
  return template.map((word, i) => {
    for (const m of word.match(PLACEHOLDER) ?? []) {
      if (m !== "{dir}") {
        throw new PipelineError("CONFIG_INVALID", `${configPath}[${i}] ${JSON.stringify(word)} uses the unknown placeholder ${m}`, {
          hint: "only {dir} (the unit folder) is replaced",
        });
      }
    }
    return word.split("{dir}").join(dir);
  });
}

/** Join a checkout root and a relative unit folder (POSIX paths; `..` and absolute dirs refused). */
export function unitWorkdir(root: string, dir: string): string {
  const clean = dir.replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (clean === "" || clean.startsWith("/") || clean.split("/").includes("..")) {
    throw new PipelineError("CONFIG_INVALID", `unit folder ${JSON.stringify(dir)} is not a relative path inside infrastructure-live`, {
      hint: "use a path like dev/us-west-2/dev/apps/rails-api",
    });
  }
  return `${root.replace(/\/+$/, "")}/${clean}`;
}

export interface TerragruntRunsInput {
  action: TerragruntAction;
  /** Units in the order to run them (applyOrder, or destroyOrder which is already reversed). */
  steps: readonly InfraUnitStep[];
  terragrunt: PipelineConfig["terragrunt"];
  /** Absolute path of the checkout where the commands run (CHECKOUT_MOUNT in the container). */
  root: string;
}

/** The terragrunt command of every unit, in the given order. */
export function planTerragruntRuns(input: TerragruntRunsInput): TerragruntRun[] {
  const template = input.action === "apply" ? input.terragrunt.applyArgs : input.terragrunt.destroyArgs;
  const configPath = input.action === "apply" ? "terragrunt.applyArgs" : "terragrunt.destroyArgs";
  return input.steps.map((s) => {
    const workdir = unitWorkdir(input.root, s.dir);
    return { unit: s.unit, dir: s.dir, workdir, args: ["terragrunt", ...planTerragruntArgs(template, workdir, configPath)] };
  });
}

// ---------------------------------------------------------------------------------------------
// Cluster access

export interface EksCluster {
  arn: string;
  partition: string;
  region: string;
  accountId: string;
  name: string;
}

const CLUSTER_ARN = /^arn:(aws[a-z-]*):eks:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9][A-Za-z0-9_-]*)$/;

/** `arn:aws:eks:<region>:<account>:cluster/<name>` -> its parts. */
export function parseEksClusterArn(arn: string, configPath = "eksClusterArn"): EksCluster {
  const m = CLUSTER_ARN.exec(arn);
  if (!m) {
    throw new PipelineError("CONFIG_INVALID", `${configPath} ${JSON.stringify(arn)} is not an EKS cluster ARN`, {
      hint: "copy the cluster ARN from `aws eks describe-cluster --name <cluster> --query cluster.arn`",
    });
  }
  return { arn, partition: m[1]!, region: m[2]!, accountId: m[3]!, name: m[4]! };
}

export type ClusterAccessMode = "update-kubeconfig" | "none";

export function parseClusterAccessMode(mode: string): ClusterAccessMode {
  if (mode === "update-kubeconfig" || mode === "none") return mode;
  throw new PipelineError("ARGUMENT_INVALID", `--cluster-access ${JSON.stringify(mode)} is not a cluster access mode`, {
    hint: "use update-kubeconfig (default: aws eks update-kubeconfig in the terragrunt container) or none",
  });
}

export interface ClusterAccessPlan {
  cluster: EksCluster;
  mode: ClusterAccessMode;
  kubeconfig: string;
  /** Commands run once in the terragrunt container before the first unit. */
  commands: string[][];
  /** Plain (non-secret) variables of every terragrunt command. */
  env: Record<string, string>;
}

/** The seed's `kubergrunt eks configure --eks-cluster-arn <arn>`, as commands and variables. */
export function planClusterAccess(clusterArn: string, options: { mode?: ClusterAccessMode; kubeconfig?: string; configPath?: string } = {}): ClusterAccessPlan {
  const cluster = parseEksClusterArn(clusterArn, options.configPath);
  const mode = options.mode ?? "update-kubeconfig";
  const kubeconfig = options.kubeconfig ?? CONTAINER_KUBECONFIG;
  if (mode === "none") return { cluster, mode, kubeconfig, commands: [], env: {} };
  return {
    cluster,
    mode,
    kubeconfig,
    commands: [["aws", "eks", "update-kubeconfig", "--name", cluster.name, "--region", cluster.region, "--kubeconfig", kubeconfig, "--alias", cluster.arn]],
    env: { KUBECONFIG: kubeconfig },
  };
}

/** Plain variables of the terragrunt container: region, non-interactive terraform, kubeconfig. */
export function terragruntEnv(region: string, access: ClusterAccessPlan | null): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    TF_INPUT: "0",
    TF_IN_AUTOMATION: "1",
    TERRAGRUNT_NON_INTERACTIVE: "true",
    TG_NON_INTERACTIVE: "true",
    ...(access?.env ?? {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Report model

export type UnitStatus = "applied" | "destroyed" | "already-gone" | "failed" | "not-reached";

export interface UnitOutcome {
  unit: string;
  dir: string;
  status: UnitStatus;
  exitCode: number | null;
  /** Last lines of stdout+stderr (failed units), ANSI colours removed. */
  outputTail: string[];
  note?: string;
}

export interface UnitRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface TerragruntReport {
  action: TerragruntAction;
  ok: boolean;
  /** The cluster access step, when it failed (no unit ran then). */
  setupFailure: null | { command: string; exitCode: number; outputTail: string[] };
  units: UnitOutcome[];
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The last `n` non-empty lines of a command's output (stdout then stderr), colours removed. */
export function tailOutput(result: Pick<UnitRunResult, "stdout" | "stderr">, n = OUTPUT_TAIL_LINES): string[] {
  const lines = `${result.stdout}\n${result.stderr}`
    .replace(ANSI, "")
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  return lines.slice(-n);
}

const NOTHING_TO_DESTROY = /No objects need to be destroyed|Resources: 0 destroyed|No changes\. No objects/i;

/** The outcome of one unit: its result, or `missing` when its folder is not in the checkout. */
export function unitOutcome(run: Pick<TerragruntRun, "unit" | "dir">, action: TerragruntAction, result: UnitRunResult | "missing"): UnitOutcome {
  if (result === "missing") {
    if (action === "destroy") return { unit: run.unit, dir: run.dir, status: "already-gone", exitCode: null, outputTail: [], note: "folder not in infrastructure-live" };
    return { unit: run.unit, dir: run.dir, status: "failed", exitCode: null, outputTail: [], note: `${run.dir} does not exist in infrastructure-live` };
  }
  if (result.exitCode !== 0) {
    return { unit: run.unit, dir: run.dir, status: "failed", exitCode: result.exitCode, outputTail: tailOutput(result) };
  }
  if (action === "apply") return { unit: run.unit, dir: run.dir, status: "applied", exitCode: 0, outputTail: [] };
  const nothing = NOTHING_TO_DESTROY.test(`${result.stdout}\n${result.stderr}`);
  return { unit: run.unit, dir: run.dir, status: "destroyed", exitCode: 0, outputTail: [], ...(nothing ? { note: "nothing to destroy" } : {}) };
}

/**
 * The report of a run that stops at the first failure: `outcomes` are the units that ran (in
 * order, the last one possibly failed); every other run is `not-reached`.
 */
export function summarizeTerragrunt(
  action: TerragruntAction,
  runs: readonly Pick<TerragruntRun, "unit" | "dir">[],
  outcomes: readonly UnitOutcome[],
  setupFailure: TerragruntReport["setupFailure"] = null,
): TerragruntReport {
  const units = runs.map(
    (r, i): UnitOutcome => outcomes[i] ?? { unit: r.unit, dir: r.dir, status: "not-reached", exitCode: null, outputTail: [] },
  );
  const ok = setupFailure === null && units.every((u) => u.status !== "failed" && u.status !== "not-reached");
  return { action, ok, setupFailure, units };
}

/** Units by status, for one-line summaries. */
export function unitsWith(report: TerragruntReport, status: UnitStatus): string[] {
  return report.units.filter((u) => u.status === status).map((u) => u.unit);
}

const STATUS_LABEL: Record<UnitStatus, string> = {
  applied: "applied",
  destroyed: "destroyed",
  "already-gone": "already gone",
  failed: "FAILED",
  "not-reached": "not reached",
};

/** `terragrunt apply: applied clockwork; failed sidekiq (exit 1); not reached rails-api`. */
export function formatTerragruntSummary(report: TerragruntReport): string {
  if (report.setupFailure) return `terragrunt ${report.action}: cluster access failed (exit ${report.setupFailure.exitCode}); no unit ran`;
  const parts: string[] = [];
  for (const status of ["applied", "destroyed", "already-gone", "failed", "not-reached"] as const) {
    const units = report.units.filter((u) => u.status === status);
    if (units.length === 0) continue;
    const names = units.map((u) => (status === "failed" && u.exitCode !== null ? `${u.unit} (exit ${u.exitCode})` : u.unit));
    parts.push(`${STATUS_LABEL[status].toLowerCase()} ${names.join(", ")}`);
  }
  return `terragrunt ${report.action}: ${parts.join("; ") || "no units"}`;
}

/** One line per unit, the failed unit followed by the tail of its output. */
export function formatTerragruntReport(report: TerragruntReport): string {
  const lines: string[] = [];
  if (report.setupFailure) {
    lines.push(`  FAILED       cluster access: ${report.setupFailure.command} (exit ${report.setupFailure.exitCode})`);
    for (const l of report.setupFailure.outputTail) lines.push(`      | ${l}`);
  }
  const width = Math.max(0, ...report.units.map((u) => u.unit.length));
  for (const u of report.units) {
    const extra = [u.exitCode !== null && u.status === "failed" ? `exit ${u.exitCode}` : "", u.note ?? ""].filter(Boolean).join(", ");
    lines.push(`  ${STATUS_LABEL[u.status].padEnd(12)} ${u.unit.padEnd(width)}  ${u.dir}${extra ? `  (${extra})` : ""}`);
    for (const l of u.outputTail) lines.push(`      | ${l}`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Deploy report

export type StepStatus = "done" | "skipped" | "failed" | "not-reached";

export interface DeployStep {
  name: string;
  status: StepStatus;
  /** What happened (first line) and details. Never secrets. */
  lines: string[];
}

export interface InfraLiveOutcome {
  repoUrl: string;
  branch: string;
  message: string;
  committed: boolean;
  commitSha: string | null;
  /** `file: previous -> value` / `file removed` lines. */
  changes: string[];
}

export interface DeployReport {
  /** e.g. `deploy rails-api 0123abc to dev`. */
  title: string;
  /** What terragrunt does in this run. */
  action: TerragruntAction;
  steps: DeployStep[];
  infraLive: InfraLiveOutcome | null;
  terragrunt: TerragruntReport | null;
}

/** A report with every step not reached yet. */
export function startDeployReport(title: string, action: TerragruntAction, steps: readonly string[]): DeployReport {
  return { title, action, steps: steps.map((name) => ({ name, status: "not-reached", lines: [] })), infraLive: null, terragrunt: null };
}

/** Set a step's status and lines (adds the step when the plan did not list it). */
export function markStep(report: DeployReport, name: string, status: StepStatus, lines: string[] = []): DeployReport {
  const step = report.steps.find((s) => s.name === name);
  if (step) {
    step.status = status;
    step.lines = lines;
  } else report.steps.push({ name, status, lines });
  return report;
}

export function deployFailed(report: DeployReport): DeployStep | undefined {
  return report.steps.find((s) => s.status === "failed");
}

const STEP_LABEL: Record<StepStatus, string> = { done: "ok", skipped: "skipped", failed: "FAILED", "not-reached": "not reached" };

/**
 * The step-by-step report: one line per step, then what changed (the infrastructure-live commit,
 * the units applied/destroyed), then the terragrunt units.
 */
export function formatDeployReport(report: DeployReport): string {
  const failed = deployFailed(report);
  const lines = [`${report.title}: ${failed ? `FAILED at ${failed.name}` : "succeeded"}`];
  const width = Math.max(...report.steps.map((s) => s.name.length));
  for (const s of report.steps) {
    const [first, ...rest] = s.lines;
    lines.push(`  ${STEP_LABEL[s.status].padEnd(11)} ${s.name.padEnd(width)}${first ? `  ${first}` : ""}`);
    for (const l of rest) lines.push(`  ${"".padEnd(11)} ${"".padEnd(width)}  ${l}`);
  }
  lines.push("what changed:");
  const il = report.infraLive;
  if (!il) lines.push("  infrastructure-live: nothing pushed");
  else if (!il.committed) lines.push(`  infrastructure-live: no commit (${il.branch} already had these values)`);
  else {
    lines.push(`  infrastructure-live: commit ${il.commitSha} on ${il.branch} of ${il.repoUrl}: "${il.message}"`);
    for (const c of il.changes) lines.push(`    ${c}`);
  }
  if (!report.terragrunt) lines.push(`  terragrunt: nothing ${report.action === "destroy" ? "destroyed" : "applied"}`);
  else {
    lines.push(`  ${formatTerragruntSummary(report.terragrunt)}`);
    lines.push(formatTerragruntReport(report.terragrunt));
  }
  return lines.join("\n") + "\n";
}

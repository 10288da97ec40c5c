/**
 * `dagger call deploy`: the seed's deploy job (steps 6–9) executing exactly the `plan`.
 *
 *   check-env -> [preflight: cluster ARN, terragrunt command lines, AssumeRole, clone + check every
 *   unit's terragrunt.hcl] -> base image (ensure) -> app image (publish) -> infrastructure-live
 *   write-back (one commit, retried on races) -> assume role (fresh credentials) -> cluster access
 *   + terragrunt apply per unit, stopping at the first failure
 *
 * Everything that can be checked is checked BEFORE anything is pushed or applied: a bad
 * environment, feature name, unit path, unparseable terragrunt.hcl or a role that cannot be assumed
 * fails with nothing pushed. A failure later throws `DeployFailedError`, whose message is the
 * step-by-step report with exactly what changed (the infrastructure-live commit that landed and the
 * units applied / failed / not reached).
 *
 * `executeDeploy` is written against injected effects (`DeployEffects`): workspaces for the git
 * write-back, the terragrunt executor, AWS clients, the image steps. `daggerInfraEffects` wires the
 * real ones (git and terragrunt containers, STS from the with-aws-* credentials); the tests wire a
 * recorder or a local git + fake terragrunt with a mocked STS.
 */
import { randomBytes } from "node:crypto";
import type { Directory } from "@dagger.io/dagger";
import type { STSClient } from "@aws-sdk/client-sts";
import { resolveAwsEndpoint, type AwsEndpoint } from "./aws-endpoint.js";
import { createAwsClients } from "./aws/credential-provider.js";
import { assumeRole } from "./aws/sts.js";
import type { RunCredentials } from "./run-credentials.js";
import { DaggerWorkspace, daggerGitAuth, DEFAULT_GIT_IMAGE } from "./infra-dagger.js";
import { gitAuthConfig, redactUrl, type GitAuth } from "./infra/git-auth.js";
import { resolveKnownHosts } from "./lib/known-hosts.js";
import { applyInfraWriteBack, type WriteBackOptions, type WriteBackReport } from "./infra/write-back.js";
import type { Workspace } from "./infra/workspace.js";
import { buildAppImage, publishBuiltAppImage, readAwsInputs, type AppImageBuild } from "./images.js";
import type { AwsCredentials } from "./lib/aws-credential-source.js";
import type { EnvironmentConfig, PipelineConfig } from "./lib/config.js";
import { errorDetail, PipelineError, ProblemsError, type ErrorCode, type Problem } from "./lib/errors.js";
import { setHclAttributeInBytes } from "./lib/hcl.js";
import type { EnvironmentInfraPlan, FeatureDeployInfraPlan, InfraChangePlan } from "./lib/infra-live-changes.js";
import { planPipeline, type PipelinePlan } from "./lib/pipeline-plan.js";
import {
  CHECKOUT_MOUNT,
  formatDeployReport,
  formatTerragruntSummary,
  markStep,
  parseClusterAccessMode,
  planClusterAccess,
  planTerragruntRuns,
  startDeployReport,
  type ClusterAccessMode,
  type ClusterAccessPlan,
  type DeployReport,
  type InfraLiveOutcome,
} from "./lib/terragrunt-runs.js";
import { runPlan } from "./plan.js";
import { checkEnvFiles } from "./secrets.js";
import { readConfig, readDependencyFiles } from "./source.js";
import { credentialSecrets, DaggerTerragrunt, runTerragrunt, type TerragruntExecutor } from "./terragrunt.js";

// ---------------------------------------------------------------------------------------------
// Effects

/** What terragrunt needs to reach AWS and the cluster. */
export interface TerragruntAccess {
  credentials: AwsCredentials;
  region: string;
  cluster: ClusterAccessPlan | null;
}

/** The caller's AWS identity in one region: the deploy role is assumed with `sts()`. */
export interface AwsSession {
  sts(): STSClient;
  /** The caller's own credentials (used as they are when they already are the deploy role). */
  credentials(): Promise<AwsCredentials>;
  /** Safe to print: flags, profile names, role ARNs. */
  description: string;
  /** The role the caller's credentials already are (web identity), if known. */
  roleArn?: string;
}

/** Effects shared by deploy, feature-teardown and feature-sweep. */
export interface InfraEffects<W extends Workspace = Workspace> {
  /** A new, empty workspace for one clone of infrastructure-live. */
  newWorkspace(purpose: string): Promise<W>;
  /** How git authenticates inside those workspaces. */
  gitAuth: GitAuth;
  /** A terragrunt executor over the checkout held by `ws` (after its clone). */
  terragrunt(ws: W, access: TerragruntAccess): TerragruntExecutor;
  aws(region: string): Promise<AwsSession>;
  log(line: string): void;
  /** Push retries and backoff of the write-back (tests shorten them). */
  writeBack?: Pick<WriteBackOptions, "maxAttempts" | "backoffMs" | "sleep" | "shallow">;
  /** Epoch ms, to decide whether assumed credentials are still fresh. */
  now?: () => number;
}

/** Deploy adds the steps that read the application repository. Each returns its report lines. */
export interface DeployEffects<W extends Workspace = Workspace> extends InfraEffects<W> {
  checkEnv(): Promise<string>;
  baseImage(): Promise<string>;
  appImage(): Promise<string>;
}

export interface DeployOptions {
  /** How terragrunt reaches the cluster (default update-kubeconfig). */
  clusterAccess?: ClusterAccessMode;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A deploy (or teardown) that failed after it started: the message is the whole report. */
export class DeployFailedError extends PipelineError {
  readonly report: DeployReport;

  constructor(report: DeployReport, step: string, code: ErrorCode, detail: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, `${report.title} failed at ${step}: ${detail}\n\n${formatDeployReport(report)}`, options);
    this.name = "DeployFailedError";
    this.report = report;
  }
}

function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  return err instanceof PipelineError ? err.code : fallback;
}

function hintOf(err: unknown, fallback: string): string {
  return err instanceof PipelineError && err.hint ? err.hint : fallback;
}

/** Mark `step` failed and throw the report, keeping the cause's code and hint. */
export function failStep(report: DeployReport, step: string, err: unknown, fallbackCode: ErrorCode, fallbackHint: string): never {
  const lines = errorDetail(err).split("\n");
  markStep(report, step, "failed", lines);
  throw new DeployFailedError(report, step, codeOf(err, fallbackCode), lines[0]!, { hint: hintOf(err, fallbackHint), cause: err });
}

// ---------------------------------------------------------------------------------------------
// Shared steps

/** `git clone` of the plan's branch into an empty workspace (read-only use: nothing is pushed). */
export async function cloneInfraLive(ws: Workspace, plan: Pick<InfraChangePlan, "repoUrl" | "branch">, auth: GitAuth): Promise<void> {
  const a = gitAuthConfig(auth);
  const r = await ws.run(["git", ...a.args, "clone", "--quiet", "--branch", plan.branch, "--single-branch", "--no-tags", "--depth", "1", "--", plan.repoUrl, "."], { env: a.env });
  if (r.exitCode !== 0) {
    const stderr = r.stderr.trim().split("\n").slice(-4).join("\n    ").replaceAll(plan.repoUrl, redactUrl(plan.repoUrl));
    throw new PipelineError("GIT_FAILED", `git could not clone ${redactUrl(plan.repoUrl)} branch ${plan.branch} (exit ${r.exitCode})${stderr ? `:\n    ${stderr}` : ""}`, {
      hint: "check infraLive.repoUrl and infraLive.branch in pipeline.json and the with-git-credentials key or token; nothing was pushed",
    });
  }
}

/**
 * Check, on a clone, that every unit of an environment plan exists and that its terragrunt.hcl
 * parses and has the attribute to set. All problems together; nothing is written.
 */
export async function checkInfraUnits(ws: Workspace, plan: EnvironmentInfraPlan): Promise<string[]> {
  const problems: Problem[] = [];
  const lines: string[] = [];
  for (const e of plan.edits) {
    const bytes = await ws.readFile(e.file);
    if (bytes === null) {
      problems.push({
        path: e.file,
        message: `unit ${e.unit}: ${e.file} does not exist in ${redactUrl(plan.repoUrl)} (${plan.branch})`,
        hint: `fix environments.${plan.configEnvironment}.infraLive.units (path of ${e.unit}) in pipeline.json, or add the unit to infrastructure-live`,
      });
      continue;
    }
    try {
      const r = setHclAttributeInBytes(bytes, { name: e.attribute, value: e.value, file: e.file });
      lines.push(`${e.file}:${r.line} ${e.attribute} = ${r.previous}${r.changed ? ` -> ${e.value}` : " (already set)"}`);
    } catch (err) {
      problems.push({ path: e.file, message: `unit ${e.unit}: ${errorDetail(err).split("\n")[0]}`, hint: hintOf(err, "fix the file in infrastructure-live") });
    }
  }
  if (problems.length > 0) {
    const code = problems.every((p) => p.message.includes(" has no ")) ? "HCL_ATTRIBUTE_MISSING" : "HCL_INVALID";
    throw new ProblemsError(code, `infrastructure-live units of ${plan.environment} cannot be updated; nothing was pushed or applied`, problems);
  }
  return lines;
}

const FRESH_FOR_MS = 15 * 60 * 1000;

/** Why `aws eks update-kubeconfig` fails most often, and the two ways out. */
export const CLUSTER_ACCESS_HINT =
  "cluster access runs `aws eks update-kubeconfig` in terragrunt.image, which needs the AWS CLI and eks:DescribeCluster on the role: " +
  "use an image with aws (e.g. FROM alpine/terragrunt + apk add aws-cli) or pass --cluster-access none";

/** AssumeRole into the environment's deploy role (or use the caller's credentials if they are it). */
export async function assumeDeployRole(effects: InfraEffects<Workspace>, env: EnvironmentConfig, environment: string): Promise<{ credentials: AwsCredentials; line: string }> {
  const session = await effects.aws(env.region);
  if (session.roleArn && session.roleArn === env.roleArn) {
    return { credentials: await session.credentials(), line: `${env.roleArn}: already the caller's role (${session.description})` };
  }
  const sessionName = `pipeline-${environment}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  const credentials = await assumeRole(session.sts(), { roleArn: env.roleArn, sessionName });
  const until = credentials.expiration ? `, expires ${credentials.expiration.toISOString()}` : "";
  return { credentials, line: `assumed ${env.roleArn} as session ${sessionName} with ${session.description}${until}` };
}

function fresh(credentials: AwsCredentials, now: number): boolean {
  return !credentials.expiration || credentials.expiration.getTime() - now > FRESH_FOR_MS;
}

export function infraLiveOutcome(wb: WriteBackReport): InfraLiveOutcome {
  return {
    repoUrl: wb.repoUrl,
    branch: wb.branch,
    message: wb.message,
    committed: wb.committed,
    commitSha: wb.commitSha,
    changes: wb.changes.map((c) =>
      c.action === "removed"
        ? `${c.file}: removed`
        : `${c.file}: ${c.action}${c.attribute ? ` ${c.attribute}` : ""}${c.previous !== undefined ? ` ${c.previous} ->` : ""}${c.value !== undefined ? ` ${c.value}` : ""}`,
    ),
  };
}

function writeBackLine(wb: WriteBackReport): string {
  if (!wb.committed && wb.alreadySetBy) return `no commit: already set by ${wb.alreadySetBy.sha} ("${wb.alreadySetBy.subject}") on ${wb.branch}`;
  if (!wb.committed) return `no commit: ${wb.unchanged.length} file(s) already up to date on ${wb.branch}`;
  const retries = wb.attempts > 1 ? ` after ${wb.attempts} push attempts` : "";
  return `pushed ${wb.commitSha} to ${wb.branch}${retries}: ${wb.changes.length} file(s) changed`;
}

// ---------------------------------------------------------------------------------------------
// deploy

type DeployInfraPlan = EnvironmentInfraPlan | FeatureDeployInfraPlan;

/** Title of the report: `deploy rails-api:<tag> to dev`. */
function deployTitle(plan: PipelinePlan): string {
  return `deploy ${plan.images.app?.ref ?? plan.ref.name} to ${plan.environment?.name ?? "?"}`;
}

/**
 * Execute a deploy plan. Returns the report of a successful run; throws `DeployFailedError`
 * (with the report) when a step fails, and a plain PipelineError when the plan does not deploy.
 */
export async function executeDeploy<W extends Workspace>(plan: PipelinePlan, config: PipelineConfig, effects: DeployEffects<W>, options: DeployOptions = {}): Promise<DeployReport> {
  if (!plan.deploy || !plan.environment || !plan.infraLive || plan.infraLive.kind === "feature-teardown") {
    throw new PipelineError("REF_INVALID", `nothing to deploy: ${plan.reason ?? "the plan has no environment"}`, {
      hint: "pass --env dev|stage|prod, or a branch/tag that maps to an environment (see dagger call plan)",
    });
  }
  const infra: DeployInfraPlan = plan.infraLive;
  const env = config.environments[infra.configEnvironment];
  const report = startDeployReport(deployTitle(plan), "apply", plan.steps);
  const log = effects.log;
  const now = effects.now ?? Date.now;

  markStep(report, "lint", "skipped", ["run by `dagger call lint` before deploy"]);
  markStep(report, "test", "skipped", ["run by `dagger call test` before deploy"]);

  // check-env
  try {
    markStep(report, "check-env", "done", (await effects.checkEnv()).split("\n").filter(Boolean));
  } catch (err) {
    failStep(report, "check-env", err, "ENV_FILE_INVALID", "fix the env files; nothing was pushed or applied");
  }

  // Preflight: pure checks, the role, and the units in a read-only clone. Nothing is pushed yet.
  let access: ClusterAccessPlan | null;
  try {
    access = planClusterAccess(env.eksClusterArn, { mode: options.clusterAccess, configPath: `environments.${infra.configEnvironment}.eksClusterArn` });
    planTerragruntRuns({ action: "apply", steps: infra.applyOrder, terragrunt: config.terragrunt, root: CHECKOUT_MOUNT });
  } catch (err) {
    failStep(report, "terragrunt-apply", err, "CONFIG_INVALID", "fix pipeline.json; nothing was pushed or applied");
  }
  let assumed: { credentials: AwsCredentials; line: string };
  try {
    log(`preflight: assuming ${env.roleArn}`);
    assumed = await assumeDeployRole(effects, env, plan.environment.name);
  } catch (err) {
    failStep(report, "assume-role", err, "AWS_ASSUME_ROLE_FAILED", "checked before anything was pushed: nothing was pushed or applied");
  }
  let unitLines: string[] = [];
  try {
    log(`preflight: checking ${redactUrl(infra.repoUrl)} (${infra.branch})`);
    const probe = await effects.newWorkspace("preflight");
    await cloneInfraLive(probe, infra, effects.gitAuth);
    if (infra.kind === "environment") unitLines = await checkInfraUnits(probe, infra);
  } catch (err) {
    failStep(report, "infra-live-write-back", err, "GIT_FAILED", "checked before anything was pushed: nothing was pushed or applied");
  }

  // Images.
  try {
    markStep(report, "base-image", "done", (await effects.baseImage()).split("\n").filter(Boolean));
  } catch (err) {
    failStep(report, "base-image", err, "BUILD_FAILED", "nothing was deployed; fix the build and run deploy again");
  }
  try {
    markStep(report, "app-image", "done", [`pushed ${await effects.appImage()}`]);
  } catch (err) {
    failStep(report, "app-image", err, "PUSH_FAILED", "nothing was deployed; fix the build and run deploy again");
  }

  // Write-back.
  let ws: W;
  try {
    ws = await effects.newWorkspace("write-back");
    const wb = await applyInfraWriteBack(ws, infra, { ...effects.writeBack, auth: effects.gitAuth, log });
    report.infraLive = infraLiveOutcome(wb);
    markStep(report, "infra-live-write-back", "done", [writeBackLine(wb), ...(wb.committed ? [] : unitLines)]);
  } catch (err) {
    failStep(report, "infra-live-write-back", err, "GIT_FAILED", "nothing was applied; run deploy again");
  }

  // Assume role (fresh credentials for the apply).
  try {
    if (!fresh(assumed.credentials, now())) assumed = await assumeDeployRole(effects, env, plan.environment.name);
    markStep(report, "assume-role", "done", [assumed.line]);
  } catch (err) {
    failStep(report, "assume-role", err, "AWS_ASSUME_ROLE_FAILED", "infrastructure-live is updated but nothing was applied: run deploy again");
  }

  // Terragrunt apply.
  const executor = effects.terragrunt(ws, { credentials: assumed.credentials, region: env.region, cluster: access });
  const runs = planTerragruntRuns({ action: "apply", steps: infra.applyOrder, terragrunt: config.terragrunt, root: executor.root });
  let tg;
  try {
    tg = await runTerragrunt(executor, { action: "apply", runs, access, log });
  } catch (err) {
    failStep(report, "terragrunt-apply", err, "TERRAGRUNT_FAILED", "run deploy again; applied units are re-applied without changes");
  }
  report.terragrunt = tg;
  const clusterLine = access.mode === "none" ? "cluster access: none" : `cluster access: ${access.cluster.name} (${access.cluster.region}) via aws eks update-kubeconfig`;
  if (!tg.ok) {
    markStep(report, "terragrunt-apply", "failed", [formatTerragruntSummary(tg), clusterLine]);
    const failed = tg.units.find((u) => u.status === "failed");
    const what = tg.setupFailure ? `cluster access failed (exit ${tg.setupFailure.exitCode})` : `unit ${failed?.unit} failed${failed?.exitCode !== null ? ` (exit ${failed?.exitCode})` : ""}`;
    throw new DeployFailedError(report, "terragrunt-apply", "TERRAGRUNT_FAILED", what, {
      hint: tg.setupFailure
        ? `${CLUSTER_ACCESS_HINT}; infrastructure-live already has ${infra.tag}: run deploy again once fixed`
        : `fix the unit (output above) and run deploy again; infrastructure-live already has ${infra.tag}, and units that applied re-apply without changes`,
    });
  }
  markStep(report, "terragrunt-apply", "done", [formatTerragruntSummary(tg), clusterLine]);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Dagger wiring

export interface DaggerInfraOptions {
  /** Image of the git container (alpine/git by default). */
  gitImage?: string;
  /** Unique id of this run (default: time + random). */
  runId?: string;
  log?: (line: string) => void;
}

export function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

const stderrLog = (line: string) => process.stderr.write(`${line}\n`);

/** The real effects: git and terragrunt containers, STS with the with-aws-* credentials. */
export function daggerInfraEffects(config: PipelineConfig, credentials: RunCredentials, options: DaggerInfraOptions = {}): InfraEffects<DaggerWorkspace> {
  const runId = options.runId ?? newRunId();
  let workspaces = 0;
  // SSH checks infrastructure-live's host key strictly: the caller's known_hosts, or GitHub's keys.
  const knownHosts = credentials.gitSshKey && !credentials.gitKnownHosts ? resolveKnownHosts(config.infraLive.repoUrl, undefined) : undefined;
  // Started once per run, only when an AWS step needs it.
  let endpoint: Promise<AwsEndpoint | undefined> | undefined;
  const awsEndpoint = () => (endpoint ??= resolveAwsEndpoint(credentials.awsEndpoint));
  return {
    newWorkspace: async (purpose) =>
      new DaggerWorkspace({
        image: options.gitImage || DEFAULT_GIT_IMAGE,
        sshKey: credentials.gitSshKey,
        token: credentials.gitToken,
        knownHosts,
        knownHostsFile: credentials.gitKnownHosts,
        runId: `${runId}-${purpose}-${++workspaces}`,
      }),
    gitAuth: daggerGitAuth({ sshKey: credentials.gitSshKey, token: credentials.gitToken }),
    terragrunt: (ws, access) =>
      new DaggerTerragrunt({
        image: config.terragrunt.image,
        checkout: ws.checkout(),
        secrets: credentialSecrets(access.credentials, `${runId}-${++workspaces}`),
        region: access.region,
        access: access.cluster,
        runId,
        awsEndpoint: awsEndpoint(),
      }),
    aws: async (region) => {
      const url = (await awsEndpoint())?.url;
      const clients = createAwsClients({ region, credentials: await readAwsInputs(credentials), ...(url ? { endpoint: url } : {}) });
      const webIdentity = credentials.aws.webIdentityToken ? credentials.aws.webIdentityRoleArn : undefined;
      return { sts: () => clients.sts(), credentials: () => clients.credentials(), description: clients.description, ...(webIdentity ? { roleArn: webIdentity } : {}) };
    },
    log: options.log ?? stderrLog,
  };
}

export interface DeployFlags {
  branch: string;
  tag: string;
  sha: string;
  env: string;
  dryRun: boolean;
  format: string;
  gitImage: string;
  clusterAccess: string;
}

/** `dagger call deploy`: `--dry-run` prints exactly `plan`; otherwise execute it and print the report. */
export async function runDeploy(source: Directory, flags: DeployFlags, credentials: RunCredentials, options: { requireFeature?: boolean } = {}): Promise<string> {
  const clusterAccess = parseClusterAccessMode(flags.clusterAccess);
  if (flags.dryRun) return runPlan(source, { branch: flags.branch, tag: flags.tag, sha: flags.sha, env: flags.env, format: flags.format });
  const config = await readConfig(source);
  const files = await readDependencyFiles(source, config);
  const plan = planPipeline({ config, files, env: flags.env || undefined, ref: { branch: flags.branch, tag: flags.tag, sha: flags.sha } });
  if (options.requireFeature && plan.environment?.kind !== "feature") {
    throw new PipelineError("ARGUMENT_INVALID", `--branch ${JSON.stringify(flags.branch)} is not a feature branch`, {
      hint: `pass --branch ${featureRulePrefix(config)}<name>; deploy dev/stage/prod with dagger call deploy`,
    });
  }
  const imageOptions = { branch: flags.branch, tag: flags.tag, sha: flags.sha, env: flags.env };
  // One app-image build ensures the base image once (one registry lookup, one ECR token); the
  // report still shows the base-image and app-image steps apart.
  let appBuild: Promise<AppImageBuild> | undefined;
  const buildOnce = () => (appBuild ??= buildAppImage(source, imageOptions, credentials));
  const effects: DeployEffects<DaggerWorkspace> = {
    ...daggerInfraEffects(config, credentials, { gitImage: flags.gitImage }),
    checkEnv: () => checkEnvFiles(source, config),
    baseImage: async () => (await buildOnce()).base.report,
    appImage: async () => publishBuiltAppImage(await buildOnce()),
  };
  return formatDeployReport(await executeDeploy(plan, config, effects, { clusterAccess }));
}

function featureRulePrefix(config: PipelineConfig): string {
  const rule = config.refs.find((r) => r.match === "feature");
  return rule && rule.match === "feature" ? rule.prefix : "feature/";
}

/**
 * Terragrunt runs: the seed's steps 8–9 (`kubergrunt eks configure`, then `terragrunt apply` per
 * unit) and the feature teardown's `terragrunt destroy`.
 *
 * `runTerragrunt` is written once against `TerragruntExecutor`:
 *   check which unit folders exist -> cluster access (once, only when a unit will run)
 *   -> one command per unit, in order -> stop at the first failure
 * and returns the report model of `lib/terragrunt-runs.ts` (applied / destroyed / already gone /
 * failed with the tail of its output / not reached). Two executors:
 * - `DaggerTerragrunt`: a container from `terragrunt.image` with the infrastructure-live checkout
 *   mounted at /infra-live; the assumed role's credentials become `dag.setSecret`s at once and reach
 *   the container only through `withSecretVariable` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *   AWS_SESSION_TOKEN); each unit is one `withExec(args, { expect: ReturnType.Any })` with the unit
 *   folder as working directory, chained on the previous one.
 * - `LocalTerragrunt`: the same commands through child_process on a local checkout (integration
 *   tests, where a fake `terragrunt` on PATH records its arguments).
 */
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { CacheSharingMode, dag, ExistsType, ReturnType, type Container, type Directory, type Secret } from "@dagger.io/dagger";
import { withAwsEndpoint, type AwsEndpoint } from "./aws-endpoint.js";
import type { AwsCredentials } from "./lib/aws-credential-source.js";
import {
  CHECKOUT_MOUNT,
  summarizeTerragrunt,
  tailOutput,
  terragruntEnv,
  unitOutcome,
  unitWorkdir,
  type ClusterAccessPlan,
  type TerragruntAction,
  type TerragruntReport,
  type TerragruntRun,
  type UnitOutcome,
  type UnitRunResult,
} from "./lib/terragrunt-runs.js";

/** Where terragrunt runs: a checkout of infrastructure-live and a way to run commands next to it. */
export interface TerragruntExecutor {
  /** Absolute path of the checkout, as the commands see it (`{dir}` is built from it). */
  readonly root: string;
  /** Whether the unit folder (relative to the root) exists in the checkout. */
  exists(dir: string): Promise<boolean>;
  /** Run one command in `workdir`; resolves with the exit code, never throws for a non-zero exit. */
  exec(args: string[], workdir: string): Promise<UnitRunResult>;
}

export interface RunTerragruntInput {
  action: TerragruntAction;
  /** From `planTerragruntRuns` with `root: executor.root`. */
  runs: readonly TerragruntRun[];
  access: ClusterAccessPlan | null;
  log?: (line: string) => void;
}

/** Run the units in order and stop at the first failure. Never throws for a failed unit: see `ok`. */
export async function runTerragrunt(executor: TerragruntExecutor, input: RunTerragruntInput): Promise<TerragruntReport> {
  const { action, runs } = input;
  const log = input.log ?? (() => {});
  // Existence first: a missing apply unit fails before anything runs; destroy skips gone units.
  const present = await Promise.all(runs.map((r) => executor.exists(r.dir)));
  const missingApply = action === "apply" ? runs.findIndex((_, i) => !present[i]) : -1;
  if (missingApply >= 0) {
    // Nothing runs: the missing unit fails, every other unit is not reached.
    const outcomes: UnitOutcome[] = [];
    outcomes[missingApply] = unitOutcome(runs[missingApply]!, action, "missing");
    return summarizeTerragrunt(action, runs, outcomes);
  }
  if (present.some(Boolean)) {
    for (const cmd of input.access?.commands ?? []) {
      log(`cluster access: ${cmd.slice(0, 3).join(" ")} (${input.access!.cluster.name})`);
      const r = await executor.exec(cmd, executor.root);
      if (r.exitCode !== 0) {
        return summarizeTerragrunt(action, runs, [], { command: cmd.join(" "), exitCode: r.exitCode, outputTail: tailOutput(r) });
      }
    }
  }
  const outcomes: UnitOutcome[] = [];
  for (const [i, run] of runs.entries()) {
    if (!present[i]) {
      log(`terragrunt ${action} ${run.unit}: ${run.dir} is already gone`);
      outcomes.push(unitOutcome(run, action, "missing"));
      continue;
    }
    log(`terragrunt ${action} ${run.unit} (${run.dir})`);
    const outcome = unitOutcome(run, action, await executor.exec(run.args, run.workdir));
    outcomes.push(outcome);
    if (outcome.status === "failed") {
      log(`terragrunt ${action} ${run.unit} failed (exit ${outcome.exitCode}); stopping`);
      break;
    }
  }
  return summarizeTerragrunt(action, runs, outcomes);
}

// ---------------------------------------------------------------------------------------------
// Dagger

export interface TerragruntSecrets {
  accessKeyId: Secret;
  secretAccessKey: Secret;
  sessionToken?: Secret;
}

/** Temporary credentials -> secrets at once (names unique per run; the engine scrubs the values). */
export function credentialSecrets(credentials: AwsCredentials, runId: string): TerragruntSecrets {
  return {
    accessKeyId: dag.setSecret(`deploy-aws-access-key-id-${runId}`, credentials.accessKeyId),
    secretAccessKey: dag.setSecret(`deploy-aws-secret-access-key-${runId}`, credentials.secretAccessKey),
    ...(credentials.sessionToken ? { sessionToken: dag.setSecret(`deploy-aws-session-token-${runId}`, credentials.sessionToken) } : {}),
  };
}

export interface TerragruntContainerInput {
  /** `terragrunt.image` (needs terragrunt, terraform and, for cluster access, the AWS CLI). */
  image: string;
  checkout: Directory;
  secrets: TerragruntSecrets;
  /** The environment's region (AWS_REGION). */
  region: string;
  access: ClusterAccessPlan | null;
  /** Busts the engine cache so a deploy re-applies even when nothing else changed. */
  runId: string;
  /** with-aws-endpoint: bound into the container before the first command. */
  awsEndpoint?: Promise<AwsEndpoint | undefined>;
}

const PLUGIN_CACHE = "/root/.terraform.d/plugin-cache";

/** The terragrunt container before any command: image, checkout, plain variables, secret variables. */
export function terragruntContainer(input: TerragruntContainerInput): Container {
  let ctr = dag
    .container()
    .from(input.image)
    .withMountedDirectory(CHECKOUT_MOUNT, input.checkout)
    // Providers are downloaded once per engine, not once per unit and run. Terraform's plugin cache
    // is not safe for concurrent writers, and a SHARED volume (withMountedCache's default,
    // core/schema/cache.go) is written by every concurrent deploy on the engine at once: PRIVATE
    // gives a concurrent user its own copy (core/cache.go).
    .withMountedCache(PLUGIN_CACHE, dag.cacheVolume("terraform-plugin-cache"), { sharing: CacheSharingMode.Private })
    .withEnvVariable("TF_PLUGIN_CACHE_DIR", PLUGIN_CACHE)
    .withEnvVariable("PIPELINE_RUN_ID", input.runId);
  for (const [name, value] of Object.entries(terragruntEnv(input.region, input.access))) ctr = ctr.withEnvVariable(name, value);
  ctr = ctr.withSecretVariable("AWS_ACCESS_KEY_ID", input.secrets.accessKeyId).withSecretVariable("AWS_SECRET_ACCESS_KEY", input.secrets.secretAccessKey);
  if (input.secrets.sessionToken) ctr = ctr.withSecretVariable("AWS_SESSION_TOKEN", input.secrets.sessionToken);
  return ctr.withWorkdir(CHECKOUT_MOUNT);
}

export class DaggerTerragrunt implements TerragruntExecutor {
  readonly root = CHECKOUT_MOUNT;
  private ctr: Container;
  private readonly checkout: Directory;
  private awsEndpoint?: Promise<AwsEndpoint | undefined>;

  constructor(input: TerragruntContainerInput) {
    this.ctr = terragruntContainer(input);
    this.checkout = input.checkout;
    this.awsEndpoint = input.awsEndpoint;
  }

  container(): Container {
    return this.ctr;
  }

  /** Asked of the checkout itself (before any command ran), not of the container's mounts. */
  exists(dir: string): Promise<boolean> {
    return this.checkout.exists(unitWorkdir(".", dir).slice(2), { expectedType: ExistsType.DirectoryType });
  }

  async exec(args: string[], workdir: string): Promise<UnitRunResult> {
    if (this.awsEndpoint) {
      this.ctr = withAwsEndpoint(this.ctr, await this.awsEndpoint);
      this.awsEndpoint = undefined;
    }
    const done = await this.ctr.withWorkdir(workdir).withExec(args, { expect: ReturnType.Any }).sync();
    const [exitCode, stdout, stderr] = await Promise.all([done.exitCode(), done.stdout(), done.stderr()]);
    this.ctr = done;
    return { exitCode, stdout, stderr };
  }
}

// ---------------------------------------------------------------------------------------------
// Local

export interface LocalTerragruntOptions {
  /** Absolute path of the checkout. */
  root: string;
  credentials: AwsCredentials;
  region: string;
  access: ClusterAccessPlan | null;
  /** Base environment (PATH decides which terragrunt runs); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The same commands through child_process, credentials in the child's environment only. */
export class LocalTerragrunt implements TerragruntExecutor {
  readonly root: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: LocalTerragruntOptions) {
    this.root = path.resolve(options.root);
    const c = options.credentials;
    this.env = {
      ...(options.env ?? process.env),
      ...terragruntEnv(options.region, options.access),
      AWS_ACCESS_KEY_ID: c.accessKeyId,
      AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
      ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}),
    };
  }

  async exists(dir: string): Promise<boolean> {
    try {
      return (await stat(unitWorkdir(this.root, dir))).isDirectory();
    } catch {
      return false;
    }
  }

  exec(args: string[], workdir: string): Promise<UnitRunResult> {
    const [file, ...rest] = args;
    return new Promise((resolve) => {
      const child = spawn(file!, rest, { cwd: workdir, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (err) => resolve({ exitCode: 127, stdout, stderr: `${stderr}${file}: ${err.message}` }));
      child.on("close", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }
}

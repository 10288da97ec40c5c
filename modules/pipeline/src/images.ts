/**
 * Images: the checksum-cached base image (ensure semantics) and the app image, wired to Dagger.
 *
 * What is built comes from the pure plans in `lib/image-build.ts`; whether the base image exists
 * comes from the registry (`aws/ecr.ts` for ECR, `registry/oci.ts` for any other). Secrets stay
 * secrets: the GitHub token is a BuildKit secret (`dockerBuild({ secrets })`, mounted at
 * `/run/secrets/<images.githubTokenSecretId>`), registry passwords go to `withRegistryAuth`.
 */
import { dag, type Container, type Directory, type Secret, type Service } from "@dagger.io/dagger";
import { resolveAwsEndpoint } from "./aws-endpoint.js";
import { createAwsClients } from "./aws/credential-provider.js";
import { EcrRegistry, type EcrApi } from "./aws/ecr.js";
import type { RunCredentials } from "./run-credentials.js";
import type { AwsCredentialInputs } from "./lib/aws-credential-source.js";
import { isEcr, registryHost, type PipelineConfig } from "./lib/config.js";
import { isLoopbackHost } from "./lib/image-ref.js";
import { errorMessage, PipelineError } from "./lib/errors.js";
import {
  ensureBaseImage,
  formatBaseImageOutcome,
  isDevelopBranch,
  planAppImageBuild,
  planBaseImageBuild,
  resolveBaseImageSelection,
  type AppImageBuildPlan,
  type BaseImageBuildPlan,
  type BaseImageOutcome,
  type BaseImageSelection,
  type BuildArgValue,
} from "./lib/image-build.js";
import { parseGitRef, parseSha, resolveEnvironment, resolveRef, type DeployTarget } from "./lib/refs.js";
import { OciRegistry, type FetchLike } from "./registry/oci.js";
import type { ImageRegistry } from "./registry/types.js";
import { readConfig, readDependencyFiles } from "./source.js";

/** The flags every image function takes, resolved the way `plan` resolves them. */
export interface ImageOptions {
  branch?: string;
  tag?: string;
  sha?: string;
  env?: string;
}

/** Seams for tests and callers: how to reach the registry. Defaults talk to the real thing. */
export interface ImageDeps {
  /** The ECR client for the registry's region (default: from the AWS credentials, lib/aws). */
  ecrClient?: (config: PipelineConfig, credentials: RunCredentials) => Promise<EcrApi>;
  /** fetch for the OCI API (default: global fetch). */
  fetch?: FetchLike;
  /** Progress lines (default: stderr, which Dagger shows in the function's log). */
  log?: (line: string) => void;
}

const defaultLog = (line: string) => process.stderr.write(`${line}\n`);

/** Plaintext of an optional secret, or undefined; read only where a client needs it. */
async function plaintextOf(secret: Secret | undefined): Promise<string | undefined> {
  return secret ? (await secret.plaintext()) || undefined : undefined;
}

/** The AWS inputs as plaintext for the shared credentials helper. */
export async function readAwsInputs(credentials: RunCredentials): Promise<AwsCredentialInputs> {
  const aws = credentials.aws;
  const [accessKeyId, secretAccessKey, sessionToken, credentialsFile, webIdentityToken] = await Promise.all([
    plaintextOf(aws.accessKeyId),
    plaintextOf(aws.secretAccessKey),
    plaintextOf(aws.sessionToken),
    plaintextOf(aws.credentialsFile),
    plaintextOf(aws.webIdentityToken),
  ]);
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken,
    credentialsFile,
    profile: aws.profile,
    webIdentityToken,
    roleArn: aws.webIdentityRoleArn,
  };
}

async function defaultEcrClient(config: PipelineConfig, credentials: RunCredentials): Promise<EcrApi> {
  const endpoint = (await resolveAwsEndpoint(credentials.awsEndpoint))?.url;
  return createAwsClients({ region: config.registry.region, credentials: await readAwsInputs(credentials), ...(endpoint ? { endpoint } : {}) }).ecr();
}

/**
 * The registry of the config: ECR unless `registry.host` is set, then the OCI distribution API,
 * through `with-registry-service` when given. The module's code runs in its own container and the
 * engine pulls and pushes from its own network: a loopback `registry.host` without a service
 * reaches nothing the caller runs, so it is refused here, before anything is built.
 */
export async function registryFor(config: PipelineConfig, credentials: RunCredentials, deps: ImageDeps = {}): Promise<ImageRegistry<Secret>> {
  const host = registryHost(config);
  const service = credentials.registryService;
  if (isEcr(config)) {
    const client = await (deps.ecrClient ?? defaultEcrClient)(config, credentials);
    return new EcrRegistry<Secret>({
      client,
      host,
      accountId: config.registry.awsAccountId,
      region: config.registry.region,
      toSecret: (name, plaintext) => dag.setSecret(name, plaintext),
    });
  }
  if (!service && isLoopbackHost(host)) throw loopbackRegistry(host);
  // A service's endpoint resolves in the session's network once the service runs
  // (engine/engineutil/executor_spec.go gives every exec, the module's included, the session domain).
  const apiHost = service ? await (await service.start()).endpoint() : undefined;
  const password = credentials.registryPassword;
  return new OciRegistry<Secret>({
    host,
    apiHost,
    ...(config.registry.plainHttp ? { scheme: "http" as const } : {}),
    username: credentials.registryUsername,
    readPassword: password ? async () => password.plaintext() : undefined,
    pushPassword: password,
    fetch: deps.fetch,
  });
}

function loopbackRegistry(host: string): PipelineError {
  return new PipelineError("REGISTRY_UNREACHABLE", `registry.host ${host} is a loopback address: the pipeline runs in Dagger's containers, where ${host} is not your machine`, {
    hint: `give your machine's registry as a service: with-registry-service --service tcp://localhost:${host.split(":").pop()} (or set registry.host to a name the Dagger engine resolves)`,
  });
}

/** A Dagger secret for a BuildKit `--mount=type=secret,id=<name>`, and that name. */
export interface BuildSecret {
  name: string;
  secret: Secret;
}

/** Where BuildKit mounts a build secret, and where dockerBuild leaves it in the returned container. */
export const BUILD_SECRET_DIR = "/run/secrets";

/**
 * The GitHub token as a secret named by `images.githubTokenSecretId`, because the engine answers a
 * Dockerfile's `--mount=type=secret,id=<id>` with the Secret whose NAME is `<id>`
 * (core/container.go Build). The plaintext goes only into `setSecret` (the engine scrubs it from
 * logs), never into an arg, env or label.
 */
export async function buildSecrets(config: PipelineConfig, credentials: RunCredentials): Promise<BuildSecret[]> {
  if (!credentials.githubToken) return [];
  const name = config.images.githubTokenSecretId;
  return [{ name, secret: dag.setSecret(name, await credentials.githubToken.plaintext()) }];
}

/**
 * `dockerBuild` without its secrets afterwards. The engine keeps every build secret mounted at
 * `/run/secrets/<name>` in the container dockerBuild returns (core/container.go Build;
 * util/llbtodagger/exec.go "preserve Dockerfile secret mounts in the resulting container"), where
 * every later exec (apt-get, rspec, rubocop, the served app) could read it: unmount them at once.
 */
export function dockerBuildWithoutSecrets(context: Directory, options: { dockerfile: string; buildArgs: BuildArgValue[]; secrets: BuildSecret[] }): Container {
  let ctr = context.dockerBuild({ dockerfile: options.dockerfile, buildArgs: options.buildArgs, secrets: options.secrets.map((s) => s.secret) });
  for (const s of options.secrets) ctr = ctr.withoutMount(`${BUILD_SECRET_DIR}/${s.name}`);
  return ctr;
}

/** The base image's Container (lazy): the plan's Dockerfile, build args and secrets, nothing else. */
export function baseImageContainer(source: Directory, plan: BaseImageBuildPlan, secrets: BuildSecret[]): Container {
  const context = plan.writeDockerfile ? source.withNewFile(plan.dockerfilePath, plan.dockerfileText) : source;
  return dockerBuildWithoutSecrets(context, { dockerfile: plan.dockerfilePath, buildArgs: plan.buildArgs, secrets });
}

/**
 * The pushed image `ref` as a Container, pulled with the registry's login (through the registry
 * service when one is given: the engine aliases the ref's host to it, core/container.go
 * ContainerRegistryServiceBinding).
 */
export async function pullImage(ref: string, registry: ImageRegistry<Secret>, service?: Service): Promise<Container> {
  const login = await registry.login();
  const ctr = login ? dag.container().withRegistryAuth(registry.host, login.username, login.password) : dag.container();
  return ctr.from(ref, service ? { registryService: service } : undefined);
}

/** Push with the registry's login; failures become PUSH_FAILED / REGISTRY_AUTH_FAILED naming the ref. */
async function publishTo(ctr: Container, ref: string, registry: ImageRegistry<Secret>, service?: Service): Promise<string> {
  const login = await registry.login();
  const authed = login ? ctr.withRegistryAuth(registry.host, login.username, login.password) : ctr;
  try {
    return await authed.publish(ref, service ? { registryService: service } : undefined);
  } catch (err) {
    const text = errorMessage(err);
    if (/\b(401|403)\b|unauthori[sz]ed|denied|authentication required/i.test(text)) {
      throw new PipelineError("REGISTRY_AUTH_FAILED", `registry ${registry.host} refused the push of ${ref}: ${firstLine(text)}`, {
        hint:
          registry.kind === "ecr"
            ? "check that the AWS identity may push to the repository (ecr:PutImage, ecr:InitiateLayerUpload, ...)"
            : "check the user and password given to with-registry-auth and that the user may push",
        cause: err,
      });
    }
    throw new PipelineError("PUSH_FAILED", `pushing ${ref} to ${registry.host} failed: ${firstLine(text)}`, {
      hint: `check that ${registry.host} is reachable from the Dagger engine and has room; rerun to retry`,
      cause: err,
    });
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 300);
}

export interface BaseImageRun {
  plan: BaseImageBuildPlan;
  outcome: BaseImageOutcome;
  /** The line(s) `dagger call base-image` prints. */
  report: string;
}

/**
 * Ensure the base image: compute checksum and tag, ask the registry, build and push only on a
 * miss, and push the latest alias (develop branch only) only after the main push succeeded.
 */
export async function publishBaseImage(
  source: Directory,
  options: ImageOptions,
  credentials: RunCredentials,
  deps: ImageDeps = {},
): Promise<BaseImageRun> {
  const config = await readConfig(source);
  if (options.sha) parseSha(options.sha);
  const selection = resolveBaseImageSelection({ config, env: options.env, branch: options.branch, tag: options.tag });
  return publishBaseImageWith(source, config, selection, credentials, deps);
}

async function publishBaseImageWith(
  source: Directory,
  config: PipelineConfig,
  selection: BaseImageSelection,
  credentials: RunCredentials,
  deps: ImageDeps,
  registryIn?: ImageRegistry<Secret>,
): Promise<BaseImageRun> {
  const files = await readDependencyFiles(source, config);
  const plan = planBaseImageBuild({ config, files, devVariant: selection.devVariant, pushLatest: selection.pushLatest });
  const registry = registryIn ?? (await registryFor(config, credentials, deps));
  const log = deps.log ?? defaultLog;
  const outcome = await ensureBaseImage<Container>(plan, {
    lookup: () => registry.lookup(plan.repository, plan.tag),
    build: async () => {
      const ctr = baseImageContainer(source, plan, await buildSecrets(config, credentials));
      try {
        return await ctr.sync();
      } catch (err) {
        throw new PipelineError("BUILD_FAILED", `building ${plan.sourceDockerfile}${plan.devVariant ? " (dev variant)" : ""} for ${plan.ref} failed: ${firstLine(errorMessage(err))}`, {
          hint: `the build log is above; to reproduce locally run ${
            plan.devVariant
              ? `grep -v '${config.images.devVariantMarker}' ${plan.sourceDockerfile} | DOCKER_BUILDKIT=1 docker build -f- --secret id=${plan.secretId},env=GITHUB_OAUTH_TOKEN .`
              : `DOCKER_BUILDKIT=1 docker build -f ${plan.sourceDockerfile} --secret id=${plan.secretId},env=GITHUB_OAUTH_TOKEN .`
          }`,
          cause: err,
        });
      }
    },
    publish: (ctr, ref) => publishTo(ctr, ref, registry, credentials.registryService),
    log,
  });
  const report = formatBaseImageOutcome(outcome);
  log(report);
  return { plan, outcome, report };
}

/** The deploy target of the flags: `--env` (manual) or the branch/tag rules. */
export function resolveAppTarget(config: PipelineConfig, options: ImageOptions): DeployTarget {
  const ref = parseGitRef({ branch: options.branch, tag: options.tag, sha: options.sha ?? "" });
  if (options.env) return resolveEnvironment(options.env, ref, config);
  const resolution = resolveRef(ref, config);
  if (!resolution.deploy) {
    throw new PipelineError("REF_INVALID", `no app image for ${resolution.reason}`, {
      hint: "pass --env dev|stage|prod to build for an environment anyway",
    });
  }
  return resolution.target;
}

export interface AppImageBuild {
  plan: AppImageBuildPlan;
  base: BaseImageRun;
  container: Container;
  registry: ImageRegistry<Secret>;
}

/**
 * The app image (lazy Container): ensures the base image first (so the Dockerfile's `FROM
 * ${BASE_IMAGE_NAME}` exists), registers the registry login with the engine so that FROM can be
 * pulled, and builds `images.appDockerfile` with BASE_IMAGE_NAME, DOCKER_TAG and VPC_NAME.
 */
export async function buildAppImage(source: Directory, options: ImageOptions, credentials: RunCredentials, deps: ImageDeps = {}): Promise<AppImageBuild> {
  const config = await readConfig(source);
  if (credentials.registryService) {
    throw new PipelineError("REGISTRY_UNREACHABLE", `the app image is built FROM the base image ${registryHost(config)}/...:<tag>, which the engine pulls by name through its own network: a registry given with with-registry-service cannot serve that pull (dockerBuild takes no registry service)`, {
      hint: "use a registry the Dagger engine resolves by name (pipeline.json registry.host) for app-image, publish-app-image and deploy; with-registry-service serves base-image, plan --check-registry, test and lint",
    });
  }
  const target = resolveAppTarget(config, options);
  const registry = await registryFor(config, credentials, deps);
  const selection: BaseImageSelection = {
    devVariant: target.devVariant,
    pushLatest: target.devVariant && Boolean(options.branch) && isDevelopBranch(options.branch!, config),
    reason: target.name,
  };
  const base = await publishBaseImageWith(source, config, selection, credentials, deps, registry);
  const plan = planAppImageBuild({ config, target, baseRef: base.plan.ref });
  const login = await registry.login();
  if (login) {
    // withRegistryAuth registers the login with the engine session; the Dockerfile's FROM pulls with it.
    await dag.container().withRegistryAuth(registry.host, login.username, login.password).sync();
  }
  const container = source.dockerBuild({ dockerfile: plan.dockerfilePath, buildArgs: plan.buildArgs });
  return { plan, base, container, registry };
}

/** Build and push the app image; returns `ref@digest`. */
export async function publishAppImage(source: Directory, options: ImageOptions, credentials: RunCredentials, deps: ImageDeps = {}): Promise<string> {
  return publishBuiltAppImage(await buildAppImage(source, options, credentials, deps), deps);
}

/** Push an app image already built (its base image ensured): for callers that report the two steps apart. */
export async function publishBuiltAppImage(build: AppImageBuild, deps: Pick<ImageDeps, "log"> = {}): Promise<string> {
  const published = await publishTo(build.container, build.plan.ref, build.registry);
  (deps.log ?? defaultLog)(`pushed ${published}`);
  return published;
}

/**
 * `dagger call serve --env dev`: the app image run as a Dagger service the way a pod runs it.
 *
 * - Ports: the service exposes exactly the port its process listens on. A starting service is
 *   health-checked on EVERY exposed port (core/service.go, core/healthcheck.go: the engine dials
 *   each with a backoff for about 15 minutes before it gives up), and dockerBuild turns each EXPOSE
 *   of the image into one (util/llbtodagger/metadata.go): the example's `EXPOSE 8080 25658` would
 *   keep the server from ever counting as started. So the image's ports are dropped and the server
 *   exposes 8080 only. The worker and scheduler listen on none: they expose 8080 with the health
 *   check explicitly skipped, only so that `up` (which forwards ports, "no ports to forward"
 *   otherwise: core/schema/host.go) keeps them running.
 * - The image is built locally, with no registry and no AWS: the base Dockerfile (the
 *   environment's variant) and the app Dockerfile are joined into one two-stage Dockerfile whose
 *   app stage starts `FROM ${BASE_IMAGE_NAME}` = the base stage (`planServeDockerfile`). So serve
 *   runs exactly the two Dockerfiles the deploy builds, on a laptop. `--image` runs a given app
 *   image instead.
 * - The container gets what the pod gets: `VPC_NAME`, `SERVER_FLAVOR`, and the decrypted env file
 *   as a SECRET file (`withMountedSecret` at `DECRYPTED_ENV_FILE`, read by `bin/env`), never as
 *   env variables. Its CMD (`bin/env`) runs the entrypoint; the server flavour creates, migrates
 *   and seeds the database before serving on 8080.
 * - Its own postgres and redis are bound as `postgres` and `redis`. Pod-level variables point the
 *   app at them (DATABASE_HOST, DATABASE_PORT, DATABASE_SUPER_USERNAME, REDIS_URL): hosts and a
 *   user name, no secrets; `bin/env` lets set variables win over the file, as Kubernetes env does.
 */
import { dag, type Container, type Directory, type NetworkProtocol, type Secret, type Service } from "@dagger.io/dagger";
import type { RunCredentials } from "./run-credentials.js";
import type { BuildArgValue } from "./lib/image-build.js";
import { planBaseImageBuild } from "./lib/image-build.js";
import type { EnvironmentName, PipelineConfig } from "./lib/config.js";
import { PipelineError } from "./lib/errors.js";
import { parseEnvironmentName } from "./lib/refs.js";
import { buildSecrets, dockerBuildWithoutSecrets } from "./images.js";
import { decryptEnvFileText, decryptedEnvSecretName, type SecretsDeps } from "./secrets.js";
import { readConfig, readDependencyFiles, readRequiredFile } from "./source.js";

export const SERVE_FLAVORS = ["server", "worker", "scheduler"] as const;
export type ServeFlavor = (typeof SERVE_FLAVORS)[number];

/** Where the decrypted env file is mounted (a secret mount: tmpfs, never in a layer). */
export const DECRYPTED_ENV_PATH = "/run/secrets/pipeline/decrypted.env";
/** The port the server flavour listens on (the seed's EXPOSE 8080). */
export const SERVER_PORT = 8080;
/** The stage name the joined Dockerfile gives the base image. */
export const SERVE_BASE_STAGE = "pipeline-serve-base";
/** Where the joined Dockerfile is written in the build context. */
export const SERVE_DOCKERFILE_PATH = ".pipeline/Dockerfile.serve";

const POSTGRES_PORT = 5432;
const REDIS_PORT = 6379;
const POSTGRES_SUPER_USER = "postgres";

export interface ServeOptions {
  env: string;
  flavor: string;
  /** Run this app image instead of building one. */
  image?: Container;
}

export interface ServeDeps extends SecretsDeps {
  /** The app image (default: `buildServeImage`). */
  appImage?: (source: Directory, config: PipelineConfig, env: EnvironmentName, credentials: RunCredentials) => Promise<Container>;
}

export function parseServeFlavor(flavor: string): ServeFlavor {
  const f = flavor.trim();
  if ((SERVE_FLAVORS as readonly string[]).includes(f)) return f as ServeFlavor;
  throw new PipelineError("ARGUMENT_INVALID", `--flavor ${JSON.stringify(flavor)} is not a process flavour`, {
    hint: `use one of ${SERVE_FLAVORS.join(", ")} (the SERVER_FLAVOR of the pods)`,
  });
}

const FROM_LINE = /^\s*FROM\s/i;
const DIRECTIVE_LINE = /^#\s*(syntax|escape|check)\s*=/i;

interface DockerfileParts {
  directives: string[];
  /** Lines before the first FROM: global ARGs and comments. */
  preamble: string[];
  /** The first FROM and everything after it. */
  body: string[];
}

function splitDockerfile(text: string, path: string): DockerfileParts {
  const lines = text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  let i = 0;
  const directives: string[] = [];
  while (i < lines.length && DIRECTIVE_LINE.test(lines[i]!)) directives.push(lines[i++]!);
  const first = lines.findIndex((l, n) => n >= i && FROM_LINE.test(l));
  if (first === -1) {
    throw new PipelineError("BUILD_FAILED", `${path} has no FROM line`, { hint: `start the build stage of ${path} with FROM <image>` });
  }
  return { directives, preamble: lines.slice(i, first), body: lines.slice(first) };
}

/**
 * Join the base Dockerfile (already in the right variant) and the app Dockerfile into one
 * two-stage Dockerfile (pure). The base's last stage is named (or its name reused); the app
 * Dockerfile's `FROM ${BASE_IMAGE_NAME}` then resolves to it when BASE_IMAGE_NAME is that name.
 * Global ARGs of both files move before the first FROM, where BuildKit needs them.
 */
export function planServeDockerfile(
  base: { text: string; path: string },
  app: { text: string; path: string },
): { text: string; baseStage: string } {
  const b = splitDockerfile(base.text, base.path);
  const a = splitDockerfile(app.text, app.path);
  const body = [...b.body];
  const lastFrom = body.map((l, n) => (FROM_LINE.test(l) ? n : -1)).filter((n) => n >= 0).at(-1)!;
  const named = /\sAS\s+([A-Za-z0-9_.-]+)\s*$/i.exec(body[lastFrom]!);
  const baseStage = named ? named[1]! : SERVE_BASE_STAGE;
  if (!named) body[lastFrom] = `${body[lastFrom]!.trimEnd()} AS ${SERVE_BASE_STAGE}`;
  const directives = b.directives.length > 0 ? b.directives : a.directives;
  const seen = new Set<string>();
  const globalArgs = [...b.preamble, ...a.preamble].filter((l) => {
    if (!/^\s*ARG\s/i.test(l)) return false;
    const key = l.trim();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const text = [
    ...directives,
    `# Generated by dagger call serve: ${base.path} (stage ${baseStage}) then ${app.path} built FROM it.`,
    ...globalArgs,
    "",
    `# ---- ${base.path}`,
    ...body,
    "",
    `# ---- ${app.path}`,
    ...a.body,
    "",
  ].join("\n");
  return { text, baseStage };
}

/**
 * The app image of `env`, built locally from the two Dockerfiles (lazy Container): the base in
 * the environment's variant (dev gems kept for dev/stage), then the app with the same build args
 * the deploy passes (BASE_IMAGE_NAME = the base stage, DOCKER_TAG, VPC_NAME). The GitHub token,
 * when given, is a BuildKit secret as in the base-image build.
 */
export async function buildServeImage(source: Directory, config: PipelineConfig, env: EnvironmentName, credentials: RunCredentials): Promise<Container> {
  const envConfig = config.environments[env];
  const files = await readDependencyFiles(source, config);
  const basePlan = planBaseImageBuild({ config, files, devVariant: envConfig.devVariant, pushLatest: false });
  const appText = await readRequiredFile(source, config.images.appDockerfile, "serve builds the app image from it");
  const joined = planServeDockerfile({ text: basePlan.dockerfileText, path: basePlan.sourceDockerfile }, { text: appText, path: config.images.appDockerfile });
  const buildArgs: BuildArgValue[] = [
    ...basePlan.buildArgs,
    { name: "BASE_IMAGE_NAME", value: joined.baseStage },
    { name: "DOCKER_TAG", value: `serve-${env}` },
    { name: "VPC_NAME", value: envConfig.vpcName },
  ];
  const context = source.withNewFile(SERVE_DOCKERFILE_PATH, joined.text);
  return dockerBuildWithoutSecrets(context, { dockerfile: SERVE_DOCKERFILE_PATH, buildArgs, secrets: await buildSecrets(config, credentials) });
}

/** The postgres the app gets (trust auth: no password anywhere; the entrypoint creates the database). */
export function servePostgres(config: PipelineConfig, env: EnvironmentName): Service {
  return dag
    .container()
    .from(config.test.postgresImage)
    .withEnvVariable("POSTGRES_HOST_AUTH_METHOD", "trust")
    .withEnvVariable("PIPELINE_SERVE", `${env}-postgres`)
    .withExposedPort(POSTGRES_PORT)
    .asService({ useEntrypoint: true });
}

/** The redis the app gets. */
export function serveRedis(config: PipelineConfig, env: EnvironmentName): Service {
  return dag
    .container()
    .from(config.test.redisImage)
    .withEnvVariable("PIPELINE_SERVE", `${env}-redis`)
    .withExposedPort(REDIS_PORT)
    .asService({ useEntrypoint: true });
}

/** A port the image exposes (from `Container.exposedPorts`). */
export interface ImagePort {
  port: number;
  protocol: NetworkProtocol;
}

/** The ports an image exposes: a dockerBuild gets one per EXPOSE, a `from` image none. */
export async function imagePorts(image: Container): Promise<ImagePort[]> {
  return Promise.all((await image.exposedPorts()).map(async (p) => ({ port: await p.port(), protocol: await p.protocol() })));
}

/**
 * The pod: the app image with VPC_NAME, SERVER_FLAVOR, the decrypted env file mounted as a secret
 * at DECRYPTED_ENV_FILE, the local-service overrides, postgres and redis bound; the image's own
 * ports dropped, 8080 exposed (health-checked for the server, not for the worker and scheduler).
 */
export function servePod(input: {
  image: Container;
  /** The ports the image exposes: dropped, the process does not listen on them. */
  imagePorts: readonly ImagePort[];
  env: EnvironmentName;
  vpcName: string;
  flavor: ServeFlavor;
  envFile: Secret;
  postgres: Service;
  redis: Service;
}): Container {
  let ctr = input.image;
  for (const p of input.imagePorts) ctr = ctr.withoutExposedPort(p.port, { protocol: p.protocol });
  ctr = ctr
    .withEnvVariable("VPC_NAME", input.vpcName)
    .withEnvVariable("SERVER_FLAVOR", input.flavor)
    .withMountedSecret(DECRYPTED_ENV_PATH, input.envFile)
    .withEnvVariable("DECRYPTED_ENV_FILE", DECRYPTED_ENV_PATH)
    // Kubernetes-style overrides (bin/env: a set variable wins): the app's own services.
    .withEnvVariable("DATABASE_HOST", "postgres")
    .withEnvVariable("DATABASE_PORT", String(POSTGRES_PORT))
    .withEnvVariable("DATABASE_SUPER_USERNAME", POSTGRES_SUPER_USER)
    .withEnvVariable("REDIS_URL", `redis://redis:${REDIS_PORT}/0`)
    .withServiceBinding("postgres", input.postgres)
    .withServiceBinding("redis", input.redis);
  if (input.flavor === "server") return ctr.withEnvVariable("PORT", String(SERVER_PORT)).withExposedPort(SERVER_PORT);
  // Nothing listens: the port only gives `up` something to forward, and is explicitly not checked.
  return ctr.withExposedPort(SERVER_PORT, { experimentalSkipHealthcheck: true, description: `${input.flavor}: not served, keeps up running` });
}

/** `dagger call serve`: validate the flags, decrypt the env file into a secret, build, bind, run. */
export async function serveApp(source: Directory, options: ServeOptions, credentials: RunCredentials, deps: ServeDeps = {}): Promise<Service> {
  const env = parseEnvironmentName(options.env);
  const flavor = parseServeFlavor(options.flavor);
  const config = await readConfig(source);
  const { text } = await decryptEnvFileText(source, config, env, credentials, deps);
  const envFile = dag.setSecret(decryptedEnvSecretName(env), text);
  const image = options.image ?? (await (deps.appImage ?? buildServeImage)(source, config, env, credentials));
  const pod = servePod({
    image,
    imagePorts: await imagePorts(image),
    env,
    vpcName: config.environments[env].vpcName,
    flavor,
    envFile,
    postgres: servePostgres(config, env),
    redis: serveRedis(config, env),
  });
  // The image's own command (CMD ["bin/env"]), as the pod runs it.
  return pod.asService({ useEntrypoint: true });
}

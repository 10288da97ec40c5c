/**
 * Env-file secrets wired to Dagger: `decrypt-env`, `encrypt-value` and `check-env`.
 *
 * The env files are `config/<env>.env` in the application repository. Their `kmscrypt::` tokens
 * are decrypted with KMS in the environment's region (`aws/kms.ts`, credentials from the
 * `with-aws-*` builders), and the decrypted file leaves this module only as a Dagger `Secret`
 * (`dag.setSecret`): never as a string result, an env variable, an exec argument or a log line.
 * A file without tokens (dev) needs no KMS and no AWS credentials.
 *
 * `checkEnvFiles(source, config)` is the plain function `plan` and `deploy` call first.
 */
import { dag, type Directory, type Secret } from "@dagger.io/dagger";
import { resolveAwsEndpoint } from "./aws-endpoint.js";
import { createAwsClients } from "./aws/credential-provider.js";
import { decryptEnvFile, encryptValue, kmsPort, type KmsPort } from "./aws/kms.js";
import { hasAwsCredentials, type RunCredentials } from "./run-credentials.js";
import { readAwsInputs } from "./images.js";
import { ENVIRONMENT_NAMES, type EnvironmentName, type PipelineConfig } from "./lib/config.js";
import { checkEnvFiles as checkEnvFilesPure, envFilePath, formatEnvCheckReport } from "./lib/env-check.js";
import { collectTokens, formatEnvFile, parseEnvFile } from "./lib/env-file.js";
import { missingSourceFile, PipelineError } from "./lib/errors.js";
import { parseEnvironmentName } from "./lib/refs.js";
import { readConfig } from "./source.js";


/** The name of the decrypted env file's Dagger secret: stable per environment. */
export function decryptedEnvSecretName(env: EnvironmentName): string {
  return `pipeline-decrypted-env-${env}`;
}

/** What KMS is used for, so the port can name the key and region. */
export interface KmsTarget {
  environment: EnvironmentName;
  region: string;
  keyId: string;
}

/** Seams for tests and callers. Defaults talk to AWS KMS with the run's credentials. */
export interface SecretsDeps {
  /** The KMS port for an environment (default: `kmsPort` over a KMS client from `createAwsClients`). */
  kms?: (target: KmsTarget, credentials: RunCredentials) => Promise<KmsPort>;
  /** Decryptions in flight at most (default: aws/kms.ts's). */
  concurrency?: number;
}

function kmsTarget(config: PipelineConfig, env: EnvironmentName): KmsTarget {
  const envConfig = config.environments[env];
  return { environment: env, region: envConfig.region, keyId: envConfig.kmsKeyId };
}

/** A KMS port for one call, and how to release it (the real client's sockets). */
interface OpenKms {
  port: KmsPort;
  close(): void;
}

/**
 * The injected port, or the real KMS in the environment's region. AWS_CREDENTIALS_INVALID, naming
 * the builders, when the real one is needed and no credentials were given.
 */
async function openKms(target: KmsTarget, credentials: RunCredentials, deps: SecretsDeps, why: string): Promise<OpenKms> {
  if (deps.kms) return { port: await deps.kms(target, credentials), close: () => undefined };
  if (!hasAwsCredentials(credentials.aws)) {
    throw new PipelineError("AWS_CREDENTIALS_INVALID", `${why} needs AWS credentials with KMS access in ${target.region}, and none were given`, {
      hint:
        "put with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY " +
        "(or --credentials-file file:$HOME/.aws/credentials, or with-aws-web-identity) before the function",
    });
  }
  const endpoint = (await resolveAwsEndpoint(credentials.awsEndpoint))?.url;
  const aws = createAwsClients({ region: target.region, credentials: await readAwsInputs(credentials), ...(endpoint ? { endpoint } : {}) });
  return { port: kmsPort(aws.kms()), close: () => aws.destroy() };
}

/** Read `config/<env>.env`; SOURCE_FILE_MISSING naming it when the repository has none. */
export async function readEnvFileText(source: Directory, env: EnvironmentName, why: string): Promise<{ path: string; text: string }> {
  const path = envFilePath(env);
  if (!(await source.exists(path))) throw missingSourceFile(path, why);
  return { path, text: await source.file(path).contents() };
}

/**
 * The decrypted env file as plaintext `KEY=value` lines (comments dropped). Only for code that
 * turns it into a `Secret` at once (`decryptEnvSecret`). Tokens are decrypted with KMS; a file
 * without tokens is only validated and rendered (no KMS, no AWS credentials). Errors name the key
 * and `file:line`, never a value.
 */
export async function decryptEnvFileText(
  source: Directory,
  config: PipelineConfig,
  env: EnvironmentName,
  credentials: RunCredentials,
  deps: SecretsDeps = {},
): Promise<{ path: string; text: string; tokens: number }> {
  const { path, text } = await readEnvFileText(source, env, `decrypt-env --env ${env} reads it`);
  const file = parseEnvFile(text, path);
  const tokens = collectTokens(file).size;
  if (tokens === 0) return { path, text: formatEnvFile(file), tokens };
  const target = kmsTarget(config, env);
  const kms = await openKms(target, credentials, deps, `${path} holds ${tokens} kmscrypt:: value${tokens === 1 ? "" : "s"}; decrypting them`);
  try {
    const decrypted = await decryptEnvFile(file, kms.port, {
      environment: env,
      region: target.region,
      keyId: target.keyId,
      ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
    });
    return { path, text: formatEnvFile(decrypted), tokens };
  } finally {
    kms.close();
  }
}

/**
 * `dagger call decrypt-env --env <env>`: the decrypted `config/<env>.env` as a Dagger `Secret`.
 * The plaintext goes only into `dag.setSecret` (the engine scrubs it from logs); reading it back
 * takes an explicit `plaintext` call by the user.
 */
export async function decryptEnvSecret(source: Directory, envFlag: string, credentials: RunCredentials, deps: SecretsDeps = {}): Promise<Secret> {
  const env = parseEnvironmentName(envFlag);
  const config = await readConfig(source);
  const { text } = await decryptEnvFileText(source, config, env, credentials, deps);
  return dag.setSecret(decryptedEnvSecretName(env), text);
}

/**
 * `dagger call encrypt-value --env <env> --value env:MY_SECRET`: the `kmscrypt::<base64>` token to
 * paste into `config/<env>.env`, encrypted under `environments.<env>.kmsKeyId` in the
 * environment's region. The value arrives as a `Secret` and is read only to hand it to KMS.
 */
export async function encryptValueToken(
  source: Directory,
  envFlag: string,
  value: Secret,
  credentials: RunCredentials,
  deps: SecretsDeps = {},
): Promise<string> {
  const env = parseEnvironmentName(envFlag);
  const config = await readConfig(source);
  const target = kmsTarget(config, env);
  const kms = await openKms(target, credentials, deps, `encrypt-value --env ${env}`);
  try {
    return await encryptValue(kms.port, target.keyId, await value.plaintext(), { environment: env, region: target.region, keyId: target.keyId });
  } finally {
    kms.close();
  }
}

export interface CheckEnvOptions {
  /** Check only this environment's file (`--env`); all configured environments when empty. */
  env?: string;
}

/**
 * The check-env lint over the repository's env files, before anything else in `plan`/`deploy`:
 * reads every file (or `options.env`'s) and runs the pure `checkEnvFiles` (lib/env-check.ts).
 * Returns the `ok` lines; throws one error listing every problem.
 */
export async function checkEnvFiles(source: Directory, config: PipelineConfig, options: CheckEnvOptions = {}): Promise<string> {
  const envs: EnvironmentName[] = options.env ? [parseEnvironmentName(options.env)] : [...ENVIRONMENT_NAMES];
  const files = await Promise.all(
    envs.map(async (environment) => {
      const path = envFilePath(environment);
      if (!(await source.exists(path))) {
        if (options.env) throw missingSourceFile(path, `check-env --env ${environment} checks it`);
        return { environment, path };
      }
      return { environment, path, text: await source.file(path).contents() };
    }),
  );
  const checks = checkEnvFilesPure(files, { patterns: config.secrets.secretKeyPatterns, allowList: config.secrets.plaintextAllowList });
  return formatEnvCheckReport(checks);
}

/** `dagger call check-env`: read the config, then `checkEnvFiles`. */
export async function runCheckEnv(source: Directory, options: CheckEnvOptions = {}): Promise<string> {
  return checkEnvFiles(source, await readConfig(source), options);
}

/**
 * AWS credentials and clients for the adapters (ECR, STS, KMS), from the AWS SDK's own providers.
 *
 * `createAwsClients({ region, credentials })` takes the plaintext inputs a Dagger function read
 * from its `Secret` arguments, validates their shapes at once (`lib/aws-credential-source.ts`: bad
 * flags fail before anything runs) and builds one provider from `@aws-sdk/credential-providers`:
 * - keys: used as they are;
 * - a shared credentials/config file + profile: `fromIni` (role_arn/source_profile chains,
 *   credential_process, ...). The file arrives as a Secret's text: it is written to a private
 *   temporary file (0600 in a 0700 folder) that exists only while `fromIni` reads it;
 * - a CI OIDC token + role: `fromWebToken` (AssumeRoleWithWebIdentity);
 * - `--role-arn` on top of keys or a profile: `fromTemporaryCredentials` (AssumeRole).
 * Roles of `fromIni` profiles and web identities are assumed with the injectable STS client
 * (`createSts`), so tests drive them with aws-sdk-client-mock. Each SDK client memoizes the provider
 * and refreshes it five minutes before expiry (@aws-sdk/core resolveAwsSdkSigV4Config ->
 * memoizeIdentityProvider), so nothing here caches.
 *
 * Every client and provider handed out goes through `redaction.ts` with the credentials in play:
 * no AWS error leaves with a credential in it, whatever AWS sends.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECRClient } from "@aws-sdk/client-ecr";
import { KMSClient } from "@aws-sdk/client-kms";
import { STSClient } from "@aws-sdk/client-sts";
import { fromIni, fromTemporaryCredentials, fromWebToken } from "@aws-sdk/credential-providers";
import {
  AWS_CREDENTIAL_FLAGS,
  checkStaticKeys,
  DEFAULT_SESSION_NAME,
  describeSource,
  resolveCredentialSource,
  sourceSecrets,
  type AwsCredentialInputs,
  type AwsCredentials,
  type CredentialSource,
  type ProfileSource,
} from "../lib/aws-credential-source.js";
import { explainProfileFailure, locateValue } from "../lib/aws-profile.js";
import { PipelineError, ProblemsError, type Problem } from "../lib/errors.js";
import { awsErrorText } from "./aws-errors.js";
import { CredentialsInPlay, redactingClient, redactingProvider } from "./redaction.js";
import { assumeRole, assumeRoleWithWebIdentity, DEFAULT_DURATION_SECONDS, stsFailure } from "./sts.js";

/** What the AWS SDK accepts as `credentials`. */
export type AwsCredentialProvider = () => Promise<AwsCredentials>;

/** Builds the STS client that assumes a role (given the source credentials; none for OIDC). */
export type StsClientFactory = (credentials: AwsCredentials | undefined) => STSClient;

export interface AwsClients {
  readonly region: string;
  /** The provider the clients use (call it for the credentials themselves, e.g. for terragrunt). */
  readonly credentials: AwsCredentialProvider;
  /** Where the credentials come from, safe to print (flags, profile, role ARN). */
  readonly description: string;
  sts(): STSClient;
  kms(): KMSClient;
  ecr(): ECRClient;
  /** Close the clients that were created (not injected ones). */
  destroy(): void;
}

export interface AwsClientsOptions {
  region: string;
  /** Send every request (STS, KMS, ECR) here instead of AWS's public endpoints (with-aws-endpoint); default AWS. */
  endpoint?: string;
  /** The inputs from the Dagger function's secrets, or a ready provider. */
  credentials: AwsCredentialInputs | AwsCredentialProvider;
  /** Ready clients (tests, or sharing across calls); the others are created on first use. Either way they are wrapped for redaction. */
  clients?: Partial<{ sts: STSClient; kms: KMSClient; ecr: ECRClient }>;
  /** STS client that assumes the roles of profiles and web identities (default: `new STSClient({ region, credentials })`). */
  createSts?: StsClientFactory;
  credentialsPath?: string;
  /** Epoch milliseconds, for the expiry check of a web identity token. */
  now?: () => number;
}

/**
 * One credential provider, three lazily created clients in one region, all redacting.
 * Example: `const aws = createAwsClients({ region: env.region, credentials: { accessKeyId, secretAccessKey } });`
 * then `kmsPort(aws.kms())`, `aws.ecr().send(new GetAuthorizationTokenCommand({}))`.
 */
export function createAwsClients(options: AwsClientsOptions): AwsClients {
  const { region } = options;
  const inPlay = new CredentialsInPlay();
  let provider: AwsCredentialProvider;
  let description: string;
  if (typeof options.credentials === "function") {
    provider = options.credentials;
    description = "credentials from a provider";
  } else {
    const source = resolveCredentialSource(options.credentials, {
      now: new Date(options.now ? options.now() : Date.now()),
      ...(options.credentialsPath ? { credentialsPath: options.credentialsPath } : {}),
    });
    inPlay.add(...sourceSecrets(source));
    const endpoint = options.endpoint ? { endpoint: options.endpoint } : {};
    const makeSts = options.createSts ?? ((credentials) => new STSClient({ region, ...endpoint, ...(credentials ? { credentials } : {}) }));
    provider = providerFor(source, { region, createSts: (credentials) => redactingClient(makeSts(credentials), inPlay) });
    description = describeSource(source);
  }
  const credentials = redactingProvider(provider, inPlay);
  const created: Array<{ destroy(): void }> = [];
  const lazy = <T extends { destroy(): void; send: STSClient["send"] | KMSClient["send"] | ECRClient["send"] }>(injected: T | undefined, make: () => T): (() => T) => {
    let client: T | undefined;
    return () => {
      if (!client) {
        const raw = injected ?? make();
        if (!injected) created.push(raw);
        client = redactingClient(raw, inPlay);
      }
      return client;
    };
  };
  const config = { region, credentials, ...(options.endpoint ? { endpoint: options.endpoint } : {}) };
  return {
    region,
    credentials,
    description,
    sts: lazy(options.clients?.sts, () => new STSClient(config)),
    kms: lazy(options.clients?.kms, () => new KMSClient(config)),
    ecr: lazy(options.clients?.ecr, () => new ECRClient(config)),
    destroy: () => created.splice(0).forEach((c) => c.destroy()),
  };
}

interface ProviderDeps {
  region: string;
  /** Already redacting. */
  createSts: StsClientFactory;
}

/** The AWS SDK provider for a validated source. */
export function providerFor(source: CredentialSource, deps: ProviderDeps): AwsCredentialProvider {
  switch (source.kind) {
    case "static": {
      const credentials = source.credentials;
      return async () => credentials;
    }
    case "profile":
      return profileProvider(source, deps);
    case "web-identity":
      return fromWebToken({
        roleArn: source.roleArn,
        webIdentityToken: source.webIdentityToken,
        roleSessionName: source.sessionName,
        ...(source.durationSeconds !== undefined ? { durationSeconds: source.durationSeconds } : {}),
        roleAssumerWithWebIdentity: (params) =>
          withStsClient(deps, undefined, (sts) =>
            assumeRoleWithWebIdentity(sts, {
              roleArn: params.RoleArn!,
              webIdentityToken: params.WebIdentityToken!,
              ...(params.RoleSessionName ? { sessionName: params.RoleSessionName } : {}),
              ...(params.DurationSeconds !== undefined ? { durationSeconds: params.DurationSeconds } : {}),
            }),
          ),
      }) as AwsCredentialProvider;
    case "assume-role": {
      const assume = fromTemporaryCredentials({
        masterCredentials: providerFor(source.source, deps),
        params: {
          RoleArn: source.roleArn,
          RoleSessionName: source.sessionName,
          DurationSeconds: source.durationSeconds ?? DEFAULT_DURATION_SECONDS,
          ...(source.externalId ? { ExternalId: source.externalId } : {}),
        },
        clientConfig: { region: deps.region },
      });
      return async () => {
        try {
          return (await assume()) as AwsCredentials;
        } catch (err) {
          throw stsFailure(err, { action: "AssumeRole", roleArn: source.roleArn });
        }
      };
    }
  }
}

/**
 * `fromIni` over the profile's file, written to a private temporary file for the one read. The
 * same text is given as the credentials file (`[name]` sections) and the config file
 * (`[profile name]`, `[sso-session x]` sections), as the AWS CLI would read either.
 */
function profileProvider(source: ProfileSource, deps: ProviderDeps): AwsCredentialProvider {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "pipeline-aws-profile-"));
    try {
      const filepath = join(dir, "credentials");
      const configFilepath = join(dir, "config");
      await writeFile(filepath, source.text, { mode: 0o600, flag: "wx" });
      await writeFile(configFilepath, source.text, { mode: 0o600, flag: "wx" });
      const credentials = await fromIni({
        profile: source.profile,
        filepath,
        configFilepath,
        ignoreCache: true,
        roleAssumer: async (sourceCredentials, params) => {
          assertKeyShapes(source, sourceCredentials);
          return withStsClient(deps, sourceCredentials as AwsCredentials, (sts) =>
            assumeRole(sts, {
              roleArn: params.RoleArn,
              // The SDK names unnamed sessions aws-sdk-js-<time>; ours are named like every other session of the pipeline.
              sessionName: params.RoleSessionName?.startsWith("aws-sdk-js-") ? DEFAULT_SESSION_NAME : (params.RoleSessionName ?? DEFAULT_SESSION_NAME),
              ...(params.DurationSeconds !== undefined ? { durationSeconds: params.DurationSeconds } : {}),
              ...(params.ExternalId ? { externalId: params.ExternalId } : {}),
            }),
          );
        },
      })();
      assertKeyShapes(source, credentials);
      return credentials as AwsCredentials;
    } catch (err) {
      if (err instanceof PipelineError) throw err;
      throw (
        explainProfileFailure(awsErrorText(err), { text: source.text, path: source.path, profile: source.profile, flags: AWS_CREDENTIAL_FLAGS }) ??
        new PipelineError("AWS_CREDENTIALS_INVALID", `AWS credentials from ${describeSource(source)} could not be resolved (${awsErrorText(err)})`, {
          hint: `check profile ${source.profile} in ${source.path}`,
          cause: err,
        })
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

/** One STS client for one role assumption (each refresh makes its own), closed afterwards. */
async function withStsClient<T>(deps: ProviderDeps, credentials: AwsCredentials | undefined, use: (sts: STSClient) => Promise<T>): Promise<T> {
  const sts = deps.createSts(credentials);
  try {
    return await use(sts);
  } finally {
    sts.destroy();
  }
}

/** Keys read from the file must look like keys; problems name `file:line [profile] key`, never the value. */
function assertKeyShapes(source: ProfileSource, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): void {
  const label = (key: string, value: string | undefined) => (value === undefined ? `${source.path} ${key}` : locateValue(source.text, source.path, key, value));
  const problems: Problem[] = [];
  checkStaticKeys(
    credentials,
    {
      accessKeyId: label("aws_access_key_id", credentials.accessKeyId),
      secretAccessKey: label("aws_secret_access_key", credentials.secretAccessKey),
      sessionToken: label("aws_session_token", credentials.sessionToken),
    },
    problems,
  );
  if (problems.length > 0) throw new ProblemsError("AWS_CREDENTIALS_INVALID", "AWS credentials are invalid", problems);
}

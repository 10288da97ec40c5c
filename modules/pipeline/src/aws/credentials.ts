/**
 * The one AWS credentials helper ECR, STS and KMS code share.
 *
 * `createAwsClients({ region, credentials })` takes the plaintext inputs a Dagger function read
 * from its `Secret` arguments (or a ready provider), resolves them once (`resolveCredentialSource`
 * in `lib/aws-credentials.ts` validates the shapes), assumes roles through STS where the source
 * needs it, and hands out STS/KMS/ECR clients that all use the same memoized provider. Temporary
 * credentials are refreshed five minutes before they expire.
 *
 * Tests inject clients (`clients`) or mock the client classes with `aws-sdk-client-mock`.
 * Nothing here logs; errors carry role ARNs, flags and profile names, never a secret (AWS's own
 * messages are passed through `redactSecrets` with the secrets in play).
 */
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
  type Credentials as StsCredentials,
} from "@aws-sdk/client-sts";
import { KMSClient } from "@aws-sdk/client-kms";
import { ECRClient } from "@aws-sdk/client-ecr";
import { PipelineError } from "../lib/errors.js";
import {
  DEFAULT_SESSION_NAME,
  describeSource,
  redactSecrets,
  resolveCredentialSource,
  sourceSecrets,
  type AwsCredentialInputs,
  type AwsCredentials,
  type CredentialSource,
} from "../lib/aws-credentials.js";

/** What the AWS SDK accepts as `credentials`: called before each request, memoized here. */
export type AwsCredentialProvider = () => Promise<AwsCredentials>;

/** Builds the STS client used to assume roles (given the source credentials; none for OIDC). */
export type StsClientFactory = (credentials: AwsCredentialProvider | undefined) => STSClient;

export interface AssumeRoleParams {
  roleArn: string;
  sessionName?: string;
  /** 900..43200; defaults to 3600. */
  durationSeconds?: number;
  externalId?: string;
}

export interface WebIdentityParams {
  roleArn: string;
  webIdentityToken: string;
  sessionName?: string;
  durationSeconds?: number;
}

const DEFAULT_DURATION_SECONDS = 3600;
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** Error names that mean the caller's own credentials are bad (not the role's trust policy). */
const CREDENTIAL_ERRORS: Record<string, string> = {
  InvalidClientTokenId: "AWS does not know the access key id (deleted or deactivated key, or a key from another partition)",
  UnrecognizedClientException: "AWS does not know the access key id or session token",
  SignatureDoesNotMatch: "the secret access key does not belong to the access key id",
  InvalidSignatureException: "the secret access key does not belong to the access key id",
  IncompleteSignature: "the request signature is incomplete (a key or token is truncated)",
  ExpiredToken: "the credentials have expired",
  ExpiredTokenException: "the credentials have expired",
  MissingAuthenticationToken: "no credentials were sent",
  CredentialsProviderError: "no credentials could be loaded",
};

/**
 * `AssumeRole`: temporary credentials for `roleArn`. AWS_ASSUME_ROLE_FAILED names the role and,
 * on AccessDenied, points at the trust policy and the caller's `sts:AssumeRole` permission.
 */
export async function assumeRole(sts: STSClient, params: AssumeRoleParams, secrets: readonly string[] = []): Promise<AwsCredentials> {
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName ?? DEFAULT_SESSION_NAME,
        DurationSeconds: params.durationSeconds ?? DEFAULT_DURATION_SECONDS,
        ...(params.externalId ? { ExternalId: params.externalId } : {}),
      }),
    );
    return toCredentials(out.Credentials, params.roleArn);
  } catch (err) {
    throw stsFailure(err, { action: "AssumeRole", roleArn: params.roleArn, secrets });
  }
}

/** `AssumeRoleWithWebIdentity` (CI OIDC): unsigned, so `sts` needs no credentials. */
export async function assumeRoleWithWebIdentity(sts: STSClient, params: WebIdentityParams): Promise<AwsCredentials> {
  try {
    const out = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName ?? DEFAULT_SESSION_NAME,
        WebIdentityToken: params.webIdentityToken,
        DurationSeconds: params.durationSeconds ?? DEFAULT_DURATION_SECONDS,
      }),
    );
    return toCredentials(out.Credentials, params.roleArn);
  } catch (err) {
    throw stsFailure(err, { action: "AssumeRoleWithWebIdentity", roleArn: params.roleArn, secrets: [params.webIdentityToken] });
  }
}

/** A refreshing provider of `roleArn`'s credentials, assumed with `sts` (e.g. the deploy role). */
export function assumeRoleProvider(sts: STSClient, params: AssumeRoleParams, options: { now?: () => number } = {}): AwsCredentialProvider {
  return memoizeCredentials(() => assumeRole(sts, params), options.now);
}

/** `GetCallerIdentity`: which account and principal the credentials belong to. */
export async function getCallerIdentity(sts: STSClient): Promise<{ account: string; arn: string; userId: string }> {
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? "", arn: out.Arn ?? "", userId: out.UserId ?? "" };
  } catch (err) {
    throw stsFailure(err, { action: "GetCallerIdentity", secrets: [] });
  }
}

export interface CredentialProviderOptions {
  region: string;
  /** Send every request here instead of AWS's public endpoint (e.g. http://localstack:4566); default AWS. */
  endpoint?: string;
  /** Defaults to `new STSClient({ region, credentials })`. */
  createSts?: StsClientFactory;
  /** Epoch milliseconds, for the refresh decision. */
  now?: () => number;
}

/** A provider for a resolved source: static keys as they are; roles assumed (and re-assumed) via STS. */
export function credentialProviderFor(source: CredentialSource, options: CredentialProviderOptions): AwsCredentialProvider {
  const createSts =
    options.createSts ?? ((credentials) => new STSClient({ region: options.region, ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(credentials ? { credentials } : {}) }));
  switch (source.kind) {
    case "static": {
      const credentials = source.credentials;
      return async () => credentials;
    }
    case "assume-role": {
      const sourceProvider = credentialProviderFor(source.source, options);
      const sts = createSts(sourceProvider);
      const secrets = sourceSecrets(source);
      return memoizeCredentials(
        () =>
          assumeRole(
            sts,
            {
              roleArn: source.roleArn,
              sessionName: source.sessionName,
              ...(source.durationSeconds !== undefined ? { durationSeconds: source.durationSeconds } : {}),
              ...(source.externalId !== undefined ? { externalId: source.externalId } : {}),
            },
            secrets,
          ),
        options.now,
      );
    }
    case "web-identity": {
      const sts = createSts(undefined);
      return memoizeCredentials(
        () =>
          assumeRoleWithWebIdentity(sts, {
            roleArn: source.roleArn,
            webIdentityToken: source.webIdentityToken,
            sessionName: source.sessionName,
            ...(source.durationSeconds !== undefined ? { durationSeconds: source.durationSeconds } : {}),
          }),
        options.now,
      );
    }
  }
}

/** Inputs -> validated source -> provider. Throws AWS_CREDENTIALS_INVALID on bad shapes. */
export function resolveAwsCredentials(
  inputs: AwsCredentialInputs,
  options: CredentialProviderOptions & { credentialsPath?: string },
): { provider: AwsCredentialProvider; source: CredentialSource; description: string } {
  const source = resolveCredentialSource(inputs, {
    now: new Date(options.now ? options.now() : Date.now()),
    ...(options.credentialsPath ? { credentialsPath: options.credentialsPath } : {}),
  });
  return { provider: credentialProviderFor(source, options), source, description: describeSource(source) };
}

/**
 * Share one in-flight fetch; keep the result until five minutes before it expires; after a
 * failure the next call tries again.
 */
export function memoizeCredentials(fetch: () => Promise<AwsCredentials>, now: () => number = Date.now): AwsCredentialProvider {
  let current: Promise<AwsCredentials> | undefined;
  let value: AwsCredentials | undefined;
  return async () => {
    if (value && (!value.expiration || value.expiration.getTime() - now() > REFRESH_MARGIN_MS)) return value;
    if (!current) {
      current = fetch().then(
        (v) => {
          value = v;
          current = undefined;
          return v;
        },
        (err: unknown) => {
          current = undefined;
          throw err;
        },
      );
    }
    return current;
  };
}

export interface AwsClients {
  readonly region: string;
  /** The shared provider (pass it to any other SDK client). */
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
  /** Send every request (STS, KMS, ECR) here instead of AWS's public endpoints; default AWS. */
  endpoint?: string;
  /** The inputs from the Dagger function's secrets, or a ready provider. */
  credentials: AwsCredentialInputs | AwsCredentialProvider;
  /** Ready clients (tests, or sharing across calls); the others are created on first use. */
  clients?: Partial<{ sts: STSClient; kms: KMSClient; ecr: ECRClient }>;
  /** STS client used to assume roles while resolving `credentials`. */
  createSts?: StsClientFactory;
  credentialsPath?: string;
  now?: () => number;
}

/**
 * One credential provider, three lazily created clients in one region.
 * Example: `const aws = createAwsClients({ region: env.region, credentials: { accessKeyId, secretAccessKey } });`
 * then `kmsPort(aws.kms())`, `aws.ecr().send(new GetAuthorizationTokenCommand({}))`.
 */
export function createAwsClients(options: AwsClientsOptions): AwsClients {
  const { region } = options;
  let provider: AwsCredentialProvider;
  let description: string;
  if (typeof options.credentials === "function") {
    provider = options.credentials;
    description = "credentials from a provider";
  } else {
    const resolved = resolveAwsCredentials(options.credentials, {
      region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.createSts ? { createSts: options.createSts } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.credentialsPath ? { credentialsPath: options.credentialsPath } : {}),
    });
    provider = resolved.provider;
    description = resolved.description;
  }
  const created: Array<{ destroy(): void }> = [];
  const lazy = <T extends { destroy(): void }>(injected: T | undefined, make: () => T): (() => T) => {
    let client = injected;
    return () => {
      if (!client) {
        client = make();
        created.push(client);
      }
      return client;
    };
  };
  const config = { region, credentials: provider, ...(options.endpoint ? { endpoint: options.endpoint } : {}) };
  return {
    region,
    credentials: provider,
    description,
    sts: lazy(options.clients?.sts, () => new STSClient(config)),
    kms: lazy(options.clients?.kms, () => new KMSClient(config)),
    ecr: lazy(options.clients?.ecr, () => new ECRClient(config)),
    destroy: () => created.splice(0).forEach((c) => c.destroy()),
  };
}

function toCredentials(c: StsCredentials | undefined, roleArn: string): AwsCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey) {
    throw new PipelineError("AWS_ASSUME_ROLE_FAILED", `STS returned no credentials for ${roleArn}`, { hint: "retry; if it persists, check the AWS service health for STS" });
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}

/** The error name the SDK gives (`AccessDenied`, `ExpiredTokenException`, ...). */
export function awsErrorName(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const n of [e.name, e.Code, e.code]) if (typeof n === "string" && n !== "Error") return n;
  }
  return "Error";
}

/** AWS's message with the secrets in play removed. */
export function awsErrorText(err: unknown, secrets: readonly string[]): string {
  const message = err instanceof Error ? err.message : String(err);
  return redactSecrets(message, secrets).split("\n")[0]!.slice(0, 400);
}

function stsFailure(err: unknown, ctx: { action: string; roleArn?: string; secrets: readonly string[] }): PipelineError {
  if (err instanceof PipelineError) return err;
  const name = awsErrorName(err);
  const detail = `${name}: ${awsErrorText(err, ctx.secrets)}`;
  const role = ctx.roleArn ?? "";
  const webIdentity = ctx.action === "AssumeRoleWithWebIdentity";
  if (webIdentity && (name === "ExpiredTokenException" || name === "ExpiredToken")) {
    return new PipelineError("AWS_CREDENTIALS_INVALID", `the web identity token for ${role} has expired (${detail})`, {
      hint: "pass the OIDC token of the running CI job (e.g. env:CIRCLE_OIDC_TOKEN_V2); they live about an hour",
      cause: err,
    });
  }
  if (name in CREDENTIAL_ERRORS) {
    return new PipelineError("AWS_CREDENTIALS_INVALID", `${ctx.action}${role ? ` for ${role}` : ""} failed: ${CREDENTIAL_ERRORS[name]} (${detail})`, {
      hint: "pass fresh credentials (key id, secret key and, for temporary keys, the session token of the same session)",
      cause: err,
    });
  }
  if (name === "InvalidIdentityToken" || name === "IDPRejectedClaim") {
    return new PipelineError("AWS_ASSUME_ROLE_FAILED", `${ctx.action} for ${role} rejected the web identity token (${detail})`, {
      hint:
        "check that the CI's OIDC provider is registered in IAM for this account (issuer URL and audience), and that the role's trust policy " +
        "conditions on aud/sub match this project and branch",
      cause: err,
    });
  }
  if (name === "AccessDenied" || name === "AccessDeniedException") {
    return new PipelineError("AWS_ASSUME_ROLE_FAILED", `not allowed to assume ${role || "the role"} (${detail})`, {
      hint: webIdentity
        ? `the trust policy of ${role} must allow sts:AssumeRoleWithWebIdentity for your CI's OIDC provider (Federated principal) with matching aud/sub conditions`
        : `the trust policy of ${role} must name the calling principal, and that principal needs sts:AssumeRole on ${role} in its IAM policy`,
      cause: err,
    });
  }
  if (name === "RegionDisabledException") {
    return new PipelineError("AWS_ASSUME_ROLE_FAILED", `${ctx.action} for ${role}: STS is not activated in this region (${detail})`, {
      hint: "activate the region's STS endpoint in IAM account settings, or use the environment's region",
      cause: err,
    });
  }
  if (name === "ValidationError" && /duration/i.test(detail)) {
    return new PipelineError("AWS_ASSUME_ROLE_FAILED", `${ctx.action} for ${role}: the session duration is longer than the role allows (${detail})`, {
      hint: "lower duration_seconds or raise the role's maximum session duration",
      cause: err,
    });
  }
  return new PipelineError(ctx.action === "GetCallerIdentity" ? "AWS_CREDENTIALS_INVALID" : "AWS_ASSUME_ROLE_FAILED", `${ctx.action}${role ? ` for ${role}` : ""} failed (${detail})`, {
    hint: "check the network to sts.<region>.amazonaws.com and retry; the error name above says what AWS refused",
    cause: err,
  });
}

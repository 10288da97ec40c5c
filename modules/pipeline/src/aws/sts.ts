/**
 * STS behind three calls: `assumeRole` (the deploy role, and roles of `fromIni` profiles),
 * `assumeRoleWithWebIdentity` (CI OIDC, for `fromWebToken`) and `getCallerIdentity`. Failures
 * become PipelineErrors naming the role and what to check (`stsFailure`, also used for the
 * SDK's `fromTemporaryCredentials`). The client comes from `createAwsClients`, whose redaction
 * has already removed every credential from AWS's text.
 */
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  type Credentials as StsCredentials,
  type STSClient,
} from "@aws-sdk/client-sts";
import { DEFAULT_SESSION_NAME, type AwsCredentials } from "../lib/aws-credential-source.js";
import { PipelineError } from "../lib/errors.js";
import { awsErrorName, awsErrorText, CREDENTIAL_ERRORS } from "./aws-errors.js";

/** The one method of the SDK client used here. */
export type StsApi = Pick<STSClient, "send">;

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

export const DEFAULT_DURATION_SECONDS = 3600;

/**
 * `AssumeRole`: temporary credentials for `roleArn`. AWS_ASSUME_ROLE_FAILED names the role and,
 * on AccessDenied, points at the trust policy and the caller's `sts:AssumeRole` permission.
 */
export async function assumeRole(sts: StsApi, params: AssumeRoleParams): Promise<AwsCredentials> {
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
    throw stsFailure(err, { action: "AssumeRole", roleArn: params.roleArn });
  }
}

/** `AssumeRoleWithWebIdentity` (CI OIDC): unsigned, so `sts` needs no credentials. */
export async function assumeRoleWithWebIdentity(sts: StsApi, params: WebIdentityParams): Promise<AwsCredentials> {
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
    throw stsFailure(err, { action: "AssumeRoleWithWebIdentity", roleArn: params.roleArn });
  }
}

/** `GetCallerIdentity`: which account and principal the credentials belong to. */
export async function getCallerIdentity(sts: StsApi): Promise<{ account: string; arn: string; userId: string }> {
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? "", arn: out.Arn ?? "", userId: out.UserId ?? "" };
  } catch (err) {
    throw stsFailure(err, { action: "GetCallerIdentity" });
  }
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

/** An STS (or STS-backed provider) failure as a PipelineError naming the role and the fix. */
export function stsFailure(err: unknown, ctx: { action: string; roleArn?: string }): PipelineError {
  if (err instanceof PipelineError) return err;
  const name = awsErrorName(err);
  const detail = `${name}: ${awsErrorText(err)}`;
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

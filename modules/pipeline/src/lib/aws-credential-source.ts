/**
 * AWS credentials as a Dagger function receives them, turned into a typed source. Pure.
 *
 * A module function runs in a container that sees neither the caller's environment nor `~/.aws`,
 * so credentials arrive as `Secret` arguments whose plaintext the caller reads and passes here:
 * (a) an access key id + secret key (+ session token), (b) a shared credentials file's text and a
 * profile name, or (c) a CI OIDC web identity token + role ARN. `resolveCredentialSource` validates
 * the shapes and says which kind of source it is; `src/aws/credential-provider.ts` turns it into
 * one of the AWS SDK's providers (a profile is resolved by the SDK's `fromIni`; `aws-profile.ts`
 * explains its failures at `file:line`).
 *
 * Messages name the flag, the profile or `file:line`, and describe a bad value by its shape
 * (length, prefix) only: a secret value never appears in a message, even when it sits in the
 * wrong argument (a secret key pasted as the key id).
 */
import { profileNames, secretValuesOf } from "./aws-profile.js";
import { ProblemsError, type Problem } from "./errors.js";

/** Credentials as the AWS SDK wants them (structurally an `AwsCredentialIdentity`). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Temporary credentials: when they stop working. */
  readonly expiration?: Date;
}

/** The plaintext of what the Dagger function received; empty strings count as absent. */
export interface AwsCredentialInputs {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Text of a shared credentials (or config) file. */
  credentialsFile?: string;
  /** Profile of `credentialsFile`; `default` when omitted. */
  profile?: string;
  /** A CI OIDC token (JWT) for `AssumeRoleWithWebIdentity`; needs `roleArn`. */
  webIdentityToken?: string;
  /** With a web identity token: the role to assume with it. With keys or a profile: assumed on top. */
  roleArn?: string;
  roleSessionName?: string;
  durationSeconds?: number;
}

/** CLI flags of the inputs, used in messages; the Dagger functions declare these names. */
export const AWS_CREDENTIAL_FLAGS = {
  // The flags of `dagger call with-aws-credentials` / `with-aws-web-identity` (src/index.ts).
  accessKeyId: "--access-key-id",
  secretAccessKey: "--secret-access-key",
  sessionToken: "--session-token",
  credentialsFile: "--credentials-file",
  profile: "--profile",
  webIdentityToken: "--token",
  roleArn: "--role-arn",
  roleSessionName: "role session name",
  durationSeconds: "session duration",
} as const satisfies Record<keyof AwsCredentialInputs, string>;

export const DEFAULT_SESSION_NAME = "rails-pipeline";

/** A profile of a shared credentials/config file, resolved by the AWS SDK (`fromIni`). */
export interface ProfileSource {
  kind: "profile";
  /** The file's text (it reaches the SDK through a private temporary file). */
  text: string;
  profile: string;
  /** The file's label in messages (`--credentials-file`). */
  path: string;
  origin: string;
}

export type CredentialSource =
  | { kind: "static"; credentials: AwsCredentials; origin: string }
  | ProfileSource
  | {
      kind: "assume-role";
      source: CredentialSource;
      roleArn: string;
      sessionName: string;
      externalId?: string;
      durationSeconds?: number;
      origin: string;
    }
  | { kind: "web-identity"; webIdentityToken: string; roleArn: string; sessionName: string; durationSeconds?: number; origin: string };

export const ACCESS_KEY_ID_PATTERN = /^(AKIA|ASIA)[A-Z0-9]{16}$/;
const SECRET_KEY_PATTERN = /^[A-Za-z0-9/+]{40}$/;
export const ROLE_ARN_PATTERN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const INPUT_HINT =
  `call with-aws-credentials ${AWS_CREDENTIAL_FLAGS.accessKeyId} env:AWS_ACCESS_KEY_ID ${AWS_CREDENTIAL_FLAGS.secretAccessKey} env:AWS_SECRET_ACCESS_KEY ` +
  `[${AWS_CREDENTIAL_FLAGS.sessionToken} env:AWS_SESSION_TOKEN]; or with-aws-credentials ${AWS_CREDENTIAL_FLAGS.credentialsFile} file:$HOME/.aws/credentials ` +
  `[${AWS_CREDENTIAL_FLAGS.profile} <name>]; or with-aws-web-identity ${AWS_CREDENTIAL_FLAGS.webIdentityToken} env:CIRCLE_OIDC_TOKEN_V2 ${AWS_CREDENTIAL_FLAGS.roleArn} <role arn>`;

export interface ResolveCredentialOptions {
  /** Label of the credentials file in messages. */
  credentialsPath?: string;
  /** For the expiry check of a web identity token. */
  now?: Date;
}

/**
 * Validate the inputs and decide the source. Throws `ProblemsError` AWS_CREDENTIALS_INVALID
 * listing every problem; no message contains a secret value.
 */
export function resolveCredentialSource(inputs: AwsCredentialInputs, options: ResolveCredentialOptions = {}): CredentialSource {
  const F = AWS_CREDENTIAL_FLAGS;
  const v = {
    accessKeyId: clean(inputs.accessKeyId),
    secretAccessKey: clean(inputs.secretAccessKey),
    sessionToken: clean(inputs.sessionToken),
    credentialsFile: inputs.credentialsFile?.trim() ? inputs.credentialsFile : undefined,
    profile: clean(inputs.profile),
    webIdentityToken: clean(inputs.webIdentityToken),
    roleArn: clean(inputs.roleArn),
    roleSessionName: clean(inputs.roleSessionName),
  };
  const problems: Problem[] = [];
  const given = [
    (v.accessKeyId || v.secretAccessKey || v.sessionToken) && "access keys",
    v.credentialsFile && "a credentials file",
    v.webIdentityToken && "a web identity token",
  ].filter((g): g is string => Boolean(g));

  if (given.length > 1) {
    throw problemsError([{ path: "AWS credentials", message: `more than one source was given (${given.join(", ")})`, hint: `give exactly one; ${INPUT_HINT}` }]);
  }
  // `with-aws-credentials` defaults --profile to "default" (src/index.ts), also when keys are given.
  if (v.profile && v.profile !== "default" && !v.credentialsFile) {
    problems.push({ path: F.profile, message: `is set but ${F.credentialsFile} is not`, hint: `add ${F.credentialsFile} file:$HOME/.aws/credentials` });
  }
  if (v.roleArn && !ROLE_ARN_PATTERN.test(v.roleArn)) {
    problems.push({ path: F.roleArn, message: "is not an IAM role ARN", hint: "use arn:aws:iam::<12-digit account>:role/<name>" });
  }
  const sessionName = v.roleSessionName ?? DEFAULT_SESSION_NAME;
  if (!SESSION_NAME_PATTERN.test(sessionName)) {
    problems.push({ path: F.roleSessionName, message: "must be 2-64 characters of letters, digits and _+=,.@-", hint: `e.g. ${DEFAULT_SESSION_NAME}-$CIRCLE_BUILD_NUM` });
  }
  const durationSeconds = inputs.durationSeconds;
  if (durationSeconds !== undefined && (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200)) {
    problems.push({ path: F.durationSeconds, message: `${durationSeconds} is outside 900..43200`, hint: "use 3600 (one hour) unless the role allows longer sessions" });
  }
  if (given.length === 0) {
    problems.push({
      path: "AWS credentials",
      message: v.roleArn ? `${F.roleArn} was given without credentials to assume it with` : "none were given",
      hint: INPUT_HINT,
    });
    throw problemsError(problems);
  }

  let source: CredentialSource | undefined;
  if (v.webIdentityToken) {
    problems.push(...checkWebIdentityToken(v.webIdentityToken, options.now));
    if (!v.roleArn) problems.push({ path: F.roleArn, message: `is required with ${F.webIdentityToken}`, hint: "pass the ARN of the role whose trust policy accepts your CI's OIDC provider" });
    if (problems.length > 0) throw problemsError(problems);
    return {
      kind: "web-identity",
      webIdentityToken: v.webIdentityToken,
      roleArn: v.roleArn!,
      sessionName,
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      origin: F.webIdentityToken,
    };
  }
  if (v.credentialsFile) {
    const path = options.credentialsPath ?? F.credentialsFile;
    const profile = v.profile ?? "default";
    const names = profileNames(v.credentialsFile);
    if (!names.includes(profile)) {
      problems.push({
        path: F.profile,
        message: `profile ${profile} is not in ${path} (profiles: ${names.length ? names.join(", ") : "none"})`,
        hint: names.length ? `pass ${F.profile} with one of: ${names.join(", ")}` : "the file has no [profile] sections",
      });
    } else {
      source = { kind: "profile", text: v.credentialsFile, profile, path, origin: `profile ${profile} in ${path}` };
    }
  } else {
    const credentials = checkStaticKeys(
      { accessKeyId: v.accessKeyId, secretAccessKey: v.secretAccessKey, sessionToken: v.sessionToken },
      { accessKeyId: F.accessKeyId, secretAccessKey: F.secretAccessKey, sessionToken: F.sessionToken },
      problems,
    );
    if (credentials) source = { kind: "static", credentials, origin: F.accessKeyId };
  }
  if (problems.length > 0 || !source) throw problemsError(problems);
  if (v.roleArn) {
    return {
      kind: "assume-role",
      source,
      roleArn: v.roleArn,
      sessionName,
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      origin: F.roleArn,
    };
  }
  return source;
}

interface StaticKeyLabels {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** Shape checks of a key pair; problems describe values by length and prefix only. */
export function checkStaticKeys(
  keys: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string },
  labels: StaticKeyLabels,
  problems: Problem[],
): AwsCredentials | undefined {
  const before = problems.length;
  const { accessKeyId, secretAccessKey, sessionToken } = keys;
  if (!accessKeyId) problems.push({ path: labels.accessKeyId, message: "is missing", hint: `pass it together with ${labels.secretAccessKey}` });
  if (!secretAccessKey) problems.push({ path: labels.secretAccessKey, message: "is missing", hint: `pass it together with ${labels.accessKeyId}` });
  if (accessKeyId && !ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    const swapped = secretAccessKey !== undefined && SECRET_KEY_PATTERN.test(accessKeyId) && ACCESS_KEY_ID_PATTERN.test(secretAccessKey);
    problems.push({
      path: labels.accessKeyId,
      message: `does not look like an access key id (expected AKIA or ASIA and 16 more uppercase letters or digits; got ${describeShape(accessKeyId)})`,
      hint: swapped ? `the access key id and the secret key look swapped: check ${labels.accessKeyId} and ${labels.secretAccessKey}` : "copy the key id (AKIA...) from the IAM console or `aws configure get aws_access_key_id`",
    });
  }
  if (secretAccessKey && !SECRET_KEY_PATTERN.test(secretAccessKey)) {
    problems.push({
      path: labels.secretAccessKey,
      message: `does not look like a secret access key (expected 40 characters of letters, digits, + and /; got ${describeShape(secretAccessKey)})`,
      hint: "pass the secret access key that belongs to the key id, without quotes",
    });
  }
  if (sessionToken && /\s/.test(sessionToken)) {
    problems.push({ path: labels.sessionToken, message: "contains whitespace", hint: "pass the session token exactly as STS returned it" });
  }
  if (accessKeyId?.startsWith("ASIA") && !sessionToken) {
    problems.push({
      path: labels.sessionToken,
      message: `is missing, and ${labels.accessKeyId} is a temporary key (ASIA...), which only works with its session token`,
      hint: `add ${labels.sessionToken} env:AWS_SESSION_TOKEN`,
    });
  }
  if (accessKeyId?.startsWith("AKIA") && sessionToken) {
    problems.push({
      path: labels.sessionToken,
      message: `was given with a long-term key (AKIA...); session tokens belong to temporary keys (ASIA...)`,
      hint: "the three values come from different sessions: pass the key id, secret key and token of one session, or drop the token",
    });
  }
  if (problems.length > before || !accessKeyId || !secretAccessKey) return undefined;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** A web identity token must be a JWT; an expired one is refused before any call to STS. */
function checkWebIdentityToken(token: string, now?: Date): Problem[] {
  const F = AWS_CREDENTIAL_FLAGS;
  if (!JWT_PATTERN.test(token)) {
    return [{ path: F.webIdentityToken, message: `is not a JWT (expected three base64url parts separated by '.'; got ${describeShape(token)})`, hint: "pass the CI's OIDC token, e.g. env:CIRCLE_OIDC_TOKEN_V2" }];
  }
  if (!now) return [];
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { exp?: unknown };
    if (typeof payload.exp === "number" && payload.exp * 1000 <= now.getTime()) {
      return [{ path: F.webIdentityToken, message: `expired at ${new Date(payload.exp * 1000).toISOString()}`, hint: "pass the token of the running CI job; OIDC tokens live about an hour" }];
    }
  } catch {
    return [{ path: F.webIdentityToken, message: "has a payload that is not base64url JSON", hint: "pass the CI's OIDC token unchanged" }];
  }
  return [];
}

/** `40 characters starting "wJal"` would leak; say only length and character classes. */
export function describeShape(value: string): string {
  const classes = [
    /[A-Z]/.test(value) && "uppercase",
    /[a-z]/.test(value) && "lowercase",
    /[0-9]/.test(value) && "digits",
    /[^A-Za-z0-9]/.test(value) && "symbols",
  ].filter(Boolean);
  return `${value.length} characters: ${classes.join(", ") || "none"}`;
}

/** Every credential a source carries (key ids too), for redaction. */
export function sourceSecrets(source: CredentialSource): string[] {
  switch (source.kind) {
    case "static":
      return [source.credentials.accessKeyId, source.credentials.secretAccessKey, source.credentials.sessionToken].filter((s): s is string => Boolean(s));
    case "profile":
      return secretValuesOf(source.text);
    case "assume-role":
      return sourceSecrets(source.source);
    case "web-identity":
      return [source.webIdentityToken];
  }
}

/** One line describing a source for logs and errors: flags, profile names and role ARNs only. */
export function describeSource(source: CredentialSource): string {
  switch (source.kind) {
    case "static":
      return `keys from ${source.origin}`;
    case "profile":
      return source.origin;
    case "assume-role":
      return `role ${source.roleArn} assumed with ${describeSource(source.source)}`;
    case "web-identity":
      return `role ${source.roleArn} assumed with the web identity token from ${source.origin}`;
  }
}

function clean(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function problemsError(problems: Problem[]): ProblemsError {
  return new ProblemsError("AWS_CREDENTIALS_INVALID", "AWS credentials are invalid", problems);
}

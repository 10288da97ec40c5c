/**
 * AWS credentials as a Dagger function receives them, turned into a typed source. Pure.
 *
 * A module function runs in a container that sees neither the caller's environment nor `~/.aws`,
 * so credentials arrive as `Secret` arguments whose plaintext the caller reads and passes here:
 * (a) an access key id + secret key (+ session token), (b) a shared credentials file's text and a
 * profile name, or (c) a CI OIDC web identity token + role ARN. `resolveCredentialSource` validates
 * the shapes and says which STS calls are needed; `src/aws/credential-provider.ts` makes the SDK provider.
 *
 * Messages name the flag, the profile or `file:line`, and describe a bad value by its shape
 * (length, prefix) only: a secret value never appears in a message, even when it sits in the
 * wrong argument (a secret key pasted as the key id).
 */
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

export type CredentialSource =
  | { kind: "static"; credentials: AwsCredentials; origin: string }
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
  if (v.profile && !v.credentialsFile) {
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
    const ini = parseIni(v.credentialsFile, path);
    problems.push(...ini.problems);
    if (problems.length === 0) source = profileSource(ini.sections, v.profile ?? "default", path, [], problems);
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

// ---------------------------------------------------------------------------------------------
// Shared credentials / config files (INI)

export interface IniValue {
  value: string;
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  values: Map<string, IniValue>;
}

export interface IniParse {
  /** Profiles by name; `[profile x]` (config-file style) is stored as `x`. */
  sections: Map<string, IniSection>;
  problems: Problem[];
}

/**
 * Parse an AWS shared credentials/config file: `[name]` or `[profile name]` sections, `key = value`
 * lines, `#`/`;` comment lines, indented sub-keys (nested settings, ignored). Keys are lowercased.
 * Problems are at `file:line` and never quote the line (it may hold a key).
 */
export function parseIni(text: string, path: string): IniParse {
  const sections = new Map<string, IniSection>();
  const problems: Problem[] = [];
  let current: IniSection | undefined;
  let nestedUnder: string | undefined;
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const at = `${path}:${line}`;
    const content = raw.replace(/\r$/, "");
    const trimmed = content.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) return;
    const header = /^\[([^\]]*)\]$/.exec(trimmed);
    if (header) {
      nestedUnder = undefined;
      let name = header[1]!.trim();
      if (name.startsWith("profile ")) name = name.slice("profile ".length).trim();
      if (name === "") {
        problems.push({ path: at, message: "section has no name", hint: "write [default] or [profile-name]" });
        current = undefined;
        return;
      }
      if (sections.has(name)) {
        problems.push({ path: at, message: `profile ${name} is defined again (first on line ${sections.get(name)!.line})`, hint: "merge the two sections" });
        current = undefined;
        return;
      }
      current = { name, line, values: new Map() };
      sections.set(name, current);
      return;
    }
    if (trimmed.startsWith("[")) {
      problems.push({ path: at, message: "section header is not closed with ']'", hint: "write [profile-name]" });
      current = undefined;
      return;
    }
    const indented = /^[ \t]/.test(content);
    if (indented && nestedUnder !== undefined) return; // a nested setting such as `s3 =\n  max_concurrent_requests = 10`
    const eq = trimmed.indexOf("=");
    if (eq === -1) {
      problems.push({ path: at, message: "line is not `key = value`, a [section] or a comment", hint: "keep each key = value on one line" });
      return;
    }
    if (!current) {
      if (!problems.some((p) => p.message.startsWith("settings before"))) {
        problems.push({ path: at, message: "settings before the first [profile] section", hint: "start the file with [default]" });
      }
      return;
    }
    const key = trimmed.slice(0, eq).trim().toLowerCase();
    const value = trimmed.slice(eq + 1).trim();
    if (!/^[a-z0-9_.-]+$/.test(key)) {
      problems.push({ path: at, message: "the name before '=' is not a setting name", hint: "use names such as aws_access_key_id" });
      return;
    }
    nestedUnder = value === "" ? key : undefined;
    if (current.values.has(key)) {
      problems.push({ path: at, message: `${key} is set again in profile ${current.name} (first on line ${current.values.get(key)!.line})`, hint: `keep one ${key} line` });
      return;
    }
    current.values.set(key, { value, line });
  });
  return { sections, problems };
}

/** Resolve one profile (following `source_profile` chains) into a source, or push problems. */
function profileSource(sections: Map<string, IniSection>, name: string, path: string, chain: string[], problems: Problem[]): CredentialSource | undefined {
  const section = sections.get(name);
  if (!section) {
    const names = [...sections.keys()];
    problems.push({
      path: chain.length === 0 ? AWS_CREDENTIAL_FLAGS.profile : `${path} [${chain.at(-1)}] source_profile`,
      message: `profile ${name} is not in ${path} (profiles: ${names.length ? names.join(", ") : "none"})`,
      hint: names.length ? `pass ${AWS_CREDENTIAL_FLAGS.profile} with one of: ${names.join(", ")}` : "the file has no [profile] sections",
    });
    return undefined;
  }
  const get = (k: string) => section.values.get(k);
  const at = (k?: string) => `${path}:${(k && get(k)?.line) || section.line}`;
  const origin = `profile ${name} in ${path}`;

  for (const [key, why] of [
    ["sso_session", "an SSO login"],
    ["sso_start_url", "an SSO login"],
    ["credential_process", "running a local program"],
    ["mfa_serial", "an MFA code typed in"],
  ] as const) {
    if (get(key)) {
      problems.push({
        path: at(key),
        message: `profile ${name} needs ${why} (${key}), which cannot happen inside the pipeline's container`,
        hint: `export temporary keys instead: eval "$(aws configure export-credentials --profile ${name} --format env)" and pass ${AWS_CREDENTIAL_FLAGS.accessKeyId} env:AWS_ACCESS_KEY_ID ${AWS_CREDENTIAL_FLAGS.secretAccessKey} env:AWS_SECRET_ACCESS_KEY ${AWS_CREDENTIAL_FLAGS.sessionToken} env:AWS_SESSION_TOKEN`,
      });
      return undefined;
    }
  }

  const roleArn = get("role_arn")?.value;
  if (roleArn !== undefined) {
    const before = problems.length;
    if (!ROLE_ARN_PATTERN.test(roleArn)) problems.push({ path: at("role_arn"), message: `role_arn of profile ${name} is not an IAM role ARN`, hint: "use arn:aws:iam::<12-digit account>:role/<name>" });
    const sessionName = get("role_session_name")?.value ?? DEFAULT_SESSION_NAME;
    if (!SESSION_NAME_PATTERN.test(sessionName)) problems.push({ path: at("role_session_name"), message: "role_session_name must be 2-64 characters of letters, digits and _+=,.@-", hint: `e.g. ${DEFAULT_SESSION_NAME}` });
    const durationText = get("duration_seconds")?.value;
    const durationSeconds = durationText === undefined ? undefined : Number(durationText);
    if (durationSeconds !== undefined && (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200)) {
      problems.push({ path: at("duration_seconds"), message: "duration_seconds must be a whole number from 900 to 43200", hint: "use 3600" });
    }
    if (get("web_identity_token_file")) {
      problems.push({
        path: at("web_identity_token_file"),
        message: `profile ${name} reads a token file, which the pipeline's container cannot see`,
        hint: `pass the token itself: ${AWS_CREDENTIAL_FLAGS.webIdentityToken} file:<that file> ${AWS_CREDENTIAL_FLAGS.roleArn} <role_arn>`,
      });
      return undefined;
    }
    if (get("credential_source")) {
      problems.push({
        path: at("credential_source"),
        message: `profile ${name} takes its source credentials from credential_source, which is not available inside the pipeline's container`,
        hint: "use source_profile = <a profile with keys> instead, or pass the keys directly",
      });
      return undefined;
    }
    const sourceName = get("source_profile")?.value;
    if (!sourceName) {
      problems.push({ path: at("role_arn"), message: `profile ${name} has role_arn but no source_profile`, hint: "add source_profile = <the profile whose keys may assume the role>" });
      return undefined;
    }
    let source: CredentialSource | undefined;
    if (sourceName === name) {
      // A profile may name itself: its own keys assume its role.
      source = staticFromSection(section, path, problems);
    } else if (chain.includes(sourceName)) {
      problems.push({ path: at("source_profile"), message: `source_profile loops: ${[...chain, name, sourceName].join(" -> ")}`, hint: "end the chain at a profile with aws_access_key_id and aws_secret_access_key" });
      return undefined;
    } else {
      source = profileSource(sections, sourceName, path, [...chain, name], problems);
    }
    if (!source || problems.length > before) return undefined;
    const externalId = get("external_id")?.value;
    return {
      kind: "assume-role",
      source,
      roleArn,
      sessionName,
      ...(externalId ? { externalId } : {}),
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      origin,
    };
  }
  return staticFromSection(section, path, problems);
}

function staticFromSection(section: IniSection, path: string, problems: Problem[]): CredentialSource | undefined {
  const get = (k: string) => section.values.get(k);
  const label = (k: string) => `${path}:${get(k)?.line ?? section.line} [${section.name}] ${k}`;
  if (!get("aws_access_key_id") && !get("aws_secret_access_key")) {
    problems.push({
      path: `${path}:${section.line}`,
      message: `profile ${section.name} has no aws_access_key_id / aws_secret_access_key and no role_arn`,
      hint: "add the two keys, or role_arn with source_profile",
    });
    return undefined;
  }
  const credentials = checkStaticKeys(
    { accessKeyId: get("aws_access_key_id")?.value || undefined, secretAccessKey: get("aws_secret_access_key")?.value || undefined, sessionToken: get("aws_session_token")?.value || undefined },
    { accessKeyId: label("aws_access_key_id"), secretAccessKey: label("aws_secret_access_key"), sessionToken: label("aws_session_token") },
    problems,
  );
  return credentials && { kind: "static", credentials, origin: `profile ${section.name} in ${path}` };
}

// ---------------------------------------------------------------------------------------------

/** Every secret string a source carries (for `redactSecrets`). */
export function sourceSecrets(source: CredentialSource): string[] {
  switch (source.kind) {
    case "static":
      return [source.credentials.secretAccessKey, source.credentials.sessionToken].filter((s): s is string => Boolean(s));
    case "assume-role":
      return sourceSecrets(source.source);
    case "web-identity":
      return [source.webIdentityToken];
  }
}

/** Replace each secret (4+ characters) that occurs in `text` with `***`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}

/** One line describing a source for logs and errors: flags, profile names and role ARNs only. */
export function describeSource(source: CredentialSource): string {
  switch (source.kind) {
    case "static":
      return `keys from ${source.origin}`;
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

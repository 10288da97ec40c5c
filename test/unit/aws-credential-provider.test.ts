import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mockClient } from "aws-sdk-client-mock";
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { KMSClient } from "@aws-sdk/client-kms";
import { ProblemsError, PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import {
  describeShape,
  describeSource,
  parseIni,
  redactSecrets,
  resolveCredentialSource,
  type AwsCredentialInputs,
} from "../../modules/pipeline/src/lib/aws-credential-source.js";
import {
  assumeRole,
  assumeRoleProvider,
  createAwsClients,
  getCallerIdentity,
  memoizeCredentials,
} from "../../modules/pipeline/src/aws/credential-provider.js";

// AWS's documentation examples, not real keys.
const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const TEMP_KEY_ID = "ASIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKENvalue+/=";
const ROLE = "arn:aws:iam::872406820375:role/auto-deploy";

function jwt(payload: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.c2lnbmF0dXJlLXNlY3JldC1wYXJ0`;
}
const NOW = new Date("2026-11-27T09:00:00Z");
const OIDC = jwt({ iss: "https://oidc.circleci.com/org/x", aud: "x", sub: "org/x/project/y", exp: NOW.getTime() / 1000 + 3600 });

function problemsOf(fn: () => unknown): ProblemsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).code).toBe("AWS_CREDENTIALS_INVALID");
    return err as ProblemsError;
  }
  throw new Error("expected AWS_CREDENTIALS_INVALID");
}

const SECRET_VALUES = [SECRET, SESSION, OIDC, "c2lnbmF0dXJlLXNlY3JldC1wYXJ0"];
function expectNoSecret(text: string): void {
  for (const s of SECRET_VALUES) expect(text).not.toContain(s);
  expect(text).not.toContain("wJalrXUtnFEMI");
}

describe("resolveCredentialSource: inputs", () => {
  it.each<{ name: string; inputs: AwsCredentialInputs; kind: string; description: string }>([
    { name: "long-term keys", inputs: { accessKeyId: KEY_ID, secretAccessKey: SECRET }, kind: "static", description: "keys from --access-key-id" },
    { name: "temporary keys with token", inputs: { accessKeyId: TEMP_KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION }, kind: "static", description: "keys from --access-key-id" },
    { name: "trailing newlines from file: secrets are trimmed", inputs: { accessKeyId: `${KEY_ID}\n`, secretAccessKey: `${SECRET}\n`, sessionToken: "" }, kind: "static", description: "keys from --access-key-id" },
    { name: "keys + role arn -> assume role on top", inputs: { accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: ROLE }, kind: "assume-role", description: `role ${ROLE} assumed with keys from --access-key-id` },
    { name: "web identity", inputs: { webIdentityToken: OIDC, roleArn: ROLE }, kind: "web-identity", description: `role ${ROLE} assumed with the web identity token from --token` },
  ])("$name", ({ inputs, kind, description }) => {
    const source = resolveCredentialSource(inputs, { now: NOW });
    expect(source.kind).toBe(kind);
    expect(describeSource(source)).toBe(description);
  });

  it("keeps the trimmed values", () => {
    const source = resolveCredentialSource({ accessKeyId: ` ${KEY_ID}\n`, secretAccessKey: `${SECRET}\r\n` });
    expect(source).toEqual({ kind: "static", credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET }, origin: "--access-key-id" });
  });

  it.each<{ name: string; inputs: AwsCredentialInputs; fragments: string[] }>([
    { name: "nothing", inputs: {}, fragments: ["AWS credentials: none were given", "--access-key-id env:AWS_ACCESS_KEY_ID"] },
    { name: "role without source", inputs: { roleArn: ROLE }, fragments: ["--role-arn was given without credentials"] },
    { name: "two sources", inputs: { accessKeyId: KEY_ID, secretAccessKey: SECRET, webIdentityToken: OIDC }, fragments: ["more than one source was given (access keys, a web identity token)"] },
    { name: "secret key missing", inputs: { accessKeyId: KEY_ID }, fragments: ["--secret-access-key: is missing"] },
    { name: "key id missing", inputs: { secretAccessKey: SECRET }, fragments: ["--access-key-id: is missing"] },
    { name: "bad key id", inputs: { accessKeyId: "AKIA123", secretAccessKey: SECRET }, fragments: ["--access-key-id: does not look like an access key id", "got 7 characters"] },
    { name: "lowercase key id", inputs: { accessKeyId: KEY_ID.toLowerCase(), secretAccessKey: SECRET }, fragments: ["does not look like an access key id"] },
    { name: "swapped key id and secret", inputs: { accessKeyId: SECRET, secretAccessKey: KEY_ID }, fragments: ["look swapped", "got 40 characters"] },
    { name: "short secret", inputs: { accessKeyId: KEY_ID, secretAccessKey: "abc" }, fragments: ["--secret-access-key: does not look like a secret access key", "got 3 characters"] },
    { name: "ASIA without token", inputs: { accessKeyId: TEMP_KEY_ID, secretAccessKey: SECRET }, fragments: ["--session-token: is missing", "temporary key (ASIA...)"] },
    { name: "AKIA with token", inputs: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION }, fragments: ["long-term key (AKIA...)"] },
    { name: "token with whitespace", inputs: { accessKeyId: TEMP_KEY_ID, secretAccessKey: SECRET, sessionToken: "abc def" }, fragments: ["--session-token: contains whitespace"] },
    { name: "web identity without role", inputs: { webIdentityToken: OIDC }, fragments: ["--role-arn: is required with --token"] },
    { name: "web identity not a JWT", inputs: { webIdentityToken: "not-a-jwt", roleArn: ROLE }, fragments: ["--token: is not a JWT"] },
    { name: "expired web identity", inputs: { webIdentityToken: jwt({ exp: NOW.getTime() / 1000 - 60 }), roleArn: ROLE }, fragments: ["expired at 2026-11-27T08:59:00.000Z"] },
    { name: "bad role arn", inputs: { webIdentityToken: OIDC, roleArn: "auto-deploy" }, fragments: ["--role-arn: is not an IAM role ARN"] },
    { name: "bad session name", inputs: { webIdentityToken: OIDC, roleArn: ROLE, roleSessionName: "has space" }, fragments: ["role session name"] },
    { name: "bad duration", inputs: { webIdentityToken: OIDC, roleArn: ROLE, durationSeconds: 60 }, fragments: ["session duration: 60 is outside 900..43200"] },
    { name: "profile without file", inputs: { profile: "prod", accessKeyId: KEY_ID, secretAccessKey: SECRET }, fragments: ["--profile: is set but --credentials-file is not"] },
  ])("$name", ({ inputs, fragments }) => {
    const err = problemsOf(() => resolveCredentialSource(inputs, { now: NOW }));
    for (const f of fragments) expect(err.message).toContain(f);
    expectNoSecret(err.message);
  });
});

describe("shared credentials file", () => {
  const FILE = [
    "# comment",
    "; another comment",
    "[default]",
    `aws_access_key_id = ${KEY_ID}`,
    `aws_secret_access_key=${SECRET}`,
    "",
    "[profile ci]",
    `AWS_ACCESS_KEY_ID = ${TEMP_KEY_ID}`,
    `aws_secret_access_key = ${SECRET}`,
    `aws_session_token = ${SESSION}`,
    "region = us-west-2",
    "s3 =",
    "  max_concurrent_requests = 10",
    "",
    "[deploy]",
    `role_arn = ${ROLE}`,
    "source_profile = default",
    "role_session_name = ci-deploy",
    "external_id = ext-123",
    "duration_seconds = 1800",
    "",
    "[chained]",
    "role_arn = arn:aws:iam::392216643236:role/second",
    "source_profile = deploy",
    "",
    "[self]",
    `role_arn = ${ROLE}`,
    "source_profile = self",
    `aws_access_key_id = ${KEY_ID}`,
    `aws_secret_access_key = ${SECRET}`,
  ].join("\r\n");

  it("parses sections, comments, config-style [profile x] and nested settings", () => {
    const { sections, problems } = parseIni(FILE, "credentials");
    expect(problems).toEqual([]);
    expect([...sections.keys()]).toEqual(["default", "ci", "deploy", "chained", "self"]);
    expect(sections.get("ci")!.values.get("aws_access_key_id")).toEqual({ value: TEMP_KEY_ID, line: 8 });
    expect(sections.get("ci")!.values.has("max_concurrent_requests")).toBe(false);
  });

  it.each([
    { profile: undefined, expected: { kind: "static", credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } } },
    { profile: "ci", expected: { kind: "static", credentials: { accessKeyId: TEMP_KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION } } },
    {
      profile: "deploy",
      expected: { kind: "assume-role", roleArn: ROLE, sessionName: "ci-deploy", externalId: "ext-123", durationSeconds: 1800, source: { kind: "static", credentials: { accessKeyId: KEY_ID } } },
    },
    { profile: "chained", expected: { kind: "assume-role", roleArn: "arn:aws:iam::392216643236:role/second", source: { kind: "assume-role", roleArn: ROLE } } },
    { profile: "self", expected: { kind: "assume-role", roleArn: ROLE, source: { kind: "static", credentials: { accessKeyId: KEY_ID } } } },
  ])("profile $profile", ({ profile, expected }) => {
    const source = resolveCredentialSource({ credentialsFile: FILE, ...(profile ? { profile } : {}) });
    expect(source).toMatchObject(expected);
  });

  it.each([
    { name: "missing profile lists the others", file: FILE, profile: "nope", fragments: ["--profile: profile nope is not in --credentials-file (profiles: default, ci, deploy, chained, self)"] },
    { name: "missing secret key", file: `[default]\naws_access_key_id = ${KEY_ID}\n`, profile: undefined, fragments: ["--credentials-file:1 [default] aws_secret_access_key: is missing"] },
    { name: "bad key id at its line", file: `[a]\n\naws_access_key_id = AKIAshort\naws_secret_access_key = ${SECRET}\n`, profile: "a", fragments: ["--credentials-file:3 [a] aws_access_key_id: does not look like an access key id"] },
    { name: "profile with nothing", file: "[a]\nregion = us-west-2\n", profile: "a", fragments: ["--credentials-file:1: profile a has no aws_access_key_id"] },
    { name: "malformed line", file: `[default]\n${SECRET}\n`, profile: undefined, fragments: ["--credentials-file:2: line is not `key = value`"] },
    { name: "settings before a section", file: `aws_access_key_id = ${KEY_ID}\n[default]\n`, profile: undefined, fragments: ["--credentials-file:1: settings before the first [profile] section"] },
    { name: "unclosed header", file: "[default\n", profile: undefined, fragments: ["--credentials-file:1: section header is not closed"] },
    { name: "duplicate section", file: `[a]\nx = 1\n[a]\n`, profile: "a", fragments: ["--credentials-file:3: profile a is defined again (first on line 1)"] },
    { name: "duplicate key", file: `[a]\naws_secret_access_key = ${SECRET}\naws_secret_access_key = x\n`, profile: "a", fragments: ["--credentials-file:3: aws_secret_access_key is set again in profile a"] },
    { name: "role without source_profile", file: `[r]\nrole_arn = ${ROLE}\n`, profile: "r", fragments: ["--credentials-file:2: profile r has role_arn but no source_profile"] },
    { name: "source_profile loop", file: `[a]\nrole_arn = ${ROLE}\nsource_profile = b\n[b]\nrole_arn = ${ROLE}\nsource_profile = a\n`, profile: "a", fragments: ["source_profile loops: a -> b -> a"] },
    { name: "source_profile missing", file: `[a]\nrole_arn = ${ROLE}\nsource_profile = gone\n`, profile: "a", fragments: ["[a] source_profile: profile gone is not in"] },
    { name: "credential_source", file: `[a]\nrole_arn = ${ROLE}\ncredential_source = Ec2InstanceMetadata\n`, profile: "a", fragments: ["--credentials-file:3: profile a takes its source credentials from credential_source"] },
    { name: "web_identity_token_file", file: `[a]\nrole_arn = ${ROLE}\nweb_identity_token_file = /var/run/token\n`, profile: "a", fragments: ["cannot see", "--token file:<that file>"] },
    { name: "sso profile", file: "[a]\nsso_session = corp\nsso_account_id = 1\n", profile: "a", fragments: ["--credentials-file:2: profile a needs an SSO login", "aws configure export-credentials --profile a"] },
    { name: "bad role arn in profile", file: `[a]\nrole_arn = nope\nsource_profile = a\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`, profile: "a", fragments: ["--credentials-file:2: role_arn of profile a is not an IAM role ARN"] },
  ])("$name", ({ file, profile, fragments }) => {
    const err = problemsOf(() => resolveCredentialSource({ credentialsFile: file, ...(profile ? { profile } : {}) }));
    for (const f of fragments) expect(err.message).toContain(f);
    expectNoSecret(err.message);
  });

  it("uses the given path label", () => {
    const err = problemsOf(() => resolveCredentialSource({ credentialsFile: "[a]\nbroken\n", profile: "a" }, { credentialsPath: "~/.aws/credentials" }));
    expect(err.message).toContain("~/.aws/credentials:2");
  });
});

describe("redaction helpers", () => {
  it("describeShape tells length and classes only", () => {
    expect(describeShape(SECRET)).toBe("40 characters: uppercase, lowercase, digits, symbols");
    expect(describeShape("")).toBe("0 characters: none");
  });
  it("redactSecrets replaces every occurrence", () => {
    expect(redactSecrets(`a ${SECRET} b ${SECRET} ${SESSION}`, [SECRET, SESSION, undefined, "ab"])).toBe("a *** b *** ***");
  });
});

describe("STS through the shared helper (aws-sdk-client-mock)", () => {
  const sts = mockClient(STSClient);
  const expiration = new Date(NOW.getTime() + 3600_000);
  const stsCredentials = { AccessKeyId: "ASIAASSUMEDEXAMPLE01", SecretAccessKey: "assumed-secret", SessionToken: "assumed-token", Expiration: expiration };

  beforeEach(() => sts.reset());
  afterEach(() => sts.reset());

  it("static keys: the provider returns them and all clients share it", async () => {
    const aws = createAwsClients({ region: "us-west-2", credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
    expect(await aws.credentials()).toEqual({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
    expect(aws.kms()).toBeInstanceOf(KMSClient);
    expect(aws.kms()).toBe(aws.kms());
    expect(await aws.kms().config.region()).toBe("us-west-2");
    expect(await aws.ecr().config.credentials()).toEqual({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
    expect(aws.description).toBe("keys from --access-key-id");
    expect(sts.calls()).toHaveLength(0);
    aws.destroy();
  });

  it("injected clients are used as they are", () => {
    const kms = new KMSClient({ region: "eu-west-1" });
    const aws = createAwsClients({ region: "us-west-2", credentials: async () => ({ accessKeyId: KEY_ID, secretAccessKey: SECRET }), clients: { kms } });
    expect(aws.kms()).toBe(kms);
  });

  it("web identity: AssumeRoleWithWebIdentity once, shared and memoized", async () => {
    sts.on(AssumeRoleWithWebIdentityCommand).resolves({ Credentials: stsCredentials });
    const aws = createAwsClients({ region: "us-west-2", credentials: { webIdentityToken: OIDC, roleArn: ROLE, roleSessionName: "ci-42" }, now: () => NOW.getTime() });
    const [a, b] = await Promise.all([aws.credentials(), aws.credentials()]);
    await aws.credentials();
    expect(a).toEqual({ accessKeyId: "ASIAASSUMEDEXAMPLE01", secretAccessKey: "assumed-secret", sessionToken: "assumed-token", expiration });
    expect(b).toBe(a);
    const calls = sts.commandCalls(AssumeRoleWithWebIdentityCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "ci-42", WebIdentityToken: OIDC, DurationSeconds: 3600 });
  });

  it("profile with role_arn + source_profile assumes the role with the source keys", async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: stsCredentials });
    const file = `[base]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n[deploy]\nrole_arn = ${ROLE}\nsource_profile = base\nexternal_id = x-1\n`;
    const seen: unknown[] = [];
    const aws = createAwsClients({
      region: "us-west-2",
      credentials: { credentialsFile: file, profile: "deploy" },
      createSts: (credentials) => {
        seen.push(credentials);
        return new STSClient({ region: "us-west-2", ...(credentials ? { credentials } : {}) });
      },
      now: () => NOW.getTime(),
    });
    expect((await aws.credentials()).accessKeyId).toBe("ASIAASSUMEDEXAMPLE01");
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "rails-pipeline", DurationSeconds: 3600, ExternalId: "x-1" });
    // The STS client that assumed the role was given the source profile's keys.
    expect(seen).toHaveLength(1);
    expect(await (seen[0] as () => Promise<unknown>)()).toEqual({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
  });

  it("chained roles: each STS client gets the provider of the profile before it", async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: stsCredentials });
    const file = `[base]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n[one]\nrole_arn = ${ROLE}\nsource_profile = base\n[two]\nrole_arn = arn:aws:iam::392216643236:role/second\nsource_profile = one\n`;
    const seen: Array<(() => Promise<unknown>) | undefined> = [];
    const aws = createAwsClients({
      region: "us-west-2",
      credentials: { credentialsFile: file, profile: "two" },
      createSts: (credentials) => {
        seen.push(credentials);
        return new STSClient({ region: "us-west-2" });
      },
      now: () => NOW.getTime(),
    });
    await aws.credentials();
    // The mock answers without running the SDK's signing, so resolve the source provider by hand.
    expect(await seen[0]!()).toEqual({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
    await seen[1]!();
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual(["arn:aws:iam::392216643236:role/second", ROLE]);
  });

  it.each([
    { name: "AccessDenied", error: "AccessDenied", code: "AWS_ASSUME_ROLE_FAILED", fragments: [`not allowed to assume ${ROLE}`, "trust policy", "sts:AssumeRole"] },
    { name: "expired keys", error: "ExpiredToken", code: "AWS_CREDENTIALS_INVALID", fragments: ["the credentials have expired", "pass fresh credentials"] },
    { name: "unknown key id", error: "InvalidClientTokenId", code: "AWS_CREDENTIALS_INVALID", fragments: ["AWS does not know the access key id"] },
    { name: "wrong secret", error: "SignatureDoesNotMatch", code: "AWS_CREDENTIALS_INVALID", fragments: ["the secret access key does not belong to the access key id"] },
    { name: "duration too long", error: "ValidationError", code: "AWS_ASSUME_ROLE_FAILED", fragments: ["longer than the role allows"] },
    { name: "anything else", error: "ServiceUnavailable", code: "AWS_ASSUME_ROLE_FAILED", fragments: [`AssumeRole for ${ROLE} failed (ServiceUnavailable`] },
  ])("assumeRole maps $name", async ({ error, code, fragments }) => {
    // An AWS message that (unusually) echoes a secret must still not leak it.
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error(`denied; DurationSeconds too long; key ${SECRET}`), { name: error }));
    const err = await assumeRole(new STSClient({ region: "us-west-2" }), { roleArn: ROLE, sessionName: "s1" }, [SECRET]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe(code);
    for (const f of fragments) expect((err as Error).message).toContain(f);
    expectNoSecret((err as Error).message);
  });

  it.each([
    { error: "AccessDenied", code: "AWS_ASSUME_ROLE_FAILED", fragment: "sts:AssumeRoleWithWebIdentity for your CI's OIDC provider" },
    { error: "InvalidIdentityToken", code: "AWS_ASSUME_ROLE_FAILED", fragment: "OIDC provider is registered in IAM" },
    { error: "IDPRejectedClaim", code: "AWS_ASSUME_ROLE_FAILED", fragment: "aud/sub" },
    { error: "ExpiredTokenException", code: "AWS_CREDENTIALS_INVALID", fragment: "the web identity token for" },
  ])("web identity maps $error", async ({ error, code, fragment }) => {
    sts.on(AssumeRoleWithWebIdentityCommand).rejects(Object.assign(new Error(`rejected token ${OIDC}`), { name: error }));
    const aws = createAwsClients({ region: "us-west-2", credentials: { webIdentityToken: OIDC, roleArn: ROLE }, now: () => NOW.getTime() });
    const err = await aws.credentials().catch((e: unknown) => e);
    expect((err as PipelineError).code).toBe(code);
    expect((err as Error).message).toContain(fragment);
    expectNoSecret((err as Error).message);
  });

  it("a failed fetch is retried on the next call", async () => {
    sts.on(AssumeRoleWithWebIdentityCommand).rejectsOnce(Object.assign(new Error("x"), { name: "IDPCommunicationError" })).resolves({ Credentials: stsCredentials });
    const aws = createAwsClients({ region: "us-west-2", credentials: { webIdentityToken: OIDC, roleArn: ROLE }, now: () => NOW.getTime() });
    await expect(aws.credentials()).rejects.toThrow(/AWS_ASSUME_ROLE_FAILED/);
    expect((await aws.credentials()).accessKeyId).toBe("ASIAASSUMEDEXAMPLE01");
  });

  it("assumeRoleProvider refreshes five minutes before expiry", async () => {
    let now = NOW.getTime();
    sts.on(AssumeRoleCommand).resolves({ Credentials: stsCredentials });
    const provider = assumeRoleProvider(new STSClient({ region: "us-west-2" }), { roleArn: ROLE }, { now: () => now });
    await provider();
    now = expiration.getTime() - 6 * 60_000;
    await provider();
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    now = expiration.getTime() - 4 * 60_000;
    await provider();
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it("memoizeCredentials keeps credentials without expiration", async () => {
    let n = 0;
    const provider = memoizeCredentials(async () => ({ accessKeyId: `A${++n}`, secretAccessKey: "s" }));
    await provider();
    expect((await provider()).accessKeyId).toBe("A1");
  });

  it("getCallerIdentity returns the account and maps bad credentials", async () => {
    sts.on(GetCallerIdentityCommand).resolvesOnce({ Account: "872406820375", Arn: "arn:aws:sts::872406820375:assumed-role/auto-deploy/x", UserId: "AROA:x" });
    expect(await getCallerIdentity(new STSClient({ region: "us-west-2" }))).toMatchObject({ account: "872406820375" });
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("The security token included in the request is invalid"), { name: "InvalidClientTokenId" }));
    await expect(getCallerIdentity(new STSClient({ region: "us-west-2" }))).rejects.toThrow(/\[AWS_CREDENTIALS_INVALID\] GetCallerIdentity failed: AWS does not know the access key id/);
  });
});

describe("purity of the lib files this feature owns", () => {
  it.each(["aws-credential-source.ts", "env-file.ts", "env-check.ts"])("%s imports no AWS SDK, Dagger or I/O module", async (name) => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL(`../../modules/pipeline/src/lib/${name}`, import.meta.url), "utf8");
    const imports = [...text.matchAll(/^import[^;]*from\s+"([^"]+)"/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const spec of imports) expect(spec).toMatch(/^\.\/[\w-]+\.js$/);
  });
});

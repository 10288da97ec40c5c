/**
 * AWS credentials from the inputs a Dagger function receives, through the AWS SDK's own providers
 * (fromIni, fromWebToken, fromTemporaryCredentials). AWS is mocked with aws-sdk-client-mock only:
 * `STSClient` of @aws-sdk/client-sts (the client this module assumes roles with) and, for
 * fromTemporaryCredentials, the SDK's own nested STS client.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mockClient } from "aws-sdk-client-mock";
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { AssumeRoleCommand as NestedAssumeRoleCommand, STSClient as NestedSTSClient } from "@aws-sdk/nested-clients/sts";
import { KMSClient } from "@aws-sdk/client-kms";
import { ProblemsError, PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { describeShape, describeSource, resolveCredentialSource, type AwsCredentialInputs } from "../../modules/pipeline/src/lib/aws-credential-source.js";
import { createAwsClients, type AwsClients } from "../../modules/pipeline/src/aws/credential-provider.js";
import { assumeRole, getCallerIdentity } from "../../modules/pipeline/src/aws/sts.js";

// AWS's documentation examples, not real keys.
const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const TEMP_KEY_ID = "ASIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKENvalue+/=";
const ROLE = "arn:aws:iam::872406820375:role/auto-deploy";
const SECOND_ROLE = "arn:aws:iam::392216643236:role/second";

function jwt(payload: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.c2lnbmF0dXJlLXNlY3JldC1wYXJ0`;
}
const NOW = new Date("2026-11-27T09:00:00Z");
const OIDC = jwt({ iss: "https://oidc.circleci.com/org/x", aud: "x", sub: "org/x/project/y", exp: NOW.getTime() / 1000 + 3600 });

/** What STS hands back: realistic shapes, so they pass the same checks as any key. */
const EXPIRATION = new Date(Date.now() + 3600_000);
const ASSUMED = { AccessKeyId: "ASIAASSUMEDEXAMPLE01", SecretAccessKey: "assumedSecretKeyEXAMPLE/0123456789abcdef", SessionToken: "assumed-session-token-EXAMPLE", Expiration: EXPIRATION };
const SECOND = { AccessKeyId: "ASIASECONDEXAMPLE002", SecretAccessKey: "secondSecretKeyEXAMPLE+0123456789abcdefg", SessionToken: "second-session-token-EXAMPLE", Expiration: EXPIRATION };

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

async function rejection(p: Promise<unknown>): Promise<PipelineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PipelineError);
  return err as PipelineError;
}

const SECRET_VALUES = [SECRET, SESSION, OIDC, "c2lnbmF0dXJlLXNlY3JldC1wYXJ0", ASSUMED.SecretAccessKey, ASSUMED.SessionToken];
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
    { name: "a profile", inputs: { credentialsFile: `[ci]\naws_access_key_id = ${KEY_ID}\n`, profile: "ci" }, kind: "profile", description: "profile ci in --credentials-file" },
    // with-aws-credentials always sends --profile (default "default"), keys or not.
    { name: "keys with the default profile name", inputs: { accessKeyId: KEY_ID, secretAccessKey: SECRET, profile: "default" }, kind: "static", description: "keys from --access-key-id" },
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
    { name: "profile not in the file", inputs: { credentialsFile: `[default]\naws_access_key_id = ${KEY_ID}\n[profile ci]\nregion = x\n`, profile: "nope" }, fragments: ["--profile: profile nope is not in --credentials-file (profiles: default, ci)"] },
    { name: "a file without profiles", inputs: { credentialsFile: `aws_secret_access_key = ${SECRET}\n` }, fragments: ["profile default is not in --credentials-file (profiles: none)"] },
  ])("$name", ({ inputs, fragments }) => {
    const err = problemsOf(() => resolveCredentialSource(inputs, { now: NOW }));
    for (const f of fragments) expect(err.message).toContain(f);
    expectNoSecret(err.message);
  });

  it("describeShape tells length and classes only", () => {
    expect(describeShape(SECRET)).toBe("40 characters: uppercase, lowercase, digits, symbols");
    expect(describeShape("")).toBe("0 characters: none");
  });
});

const sts = mockClient(STSClient);
const nestedSts = mockClient(NestedSTSClient);
beforeEach(() => {
  sts.reset();
  nestedSts.reset();
});
afterEach(() => {
  sts.reset();
  nestedSts.reset();
});

/** createAwsClients whose role-assuming STS clients are recorded with the credentials they were given. */
function clientsFor(inputs: AwsCredentialInputs, seen: unknown[] = []): AwsClients {
  return createAwsClients({
    region: "us-west-2",
    credentials: inputs,
    createSts: (credentials) => {
      seen.push(credentials);
      return new STSClient({ region: "us-west-2", ...(credentials ? { credentials } : {}) });
    },
    now: () => NOW.getTime(),
  });
}

describe("keys, web identity and a role on top (fromWebToken, fromTemporaryCredentials)", () => {
  it("static keys: the provider returns them and every client uses it", async () => {
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

  it("an injected client is used (wrapped for redaction, same prototype)", async () => {
    const kms = new KMSClient({ region: "eu-west-1" });
    const aws = createAwsClients({ region: "us-west-2", credentials: async () => ({ accessKeyId: KEY_ID, secretAccessKey: SECRET }), clients: { kms } });
    expect(aws.kms()).toBeInstanceOf(KMSClient);
    expect(await aws.kms().config.region()).toBe("eu-west-1");
  });

  it("web identity: fromWebToken assumes the role with AssumeRoleWithWebIdentity, unsigned", async () => {
    sts.on(AssumeRoleWithWebIdentityCommand).resolves({ Credentials: ASSUMED });
    const seen: unknown[] = [];
    const aws = clientsFor({ webIdentityToken: OIDC, roleArn: ROLE, roleSessionName: "ci-42" }, seen);
    expect(await aws.credentials()).toMatchObject({ accessKeyId: ASSUMED.AccessKeyId, secretAccessKey: ASSUMED.SecretAccessKey, sessionToken: ASSUMED.SessionToken, expiration: EXPIRATION });
    const calls = sts.commandCalls(AssumeRoleWithWebIdentityCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "ci-42", WebIdentityToken: OIDC, DurationSeconds: 3600 });
    expect(seen).toEqual([undefined]);
  });

  it("keys + --role-arn: fromTemporaryCredentials assumes the role with the keys", async () => {
    nestedSts.on(NestedAssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const aws = clientsFor({ accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: ROLE, roleSessionName: "ci-42", durationSeconds: 1800 });
    expect((await aws.credentials()).accessKeyId).toBe(ASSUMED.AccessKeyId);
    expect(nestedSts.commandCalls(NestedAssumeRoleCommand)[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "ci-42", DurationSeconds: 1800 });
  });

  it("keys + --role-arn refused: AWS_ASSUME_ROLE_FAILED naming the role, without the keys", async () => {
    nestedSts.on(NestedAssumeRoleCommand).rejects(Object.assign(new Error(`User with key ${KEY_ID} and secret ${SECRET} is not authorized`), { name: "AccessDenied" }));
    const err = await rejection(clientsFor({ accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: ROLE }).credentials());
    expect(err.code).toBe("AWS_ASSUME_ROLE_FAILED");
    expect(err.message).toContain(`not allowed to assume ${ROLE}`);
    expectNoSecret(err.message);
    expect(err.message).not.toContain(KEY_ID);
  });

  it.each([
    { error: "AccessDenied", code: "AWS_ASSUME_ROLE_FAILED", fragment: "sts:AssumeRoleWithWebIdentity for your CI's OIDC provider" },
    { error: "InvalidIdentityToken", code: "AWS_ASSUME_ROLE_FAILED", fragment: "OIDC provider is registered in IAM" },
    { error: "IDPRejectedClaim", code: "AWS_ASSUME_ROLE_FAILED", fragment: "aud/sub" },
    { error: "ExpiredTokenException", code: "AWS_CREDENTIALS_INVALID", fragment: "the web identity token for" },
  ])("web identity maps $error", async ({ error, code, fragment }) => {
    sts.on(AssumeRoleWithWebIdentityCommand).rejects(Object.assign(new Error(`rejected token ${OIDC}`), { name: error }));
    const err = await rejection(clientsFor({ webIdentityToken: OIDC, roleArn: ROLE }).credentials());
    expect(err.code).toBe(code);
    expect(err.message).toContain(fragment);
    expectNoSecret(err.message);
  });

  it("a failed fetch is retried on the next call", async () => {
    sts.on(AssumeRoleWithWebIdentityCommand).rejectsOnce(Object.assign(new Error("x"), { name: "IDPCommunicationError" })).resolves({ Credentials: ASSUMED });
    const aws = clientsFor({ webIdentityToken: OIDC, roleArn: ROLE });
    await expect(aws.credentials()).rejects.toThrow(/AWS_ASSUME_ROLE_FAILED/);
    expect((await aws.credentials()).accessKeyId).toBe(ASSUMED.AccessKeyId);
  });
});

describe("profiles through the SDK's fromIni", () => {
  const FILE = [
    "# comment",
    "; another comment",
    "[default]",
    `aws_access_key_id = ${KEY_ID}`,
    `aws_secret_access_key=${SECRET}`,
    "",
    "[profile ci]",
    `aws_access_key_id = ${TEMP_KEY_ID}`,
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
    `role_arn = ${SECOND_ROLE}`,
    "source_profile = deploy",
    "",
    "[plain-role]",
    `role_arn = ${ROLE}`,
    "source_profile = default",
  ].join("\r\n");

  it.each([
    { profile: undefined, expected: { accessKeyId: KEY_ID, secretAccessKey: SECRET } },
    { profile: "ci", expected: { accessKeyId: TEMP_KEY_ID, secretAccessKey: SECRET, sessionToken: SESSION } },
  ])("static profile $profile (credentials-file and config-file section styles)", async ({ profile, expected }) => {
    const aws = clientsFor({ credentialsFile: FILE, ...(profile ? { profile } : {}) });
    expect(await aws.credentials()).toMatchObject(expected);
    expect(sts.calls()).toHaveLength(0);
  });

  it("role_arn + source_profile: AssumeRole with the source profile's keys and the profile's settings", async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const seen: unknown[] = [];
    expect((await clientsFor({ credentialsFile: FILE, profile: "deploy" }, seen).credentials()).accessKeyId).toBe(ASSUMED.AccessKeyId);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "ci-deploy", DurationSeconds: 1800, ExternalId: "ext-123" });
    expect(seen).toMatchObject([{ accessKeyId: KEY_ID, secretAccessKey: SECRET }]);
  });

  it("a profile without role_session_name gets the pipeline's session name", async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    await clientsFor({ credentialsFile: FILE, profile: "plain-role" }).credentials();
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "rails-pipeline", DurationSeconds: 3600 });
  });

  it("chained roles: each role is assumed with the credentials of the one before", async () => {
    sts.on(AssumeRoleCommand, { RoleArn: ROLE }).resolves({ Credentials: ASSUMED });
    sts.on(AssumeRoleCommand, { RoleArn: SECOND_ROLE }).resolves({ Credentials: SECOND });
    const seen: unknown[] = [];
    expect((await clientsFor({ credentialsFile: FILE, profile: "chained" }, seen).credentials()).accessKeyId).toBe(SECOND.AccessKeyId);
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([ROLE, SECOND_ROLE]);
    expect(seen).toMatchObject([{ accessKeyId: KEY_ID }, { accessKeyId: ASSUMED.AccessKeyId, sessionToken: ASSUMED.SessionToken }]);
  });

  it("credential_process runs (the SDK's provider), inside the pipeline's container", async () => {
    const json = JSON.stringify({ Version: 1, AccessKeyId: TEMP_KEY_ID, SecretAccessKey: SECRET, SessionToken: SESSION });
    const aws = clientsFor({ credentialsFile: `[proc]\ncredential_process = printf '%s' '${json}'\n`, profile: "proc" });
    expect(await aws.credentials()).toMatchObject({ accessKeyId: TEMP_KEY_ID, sessionToken: SESSION });
  });

  describe("the temporary file", () => {
    // A private TMPDIR (os.tmpdir() reads it at each call), so other runs' files cannot interfere.
    let privateTmp = "";
    const savedTmp = process.env.TMPDIR;
    beforeEach(async () => {
      privateTmp = await mkdtemp(join(tmpdir(), "profile-test-"));
      process.env.TMPDIR = privateTmp;
    });
    afterEach(async () => {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      await rm(privateTmp, { recursive: true, force: true });
    });

    it("is written privately (0600 in a 0700 folder) only while the SDK reads it", async () => {
      const listProfiles = async () => (await readdir(tmpdir())).filter((n) => n.startsWith("pipeline-aws-profile-"));
      expect(tmpdir()).toBe(privateTmp);
      const before = await listProfiles();
      const modes = async (d: string) => ({
        dir: (await stat(join(tmpdir(), d))).mode & 0o777,
        files: await Promise.all((await readdir(join(tmpdir(), d))).map(async (f) => (await stat(join(tmpdir(), d, f))).mode & 0o777)),
      });
      let during: Array<{ dir: number; files: number[] }> = [];
      // AssumeRole runs while fromIni resolves the profile: look at the file it is reading.
      sts.on(AssumeRoleCommand).callsFake(async () => {
        during = await Promise.all((await listProfiles()).filter((d) => !before.includes(d)).map(modes));
        return { Credentials: ASSUMED };
      });
      await clientsFor({ credentialsFile: FILE, profile: "deploy" }).credentials();
      expect(during).toEqual([{ dir: 0o700, files: [0o600, 0o600] }]);
      expect((await listProfiles()).filter((d) => !before.includes(d))).toEqual([]);
    });

    it("is removed after a failure too", async () => {
      await rejection(clientsFor({ credentialsFile: "[a]\nregion = x\n", profile: "a" }).credentials());
      expect(await readdir(privateTmp)).toEqual([]);
    });
  });

  // The SDK says what failed; the file says where: messages name file:line and never a value.
  it.each([
    { name: "missing secret key", file: `[default]\naws_access_key_id = ${KEY_ID}\n`, profile: undefined, fragments: ["--credentials-file:2 [default] aws_secret_access_key: is missing"] },
    { name: "bad key id at its line", file: `[a]\n\naws_access_key_id = AKIAshort\naws_secret_access_key = ${SECRET}\n`, profile: "a", fragments: ["--credentials-file:3 [a] aws_access_key_id: does not look like an access key id"] },
    { name: "bad secret of a source profile", file: `[base]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = short\n[r]\nrole_arn = ${ROLE}\nsource_profile = base\n`, profile: "r", fragments: ["--credentials-file:3 [base] aws_secret_access_key: does not look like a secret access key"] },
    { name: "profile with nothing", file: "[a]\nregion = us-west-2\n", profile: "a", fragments: ["--credentials-file:1: profile a has no aws_access_key_id / aws_secret_access_key and no role_arn"] },
    { name: "a malformed line is skipped, as the SDK skips it", file: `[default]\n${SECRET}\n`, profile: undefined, fragments: ["--credentials-file:1: profile default has no aws_access_key_id"] },
    { name: "role without source_profile", file: `[r]\nrole_arn = ${ROLE}\n`, profile: "r", fragments: ["--credentials-file:2: profile r has role_arn but no source_profile"] },
    { name: "source_profile loop", file: `[a]\nrole_arn = ${ROLE}\nsource_profile = b\n[b]\nrole_arn = ${ROLE}\nsource_profile = a\n`, profile: "a", fragments: ["--credentials-file:3: source_profile loops: a -> b -> a"] },
    { name: "source_profile missing", file: `[a]\nrole_arn = ${ROLE}\nsource_profile = gone\n`, profile: "a", fragments: ["--credentials-file:3 [a] source_profile: profile gone is not in --credentials-file (profiles: a)"] },
    { name: "web_identity_token_file", file: `[a]\nrole_arn = ${ROLE}\nweb_identity_token_file = /nonexistent/pipeline-token\n`, profile: "a", fragments: ["--credentials-file:3: profile a reads a token file", "--token file:<that file>"] },
    { name: "sso profile", file: "[profile a]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = x\n[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n", profile: "a", fragments: ["--credentials-file:2: profile a needs an SSO login", "aws configure export-credentials --profile a"] },
    { name: "MFA", file: `[b]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n[a]\nrole_arn = ${ROLE}\nsource_profile = b\nmfa_serial = arn:aws:iam::1:mfa/x\n`, profile: "a", fragments: ["--credentials-file:7: profile a needs an MFA code typed in (mfa_serial)"] },
    { name: "a failing credential_process, its command line not repeated", file: `[p]\ncredential_process = sh -c 'echo ${SECRET} >&2; exit 3'\n`, profile: "p", fragments: ["--credentials-file:2: the credential_process of profile p failed"] },
  ])("$name", async ({ file, profile, fragments }) => {
    const err = await rejection(clientsFor({ credentialsFile: file, ...(profile ? { profile } : {}) }).credentials());
    expect(err.code).toBe("AWS_CREDENTIALS_INVALID");
    for (const f of fragments) expect(err.message).toContain(f);
    expectNoSecret(err.message);
    expect(err.message).not.toContain("AKIAshort");
  });

  it("uses the given path label", async () => {
    const aws = createAwsClients({ region: "us-west-2", credentials: { credentialsFile: "[a]\nregion = x\n", profile: "a" }, credentialsPath: "~/.aws/credentials" });
    expect((await rejection(aws.credentials())).message).toContain("~/.aws/credentials:1");
  });
});

describe("STS calls (aws/sts.ts)", () => {
  it.each([
    { name: "AccessDenied", error: "AccessDenied", code: "AWS_ASSUME_ROLE_FAILED", fragments: [`not allowed to assume ${ROLE}`, "trust policy", "sts:AssumeRole"] },
    { name: "expired keys", error: "ExpiredToken", code: "AWS_CREDENTIALS_INVALID", fragments: ["the credentials have expired", "pass fresh credentials"] },
    { name: "unknown key id", error: "InvalidClientTokenId", code: "AWS_CREDENTIALS_INVALID", fragments: ["AWS does not know the access key id"] },
    { name: "wrong secret", error: "SignatureDoesNotMatch", code: "AWS_CREDENTIALS_INVALID", fragments: ["the secret access key does not belong to the access key id"] },
    { name: "truncated signature (JSON protocol name)", error: "IncompleteSignatureException", code: "AWS_CREDENTIALS_INVALID", fragments: ["the request signature is incomplete"] },
    { name: "duration too long", error: "ValidationError", code: "AWS_ASSUME_ROLE_FAILED", fragments: ["longer than the role allows"] },
    { name: "anything else", error: "ServiceUnavailable", code: "AWS_ASSUME_ROLE_FAILED", fragments: [`AssumeRole for ${ROLE} failed (ServiceUnavailable`] },
  ])("assumeRole maps $name, redacted by the client it came from", async ({ error, code, fragments }) => {
    // An AWS message that (unusually) echoes a secret must still not leak it.
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error(`denied; DurationSeconds too long; key ${SECRET}`), { name: error }));
    const aws = createAwsClients({ region: "us-west-2", credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
    const err = await rejection(assumeRole(aws.sts(), { roleArn: ROLE, sessionName: "s1" }));
    expect(err.code).toBe(code);
    for (const f of fragments) expect(err.message).toContain(f);
    expectNoSecret(err.message);
  });

  it("getCallerIdentity returns the account and maps bad credentials", async () => {
    sts.on(GetCallerIdentityCommand).resolvesOnce({ Account: "872406820375", Arn: "arn:aws:sts::872406820375:assumed-role/auto-deploy/x", UserId: "AROA:x" });
    expect(await getCallerIdentity(new STSClient({ region: "us-west-2" }))).toMatchObject({ account: "872406820375" });
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("The security token included in the request is invalid"), { name: "InvalidClientTokenId" }));
    await expect(getCallerIdentity(new STSClient({ region: "us-west-2" }))).rejects.toThrow(/\[AWS_CREDENTIALS_INVALID\] GetCallerIdentity failed: AWS does not know the access key id/);
  });
});

describe("purity of the lib files this feature owns", () => {
  it.each(["aws-credential-source.ts", "aws-profile.ts", "redact.ts", "env-file.ts", "env-check.ts", "secret-shapes.ts"])("%s imports no AWS SDK, Dagger or I/O module", async (name) => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL(`../../modules/pipeline/src/lib/${name}`, import.meta.url), "utf8");
    const imports = [...text.matchAll(/^import[^;]*from\s+"([^"]+)"/gm)].map((m) => m[1]);
    for (const spec of imports) expect(spec).toMatch(/^\.\/[\w-]+\.js$/);
  });
});

/**
 * Issue #11 item 2, as a property: whatever AWS sends back (any error name, any text quoting any
 * credential in play, as is, URL-encoded, in a canonical request, in JSON or XML), the error that
 * leaves an adapter (ECR, STS, KMS, a credential provider) carries none of those credentials:
 * not in its message, its hint, its problems, its cause chain or its stack.
 * AWS is aws-sdk-client-mock on the real SDK clients; the clients come from createAwsClients, as in
 * production.
 */
import { inspect } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mockClient } from "aws-sdk-client-mock";
import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { createAwsClients, type AwsClients } from "../../modules/pipeline/src/aws/credential-provider.js";
import { EcrRegistry } from "../../modules/pipeline/src/aws/ecr.js";
import { decryptEnvText, encryptValue, kmsPort } from "../../modules/pipeline/src/aws/kms.js";
import { assumeRole, getCallerIdentity } from "../../modules/pipeline/src/aws/sts.js";
import type { AwsCredentialInputs } from "../../modules/pipeline/src/lib/aws-credential-source.js";
import { propertyParameters } from "../support/property.js";

const ROLE = "arn:aws:iam::872406820375:role/auto-deploy";
const HOST = "004671295794.dkr.ecr.us-west-2.amazonaws.com";

const upperDigits = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".split(""));
const b64char = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split(""));
const chars = (c: fc.Arbitrary<string>, min: number, max: number) => fc.array(c, { minLength: min, maxLength: max }).map((a) => a.join(""));
const keyId = (prefix: string) => chars(upperDigits, 16, 16).map((s) => `${prefix}${s}`);
const secretKey = chars(b64char, 40, 40);
const sessionToken = chars(fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".split("")), 60, 300);
const base64url = chars(fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("")), 20, 120);
const oidcToken = fc.tuple(base64url, base64url, base64url).map(([p, q, r]) => {
  const payload = Buffer.from(JSON.stringify({ sub: q, exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url");
  return `${p}.${payload}.${r}`;
});
const stsCredentials = fc.record({ AccessKeyId: keyId("ASIA"), SecretAccessKey: secretKey, SessionToken: sessionToken, Expiration: fc.constant(new Date(Date.now() + 3600_000)) });

/** How the run got its credentials. */
const source = fc.oneof(
  fc.record({ kind: fc.constant("keys" as const), accessKeyId: keyId("ASIA"), secretAccessKey: secretKey, sessionToken }),
  fc.record({ kind: fc.constant("web-identity" as const), token: oidcToken, assumed: stsCredentials }),
  fc.record({ kind: fc.constant("profile" as const), accessKeyId: keyId("AKIA"), secretAccessKey: secretKey }),
);
type Source = typeof source extends fc.Arbitrary<infer T> ? T : never;

function inputsOf(s: Source): AwsCredentialInputs {
  switch (s.kind) {
    case "keys":
      return { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, sessionToken: s.sessionToken };
    case "web-identity":
      return { webIdentityToken: s.token, roleArn: ROLE };
    case "profile":
      return { credentialsFile: `[ci]\naws_access_key_id = ${s.accessKeyId}\naws_secret_access_key = ${s.secretAccessKey}\n`, profile: "ci" };
  }
}

/** What the run holds when AWS answers (a web identity's role credentials only once it was assumed). */
function credentialsInPlay(s: Source, assumed: boolean, deployRole: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }, ecrPassword: string): string[] {
  const own =
    s.kind === "keys"
      ? [s.accessKeyId, s.secretAccessKey, s.sessionToken]
      : s.kind === "web-identity"
        ? [s.token, ...(assumed ? [s.assumed.AccessKeyId, s.assumed.SecretAccessKey, s.assumed.SessionToken] : [])]
        : [s.accessKeyId, s.secretAccessKey];
  return [...own, deployRole.AccessKeyId, deployRole.SecretAccessKey, deployRole.SessionToken, ecrPassword];
}

/** The ways AWS (or anything on the way) may quote a credential. */
const quoting = fc.constantFrom(
  (c: string) => c,
  (c: string) => encodeURIComponent(c),
  (c: string) => `The Canonical String for this request should have been\n'POST\n/\n\nhost:kms.us-west-2.amazonaws.com\nx-amz-date:20260101T000000Z\nx-amz-security-token:${c}\n\nhost;x-amz-date;x-amz-security-token\n'`,
  (c: string) => `{"SessionToken":"${c}","Message":"denied"}`,
  (c: string) => `<SecretAccessKey>${c}</SecretAccessKey>`,
  (c: string) => `https://sts.amazonaws.com/?X-Amz-Security-Token=${encodeURIComponent(c)}&X-Amz-Signature=abc`,
  (c: string) => `key ${c} (${c.length} chars)`,
);
const errorName = fc.oneof(
  fc.constantFrom("IncompleteSignatureException", "IncompleteSignature", "SignatureDoesNotMatch", "InvalidSignatureException", "UnrecognizedClientException", "AccessDeniedException", "AccessDenied", "ExpiredTokenException", "ValidationError", "ThrottlingException", "InternalFailure", "NotFoundException"),
  fc.stringMatching(/^[A-Z][A-Za-z]{2,30}$/),
);

/** The adapter calls under test, each with the command whose failure it reports. */
const PATHS = ["ecr-lookup", "ecr-login", "kms-decrypt", "kms-encrypt", "sts-deploy-role", "sts-caller", "provider"] as const;
type Path = (typeof PATHS)[number];

/**
 * What "AWS" answers in the current input: per command, queued answers first, then `failure`.
 * The mocks are set up once and read this, because aws-sdk-client-mock keeps every `on(...)`
 * matcher until restored: re-arming them 20,000 times (npm run test:properties:long) runs out of memory.
 */
let script: { failure: Error; queued: Map<string, unknown[]> } = { failure: new Error("unset"), queued: new Map() };
const answer = (command: string) => async () => {
  const next = script.queued.get(command)?.shift();
  if (next !== undefined) return next;
  throw script.failure;
};
const ecr = mockClient(ECRClient);
const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);
beforeAll(() => {
  ecr.on(DescribeImagesCommand).callsFake(answer("DescribeImages"));
  ecr.on(GetAuthorizationTokenCommand).callsFake(answer("GetAuthorizationToken"));
  kms.on(DecryptCommand).callsFake(answer("Decrypt"));
  kms.on(EncryptCommand).callsFake(answer("Encrypt"));
  sts.on(AssumeRoleCommand).callsFake(answer("AssumeRole"));
  sts.on(AssumeRoleWithWebIdentityCommand).callsFake(answer("AssumeRoleWithWebIdentity"));
  sts.on(GetCallerIdentityCommand).callsFake(answer("GetCallerIdentity"));
});
afterAll(() => {
  ecr.restore();
  kms.restore();
  sts.restore();
});
/** The run's clients, shared by every input (the role-assuming STS clients are still made per input). */
const shared = { ecr: new ECRClient({ region: "us-west-2" }), kms: new KMSClient({ region: "us-west-2" }), sts: new STSClient({ region: "us-west-2" }) };

const BLOB = Buffer.from([1, 2, 2, 0, 0x78, ...Array.from({ length: 30 }, (_, i) => i)]).toString("base64");

async function run(path: Path, aws: AwsClients): Promise<unknown> {
  const registry = () => new EcrRegistry<string>({ client: aws.ecr(), host: HOST, accountId: "004671295794", region: "us-west-2", toSecret: (_n, p) => p });
  try {
    switch (path) {
      case "ecr-lookup":
        await registry().lookup("rails-api", "base-dev-x");
        break;
      case "ecr-login":
        await registry().login();
        break;
      case "kms-decrypt":
        await decryptEnvText(`DB_PASSWORD=kmscrypt::${BLOB}\n`, "config/prod.env", kmsPort(aws.kms()), { sleep: async () => {}, attempts: 1 });
        break;
      case "kms-encrypt":
        await encryptValue(kmsPort(aws.kms()), "alias/prod-env", "value-to-encrypt", { sleep: async () => {}, attempts: 1 });
        break;
      case "sts-deploy-role":
        await assumeRole(aws.sts(), { roleArn: ROLE, sessionName: "deploy" });
        break;
      case "sts-caller":
        await getCallerIdentity(aws.sts());
        break;
      case "provider":
        await aws.credentials();
        break;
    }
  } catch (err) {
    return err;
  }
  throw new Error(`${path} did not fail`);
}

/** Everything an error shows, anywhere a log or a user could see it. */
function everything(err: unknown): string {
  const e = err as { message?: string; stack?: string; hint?: string; problems?: unknown; cause?: unknown };
  const causes: string[] = [];
  for (let c: unknown = e.cause, i = 0; c !== undefined && i < 10; c = (c as { cause?: unknown }).cause, i++) causes.push(inspect(c, { depth: 10 }), String((c as Error).stack));
  return [e.message, e.stack, e.hint, JSON.stringify(e.problems ?? null), inspect(err, { depth: 10, showHidden: true }), ...causes].join("\n");
}

describe("redaction at the AWS adapter boundary (property)", () => {
  it("no credential in play leaves in an adapter's error, whatever AWS sends", async () => {
    await fc.assert(
      fc.asyncProperty(
        source,
        stsCredentials,
        chars(b64char, 40, 80),
        fc.constantFrom(...PATHS),
        errorName,
        fc.array(fc.tuple(fc.nat(), quoting), { minLength: 1, maxLength: 3 }),
        fc.string({ maxLength: 40 }),
        async (src, deployRole, ecrPassword, path, name, leaks, filler) => {
          const inPlay = credentialsInPlay(src, path !== "provider", deployRole, ecrPassword);
          const text = [filler, ...leaks.map(([i, quote]) => quote(inPlay[i % inPlay.length]!))].join(" ");
          const failure = Object.assign(new Error(text), { name, $metadata: { httpStatusCode: 400 }, $fault: "client", $response: { body: text } });

          // Keys and a profile resolve without asking AWS: only a web identity's provider can meet an AWS error.
          fc.pre(path !== "provider" || src.kind === "web-identity");
          // Earlier in the run AWS answered well: the web identity's role (if resolved first), the deploy role, ECR's password.
          script = {
            failure,
            queued: new Map<string, unknown[]>([
              ["AssumeRoleWithWebIdentity", src.kind === "web-identity" && path !== "provider" ? [{ Credentials: src.assumed }] : []],
              ["AssumeRole", [{ Credentials: deployRole }]],
              ["GetAuthorizationToken", [{ authorizationData: [{ authorizationToken: Buffer.from(`AWS:${ecrPassword}`).toString("base64") }] }]],
            ]),
          };
          const aws = createAwsClients({ region: "us-west-2", credentials: inputsOf(src), clients: shared });
          // As the SDK does before signing: the run's own credentials are resolved (web identity: assumed).
          if (path !== "provider") await aws.credentials();
          await assumeRole(aws.sts(), { roleArn: ROLE });
          await new EcrRegistry<string>({ client: aws.ecr(), host: HOST, accountId: "004671295794", region: "us-west-2", toSecret: (_n, p) => p }).login();

          // Now AWS answers every call with the hostile text.
          const err = await run(path, aws);
          const shown = everything(err);
          for (const credential of inPlay) {
            expect(shown).not.toContain(credential);
            expect(shown).not.toContain(encodeURIComponent(credential));
          }
        },
      ),
      propertyParameters(),
    );
  });
});

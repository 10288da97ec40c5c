/**
 * Issue #11 item 2, the concrete cases: credentials in AWS's error text never leave an adapter.
 * The clients come from createAwsClients (as in production); AWS is aws-sdk-client-mock.
 */
import { inspect } from "node:util";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { mockClient } from "aws-sdk-client-mock";
import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { createAwsClients } from "../../modules/pipeline/src/aws/credential-provider.js";
import { EcrRegistry } from "../../modules/pipeline/src/aws/ecr.js";
import { decryptEnvText, encryptValue, kmsPort, withRetry } from "../../modules/pipeline/src/aws/kms.js";
import { CredentialsInPlay, sanitizeAwsError } from "../../modules/pipeline/src/aws/redaction.js";
import { assumeRole } from "../../modules/pipeline/src/aws/sts.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { redactCredentials } from "../../modules/pipeline/src/lib/redact.js";

const KEY_ID = "ASIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLXdlc3QtMiJHMEUCIQDEXAMPLE+token/value==";
const ROLE = "arn:aws:iam::872406820375:role/auto-deploy";
const HOST = "004671295794.dkr.ecr.us-west-2.amazonaws.com";
const DEPLOY = { AccessKeyId: "ASIADEPLOYROLEEXAMPL", SecretAccessKey: "deployRoleSecretEXAMPLE/0123456789abcdef", SessionToken: "deploy-role-session-token-EXAMPLE+/=" };

/** What AWS says on a signature mismatch: the canonical request, session token included. */
const SIGNATURE_MESSAGE = [
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
  "",
  "The Canonical String for this request should have been",
  "'POST",
  "/",
  "",
  "content-type:application/x-amz-json-1.1",
  "host:api.ecr.us-west-2.amazonaws.com",
  "x-amz-date:20260101T000000Z",
  `x-amz-security-token:${TOKEN}`,
  "",
  "content-type;host;x-amz-date;x-amz-security-token",
  "5d1c...'",
  "",
  `The String-to-Sign should have been 'AWS4-HMAC-SHA256 20260101T000000Z 20260101/us-west-2/ecr/aws4_request ...' (credential ${KEY_ID})`,
].join("\n");

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode: 400, requestId: "r-1" }, $response: { body: message } });

const ecr = mockClient(ECRClient);
const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);
beforeEach(() => {
  ecr.reset();
  kms.reset();
  sts.reset();
});
afterAll(() => {
  ecr.restore();
  kms.restore();
  sts.restore();
});

const clients = () => createAwsClients({ region: "us-west-2", credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN } });
const registry = (aws = clients()) => new EcrRegistry<string>({ client: aws.ecr(), host: HOST, accountId: "004671295794", region: "us-west-2", toSecret: (_n, p) => p });
const BLOB = Buffer.from([1, 2, 2, 0, 0x78, ...Array.from({ length: 30 }, (_, i) => i)]).toString("base64");

async function failure(p: Promise<unknown>): Promise<PipelineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PipelineError);
  return err as PipelineError;
}

/** Message, hint, problems, cause chain, stack: all a log could show. */
function shown(err: unknown): string {
  return [inspect(err, { depth: 10, showHidden: true }), (err as Error).stack, JSON.stringify((err as { problems?: unknown }).problems ?? null)].join("\n");
}

function expectClean(err: unknown, secrets: readonly string[] = [SECRET, TOKEN, KEY_ID]): void {
  const text = shown(err);
  for (const s of secrets) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(encodeURIComponent(s));
  }
}

describe("every adapter error is redacted against the credentials in play", () => {
  it("ECR: a signature error quoting the canonical request is mapped, and the session token is gone", async () => {
    ecr.on(DescribeImagesCommand).rejects(awsError("InvalidSignatureException", SIGNATURE_MESSAGE));
    const err = await failure(registry().lookup("rails-api", "t"));
    expect(err.code).toBe("AWS_CREDENTIALS_INVALID");
    expect(err.message).toContain("the secret access key does not belong to the access key id");
    expectClean(err);
  });

  it("ECR: an unmapped error (the fallback) quotes one redacted line of AWS's text", async () => {
    ecr.on(DescribeImagesCommand).rejects(awsError("ServerException", `internal error for token ${TOKEN} and key ${SECRET}\n${SIGNATURE_MESSAGE}`));
    const err = await failure(registry().lookup("rails-api", "t"));
    expect(err.code).toBe("REGISTRY_UNREACHABLE");
    expect(err.message).toContain("ecr:DescribeImages failed: ServerException: internal error for token *** and key ***");
    expect(err.message).not.toContain("Canonical String");
    expectClean(err);
  });

  it.each([
    ["ECR", "IncompleteSignatureException"],
    ["ECR", "IncompleteSignature"],
  ])("%s: %s (the JSON and query protocol names) means bad credentials", async (_service, name) => {
    ecr.on(DescribeImagesCommand).rejects(awsError(name, `Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=${KEY_ID}/20260101/us-west-2/ecr/aws4_request`));
    const err = await failure(registry().lookup("rails-api", "t"));
    expect(err.code).toBe("AWS_CREDENTIALS_INVALID");
    expect(err.message).toContain("the request signature is incomplete");
    expectClean(err);
  });

  it("KMS decrypt: IncompleteSignatureException is a credentials problem, said once, without the token", async () => {
    kms.on(DecryptCommand).rejects(awsError("IncompleteSignatureException", `x-amz-security-token=${TOKEN}`));
    const err = await failure(decryptEnvText(`DB_PASSWORD=kmscrypt::${BLOB}\nAPI_KEY=kmscrypt::${BLOB}\n`, "config/prod.env", kmsPort(clients().kms()), { attempts: 1 }));
    expect(err.code).toBe("AWS_CREDENTIALS_INVALID");
    expect(err.message).toContain("KMS refused the credentials while decrypting config/prod.env (IncompleteSignatureException");
    expectClean(err);
  });

  it("KMS decrypt: a per-token failure quoting the secret key is redacted in every problem", async () => {
    kms.on(DecryptCommand).rejects(awsError("AccessDeniedException", `User with secret ${SECRET} is not authorized`));
    const err = await failure(decryptEnvText(`DB_PASSWORD=kmscrypt::${BLOB}\n`, "config/prod.env", kmsPort(clients().kms()), { attempts: 1 }));
    expect(err.code).toBe("KMS_DECRYPT_FAILED");
    expectClean(err);
  });

  it("KMS encrypt: the value being encrypted is in play too", async () => {
    kms.on(EncryptCommand).rejects(awsError("AccessDeniedException", "cannot encrypt the-plaintext-value for you"));
    const err = await failure(encryptValue(kmsPort(clients().kms()), "alias/prod-env", "the-plaintext-value", { attempts: 1 }));
    expect(err.message).toContain("cannot encrypt *** for you");
    expectClean(err, ["the-plaintext-value"]);
  });

  it("the deploy's assumeRole (session.sts()): AWS's text quoting the caller's keys is redacted", async () => {
    sts.on(AssumeRoleCommand).rejects(awsError("AccessDenied", `User ${KEY_ID} with token ${TOKEN} is not authorized to perform sts:AssumeRole`));
    const err = await failure(assumeRole(clients().sts(), { roleArn: ROLE }));
    expect(err.code).toBe("AWS_ASSUME_ROLE_FAILED");
    expectClean(err);
  });

  it("credentials received during the run (the deploy role's, ECR's password) join those in play", async () => {
    const aws = clients();
    sts.on(AssumeRoleCommand).resolvesOnce({ Credentials: { ...DEPLOY, Expiration: new Date(Date.now() + 3600_000) } });
    await assumeRole(aws.sts(), { roleArn: ROLE });
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from("AWS:ecr-password-EXAMPLE-0123456789").toString("base64") }] });
    await registry(aws).login();
    const echo = `${DEPLOY.SecretAccessKey} ${DEPLOY.SessionToken} ecr-password-EXAMPLE-0123456789`;
    sts.on(AssumeRoleCommand).rejects(awsError("AccessDenied", echo));
    ecr.on(DescribeImagesCommand).rejects(awsError("ServerException", echo));
    const errors = [await failure(assumeRole(aws.sts(), { roleArn: ROLE })), await failure(registry(aws).lookup("rails-api", "t"))];
    for (const err of errors) expectClean(err, [DEPLOY.SecretAccessKey, DEPLOY.SessionToken, "ecr-password-EXAMPLE-0123456789"]);
  });

  it("the rebuilt error keeps what the adapters read (name, $retryable, status) and drops the raw response", async () => {
    const inPlay = new CredentialsInPlay();
    inPlay.add(TOKEN);
    const raw = Object.assign(awsError("ThrottlingException", `slow down ${TOKEN}`), { $retryable: { throttling: true }, cause: new Error(`inner ${TOKEN}`) });
    const clean = sanitizeAwsError(raw, inPlay) as Error & Record<string, unknown>;
    expect([clean.name, clean.message, clean.$retryable, (clean.$metadata as { httpStatusCode: number }).httpStatusCode]).toEqual(["ThrottlingException", "slow down ***", { throttling: true }, 400]);
    expect(clean.$response).toBeUndefined();
    expect((clean.cause as Error).message).toBe("inner ***");
    expectClean(clean, [TOKEN]);
    // KMS still retries it.
    let calls = 0;
    await withRetry(async () => (++calls === 1 ? Promise.reject(clean) : "ok"), { sleep: async () => {} });
    expect(calls).toBe(2);
  });
});

describe("redactCredentials", () => {
  it.each([
    ["a known value", `token ${TOKEN} end`, [TOKEN], "token *** end"],
    ["its URL-encoded form", `t=${encodeURIComponent(TOKEN)}&x=1`, [TOKEN], "t=***&x=1"],
    ["the longer of two overlapping secrets first", `${SECRET}`, [SECRET.slice(0, 10), SECRET], "***"],
    ["a canonical request's security token, unknown", "x-amz-security-token:unknownTokenValue123\nnext", [], "x-amz-security-token:***\nnext"],
    ["a presigned URL's token and signature", "?X-Amz-Security-Token=abc%2Fdef&X-Amz-Signature=0123abcd", [], "?X-Amz-Security-Token=***&X-Amz-Signature=***"],
    ["an access key id anywhere", "key AKIAIOSFODNN7EXAMPLE here", [], "key *** here"],
    ["STS's XML answer", "<SessionToken>abc/def+=</SessionToken><SecretAccessKey>xyz</SecretAccessKey>", [], "<SessionToken>***</SessionToken><SecretAccessKey>***</SecretAccessKey>"],
    ["a JSON field", '{"SecretAccessKey":"abc/def"}', [], '{"SecretAccessKey":"***"}'],
    ["an INI line", "aws_session_token = abc/def", [], "aws_session_token = ***"],
    ["values under four characters are left (too common to replace)", "a abc b", ["abc"], "a abc b"],
    ["our own problem lines are not mistaken for values", "[base] aws_secret_access_key: does not look like a key", [], "[base] aws_secret_access_key: does not look like a key"],
  ])("%s", (_name, text, secrets, expected) => {
    expect(redactCredentials(text, secrets)).toBe(expected);
  });
});

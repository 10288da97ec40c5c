import {
  DescribeImagesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ImageNotFoundException,
  RepositoryNotFoundException,
} from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { EcrRegistry, mapEcrError, parseEcrAuthorizationToken } from "../../modules/pipeline/src/aws/ecr.js";

const HOST = "004671295794.dkr.ecr.us-west-2.amazonaws.com";
const DIGEST = "sha256:" + "ef".repeat(32);
const PASSWORD = "eyJwYXlsb2FkIjoiZWNyLXBhc3N3b3JkIn0=-secret";
const token = (s: string) => Buffer.from(s).toString("base64");

const ecr = mockClient(ECRClient);

function registry(now = new Date("2026-01-01T00:00:00Z")) {
  const secrets: Array<[string, string]> = [];
  const reg = new EcrRegistry<{ secretName: string }>({
    client: new ECRClient({ region: "us-west-2" }),
    host: HOST,
    accountId: "004671295794",
    region: "us-west-2",
    toSecret: (name, plaintext) => {
      secrets.push([name, plaintext]);
      return { secretName: name };
    },
    now: () => now,
  });
  return { reg, secrets };
}

const awsError = (name: string, message = `${name} happened`) => Object.assign(new Error(message), { name, $metadata: {} });

beforeEach(() => ecr.reset());

describe("EcrRegistry.lookup (DescribeImages)", () => {
  it("a tag that exists: true with its digest, asking the right registry and repository", async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: ["base-dev-abc", "base-dev-latest"] }] });
    expect(await registry().reg.lookup("rails-api", "base-dev-abc")).toEqual({ exists: true, digest: DIGEST });
    expect(ecr.commandCalls(DescribeImagesCommand)[0].args[0].input).toEqual({
      registryId: "004671295794",
      repositoryName: "rails-api",
      imageIds: [{ imageTag: "base-dev-abc" }],
    });
  });

  it("ImageNotFoundException: false", async () => {
    ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: "The image with imageId ... does not exist", $metadata: {} }));
    expect(await registry().reg.lookup("rails-api", "base-dev-abc")).toEqual({ exists: false });
  });

  it("an empty answer: false", async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [] });
    expect(await registry().reg.lookup("rails-api", "base-dev-abc")).toEqual({ exists: false });
  });

  it("RepositoryNotFoundException: REGISTRY_REPOSITORY_MISSING naming repository, registry and the fix", async () => {
    ecr.on(DescribeImagesCommand).rejects(new RepositoryNotFoundException({ message: "The repository with name 'rails-apx' does not exist", $metadata: {} }));
    const err = await registry().reg.lookup("rails-apx", "base-dev-abc").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^\[REGISTRY_REPOSITORY_MISSING\] ECR registry 004671295794\.dkr\.ecr\.us-west-2\.amazonaws\.com has no repository rails-apx/);
    expect((err as Error).message).toContain("aws ecr create-repository --repository-name rails-apx --region us-west-2");
    expect((err as Error).message).toContain("registry.repository");
  });

  it.each([
    ["expired session", "ExpiredTokenException", /AWS_CREDENTIALS_INVALID.*have expired/s],
    ["unknown key", "UnrecognizedClientException", /AWS_CREDENTIALS_INVALID.*rejected the credentials/s],
    ["wrong secret key", "InvalidSignatureException", /AWS_CREDENTIALS_INVALID.*rejected the credentials/s],
    ["no credentials at all", "CredentialsProviderError", /AWS_CREDENTIALS_INVALID/],
    ["missing IAM permission", "AccessDeniedException", /REGISTRY_AUTH_FAILED.*may not call ecr:DescribeImages on rails-api.*grant ecr:DescribeImages/s],
    ["DNS failure", "ENOTFOUND", /REGISTRY_UNREACHABLE.*could not reach the ECR API in us-west-2/s],
    ["service error", "ServerException", /REGISTRY_UNREACHABLE.*ecr:DescribeImages failed: ServerException/s],
  ])("%s (%s) is mapped", async (_name, errorName, message) => {
    ecr.on(DescribeImagesCommand).rejects(awsError(errorName));
    const err = await registry().reg.lookup("rails-api", "t").catch((e: Error) => e);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(HOST);
  });
});

describe("EcrRegistry.login (GetAuthorizationToken)", () => {
  it("user AWS, the password as a secret, fetched once per run", async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: token(`AWS:${PASSWORD}`), expiresAt: new Date("2026-01-01T12:00:00Z"), proxyEndpoint: `https://${HOST}` }],
    });
    const { reg, secrets } = registry();
    const [a, b] = await Promise.all([reg.login(), reg.login()]);
    const c = await reg.login();
    expect(a).toEqual({ username: "AWS", password: { secretName: `ecr-password-${HOST}` } });
    expect(b).toEqual(a);
    expect(c.password).toBe(a.password);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
    expect(secrets).toEqual([[`ecr-password-${HOST}`, PASSWORD]]);
  });

  it("an expired token is fetched again; still expired is a clear error", async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: token(`AWS:${PASSWORD}`), expiresAt: new Date("2025-12-31T00:00:00Z") }] });
    const err = await registry().reg.login().catch((e: Error) => e);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect((err as Error).message).toMatch(/AWS_CREDENTIALS_INVALID.*expired at 2025-12-31T00:00:00\.000Z/s);
    expect((err as Error).message).not.toContain(PASSWORD);
  });

  it("an expired token replaced by a fresh one is fine", async () => {
    ecr
      .on(GetAuthorizationTokenCommand)
      .resolvesOnce({ authorizationData: [{ authorizationToken: token("AWS:old"), expiresAt: new Date("2025-12-31T00:00:00Z") }] })
      .resolves({ authorizationData: [{ authorizationToken: token("AWS:new"), expiresAt: new Date("2026-01-01T12:00:00Z") }] });
    const { reg, secrets } = registry();
    await reg.login();
    expect(secrets.map(([, p]) => p)).toEqual(["old", "new"]);
  });

  it.each([
    ["no authorization data", {}, /REGISTRY_AUTH_FAILED.*returned no authorization token.*ecr:GetAuthorizationToken/s],
    ["a token that is not user:password", { authorizationData: [{ authorizationToken: token("garbage") }] }, /REGISTRY_AUTH_FAILED.*not base64 of user:password/s],
  ])("%s: a clear error", async (_name, answer, message) => {
    ecr.on(GetAuthorizationTokenCommand).resolves(answer);
    await expect(registry().reg.login()).rejects.toThrow(message);
  });

  it("expired AWS credentials: AWS_CREDENTIALS_INVALID; the next call tries again", async () => {
    ecr.on(GetAuthorizationTokenCommand).rejectsOnce(awsError("ExpiredTokenException", "The security token included in the request is expired")).resolves({
      authorizationData: [{ authorizationToken: token(`AWS:${PASSWORD}`) }],
    });
    const { reg } = registry();
    await expect(reg.login()).rejects.toThrow(/AWS_CREDENTIALS_INVALID.*ecr:GetAuthorizationToken have expired/s);
    expect((await reg.login()).username).toBe("AWS");
  });
});

describe("parseEcrAuthorizationToken", () => {
  it.each([
    ["AWS user", token("AWS:pw:with:colons"), { username: "AWS", password: "pw:with:colons" }],
    ["other user", token("user:pw"), { username: "user", password: "pw" }],
  ])("%s", (_name, t, expected) => {
    expect(parseEcrAuthorizationToken(t, HOST)).toEqual(expected);
  });

  it.each([["no colon", token("AWS")], ["empty password", token("AWS:")], ["empty user", token(":pw")]])("rejects %s without echoing it", (_name, t) => {
    expect(() => parseEcrAuthorizationToken(t, HOST)).toThrow(/REGISTRY_AUTH_FAILED/);
    expect(() => parseEcrAuthorizationToken(t, HOST)).not.toThrow(new RegExp(t));
  });
});

describe("mapEcrError", () => {
  it("keeps a PipelineError as it is", async () => {
    const { PipelineError } = await import("../../modules/pipeline/src/lib/errors.js");
    const original = new PipelineError("PUSH_FAILED", "x");
    expect(mapEcrError(original, { action: "a", host: HOST, region: "us-west-2", accountId: "004671295794" })).toBe(original);
  });
});

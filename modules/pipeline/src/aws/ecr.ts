/**
 * Amazon ECR behind the `ImageRegistry` interface: `DescribeImages` answers "does this tag exist"
 * and `GetAuthorizationToken` gives the push login (user `AWS`, password from the base64
 * `AWS:<password>` token). The token is fetched at most once per run (again only if it expired),
 * turned into a secret at once by the injected `toSecret`, and never printed.
 *
 * The client is injected (`createAwsClients(...).ecr()` in production, whose redaction has removed
 * every credential from AWS's text; aws-sdk-client-mock in tests); every AWS failure becomes a
 * PipelineError naming the registry and what to check, quoting one line of AWS's text at most.
 */
import { DescribeImagesCommand, GetAuthorizationTokenCommand, type ECRClient } from "@aws-sdk/client-ecr";
import { PipelineError } from "../lib/errors.js";
import { awsErrorName, awsErrorText, CREDENTIAL_ERRORS, EXPIRED_ERRORS } from "./aws-errors.js";
import type { ImageLookup, ImageRegistry, RegistryLogin } from "../registry/types.js";

/** The one method of the SDK client used here, so tests and callers can pass any ECRClient. */
export type EcrApi = Pick<ECRClient, "send">;

export interface EcrRegistryOptions<S> {
  client: EcrApi;
  /** `<account>.dkr.ecr.<region>.amazonaws.com` */
  host: string;
  /** The registry's account id (DescribeImages registryId). */
  accountId: string;
  region: string;
  /** Turn the plaintext password into a secret (Dagger: `dag.setSecret`). Called once per token. */
  toSecret: (name: string, plaintext: string) => S;
  /** Clock, for token expiry; injectable for tests. */
  now?: () => Date;
}

export interface EcrAuthorization {
  username: string;
  password: string;
  expiresAt?: Date;
  proxyEndpoint?: string;
}

/** Decode ECR's authorization token: base64 of `AWS:<password>`. Throws without echoing the token. */
export function parseEcrAuthorizationToken(token: string, host: string): { username: string; password: string } {
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new PipelineError("REGISTRY_AUTH_FAILED", `ECR registry ${host} returned an authorization token that is not base64 of user:password`, {
      hint: "retry; if it persists, check that the region and account in pipeline.json registry point at ECR",
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class EcrRegistry<S> implements ImageRegistry<S> {
  readonly kind = "ecr" as const;
  readonly host: string;
  private readonly opts: EcrRegistryOptions<S>;
  private token?: Promise<{ auth: EcrAuthorization; secret: S }>;

  constructor(opts: EcrRegistryOptions<S>) {
    this.opts = opts;
    this.host = opts.host;
  }

  async lookup(repository: string, tag: string): Promise<ImageLookup> {
    try {
      const out = await this.opts.client.send(
        new DescribeImagesCommand({ registryId: this.opts.accountId, repositoryName: repository, imageIds: [{ imageTag: tag }] }),
      );
      const detail = out.imageDetails?.find((d) => d.imageTags?.includes(tag)) ?? out.imageDetails?.[0];
      return detail ? { exists: true, digest: detail.imageDigest } : { exists: false };
    } catch (err) {
      if (awsErrorName(err) === "ImageNotFoundException") return { exists: false };
      throw this.mapError(err, "ecr:DescribeImages", repository);
    }
  }

  async login(): Promise<RegistryLogin<S>> {
    const now = (this.opts.now ?? (() => new Date()))();
    let current = await this.fetchToken();
    if (current.auth.expiresAt && current.auth.expiresAt.getTime() <= now.getTime()) {
      this.token = undefined;
      current = await this.fetchToken();
      if (current.auth.expiresAt && current.auth.expiresAt.getTime() <= now.getTime()) {
        throw new PipelineError("AWS_CREDENTIALS_INVALID", `ECR registry ${this.host} returned an authorization token that expired at ${current.auth.expiresAt.toISOString()}`, {
          hint: "check the clock of the machine running the pipeline and that the AWS credentials are current",
        });
      }
    }
    return { username: current.auth.username, password: current.secret };
  }

  /** GetAuthorizationToken, once per run (memoised promise, so concurrent callers share one call). */
  private fetchToken(): Promise<{ auth: EcrAuthorization; secret: S }> {
    this.token ??= (async () => {
      let data;
      try {
        const out = await this.opts.client.send(new GetAuthorizationTokenCommand({}));
        data = out.authorizationData?.[0];
      } catch (err) {
        this.token = undefined;
        throw this.mapError(err, "ecr:GetAuthorizationToken");
      }
      if (!data?.authorizationToken) {
        this.token = undefined;
        throw new PipelineError("REGISTRY_AUTH_FAILED", `ECR registry ${this.host} returned no authorization token`, {
          hint: `check that the AWS credentials may call ecr:GetAuthorizationToken in ${this.opts.region}`,
        });
      }
      const { username, password } = parseEcrAuthorizationToken(data.authorizationToken, this.host);
      const auth: EcrAuthorization = { username, password, expiresAt: data.expiresAt, proxyEndpoint: data.proxyEndpoint };
      return { auth, secret: this.opts.toSecret(`ecr-password-${this.host}`, password) };
    })();
    return this.token;
  }

  private mapError(err: unknown, action: string, repository?: string): PipelineError {
    return mapEcrError(err, { action, host: this.host, region: this.opts.region, accountId: this.opts.accountId, repository });
  }
}

const DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation"]);
const NETWORK = new Set(["ENOTFOUND", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "TimeoutError", "EHOSTUNREACH"]);

/** Turn an AWS SDK error from ECR into a PipelineError naming the registry and what to check. */
export function mapEcrError(
  err: unknown,
  ctx: { action: string; host: string; region: string; accountId: string; repository?: string },
): PipelineError {
  if (err instanceof PipelineError) return err;
  const name = awsErrorName(err);
  const code = (err as { code?: string })?.code ?? "";
  const detail = `${name}: ${awsErrorText(err)}`;
  const where = `ECR registry ${ctx.host}`;
  if (name === "RepositoryNotFoundException") {
    return new PipelineError("REGISTRY_REPOSITORY_MISSING", `${where} has no repository ${ctx.repository ?? "(unknown)"} (account ${ctx.accountId}, region ${ctx.region})`, {
      hint: `create it (aws ecr create-repository --repository-name ${ctx.repository ?? "<name>"} --region ${ctx.region}) or fix registry.repository / registry.awsAccountId / registry.region in pipeline.json`,
      cause: err,
    });
  }
  if (EXPIRED_ERRORS.has(name)) {
    return new PipelineError("AWS_CREDENTIALS_INVALID", `${where}: the AWS credentials used for ${ctx.action} have expired (${name})`, {
      hint: "refresh the session (aws sso login, or a new CI OIDC token) and pass the new --session-token / credentials",
      cause: err,
    });
  }
  if (name in CREDENTIAL_ERRORS) {
    return new PipelineError("AWS_CREDENTIALS_INVALID", `${where}: AWS rejected the credentials used for ${ctx.action}: ${CREDENTIAL_ERRORS[name]} (${name})`, {
      hint: "check with-aws-credentials (access key id, secret key, session token belong together) or with-aws-web-identity",
      cause: err,
    });
  }
  if (DENIED.has(name)) {
    return new PipelineError("REGISTRY_AUTH_FAILED", `${where}: the AWS identity may not call ${ctx.action}${ctx.repository ? ` on ${ctx.repository}` : ""} (${name})`, {
      hint: `grant ${ctx.action} (and ecr:BatchCheckLayerAvailability, ecr:PutImage, ecr:*LayerUpload* for pushes) on arn:aws:ecr:${ctx.region}:${ctx.accountId}:repository/${ctx.repository ?? "*"}`,
      cause: err,
    });
  }
  if (NETWORK.has(name) || NETWORK.has(code)) {
    return new PipelineError("REGISTRY_UNREACHABLE", `${where}: ${ctx.action} could not reach the ECR API in ${ctx.region} (${name || code})`, {
      hint: `check network access to api.ecr.${ctx.region}.amazonaws.com and registry.region in pipeline.json`,
      cause: err,
    });
  }
  return new PipelineError("REGISTRY_UNREACHABLE", `${where}: ${ctx.action} failed: ${detail}`, {
    hint: `check registry.awsAccountId and registry.region in pipeline.json and the AWS credentials; retry if it was a service error`,
    cause: err,
  });
}

/**
 * Existence check against any OCI registry through the distribution API:
 * `HEAD /v2/<name>/manifests/<tag>` with the OCI and Docker v2 manifest media types in `Accept`,
 * answering a `401` challenge with Bearer (token endpoint, basic credentials if given) or Basic
 * auth. Docker Hub, GHCR, Artifactory, Harbor and Debian's `docker-registry` all speak it.
 *
 * The password is read only when a challenge asks for it and never appears in an error message.
 * Credentials go only to the registry itself or to a token service `trustedTokenRealm` accepts
 * (https, in the registry's own domain); Node's fetch drops `Authorization` on a redirect to
 * another origin (Fetch standard, HTTP-redirect fetch), so a redirect cannot carry them away.
 */
import { PipelineError } from "../lib/errors.js";
import { isLoopbackHost, MANIFEST_MEDIA_TYPES, manifestUrl, parseAuthChallenge, registryBaseUrl, registryOrigin, tokenUrl, type AuthChallenge } from "../lib/image-ref.js";
import type { ImageLookup, ImageRegistry, RegistryLogin } from "./types.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface OciRegistryOptions<S> {
  /** host[:port], as image refs name the registry. */
  host: string;
  /**
   * host[:port] the API requests go to when it is not `host`: the endpoint of a Dagger service that
   * reaches the registry (a registry on the caller's machine is not at `host` from the module).
   */
  apiHost?: string;
  username?: string;
  /** Plaintext password for the API check (read lazily, only when the registry challenges). */
  readPassword?: () => Promise<string>;
  /** The same password as the secret type used for pushing (a Dagger `Secret`). */
  pushPassword?: S;
  /** Default: http for loopback hosts, https otherwise. */
  scheme?: "http" | "https";
  timeoutMs?: number;
  fetch?: FetchLike;
}

export class OciRegistry<S> implements ImageRegistry<S> {
  readonly kind = "oci" as const;
  readonly host: string;
  private readonly opts: OciRegistryOptions<S>;
  /** Authorization header that worked, reused for later requests of this run. */
  private authorization?: string;

  constructor(opts: OciRegistryOptions<S>) {
    this.opts = opts;
    this.host = opts.host;
  }

  async login(): Promise<RegistryLogin<S> | undefined> {
    return this.opts.username && this.opts.pushPassword !== undefined ? { username: this.opts.username, password: this.opts.pushPassword } : undefined;
  }

  /** Where the API requests go: the service endpoint when given, else the registry host. */
  private get apiHost(): string {
    return this.opts.apiHost ?? this.host;
  }

  /** http for a registry on loopback (as docker assumes), or the configured scheme. */
  private get scheme(): "http" | "https" | undefined {
    return this.opts.scheme ?? (isLoopbackHost(this.host) ? "http" : undefined);
  }

  async lookup(repository: string, tag: string): Promise<ImageLookup> {
    const url = manifestUrl({ registry: this.apiHost, repository, tag }, this.scheme);
    let res = await this.request(url, "HEAD", this.authorization);
    if (res.status === 401) {
      const challenge = parseAuthChallenge(res.headers.get("www-authenticate") ?? "");
      this.authorization = await this.answerChallenge(challenge, repository);
      res = await this.request(url, "HEAD", this.authorization);
      if (res.status === 401) throw this.refused(repository, `the registry still answers 401 after ${challenge.scheme} authentication`);
    }
    if (res.status === 200) return { exists: true, digest: res.headers.get("docker-content-digest") ?? undefined };
    if (res.status === 404) return { exists: false };
    if (res.status === 403) throw this.refused(repository, "the registry answers 403 Forbidden: the user may not pull this repository");
    throw new PipelineError("REGISTRY_UNREACHABLE", `registry ${this.host} answered HTTP ${res.status} ${res.statusText} to HEAD ${url}`, {
      hint: `check that ${this.host} is an OCI registry (it must serve /v2/) and that it is healthy`,
    });
  }

  private get anonymousHint(): string {
    return "give credentials with `with-registry-auth --username <user> --password env:REGISTRY_PASSWORD`";
  }

  private refused(repository: string, why: string): PipelineError {
    const who = this.opts.username ? `user ${JSON.stringify(this.opts.username)}` : "anonymous access";
    return new PipelineError("REGISTRY_AUTH_FAILED", `registry ${this.host} refused ${who} for repository ${repository}: ${why}`, {
      hint: this.opts.username
        ? `check the user name and password given to with-registry-auth, and that the user may pull and push ${repository} on ${this.host}`
        : this.anonymousHint,
    });
  }

  private async basicHeader(repository: string): Promise<string | undefined> {
    if (!this.opts.username || !this.opts.readPassword) return undefined;
    const password = await this.opts.readPassword();
    if (!password) throw this.refused(repository, "the password given is empty");
    return `Basic ${Buffer.from(`${this.opts.username}:${password}`).toString("base64")}`;
  }

  private async answerChallenge(challenge: AuthChallenge, repository: string): Promise<string> {
    if (challenge.scheme === "basic") {
      const basic = await this.basicHeader(repository);
      if (!basic) throw this.refused(repository, "the registry requires basic authentication and no credentials were given");
      return basic;
    }
    if (challenge.scheme !== "bearer") throw this.refused(repository, `unsupported authentication challenge ${JSON.stringify(challenge.params)}`);
    const url = tokenUrl(challenge, repository, registryOrigin(this.apiHost, this.scheme));
    const basic = await this.basicHeader(repository);
    const res = await this.request(url, "GET", basic);
    if (res.status === 401 || res.status === 403) throw this.refused(repository, `the token service ${new URL(url).host} answered ${res.status}`);
    if (!res.ok) {
      throw new PipelineError("REGISTRY_UNREACHABLE", `the token service of registry ${this.host} (${new URL(url).host}) answered HTTP ${res.status}`, {
        hint: `check that ${new URL(url).host} is reachable from the pipeline`,
      });
    }
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw this.refused(repository, "the token service answered without a token");
    return `Bearer ${token}`;
  }

  private async request(url: string, method: "HEAD" | "GET", authorization?: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: MANIFEST_MEDIA_TYPES.join(", ") };
    if (authorization) headers.Authorization = authorization;
    const doFetch = this.opts.fetch ?? fetch;
    try {
      return await doFetch(url, { method, headers, redirect: "follow", signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000) });
    } catch (err) {
      throw new PipelineError("REGISTRY_UNREACHABLE", `registry ${this.host} cannot be reached (${method} ${url}): ${describeNetworkError(err)}`, {
        hint: `check the registry host and port (pipeline.json registry.host), that the registry is running, and that ${registryBaseUrl(this.host, this.opts.scheme).split("://")[0]} is the protocol it speaks`,
        cause: err,
      });
    }
  }
}

/** `ECONNREFUSED 127.0.0.1:5000`, `ENOTFOUND host`, `timed out after 15000 ms`, ... */
export function describeNetworkError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timed out";
  const cause = e?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
  return cause?.message ?? e?.message ?? String(err);
}

/**
 * Image references and registry addresses, pure.
 *
 * `parseImageRef` follows the docker reference grammar (distribution/reference): the first path
 * component is a registry host when it contains a `.` or a `:` or is `localhost`; otherwise the
 * image lives on Docker Hub. The OCI distribution API URLs and the `WWW-Authenticate` challenge
 * parser used by the registry client live here too, so they are unit-tested without a network.
 */
import { PipelineError } from "./errors.js";

export interface ImageRef {
  /** Registry host[:port], e.g. `004671295794.dkr.ecr.us-west-2.amazonaws.com` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `rails-api` or `library/ruby`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` */
  digest?: string;
}

export const DOCKER_HUB = "docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

function invalid(ref: string, why: string): PipelineError {
  return new PipelineError("ARGUMENT_INVALID", `image reference ${JSON.stringify(ref)} is invalid: ${why}`, {
    hint: "write it as [registry/]repository[:tag][@sha256:<digest>], e.g. 127.0.0.1:5000/rails-api:base-dev-<sum>",
  });
}

/** Parse `[registry/]repository[:tag][@digest]`. Docker Hub short names get `docker.io` and `library/`. */
export function parseImageRef(ref: string): ImageRef {
  if (ref.length === 0 || ref.length > 4096 || /\s/.test(ref)) throw invalid(ref, "empty, too long or contains whitespace");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `digest ${JSON.stringify(digest)} is not <algorithm>:<hex>`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `tag ${JSON.stringify(tag)} must be 1-128 of letters, digits, '_', '.', '-' and not start with '.' or '-'`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost")) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw invalid(ref, `registry host ${JSON.stringify(registry)} is not host[:port]`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw invalid(ref, `repository ${JSON.stringify(parts.join("/"))} must be lowercase letters and digits separated by '.', '_', '__', '-' or '/'`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  return { registry, repository: parts.join("/"), tag, digest };
}

/** `registry/repository[:tag][@digest]`, the inverse of parseImageRef (Docker Hub names kept explicit). */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** `ref@digest` for a tagged ref (any digest already there is replaced). */
export function formatRefWithDigest(ref: string, digest: string): string {
  return formatImageRef({ ...parseImageRef(ref), digest });
}

/** The digest of what `publish` returns (`host/repo:tag@sha256:...`), or undefined. */
export function digestOf(publishedRef: string): string | undefined {
  const at = publishedRef.lastIndexOf("@");
  const digest = at >= 0 ? publishedRef.slice(at + 1) : "";
  return DIGEST.test(digest) ? digest : undefined;
}

/** Account and region of an ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`), else null. */
export function parseEcrHost(host: string): { accountId: string; region: string } | null {
  const m = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host);
  return m ? { accountId: m[1], region: m[2] } : null;
}

/** Registries on the loopback interface speak plain HTTP, as docker assumes for them. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** Base URL of the distribution API of a registry host: http for loopback, https otherwise. */
export function registryBaseUrl(host: string, scheme?: "http" | "https"): string {
  const apiHost = host === DOCKER_HUB ? "registry-1.docker.io" : host;
  return `${scheme ?? (isLoopbackHost(host) ? "http" : "https")}://${apiHost}`;
}

/** `HEAD`/`GET` URL of a manifest: `/v2/<name>/manifests/<tag or digest>`. */
export function manifestUrl(ref: ImageRef, scheme?: "http" | "https"): string {
  const reference = ref.digest ?? ref.tag;
  if (!reference) throw invalid(formatImageRef(ref), "no tag or digest to look up");
  return `${registryBaseUrl(ref.registry, scheme)}/v2/${ref.repository}/manifests/${reference}`;
}

/** Every manifest media type a tag may point at: OCI index/manifest and Docker v2 list/manifest. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

export interface AuthChallenge {
  scheme: "bearer" | "basic" | "other";
  /** Lower-cased parameter names: realm, service, scope, ... */
  params: Record<string, string>;
}

/** Parse a `WWW-Authenticate` header: `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`. */
export function parseAuthChallenge(header: string): AuthChallenge {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  const scheme = (m?.[1] ?? "").toLowerCase();
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? "").matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: scheme === "bearer" ? "bearer" : scheme === "basic" ? "basic" : "other", params };
}

/** The origin the distribution API is spoken to: scheme and host[:port] (Docker Hub: registry-1.docker.io). */
export interface RegistryOrigin {
  scheme: "http" | "https";
  /** host[:port] as in a URL (`URL.host`). */
  host: string;
}

export function registryOrigin(host: string, scheme?: "http" | "https"): RegistryOrigin {
  const url = new URL(registryBaseUrl(host, scheme));
  return { scheme: url.protocol === "http:" ? "http" : "https", host: url.host };
}

function untrustedRealm(registry: RegistryOrigin, why: string, hint: string): PipelineError {
  return new PipelineError("REGISTRY_AUTH_CHALLENGE_INVALID", `registry ${registry.host} sent a Bearer challenge whose realm ${why}; no credentials were sent`, { hint });
}

/**
 * Where a Bearer challenge may send the registry credentials (Basic auth on the token request).
 *
 * Docker's and containerd's clients send them to whatever realm the registry names
 * (containerd core/remotes/docker/authorizer.go: credentials are looked up by the registry host and
 * sent to the challenge's realm unchecked). go-containerregistry now binds the realm to the
 * registry (pkg/v1/remote/transport/bearer.go `validateRealmURL`: https, or http only for an insecure
 * registry; the realm's domain must be the registry's). This follows it, a little tighter:
 * - the registry host itself (same host and port), over https, or over http only when the
 *   registry itself is spoken to over http (loopback registries);
 * - or, over https only, a DNS name in the registry's own parent domain: the parent itself or a
 *   sibling (`registry-1.docker.io` -> `auth.docker.io`, `registry.gitlab.com` -> `gitlab.com`),
 *   when that parent has at least two labels (`ghcr.io` trusts only `ghcr.io`);
 * - never an IP literal other than the registry's, a realm with user:password, or a non-URL.
 */
export function trustedTokenRealm(realm: string | undefined, registry: RegistryOrigin): URL {
  if (!realm) {
    throw untrustedRealm(registry, "is missing", "check that the registry host is right; a proxy may be rewriting WWW-Authenticate");
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw untrustedRealm(registry, `${JSON.stringify(realm.slice(0, 100))} is not a URL`, "check that the registry host is right; its token service must be an absolute https:// URL");
  }
  const fixHost = `use the registry's own token service, or point pipeline.json registry.host at the registry whose token service this is`;
  if (url.protocol !== "https:" && url.protocol !== "http:") throw untrustedRealm(registry, `uses ${url.protocol}, not https`, fixHost);
  if (url.username || url.password) throw untrustedRealm(registry, `${url.protocol}//${url.host} carries a user name or password`, fixHost);
  const sameHost = url.host.toLowerCase() === registry.host.toLowerCase();
  if (sameHost) {
    if (url.protocol === "http:" && registry.scheme !== "http") throw untrustedRealm(registry, `${url.origin} downgrades to http`, "the registry is spoken to over https: its token service must be https too");
    return url;
  }
  if (url.protocol !== "https:") throw untrustedRealm(registry, `${url.origin} is another host over http`, "a token service on another host must be https");
  const parent = parentDomain(registry.host);
  const name = url.hostname.toLowerCase();
  if (parent === undefined || isIpLiteral(name) || (name !== parent && !name.endsWith(`.${parent}`))) {
    throw untrustedRealm(registry, `${url.origin} is outside the registry's domain${parent ? ` ${parent}` : ""}`, fixHost);
  }
  return url;
}

/** `registry-1.docker.io` -> `docker.io`; undefined for an IP literal or when fewer than two labels remain. */
function parentDomain(host: string): string | undefined {
  const name = host.replace(/:\d+$/, "").toLowerCase();
  if (isIpLiteral(name)) return undefined;
  const labels = name.split(".");
  return labels.length >= 3 ? labels.slice(1).join(".") : undefined;
}

function isIpLiteral(name: string): boolean {
  return name.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/** The token URL for a bearer challenge (realm checked by `trustedTokenRealm`); the scope defaults to pulling the repository. */
export function tokenUrl(challenge: AuthChallenge, repository: string, registry: RegistryOrigin): string {
  const url = trustedTokenRealm(challenge.params.realm, registry);
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  url.searchParams.set("scope", challenge.params.scope ?? `repository:${repository}:pull`);
  return url.toString();
}

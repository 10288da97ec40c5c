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

/** The token URL for a bearer challenge; the scope defaults to pulling the repository. */
export function tokenUrl(challenge: AuthChallenge, repository: string): string {
  const realm = challenge.params.realm;
  if (!realm) throw new PipelineError("REGISTRY_AUTH_FAILED", "the registry sent a Bearer challenge without a realm", {
    hint: "check that the registry host is right; a proxy may be rewriting WWW-Authenticate",
  });
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  url.searchParams.set("scope", challenge.params.scope ?? `repository:${repository}:pull`);
  return url.toString();
}

import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig, type PipelineConfig } from "../../modules/pipeline/src/lib/config.js";
import {
  DEV_DOCKERFILE_PATH,
  ensureBaseImage,
  formatBaseImageOutcome,
  planAppImageBuild,
  planBaseImageBuild,
  resolveBaseImageSelection,
  type BaseImageEffects,
} from "../../modules/pipeline/src/lib/image-build.js";
import {
  digestOf,
  formatImageRef,
  formatRefWithDigest,
  isLoopbackHost,
  manifestUrl,
  MANIFEST_MEDIA_TYPES,
  parseAuthChallenge,
  parseEcrHost,
  parseImageRef,
  registryBaseUrl,
  registryOrigin,
  tokenUrl,
  trustedTokenRealm,
} from "../../modules/pipeline/src/lib/image-ref.js";
import { resolveRef } from "../../modules/pipeline/src/lib/refs.js";
import { thrown } from "../support/errors.js";

const DIGEST = "sha256:" + "ab".repeat(32);
const SHA = "0123456789abcdef0123456789abcdef01234567";
const enc = (s: string) => new TextEncoder().encode(s);

describe("parseImageRef / formatImageRef", () => {
  it.each([
    ["ECR ref with tag", "004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api:base-dev-abc", { registry: "004671295794.dkr.ecr.us-west-2.amazonaws.com", repository: "rails-api", tag: "base-dev-abc" }],
    ["local registry with port", "127.0.0.1:5000/rails-api:v1.2.3", { registry: "127.0.0.1:5000", repository: "rails-api", tag: "v1.2.3" }],
    ["localhost without port", "localhost/team/app:1", { registry: "localhost", repository: "team/app", tag: "1" }],
    ["Docker Hub official image", "ruby:3.1.4", { registry: "docker.io", repository: "library/ruby", tag: "3.1.4" }],
    ["Docker Hub user image", "rubysolo/pgadmin4-auto:latest", { registry: "docker.io", repository: "rubysolo/pgadmin4-auto", tag: "latest" }],
    ["no tag", "ghcr.io/org/app", { registry: "ghcr.io", repository: "org/app", tag: undefined }],
    ["tag and digest", `ghcr.io/org/app:1@${DIGEST}`, { registry: "ghcr.io", repository: "org/app", tag: "1", digest: DIGEST }],
    ["digest only", `127.0.0.1:5000/app@${DIGEST}`, { registry: "127.0.0.1:5000", repository: "app", digest: DIGEST }],
    ["nested path with dots", "registry.example.com:443/a.b/c_d/e-f:t", { registry: "registry.example.com:443", repository: "a.b/c_d/e-f", tag: "t" }],
  ])("parses %s", (_name, ref, expected) => {
    const parsed = parseImageRef(ref);
    expect(parsed).toMatchObject(expected);
    // Round trip (Docker Hub names come back explicit).
    expect(parseImageRef(formatImageRef(parsed))).toEqual(parsed);
  });

  it.each([
    ["empty", "", "empty"],
    ["upper-case repository", "127.0.0.1:5000/Rails-API:1", "repository"],
    ["bad tag", "127.0.0.1:5000/app:-x", "tag"],
    ["tag too long", `127.0.0.1:5000/app:${"a".repeat(129)}`, "tag"],
    ["bad digest", "127.0.0.1:5000/app@sha256:xyz", "digest"],
    ["whitespace", "127.0.0.1:5000/app :1", "whitespace"],
    ["double slash", "127.0.0.1:5000//app:1", "repository"],
  ])("rejects %s naming the part", (_name, ref, fragment) => {
    expect(() => parseImageRef(ref)).toThrow(/ARGUMENT_INVALID/);
    expect(() => parseImageRef(ref)).toThrow(new RegExp(fragment));
  });

  it("formats a ref with its digest, replacing an old one", () => {
    expect(formatRefWithDigest("127.0.0.1:5000/app:1", DIGEST)).toBe(`127.0.0.1:5000/app:1@${DIGEST}`);
    expect(formatRefWithDigest(`127.0.0.1:5000/app:1@sha256:${"0".repeat(64)}`, DIGEST)).toBe(`127.0.0.1:5000/app:1@${DIGEST}`);
  });

  it.each([
    ["published ref", `127.0.0.1:5000/app:1@${DIGEST}`, DIGEST],
    ["no digest", "127.0.0.1:5000/app:1", undefined],
    ["garbage after @", "127.0.0.1:5000/app:1@nope", undefined],
  ])("digestOf a %s", (_name, ref, digest) => {
    expect(digestOf(ref)).toBe(digest);
  });
});

describe("registry hosts and URLs", () => {
  it.each([
    ["004671295794.dkr.ecr.us-west-2.amazonaws.com", { accountId: "004671295794", region: "us-west-2" }],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", { accountId: "123456789012", region: "cn-north-1" }],
    ["127.0.0.1:5000", null],
    ["ghcr.io", null],
    ["12345.dkr.ecr.us-west-2.amazonaws.com", null],
  ])("parseEcrHost(%s)", (host, expected) => {
    expect(parseEcrHost(host)).toEqual(expected);
  });

  it.each([
    ["127.0.0.1:5000", true],
    ["localhost:5000", true],
    ["[::1]:5000", true],
    ["127.10.0.3", true],
    ["ghcr.io", false],
    ["10.0.0.1:5000", false],
  ])("isLoopbackHost(%s) is %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it.each([
    ["loopback speaks http", "127.0.0.1:5000", undefined, "http://127.0.0.1:5000"],
    ["others speak https", "ghcr.io", undefined, "https://ghcr.io"],
    ["Docker Hub's API host", "docker.io", undefined, "https://registry-1.docker.io"],
    ["explicit scheme wins", "registry.lan:5000", "http" as const, "http://registry.lan:5000"],
  ])("registryBaseUrl: %s", (_name, host, scheme, url) => {
    expect(registryBaseUrl(host, scheme)).toBe(url);
  });

  it("builds the manifest URL of a tag or digest", () => {
    expect(manifestUrl(parseImageRef("127.0.0.1:5000/team/app:base-dev-1"))).toBe("http://127.0.0.1:5000/v2/team/app/manifests/base-dev-1");
    expect(manifestUrl(parseImageRef(`ghcr.io/o/a@${DIGEST}`))).toBe(`https://ghcr.io/v2/o/a/manifests/${DIGEST}`);
    expect(() => manifestUrl(parseImageRef("ghcr.io/o/a"))).toThrow(/no tag or digest/);
  });

  it("accepts OCI index/manifest and Docker v2 list/manifest", () => {
    expect(MANIFEST_MEDIA_TYPES).toEqual([
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v2+json",
    ]);
  });
});

describe("parseAuthChallenge / tokenUrl", () => {
  it.each([
    [
      "Docker Hub bearer",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ruby:pull"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/ruby:pull" } },
    ],
    ["basic realm", 'Basic realm="pipeline-test"', { scheme: "basic", params: { realm: "pipeline-test" } }],
    ["lower-case scheme, unquoted value", "bearer realm=https://t.example/token", { scheme: "bearer", params: { realm: "https://t.example/token" } }],
    ["escaped quote", 'Basic realm="a \\"b\\""', { scheme: "basic", params: { realm: 'a "b"' } }],
    ["unknown scheme", 'Negotiate abc', { scheme: "other", params: {} }],
    ["empty header", "", { scheme: "other", params: {} }],
  ])("parses %s", (_name, header, expected) => {
    expect(parseAuthChallenge(header)).toEqual(expected);
  });

  it("puts service and scope on the token URL, defaulting the scope to pull", () => {
    const url = new URL(tokenUrl(parseAuthChallenge('Bearer realm="https://t.example/token?x=1",service="reg"'), "team/app", registryOrigin("t.example")));
    expect(url.origin + url.pathname).toBe("https://t.example/token");
    expect(Object.fromEntries(url.searchParams)).toEqual({ x: "1", service: "reg", scope: "repository:team/app:pull" });
  });

  it("refuses a bearer challenge without a realm", () => {
    expect(() => tokenUrl(parseAuthChallenge('Bearer service="x"'), "app", registryOrigin("t.example"))).toThrow(/REGISTRY_AUTH_CHALLENGE_INVALID.*realm is missing/);
  });
});

// Issue #11 item 3: the realm decides where the registry password goes (Basic auth on the token
// request). Before, any realm was used, over http too, and a non-URL realm threw a raw TypeError.
describe("trustedTokenRealm: where registry credentials may go", () => {
  it.each([
    ["the registry itself", "https://ghcr.io/token", "ghcr.io"],
    ["Docker Hub's token service (sibling in docker.io)", "https://auth.docker.io/token", "docker.io"],
    ["GitLab's (the parent domain)", "https://gitlab.com/jwt/auth", "registry.gitlab.com"],
    ["a sibling in a deeper domain", "https://auth.corp.example.com/token", "registry.corp.example.com"],
    ["the same host over https, other path", "https://harbor.example.com:8443/service/token", "harbor.example.com:8443"],
    ["a loopback registry's own http token service", "http://127.0.0.1:5000/token", "127.0.0.1:5000"],
    ["case differences", "https://AUTH.Docker.IO/token", "docker.io"],
  ])("accepts %s", (_name, realm, host) => {
    expect(trustedTokenRealm(realm, registryOrigin(host)).href).toBe(new URL(realm).href);
  });

  it.each([
    ["a stranger's host", "https://evil.example.net/token", "ghcr.io", "is outside the registry's domain"],
    ["a look-alike domain", "https://auth.docker.io.evil.example/token", "docker.io", "is outside the registry's domain docker.io"],
    ["a two-label registry's neighbour", "https://evil.io/token", "ghcr.io", "is outside the registry's domain"],
    ["the metadata service", "https://169.254.169.254/latest/meta-data", "registry.example.com", "is outside the registry's domain"],
    ["another port of the registry host over http", "http://127.0.0.1:6000/token", "127.0.0.1:5000", "is another host over http"],
    ["plain http to a sibling", "http://auth.docker.io/token", "docker.io", "is another host over http"],
    ["an https registry's own realm over http", "http://ghcr.io/token", "ghcr.io", "downgrades to http"],
    ["a realm with a password", "https://u:p@ghcr.io/token", "ghcr.io", "carries a user name or password"],
    ["a non-http scheme", "ftp://ghcr.io/token", "ghcr.io", "uses ftp:, not https"],
    ["a realm that is not a URL", "token-service", "ghcr.io", '"token-service" is not a URL'],
    ["a relative realm", "/token", "ghcr.io", "is not a URL"],
    ["an empty realm", "", "ghcr.io", "is missing"],
  ])("refuses %s with a coded error", (_name, realm, host, fragment) => {
    const err = thrown(() => trustedTokenRealm(realm, registryOrigin(host)));
    expect(err.code).toBe("REGISTRY_AUTH_CHALLENGE_INVALID");
    expect(err.message).toContain(fragment);
    expect(err.message).toContain("no credentials were sent");
  });
});

const localConfig: PipelineConfig = parseConfig({ registry: { host: "127.0.0.1:5000" } });
const files = { gemfile: enc("gem 'rails'\n"), gemfileLock: enc("GEM\n"), dockerfileBase: enc("ARG RUBY_IMAGE=ruby:3.1.4\nFROM ${RUBY_IMAGE}\nRUN bundle config set --local frozen true # remove-for-dev\nRUN bundle install\n") };

describe("resolveBaseImageSelection", () => {
  it.each([
    ["--env dev", { env: "dev" }, { devVariant: true, pushLatest: false }],
    ["--env stage", { env: "stage" }, { devVariant: true, pushLatest: false }],
    ["--env prod", { env: "prod" }, { devVariant: false, pushLatest: false }],
    ["develop branch", { branch: "da/develop" }, { devVariant: true, pushLatest: true }],
    ["develop branch with --env dev", { branch: "da/develop", env: "dev" }, { devVariant: true, pushLatest: true }],
    ["develop branch forced to prod never moves the dev alias", { branch: "da/develop", env: "prod" }, { devVariant: false, pushLatest: false }],
    ["stage branch", { branch: "da/stage" }, { devVariant: true, pushLatest: false }],
    ["release tag", { tag: "release-v1.2.3" }, { devVariant: false, pushLatest: false }],
    ["feature branch", { branch: "feature/new-loan-flow" }, { devVariant: true, pushLatest: false }],
    ["unknown branch", { branch: "fix/typo" }, { devVariant: true, pushLatest: false }],
  ])("%s", (_name, flags, expected) => {
    expect(resolveBaseImageSelection({ config: DEFAULT_CONFIG, ...flags })).toMatchObject(expected);
  });

  it.each([
    ["no flags", {}, /ARGUMENT_INVALID.*--env or --branch\/--tag/],
    ["branch and tag", { branch: "da/develop", tag: "release-v1" }, /REF_INVALID.*both --branch/],
    ["unknown env", { env: "qa" }, /ENVIRONMENT_UNKNOWN.*--env "qa"/],
  ])("rejects %s", (_name, flags, message) => {
    expect(() => resolveBaseImageSelection({ config: DEFAULT_CONFIG, ...flags })).toThrow(message);
  });
});

describe("planBaseImageBuild", () => {
  it("dev variant: drops the marked lines, writes them into the context, pushes the alias when asked", () => {
    const plan = planBaseImageBuild({ config: localConfig, files, devVariant: true, pushLatest: true });
    expect(plan.tag).toMatch(/^base-dev-[0-9a-f]{40}$/);
    expect(plan.ref).toBe(`127.0.0.1:5000/rails-api:${plan.tag}`);
    expect(plan.dockerfilePath).toBe(DEV_DOCKERFILE_PATH);
    expect(plan.writeDockerfile).toBe(true);
    expect(plan.dockerfileText).not.toContain("remove-for-dev");
    expect(plan.dockerfileText).toContain("RUN bundle install");
    expect(plan.buildArgs).toEqual([{ name: "RUBY_IMAGE", value: "ruby:3.1.4" }]);
    expect(plan.secretId).toBe("github_token");
    expect(plan.latestRef).toBe("127.0.0.1:5000/rails-api:base-dev-latest");
  });

  it("prod variant: the Dockerfile as committed, no alias even when asked", () => {
    const plan = planBaseImageBuild({ config: localConfig, files, devVariant: false, pushLatest: true });
    expect(plan.tag).toBe(plan.tag.replace("base-dev-", "base-"));
    expect(plan.tag).toMatch(/^base-[0-9a-f]{40}$/);
    expect(plan.dockerfilePath).toBe("Dockerfile.base");
    expect(plan.writeDockerfile).toBe(false);
    expect(plan.dockerfileText).toContain("remove-for-dev");
    expect(plan.latestRef).toBeNull();
  });

  it("uses the ECR host when no registry.host is set, and the configured Ruby image", () => {
    const config = parseConfig({ images: { rubyImage: "local/ruby-debian:3.1" } });
    const plan = planBaseImageBuild({ config, files, devVariant: true, pushLatest: false });
    expect(plan.ref.startsWith("004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api:base-dev-")).toBe(true);
    expect(plan.buildArgs).toEqual([{ name: "RUBY_IMAGE", value: "local/ruby-debian:3.1" }]);
    expect(plan.latestRef).toBeNull();
  });

  it("changes tag when Gemfile.lock changes", () => {
    const a = planBaseImageBuild({ config: localConfig, files, devVariant: true, pushLatest: false });
    const b = planBaseImageBuild({ config: localConfig, files: { ...files, gemfileLock: enc("GEM\n  x\n") }, devVariant: true, pushLatest: false });
    expect(a.tag).not.toBe(b.tag);
  });
});

describe("planAppImageBuild", () => {
  const baseRef = "127.0.0.1:5000/rails-api:base-dev-abc";
  it.each([
    ["develop", { kind: "branch" as const, name: "da/develop" }, SHA, "dev"],
    ["stage", { kind: "branch" as const, name: "da/stage" }, SHA, "stage"],
    ["release", { kind: "tag" as const, name: "release-v1.2.3" }, "v1.2.3", "prod"],
    ["feature", { kind: "branch" as const, name: "feature/new-loan-flow" }, "feat-new-loan-flow-0123456", "feature-new-loan-flow"],
  ])("%s: seed build args, tag per environment", (_name, ref, tag, vpc) => {
    const resolution = resolveRef({ ...ref, sha: SHA }, localConfig);
    if (!resolution.deploy) throw new Error("expected a deploy");
    const plan = planAppImageBuild({ config: localConfig, target: resolution.target, baseRef });
    expect(plan.ref).toBe(`127.0.0.1:5000/rails-api:${tag}`);
    expect(plan.dockerfilePath).toBe("Dockerfile");
    expect(plan.buildArgs).toEqual([
      { name: "BASE_IMAGE_NAME", value: baseRef },
      { name: "DOCKER_TAG", value: tag },
      { name: "VPC_NAME", value: vpc },
    ]);
  });
});

describe("ensureBaseImage", () => {
  const plan = planBaseImageBuild({ config: localConfig, files, devVariant: true, pushLatest: true });

  function effects(found: boolean, failOn?: string) {
    const calls: string[] = [];
    const fx: BaseImageEffects<string> = {
      lookup: async () => (calls.push("lookup"), found ? { exists: true, digest: DIGEST } : { exists: false }),
      build: async () => (calls.push("build"), "image"),
      publish: async (_b, ref) => {
        calls.push(`publish ${ref}`);
        if (failOn && ref.endsWith(failOn)) throw new Error(`push of ${ref} failed`);
        return `${ref}@${DIGEST}`;
      },
    };
    return { calls, fx };
  }

  it("hit: builds and pushes nothing", async () => {
    const { calls, fx } = effects(true);
    const outcome = await ensureBaseImage(plan, fx);
    expect(calls).toEqual(["lookup"]);
    expect(outcome).toMatchObject({ cacheHit: true, builds: 0, digest: DIGEST, latestRef: null });
    expect(formatBaseImageOutcome(outcome)).toBe(`cache hit ${plan.ref}@${DIGEST} (nothing built)`);
  });

  it("miss: builds, pushes the tag, then the alias", async () => {
    const { calls, fx } = effects(false);
    const outcome = await ensureBaseImage(plan, fx);
    expect(calls).toEqual(["lookup", "build", `publish ${plan.ref}`, `publish ${plan.latestRef}`]);
    expect(outcome).toMatchObject({ cacheHit: false, builds: 1, digest: DIGEST, latestRef: plan.latestRef });
    expect(formatBaseImageOutcome(outcome)).toBe(`cache miss: built and pushed ${plan.ref}@${DIGEST}\nalias ${plan.latestRef} -> ${plan.ref}@${DIGEST}`);
  });

  it("a failed main push leaves the alias alone", async () => {
    const { calls, fx } = effects(false, plan.tag);
    await expect(ensureBaseImage(plan, fx)).rejects.toThrow(/push of .* failed/);
    expect(calls).toEqual(["lookup", "build", `publish ${plan.ref}`]);
  });

  it("no alias off the develop branch", async () => {
    const { calls, fx } = effects(false);
    await ensureBaseImage({ ...plan, latestRef: null }, fx);
    expect(calls).toEqual(["lookup", "build", `publish ${plan.ref}`]);
  });
});

/**
 * The Dagger graph of the image functions, recorded without an engine (test/support/dagger-recorder):
 * what is built from which Dockerfile with which build args, which secrets travel as secrets, what
 * is pushed where and in which order. The registry existence check runs for real against an
 * in-process HTTP registry (OCI) or through aws-sdk-client-mock (ECR).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import path from "node:path";
import { dag, type Secret } from "@dagger.io/dagger";
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand, ImageNotFoundException } from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { buildAppImage, publishAppImage, publishBaseImage, type ImageDeps } from "../../modules/pipeline/src/images.js";
import type { FetchLike } from "../../modules/pipeline/src/registry/oci.js";
import { countOf, installRecorder, type Recorder } from "../support/dagger-recorder.js";
import { functionName, introspectModule, REPO_ROOT } from "../support/introspect.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const GITHUB_TOKEN = "ghp_graphTestTokenValue0123456789abcdef";
const REGISTRY_PASSWORD = "registry-password-graph-test";
const ECR_PASSWORD = "ecr-password-graph-test-value";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const DIGEST = "sha256:" + "12".repeat(32);
const ECR_HOST = "004671295794.dkr.ecr.us-west-2.amazonaws.com";

const fixtureFile = (name: string) => readFileSync(path.join(FIXTURE, name), "utf8");
const BASE_DOCKERFILE = (() => {
  try {
    return fixtureFile("Dockerfile.base");
  } catch {
    return "ARG RUBY_IMAGE=ruby:3.1.4\nFROM ${RUBY_IMAGE}\nRUN bundle config set --local frozen 'true' # remove-for-dev\nRUN --mount=type=secret,id=github_token bundle install\n";
  }
})();

/** Tags the in-process registry has; anything else is a 404. */
const present = new Set<string>();
let registryHost = "";
let server: http.Server;
let recorder: Recorder;
/** Publish addresses that fail (to see that the alias is not pushed after a failed push). */
const failingPushes = new Set<string>();
let files: Record<string, string> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.url ?? "");
    if (req.method === "HEAD" && m && present.has(m[2])) return void res.writeHead(200, { "docker-content-digest": DIGEST }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  // A name, not 127.0.0.1: a loopback registry.host is refused (the module and the engine do not run
  // on the caller's machine); the test's fetch reaches the in-process registry under that name.
  registryHost = `registry.test:${(server.address() as AddressInfo).port}`;
  recorder = await installRecorder((leaf, query) => {
    if (leaf === "exists") {
      const p = /exists \(path: "([^"]+)"/.exec(query)?.[1] ?? "";
      return p in files;
    }
    if (leaf === "contents") {
      const p = /file \(path: "([^"]+)"\) \{ contents/.exec(query)?.[1] ?? "";
      return files[p] ?? "";
    }
    if (leaf === "plaintext") {
      if (query.includes("GITHUB_OAUTH_TOKEN")) return GITHUB_TOKEN;
      if (query.includes("REGISTRY_PASSWORD")) return REGISTRY_PASSWORD;
      return "";
    }
    if (leaf === "publish") {
      const address = [...query.matchAll(/publish \(address: "([^"]+)"/g)].at(-1)?.[1] ?? "";
      if (failingPushes.has(address)) throw new Error(`failed to push ${address}: connection reset by peer`);
      return `${address}@${DIGEST}`;
    }
    return undefined;
  });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  recorder.reset();
  present.clear();
  failingPushes.clear();
  files = {
    Gemfile: "source 'https://rubygems.org'\ngem 'rails', '~> 6.1.7'\n",
    "Gemfile.lock": "GEM\n  specs:\n    rails (6.1.7.10)\n",
    "Dockerfile.base": BASE_DOCKERFILE,
    Dockerfile: "ARG BASE_IMAGE_NAME\nFROM ${BASE_IMAGE_NAME}\nCOPY . .\n",
    "pipeline.json": JSON.stringify({ registry: { host: registryHost } }),
  };
});

function credentials(extra: Partial<RunCredentials> = {}): RunCredentials {
  return {
    aws: {},
    githubToken: dag.secret("env://GITHUB_OAUTH_TOKEN"),
    ...extra,
  };
}

/** The in-process registry answers for registry.test (over plain http). */
const viaTestRegistry: FetchLike = (url, init) => fetch(url.replace(/^https?:\/\/registry\.test:/, "http://127.0.0.1:"), init);
const quiet: ImageDeps = { log: () => undefined, fetch: viaTestRegistry };
const source = () => dag.directory();
const all = () => recorder.expanded().join("\n");
/** Queries ending in a publish, in order, with their address. */
const pushes = () => recorder.queries.flatMap((q) => [...q.matchAll(/publish \(address: "([^"]+)"\)/g)].map((m) => m[1]));

/** The plaintext appears only inside setSecret(...) selections, never anywhere else. */
function expectOnlyInSetSecret(text: string, value: string): void {
  const outside = text.replace(/setSecret \(name: "[^"]*",plaintext: "(?:[^"\\]|\\.)*"\)/g, "setSecret(<elided>)");
  expect(outside).not.toContain(value);
}

describe("base-image (OCI registry)", () => {
  it("miss on the develop branch: dev-variant Dockerfile, RUBY_IMAGE, token as a BuildKit secret, push then alias", async () => {
    const run = await publishBaseImage(source(), { branch: "da/develop" }, credentials(), quiet);
    const graph = all();
    const ref = `${registryHost}/rails-api:${run.plan.tag}`;
    expect(run.plan.tag).toMatch(/^base-dev-[0-9a-f]{40}$/);
    expect(run.outcome).toMatchObject({ cacheHit: false, builds: 1, digest: DIGEST, latestRef: `${registryHost}/rails-api:base-dev-latest` });
    expect(run.report).toBe(`cache miss: built and pushed ${ref}@${DIGEST}\nalias ${registryHost}/rails-api:base-dev-latest -> ${ref}@${DIGEST}`);

    // The dev variant is written into the build context and used as the Dockerfile.
    const withNewFile = /withNewFile \(path: "\.pipeline\/Dockerfile\.base\.dev",contents: "((?:[^"\\]|\\.)*)"\)/.exec(graph);
    expect(withNewFile).not.toBeNull();
    const written = JSON.parse(`"${withNewFile![1]}"`) as string;
    expect(written).not.toContain("remove-for-dev");
    expect(written).toContain("--mount=type=secret,id=github_token");
    expect(graph).toContain('dockerBuild (dockerfile: ".pipeline/Dockerfile.base.dev",buildArgs: [{name:"RUBY_IMAGE",value:"ruby:3.1.4"}],secrets: ["<<{ setSecret (name: "github_token",plaintext:');

    // The token: a secret named for the Dockerfile's id, never an arg, env, label or exec.
    expectOnlyInSetSecret(graph, GITHUB_TOKEN);
    expect(countOf(recorder.queries.join("\n"), `setSecret (name: "github_token"`)).toBe(1);
    for (const forbidden of ["withEnvVariable", "withLabel", "withExec", "GITHUB_OAUTH_TOKEN\",value"]) expect(graph).not.toContain(forbidden);

    // One build (synced before pushing), its secret unmounted at once (dockerBuild keeps it mounted),
    // the checksum tag first, the alias only after it.
    const synced = recorder.queries.filter((q) => q.includes("dockerBuild") && /\{ sync \}( \})+$/.test(q));
    expect(synced).toHaveLength(1);
    expect(synced[0]).toMatch(/\) \{ withoutMount \(path: "\/run\/secrets\/github_token"\) \{ sync \}/);
    expect(pushes()).toEqual([ref, `${registryHost}/rails-api:base-dev-latest`]);
  });

  it("registry.plainHttp: the existence check speaks http to a non-loopback registry (found on a real engine: a registry both the module and the engine reach by name, without TLS)", async () => {
    const asked: string[] = [];
    const httpOnly: FetchLike = (url, init) => {
      asked.push(url);
      return url.startsWith("http://") ? viaTestRegistry(url, init) : Promise.reject(new TypeError("fetch failed", { cause: { code: "EPROTO" } }));
    };
    files["pipeline.json"] = JSON.stringify({ registry: { host: registryHost, plainHttp: true } });
    const run = await publishBaseImage(source(), { env: "dev" }, credentials(), { ...quiet, fetch: httpOnly });
    expect(asked).toEqual([`http://${registryHost}/v2/rails-api/manifests/${run.plan.tag}`]);
    expect(run.outcome).toMatchObject({ cacheHit: false, builds: 1 });

    // Without it, https: the same registry cannot be reached.
    files["pipeline.json"] = JSON.stringify({ registry: { host: registryHost } });
    await expect(publishBaseImage(source(), { env: "dev" }, credentials(), { ...quiet, fetch: httpOnly })).rejects.toThrow(/REGISTRY_UNREACHABLE.*https:\/\/registry\.test/);
  });

  it("hit: nothing built, nothing pushed, the registry's digest reported", async () => {
    const first = await publishBaseImage(source(), { env: "dev" }, credentials(), quiet);
    present.add(first.plan.tag);
    recorder.reset();
    const run = await publishBaseImage(source(), { env: "dev" }, credentials(), quiet);
    expect(run.outcome).toMatchObject({ cacheHit: true, builds: 0, digest: DIGEST });
    expect(run.report).toBe(`cache hit ${registryHost}/rails-api:${run.plan.tag}@${DIGEST} (nothing built)`);
    expect(all()).not.toContain("dockerBuild");
    expect(all()).not.toContain("setSecret");
    expect(pushes()).toEqual([]);
  });

  it("a changed Gemfile.lock is a miss with a new tag", async () => {
    const first = await publishBaseImage(source(), { env: "dev" }, credentials(), quiet);
    present.add(first.plan.tag);
    files["Gemfile.lock"] += "    pg (1.4.5)\n";
    const second = await publishBaseImage(source(), { env: "dev" }, credentials(), quiet);
    expect(second.plan.tag).not.toBe(first.plan.tag);
    expect(second.outcome.cacheHit).toBe(false);
  });

  it("prod (release tag): the committed Dockerfile.base, base-<sum>, no alias", async () => {
    const run = await publishBaseImage(source(), { tag: "release-v1.2.3" }, credentials(), quiet);
    expect(run.plan.tag).toMatch(/^base-[0-9a-f]{40}$/);
    expect(all()).not.toContain("withNewFile");
    expect(all()).toContain('dockerBuild (dockerfile: "Dockerfile.base",buildArgs: [{name:"RUBY_IMAGE",value:"ruby:3.1.4"}]');
    expect(pushes()).toEqual([`${registryHost}/rails-api:${run.plan.tag}`]);
  });

  it.each([
    ["--env dev alone", { env: "dev" }],
    ["the stage branch", { branch: "da/stage" }],
    ["a feature branch", { branch: "feature/new-loan-flow" }],
  ])("%s: dev variant, no latest alias", async (_name, flags) => {
    const run = await publishBaseImage(source(), flags, credentials(), quiet);
    expect(run.plan.devVariant).toBe(true);
    expect(pushes()).toEqual([`${registryHost}/rails-api:${run.plan.tag}`]);
  });

  it("a failed push leaves the latest alias alone and says what failed", async () => {
    const plan = (await publishBaseImage(source(), { env: "dev" }, credentials(), quiet)).plan;
    recorder.reset();
    failingPushes.add(plan.ref);
    await expect(publishBaseImage(source(), { branch: "da/develop" }, credentials(), quiet)).rejects.toThrow(
      new RegExp(`PUSH_FAILED\\] pushing ${plan.ref.replace(/[.]/g, "\\.")} to ${registryHost.replace(/[.]/g, "\\.")} failed`),
    );
    expect(pushes()).toEqual([plan.ref]);
  });

  it("no token given: no secret at all (the Dockerfile's secret mount is optional)", async () => {
    await publishBaseImage(source(), { env: "dev" }, { aws: {} }, quiet);
    expect(all()).toContain("secrets: []");
    expect(all()).not.toContain("setSecret");
  });

  it("with-registry-auth: the password travels as the user's secret, its plaintext is never in the graph", async () => {
    const creds = credentials({ registryUsername: "ci", registryPassword: dag.secret("env://REGISTRY_PASSWORD") });
    await publishBaseImage(source(), { env: "dev" }, creds, quiet);
    const graph = all();
    expect(graph).toContain(`withRegistryAuth (address: "${registryHost}",username: "ci",secret: "<<{ secret (uri: "env://REGISTRY_PASSWORD") { id } }>>")`);
    expect(graph).not.toContain(REGISTRY_PASSWORD);
  });

  it("a missing Dockerfile.base: SOURCE_FILE_MISSING naming it", async () => {
    delete files["Dockerfile.base"];
    await expect(publishBaseImage(source(), { env: "dev" }, credentials(), quiet)).rejects.toThrow(/SOURCE_FILE_MISSING\] Dockerfile\.base is missing/);
  });

  it("no --env, --branch or --tag: a clear error", async () => {
    await expect(publishBaseImage(source(), {}, credentials(), quiet)).rejects.toThrow(/ARGUMENT_INVALID.*--env or --branch\/--tag/);
  });
});

describe("base-image (ECR)", () => {
  const ecr = mockClient(ECRClient);
  const deps: ImageDeps = { ...quiet, ecrClient: async () => new ECRClient({ region: "us-west-2" }) };
  beforeEach(() => {
    ecr.reset();
    delete files["pipeline.json"];
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64") }] });
  });

  it("miss: DescribeImages, then one GetAuthorizationToken, the password as a secret to withRegistryAuth", async () => {
    ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: "not found", $metadata: {} }));
    const run = await publishBaseImage(source(), { branch: "da/develop" }, credentials(), deps);
    expect(run.plan.ref).toBe(`${ECR_HOST}/rails-api:${run.plan.tag}`);
    expect(ecr.commandCalls(DescribeImagesCommand)[0].args[0].input).toMatchObject({ repositoryName: "rails-api", imageIds: [{ imageTag: run.plan.tag }] });
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
    const graph = all();
    expect(graph).toContain(`withRegistryAuth (address: "${ECR_HOST}",username: "AWS",secret: "<<{ setSecret (name: "ecr-password-${ECR_HOST}",plaintext:`);
    expectOnlyInSetSecret(graph, ECR_PASSWORD);
    // The SDK re-sends `setSecret { id }` each time the one Secret is used; it is always the same one.
    expect(new Set(recorder.queries.filter((q) => q.includes('setSecret (name: "ecr-password-'))).size).toBe(1);
    expect(pushes()).toEqual([run.plan.ref, `${ECR_HOST}/rails-api:base-dev-latest`]);
  });

  it("no AWS credentials: AWS_CREDENTIALS_INVALID naming the with-aws-* builders, before any build", async () => {
    await expect(publishBaseImage(source(), { env: "dev" }, credentials(), quiet)).rejects.toThrow(/AWS_CREDENTIALS_INVALID[\s\S]*with-aws-credentials/);
    expect(all()).not.toContain("dockerBuild");
  });

  it("hit: no token fetched, nothing built", async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: ["x"] }] });
    const run = await publishBaseImage(source(), { env: "dev" }, credentials(), deps);
    expect(run.outcome.cacheHit).toBe(true);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
    expect(all()).not.toContain("dockerBuild");
  });
});

describe("app-image / publish-app-image", () => {
  it("publish on develop: base ensured, Dockerfile with the seed's build args, pushed to the sha tag, ref@digest returned", async () => {
    const published = await publishAppImage(source(), { branch: "da/develop", sha: SHA }, credentials(), quiet);
    expect(published).toBe(`${registryHost}/rails-api:${SHA}@${DIGEST}`);
    const graph = all();
    const baseTag = /rails-api:(base-dev-[0-9a-f]{40})/.exec(graph)![1];
    expect(graph).toContain(
      `dockerBuild (dockerfile: "Dockerfile",buildArgs: [{name:"BASE_IMAGE_NAME",value:"${registryHost}/rails-api:${baseTag}"},{name:"DOCKER_TAG",value:"${SHA}"},{name:"VPC_NAME",value:"dev"}])`,
    );
    // The app build gets no secret: the token is only for the base image's gem install.
    expect(graph).toMatch(/dockerBuild \(dockerfile: "Dockerfile",buildArgs: \[[^\]]*\]\) \{ publish/);
    expectOnlyInSetSecret(graph, GITHUB_TOKEN);
    expect(pushes()).toEqual([`${registryHost}/rails-api:${baseTag}`, `${registryHost}/rails-api:base-dev-latest`, `${registryHost}/rails-api:${SHA}`]);
  });

  it("release tag: prod base, version tag, VPC prod; the base is reused when present", async () => {
    const first = await publishBaseImage(source(), { tag: "release-v1.2.3" }, credentials(), quiet);
    present.add(first.plan.tag);
    recorder.reset();
    const published = await publishAppImage(source(), { tag: "release-v1.2.3", sha: SHA }, credentials(), quiet);
    expect(published).toBe(`${registryHost}/rails-api:v1.2.3@${DIGEST}`);
    expect(all()).toContain(`{name:"BASE_IMAGE_NAME",value:"${first.plan.ref}"},{name:"DOCKER_TAG",value:"v1.2.3"},{name:"VPC_NAME",value:"prod"}`);
    expect(pushes()).toEqual([`${registryHost}/rails-api:v1.2.3`]);
  });

  it("feature branch: feat-<name>-<sha7> tag and the feature's VPC name", async () => {
    const published = await publishAppImage(source(), { branch: "feature/new-loan-flow", sha: SHA }, credentials(), quiet);
    expect(published).toBe(`${registryHost}/rails-api:feat-new-loan-flow-0123456@${DIGEST}`);
    expect(all()).toContain(`{name:"DOCKER_TAG",value:"feat-new-loan-flow-0123456"},{name:"VPC_NAME",value:"feature-new-loan-flow"}`);
  });

  it("app-image builds only: a lazy Container, no app push", async () => {
    const build = await buildAppImage(source(), { env: "stage", branch: "da/stage", sha: SHA }, credentials(), quiet);
    expect(build.plan.ref).toBe(`${registryHost}/rails-api:${SHA}`);
    expect(build.plan.buildArgs.at(-1)).toEqual({ name: "VPC_NAME", value: "stage" });
    expect(pushes().filter((p) => p.endsWith(SHA))).toEqual([]);
    await build.container.sync();
    expect(all()).toContain('dockerBuild (dockerfile: "Dockerfile"');
  });

  it("with-registry-auth: the login is registered with the engine before the app build pulls its FROM", async () => {
    const creds = credentials({ registryUsername: "ci", registryPassword: dag.secret("env://REGISTRY_PASSWORD") });
    await publishAppImage(source(), { branch: "da/develop", sha: SHA }, creds, quiet);
    const auth = recorder.queries.findIndex((q) => q.startsWith("{ container { withRegistryAuth"));
    const appPush = recorder.queries.findIndex((q) => q.includes(`publish (address: "${registryHost}/rails-api:${SHA}")`));
    expect(auth).toBeGreaterThanOrEqual(0);
    expect(auth).toBeLessThan(appPush);
    expect(all()).not.toContain(REGISTRY_PASSWORD);
  });

  it.each([
    ["an unknown branch", { branch: "fix/typo", sha: SHA }, /REF_INVALID\] no app image for branch fix\/typo matches no deploy rule/],
    ["no sha", { branch: "da/develop" }, /REF_INVALID.*--sha/],
    ["prod without a release tag", { env: "prod", branch: "da/develop", sha: SHA }, /REF_INVALID.*--env prod needs a release tag/],
  ])("%s: a clear error", async (_name, flags, message) => {
    await expect(publishAppImage(source(), flags, credentials(), quiet)).rejects.toThrow(message);
  });
});

describe("the secret-typed credentials", () => {
  it("Secret values are Dagger Secrets (sanity check of the fixture's types)", () => {
    const s: Secret = dag.secret("env://GITHUB_OAUTH_TOKEN");
    expect(typeof s.id).toBe("function");
  });
});

describe("dagger call surface of the image functions", () => {
  it.each([
    ["baseImage", "STRING_KIND", undefined],
    ["appImage", "OBJECT_KIND", "Container"],
    ["publishAppImage", "STRING_KIND", undefined],
  ])("%s: flags --source/--branch/--tag/--sha/--env/--checkout, documented, with examples", async (method, kind, name) => {
    const mod = await introspectModule();
    const fn = Object.values(mod.objects).find((o) => o.name === "Pipeline")!.methods[method];
    expect(fn).toBeDefined();
    expect(fn.returnType.kind).toBe(kind);
    if (name) expect(fn.returnType.name).toBe(name);
    expect(Object.keys(fn.arguments)).toEqual(["source", "branch", "tag", "sha", "env", "checkout"]);
    for (const arg of Object.values(fn.arguments)) expect(arg.description.length).toBeGreaterThan(10);
    expect(fn.arguments.source.defaultPath).toBe(".");
    expect(fn.arguments.checkout.defaultPath).toBe("/");
    for (const flag of ["branch", "tag", "sha", "env"]) expect(fn.arguments[flag].isOptional || fn.arguments[flag].defaultValue !== undefined).toBe(true);
    const examples = fn.description.split("\n").filter((l) => l.startsWith("Example: dagger call "));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const ex of examples) expect(ex).toContain(` ${functionName(method)} `);
  }, 60_000);
});

/**
 * The image flow for real: dockerd, Debian's docker-registry on 127.0.0.1 (open and htpasswd), a
 * Ruby base image built from Debian packages. The example app's Dockerfile.base (both variants) and
 * Dockerfile are built from the pipeline's own plans (lib/image-build.ts: Dockerfile text, build
 * args, secret id, refs) and pushed; the existence check (registry/oci.ts) decides hit or miss
 * through the same `ensureBaseImage` that images.ts runs with Dagger.
 *
 * Skips only when docker cannot be started at all (not root, no dockerd): the reason is printed.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DependencyFiles } from "../../modules/pipeline/src/lib/checksum.js";
import { parseConfig, type PipelineConfig } from "../../modules/pipeline/src/lib/config.js";
import {
  ensureBaseImage,
  planAppImageBuild,
  planBaseImageBuild,
  resolveBaseImageSelection,
  type BaseImageBuildPlan,
  type BaseImageOutcome,
} from "../../modules/pipeline/src/lib/image-build.js";
import { resolveRef } from "../../modules/pipeline/src/lib/refs.js";
import { OciRegistry } from "../../modules/pipeline/src/registry/oci.js";
import {
  AUTH_REGISTRY,
  AUTH_REGISTRY_PASSWORD,
  AUTH_REGISTRY_USER,
  docker,
  dockerBuildPlan,
  dockerPush,
  ensureDocker,
  ensureImageTestEnvironment,
  OPEN_REGISTRY,
  RUBY_IMAGE,
  findInImage,
  unusedPort,
} from "../support/docker.js";
import { REPO_ROOT } from "../support/introspect.js";

const status = await ensureDocker();
/** CI sets PIPELINE_REQUIRE_DOCKER=1: there a docker that cannot start is a failure, not a skip. */
const requireDocker = process.env.PIPELINE_REQUIRE_DOCKER === "1";
if (!status.ok) console.warn(`test/integration/images.test.ts skipped: docker cannot start here: ${status.reason}`);

if (!status.ok && requireDocker) {
  const reason = status.reason;
  describe("docker is required (PIPELINE_REQUIRE_DOCKER=1)", () => {
    it("starts dockerd", () => {
      throw new Error(`docker cannot start: ${reason}`);
    });
  });
}

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
/** A distinctive token value: if any byte sequence of it lands in an image, the scan finds it. */
const TOKEN = `ghp_${randomBytes(18).toString("hex")}`;
const SHA = randomBytes(20).toString("hex");

let work = "";
let context = "";
let tokenFile = "";
let config: PipelineConfig;
const builds: string[] = [];
const registry = new OciRegistry<string>({ host: OPEN_REGISTRY.host });

async function readFiles(dir: string, cfg: PipelineConfig): Promise<DependencyFiles> {
  const [gemfile, gemfileLock, dockerfileBase] = await Promise.all(
    ["Gemfile", "Gemfile.lock", cfg.images.baseDockerfile].map((f) => readFile(path.join(dir, f))),
  );
  return { gemfile, gemfileLock, dockerfileBase };
}

/** One run of `base-image` with docker standing in for Dagger. */
async function runBaseImage(flags: { env?: string; branch?: string; tag?: string }): Promise<{ plan: BaseImageBuildPlan; outcome: BaseImageOutcome }> {
  const selection = resolveBaseImageSelection({ config, ...flags });
  const plan = planBaseImageBuild({ config, files: await readFiles(context, config), ...selection });
  const outcome = await ensureBaseImage<string>(plan, {
    lookup: () => registry.lookup(plan.repository, plan.tag),
    build: async () => {
      builds.push(plan.ref);
      await dockerBuildPlan(context, plan, plan.ref, { secretId: plan.secretId, tokenFile });
      return plan.ref;
    },
    publish: (image, ref) => dockerPush(image, ref),
  });
  return { plan, outcome };
}

/** Every place a secret could hide in an image: layer files, config, history, inspect. */
async function findToken(ref: string, token: string): Promise<string[]> {
  const { hits, layers } = await findInImage(ref, token);
  expect(layers).toBeGreaterThan(0); // the layers were scanned
  return hits;
}

describe.skipIf(!status.ok)("images against dockerd and a local registry", () => {
  beforeAll(async () => {
    const env = await ensureImageTestEnvironment();
    if (!env.ok) throw new Error(env.reason);
    work = await mkdtemp(path.join(os.tmpdir(), "images-it-"));
    context = path.join(work, "app");
    await cp(FIXTURE, context, { recursive: true });
    tokenFile = path.join(work, "github_token");
    await writeFile(tokenFile, TOKEN);
    // A repository of its own per run, so the first ensure is a miss.
    config = parseConfig({
      registry: { host: OPEN_REGISTRY.host, repository: `it-${randomBytes(4).toString("hex")}/rails-api` },
      images: { rubyImage: RUBY_IMAGE },
    });
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe("base image, dev variant (develop branch)", () => {
    let first: Awaited<ReturnType<typeof runBaseImage>>;

    it("first run: a miss, one build, pushed, then the latest alias", async () => {
      first = await runBaseImage({ branch: "da/develop" });
      expect(first.outcome).toMatchObject({ cacheHit: false, builds: 1, latestRef: `${OPEN_REGISTRY.host}/${config.registry.repository}:base-dev-latest` });
      expect(first.outcome.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(builds).toEqual([first.plan.ref]);
      // The registry now has both tags, pointing at the same manifest.
      expect(await registry.lookup(first.plan.repository, first.plan.tag)).toEqual({ exists: true, digest: first.outcome.digest });
      expect(await registry.lookup(first.plan.repository, "base-dev-latest")).toEqual({ exists: true, digest: first.outcome.digest });
    }, 600_000);

    it("second run: a hit, zero builds, the pushed digest", async () => {
      const before = builds.length;
      const second = await runBaseImage({ branch: "da/develop" });
      expect(second.outcome).toMatchObject({ cacheHit: true, builds: 0, digest: first.outcome.digest, ref: first.plan.ref });
      expect(builds.length).toBe(before);
    });

    it("keeps the development and test gems (rspec, rubocop) in the dev variant", async () => {
      const { stdout } = await docker(["run", "--rm", first.plan.ref, "sh", "-c", "bundle exec rspec --version && bundle exec rubocop --version && bundle config"]);
      expect(stdout).toMatch(/RSpec 3|rspec-core 3/i);
      expect(stdout).not.toMatch(/without/);
    });

    it("leaves the GitHub token in no layer, config or history", async () => {
      expect(await findToken(first.plan.ref, TOKEN)).toEqual([]);
    }, 120_000);

    it("a changed Gemfile.lock is a miss with a new tag", async () => {
      const lock = path.join(context, "Gemfile.lock");
      const original = await readFile(lock, "utf8");
      await writeFile(lock, original + "\n");
      try {
        const before = builds.length;
        const changed = await runBaseImage({ env: "dev" });
        expect(changed.plan.tag).not.toBe(first.plan.tag);
        expect(changed.outcome).toMatchObject({ cacheHit: false, builds: 1, latestRef: null });
        expect(builds.length).toBe(before + 1);
      } finally {
        await writeFile(lock, original);
      }
    }, 600_000);
  });

  describe("base image, prod variant (release tag), and the app image", () => {
    let base: Awaited<ReturnType<typeof runBaseImage>>;

    it("builds the committed Dockerfile.base: frozen, without development and test gems", async () => {
      base = await runBaseImage({ tag: "release-v1.2.3" });
      expect(base.plan.tag).toMatch(/^base-[0-9a-f]{40}$/);
      expect(base.outcome).toMatchObject({ cacheHit: false, latestRef: null });
      const { stdout } = await docker(["run", "--rm", base.plan.ref, "bundle", "config"]);
      expect(stdout).toMatch(/^without\n.*\[:development, :test\]$/m);
      expect(stdout).toMatch(/frozen/);
      expect(await findToken(base.plan.ref, TOKEN)).toEqual([]);
      expect(await registry.lookup(base.plan.repository, "base-dev-latest")).toMatchObject({ exists: true }); // from the dev run, untouched
    }, 600_000);

    it("builds Dockerfile FROM the base with the seed's build args, pushes the version tag", async () => {
      const resolution = resolveRef({ kind: "tag", name: "release-v1.2.3", sha: SHA }, config);
      if (!resolution.deploy) throw new Error("release tag must deploy");
      const app = planAppImageBuild({ config, target: resolution.target, baseRef: base.plan.ref });
      const text = await readFile(path.join(context, app.dockerfilePath), "utf8");
      await dockerBuildPlan(context, { dockerfilePath: app.dockerfilePath, dockerfileText: text, writeDockerfile: false, buildArgs: app.buildArgs }, app.ref);
      const published = await dockerPush(app.ref, app.ref);
      expect(published).toMatch(new RegExp(`^${app.ref.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}$`));
      expect(await registry.lookup(app.repository, "v1.2.3")).toMatchObject({ exists: true });
      const inspect = JSON.parse((await docker(["image", "inspect", app.ref])).stdout)[0];
      expect(inspect.Config.Env).toEqual(expect.arrayContaining(["DOCKER_TAG=v1.2.3", "VPC_NAME=prod"]));
      const { stdout } = await docker(["run", "--rm", app.ref, "sh", "-c", "ls /config && test -f Gemfile && echo app-ok"]);
      expect(stdout).toContain("app-ok");
      expect(await findToken(app.ref, TOKEN)).toEqual([]);
    }, 600_000);
  });

  it("the scan does find a token that the seed's way (a build arg into bundle config) leaves behind", async () => {
    const dir = await mkdtemp(path.join(work, "leaky-"));
    await writeFile(
      path.join(dir, "Dockerfile"),
      `FROM ${RUBY_IMAGE}\nARG GITHUB_OAUTH_TOKEN\nWORKDIR /app\nRUN bundle config set --local github.com $GITHUB_OAUTH_TOKEN:x-oauth-basic\n`,
    );
    const ref = `local/leaky:${randomBytes(4).toString("hex")}`;
    await docker(["build", "-t", ref, "--build-arg", `GITHUB_OAUTH_TOKEN=${TOKEN}`, dir], { timeoutMs: 300_000 });
    try {
      const hits = await findToken(ref, TOKEN);
      expect(hits).toContain("docker history");
      expect(hits.some((h) => h.endsWith(".bundle/config"))).toBe(true);
    } finally {
      await docker(["rmi", "-f", ref]).catch(() => undefined);
    }
  }, 300_000);

  describe("registry failures", () => {
    it("an htpasswd registry refusing a wrong password: REGISTRY_AUTH_FAILED naming it and the fix", async () => {
      const reg = new OciRegistry<string>({ host: AUTH_REGISTRY.host, username: AUTH_REGISTRY_USER, readPassword: async () => "wrong-password" });
      const err = await reg.lookup("rails-api", "base-dev-x").catch((e: Error) => e);
      expect((err as Error).message).toMatch(new RegExp(`^\\[REGISTRY_AUTH_FAILED\\] registry ${AUTH_REGISTRY.host.replace(/[.]/g, "\\.")} refused user "pipeline" for repository rails-api`));
      expect((err as Error).message).toContain("fix: check the user name and password given to with-registry-auth");
      expect((err as Error).message).not.toContain("wrong-password");
    });

    it("the same registry without credentials: REGISTRY_AUTH_FAILED asking for with-registry-auth", async () => {
      const reg = new OciRegistry<string>({ host: AUTH_REGISTRY.host });
      await expect(reg.lookup("rails-api", "base-dev-x")).rejects.toThrow(/REGISTRY_AUTH_FAILED.*anonymous access[\s\S]*with-registry-auth --username/);
    });

    it("the same registry with the right credentials answers: not there yet", async () => {
      const reg = new OciRegistry<string>({ host: AUTH_REGISTRY.host, username: AUTH_REGISTRY_USER, readPassword: async () => AUTH_REGISTRY_PASSWORD });
      expect(await reg.lookup("rails-api", "base-dev-x")).toEqual({ exists: false });
    });

    it("a push the registry refuses: the error surfaces and no latest alias is pushed", async () => {
      const authConfig = parseConfig({
        registry: { host: AUTH_REGISTRY.host, repository: `it-${randomBytes(4).toString("hex")}/rails-api` },
        images: { rubyImage: RUBY_IMAGE },
      });
      const authed = new OciRegistry<string>({ host: AUTH_REGISTRY.host, username: AUTH_REGISTRY_USER, readPassword: async () => AUTH_REGISTRY_PASSWORD });
      const selection = resolveBaseImageSelection({ config: authConfig, branch: "da/develop" });
      const plan = planBaseImageBuild({ config: authConfig, files: await readFiles(context, authConfig), ...selection });
      expect(plan.latestRef).not.toBeNull();
      const pushed: string[] = [];
      const err = await ensureBaseImage<string>(plan, {
        lookup: () => authed.lookup(plan.repository, plan.tag),
        build: async () => {
          await dockerBuildPlan(context, plan, plan.ref, { secretId: plan.secretId, tokenFile });
          return plan.ref;
        },
        // No `docker login`: the daemon pushes anonymously and the htpasswd registry refuses it.
        publish: async (image, ref) => {
          pushed.push(ref);
          return dockerPush(image, ref);
        },
      }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/no basic auth credentials|unauthorized|authentication required/i);
      expect(pushed).toEqual([plan.ref]);
      expect(await authed.lookup(plan.repository, plan.tag)).toEqual({ exists: false });
      expect(await authed.lookup(plan.repository, authConfig.registry.baseLatestTag)).toEqual({ exists: false });
    }, 600_000);

    it("an unreachable registry: REGISTRY_UNREACHABLE naming host and port", async () => {
      const port = await unusedPort();
      const reg = new OciRegistry<string>({ host: `127.0.0.1:${port}` });
      await expect(reg.lookup("rails-api", "base-dev-x")).rejects.toThrow(new RegExp(`REGISTRY_UNREACHABLE\\] registry 127\\.0\\.0\\.1:${port} cannot be reached.*ECONNREFUSED`));
    });
  });
});

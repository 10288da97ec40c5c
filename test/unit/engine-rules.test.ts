/**
 * The engine's rules (test/support/engine/rules.ts), each shown twice: a deliberately broken graph
 * fails under the engine model, and the module's own graph obeys the rule. The graphs are built by
 * the module's real wiring with the real SDK; the model evaluates them in-process
 * (test/support/engine/in-process.ts). Each rule cites the engine source it models (branch
 * backport-0.21 of dagger/dagger).
 */
import path from "node:path";
import { CacheSharingMode, dag, ReturnType, type Secret, type Service } from "@dagger.io/dagger";
import { afterAll, describe, expect, it } from "vitest";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { daggerInfraEffects, cloneInfraLive } from "../../modules/pipeline/src/deploy.js";
import { buildAppImage, publishAppImage, publishBaseImage } from "../../modules/pipeline/src/images.js";
import { DEFAULT_CONFIG, parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { planBaseImageBuild } from "../../modules/pipeline/src/lib/image-build.js";
import { GITHUB_KNOWN_HOSTS } from "../../modules/pipeline/src/lib/known-hosts.js";
import { planTerragruntRuns } from "../../modules/pipeline/src/lib/terragrunt-runs.js";
import { runPlan } from "../../modules/pipeline/src/plan.js";
import { buildServeImage, serveApp, servePod, servePostgres, serveRedis } from "../../modules/pipeline/src/serve.js";
import { DaggerTerragrunt, credentialSecrets } from "../../modules/pipeline/src/terragrunt.js";
import { runLint, runTests } from "../../modules/pipeline/src/test-suite.js";
import { TestStrategy } from "../../modules/pipeline/src/test-strategy.js";
import { Pipeline } from "../../modules/pipeline/src/index.js";
import { readTree } from "../support/engine/files.js";
import { installEngineModel, restoreFetch } from "../support/engine/in-process.js";
import type { EngineModel, World } from "../support/engine/model.js";
import type { ExecCall, ServiceObj } from "../support/engine/objects.js";
import { acceptsExitCode, answeredFromCache, cacheLockDeadlock, concurrentWritersShareVolume, heldCacheLocks, engineRegistryScheme, serviceStartError, upError, type ReturnType as Expect } from "../support/engine/rules.js";
import { REPO_ROOT } from "../support/introspect.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const APP = readTree(FIXTURE, ["log", "tmp", "node_modules", ".git"]);
const TOKEN = "ghp_engineRulesToken0123456789abcdef";

afterAll(() => restoreFetch());

/** The example app as the caller's `/app`, plus `files` over it. */
function app(files: Record<string, string> = {}): World["hostDirectories"] {
  return { "/app": { ...APP, ...files } };
}

const source = () => dag.host().directory("/app");

async function serviceOf(model: EngineModel, svc: Service): Promise<ServiceObj> {
  return model.load<ServiceObj>(await svc.id(), "Service");
}

/** Ports each process of the example app really listens on (by SERVER_FLAVOR; postgres, redis). */
function appListening({ env }: { env: Record<string, string> }): number[] {
  if (env.POSTGRES_HOST_AUTH_METHOD) return [5432];
  if (env.SERVER_FLAVOR !== undefined) return env.SERVER_FLAVOR === "server" ? [8080] : [];
  return [6379]; // redis
}

// ------------------------------------------------------------------------------------------------
describe("withExec: ReturnType.Any accepts exit codes 0-127 and 192-255 only (core/container.go ReturnCodes)", () => {
  it.each<[number, Expect, boolean]>([
    [0, "ANY", true],
    [1, "ANY", true],
    [127, "ANY", true],
    [128, "ANY", false],
    [137, "ANY", false],
    [139, "ANY", false],
    [143, "ANY", false],
    [191, "ANY", false],
    [192, "ANY", true],
    [255, "ANY", true],
    [0, "SUCCESS", true],
    [1, "SUCCESS", false],
    [0, "FAILURE", false],
    [2, "FAILURE", true],
    [137, "FAILURE", false],
  ])("exit %i with expect %s: accepted %s", (code, expect_, accepted) => {
    expect(acceptsExitCode(expect_, code)).toBe(accepted);
  });

  it("a process killed by a signal fails the call even with expect: Any (broken graph: reading its exit code)", async () => {
    await installEngineModel({ exec: (c) => ({ exitCode: c.args[0] === "oom" ? 137 : 3, stderr: "Killed" }) });
    const ok = dag.container().from("alpine").withExec(["false"], { expect: ReturnType.Any });
    expect(await ok.exitCode()).toBe(3);
    const killed = dag.container().from("alpine").withExec(["oom"], { expect: ReturnType.Any });
    await expect(killed.exitCode()).rejects.toMatchObject({ name: "ExecError", exitCode: 137, message: expect.stringContaining("exit code: 137") });
  });

  it("test: a shard killed by a signal is a broken shard, its reasons kept, every other shard's report kept", async () => {
    const junit = `<?xml version="1.0"?><testsuite name="rspec" tests="2" failures="0" errors="0" skipped="0" time="1.0"><testcase classname="a" name="x" file="./spec/models/user_spec.rb" time="0.5"/><testcase classname="a" name="y" file="./spec/models/user_spec.rb" time="0.5"/></testsuite>`;
    const model = await installEngineModel({
      hostDirectories: app({ "pipeline.json": JSON.stringify({ test: { shards: 3 } }) }),
      exec(c) {
        if (c.args[1] !== "/pipeline/run-shard.sh") return undefined;
        const shard = c.env.TEST_SHARD;
        if (shard === "shard-1-of-3") return { exitCode: 137, stdout: "....", stderr: "Killed" };
        if (shard === "shard-2-of-3") return { exitCode: 90, stderr: "pipeline: postgres not ready after 60s" };
        return { exitCode: 0, files: { "/pipeline/out/junit.xml": junit, "/pipeline/out/seconds": "1.0\n" } };
      },
    });
    const report = await runTests(source(), { shardIndex: -1 }, { aws: {} });
    expect(model.execs.filter((e) => e.call.args[1] === "/pipeline/run-shard.sh")).toHaveLength(3);
    expect(report.brokenShards).toBe(2);
    expect(report.summary).toContain("shard 1: it wrote no JUnit report (rspec exited with 137): killed by signal 9 (SIGKILL, usually out of memory), exit 137");
    expect(report.summary).toContain("shard 2: it wrote no JUnit report (rspec exited with 90): stderr: pipeline: postgres not ready after 60s");
    expect(await report.report.file("junit/shard-0.xml").contents()).toContain('tests="2"');
    expect(JSON.parse(await report.report.file("outcome.json").contents())).toMatchObject({ brokenShards: 2, failures: 0 });
    expect(() => report.check()).toThrow("[TESTS_FAILED]");
  });
});

// ------------------------------------------------------------------------------------------------
describe("image config is inherited through dockerBuild and from (util/llbtodagger/metadata.go; core/container.go)", () => {
  const dockerfile = ['FROM base:1', "ENV A=1 B=two", "WORKDIR /srv", "USER app", "EXPOSE 8080 25658/udp", 'ENTRYPOINT ["bin/start"]', 'CMD ["--port", "8080"]', ""].join("\n");

  it("dockerBuild: ENV, WORKDIR, USER, ENTRYPOINT, CMD of the Dockerfile over the base image's, every EXPOSE an exposed port", async () => {
    await installEngineModel({ images: { "base:1": { env: [["PATH", "/usr/bin"]], workdir: "/", cmd: ["irb"] } } });
    const ctr = dag.directory().withNewFile("Dockerfile", dockerfile).dockerBuild();
    expect(await ctr.envVariable("A")).toBe("1");
    expect(await ctr.envVariable("PATH")).toBe("/usr/bin");
    expect(await ctr.workdir()).toBe("/srv");
    expect(await ctr.user()).toBe("app");
    expect(await ctr.entrypoint()).toEqual(["bin/start"]);
    expect(await ctr.defaultArgs()).toEqual(["--port", "8080"]);
    const ports = await Promise.all((await ctr.exposedPorts()).map(async (p) => `${await p.port()}/${await p.protocol()}`));
    expect(ports.sort()).toEqual(["25658/UDP", "8080/TCP"]);
  });

  it("from: the image's config (a test declares it), but no exposed port to check or forward", async () => {
    await installEngineModel({ images: { "ruby:3.1": { env: [["RUBY_VERSION", "3.1"]], workdir: "/app", cmd: ["irb"], exposedPorts: ["3000/tcp"] } } });
    const ctr = dag.container().from("ruby:3.1");
    expect(await ctr.envVariable("RUBY_VERSION")).toBe("3.1");
    expect(await ctr.workdir()).toBe("/app");
    expect(await ctr.defaultArgs()).toEqual(["irb"]);
    expect(await ctr.exposedPorts()).toEqual([]);
  });

  it("the example app's Dockerfile gives serve's image the ports 8080 and 25658", async () => {
    const model = await installEngineModel({ hostDirectories: app() });
    await serveApp(source(), { env: "dev", flavor: "server" }, { aws: {} });
    const build = model.builds.find((b) => b.dockerfile === ".pipeline/Dockerfile.serve")!;
    expect(build.container.state.ports.map((p) => p.port).sort()).toEqual([25658, 8080]);
    expect(build.container.state.config.cmd).toEqual(["bin/env"]);
  });
});

// ------------------------------------------------------------------------------------------------
describe("a service health-checks every exposed port before it counts as started (core/service.go, core/healthcheck.go)", () => {
  it.each([
    ["every port answers", [8080, 25658], null],
    ["25658 never answers", [8080], "checking for port 25658/tcp"],
  ])("rule: %s", (_name, listening, fragment) => {
    const ports = [8080, 25658].map((port) => ({ port, protocol: "TCP" as const, skipHealthcheck: false }));
    const error = serviceStartError({ ports, listening });
    if (fragment === null) expect(error).toBeNull();
    else expect(error).toContain(fragment);
    expect(serviceStartError({ ports: ports.map((p) => ({ ...p, skipHealthcheck: true })), listening: [] })).toBeNull();
    expect(upError([], [])).toBe("no ports to forward");
  });

  it("serve --flavor server: only 8080 is exposed, so the service starts; the image as it is never would (broken graph)", async () => {
    const model = await installEngineModel({ hostDirectories: app(), listening: appListening });
    const svc = await serveApp(source(), { env: "dev", flavor: "server" }, { aws: {} });
    const obj = await serviceOf(model, svc);
    expect(obj.source.kind === "container" && obj.source.container.state.ports.map((p) => p.port)).toEqual([8080]);
    model.up(obj, ["8080:8080"]);

    // The broken graph: the built image's own ports (EXPOSE 8080 25658) kept.
    const image = await buildServeImage(source(), DEFAULT_CONFIG, "dev", { aws: {} });
    const kept = await serviceOf(model, image.withEnvVariable("SERVER_FLAVOR", "server").asService({ useEntrypoint: true }));
    expect(() => model.up(kept, ["8080:8080"])).toThrow("checking for port 25658/tcp");
  });

  it.each(["worker", "scheduler"])("serve --flavor %s: nothing listens, the health check is explicitly skipped, up keeps it running", async (flavor) => {
    const model = await installEngineModel({ hostDirectories: app(), listening: appListening });
    const obj = await serviceOf(model, await serveApp(source(), { env: "dev", flavor }, { aws: {} }));
    expect(() => model.up(obj)).not.toThrow();
    // Broken graph: the same port, checked.
    const image = dag.container().from("registry.example/rails-api:1");
    const pod = servePod({ image, imagePorts: [], env: "dev", vpcName: "dev", flavor: flavor as "worker", envFile: dag.setSecret("e", "A=1"), postgres: servePostgres(DEFAULT_CONFIG, "dev"), redis: serveRedis(DEFAULT_CONFIG, "dev") });
    const checked = await serviceOf(model, pod.withExposedPort(8080).asService({ useEntrypoint: true }));
    expect(() => model.up(checked)).toThrow("checking for port 8080/tcp");
  });

  it("serve --image: from() gives no port, serve exposes 8080; the image alone has nothing to forward (broken graph)", async () => {
    const model = await installEngineModel({ hostDirectories: app(), listening: appListening });
    const image = dag.container().from("registry.example/rails-api:1");
    const obj = await serviceOf(model, await serveApp(source(), { env: "dev", flavor: "server", image }, { aws: {} }));
    expect(() => model.up(obj)).not.toThrow();
    const bare = await serviceOf(model, image.asService({ useEntrypoint: true }));
    expect(() => model.up(bare)).toThrow("no ports to forward");
  });
});

// ------------------------------------------------------------------------------------------------
describe("dockerBuild keeps its secret mounts in the returned container (core/container.go Build, util/llbtodagger/exec.go)", () => {
  it("an exec after the build reads /run/secrets/<name> until withoutMount (broken graph: no withoutMount)", async () => {
    const seen: Array<string | undefined> = [];
    await installEngineModel({ exec: (c) => void seen.push(c.readFile("/run/secrets/github_token")) });
    const built = dag.directory().withNewFile("Dockerfile", "FROM ruby\nRUN --mount=type=secret,id=github_token true\n").dockerBuild({ secrets: [dag.setSecret("github_token", TOKEN)] });
    await built.withExec(["apt-get", "update"]).sync();
    await built.withoutMount("/run/secrets/github_token").withExec(["apt-get", "update"]).sync();
    expect(seen).toEqual([TOKEN, undefined]);
  });

  it("a Dockerfile's secret id is answered by the Secret with that NAME", async () => {
    await installEngineModel();
    const dockerfile = "FROM ruby\nRUN --mount=type=secret,id=github_token,required=true bundle install\n";
    const ctx = dag.directory().withNewFile("Dockerfile", dockerfile);
    await expect(ctx.dockerBuild({ secrets: [dag.setSecret("GITHUB_TOKEN", TOKEN)] }).sync()).rejects.toThrow('secret "github_token" is required but was not provided');
    await expect(ctx.dockerBuild({ secrets: [dag.setSecret("github_token", TOKEN)] }).sync()).resolves.toBeDefined();
  });

  it("lint and the test image: apt-get, rspec and rubocop run without the GitHub token mounted", async () => {
    const model = await installEngineModel({ hostDirectories: app(), callerEnv: { GITHUB_TOKEN: TOKEN } });
    const credentials: RunCredentials = { aws: {}, githubToken: dag.secret("env://GITHUB_TOKEN") as Secret };
    await runLint(source(), credentials);
    const execs = model.execs.map((e) => e.call);
    expect(execs.map((c) => c.args[0])).toEqual(["sh", "bundle"]);
    for (const c of execs) {
      expect(c.readFile("/run/secrets/github_token"), c.args.join(" ")).toBeUndefined();
      expect(c.mounts.filter((m) => m.kind === "secret")).toEqual([]);
    }
    // The build itself did get the token, by name.
    expect(model.builds[0]!.secrets).toEqual(["github_token"]);
  });

  it("serve: the pod mounts the decrypted env file and no build secret", async () => {
    const model = await installEngineModel({ hostDirectories: app(), callerEnv: { GITHUB_TOKEN: TOKEN } });
    const obj = await serviceOf(model, await serveApp(source(), { env: "dev", flavor: "server" }, { aws: {}, githubToken: dag.secret("env://GITHUB_TOKEN") as Secret }));
    const mounts = obj.source.kind === "container" ? obj.source.container.state.mounts : [];
    expect(mounts.map((m) => m.path)).toEqual(["/run/secrets/pipeline/decrypted.env"]);
  });
});

// ------------------------------------------------------------------------------------------------
describe("the module's network is not the caller's host (engine/engineutil/executor_spec.go; core/container.go)", () => {
  it("module code: 127.0.0.1 is its own container; the engine: a loopback push without registryService fails (broken graphs)", async () => {
    const model = await installEngineModel({ registries: { "127.0.0.1:5000": { images: {} } } });
    await expect(fetch("http://127.0.0.1:5000/v2/")).rejects.toMatchObject({ cause: { code: "ECONNREFUSED" } });
    await expect(dag.container().from("alpine").publish("127.0.0.1:5000/app:1")).rejects.toThrow("connection refused");
    const registry = dag.host().service([{ backend: 5000 }], { host: "localhost" });
    await expect(dag.container().from("alpine").publish("127.0.0.1:5000/app:1", { registryService: registry })).resolves.toMatch(/^127\.0\.0\.1:5000\/app:1@sha256:/);
    expect(Object.keys(model.world.registries!["127.0.0.1:5000"]!.images)).toEqual(["app:1"]);
  });

  it("base-image: a loopback registry.host without a service is refused before anything is built", async () => {
    const model = await installEngineModel({ hostDirectories: app({ "pipeline.json": JSON.stringify({ registry: { host: "localhost:5000" } }) }) });
    await expect(publishBaseImage(source(), { env: "dev" }, { aws: {} }, { log: () => {} })).rejects.toThrow(
      /REGISTRY_UNREACHABLE\] registry.host localhost:5000 is a loopback address[\s\S]*with-registry-service --service tcp:\/\/localhost:5000/,
    );
    expect(model.builds).toEqual([]);
  });

  it("base-image and plan --check-registry with the registry as a service: asked and pushed through it", async () => {
    const model = await installEngineModel({
      hostDirectories: app({ "pipeline.json": JSON.stringify({ registry: { host: "localhost:5000" } }) }),
      registries: { "localhost:5000": { images: {} } },
    });
    const credentials: RunCredentials = { aws: {}, registryService: dag.host().service([{ backend: 5000 }], { host: "localhost" }) };
    const first = await publishBaseImage(source(), { env: "dev" }, credentials, { log: () => {} });
    expect(first.outcome.cacheHit).toBe(false);
    expect(Object.keys(model.world.registries!["localhost:5000"]!.images)).toEqual([`rails-api:${first.plan.tag}`]);
    const second = await publishBaseImage(source(), { env: "dev" }, credentials, { log: () => {} });
    expect(second.outcome.cacheHit).toBe(true);
    const plan = JSON.parse(await runPlan(source(), { branch: "da/develop", tag: "", sha: "a".repeat(40), env: "", format: "json", checkRegistry: true }, credentials));
    expect(plan.images.base).toMatchObject({ exists: true, action: "use-existing" });
  });

  it("app-image with a registry service is refused: dockerBuild pulls FROM by name through the engine's own network", async () => {
    await installEngineModel({ hostDirectories: app({ "pipeline.json": JSON.stringify({ registry: { host: "localhost:5000" } }) }) });
    const credentials: RunCredentials = { aws: {}, registryService: dag.host().service([{ backend: 5000 }], { host: "localhost" }) };
    await expect(buildAppImage(source(), { env: "dev", branch: "da/develop", sha: "a".repeat(40) }, credentials, { log: () => {} })).rejects.toThrow("[REGISTRY_UNREACHABLE]");
  });
});

// ------------------------------------------------------------------------------------------------
describe("function cache policy (core/typedef.go, core/modfunc.go): the harness registers and applies it", () => {
  it.each([
    ["Default", false, true],
    ["Default", true, true],
    ["PerSession", true, true],
    ["PerSession", false, false],
    ["Never", true, false],
  ] as const)("%s, same session %s: answered from the cache %s", (policy, sameSession, cached) => {
    expect(answeredFromCache(policy, sameSession)).toBe(cached);
  });
});

// ------------------------------------------------------------------------------------------------
describe("a SHARED cache volume is written by every concurrent user (core/schema/cache.go, core/cache.go)", () => {
  it("the terraform plugin cache is PRIVATE to a deploy; SHARED (the default) would not be (rule)", async () => {
    const model = await installEngineModel({ exec: () => ({ exitCode: 0 }) });
    const executor = new DaggerTerragrunt({
      image: DEFAULT_CONFIG.terragrunt.image,
      checkout: dag.directory(),
      secrets: credentialSecrets({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: "x" }, "r1"),
      region: "us-west-2",
      access: null,
      runId: "r1",
    });
    const run = planTerragruntRuns({ action: "apply", steps: [{ unit: "api", dir: "dev/api" }], terragrunt: DEFAULT_CONFIG.terragrunt, root: executor.root })[0]!;
    await executor.exec(run.args, run.workdir);
    const cache = model.execs[0]!.call.mounts.find((m) => m.kind === "cache")!;
    expect(cache).toMatchObject({ cacheKey: "terraform-plugin-cache", sharing: "PRIVATE" });
    expect(concurrentWritersShareVolume(cache.sharing!)).toBe(false);
    expect(concurrentWritersShareVolume("SHARED")).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
describe("an exec holds its LOCKED/PRIVATE cache volumes while it starts its services, a service for its whole life (core/container_exec.go, core/service.go)", () => {
  const shardJunit = `<?xml version="1.0"?><testsuite name="rspec" tests="1" failures="0" errors="0" skipped="0" time="1.0"><testcase classname="a" name="x" file="./spec/models/loan_spec.rb" time="1.0"/></testsuite>`;

  it("the rule: only LOCKED and PRIVATE lock, and only a volume both hold deadlocks", () => {
    expect(heldCacheLocks([{ kind: "cache", cacheKey: "b", sharing: "LOCKED" }, { kind: "cache", cacheKey: "a", sharing: "PRIVATE" }, { kind: "cache", cacheKey: "c", sharing: "SHARED" }, { kind: "directory" }])).toEqual(["a", "b"]);
    expect(cacheLockDeadlock({ args: ["x"], heldLocks: ["a"] }, { hostname: "h", alias: "s", heldLocks: ["b"] })).toBeNull();
    expect(cacheLockDeadlock({ args: ["x"], heldLocks: ["a"] }, { hostname: "h", alias: "s", heldLocks: ["a"] })).toContain("deadlock");
  });

  it("an exec bound to a service made from the same container with a LOCKED cache hangs; withoutMount first runs (broken graph)", async () => {
    await installEngineModel({ exec: () => ({ exitCode: 0 }) });
    const base = dag.container().from("ruby").withMountedCache("/var/cache/apt", dag.cacheVolume("apt"), { sharing: CacheSharingMode.Locked }).withExec(["apt-get", "install", "x"]);
    const hangs = (ctr: typeof base) => ctr.withServiceBinding("queue", ctr.withExposedPort(7878).asService({ args: ["ruby", "server.rb"] })).withExec(["ruby", "worker.rb"]).sync();
    await expect(hangs(base)).rejects.toThrow(/deadlock: .*holds the lock of cache volume\(s\) apt and waits for its bound service "queue"/);
    await expect(hangs(base.withoutMount("/var/cache/apt"))).resolves.toBeDefined();
  });

  it("test --strategy queue: the queue service and the shards do not carry the test image's apt cache (found on a real engine: it hung)", async () => {
    const model = await installEngineModel({
      hostDirectories: app({ "pipeline.json": JSON.stringify({ test: { shards: 2 } }) }),
      exec(c) {
        if (c.args[1] !== "/pipeline/run-shard.sh") return undefined;
        const worker = /queue 7878 (worker-\d)/.exec(c.readFile("/pipeline/run-shard.sh") ?? "")?.[1] ?? "";
        return { exitCode: 0, files: { "/pipeline/out/junit.xml": shardJunit, "/pipeline/out/seconds": "1.0\n", "/pipeline/out/batches.json": JSON.stringify({ worker, batches: [] }) } };
      },
    });
    const report = await runTests(source(), { shardIndex: -1, strategy: TestStrategy.queue }, { aws: {} });
    // Both workers ran (a deadlocked exec never runs: the model fails it before it starts).
    expect(model.execs.filter((e) => e.call.args[1] === "/pipeline/run-shard.sh"), report.summary).toHaveLength(2);
    expect(report.summary).not.toContain("deadlock");
  });

  it("test (static): no shard holds a write-locked cache volume, so the shards run side by side, not one after another", async () => {
    const model = await installEngineModel({
      hostDirectories: app({ "pipeline.json": JSON.stringify({ test: { shards: 3 } }) }),
      exec: (c) => (c.args[1] === "/pipeline/run-shard.sh" ? { exitCode: 0, files: { "/pipeline/out/junit.xml": shardJunit, "/pipeline/out/seconds": "1.0\n" } } : undefined),
    });
    await runTests(source(), { shardIndex: -1 }, { aws: {} });
    const shards = model.execs.filter((e) => e.call.args[1] === "/pipeline/run-shard.sh");
    expect(shards).toHaveLength(3);
    for (const s of shards) expect(heldCacheLocks(s.call.mounts)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
describe("infrastructure-live over SSH: strict host key checking against known hosts", () => {
  async function cloneWith(repoUrl: string, extra: Partial<RunCredentials> = {}): Promise<ExecCall> {
    const calls: ExecCall[] = [];
    await installEngineModel({ exec: (c) => void calls.push(c) });
    const config = parseConfig({ infraLive: { repoUrl } });
    const credentials: RunCredentials = { aws: {}, gitSshKey: dag.setSecret("k", "-----BEGIN OPENSSH PRIVATE KEY-----"), ...extra };
    const effects = daggerInfraEffects(config, credentials, { runId: "r1", log: () => {} });
    await cloneInfraLive(await effects.newWorkspace("t"), { repoUrl, branch: "main" }, effects.gitAuth);
    return calls.find((c) => c.args[0] === "git")!;
  }

  it("GitHub: StrictHostKeyChecking=yes against GitHub's published keys", async () => {
    const git = await cloneWith("git@github.com:BlinkerGit/infrastructure-live.git");
    expect(git.env.GIT_SSH_COMMAND).toContain("-o StrictHostKeyChecking=yes");
    expect(git.env.GIT_SSH_COMMAND).not.toContain("accept-new");
    const file = /UserKnownHostsFile=(\S+)/.exec(git.env.GIT_SSH_COMMAND!)![1]!;
    expect(git.readFile(file)).toBe(GITHUB_KNOWN_HOSTS);
  });

  it("another host: refused without --known-hosts, checked against the given file with it", async () => {
    await expect(cloneWith("ssh://git@git.example.com:2222/infra.git")).rejects.toThrow("[ARGUMENT_INVALID] infraLive.repoUrl is on [git.example.com]:2222");
    const lines = "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyExampleKeyExampleKeyExampleKey00\n";
    const git = await cloneWith("ssh://git@git.example.com:2222/infra.git", { gitKnownHosts: dag.directory().withNewFile("kh", lines).file("kh") });
    expect(git.readFile(/UserKnownHostsFile=(\S+)/.exec(git.env.GIT_SSH_COMMAND!)![1]!)).toBe(lines);
  });
});

// ------------------------------------------------------------------------------------------------
describe("the engine speaks https to a registry unless it is loopback or engine.json says http (engine/server/registryhosts.go)", () => {
  const HOST = "registry.internal:5000";
  const world = (pipeline: unknown, engineHttp: string[]): World => ({
    hostDirectories: app({ "pipeline.json": JSON.stringify(pipeline) }),
    registries: { [HOST]: { images: {}, plainHttp: true } },
    engineHttpRegistries: engineHttp,
  });

  it("the rule: loopback and configured hosts over http, every other host over https", () => {
    expect(engineRegistryScheme("127.0.0.1:5000", [])).toBe("http");
    expect(engineRegistryScheme("localhost:5000", [])).toBe("http");
    expect(engineRegistryScheme(HOST, [])).toBe("https");
    expect(engineRegistryScheme(HOST, [HOST])).toBe("http");
  });

  it("a push to a plain-HTTP registry the engine was not told about fails; with engine.json http it lands (broken graph)", async () => {
    await installEngineModel(world({}, []));
    await expect(dag.container().from("alpine").publish(`${HOST}/app:1`)).rejects.toThrow("server gave HTTP response to HTTPS client");
    const model = await installEngineModel(world({}, [HOST]));
    await expect(dag.container().from("alpine").publish(`${HOST}/app:1`)).resolves.toMatch(new RegExp(`^${HOST}/app:1@sha256:`));
    expect(Object.keys(model.world.registries![HOST]!.images)).toEqual(["app:1"]);
  });

  it("publish-app-image to an internal registry without TLS: refused while the module asks it over https; registry.plainHttp: base and app image pushed (found on a real engine)", async () => {
    await installEngineModel(world({ registry: { host: HOST } }, [HOST]));
    const flags = { env: "dev", branch: "da/develop", sha: "a".repeat(40) } as const;
    await expect(publishAppImage(source(), flags, { aws: {} }, { log: () => {} })).rejects.toThrow(/REGISTRY_UNREACHABLE\] registry registry\.internal:5000 cannot be reached \(HEAD https:/);
    const model = await installEngineModel(world({ registry: { host: HOST, plainHttp: true } }, [HOST]));
    const pushed = await publishAppImage(source(), flags, { aws: {} }, { log: () => {} });
    expect(pushed).toMatch(new RegExp(`^${HOST}/rails-api:${"a".repeat(40)}@sha256:`));
    const tags = Object.keys(model.world.registries![HOST]!.images);
    expect(tags).toHaveLength(3);
    expect(tags).toEqual(expect.arrayContaining([expect.stringMatching(/^rails-api:base-dev-[0-9a-f]{40}$/), "rails-api:base-dev-latest", `rails-api:${"a".repeat(40)}`]));
  });
});

// ------------------------------------------------------------------------------------------------
describe("test and lint on a cold engine use the pushed base-dev image", () => {
  const config = parseConfig({ registry: { host: "registry.example.com" } });

  async function baseTag(): Promise<string> {
    const { readDependencyFiles } = await import("../../modules/pipeline/src/source.js");
    const files = await readDependencyFiles(source(), config);
    return planBaseImageBuild({ config, files, devVariant: true, pushLatest: false }).tag;
  }

  it("pulls base-dev-<sum> when the registry has it, builds nothing", async () => {
    const model = await installEngineModel({ hostDirectories: app({ "pipeline.json": JSON.stringify({ registry: { host: "registry.example.com" } }) }), registries: { "registry.example.com": { images: {} } } });
    const tag = await baseTag();
    model.world.registries!["registry.example.com"]!.images[`rails-api:${tag}`] = { digest: "sha256:" + "1".repeat(64) };
    await runLint(source(), { aws: {} });
    expect(model.builds).toEqual([]);
    expect(model.execs.every((e) => e.call.origin === `registry.example.com/rails-api:${tag}`)).toBe(true);
  });

  it("builds it here when the registry does not have it", async () => {
    const model = await installEngineModel({ hostDirectories: app({ "pipeline.json": JSON.stringify({ registry: { host: "registry.example.com" } }) }), registries: { "registry.example.com": { images: {} } } });
    await runLint(source(), { aws: {} });
    expect(model.builds.map((b) => b.dockerfile)).toEqual([".pipeline/Dockerfile.base.dev"]);
  });
});

// ------------------------------------------------------------------------------------------------
describe("the engine rebuilds the main object with Object.create(prototype) + its saved fields (SDK dist/src/module/executor.js buildClass)", () => {
  /** What executor.js does before every call: no constructor, no field initialiser. */
  function rebuilt(state: Record<string, unknown>): Pipeline {
    return Object.assign(Object.create(Pipeline.prototype) as Pipeline, state);
  }
  const credentialsOf = (p: Pipeline) => (p as unknown as { credentials(): RunCredentials }).credentials();

  it("no behaviour depends on a field initialiser: the defaults hold on a rebuilt object", () => {
    expect(credentialsOf(rebuilt({})).aws.profile).toBe("default");
    expect(credentialsOf(rebuilt({})).registryUsername).toBeUndefined();
  });

  it("the state a with-* builder returns is all the next call gets", () => {
    const key = dag.setSecret("k", "AKIA");
    const first = new Pipeline().withAwsCredentials(key, key, undefined, undefined, "ci");
    const next = rebuilt({ ...first });
    expect(credentialsOf(next).aws).toMatchObject({ profile: "ci", accessKeyId: key });
  });
});

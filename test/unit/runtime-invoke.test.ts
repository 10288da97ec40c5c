/**
 * The module through the SDK's REAL code path, as a Dagger 0.21 engine runs it: registration by the
 * SDK's introspection entrypoint (and by `entrypoint()` with parentName ""), then every function and
 * every with-* builder invoked by the SDK's exported `entrypoint(files)` in a fresh tsx process, talking
 * to a fake engine (test/support/engine/fake-engine.ts) that answers from the engine model. Arguments
 * arrive as the engine sends them (JSON, defaults from the registration, enums by member name, objects
 * by id, contextual directories); results and errors come back through returnValue / returnError and
 * the process's exit code.
 *
 * Each runtime process scans the module with TypeScript, as the real runtime does at every call: a
 * few seconds of CPU each, two at a time.
 */
import { mkdtempSync } from "node:fs";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliRefusal, FakeEngine, type CallResult } from "../support/engine/fake-engine.js";
import type { DirectoryObj, FileObj, ModuleObj, SecretObj, ServiceObj, TypeDefObj } from "../support/engine/objects.js";
import { REPO_ROOT } from "../support/introspect.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const SHA = "0123456789abcdef0123456789abcdef01234567";
const CALL_TIMEOUT = 600_000;
/** The project `dagger call` runs in: the example app with a pipeline.json (a registry on the caller's machine, 2 shards). */
const APP_DIR = mkdtempSync(path.join(os.tmpdir(), "harness-app-"));

const RSPEC_JSON = JSON.stringify({ examples: [{ id: "./spec/models/user_spec.rb[1:1]", file_path: "./spec/models/user_spec.rb", line_number: 3, run_time: 0.5, status: "passed" }] });
const JUNIT = `<?xml version="1.0"?><testsuite name="rspec" tests="1" failures="0" errors="0" skipped="0" time="0.5"><testcase classname="a" name="x" file="./spec/models/user_spec.rb" time="0.5"/></testsuite>`;

// PIPELINE_MODULE_DIR runs the same calls against another copy of the module (e.g. an older commit's
// modules/pipeline, copied inside this repository so that its imports resolve).
const engine = new FakeEngine({
  callerEnv: {
    AWS_ACCESS_KEY_ID: "AKIAHARNESSEXAMPLE00",
    AWS_SECRET_ACCESS_KEY: "harness-secret-access-key",
    CIRCLE_OIDC_TOKEN_V2: "oidc-token",
    GITHUB_TOKEN: "ghp_harnessToken0123456789",
    REGISTRY_PASSWORD: "registry-password",
    SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nharness\n-----END OPENSSH PRIVATE KEY-----\n",
    MY_SECRET: "the value",
  },
  registries: { "localhost:5000": { images: {} } },
  listening: ({ env }) => (env.POSTGRES_HOST_AUTH_METHOD ? [5432] : env.SERVER_FLAVOR !== undefined ? (env.SERVER_FLAVOR === "server" ? [8080] : []) : [6379]),
  exec(call) {
    if (call.args[1] === "/pipeline/run-shard.sh") {
      // The second of two shards is killed (as the OOM killer would); the first writes its report.
      if (call.env.TEST_SHARD === "shard-1-of-2") return { exitCode: 137, stderr: "Killed" };
      return { exitCode: 0, files: { "/pipeline/out/junit.xml": JUNIT, "/pipeline/out/rspec.json": RSPEC_JSON, "/pipeline/out/seconds": "0.5\n" } };
    }
    if (call.args[0] === "bundle" && call.args.includes("rubocop")) return { exitCode: 0, stdout: "47 files inspected, no offenses detected\n" };
    return undefined;
  },
}, { moduleDir: process.env.PIPELINE_MODULE_DIR, callerDir: APP_DIR });


beforeAll(async () => {
  await engine.start();
  await cp(FIXTURE, APP_DIR, { recursive: true });
  await writeFile(path.join(APP_DIR, "pipeline.json"), JSON.stringify({ registry: { host: "localhost:5000" }, test: { shards: 2 } }));
  await engine.register();
}, CALL_TIMEOUT);

afterAll(async () => {
  await engine.stop();
  await rm(APP_DIR, { recursive: true, force: true });
});

/** A call that must succeed: exit 0 and a returned value. */
function ok(r: CallResult): unknown {
  expect(r.exitCode, r.output).toBe(0);
  expect(r.error, r.output).toBeUndefined();
  return r.value;
}

/** A call that must fail through returnError: the SDK exits 1 after returning the error. */
function failed(r: CallResult): string {
  expect(r.exitCode, r.output).toBe(1);
  expect(r.error, r.output).toBeDefined();
  return r.error!;
}

function typeName(t: TypeDefObj): string {
  const d = t.data;
  const base = d.kind === "LIST_KIND" ? `[${typeName(d.elementType!)}]` : d.kind === "OBJECT_KIND" || d.kind === "ENUM_KIND" ? d.name! : d.kind.replace(/_KIND$/, "").toLowerCase();
  return d.optional ? `${base}?` : base;
}

/** name(arg: type = default, ...) -> return, per function: what the engine learns at registration. */
function signatures(mod: ModuleObj, objectName: string): Record<string, string> {
  const obj = mod.def.objects.find((o) => o.data.name === objectName)!;
  return Object.fromEntries(
    obj.data.functions.map((f) => [
      f.name,
      `(${f.args.map((a) => `${a.name}: ${typeName(a.typeDef)}${a.defaultValue !== undefined ? ` = ${a.defaultValue}` : ""}${a.defaultPath ? ` @ ${a.defaultPath}` : ""}`).join(", ")}) -> ${typeName(f.returnType)}`,
    ]),
  );
}

/** `--source .` given explicitly (a Directory argument by id); the default is the same project. */
const source = () => ({ dir: APP_DIR });

describe("registration (the SDK's Register, as 0.21's ModuleTypes runs it)", () => {
  it("registers every function with its arguments, types, defaults and return type", () => {
    const mod = engine.model.registered!;
    const pipeline = signatures(mod, "Pipeline");
    // Default paths are the caller's project ("."): the module is set up as the project's blueprint.
    const SRC = "source: Directory @ .";
    const REF = 'branch: string = "", tag: string = "", sha: string = ""';
    const CHECKOUT = "checkout: Directory? @ /";
    expect(pipeline).toEqual({
      withAwsCredentials: '(accessKeyId: Secret?, secretAccessKey: Secret?, sessionToken: Secret?, credentialsFile: Secret?, profile: string = "default") -> Pipeline',
      withAwsWebIdentity: "(token: Secret, roleArn: string) -> Pipeline",
      withAwsEndpoint: "(endpoint: Service) -> Pipeline",
      withGithubToken: "(token: Secret) -> Pipeline",
      withRegistryAuth: "(username: string, password: Secret) -> Pipeline",
      withRegistryService: "(service: Service) -> Pipeline",
      withGitCredentials: "(sshKey: Secret?, token: Secret?, sshKeyBase64: Secret?, knownHosts: File?) -> Pipeline",
      plan: `(${SRC}, ${REF}, env: Environment?, format: OutputFormat = "text", checkRegistry: boolean = false, ${CHECKOUT}) -> string`,
      test: `(${SRC}, shards: integer?, shardIndex: integer?, timings: File?, retries: integer = 0, onlyFailures: boolean = false, previous: Directory?, strategy: TestStrategy = "static") -> TestReport`,
      checkTests: "(report: Directory, failOnFlaky: boolean = false) -> string",
      mergeTimings: "(nodes: Directory) -> File",
      lint: `(${SRC}) -> string`,
      baseImage: `(${SRC}, ${REF}, env: Environment?, ${CHECKOUT}) -> string`,
      appImage: `(${SRC}, ${REF}, env: Environment?, ${CHECKOUT}) -> Container`,
      publishAppImage: `(${SRC}, ${REF}, env: Environment?, ${CHECKOUT}) -> string`,
      decryptEnv: `(${SRC}, env: Environment) -> Secret`,
      encryptValue: `(${SRC}, env: Environment, value: Secret) -> string`,
      checkEnv: `(${SRC}, env: Environment?) -> string`,
      serve: `(${SRC}, env: Environment = "dev", flavor: ServeFlavor = "server", image: Container?) -> Service`,
      deploy: `(${SRC}, env: Environment?, ${REF}, dryRun: boolean = false, format: OutputFormat = "text", gitImage: string = "alpine/git:2.47.2", clusterAccess: ClusterAccess = "update_kubeconfig", allowDirty: boolean = false, ${CHECKOUT}) -> string`,
      featureDeploy: `(${SRC}, branch: string = "", sha: string = "", dryRun: boolean = false, gitImage: string = "alpine/git:2.47.2", clusterAccess: ClusterAccess = "update_kubeconfig", allowDirty: boolean = false, ${CHECKOUT}) -> string`,
      featureTeardown: `(${SRC}, name: string = "", branch: string = "", gitImage: string = "alpine/git:2.47.2", clusterAccess: ClusterAccess = "update_kubeconfig") -> string`,
      featureSweep: `(${SRC}, liveBranches: string, gitImage: string = "alpine/git:2.47.2", clusterAccess: ClusterAccess = "update_kubeconfig") -> string`,
    });
    expect(signatures(mod, "TestReport")).toEqual({ check: "(failOnFlaky: boolean = false) -> string" });
  });

  it("closed choices are enums; their members are what the CLI accepts, their values what the function gets", () => {
    const enums = Object.fromEntries(engine.model.registered!.def.enums.map((e) => [e.data.name, e.data.members.map((m) => `${m.name}=${m.value}`)]));
    expect(enums).toEqual({
      Environment: ["dev=dev", "stage=stage", "prod=prod"],
      OutputFormat: ["text=text", "json=json"],
      TestStrategy: ["static=static", "queue=queue"],
      ServeFlavor: ["server=server", "worker=worker", "scheduler=scheduler"],
      ClusterAccess: ["update_kubeconfig=update-kubeconfig", "none=none"],
    });
  });

  it("internal state is not exposed: Pipeline has no field (a field is a callable function in --help)", () => {
    expect(engine.objectType("Pipeline").data.fields).toEqual([]);
    expect(engine.objectType("TestReport").data.fields.map((f) => `${f.name}: ${typeName(f.typeDef)}`)).toEqual(["report: Directory", "summary: string", "failures: integer", "brokenShards: integer", "flaky: integer"]);
  });

  it("cache policies: whatever asks the outside world (registry, git, AWS) or must rerun is never cached; check-env is a check", () => {
    const fns = engine.objectType("Pipeline").data.functions;
    const policy = Object.fromEntries(fns.map((f) => [f.name, f.cachePolicy ?? "Default"]));
    for (const name of ["plan", "test", "lint", "baseImage", "appImage", "publishAppImage", "decryptEnv", "encryptValue", "serve", "deploy", "featureDeploy", "featureTeardown", "featureSweep"]) {
      expect(policy[name], name).toBe("Never");
    }
    // Pure reads of what they are given: cached like any function.
    for (const name of ["checkEnv", "checkTests", "mergeTimings"]) expect(policy[name], name).toBe("Default");
    expect(fns.filter((f) => f.check).map((f) => f.name)).toEqual(["checkEnv"]);
  });

  it(
    "the other registration path, entrypoint() with parentName \"\", registers the same module",
    async () => {
      const mod = await engine.registerThroughEntrypoint();
      expect(signatures(mod, "Pipeline")).toEqual(signatures(engine.model.registered!, "Pipeline"));
      expect(mod.def.enums.map((e) => e.data.name)).toEqual(engine.model.registered!.def.enums.map((e) => e.data.name));
    },
    CALL_TIMEOUT,
  );
});

describe("every function through entrypoint()", () => {
  it.concurrent(
    "with-* builders: each returns the state the engine keeps (secrets by id, defaults from the registration), the next call rebuilds the object from it",
    async () => {
      const aws = ok(await engine.call("Pipeline", "withAwsCredentials", {}, { accessKeyId: { env: "AWS_ACCESS_KEY_ID" }, secretAccessKey: { env: "AWS_SECRET_ACCESS_KEY" } })) as Record<string, unknown>;
      // profile came from the registered default ("default"): no field initialiser ran.
      expect(aws).toMatchObject({ awsAccessKeyId: expect.stringMatching(/^Secret#/), awsSecretAccessKey: expect.stringMatching(/^Secret#/), awsProfile: "default" });
      const web = ok(await engine.call("Pipeline", "withAwsWebIdentity", aws, { token: { env: "CIRCLE_OIDC_TOKEN_V2" }, roleArn: "arn:aws:iam::004671295794:role/ci" })) as Record<string, unknown>;
      const gh = ok(await engine.call("Pipeline", "withGithubToken", web, { token: { env: "GITHUB_TOKEN" } })) as Record<string, unknown>;
      const reg = ok(await engine.call("Pipeline", "withRegistryAuth", gh, { username: "ci", password: { env: "REGISTRY_PASSWORD" } })) as Record<string, unknown>;
      const svc = ok(await engine.call("Pipeline", "withRegistryService", reg, { service: { service: "tcp://localhost:5000" } })) as Record<string, unknown>;
      const git = ok(await engine.call("Pipeline", "withGitCredentials", svc, { sshKey: { env: "SSH_KEY" }, knownHosts: { file: "test/fixtures/rails-api/Gemfile" } })) as Record<string, unknown>;
      expect(Object.keys(git).sort()).toEqual(
        ["awsAccessKeyId", "awsProfile", "awsSecretAccessKey", "awsWebIdentityRoleArn", "awsWebIdentityToken", "githubToken", "gitKnownHosts", "gitSshKey", "registryPassword", "registryService", "registryUsername"].sort(),
      );
      expect(engine.model.load<SecretObj>(git.githubToken, "Secret").plaintext()).toBe("ghp_harnessToken0123456789");
      expect(engine.model.load<ServiceObj>(git.registryService, "Service").source).toMatchObject({ kind: "host", host: "localhost:5000" });
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "plan --check-registry is never answered from the cache: the second call sees the base image pushed in between",
    async () => {
      const parent = ok(await engine.call("Pipeline", "withRegistryService", {}, { service: { service: "tcp://localhost:5000" } })) as Record<string, unknown>;
      const args = { source: source(), branch: "da/develop", sha: SHA, checkRegistry: true };
      const first = await engine.call("Pipeline", "plan", parent, args);
      expect(String(ok(first))).toContain("missing: build and push");
      const tag = /rails-api:(base-dev-[0-9a-f]{40})/.exec(String(first.value))![1]!;
      engine.model.world.registries!["localhost:5000"]!.images[`rails-api:${tag}`] = { digest: "sha256:" + "2".repeat(64) };
      const second = await engine.call("Pipeline", "plan", parent, args);
      expect(second.cached).toBe(false);
      expect(String(ok(second))).toContain("exists: pull it, build nothing");
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "check-env is cached by default: the second identical call starts no runtime; a wrong enum value is refused by the CLI",
    async () => {
      const first = await engine.call("Pipeline", "checkEnv", {}, { env: "prod" });
      expect(String(ok(first))).toContain("config/prod.env");
      const second = await engine.call("Pipeline", "checkEnv", {}, { env: "PROD" });
      expect(second.cached).toBe(true);
      await expect(engine.call("Pipeline", "checkEnv", {}, { env: "production" })).rejects.toThrow(new CliRefusal('invalid argument "production" for "--env" flag: value should be one of dev,prod,stage'));
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "test: --shards from pipeline.json; a shard killed by a signal is a broken shard; TestReport.check fails through returnError",
    async () => {
      const report = ok(await engine.call("Pipeline", "test", {}, { source: source() })) as Record<string, unknown>;
      expect(report).toMatchObject({ failures: 0, brokenShards: 1, report: expect.stringMatching(/^Directory#/) });
      expect(String(report.summary)).toContain("killed by signal 9 (SIGKILL, usually out of memory)");
      expect(engine.model.execs.filter((e) => e.call.args[1] === "/pipeline/run-shard.sh").map((e) => e.call.env.TEST_SHARD).sort()).toEqual(["shard-0-of-2", "shard-1-of-2"]);
      const error = failed(await engine.call("TestReport", "check", report));
      expect(error).toContain("[TESTS_FAILED]");
      expect(error).toContain("shard 1:");

      // What CI does next: export the report, fail from it, merge the nodes' timings.
      const exported = path.join(APP_DIR, "test_results");
      for (const [rel, text] of engine.model.load<DirectoryObj>(report.report, "Directory").files()) {
        await mkdir(path.dirname(path.join(exported, rel)), { recursive: true });
        await writeFile(path.join(exported, rel), text);
      }
      expect(failed(await engine.call("Pipeline", "checkTests", {}, { report: { dir: exported } }))).toContain("killed by signal 9");
      const merged = engine.model.load<FileObj>(ok(await engine.call("Pipeline", "mergeTimings", {}, { nodes: { dir: path.join(exported, "timings") } })), "File");
      expect(JSON.parse(merged.contents())).toEqual({ "spec/models/user_spec.rb[1:1]": 0.5 });
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "lint: rubocop's output",
    async () => {
      expect(ok(await engine.call("Pipeline", "lint", {}, { source: source() }))).toContain("no offenses detected");
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "base-image through the registry service; app-image refuses it; publish-app-image without it fails through returnError",
    async () => {
      const parent = ok(await engine.call("Pipeline", "withRegistryService", {}, { service: { service: "tcp://localhost:5000" } })) as Record<string, unknown>;
      const base = String(ok(await engine.call("Pipeline", "baseImage", parent, { source: source(), env: "dev" })));
      expect(base).toMatch(/^cache (miss: built and pushed|hit) localhost:5000\/rails-api:base-dev-[0-9a-f]{40}@sha256:/);
      expect(failed(await engine.call("Pipeline", "appImage", parent, { source: source(), env: "dev", branch: "da/develop", sha: SHA }))).toContain("[REGISTRY_UNREACHABLE]");
      // Without the service, the project's loopback registry.host is refused before anything runs.
      expect(failed(await engine.call("Pipeline", "publishAppImage", {}, { branch: "da/develop", sha: SHA }))).toContain("[REGISTRY_UNREACHABLE] registry.host localhost:5000 is a loopback address");
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "decrypt-env --env dev returns a Secret holding the env file; encrypt-value without AWS fails through returnError",
    async () => {
      const id = ok(await engine.call("Pipeline", "decryptEnv", {}, { env: "dev" }));
      expect(engine.model.load<SecretObj>(id, "Secret").plaintext()).toMatch(/^RAILS_ENV=/m);
      expect(failed(await engine.call("Pipeline", "encryptValue", {}, { env: "prod", value: { env: "MY_SECRET" } }))).toContain("[AWS_CREDENTIALS_INVALID]");
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "serve (defaults: dev, server) starts (every exposed port answers) and up forwards 8080; --flavor worker --image <ref> runs under up with no port answering",
    async () => {
      const id = ok(await engine.call("Pipeline", "serve", {}, {}));
      const svc = engine.model.load<ServiceObj>(id, "Service");
      expect(() => engine.model.up(svc, ["8080:8080"])).not.toThrow();
      const worker = engine.model.load<ServiceObj>(ok(await engine.call("Pipeline", "serve", {}, { flavor: "worker", image: { image: "registry.example.com/rails-api:abc" } })), "Service");
      expect(worker.source.kind === "container" && worker.source.container.state.origin).toBe("registry.example.com/rails-api:abc");
      expect(() => engine.model.up(worker)).not.toThrow();
    },
    CALL_TIMEOUT,
  );

  it.concurrent(
    "deploy and feature-deploy --dry-run print the plan; feature-teardown without AWS fails at assume-role; feature-sweep with nothing to sweep succeeds",
    async () => {
      expect(ok(await engine.call("Pipeline", "deploy", {}, { env: "dev", branch: "da/develop", sha: SHA, dryRun: true, clusterAccess: "none" }))).toContain("environment  dev");
      expect(ok(await engine.call("Pipeline", "featureDeploy", {}, { branch: "feature/new-loan-flow", sha: SHA, dryRun: true }))).toContain("feature-new-loan-flow");
      expect(failed(await engine.call("Pipeline", "featureTeardown", {}, { name: "new-loan-flow" }))).toContain("assume-role");
      expect(ok(await engine.call("Pipeline", "featureSweep", {}, { liveBranches: "da/develop" }))).toContain("tear down: none");
    },
    CALL_TIMEOUT,
  );
});

/**
 * The pipeline module's functions, called with the `dagger` CLI on a real Dagger engine, on the
 * bundled example app: what the README's "Verified on a real engine" table reports. Run with
 * `npm run test:engine` (see support/global-setup.ts for what it needs). Each call is recorded with
 * its wall time in the results file (support/dagger-cli.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_REGISTRY, AUTH_REGISTRY_PASSWORD, AUTH_REGISTRY_USER, OPEN_REGISTRY, unusedPort } from "../support/docker.js";
import { FLAKY_SPEC_FILE, makeFlakyApp } from "../support/flaky-app.js";
import { startAwsStub, type AwsStub } from "./support/aws-stub.js";
import { dagger, daggerInBackground, EXAMPLE_APP, record, tail } from "./support/dagger-cli.js";
import { DEPLOY_REGISTRY, ENGINE_GATEWAY, ensureDeployRegistry } from "./support/deploy-registry.js";
import { exampleAppWith } from "./support/example-app.js";
import { DEV_UNITS, startInfraLive, type InfraLive } from "./support/infra-live.js";
import { readPushedImage } from "./support/registry-image.js";

const OUT = mkdtempSync(path.join(tmpdir(), "engine-calls-"));
/** Where `test --shards 8` exports its report; check-tests and merge-timings read it. */
const TEST_RESULTS = path.join(OUT, "test_results");
const SHA = "0123456789abcdef0123456789abcdef01234567";
/** Each run pushes to its own repository, so base-image's first call is a miss. */
const REPOSITORY = `engine-tests/rails-api-${Date.now().toString(36)}`;

/** Well-formed but fake caller keys: the AWS stub answers STS for any key. */
const CALLER_AWS = { AWS_ACCESS_KEY_ID: "AKIAENGINETESTS00000", AWS_SECRET_ACCESS_KEY: "engineTestsCallerSecretAccessKey00000000" };

/** Examples in the example app's suite (rspec --dry-run). */
const EXAMPLE_APP_EXAMPLES = 244;

function ok(run: { exitCode: number; stdout: string; stderr: string }): void {
  expect(run.exitCode, tail(run)).toBe(0);
}

describe("the module on a real engine", () => {
  it("dagger functions lists the pipeline's functions", async () => {
    const run = await dagger(["functions"]);
    ok(run);
    for (const fn of ["test", "lint", "plan", "check-env", "base-image", "publish-app-image", "decrypt-env", "serve", "deploy", "feature-deploy", "feature-teardown"]) {
      expect(run.stdout).toMatch(new RegExp(`^${fn}\\s`, "m"));
    }
  });

  it("dagger call test --shards 8: eight shards, each with its own postgres and redis; report export writes the JUnit and timings", async () => {
    const dest = TEST_RESULTS;
    const run = await dagger(["call", "test", "--shards", "8", "report", "export", "--path", dest], { label: "dagger call test --shards 8 report export --path test_results" });
    ok(run);
    const junit = readdirSync(path.join(dest, "junit")).sort();
    expect(junit).toEqual(["merged.xml", ...Array.from({ length: 8 }, (_, i) => `shard-${i}.xml`)].sort());
    const plan = JSON.parse(readFileSync(path.join(dest, "plan.json"), "utf8")) as { shards: unknown[] };
    expect(plan.shards).toHaveLength(8);
    const merged = readFileSync(path.join(dest, "junit/merged.xml"), "utf8");
    expect(Number(/tests="(\d+)"/.exec(merged)?.[1])).toBeGreaterThan(50);
    expect(Number(/failures="(\d+)"/.exec(merged)?.[1])).toBe(0);
    expect(existsSync(path.join(dest, "timings.json"))).toBe(true);
    // Every shard ran examples against its own postgres and redis (a shard whose services never
    // answered reports no tests; the services carry the shard's label, io.pipeline.test-shard).
    for (let i = 0; i < 8; i++) {
      const shard = readFileSync(path.join(dest, `junit/shard-${i}.xml`), "utf8");
      expect(Number(/tests="(\d+)"/.exec(shard)?.[1]), `shard ${i}`).toBeGreaterThan(0);
    }
  });

  it("dagger call test --shards 8 again (warm engine)", async () => {
    const run = await dagger(["call", "test", "--shards", "8", "summary"], { label: "dagger call test --shards 8 summary (warm)" });
    ok(run);
    expect(run.stdout).toMatch(/passed|examples/);
  });

  it("dagger call test --shards 8 --strategy queue: one queue service, eight workers each with its own postgres and redis; queue.json says which worker ran which batch", async () => {
    const dest = path.join(OUT, "queue_results");
    const run = await dagger(["call", "test", "--source", exampleAppWith({}), "--shards", "8", "--strategy", "queue", "report", "export", "--path", dest], { label: "dagger call test --shards 8 --strategy queue report export --path <dir>" });
    ok(run);
    const summary = readFileSync(path.join(dest, "summary.txt"), "utf8");
    expect(summary).toMatch(/^PASSED: (\d+) examples, 0 failed/);
    expect(Number(/^PASSED: (\d+) examples/.exec(summary)?.[1])).toBe(EXAMPLE_APP_EXAMPLES);
    const queue = JSON.parse(readFileSync(path.join(dest, "queue.json"), "utf8")) as { workers: number; batches: Array<{ worker: number; seconds?: number }> };
    expect(queue.workers).toBe(8);
    expect(queue.batches.length).toBeGreaterThan(8);
    expect(queue.batches.every((b) => Number.isInteger(b.worker) && b.worker >= 0 && b.worker < 8)).toBe(true);
    // Every worker took work from the one queue (eight queues would each have run everything).
    expect(new Set(queue.batches.map((b) => b.worker)).size).toBe(8);
    for (let i = 0; i < 8; i++) expect(Number(/tests="(\d+)"/.exec(readFileSync(path.join(dest, `junit/shard-${i}.xml`), "utf8"))?.[1]), `worker ${i}`).toBeGreaterThan(0);
  });

  it("dagger call test --shards 8 --retries 2 on an app with a flaky and an always-failing example: flaky reported flaky, the other failed, the JUnit keeps every attempt; check-tests fails", async () => {
    const app = await makeFlakyApp(mkdtempSync(path.join(tmpdir(), "engine-flaky-")));
    const dest = path.join(OUT, "retry_results");
    const run = await dagger(["call", "test", "--source", app, "--shards", "8", "--retries", "2", "report", "export", "--path", dest], { label: "dagger call test --shards 8 --retries 2 report export --path <dir> (a flaky and a failing example)" });
    ok(run); // failing examples do not fail `test`: check-tests does
    const summary = readFileSync(path.join(dest, "summary.txt"), "utf8");
    expect(summary).toMatch(/^FAILED: \d+ examples, 1 failed, 1 flaky,/);
    expect(summary).toContain(`${FLAKY_SPEC_FILE}[1:2]  retried examples fails the first time only`);
    expect(summary).toMatch(/Failures \(1\):\n\s+spec\/flaky\/retry_spec\.rb:\d+\s+retried examples always fails/);
    const merged = readFileSync(path.join(dest, "junit/merged.xml"), "utf8");
    expect(merged.match(/<flakyFailure /g)).toHaveLength(1);
    expect(merged.match(/<rerunFailure /g)).toHaveLength(2); // the failing example's two retries
    const check = await dagger(["call", "check-tests", "--report", dest], { label: "dagger call check-tests --report <the retried report>" });
    expect(check.exitCode).not.toBe(0);
    expect(tail(check)).toContain("[TESTS_FAILED] FAILED:");
  });

  it("dagger call lint", async () => {
    ok(await dagger(["call", "lint"]));
  });

  it("dagger call plan", async () => {
    const run = await dagger(["call", "plan", "--branch", "da/develop", "--sha", SHA]);
    ok(run);
    expect(run.stdout).toContain("environment  dev");
  });

  it("dagger call check-env and dagger check", async () => {
    ok(await dagger(["call", "check-env"]));
    ok(await dagger(["check"]));
  });

  it("dagger call decrypt-env --env dev plaintext", async () => {
    const run = await dagger(["call", "decrypt-env", "--env", "dev", "plaintext"]);
    ok(run);
    expect(run.stdout).toContain("DATABASE_HOST=postgres");
  });

  it("dagger call deploy --dry-run", async () => {
    // --allow-dirty: the checkout is this repository, which may have uncommitted changes while testing.
    const run = await dagger(["call", "deploy", "--env", "dev", "--branch", "da/develop", "--sha", SHA, "--dry-run", "--allow-dirty"]);
    ok(run);
    expect(run.stdout).toContain("terragrunt apply: clockwork -> sidekiq -> rails-api");
  });

  describe("dagger call serve --env dev up", () => {
    let serve: ReturnType<typeof daggerInBackground> | undefined;
    afterAll(() => serve?.child.kill("SIGINT"));

    it("answers GET /health", async () => {
      const port = 18080;
      const started = Date.now();
      serve = daggerInBackground(["call", "serve", "--env", "dev", "up", "--ports", `${port}:8080`]);
      let body = "";
      // The engine health-checks every exposed port before `up` forwards any: give it 5 minutes.
      while (Date.now() - started < 5 * 60_000 && serve.child.exitCode === null) {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        if (res?.ok) {
          body = await res.text();
          break;
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
      record("dagger call serve --env dev up --ports 18080:8080 (until GET /health answers)", { exitCode: body ? 0 : 1, ms: Date.now() - started });
      expect(body, serve.output().split("\n").slice(-40).join("\n")).toMatch(/ok|postgres/i);
    });
  });

  it("dagger call check-tests --report <exported report>", async () => {
    const run = await dagger(["call", "check-tests", "--report", TEST_RESULTS]);
    ok(run);
    expect(run.stdout).toMatch(/0 failed|passed/);
  });

  it("dagger call merge-timings --nodes <exported report>", async () => {
    const merged = path.join(OUT, "merged-timings.json");
    ok(await dagger(["call", "merge-timings", "--nodes", TEST_RESULTS, "export", "--path", merged]));
    expect(Object.keys(JSON.parse(readFileSync(merged, "utf8")) as object).length).toBeGreaterThan(0);
  });
});

describe("images against local registries", () => {
  beforeAll(async () => {
    await ensureDeployRegistry();
  });

  it("base-image through with-registry-service: a miss builds and pushes, the next call is a hit", async () => {
    const app = exampleAppWith({ registry: { host: `localhost:${OPEN_REGISTRY.port}`, repository: REPOSITORY } });
    const args = ["call", "with-registry-service", "--service", `tcp://localhost:${OPEN_REGISTRY.port}`, "base-image", "--source", app, "--branch", "da/develop"];
    const miss = await dagger(args, { label: "dagger call with-registry-service --service tcp://localhost:15000 base-image --branch da/develop (miss)" });
    ok(miss);
    expect(miss.stdout).toMatch(new RegExp(`cache miss: built and pushed localhost:${OPEN_REGISTRY.port}/${REPOSITORY}:base-dev-[0-9a-f]{40}@sha256:`));
    const tags = (await (await fetch(`http://${OPEN_REGISTRY.host}/v2/${REPOSITORY}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toContain("base-dev-latest");
    const hit = await dagger(args, { label: "dagger call with-registry-service ... base-image --branch da/develop (hit)" });
    ok(hit);
    expect(hit.stdout).toMatch(/cache hit .* \(nothing built\)/);
  });

  it("with-registry-auth: base-image through with-registry-service to the htpasswd registry pushes with the login; without it, refused naming the fix", async () => {
    const repository = `${REPOSITORY}-auth`;
    const app = exampleAppWith({ registry: { host: `localhost:${AUTH_REGISTRY.port}`, repository } });
    const service = ["with-registry-service", "--service", `tcp://localhost:${AUTH_REGISTRY.port}`];
    const env = { ENGINE_TESTS_REGISTRY_PASSWORD: AUTH_REGISTRY_PASSWORD };
    const authed = await dagger(["call", ...service, "with-registry-auth", "--username", AUTH_REGISTRY_USER, "--password", "env:ENGINE_TESTS_REGISTRY_PASSWORD", "base-image", "--source", app, "--branch", "da/develop"], { env, label: "dagger call with-registry-service --service tcp://localhost:15001 with-registry-auth ... base-image --branch da/develop (htpasswd registry, miss)" });
    ok(authed);
    expect(authed.stdout).toMatch(new RegExp(`cache miss: built and pushed localhost:${AUTH_REGISTRY.port}/${repository}:base-dev-[0-9a-f]{40}@sha256:`));
    expect(`${authed.stdout}${authed.stderr}`).not.toContain(AUTH_REGISTRY_PASSWORD);
    const login = `Basic ${Buffer.from(`${AUTH_REGISTRY_USER}:${AUTH_REGISTRY_PASSWORD}`).toString("base64")}`;
    const tags = (await (await fetch(`http://${AUTH_REGISTRY.host}/v2/${repository}/tags/list`, { headers: { authorization: login } })).json()) as { tags: string[] };
    expect(tags.tags).toContain("base-dev-latest");
    const anonymous = await dagger(["call", ...service, "base-image", "--source", app, "--branch", "da/develop"], { label: "dagger call with-registry-service --service tcp://localhost:15001 base-image (no with-registry-auth)" });
    expect(anonymous.exitCode).not.toBe(0);
    expect(tail(anonymous)).toContain("[REGISTRY_AUTH_FAILED] registry localhost:15001 refused anonymous access");
  });

  it("with-github-token: a base-image miss mounts the token as a BuildKit secret; it is in no layer, env, label or history of the pushed image", async () => {
    const token = `ghp_engineTests${Date.now().toString(36)}0123456789abcdef`;
    const repository = `${REPOSITORY}-gh`;
    // One more line in Dockerfile.base proves the build read the secret: it writes the token's hash.
    const dockerfile = `${readFileSync(path.join(EXAMPLE_APP, "Dockerfile.base"), "utf8")}RUN --mount=type=secret,id=github_token sha256sum /run/secrets/github_token | cut -d' ' -f1 > /github-token.sha256\n`;
    const app = exampleAppWith({ registry: { host: `localhost:${OPEN_REGISTRY.port}`, repository } }, { "Dockerfile.base": dockerfile });
    const run = await dagger(["call", "with-registry-service", "--service", `tcp://localhost:${OPEN_REGISTRY.port}`, "with-github-token", "--token", "env:ENGINE_TESTS_GITHUB_TOKEN", "base-image", "--source", app, "--branch", "da/develop"], { env: { ENGINE_TESTS_GITHUB_TOKEN: token }, label: "dagger call with-registry-service ... with-github-token --token env:... base-image --branch da/develop (miss)" });
    ok(run);
    expect(`${run.stdout}${run.stderr}`).not.toContain(token);
    const digest = new RegExp(`${repository}:base-dev-[0-9a-f]{40}@(sha256:[0-9a-f]{64})`).exec(run.stdout)?.[1];
    expect(digest, run.stdout).toBeDefined();
    const image = await readPushedImage(OPEN_REGISTRY.host, repository, digest!);
    expect(image.config).not.toContain(token);
    expect(image.layers.length).toBeGreaterThan(1);
    for (const layer of image.layers) expect(layer.includes(token)).toBe(false);
    const hash = createHash("sha256").update(token).digest("hex");
    expect(image.layers.some((layer) => layer.includes(hash))).toBe(true);
  });

  it("publish-app-image through with-registry-service is refused before anything is built (dockerBuild pulls FROM by name)", async () => {
    const app = exampleAppWith({ registry: { host: `localhost:${OPEN_REGISTRY.port}`, repository: REPOSITORY } });
    const run = await dagger(["call", "with-registry-service", "--service", `tcp://localhost:${OPEN_REGISTRY.port}`, "publish-app-image", "--source", app, "--branch", "da/develop", "--sha", SHA]);
    expect(run.exitCode).not.toBe(0);
    expect(tail(run)).toContain("REGISTRY_UNREACHABLE");
  });

  it("publish-app-image to a registry the engine reaches by name (registry.plainHttp)", async () => {
    const app = exampleAppWith({ registry: { host: DEPLOY_REGISTRY.host, plainHttp: true, repository: REPOSITORY } });
    const run = await dagger(["call", "publish-app-image", "--source", app, "--branch", "da/develop", "--sha", SHA]);
    ok(run);
    expect(run.stdout).toContain(`${DEPLOY_REGISTRY.host}/${REPOSITORY}:${SHA}@sha256:`);
  });

  it("app-image: the built container, DOCKER_TAG set", async () => {
    const app = exampleAppWith({ registry: { host: DEPLOY_REGISTRY.host, plainHttp: true, repository: REPOSITORY } });
    const run = await dagger(["call", "app-image", "--source", app, "--env", "dev", "--branch", "da/develop", "--sha", SHA, "env-variable", "--name", "DOCKER_TAG"]);
    ok(run);
    expect(run.stdout.trim()).toBe(SHA);
  });
});

describe("deploy, feature environments and KMS against local stand-ins", () => {
  let stub: AwsStub;
  let live: InfraLive;
  let app: string;
  /** with-aws-endpoint + with-aws-credentials: every AWS call of the run goes to the stub. */
  let aws: string[];

  beforeAll(async () => {
    await ensureDeployRegistry();
    stub = await startAwsStub();
    live = await startInfraLive(ENGINE_GATEWAY, await unusedPort());
    app = exampleAppWith({ registry: { host: DEPLOY_REGISTRY.host, plainHttp: true, repository: REPOSITORY }, infraLive: { repoUrl: live.url } });
    aws = ["with-aws-endpoint", "--endpoint", `tcp://localhost:${stub.port}`, "with-aws-credentials", "--access-key-id", "env:AWS_ACCESS_KEY_ID", "--secret-access-key", "env:AWS_SECRET_ACCESS_KEY"];
  });
  afterAll(async () => {
    live?.close();
    await stub?.close();
  });

  it("deploy --env dev: images pushed, one infrastructure-live commit, AssumeRole at the stub, terragrunt apply per unit in order", async () => {
    const run = await dagger(["call", ...aws, "deploy", "--source", app, "--env", "dev", "--branch", "da/develop", "--sha", SHA, "--allow-dirty"], { env: CALLER_AWS, label: "dagger call with-aws-endpoint ... deploy --env dev --branch da/develop --sha <sha>" });
    ok(run);
    expect(run.stdout).toContain("to dev: succeeded");
    for (const unit of DEV_UNITS) expect(live.show(`dev/us-west-2/dev/apps/${unit}/terragrunt.hcl`)).toContain(`image_version = "${SHA}"`);
    expect(live.log()[0]).toContain(`to dev [ci skip]`);
    expect(stub.calls.filter((c) => c.service === "sts" && c.action === "AssumeRole").map((c) => c.params.RoleArn)).toContain("arn:aws:iam::392216643236:role/auto-deploy");
    const applies = stub.standIn.filter((r) => r.tool === "terragrunt" && r.args[0] === "apply");
    expect(applies.map((r) => path.basename(r.cwd))).toEqual(["clockwork", "sidekiq", "rails-api"]);
    for (const r of applies) expect(r).toMatchObject({ imageVersion: SHA, hasAccessKey: true, hasSessionToken: true, region: "us-west-2" });
    expect(stub.standIn.some((r) => r.tool === "aws" && r.args.slice(0, 4).join(" ") === "eks update-kubeconfig --name eks-dev")).toBe(true);
  });

  it("with-aws-web-identity: deploy --env dev assumes the CI role with the OIDC token at the stub (AssumeRoleWithWebIdentity), then the deploy role", async () => {
    // A JWT's shape (the module refuses anything else, and an expired one, before calling STS).
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const token = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iss: "https://oidc.circleci.com/org/engine-tests", sub: "org/engine-tests/project/p", exp: Math.floor(Date.now() / 1000) + 3600 })}.engineTestsSignature`;
    const ciRole = "arn:aws:iam::004671295794:role/ci";
    const before = stub.calls.length;
    const identity = ["with-aws-endpoint", "--endpoint", `tcp://localhost:${stub.port}`, "with-aws-web-identity", "--token", "env:ENGINE_TESTS_OIDC_TOKEN", "--role-arn", ciRole];
    const run = await dagger(["call", ...identity, "deploy", "--source", app, "--env", "dev", "--branch", "da/develop", "--sha", SHA, "--allow-dirty"], { env: { ENGINE_TESTS_OIDC_TOKEN: token }, label: "dagger call with-aws-endpoint ... with-aws-web-identity --token env:... --role-arn <ci role> deploy --env dev" });
    ok(run);
    expect(run.stdout).toContain("to dev: succeeded");
    expect(`${run.stdout}${run.stderr}`).not.toContain(token);
    const sts = stub.calls.slice(before).filter((c) => c.service === "sts");
    const web = sts.filter((c) => c.action === "AssumeRoleWithWebIdentity");
    expect(web.length).toBeGreaterThan(0);
    for (const c of web) expect(c.params).toMatchObject({ RoleArn: ciRole, WebIdentityTokenSha256: createHash("sha256").update(token).digest("hex") });
    expect(sts.filter((c) => c.action === "AssumeRole").map((c) => c.params.RoleArn)).toContain("arn:aws:iam::392216643236:role/auto-deploy");
  });

  it("feature-deploy, then feature-teardown: six units applied, then destroyed in reverse and removed", async () => {
    const root = "dev/us-west-2/dev/apps/features/engine-check";
    const deployed = await dagger(["call", ...aws, "feature-deploy", "--source", app, "--branch", "feature/engine-check", "--sha", SHA, "--allow-dirty"], { env: CALLER_AWS, label: "dagger call with-aws-endpoint ... feature-deploy --branch feature/engine-check --sha <sha>" });
    ok(deployed);
    expect(live.show(`${root}/api/terragrunt.hcl`)).toContain(`feat-engine-check-${SHA.slice(0, 7)}`);
    const before = stub.standIn.length;
    const torn = await dagger(["call", ...aws, "feature-teardown", "--source", app, "--name", "engine-check"], { env: CALLER_AWS, label: "dagger call with-aws-endpoint ... feature-teardown --name engine-check" });
    ok(torn);
    expect(live.show(`${root}/api/terragrunt.hcl`)).toBe("");
    const destroys = stub.standIn.slice(before).filter((r) => r.tool === "terragrunt" && r.args[0] === "destroy");
    expect(destroys.map((r) => path.basename(r.cwd))).toEqual(["sidekiq", "clockwork", "api", "pgadmin", "redis", "postgres"]);
  });

  it("feature-sweep tears down the environment whose branch is gone", async () => {
    ok(await dagger(["call", ...aws, "feature-deploy", "--source", app, "--branch", "feature/sweep-me", "--sha", SHA, "--allow-dirty"], { env: CALLER_AWS }));
    const run = await dagger(["call", ...aws, "feature-sweep", "--source", app, "--live-branches", "da/develop,feature/other"], { env: CALLER_AWS, label: "dagger call with-aws-endpoint ... feature-sweep --live-branches da/develop,feature/other" });
    ok(run);
    expect(live.show("dev/us-west-2/dev/apps/features/sweep-me/api/terragrunt.hcl")).toBe("");
  });

  it("encrypt-value, then decrypt-env of a file holding that token, both through the stub's KMS", async () => {
    const secret = "engine-tests secret value";
    const enc = await dagger(["call", ...aws, "encrypt-value", "--source", app, "--env", "stage", "--value", "env:ENGINE_TESTS_SECRET"], { env: { ...CALLER_AWS, ENGINE_TESTS_SECRET: secret }, label: "dagger call with-aws-endpoint ... encrypt-value --env stage --value env:..." });
    ok(enc);
    expect(`${enc.stdout}${enc.stderr}`).not.toContain(secret);
    const token = enc.stdout.trim().split("\n").pop()!;
    expect(token).toMatch(/^kmscrypt::AQICAH[A-Za-z0-9+/=]+$/);
    expect(stub.calls.some((c) => c.service === "kms" && c.action === "Encrypt" && c.params.KeyId === '"alias/stage-env"')).toBe(true);
    const withToken = exampleAppWith({ registry: { host: DEPLOY_REGISTRY.host, plainHttp: true } }, { "config/stage.env": `RAILS_ENV=production\nENGINE_TESTS_SECRET=${token}\n` });
    const dec = await dagger(["call", ...aws, "decrypt-env", "--source", withToken, "--env", "stage", "plaintext"], { env: CALLER_AWS, label: "dagger call with-aws-endpoint ... decrypt-env --env stage plaintext" });
    ok(dec);
    expect(dec.stdout).toContain(`ENGINE_TESTS_SECRET=${secret}`);
  });
});

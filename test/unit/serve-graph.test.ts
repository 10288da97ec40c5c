/**
 * `serve` wired to Dagger, recorded without an engine (test/support/dagger-recorder), with a fake
 * KmsPort for stage/prod: the pod's image, variables, the decrypted env file mounted as a SECRET
 * file, its own postgres and redis, the exposed port; and the pure joined Dockerfile.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { dag } from "@dagger.io/dagger";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { KmsPort } from "../../modules/pipeline/src/aws/kms.js";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { parseEnvFile } from "../../modules/pipeline/src/lib/env-file.js";
import type { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import {
  DECRYPTED_ENV_PATH,
  parseServeFlavor,
  planServeDockerfile,
  SERVE_BASE_STAGE,
  serveApp,
  type ServeDeps,
} from "../../modules/pipeline/src/serve.js";
import { answerFromFiles, countOf, installRecorder, type Recorder } from "../support/dagger-recorder.js";
import { REPO_ROOT } from "../support/introspect.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const fixture = (name: string) => readFileSync(path.join(FIXTURE, name), "utf8");
const GITHUB_TOKEN = "ghp_serveGraphToken0123456789abcdefXYZ";

let recorder: Recorder;
let files: Record<string, string> = {};

beforeAll(async () => {
  recorder = await installRecorder(answerFromFiles(() => files, { GITHUB_TOKEN }));
});

beforeEach(() => {
  recorder.reset();
  files = Object.fromEntries(
    ["Gemfile", "Gemfile.lock", "Dockerfile", "Dockerfile.base", "config/dev.env", "config/stage.env", "config/prod.env"].map((f) => [f, fixture(f)]),
  );
});

/** A fake KMS whose plaintexts are recognisable. */
function fakeKms() {
  const plaintexts: string[] = [];
  const port: KmsPort = {
    async decrypt() {
      const p = `SERVE-PLAINTEXT-${plaintexts.length + 1}-q9`;
      plaintexts.push(p);
      return new TextEncoder().encode(p);
    },
    async encrypt() {
      throw new Error("not used");
    },
  };
  const deps: ServeDeps = { kms: async () => port };
  return { deps, plaintexts };
}

const noCredentials = (): RunCredentials => ({ aws: {} });

/** Run serve and send the service's id; returns the fully expanded query of the service. */
async function serveGraph(env: string, flavor: string, deps: ServeDeps = {}, credentials = noCredentials(), image?: ReturnType<typeof dag.container>) {
  const service = await serveApp(dag.directory(), { env, flavor, image }, credentials, deps);
  await service.id();
  return recorder.expanded().at(-1)!;
}

function expectOnlyInSetSecret(queries: readonly string[], value: string): void {
  for (const q of queries) {
    const outside = q.replace(/setSecret \(name: "[^"]*",plaintext: "(?:[^"\\]|\\.)*"\)/g, "setSecret(<elided>)");
    expect(outside, `outside setSecret: ${value}`).not.toContain(value);
  }
}

/** The value of each `KEY=value` of a file whose key looks secret or whose value is distinctive. */
function valuesOf(text: string, keys: string[]): string[] {
  const file = parseEnvFile(text, "x.env");
  return keys.map((k) => file.entries.find((e) => e.key === k)!.value);
}

describe("serve --env dev (server)", () => {
  it("runs the app image as a pod: flavour, VPC, the env file as a mounted secret, postgres and redis, port 8080", async () => {
    const graph = await serveGraph("dev", "server");
    expect(graph).toContain('withEnvVariable (name: "VPC_NAME",value: "dev")');
    expect(graph).toContain('withEnvVariable (name: "SERVER_FLAVOR",value: "server")');
    expect(graph).toContain(`withEnvVariable (name: "DECRYPTED_ENV_FILE",value: "${DECRYPTED_ENV_PATH}")`);
    expect(graph).toMatch(new RegExp(`withMountedSecret \\(path: "${DECRYPTED_ENV_PATH}",source: "?<<\\{ setSecret \\(name: "pipeline-decrypted-env-dev"`));
    expect(graph).toContain('withEnvVariable (name: "PORT",value: "8080")');
    expect(graph).toMatch(/withExposedPort \(port: 8080\) \{ asService \(useEntrypoint: true\) \{ id \} \}/);
    // The image's own command (bin/env) runs: no args override.
    expect(graph).not.toMatch(/asService \([^)]*args/);

    const postgres = /withServiceBinding \(alias: "postgres",service: "?<<(\{ container \{ from \(address: "([^"]+)"\).*?)>>/.exec(graph);
    const redis = /withServiceBinding \(alias: "redis",service: "?<<(\{ container \{ from \(address: "([^"]+)"\).*?)>>/.exec(graph);
    expect(postgres?.[2]).toBe("postgres:15");
    expect(redis?.[2]).toBe("redis:7");
    expect(postgres![1]).not.toBe(redis![1]);
    expect(postgres![1]).toContain("withExposedPort (port: 5432)");
    expect(postgres![1]).toContain('withEnvVariable (name: "POSTGRES_HOST_AUTH_METHOD",value: "trust")');
    expect(redis![1]).toContain("withExposedPort (port: 6379)");
    // Pod-level overrides point the app at them (bin/env: a set variable wins over the file).
    expect(graph).toContain('withEnvVariable (name: "DATABASE_HOST",value: "postgres")');
    expect(graph).toContain('withEnvVariable (name: "REDIS_URL",value: "redis://redis:6379/0")');
  });

  it("builds the image locally from Dockerfile.base (dev variant) and Dockerfile joined, with the deploy's build args", async () => {
    const graph = await serveGraph("dev", "server");
    const build = /withNewFile \(path: "\.pipeline\/Dockerfile\.serve",contents: ("(?:[^"\\]|\\.)*")\) \{ dockerBuild \(([^)]*)\)/.exec(graph);
    expect(build).not.toBeNull();
    const dockerfile = JSON.parse(build![1]!) as string;
    expect(dockerfile).toContain(`FROM \${RUBY_IMAGE} AS ${SERVE_BASE_STAGE}`);
    expect(dockerfile).toContain("FROM ${BASE_IMAGE_NAME}");
    expect(dockerfile).not.toContain("remove-for-dev");
    expect(dockerfile).toContain('CMD [ "bin/env" ]');
    expect(build![2]).toContain('dockerfile: ".pipeline/Dockerfile.serve"');
    expect(build![2]).toContain(`{name:"BASE_IMAGE_NAME",value:"${SERVE_BASE_STAGE}"}`);
    expect(build![2]).toContain('{name:"RUBY_IMAGE",value:"ruby:3.1.4"}');
    expect(build![2]).toContain('{name:"VPC_NAME",value:"dev"}');
    expect(graph).not.toContain("publish");
    expect(graph).not.toContain("withRegistryAuth");
  });

  it("keeps every env-file value out of variables, exec args and labels: it exists only in setSecret", async () => {
    await serveGraph("dev", "server");
    const sent = recorder.expanded();
    const secrets = valuesOf(files["config/dev.env"]!, ["DATABASE_PASSWORD", "SECRET_KEY_BASE", "GRAVITY_API_PASSWORD", "CREDIT_BUREAU_API_TOKEN"]);
    for (const value of secrets) expectOnlyInSetSecret(sent, value);
    const all = sent.join("\n");
    for (const key of ["DATABASE_PASSWORD", "SECRET_KEY_BASE", "GRAVITY_API_PASSWORD", "CREDIT_BUREAU_API_TOKEN", "DATABASE_SUPER_PASSWORD"]) {
      expect(all).not.toContain(`withEnvVariable (name: "${key}"`);
    }
    for (const forbidden of ["withExec", "withLabel", "withSecretVariable"]) expect(all).not.toContain(forbidden);
    expect(countOf(recorder.queries.join("\n"), "setSecret (")).toBe(1);
  });

  it("needs no AWS credentials for dev (no kmscrypt:: tokens)", async () => {
    await expect(serveGraph("dev", "server", {}, noCredentials())).resolves.toContain("asService");
  });

  it("passes the GitHub token to the base build as a BuildKit secret only", async () => {
    const graph = await serveGraph("dev", "server", {}, { aws: {}, githubToken: dag.secret("env://GITHUB_TOKEN") });
    expect(graph).toMatch(/secrets: \["<<\{ setSecret \(name: "github_token",plaintext: "ghp_serveGraphToken/);
    expectOnlyInSetSecret(recorder.expanded(), GITHUB_TOKEN);
  });
});

describe("serve flavours and inputs", () => {
  it.each([
    ["worker", "worker"],
    ["scheduler", "scheduler"],
  ])("--flavor %s: SERVER_FLAVOR=%s, same services, a port whose health check is explicitly skipped", async (flavor, expected) => {
    const graph = await serveGraph("dev", flavor);
    expect(graph).toContain(`withEnvVariable (name: "SERVER_FLAVOR",value: "${expected}")`);
    expect(graph).toContain('withServiceBinding (alias: "postgres"');
    expect(graph).toContain('withServiceBinding (alias: "redis"');
    // Nothing listens: the engine must not wait for it, and `up` still has a port to forward.
    expect(graph).toMatch(/withExposedPort \(port: 8080,experimentalSkipHealthcheck: true,description: "[^"]*not served[^"]*"\) \{ asService/);
    expect(graph).not.toContain("withExposedPort (port: 8080) {");
    expect(graph).not.toContain('withEnvVariable (name: "PORT"');
  });

  it("--env prod decrypts with KMS and still sends the plaintext only through setSecret", async () => {
    const kms = fakeKms();
    const graph = await serveGraph("prod", "server", kms.deps);
    expect(kms.plaintexts.length).toBeGreaterThan(0);
    for (const p of kms.plaintexts) expectOnlyInSetSecret(recorder.expanded(), p);
    expect(graph).toContain('withEnvVariable (name: "VPC_NAME",value: "prod")');
    expect(graph).toContain('setSecret (name: "pipeline-decrypted-env-prod"');
    // prod drops development gems: the remove-for-dev lines stay in the joined Dockerfile.
    expect(graph).toContain("remove-for-dev");
  });

  it("--image runs the given app image instead of building one", async () => {
    const image = dag.container().from("004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api:0123abc");
    const graph = await serveGraph("dev", "server", {}, noCredentials(), image);
    expect(graph).toMatch(/^\{ container \{ from \(address: "004671295794\.dkr\.ecr\.us-west-2\.amazonaws\.com\/rails-api:0123abc"\) \{ withEnvVariable \(name: "VPC_NAME"/);
    expect(graph).not.toContain("dockerBuild");
  });

  it.each([
    ["an unknown flavour", "dev", "console", /ARGUMENT_INVALID[\s\S]*--flavor "console"[\s\S]*server, worker, scheduler/],
    ["an unknown environment", "qa", "server", /ENVIRONMENT_UNKNOWN/],
  ])("fails before building anything for %s", async (_name, env, flavor, pattern) => {
    await expect(serveGraph(env, flavor)).rejects.toThrow(pattern);
    expect(recorder.queries.join("\n")).not.toContain("container");
  });

  it("asks for AWS credentials for stage/prod files when none were given", async () => {
    await expect(serveGraph("prod", "server")).rejects.toThrow(/AWS_CREDENTIALS_INVALID[\s\S]*with-aws-credentials/);
  });

  it.each([["server"], [" worker "], ["scheduler"]])("parseServeFlavor accepts %j", (f) => {
    expect(parseServeFlavor(f)).toBe(f.trim());
  });
});

describe("planServeDockerfile (pure)", () => {
  const base = (text: string) => ({ text, path: "Dockerfile.base" });
  const app = (text: string) => ({ text, path: "Dockerfile" });

  it.each([
    {
      name: "names the base's only stage and hoists both files' global ARGs",
      base: "ARG RUBY_IMAGE=ruby:3.1.4\nFROM ${RUBY_IMAGE}\nRUN bundle install\n",
      app: "ARG BASE_IMAGE_NAME=x\nFROM ${BASE_IMAGE_NAME}\nCOPY . .\n",
      stage: SERVE_BASE_STAGE,
      order: ["ARG RUBY_IMAGE=ruby:3.1.4", "ARG BASE_IMAGE_NAME=x", `FROM \${RUBY_IMAGE} AS ${SERVE_BASE_STAGE}`, "RUN bundle install", "FROM ${BASE_IMAGE_NAME}", "COPY . ."],
    },
    {
      name: "reuses the name of an already named last stage",
      base: "FROM ruby:3.1 AS builder\nRUN make\nFROM ruby:3.1-slim AS gems\nCOPY --from=builder /x /x\n",
      app: "ARG BASE_IMAGE_NAME\nFROM ${BASE_IMAGE_NAME}\n",
      stage: "gems",
      order: ["ARG BASE_IMAGE_NAME", "FROM ruby:3.1 AS builder", "FROM ruby:3.1-slim AS gems", "FROM ${BASE_IMAGE_NAME}"],
    },
    {
      name: "names only the LAST stage of a multi-stage base",
      base: "FROM ruby:3.1 AS build\nRUN make\nFROM ruby:3.1-slim\nCOPY --from=build /x /x\n",
      app: "ARG BASE_IMAGE_NAME\nFROM ${BASE_IMAGE_NAME}\n",
      stage: SERVE_BASE_STAGE,
      order: ["FROM ruby:3.1 AS build", `FROM ruby:3.1-slim AS ${SERVE_BASE_STAGE}`, "FROM ${BASE_IMAGE_NAME}"],
    },
    {
      name: "keeps a parser directive first and drops a repeated global ARG",
      base: "# syntax=docker/dockerfile:1\nARG RUBY_IMAGE\nFROM ${RUBY_IMAGE}\n",
      app: "# syntax=docker/dockerfile:1\nARG RUBY_IMAGE\nARG BASE_IMAGE_NAME\nFROM ${BASE_IMAGE_NAME}\n",
      stage: SERVE_BASE_STAGE,
      order: ["# syntax=docker/dockerfile:1", "ARG RUBY_IMAGE", "ARG BASE_IMAGE_NAME", `FROM \${RUBY_IMAGE} AS ${SERVE_BASE_STAGE}`],
    },
  ])("$name", ({ base: b, app: a, stage, order }) => {
    const out = planServeDockerfile(base(b), app(a));
    expect(out.baseStage).toBe(stage);
    const lines = out.text.split("\n");
    const positions = order.map((l) => lines.indexOf(l));
    expect(positions, out.text).not.toContain(-1);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    // A global ARG appears once, and only before the first FROM.
    const firstFrom = lines.findIndex((l) => l.startsWith("FROM"));
    for (const arg of lines.filter((l) => l.startsWith("ARG ") && lines.indexOf(l) < firstFrom)) expect(countOf(out.text, `\n${arg}\n`)).toBe(1);
    if (order[0]!.startsWith("# syntax")) expect(lines[0]).toBe(order[0]);
  });

  it("refuses a Dockerfile without FROM, naming it", () => {
    expect(() => planServeDockerfile(base("RUN true\n"), app("FROM x\n"))).toThrow(/BUILD_FAILED\] Dockerfile\.base has no FROM line/);
  });

  it("joins the example app's two Dockerfiles into one that builds FROM the base stage", () => {
    const out = planServeDockerfile(base(fixture("Dockerfile.base")), app(fixture("Dockerfile")));
    const lines = out.text.split("\n");
    const froms = lines.filter((l) => /^FROM\s/.test(l));
    expect(froms).toEqual([`FROM \${RUBY_IMAGE} AS ${SERVE_BASE_STAGE}`, "FROM ${BASE_IMAGE_NAME}"]);
    expect(lines.indexOf("ARG BASE_IMAGE_NAME=blinker/api-base:latest")).toBeLessThan(lines.indexOf(froms[0]!));
  });

  it("error codes stay stable", () => {
    try {
      parseServeFlavor("web");
      expect.unreachable();
    } catch (err) {
      expect((err as PipelineError).code).toBe("ARGUMENT_INVALID");
    }
  });
});

/**
 * The example app's container entrypoint, run for real on this machine the way a pod runs it:
 * `bin/env` loads the decrypted env file named by DECRYPTED_ENV_FILE (variables already set in the
 * environment win), then execs `bundle exec ruby script/entrypoint.rb $SERVER_FLAVOR` against real
 * postgres and redis servers (test/support/services.ts).
 *
 * The app is copied to a temp dir and prepared like the image (config/database.docker.yml moved over
 * config/database.yml, as the Dockerfile does), so the test sees exactly what `dagger call serve` runs.
 * The env file is config/dev.env verbatim; the pod-level overrides (DATABASE_HOST, DATABASE_PORT,
 * REDIS_URL) are what `serve` sets as plain variables and point at the local servers here.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, cp, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dag } from "@dagger.io/dagger";
import { serveApp, SERVE_DOCKERFILE_PATH } from "../../modules/pipeline/src/serve.js";
import { installRecorder } from "../support/dagger-recorder.js";
import { docker, dockerBuildPlan, ensureDocker, ensureRubyImage } from "../support/docker.js";
import { freePort, startPostgres, startRedis, type PostgresService, type RunningService } from "../support/services.js";

const run = promisify(execFile);
const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/rails-api");
const PSQL = "/usr/lib/postgresql/15/bin/psql";

let pg: PostgresService;
let redis: RunningService;
let work: string;
let appDir: string;
let envFile: string;
const children = new Set<ChildProcess>();

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The pod-level variables `serve` sets: flavour, VPC, the secret file path and the service hosts. */
function podEnv(flavor: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    LANG: "C.UTF-8",
    VPC_NAME: "dev",
    SERVER_FLAVOR: flavor,
    DECRYPTED_ENV_FILE: envFile,
    DATABASE_HOST: "127.0.0.1",
    DATABASE_PORT: String(pg.port),
    REDIS_URL: redis.url,
    ...extra,
  };
}

/** Start `bin/env [args]` in its own process group so the whole tree can be killed. */
function startEntrypoint(env: NodeJS.ProcessEnv, args: string[] = []): Started {
  const child = spawn(path.join(appDir, "bin/env"), args, { cwd: appDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let text = "";
  const append = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => text, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM the process group, SIGKILL it if it is still there after a grace period. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!done) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  }
}

async function waitFor(what: string, started: Started, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(started.child)) throw new Error(`${what}: the process exited (${started.child.exitCode ?? started.child.signalCode}):\n${started.output()}`);
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms:\n${started.output()}`);
}

async function psql(sql: string, database = "blinker_dev"): Promise<string> {
  const { stdout } = await run(PSQL, ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", database, "-tAc", sql]);
  return stdout.trim();
}

async function redisCli(...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(redis.port), ...args]);
  return stdout.trim();
}

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres({ database: "blinker_dev" }), startRedis()]);
  work = await mkdtemp(path.join(tmpdir(), "entrypoint-"));
  appDir = path.join(work, "app");
  // What the Dockerfile does: the app, with database.docker.yml as database.yml.
  await cp(FIXTURE, appDir, { recursive: true, filter: (src) => !/\/(log|tmp)\/.+/.test(src.slice(FIXTURE.length)) });
  await rename(path.join(appDir, "config/database.docker.yml"), path.join(appDir, "config/database.yml"));
  // What serve mounts as a secret file: the decrypted env (dev is plaintext already), read-only.
  envFile = path.join(work, "decrypted.env");
  await writeFile(envFile, await readFile(path.join(FIXTURE, "config/dev.env"), "utf8"));
  await chmod(envFile, 0o400);
});

afterAll(async () => {
  await Promise.all([...children].map(stopGroup));
  await Promise.all([pg?.stop(), redis?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("bin/env + script/entrypoint.rb, for real", () => {
  it("server: creates, migrates and seeds the database, then serves GET /health 200", async () => {
    const port = await freePort();
    const server = startEntrypoint(podEnv("server", { PORT: String(port), BIND: "127.0.0.1" }));
    try {
      let last = "";
      await waitFor(
        "server /health",
        server,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          last = `${res.status} ${await res.text()}`;
          return res.status === 200;
        },
        150_000,
      );
      expect(last).toMatch(/^200 /);
      const body = JSON.parse(last.slice(4)) as { status: string; checks: Record<string, string> };
      expect(body).toMatchObject({ status: "ok", checks: { database: "ok", redis: "ok" } });

      // Created (by the entrypoint, not by the test), migrated, granted, seeded.
      expect(await psql("SELECT datname FROM pg_database WHERE datname = 'blinker_dev'", "postgres")).toBe("blinker_dev");
      expect(Number(await psql("SELECT count(*) FROM schema_migrations"))).toBeGreaterThan(0);
      expect(await psql("SELECT rolname FROM pg_roles WHERE rolname = 'blinker_app'")).toBe("blinker_app");
      const tables = (await psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).split("\n");
      const seeded = await Promise.all(
        tables.filter((t) => !["schema_migrations", "ar_internal_metadata"].includes(t)).map(async (t) => Number(await psql(`SELECT count(*) FROM "${t}"`))),
      );
      expect(seeded.some((n) => n > 0), `some table holds seed rows (${tables.join(", ")})`).toBe(true);
      expect(server.output()).toContain("entrypoint: setting up the database");

      // A real API request beyond the probe.
      const vehicles = await fetch(`http://127.0.0.1:${port}/vehicles`);
      expect(vehicles.status).toBe(200);
    } finally {
      await stopGroup(server.child);
    }
    expect(isRunning(server.child)).toBe(false);
  }, 240_000);

  it("server setup is idempotent: a second pod start finds the database and serves again", async () => {
    const port = await freePort();
    const server = startEntrypoint(podEnv("server", { PORT: String(port), BIND: "127.0.0.1" }));
    try {
      await waitFor("second server /health", server, async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 150_000);
      expect(server.output()).toContain("database exists");
    } finally {
      await stopGroup(server.child);
    }
  }, 240_000);

  it("worker: sidekiq starts, registers with redis and stays up", async () => {
    await redisCli("DEL", "processes");
    const worker = startEntrypoint(podEnv("worker"));
    try {
      await waitFor("sidekiq heartbeat", worker, async () => (await redisCli("SCARD", "processes")) !== "0", 90_000);
      await sleep(4_000);
      expect(isRunning(worker.child), worker.output()).toBe(true);
      expect(worker.output()).toContain("entrypoint: worker: bundle exec sidekiq");
      // SIDEKIQ_CONCURRENCY=2 from the env file reached sidekiq.
      const [processKey] = (await redisCli("SMEMBERS", "processes")).split("\n");
      expect(await redisCli("HGET", processKey!, "info")).toContain('"concurrency":2');
    } finally {
      await stopGroup(worker.child);
    }
    expect(isRunning(worker.child)).toBe(false);
  }, 180_000);

  it("scheduler: clockwork starts, ticks its heartbeat job and stays up", async () => {
    await redisCli("DEL", "clockwork:heartbeat");
    const scheduler = startEntrypoint(podEnv("scheduler"));
    try {
      await waitFor("clockwork heartbeat", scheduler, async () => (await redisCli("EXISTS", "clockwork:heartbeat")) === "1", 90_000);
      await sleep(4_000);
      expect(isRunning(scheduler.child), scheduler.output()).toBe(true);
      expect(scheduler.output()).toContain("entrypoint: scheduler: bundle exec clockwork");
    } finally {
      await stopGroup(scheduler.child);
    }
    expect(isRunning(scheduler.child)).toBe(false);
  }, 180_000);

  it("a variable set in the environment wins over the decrypted file; unset ones come from the file", async () => {
    const printer = ["ruby", "-e", 'puts [ENV["RATE_LIMIT_PER_MINUTE"], ENV["SIDEKIQ_CONCURRENCY"], ENV["DATABASE_HOST"]].join(",")'];
    const overridden = startEntrypoint(podEnv("server", { RATE_LIMIT_PER_MINUTE: "7" }), printer);
    expect(await overridden.exited, overridden.output()).toBe(0);
    // From the environment: 7 and 127.0.0.1 (the file says 1200 and postgres); from the file: 2.
    expect(overridden.output().trim()).toBe("7,2,127.0.0.1");

    const { DATABASE_HOST: _host, ...withoutHost } = podEnv("server");
    const fromFile = startEntrypoint(withoutHost, printer);
    expect(await fromFile.exited, fromFile.output()).toBe(0);
    expect(fromFile.output().trim()).toBe("1200,2,postgres");
  }, 60_000);

  it("an env file that still holds kmscrypt:: tokens is refused when nothing decrypted it", async () => {
    const env = podEnv("server", { ENV_FILE: path.join(appDir, "config/prod.env") });
    delete env.DECRYPTED_ENV_FILE;
    const refused = startEntrypoint(env, ["true"]);
    expect(await refused.exited).toBe(64);
    expect(refused.output()).toContain("decrypt it and pass the result in DECRYPTED_ENV_FILE");
    // The refusal names the file, never a value from it.
    expect(refused.output()).not.toContain("AQICAH");
  }, 60_000);
});

/**
 * `dagger call serve --env dev` without an engine: the graph serve records (image build, variables,
 * secret mount, service aliases, port) is replayed with docker on this machine. The joined
 * Dockerfile and build args are built with `docker build`; the container gets exactly the graph's
 * variables, the setSecret plaintext as a read-only file at the graph's mount path, and the service
 * aliases `postgres`/`redis` resolve to real local servers. The only change: the servers' ports
 * (serve's fixed 5432/6379 become the free ports the local servers got).
 */
describe("serve --env dev replayed with docker", () => {
  let status: { ok: boolean; reason?: string } = { ok: false, reason: "not checked" };
  let servePg: PostgresService | undefined;
  let serveRedis: RunningService | undefined;
  const container = `pipeline-serve-test-${process.pid}`;
  const tag = `pipeline-serve-test:${process.pid}`;

  beforeAll(async () => {
    status = await ensureDocker();
    if (status.ok) await ensureRubyImage();
    [servePg, serveRedis] = await Promise.all([startPostgres({ database: "blinker_dev" }), startRedis()]);
  }, 900_000);

  afterAll(async () => {
    if (status.ok) {
      await docker(["rm", "-f", container]).catch(() => undefined);
      await docker(["rmi", "-f", tag]).catch(() => undefined);
    }
    await Promise.all([servePg?.stop(), serveRedis?.stop()]);
  });

  it("the pod serve describes builds, sets up its database and answers GET /health 200", async (ctx) => {
    if (!status.ok) ctx.skip(`docker is not available: ${status.reason}`);
    const files = Object.fromEntries(
      ["Gemfile", "Gemfile.lock", "Dockerfile", "Dockerfile.base", "config/dev.env"].map((f) => [f, readFileSync(path.join(FIXTURE, f), "utf8")]),
    );
    const recorder = await installRecorder((leaf, query) => {
      if (leaf === "exists") return (/exists \(path: "([^"]+)"/.exec(query)?.[1] ?? "") in files;
      if (leaf === "contents") return files[/file \(path: "([^"]+)"\) \{ contents/.exec(query)?.[1] ?? ""] ?? "";
      return undefined;
    });
    await (await serveApp(dag.directory(), { env: "dev", flavor: "server" }, { aws: {} })).id();
    const pod = recorder.queries.at(-1)!;
    const all = recorder.queries.join("\n");
    const unquote = (q: string) => JSON.parse(q) as string;

    // The image: the joined Dockerfile and build args the graph holds (RUBY_IMAGE -> the local Ruby image).
    const build = /withNewFile \(path: "([^"]+)",contents: ("(?:[^"\\]|\\.)*")\) \{ dockerBuild \(dockerfile: "([^"]+)",buildArgs: \[([^\]]*)\]/.exec(all)!;
    expect(build[1]).toBe(SERVE_DOCKERFILE_PATH);
    const buildArgs = [...build[4]!.matchAll(/\{name:("(?:[^"\\]|\\.)*"),value:("(?:[^"\\]|\\.)*")\}/g)].map((m) => ({ name: unquote(m[1]!), value: unquote(m[2]!) }));
    const rubyImage = await ensureRubyImage();
    const context = await mkdtemp(path.join(tmpdir(), "serve-context-"));
    try {
      await cp(FIXTURE, context, { recursive: true, filter: (src) => !/\/(log|tmp)\/.+/.test(src.slice(FIXTURE.length)) });
      await dockerBuildPlan(
        context,
        {
          dockerfilePath: build[3]!,
          dockerfileText: unquote(build[2]!),
          writeDockerfile: true,
          buildArgs: buildArgs.map((a) => (a.name === "RUBY_IMAGE" ? { ...a, value: rubyImage } : a)),
        },
        tag,
      );
    } finally {
      await rm(context, { recursive: true, force: true });
    }

    // The pod: the graph's variables, the secret file at the graph's path, the aliases, the port.
    const envVars = new Map([...pod.matchAll(/withEnvVariable \(name: ("(?:[^"\\]|\\.)*"),value: ("(?:[^"\\]|\\.)*")\)/g)].map((m) => [unquote(m[1]!), unquote(m[2]!)]));
    const mountPath = unquote(/withMountedSecret \(path: ("(?:[^"\\]|\\.)*")/.exec(pod)![1]!);
    const aliases = [...pod.matchAll(/withServiceBinding \(alias: "([^"]+)"/g)].map((m) => m[1]!);
    const secretText = unquote(/setSecret \(name: "pipeline-decrypted-env-dev",plaintext: ("(?:[^"\\]|\\.)*")\)/.exec(all)![1]!);
    expect(aliases.sort()).toEqual(["postgres", "redis"]);
    expect(pod).toContain("withExposedPort (port: 8080)");
    expect(envVars.get("DECRYPTED_ENV_FILE")).toBe(mountPath);

    const port = await freePort();
    envVars.set("DATABASE_PORT", String(servePg!.port));
    envVars.set("REDIS_URL", `redis://redis:${serveRedis!.port}/0`);
    envVars.set("PORT", String(port));
    const secretDir = await mkdtemp(path.join(tmpdir(), "serve-secret-"));
    const secretFile = path.join(secretDir, "decrypted.env");
    await writeFile(secretFile, secretText, { mode: 0o400 });
    try {
      await docker([
        "run", "-d", "--name", container, "--network", "host",
        ...aliases.flatMap((a) => ["--add-host", `${a}:127.0.0.1`]),
        ...[...envVars].flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        "-v", `${secretFile}:${mountPath}:ro`,
        tag,
      ]);
      const deadline = Date.now() + 180_000;
      let last = "";
      while (Date.now() < deadline) {
        last = await fetch(`http://127.0.0.1:${port}/health`).then(async (r) => `${r.status} ${await r.text()}`, (e: unknown) => String(e));
        if (last.startsWith("200 ")) break;
        const state = (await docker(["inspect", "-f", "{{.State.Running}}", container])).stdout.trim();
        if (state !== "true") break;
        await sleep(500);
      }
      const logs = await docker(["logs", container]).then((r) => r.stdout + r.stderr);
      expect(last, logs).toMatch(/^200 \{"status":"ok"/);
      expect(logs).toContain("entrypoint: setting up the database");
      expect(await run(PSQL, ["-h", "127.0.0.1", "-p", String(servePg!.port), "-U", "postgres", "-d", "blinker_dev", "-tAc", "SELECT count(*) FROM vehicles"]).then((r) => Number(r.stdout.trim()))).toBeGreaterThan(0);
      // The secret values were a file, not variables: the container's configured env does not hold them.
      const configured = (await docker(["inspect", "-f", "{{json .Config.Env}}", container])).stdout;
      for (const value of ["dev-app-password", "sandbox-password", "sandbox-token"]) expect(configured).not.toContain(value);
    } finally {
      await docker(["rm", "-f", container]).catch(() => undefined);
      await rm(secretDir, { recursive: true, force: true });
    }
  }, 900_000);
});

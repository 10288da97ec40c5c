/**
 * The example Rails app (test/fixtures/rails-api) run for real on this machine: real postgres and
 * redis from test/support/services.ts, the schema loaded with rake, a few spec files run with the
 * JUnit formatter, rubocop, and the pod entrypoint (bin/env -> script/entrypoint.rb).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startPostgres, startRedis, type PostgresService, type RunningService } from "../support/services.js";

const exec = promisify(execFile);
const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/rails-api");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the app; never throws on a non-zero exit (the test asserts the code). */
async function runInApp(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: APP, env, timeout, maxBuffer: 20 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? String(error) };
  }
}

interface JUnitSummary {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  files: Record<string, number>;
}

/** Just enough of rspec_junit_formatter's output for these assertions. */
function summarizeJUnit(xml: string): JUnitSummary {
  const suite = /<testsuite\b([^>]*)>/.exec(xml);
  if (!suite) throw new Error(`no <testsuite> in JUnit output:\n${xml.slice(0, 500)}`);
  const attr = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite[1])?.[1] ?? NaN);
  const files: Record<string, number> = {};
  for (const m of xml.matchAll(/<testcase\b[^>]*\bfile="([^"]+)"/g)) files[m[1]] = (files[m[1]] ?? 0) + 1;
  return { tests: attr("tests"), failures: attr("failures"), errors: attr("errors"), skipped: attr("skipped"), files };
}

describe("example Rails app (test/fixtures/rails-api)", () => {
  let postgres: PostgresService;
  let redis: RunningService;
  let tmp: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgres({ database: "blinker_test" }), startRedis()]);
    tmp = await mkdtemp(path.join(tmpdir(), "example-app-"));
    env = { ...process.env, RAILS_ENV: "test", DATABASE_URL: postgres.url, REDIS_URL: redis.url };
    // startPostgres does not create the database: db:schema:load needs db:create first.
    const load = await runInApp("bundle", ["exec", "rake", "db:create", "db:schema:load"], env);
    expect(load.code, load.stderr).toBe(0);
  });

  afterAll(async () => {
    await Promise.all([postgres?.stop(), redis?.stop(), tmp && rm(tmp, { recursive: true, force: true })]);
  });

  it("resolves its Gemfile.lock from the local (Debian) gems and names the bundler version last", async () => {
    const lock = await readFile(path.join(APP, "Gemfile.lock"), "utf8");
    expect(lock.trimEnd().split("\n").at(-1)?.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const check = await runInApp("bundle", ["check"], env);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("runs spec files against postgres and redis and reports them in JUnit", async () => {
    const out = path.join(tmp, "rspec.xml");
    const specs = [
      "spec/models/loan_spec.rb",
      "spec/services/rate_limiter_spec.rb",
      "spec/requests/health_spec.rb",
      // Example ids, as the shard planner splits the long file.
      "spec/integration/loan_portfolio_spec.rb[1:1,1:5]",
    ];
    const rspec = await runInApp(
      "bundle",
      ["exec", "rspec", "--format", "RspecJunitFormatter", "--out", out, "--format", "progress", ...specs],
      env,
    );
    expect(rspec.code, rspec.stdout + rspec.stderr).toBe(0);

    const junit = summarizeJUnit(await readFile(out, "utf8"));
    expect(junit).toMatchObject({ tests: 18, failures: 0, errors: 0, skipped: 0 });
    expect(junit.files).toEqual({
      "./spec/models/loan_spec.rb": 7,
      "./spec/services/rate_limiter_spec.rb": 6,
      "./spec/requests/health_spec.rb": 3,
      "./spec/integration/loan_portfolio_spec.rb": 2,
    });
  });

  it("reports a failing example as a failure with its file", async () => {
    // Outside the app's spec/ folder, so a concurrent full-suite run never picks it up.
    const failing = path.join(tmp, "failing_spec.rb");
    const out = path.join(tmp, "failing.xml");
    await writeFile(
      failing,
      'require "rails_helper"\nRSpec.describe "x" do\n  it("fails") { expect(Vehicle.count).to eq(1) }\nend\n',
    );
    try {
      const rspec = await runInApp("bundle", ["exec", "rspec", "--format", "RspecJunitFormatter", "--out", out, failing], env);
      expect(rspec.code).toBe(1);
      expect(summarizeJUnit(await readFile(out, "utf8"))).toMatchObject({ tests: 1, failures: 1 });
    } finally {
      await rm(failing, { force: true });
    }
  });

  it("passes rubocop", async () => {
    const rubocop = await runInApp("bundle", ["exec", "rubocop", "--no-parallel", "--format", "simple"], env);
    expect(rubocop.code, rubocop.stdout).toBe(0);
    expect(rubocop.stdout).toMatch(/no offenses detected/);
  });

  describe("bin/env", () => {
    const printVars = ["ruby", "-e", 'puts %w[GRAVITY_API_PASSWORD RATE_LIMIT_PER_MINUTE REDIS_URL].map { |k| "#{k}=#{ENV[k]}" }'];

    it("loads the decrypted env file and lets variables already set win", async () => {
      const decrypted = path.join(tmp, "dev.decrypted.env");
      await writeFile(
        decrypted,
        "# decrypted by the pipeline\nGRAVITY_API_PASSWORD=decrypted==value=\nRATE_LIMIT_PER_MINUTE=300\n\nREDIS_URL=redis://redis:6379/0\n",
      );
      const { REDIS_URL: _unset, ...base } = env;
      const result = await runInApp("bin/env", printVars, {
        ...base,
        VPC_NAME: "stage",
        DECRYPTED_ENV_FILE: decrypted,
        RATE_LIMIT_PER_MINUTE: "5", // the pod's override
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim().split("\n")).toEqual([
        "GRAVITY_API_PASSWORD=decrypted==value=", // split on the first "=" only
        "RATE_LIMIT_PER_MINUTE=5",
        "REDIS_URL=redis://redis:6379/0",
      ]);
    });

    it("refuses an env file that still holds kmscrypt tokens", async () => {
      const result = await runInApp("bin/env", printVars, { ...env, ENV_FILE: path.join(APP, "config/prod.env") });
      expect(result.code).toBe(64);
      expect(result.stderr).toMatch(/prod\.env holds kmscrypt:: tokens; .*DECRYPTED_ENV_FILE/);
    });

    it("reads the plaintext dev.env directly (a comment mentioning kmscrypt:: is not a token)", async () => {
      const { REDIS_URL: _unset, ...base } = env;
      const result = await runInApp("bin/env", printVars, { ...base, ENV_FILE: path.join(APP, "config/dev.env") });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("REDIS_URL=redis://redis:6379/0");
    });

    it("names the file and line of a malformed entry", async () => {
      const bad = path.join(tmp, "bad.env");
      await writeFile(bad, "GOOD=1\nthis line has no equals sign\n");
      const result = await runInApp("bin/env", printVars, { ...env, DECRYPTED_ENV_FILE: bad });
      expect(result.code).toBe(65);
      expect(result.stderr).toContain(`${bad}:2: expected KEY=value`);
    });

    it("starts the server flavour: creates and migrates the database, then serves /health", async () => {
      const port = await freePort();
      const decrypted = path.join(tmp, "server.env");
      const databaseUrl = postgres.adminUrl.replace(/\/postgres$/, "/blinker_pod");
      await writeFile(
        decrypted,
        [
          "RAILS_ENV=production",
          `DATABASE_URL=${databaseUrl}`,
          `REDIS_URL=${redis.url}`,
          "SECRET_KEY_BASE=test-only-secret-key-base",
          "SEED_ENVIRONMENT=integration",
        ].join("\n") + "\n",
      );
      const { RAILS_ENV: _r, DATABASE_URL: _d, REDIS_URL: _u, ...base } = env;
      const server = spawn("bin/env", [], {
        cwd: APP,
        env: { ...base, VPC_NAME: "dev", DECRYPTED_ENV_FILE: decrypted, PORT: String(port), BIND: "127.0.0.1" },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      server.stdout.on("data", (d) => (output += d));
      server.stderr.on("data", (d) => (output += d));
      try {
        const deadline = Date.now() + 60_000;
        let body: { status?: string; checks?: Record<string, string> } | undefined;
        while (Date.now() < deadline && server.exitCode === null) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/health`);
            body = (await res.json()) as typeof body;
            if (res.status === 200) break;
          } catch {
            /* not listening yet */
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(body, output).toEqual(expect.objectContaining({ status: "ok", checks: { database: "ok", redis: "ok" } }));
        expect(output).toContain("entrypoint: setting up the database");

        // Migrated and seeded by the entrypoint.
        const vehicles = await fetch(`http://127.0.0.1:${port}/vehicles`).then((r) => r.json() as Promise<{ vehicles: unknown[] }>);
        expect(vehicles.vehicles).toHaveLength(3);
      } finally {
        if (server.exitCode === null && server.pid) process.kill(-server.pid, "SIGTERM");
        await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once("exit", r)));
      }
    }, 90_000);
  });
});

describe("test/support/services.ts", () => {
  it("runs several independent postgres and redis instances at once, and stop() removes them", async () => {
    const started = await Promise.all([
      startPostgres({ database: "shard_a", createDatabase: true }),
      startPostgres({ database: "shard_b", createDatabase: true }),
      startRedis(),
      startRedis(),
    ]);
    const [pgA, pgB, redisA, redisB] = started;
    try {
      expect(new Set(started.map((s) => s.port)).size).toBe(4);
      const psql = "/usr/lib/postgresql/15/bin/psql";
      await exec(psql, [pgA.url, "-qc", "CREATE TABLE only_in_a (id int)"]);
      const { stdout } = await exec(psql, [pgB.url, "-tAc", "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"]);
      expect(stdout.trim()).toBe("0");

      await exec("redis-cli", ["-u", redisA.url, "set", "k", "a"]);
      const { stdout: inB } = await exec("redis-cli", ["-u", redisB.url, "exists", "k"]);
      expect(inB.trim()).toBe("0");
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
    const refused = await exec("/usr/lib/postgresql/15/bin/pg_isready", ["-h", "127.0.0.1", "-p", String(pgA.port)]).catch(
      (e: { code: number }) => e.code,
    );
    expect(refused).toBe(2); // pg_isready: 2 = no response
  });
});

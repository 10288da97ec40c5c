/**
 * The pipeline module's functions, called with the `dagger` CLI on a real Dagger engine, on the
 * bundled example app: what the README's "Verified on a real engine" table reports. Run with
 * `npm run test:engine` (see support/global-setup.ts for what it needs). Each call is recorded with
 * its wall time in the results file (support/dagger-cli.ts).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dagger, daggerInBackground, record, tail } from "./support/dagger-cli.js";

const OUT = mkdtempSync(path.join(tmpdir(), "engine-calls-"));
const SHA = "0123456789abcdef0123456789abcdef01234567";

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
    const dest = path.join(OUT, "test_results");
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
});

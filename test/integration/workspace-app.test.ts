/**
 * The mission's commands as typed, in a user's own application repository: a scratch repository
 * made of the example app's files, set up with the documented command (`dagger init
 * --blueprint=<this module>`: the dagger.json it writes), `git init` and a commit. Read and invoked
 * the way Dagger 0.21 loads such a project (test/support/workspace.ts: the engine's rules, the
 * SDK's introspector and invocation path), with no `-m` and no `--source`:
 *   dagger call test --shards 8
 *   dagger call deploy --env dev        (the commit and branch are the checkout's)
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/introspect.js";
import { introspectWorkspace, invokeInWorkspace, loadWorkspace, resolveDefaultPath } from "../support/workspace.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const tmp = mkdtempSync(path.join(os.tmpdir(), "workspace-app-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "dev", GIT_AUTHOR_EMAIL: "dev@example.com", GIT_COMMITTER_NAME: "dev", GIT_COMMITTER_EMAIL: "dev@example.com", GIT_CONFIG_NOSYSTEM: "1", HOME: tmp };
const git = (dir: string, ...args: string[]) => execFileSync("git", args, { cwd: dir, env: gitEnv, encoding: "utf8" }).trim();

/**
 * The dagger.json `dagger init --blueprint=<module dir>` writes in `appDir` (cmd/dagger/module.go
 * moduleInitCmd: name = the folder's name, engineVersion = the CLI's; core/schema/modulesource.go:
 * blueprint = the module's name and, for a local module, its path relative to the app).
 */
function initBlueprintConfig(appDir: string, moduleRoot: string): string {
  const moduleName = JSON.parse(readFileSync(path.join(moduleRoot, "dagger.json"), "utf8")).name as string;
  const config = { name: path.basename(appDir), engineVersion: "v0.21.9", blueprint: { name: moduleName, source: path.relative(appDir, moduleRoot) } };
  return JSON.stringify(config, null, 2) + "\n";
}

/** The example app's files in a fresh repository of its own, set up as the README says. */
function scratchApp(name: string, opts: { subdir?: string } = {}): { repo: string; app: string; sha: string } {
  const repo = path.join(tmp, name);
  const app = opts.subdir ? path.join(repo, opts.subdir) : repo;
  mkdirSync(app, { recursive: true });
  cpSync(FIXTURE, app, { recursive: true, filter: (src) => path.relative(FIXTURE, src) !== "dagger.json" && !/^(tmp|log)\/./.test(path.relative(FIXTURE, src)) });
  writeFileSync(path.join(app, "dagger.json"), initBlueprintConfig(app, REPO_ROOT)); // dagger init --blueprint=<path to this module>
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "the app, set up with dagger init --blueprint");
  return { repo, app, sha: git(repo, "rev-parse", "HEAD") };
}

let app: { repo: string; app: string; sha: string };
beforeAll(() => {
  app = scratchApp("my-rails-api");
});

describe("the set-up: what dagger init --blueprint writes, and what dagger call then loads", () => {
  it("the bundled example app is set up exactly as a user's repository: its dagger.json is what dagger init --blueprint=../../.. writes", () => {
    expect(readFileSync(path.join(FIXTURE, "dagger.json"), "utf8")).toBe(initBlueprintConfig(FIXTURE, REPO_ROOT));
    expect(JSON.parse(readFileSync(path.join(FIXTURE, "dagger.json"), "utf8")).blueprint).toEqual({ name: "pipeline", source: "../../.." });
  });

  it("in the scratch repository, the pipeline module is the entrypoint and both default paths are the user's project", () => {
    const ws = loadWorkspace(app.app);
    expect(ws).toMatchObject({ root: app.repo, path: ".", blueprint: { name: "pipeline", moduleRoot: REPO_ROOT, sourceDir: path.join(REPO_ROOT, "modules/pipeline") } });
    expect(resolveDefaultPath(ws, ".")).toBe(app.app);
    expect(resolveDefaultPath(ws, "/")).toBe(app.repo);
  });

  it("the bundled example app: --source is the app's folder, --checkout this repository's root (its git checkout)", () => {
    const ws = loadWorkspace(FIXTURE);
    expect(ws).toMatchObject({ root: REPO_ROOT, path: "test/fixtures/rails-api", blueprint: { moduleRoot: REPO_ROOT } });
    expect(resolveDefaultPath(ws, ".")).toBe(FIXTURE);
    expect(resolveDefaultPath(ws, "/")).toBe(REPO_ROOT);
  });
});

describe("the introspected top level offers the mission's commands with no -m and no --source", () => {
  it("test --shards (integer, default: pipeline.json test.shards) and deploy --env (an enum), every application argument defaulted from the project", async () => {
    const mod = await introspectWorkspace(app.app);
    const fns = mod.objects.Pipeline!.methods;
    expect(fns.test!.arguments.shards).toMatchObject({ type: { kind: "INTEGER_KIND" }, isOptional: true });
    expect(fns.deploy!.arguments.env).toMatchObject({ type: { kind: "ENUM_KIND", name: "Environment" } });
    for (const [name, f] of Object.entries(fns)) {
      for (const [argName, a] of Object.entries(f.arguments)) {
        if (a.type.kind !== "OBJECT_KIND" || a.type.name !== "Directory") continue;
        // A Directory argument without a default path would have to be typed (--source .): only
        // check-tests --report and merge-timings --nodes, which name CI folders, and test --previous,
        // the earlier report read only with --only-failures, are like that.
        if (!a.defaultPath) expect(`${name} --${argName}`).toMatch(/^(checkTests --report|mergeTimings --nodes|test --previous)$/);
        else expect(a.defaultPath, `${name} --${argName}`).toMatch(/^(\.|\/)$/);
      }
    }
  });
});

describe("invoked through the SDK's real invocation path", () => {
  it("dagger call deploy --env dev --dry-run: the checkout's commit and branch, the project's files", async () => {
    const run = await invokeInWorkspace(app.app, "deploy", { env: "dev", dryRun: true });
    expect(run.contextual.source!.hostPath).toBe(app.app);
    expect(run.contextual.checkout!.hostPath).toBe(app.repo);
    expect(run.ran).toHaveLength(1); // the checkout was read once, in a git container
    expect(run.result).toMatch(new RegExp(`^ref +branch main @ ${app.sha}$`, "m"));
    expect(run.result).toMatch(/^environment +dev$/m);
    expect(run.result).toContain(`rails-api:${app.sha}`); // the dev app image is tagged with that commit
  });

  it("dagger call deploy --env dev on a checkout with uncommitted changes: refused before anything runs, naming the files", async () => {
    const dirty = scratchApp("dirty-app");
    writeFileSync(path.join(dirty.app, "app/models/loan.rb"), readFileSync(path.join(dirty.app, "app/models/loan.rb"), "utf8") + "\n# wip\n");
    writeFileSync(path.join(dirty.app, "scratch.rb"), "puts 1\n");
    const attempt = invokeInWorkspace(dirty.app, "deploy", { env: "dev" });
    await expect(attempt).rejects.toThrow(/\[CHECKOUT_DIRTY\] deploy would deploy uncommitted changes as commit [0-9a-f]{12}: M app\/models\/loan\.rb, \?\? scratch\.rb/);
    await expect(attempt).rejects.toThrow("--allow-dirty");
  });

  it("dagger call deploy --env dev --allow-dirty --dry-run still resolves the commit (the dry run never refuses)", async () => {
    const dirty = scratchApp("dirty-dry");
    writeFileSync(path.join(dirty.app, "notes.txt"), "x\n");
    const run = await invokeInWorkspace(dirty.app, "deploy", { env: "dev", dryRun: true });
    expect(run.result).toMatch(new RegExp(`^ref +branch main @ ${dirty.sha}$`, "m"));
  });

  it("dagger call plan in an app living in a subfolder of its repository (a monorepo): the app's files, the repository's commit", async () => {
    const mono = scratchApp("monorepo", { subdir: "apps/api" });
    git(mono.repo, "switch", "-q", "-c", "da/develop");
    const run = await invokeInWorkspace(mono.app, "plan", {});
    expect(run.contextual.source!.hostPath).toBe(mono.app);
    expect(run.contextual.checkout!.hostPath).toBe(mono.repo);
    expect(run.result).toMatch(new RegExp(`^ref +branch da/develop @ ${mono.sha}$`, "m"));
    expect(run.result).toMatch(/^environment +dev$/m);
  });

  it("dagger call test --shards 8: plans the project's own spec files into 8 shards", async () => {
    const run = await invokeInWorkspace(app.app, "test", { shards: 8 });
    const specs = execFileSync("git", ["ls-files", "spec/*_spec.rb", "spec/**/*_spec.rb"], { cwd: app.app, encoding: "utf8" }).trim().split("\n");
    expect(specs.length).toBeGreaterThan(5);
    const planFile = run.queries.map((q) => /withNewFile\s*\(\s*path:\s*"plan\.json",\s*contents:\s*("(?:[^"\\]|\\.)*")/.exec(q)?.[1]).find(Boolean);
    expect(planFile, "the report's plan.json").toBeDefined();
    const plan = JSON.parse(JSON.parse(planFile!)) as { shardCount: number; shards: Array<{ units: string[] }> };
    expect(plan.shardCount).toBe(8);
    const planned = new Set(plan.shards.flatMap((s) => s.units.map((u) => u.replace(/\[.*$/, ""))));
    expect([...planned].sort()).toEqual([...new Set(specs)].sort());
    expect(run.queries.filter((q) => q.includes('"bash", "/pipeline/run-shard.sh"') || q.replace(/\s+/g, "").includes('["bash","/pipeline/run-shard.sh"]')).length).toBeGreaterThanOrEqual(8);
  });

  it("without a git checkout (no .git anywhere above), deploy --env dev says what to pass", async () => {
    const bare = path.join(tmp, "no-git-app");
    cpSync(FIXTURE, bare, { recursive: true, filter: (src) => path.relative(FIXTURE, src) !== "dagger.json" });
    writeFileSync(path.join(bare, "dagger.json"), initBlueprintConfig(bare, REPO_ROOT));
    await expect(invokeInWorkspace(bare, "deploy", { env: "dev", dryRun: true })).rejects.toThrow(/\[CHECKOUT_UNREADABLE\] --sha was not given and the project has no \.git directory/);
  });
});

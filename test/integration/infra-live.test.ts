/**
 * The infrastructure-live write-back against REAL git: a local bare repository seeded from the shared
 * terragrunt samples, laid out like infrastructure-live (`<env>/us-west-2/<env>/apps/<unit>`).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig, type PipelineConfig } from "../../modules/pipeline/src/lib/config.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { formatHclString, getHclAttribute } from "../../modules/pipeline/src/lib/hcl.js";
import {
  planFeatureDeploy,
  planFeatureTeardown,
  planInfraChange,
  type EnvironmentInfraPlan,
  type InfraChangePlan,
} from "../../modules/pipeline/src/lib/infra-live-changes.js";
import { parseGitRef, resolveEnvironment } from "../../modules/pipeline/src/lib/refs.js";
import { gitAuthConfig } from "../../modules/pipeline/src/infra/git-auth.js";
import { createLocalWorkspace, type LocalWorkspaceOptions } from "../../modules/pipeline/src/infra/local-workspace.js";
import { applyInfraWriteBack, defaultBackoffMs, formatWriteBackReport, isRaceRejection, isUpToDate, type WriteBackOptions } from "../../modules/pipeline/src/infra/write-back.js";
import type { Workspace } from "../../modules/pipeline/src/infra/workspace.js";
import { jsonDiffPaths, parseHcl } from "../support/hcl-parse.js";

const SAMPLES = "/work/shared/data/terragrunt";
const TMP = mkdtempSync(path.join(tmpdir(), "infra-live-it-"));
const BARE = path.join(TMP, "origin.git");
const SEED = path.join(TMP, "seed");
const REPO_URL = `file://${BARE}`;
const SHA = (n: number) => n.toString(16).padStart(40, "a");

/** Sample file -> unit, with `image_version = "initial"` put where a real unit keeps it. */
const UNIT_SOURCES: Record<string, string> = {
  clockwork: "gruntwork_dry_stage_backend_terragrunt.hcl",
  sidekiq: "gruntwork_dry_prod_frontend_terragrunt.hcl",
  "rails-api": "gruntwork_dry_prod_backend_terragrunt_2021-04-27_noTrailingNewline.hcl",
};

/**
 * A unit as real infrastructure-live repos have them, in bytes: `mock_outputs` with numeric keys (ALB
 * listeners by port, the shape of terragrunt's mock_outputs docs and public units) and comments saved
 * as Latin-1 by an editor (0xF3 = ó, 0xE9 = é: not UTF-8). HCL accepts any byte inside a comment.
 */
const LATIN1_UNIT = "dev/us-west-2/dev/apps/latin1/terragrunt.hcl";
const LATIN1_BYTES = Buffer.concat([
  Buffer.from("# Configuraci", "latin1"),
  Buffer.from([0xf3]),
  Buffer.from("n del servicio\ninclude \"root\" {\n  path = find_in_parent_folders()\n}\n\ndependency \"alb\" {\n  config_path = \"../alb\"\n  mock_outputs = {\n    listener_arns = {\n      80  = \"arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/mock/80\"\n      443 = \"arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/mock/443\"\n    }\n  }\n}\n\ninputs = {\n  image_version = \"initial\" # versi", "latin1"),
  Buffer.from([0xf3]),
  Buffer.from("n fijada por CI, caf", "latin1"),
  Buffer.from([0xe9]),
  Buffer.from("\n  listener_arn  = dependency.alb.outputs.listener_arns[443]\n}\n", "latin1"),
]);

function withImageVersion(text: string): string {
  const m = /^inputs\s*=\s*\{\n/m.exec(text)!;
  return `${text.slice(0, m.index + m[0].length)}  image_version        = "initial" # set by CI\n${text.slice(m.index + m[0].length)}`;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** A file's bytes at the tip of the bare repository's main branch. */
function remoteBytes(file: string): Buffer {
  return execFileSync("git", ["show", `main:${file}`], { cwd: BARE, stdio: ["ignore", "pipe", "pipe"] });
}

/** A file's content at the tip of the bare repository's main branch, or null. */
function remoteFile(file: string): string | null {
  try {
    return execFileSync("git", ["show", `main:${file}`], { cwd: BARE, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return null;
  }
}

const remoteHead = () => git(BARE, "rev-parse", "main");
const remoteLog = (n = 50) => git(BARE, "log", "--format=%an <%ae>|%cn <%ce>|%s", `-${n}`, "main").split("\n");

function config(overrides: object = {}): PipelineConfig {
  return parseConfig({ infraLive: { repoUrl: REPO_URL, branch: "main" }, ...overrides });
}

function envPlan(env: string, tag: string, cfg = config()): EnvironmentInfraPlan {
  const ref = env === "prod" ? parseGitRef({ tag: `release-${tag}`, sha: SHA(1) }) : parseGitRef({ branch: "x", sha: tag });
  const plan = planInfraChange(resolveEnvironment(env, ref, cfg), cfg);
  if (plan.kind !== "environment") throw new Error("expected an environment plan");
  return plan;
}

const fast: WriteBackOptions = { backoffMs: () => Math.floor(Math.random() * 20), maxAttempts: 10 };

async function workspace(options: LocalWorkspaceOptions = {}): Promise<Workspace> {
  return createLocalWorkspace(path.join(TMP, "work"), options);
}

async function writeBack(plan: InfraChangePlan, options: WriteBackOptions = {}, ws?: Workspace) {
  return applyInfraWriteBack(ws ?? (await workspace()), plan, { ...fast, ...options });
}

/** Wrap a workspace so its first `git push` waits until `n` workspaces reached theirs: a forced race. */
function pushBarrier(n: number): (ws: Workspace) => Workspace {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return (ws) => {
    let first = true;
    return {
      run: async (cmd, opts) => {
        if (first && cmd.includes("push")) {
          first = false;
          if (++arrived === n) release();
          await all;
        }
        return ws.run(cmd, opts);
      },
      readFile: (p) => ws.readFile(p),
      writeFile: (p, t) => ws.writeFile(p, t),
      removeTree: (p) => ws.removeTree(p),
    };
  };
}

/**
 * Wrap `n` workspaces so that their first `git push` waits until all `n` reached it, then runs one at a
 * time, each after the previous one finished: later pushes see the remote the earlier ones left.
 */
function pushesInTurn(n: number): (ws: Workspace) => Workspace {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  let turn = all;
  return (ws) => {
    let first = true;
    return {
      run: async (cmd, opts) => {
        if (!(first && cmd.includes("push"))) return ws.run(cmd, opts);
        first = false;
        if (++arrived === n) release();
        const mine = turn.then(() => ws.run(cmd, opts));
        turn = mine.then(() => undefined);
        return mine;
      },
      readFile: (p) => ws.readFile(p),
      writeFile: (p, t) => ws.writeFile(p, t),
      removeTree: (p) => ws.removeTree(p),
    };
  };
}

beforeAll(() => {
  git(TMP, "init", "--quiet", "--bare", "--initial-branch=main", BARE);
  mkdirSync(SEED);
  for (const env of ["dev", "stage", "prod"]) {
    for (const [unit, sample] of Object.entries(UNIT_SOURCES)) {
      const dir = path.join(SEED, env, "us-west-2", env, "apps", unit);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "terragrunt.hcl"), withImageVersion(readFileSync(path.join(SAMPLES, sample), "utf8")));
    }
  }
  mkdirSync(path.join(SEED, path.dirname(LATIN1_UNIT)), { recursive: true });
  writeFileSync(path.join(SEED, LATIN1_UNIT), LATIN1_BYTES);
  const broken = path.join(SEED, "dev/us-west-2/dev/apps/broken");
  mkdirSync(broken, { recursive: true });
  writeFileSync(path.join(broken, "terragrunt.hcl"), 'inputs = {\n  image_version = "initial"\n  name = "unterminated\n}\n');
  mkdirSync(path.join(SEED, "dev/us-west-2/dev/apps/features"), { recursive: true });
  writeFileSync(path.join(SEED, "dev/us-west-2/dev/apps/features/README.md"), "Feature environments are generated here by CI.\n");
  writeFileSync(path.join(SEED, "terragrunt.hcl"), readFileSync(path.join(SAMPLES, "pagopa_root_terragrunt.hcl")));
  git(SEED, "init", "--quiet", "--initial-branch=main");
  git(SEED, "add", ".");
  git(SEED, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "-m", "seed infrastructure-live");
  git(SEED, "push", "--quiet", BARE, "main");
});

afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
});

describe("environment deploys", () => {
  it("one deploy: edits the three units in ONE commit with the configured author and message, and pushes", async () => {
    const before = remoteHead();
    const plan = envPlan("dev", SHA(10));
    const originals = Object.fromEntries(plan.edits.map((e) => [e.file, remoteFile(e.file)!]));
    const report = await writeBack(plan);

    expect(report).toMatchObject({ committed: true, attempts: 1, baseSha: before, unchanged: [] });
    expect(report.commitSha).toBe(remoteHead());
    expect(report.changes).toEqual(
      ["clockwork", "sidekiq", "rails-api"].map((unit) => ({
        file: `dev/us-west-2/dev/apps/${unit}/terragrunt.hcl`,
        unit,
        action: "edited",
        attribute: "image_version",
        previous: '"initial"',
        value: `"${SHA(10)}"`,
      })),
    );
    expect(git(BARE, "rev-parse", "main~1")).toBe(before);
    expect(remoteLog(1)).toEqual([`BlinkerCI <blinkerci@blinker.com>|BlinkerCI <blinkerci@blinker.com>|Deploy rails-api ${SHA(10)} to dev [ci skip]`]);
    expect(git(BARE, "diff", "--name-only", "main~1", "main").split("\n").sort()).toEqual(Object.keys(originals).sort());
    for (const [file, original] of Object.entries(originals)) {
      const now = remoteFile(file)!;
      expect(now).toBe(original.replace('"initial"', `"${SHA(10)}"`));
      expect(jsonDiffPaths(await parseHcl(original), await parseHcl(now))).toEqual(["inputs.image_version"]);
    }
    expect(formatWriteBackReport(report)).toBe(
      [
        `infrastructure-live ${REPO_URL} (main): pushed ${report.commitSha!.slice(0, 12)} "Deploy rails-api ${SHA(10)} to dev [ci skip]" after 1 attempt`,
        ...["clockwork", "sidekiq", "rails-api"].map((u) => `  edited dev/us-west-2/dev/apps/${u}/terragrunt.hcl image_version: "initial" -> "${SHA(10)}"`),
      ].join("\n"),
    );
    // The sample without a final newline still has none.
    expect(remoteFile("dev/us-west-2/dev/apps/rails-api/terragrunt.hcl")!.endsWith("}")).toBe(true);
  });

  it("a second deploy with the same tag makes no commit", async () => {
    const before = remoteHead();
    const report = await writeBack(envPlan("dev", SHA(10)));
    expect(report).toMatchObject({ committed: false, commitSha: null, attempts: 0, changes: [] });
    expect(report.unchanged).toHaveLength(3);
    expect(remoteHead()).toBe(before);
  });

  it("a missing unit path fails before anything is pushed, naming the path and the config key", async () => {
    const before = remoteHead();
    const cfg = config({
      environments: {
        dev: { infraLive: { units: [{ name: "rails-api", path: "dev/us-west-2/dev/apps/rails-api" }, { name: "ghost", path: "dev/us-west-2/dev/apps/ghost" }] } },
      },
    });
    const err = await writeBack(envPlan("dev", SHA(11), cfg)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).message).toContain("dev/us-west-2/dev/apps/ghost/terragrunt.hcl does not exist");
    expect((err as PipelineError).message).toContain("nothing was pushed");
    expect((err as PipelineError).hint ?? (err as PipelineError).message).toContain("environments.dev.infraLive.units");
    expect(remoteHead()).toBe(before);
  });

  it("an HCL file that does not tokenize fails with file:line before anything is pushed", async () => {
    const before = remoteHead();
    const cfg = config({
      environments: {
        dev: { infraLive: { units: [{ name: "rails-api", path: "dev/us-west-2/dev/apps/rails-api" }, { name: "broken", path: "dev/us-west-2/dev/apps/broken" }] } },
      },
    });
    await expect(writeBack(envPlan("dev", SHA(12), cfg))).rejects.toThrowError(/HCL_INVALID[\s\S]*dev\/us-west-2\/dev\/apps\/broken\/terragrunt\.hcl:3: unterminated string/);
    expect(remoteHead()).toBe(before);
  });

  it("a unit without the attribute fails with HCL_ATTRIBUTE_MISSING and the fix", async () => {
    const cfg = config({ infraLive: { repoUrl: REPO_URL, variableName: "app_version" } });
    await expect(writeBack(envPlan("stage", SHA(13), cfg))).rejects.toThrowError(/HCL_ATTRIBUTE_MISSING[\s\S]*stage\/us-west-2\/stage\/apps\/clockwork\/terragrunt.hcl[\s\S]*app_version = ""/);
  });

  it("a unit with a Latin-1 comment and numeric mock_outputs keys: only the value's bytes change", async () => {
    const cfg = config({ environments: { dev: { infraLive: { units: [{ name: "latin1", path: path.dirname(LATIN1_UNIT) }] } } } });
    const report = await writeBack(envPlan("dev", SHA(15), cfg));
    expect(report).toMatchObject({ committed: true, changes: [{ file: LATIN1_UNIT, previous: '"initial"', value: `"${SHA(15)}"` }] });
    const at = LATIN1_BYTES.indexOf('"initial"');
    const expected = Buffer.concat([LATIN1_BYTES.subarray(0, at), Buffer.from(`"${SHA(15)}"`), LATIN1_BYTES.subarray(at + '"initial"'.length)]);
    // Before the fix the file was decoded as UTF-8: each Latin-1 byte came back as EF BF BD (U+FFFD).
    expect(remoteBytes(LATIN1_UNIT).equals(expected)).toBe(true);
    expect(remoteBytes(LATIN1_UNIT).includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(false);
  });

  it("a clone of a branch that does not exist is a GIT_FAILED naming the branch", async () => {
    const cfg = config({ infraLive: { repoUrl: REPO_URL, branch: "nope" } });
    await expect(writeBack(envPlan("dev", SHA(14), cfg))).rejects.toThrowError(/GIT_FAILED[\s\S]*clone .* branch nope[\s\S]*infraLive.branch/);
  });
});

describe("racing deploys", () => {
  it("4 write-backs of different units and environments pushing at the same moment all land", async () => {
    const before = remoteHead();
    const dev = envPlan("dev", SHA(20));
    const single = (unit: string, tag: string): EnvironmentInfraPlan => {
      const p = envPlan("dev", tag);
      return { ...p, commitMessage: `Deploy ${unit} ${tag}`, edits: p.edits.filter((e) => e.unit === unit) };
    };
    const plans = [single("clockwork", SHA(21)), single("sidekiq", SHA(22)), single("rails-api", SHA(23)), envPlan("stage", SHA(24))];
    expect(dev.edits).toHaveLength(3);
    const barrier = pushBarrier(plans.length);
    const reports = await Promise.all(plans.map(async (p) => writeBack(p, {}, barrier(await workspace()))));

    expect(reports.every((r) => r.committed)).toBe(true);
    // Exactly one push can win each round: the others were rejected and retried.
    expect(reports.reduce((n, r) => n + r.attempts, 0)).toBeGreaterThanOrEqual(plans.length + 3);
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("4");
    expect(remoteLog(4).map((l) => l.split("|")[2]).sort()).toEqual(plans.map((p) => p.commitMessage).sort());
    const value = (file: string) => getHclAttribute(remoteFile(file)!, { name: "image_version", file })!.value;
    expect(value("dev/us-west-2/dev/apps/clockwork/terragrunt.hcl")).toBe(formatHclString(SHA(21)));
    expect(value("dev/us-west-2/dev/apps/sidekiq/terragrunt.hcl")).toBe(formatHclString(SHA(22)));
    expect(value("dev/us-west-2/dev/apps/rails-api/terragrunt.hcl")).toBe(formatHclString(SHA(23)));
    for (const unit of ["clockwork", "sidekiq", "rails-api"]) expect(value(`stage/us-west-2/stage/apps/${unit}/terragrunt.hcl`)).toBe(formatHclString(SHA(24)));
    // History is linear: every commit has one parent (no merges), each based on the previous one.
    expect(git(BARE, "rev-list", "--merges", `${before}..main`)).toBe("");
  });

  it("dev, stage, prod and a feature deploy racing without a barrier all land", async () => {
    const before = remoteHead();
    const cfg = config();
    const plans: InfraChangePlan[] = [envPlan("dev", SHA(30)), envPlan("stage", SHA(31)), envPlan("prod", "v9.9.9"), planFeatureDeploy("race", "feat-race-abcdef0", cfg)];
    const reports = await Promise.all(plans.map((p) => writeBack(p)));
    expect(reports.map((r) => r.committed)).toEqual([true, true, true, true]);
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("4");
    expect(remoteFile("prod/us-west-2/prod/apps/sidekiq/terragrunt.hcl")).toContain('image_version        = "v9.9.9"');
    expect(remoteFile("dev/us-west-2/dev/apps/features/race/api/terragrunt.hcl")).toContain('"feat-race-abcdef0"');
    await writeBack(planFeatureTeardown("race", cfg));
  });

  it("16 write-backs of the same environment pushing at once, with the default attempts and backoff: all land", async () => {
    const before = remoteHead();
    const plans = Array.from({ length: 16 }, (_, i) => {
      const p = envPlan("stage", SHA(100 + i));
      return { ...p, commitMessage: `Deploy ${SHA(100 + i)} to stage` };
    });
    const barrier = pushBarrier(plans.length);
    // Real sleeps and the default backoff and attempts: only the workspace is wrapped (to start the race).
    const results = await Promise.allSettled(plans.map(async (p) => applyInfraWriteBack(barrier(await workspace()), p)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => String(r.reason.message).split("\n")[0]);
    expect(failed).toEqual([]);
    const reports = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof applyInfraWriteBack>>>).value);
    expect(reports.every((r) => r.committed)).toBe(true);
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("16");
    expect(git(BARE, "rev-list", "--merges", `${before}..main`)).toBe("");
    // The last push to land set every stage unit.
    const last = remoteLog(1)[0]!.split("|")[2]!.replace(/^Deploy (\w+) to stage$/, "$1");
    for (const unit of ["clockwork", "sidekiq", "rails-api"]) {
      expect(getHclAttribute(remoteFile(`stage/us-west-2/stage/apps/${unit}/terragrunt.hcl`)!, { name: "image_version", file: unit })!.value).toBe(`"${last}"`);
    }
  }, 240_000);

  it("a write-back whose change another writer pushed first reports who set it, and makes no commit", async () => {
    const before = remoteHead();
    const barrier = pushBarrier(4);
    const plan = envPlan("prod", "v7.7.7");
    const reports = await Promise.all(Array.from({ length: 4 }, async () => writeBack(plan, {}, barrier(await workspace()))));
    const winners = reports.filter((r) => r.committed);
    expect(winners).toHaveLength(1);
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
    for (const r of reports.filter((x) => !x.committed)) {
      expect(r.alreadySetBy).toEqual({ sha: winners[0]!.commitSha, subject: plan.commitMessage });
      expect(r.attempts).toBe(1);
      expect(formatWriteBackReport(r)).toContain(`already set by ${winners[0]!.commitSha!.slice(0, 12)} "${plan.commitMessage}"`);
      expect(formatWriteBackReport(r)).not.toContain("pushed");
    }
    // A later write-back with the same value was never in a race: no setter to name.
    const again = await writeBack(plan);
    expect(again).toMatchObject({ committed: false, alreadySetBy: null });
  });

  it("writers that make the very same commit (same second): one pushes it, the others report it as already set", async () => {
    const before = remoteHead();
    const barrier = pushesInTurn(3);
    // The same tree, parent, author, message and date give the same commit sha in every workspace.
    const sameSecond = (ws: Workspace): Workspace => ({
      ...ws,
      run: (cmd, opts) => ws.run(cmd, cmd.includes("commit") ? { env: { ...opts?.env, GIT_AUTHOR_DATE: "2024-05-01T12:00:00Z", GIT_COMMITTER_DATE: "2024-05-01T12:00:00Z" } } : opts),
      readFile: (p) => ws.readFile(p),
      writeFile: (p, t) => ws.writeFile(p, t),
      removeTree: (p) => ws.removeTree(p),
    });
    const plan = envPlan("prod", "v8.8.8");
    const reports = await Promise.all(Array.from({ length: 3 }, async () => writeBack(plan, {}, barrier(sameSecond(await workspace())))));
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
    const sha = remoteHead();
    expect(reports.filter((r) => r.committed).map((r) => r.commitSha)).toEqual([sha]);
    for (const r of reports.filter((x) => !x.committed)) {
      expect(r).toMatchObject({ alreadySetBy: { sha, subject: plan.commitMessage }, attempts: 1, changes: [] });
      expect(formatWriteBackReport(r)).toContain(`already set by ${sha.slice(0, 12)}`);
    }
  });

  it("gives up with GIT_PUSH_CONFLICT after the configured attempts, having pushed nothing of its own", async () => {
    const before = remoteHead();
    const barrier = pushBarrier(2);
    const results = await Promise.allSettled([
      writeBack(envPlan("dev", SHA(40)), { maxAttempts: 1 }, barrier(await workspace())),
      writeBack(envPlan("stage", SHA(41)), { maxAttempts: 1 }, barrier(await workspace())),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason.message).toMatch(/GIT_PUSH_CONFLICT[\s\S]*rejected 1 times[\s\S]*nothing was pushed/);
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
  });

  it("a push refused by a hook is not retried: GIT_FAILED at once", async () => {
    const hook = path.join(BARE, "hooks", "pre-receive");
    writeFileSync(hook, "#!/bin/sh\necho 'branch is frozen' >&2\nexit 1\n");
    chmodSync(hook, 0o755);
    const sleeps: number[] = [];
    try {
      await expect(writeBack(envPlan("dev", SHA(50)), { sleep: async (ms) => void sleeps.push(ms) })).rejects.toThrowError(/GIT_FAILED[\s\S]*push[\s\S]*branch is frozen/);
      expect(sleeps).toEqual([]);
    } finally {
      rmSync(hook);
    }
  });
});

describe("feature environments", () => {
  const cfg = () => config();

  it("deploy generates every unit in one commit; redeploy with the same tag makes none; a new tag rewrites the app units", async () => {
    const before = remoteHead();
    const plan = planFeatureDeploy("new-loan-flow", "feat-new-loan-flow-a1b2c3d", cfg());
    const report = await writeBack(plan);
    expect(report.committed).toBe(true);
    expect(report.changes.map((c) => [c.unit, c.action])).toEqual(plan.files.map((f) => [f.unit, "created"]));
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
    expect(remoteLog(1)[0]).toBe("BlinkerCI <blinkerci@blinker.com>|BlinkerCI <blinkerci@blinker.com>|Deploy feature env 'new-loan-flow' with tag 'feat-new-loan-flow-a1b2c3d' [ci skip]");
    for (const f of plan.files) {
      expect(remoteFile(f.file)).toBe(f.text);
      await expect(parseHcl(remoteFile(f.file)!)).resolves.toHaveProperty("inputs");
    }

    const same = await writeBack(planFeatureDeploy("new-loan-flow", "feat-new-loan-flow-a1b2c3d", cfg()));
    expect(same).toMatchObject({ committed: false, changes: [] });
    expect(same.unchanged).toHaveLength(6);

    const next = await writeBack(planFeatureDeploy("new-loan-flow", "feat-new-loan-flow-9999999", cfg()));
    expect(next.committed).toBe(true);
    expect(next.changes).toEqual(
      ["api", "clockwork", "sidekiq"].map((unit) => ({
        file: `dev/us-west-2/dev/apps/features/new-loan-flow/${unit}/terragrunt.hcl`,
        unit,
        action: "rewritten",
        attribute: "image_version",
        previous: '"feat-new-loan-flow-a1b2c3d"',
        value: '"feat-new-loan-flow-9999999"',
      })),
    );
  });

  it("a unit dropped from the config is removed on the next deploy", async () => {
    const fewer = parseConfig({
      infraLive: { repoUrl: REPO_URL },
      feature: { units: DEFAULT_CONFIG.feature.units.filter((u) => u.name !== "pgadmin") },
    });
    const report = await writeBack(planFeatureDeploy("new-loan-flow", "feat-new-loan-flow-9999999", fewer));
    expect(report.changes).toEqual([{ file: "dev/us-west-2/dev/apps/features/new-loan-flow/pgadmin/terragrunt.hcl", unit: "pgadmin", action: "removed" }]);
    expect(remoteFile("dev/us-west-2/dev/apps/features/new-loan-flow/pgadmin/terragrunt.hcl")).toBeNull();
  });

  it("teardown removes the folder in one commit; running it twice succeeds without a commit", async () => {
    const before = remoteHead();
    const first = await writeBack(planFeatureTeardown("new-loan-flow", cfg()));
    expect(first.committed).toBe(true);
    expect(first.changes.map((c) => `${c.action} ${c.unit}`)).toEqual(["removed api", "removed clockwork", "removed postgres", "removed redis", "removed sidekiq"]);
    expect(remoteLog(1)[0]).toContain("|Tear down feature env 'new-loan-flow' [ci skip]");
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
    expect(git(BARE, "ls-tree", "--name-only", "main", "dev/us-west-2/dev/apps/features/")).toBe("dev/us-west-2/dev/apps/features/README.md");

    const second = await writeBack(planFeatureTeardown("new-loan-flow", cfg()));
    expect(second).toMatchObject({ committed: false, changes: [] });
    expect(git(BARE, "rev-list", "--count", `${before}..main`)).toBe("1");
  });
});

describe("authentication", () => {
  const TOKEN = "ghs_s3cr3t-token-value";
  let server: Server;
  let url: string;
  const seen: string[] = [];

  /** git smart HTTP through `git http-backend`, requiring Basic auth with the token as password. */
  beforeAll(async () => {
    const gitExec = execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim();
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? "";
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ""), "base64").toString().split(":");
      seen.push(auth ? `${user}:${pass === TOKEN ? "<token>" : "<wrong>"}` : "<none>");
      if (pass !== TOKEN) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="infra"' }).end();
        return;
      }
      const u = new URL(req.url ?? "/", "http://x");
      const cgi = spawn(path.join(gitExec, "git-http-backend"), [], {
        env: {
          GIT_PROJECT_ROOT: TMP,
          GIT_HTTP_EXPORT_ALL: "1",
          REMOTE_USER: user,
          PATH_INFO: u.pathname.replace(/^\/git/, ""),
          QUERY_STRING: u.searchParams.toString(),
          REQUEST_METHOD: req.method ?? "GET",
          CONTENT_TYPE: req.headers["content-type"] ?? "",
          ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        },
      });
      req.pipe(cgi.stdin);
      const chunks: Buffer[] = [];
      cgi.stdout.on("data", (c: Buffer) => chunks.push(c));
      cgi.on("close", () => {
        const out = Buffer.concat(chunks);
        const split = out.indexOf("\r\n\r\n");
        const head = out.subarray(0, split).toString();
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head.split("\r\n")) {
          const [k, ...v] = line.split(":");
          if (k!.toLowerCase() === "status") status = Number.parseInt(v.join(":").trim(), 10);
          else headers[k!] = v.join(":").trim();
        }
        res.writeHead(status, headers).end(out.subarray(split + 4));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}/git/origin.git`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  beforeEach(() => {
    seen.length = 0;
  });

  it("pushes over HTTPS-style auth with the token from a secret variable, never in an argument, the URL or .git/config", async () => {
    const commands: string[][] = [];
    const local = await workspace({ secretEnv: { INFRA_LIVE_TOKEN: TOKEN } });
    const recorded: Workspace = {
      run: (cmd, opts) => {
        commands.push([...cmd, ...Object.values(opts?.env ?? {})]);
        return local.run(cmd, opts);
      },
      readFile: (p) => local.readFile(p),
      writeFile: (p, t) => local.writeFile(p, t),
      removeTree: (p) => local.removeTree(p),
    };
    const plan = envPlan("dev", SHA(60), config({ infraLive: { repoUrl: url } }));
    const report = await applyInfraWriteBack(recorded, plan, { ...fast, auth: { kind: "token", tokenEnv: "INFRA_LIVE_TOKEN" } });
    expect(report.committed).toBe(true);
    expect(remoteHead()).toBe(report.commitSha);
    expect(seen).toContain("x-access-token:<token>");
    expect(commands.flat().join("\n")).not.toContain(TOKEN);
    const root = (local as unknown as { root: string }).root;
    expect(readFileSync(path.join(root, ".git/config"), "utf8")).not.toContain(TOKEN);
    expect(readFileSync(path.join(root, ".git/config"), "utf8")).toContain(`url = ${url}`);
  });

  it("a wrong token fails fast with GIT_FAILED and does not prompt", async () => {
    const ws = await workspace({ secretEnv: { INFRA_LIVE_TOKEN: "wrong" } });
    const err = (await applyInfraWriteBack(ws, envPlan("dev", SHA(61), config({ infraLive: { repoUrl: url } })), {
      ...fast,
      auth: { kind: "token", tokenEnv: "INFRA_LIVE_TOKEN" },
    }).catch((e: unknown) => e)) as PipelineError;
    expect(err).toBeInstanceOf(PipelineError);
    expect(err.code).toBe("GIT_FAILED");
    expect(err.message).toContain("clone");
    expect(err.message).not.toContain("wrong");
    expect(seen).toContain("x-access-token:<wrong>");
  });

  it.each([
    { name: "token", auth: { kind: "token" as const, tokenEnv: "INFRA_LIVE_TOKEN" }, args: /credential\.helper=!f\(\).*password=\$\{INFRA_LIVE_TOKEN\}/, env: {} },
    {
      name: "ssh key",
      auth: { kind: "ssh" as const, keyFile: "/run/secrets/infra live key", knownHostsFile: "/etc/ssh/known_hosts" },
      args: /^$/,
      env: { GIT_SSH_COMMAND: "ssh -i '/run/secrets/infra live key' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/ssh/known_hosts" },
    },
  ])("gitAuthConfig: $name", ({ auth, args, env }) => {
    const c = gitAuthConfig(auth);
    expect(c.args.join(" ")).toMatch(args);
    expect(c.env).toMatchObject({ GIT_TERMINAL_PROMPT: "0", ...env });
  });

  it("rejects a token variable name that is not one", () => {
    expect(() => gitAuthConfig({ kind: "token", tokenEnv: "$(id)" })).toThrowError(/ARGUMENT_INVALID/);
  });
});

describe("push rejection classification", () => {
  it.each([
    { attempt: 2, raceMs: 400, window: 800 },
    { attempt: 3, raceMs: 400, window: 1600 },
    { attempt: 7, raceMs: 400, window: 25_600 },
    { attempt: 12, raceMs: 400, window: 25_600 },
    { attempt: 2, raceMs: 1, window: 100 },
    { attempt: 30, raceMs: 600_000, window: 30_000 * 64 },
  ])("defaultBackoffMs($attempt, $raceMs) waits uniformly in [0, $window)", ({ attempt, raceMs, window }) => {
    expect(defaultBackoffMs(attempt, raceMs, () => 0)).toBe(0);
    expect(defaultBackoffMs(attempt, raceMs, () => 0.5)).toBe(Math.round(window / 2));
    expect(defaultBackoffMs(attempt, raceMs, () => 0.999999)).toBe(Math.round(window * 0.999999));
  });

  it.each([
    { name: "non-fast-forward", stderr: " ! [rejected]        HEAD -> main (non-fast-forward)", race: true },
    { name: "fetch first", stderr: " ! [rejected]        HEAD -> main (fetch first)", race: true },
    { name: "lost a ref lock", stderr: "error: cannot lock ref 'refs/heads/main': is at abc but expected def", race: true },
    { name: "hook declined", stderr: " ! [remote rejected] HEAD -> main (pre-receive hook declined)", race: false },
    { name: "auth", stderr: "fatal: Authentication failed for 'https://github.com/x'", race: false },
    { name: "protected branch", stderr: " ! [remote rejected] main (protected branch hook declined)", race: false },
    { name: "HTTP 403", stderr: "error: RPC failed; HTTP 403 curl 22 The requested URL returned error: 403", race: false },
    { name: "sha containing 401 in a race", stderr: "To x\n ! [rejected]        a401b -> main (fetch first)", race: true },
  ])("$name -> retry: $race", ({ stderr, race }) => {
    expect(isRaceRejection({ exitCode: 1, stdout: "", stderr })).toBe(race);
  });

  it.each([
    { name: "already at our commit", stdout: "To /o.git\n=\tHEAD:refs/heads/main\t[up to date]\nDone\n", upToDate: true },
    { name: "fast-forwarded", stdout: "To /o.git\n \tHEAD:refs/heads/main\tabc..def\nDone\n", upToDate: false },
    { name: "another branch up to date", stdout: "To /o.git\n=\tHEAD:refs/heads/main-2\t[up to date]\nDone\n", upToDate: false },
  ])("push porcelain $name -> up to date: $upToDate", ({ stdout, upToDate }) => {
    expect(isUpToDate({ exitCode: 0, stdout, stderr: "" }, "main")).toBe(upToDate);
  });
});

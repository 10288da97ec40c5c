/**
 * The checkout script (lib/checkout-state.ts) run with the real git on real repositories, the way the git
 * container runs it: on a COPY of the project that leaves out CHECKOUT_IGNORE (as Dagger's
 * `ignore` does), with file modes lost (the copy may not keep them) and as another user than the
 * files' owner would be. What it reports is parsed by the same parser the module uses.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHECKOUT_IGNORE } from "../../modules/pipeline/src/checkout.js";
import { formatCheckoutScript, parseCheckoutReport, type CheckoutState } from "../../modules/pipeline/src/lib/checkout-state.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "checkout-git-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@x", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@x", GIT_CONFIG_NOSYSTEM: "1", HOME: tmp };
const git = (dir: string, ...args: string[]) => execFileSync("git", args, { cwd: dir, env: gitEnv, encoding: "utf8" }).trim();

/** A Rails-like repository with one commit on `main`: tracked log/.keep, tmp/.keep, an executable. */
function repo(name: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, "app/models"), { recursive: true });
  mkdirSync(path.join(dir, "log"));
  mkdirSync(path.join(dir, "tmp"));
  mkdirSync(path.join(dir, "bin"));
  writeFileSync(path.join(dir, "app/models/loan.rb"), "class Loan; end\n");
  writeFileSync(path.join(dir, "log/.keep"), "");
  writeFileSync(path.join(dir, "tmp/.keep"), "");
  writeFileSync(path.join(dir, "bin/env"), "#!/bin/sh\nexec \"$@\"\n");
  chmodSync(path.join(dir, "bin/env"), 0o755);
  writeFileSync(path.join(dir, ".gitignore"), "/log/*\n/tmp/*\n!/log/.keep\n!/tmp/.keep\n");
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "first");
  return dir;
}

/** What Dagger hands the git container: the project minus CHECKOUT_IGNORE, modes not kept. */
function loadLikeDagger(dir: string): string {
  const copy = mkdtempSync(path.join(tmp, "loaded-"));
  const rootIgnored = new Set(CHECKOUT_IGNORE.filter((p) => !p.includes("*")));
  cpSync(dir, copy, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = path.relative(dir, src);
      if (!rel) return true;
      if (rootIgnored.has(rel.split(path.sep)[0]!) && rel.split(path.sep)[0] !== rel) return false; // contents of an ignored root folder
      if (rootIgnored.has(rel)) return false;
      return !rel.split(path.sep).includes("node_modules");
    },
  });
  execFileSync("chmod", ["-R", "a-x+X", copy]); // no executable bit survives
  return copy;
}

function read(dir: string): CheckoutState {
  const script = formatCheckoutScript({ dir, exclude: CHECKOUT_IGNORE });
  return parseCheckoutReport(execFileSync("sh", ["-c", script], { env: gitEnv, encoding: "utf8" }));
}

describe("the checkout script with real git", () => {
  it("a clean branch: HEAD's sha, the branch, no tags, no changes (ignored folders and lost modes are no change)", () => {
    const dir = repo("clean");
    mkdirSync(path.join(dir, "node_modules/x"), { recursive: true });
    writeFileSync(path.join(dir, "node_modules/x/index.js"), "");
    writeFileSync(path.join(dir, "log/development.log"), "noise\n");
    expect(read(loadLikeDagger(dir))).toEqual({ kind: "git", sha: git(dir, "rev-parse", "HEAD"), branch: "main", tags: [], changes: [] });
  });

  it("uncommitted changes: modified, staged, deleted, untracked (also in new folders), named by path", () => {
    const dir = repo("dirty");
    writeFileSync(path.join(dir, "app/models/loan.rb"), "class Loan; def x; end; end\n");
    writeFileSync(path.join(dir, "README.md"), "new\n");
    git(dir, "add", "README.md");
    mkdirSync(path.join(dir, "app/services"));
    writeFileSync(path.join(dir, "app/services/quote.rb"), "class Quote; end\n");
    rmSync(path.join(dir, "bin/env"));
    const state = read(loadLikeDagger(dir));
    expect(state.kind).toBe("git");
    if (state.kind !== "git") return;
    expect(state.changes.map((c) => `${c.status}|${c.path}`).sort()).toEqual(["A |README.md", " D|bin/env", " M|app/models/loan.rb", "??|app/services/quote.rb"].sort());
  });

  it("a detached HEAD at tags (as CI checks out a tag): no branch, every tag at HEAD", () => {
    const dir = repo("tagged");
    git(dir, "tag", "release-v1.2.3");
    git(dir, "tag", "-a", "nightly", "-m", "annotated");
    git(dir, "checkout", "-q", "--detach");
    expect(read(loadLikeDagger(dir))).toMatchObject({ kind: "git", sha: git(dir, "rev-parse", "HEAD"), tags: ["nightly", "release-v1.2.3"] });
    expect((read(loadLikeDagger(dir)) as { branch?: string }).branch).toBeUndefined();
  });

  it("a branch with a slash and a file name with spaces and unicode", () => {
    const dir = repo("names");
    git(dir, "switch", "-q", "-c", "da/develop");
    writeFileSync(path.join(dir, "ñotes and spaces.txt"), "x\n");
    const state = read(loadLikeDagger(dir));
    expect(state).toMatchObject({ kind: "git", branch: "da/develop" });
    expect(state.kind === "git" && state.changes).toEqual([{ status: "??", path: '"ñotes and spaces.txt"' }]);
  });

  it("no commit yet: a git checkout without a sha", () => {
    const dir = path.join(tmp, "empty");
    mkdirSync(dir);
    git(dir, "init", "-q", "-b", "main");
    expect(read(loadLikeDagger(dir))).toEqual({ kind: "git", branch: "main", tags: [], changes: [] });
  });

  it("no .git: not a checkout", () => {
    const dir = path.join(tmp, "plain");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "Gemfile"), "");
    expect(read(dir)).toEqual({ kind: "none", reason: "the project has no .git directory (not a git checkout)" });
  });

  it("a git worktree: .git is a file pointing outside the project, which the copy cannot follow", () => {
    const dir = repo("main-for-worktree");
    const wt = path.join(tmp, "a-worktree");
    git(dir, "worktree", "add", "-q", wt);
    const copy = path.join(tmp, "worktree-copy");
    cpSync(wt, copy, { recursive: true });
    // Dagger loads only the project: the gitdir it points at is not there.
    const state = read(copy);
    expect(state.kind).toBe("none");
    expect(state.kind === "none" && state.reason).toMatch(/\.git is a file pointing at .*worktrees.*a git worktree or submodule/);
  });

  it("a corrupt repository: git's error, not a crash", () => {
    const dir = repo("corrupt");
    const copy = loadLikeDagger(dir);
    rmSync(path.join(copy, ".git/objects"), { recursive: true, force: true });
    mkdirSync(path.join(copy, ".git/objects"));
    const state = read(copy);
    expect(state.kind).toBe("none");
    expect(state.kind === "none" && state.reason).toContain("git cannot read the checkout");
  });

  it("a symlink in the project is a normal tracked file", () => {
    const dir = repo("symlink");
    symlinkSync("app/models/loan.rb", path.join(dir, "loan-link.rb"));
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "link");
    expect(read(loadLikeDagger(dir))).toMatchObject({ kind: "git", changes: [] });
  });
});

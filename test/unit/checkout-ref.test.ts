/**
 * The ref of a run from flags and the project's checkout (lib/refs.ts resolveRunRef), the checkout
 * report parser (lib/checkout-state.ts), the uncommitted-changes refusal, the deleted-branch teardown
 * target and the base64 SSH key. The script itself runs with real git in
 * test/integration/checkout-git.test.ts.
 */
import { describe, expect, it } from "vitest";
import { excludePathspecs, formatChanges, parseCheckoutReport, type CheckoutState } from "../../modules/pipeline/src/lib/checkout-state.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { needsCheckout, refuseUncommitted, resolveRunRef, resolveTeardownTarget, type RefFlags } from "../../modules/pipeline/src/lib/refs.js";
import { decodeBase64SshKey } from "../../modules/pipeline/src/lib/ssh-key.js";
import { thrown } from "../support/errors.js";

const config = parseConfig(undefined);
const HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const OTHER = "ffffffffffffffffffffffffffffffffffffffff";
const none: RefFlags = { branch: "", tag: "", sha: "" };
const git = (over: Partial<Extract<CheckoutState, { kind: "git" }>> = {}): CheckoutState => ({ kind: "git", sha: HEAD, branch: "main", tags: [], changes: [], ...over });
const resolve = (flags: Partial<RefFlags>, checkout: CheckoutState | undefined, env = "", need = { needSha: true, needRef: true }) =>
  resolveRunRef({ flags: { ...none, ...flags }, env, checkout, config, ...need });

describe("parseCheckoutReport", () => {
  it.each<[string, string, CheckoutState]>([
    ["a clean branch", "state git\nsha " + HEAD + "\nbranch main\n", git()],
    ["tags and changes", `state git\nsha ${HEAD}\nbranch \ntag release-v1.2.3\ntag v1\nchange  M app/models/loan.rb\nchange ?? notes with space.txt\nchange R  old.rb -> new.rb\n`, git({ branch: undefined, tags: ["release-v1.2.3", "v1"], changes: [{ status: " M", path: "app/models/loan.rb" }, { status: "??", path: "notes with space.txt" }, { status: "R ", path: "old.rb -> new.rb" }] })],
    ["no commit yet", "state git\nsha \nbranch main\n", { kind: "git", branch: "main", tags: [], changes: [] }],
    ["no .git", "state none\n", { kind: "none", reason: "the project has no .git directory (not a git checkout)" }],
    ["empty output", "", { kind: "none", reason: "the project has no .git directory (not a git checkout)" }],
  ])("%s", (_, text, want) => {
    expect(parseCheckoutReport(text)).toEqual(want);
  });

  it("a .git file (worktree, submodule) names where it points", () => {
    const state = parseCheckoutReport("state gitfile\ngitdir /work/main/.git/worktrees/x\n");
    expect(state).toMatchObject({ kind: "none" });
    expect(state.kind === "none" && state.reason).toContain(".git is a file pointing at /work/main/.git/worktrees/x (a git worktree or submodule)");
  });

  it("a git error makes the checkout unreadable with git's words", () => {
    const state = parseCheckoutReport("state git\nsha \nbranch \nerror fatal: bad object HEAD\n");
    expect(state).toEqual({ kind: "none", reason: "git cannot read the checkout: fatal: bad object HEAD" });
  });
});

describe("excludePathspecs and formatChanges", () => {
  it("excludes each ignored path and everything under it, at the root or at any depth", () => {
    expect(excludePathspecs(["tmp", "/log/", "**/node_modules", ""])).toEqual([
      ":(exclude,glob)tmp",
      ":(exclude,glob)tmp/**",
      ":(exclude,glob)log",
      ":(exclude,glob)log/**",
      ":(exclude,glob)**/node_modules",
      ":(exclude,glob)**/node_modules/**",
    ]);
  });

  it("names at most max changes and counts the rest", () => {
    const changes = Array.from({ length: 12 }, (_, i) => ({ status: " M", path: `f${i}.rb` }));
    expect(formatChanges(changes, 2)).toBe("M f0.rb, M f1.rb, ... and 10 more");
    expect(formatChanges([{ status: "??", path: "new.rb" }])).toBe("?? new.rb");
  });
});

describe("resolveRunRef: flags first, then the checkout", () => {
  it.each<[string, Partial<RefFlags>, CheckoutState | undefined, string, RefFlags, string[]]>([
    ["everything given: the checkout is not needed", { branch: "da/develop", sha: OTHER }, undefined, "", { branch: "da/develop", tag: "", sha: OTHER }, []],
    ["nothing given: the checked-out branch and HEAD", {}, git({ branch: "da/develop" }), "", { branch: "da/develop", tag: "", sha: HEAD }, ["sha", "branch"]],
    ["--env dev: the branch, even with a release tag at HEAD", {}, git({ tags: ["release-v2"] }), "dev", { branch: "main", tag: "", sha: HEAD }, ["sha", "branch"]],
    ["--env prod: the newest release tag at HEAD wins over the branch", {}, git({ tags: ["release-v1.9.0", "release-v1.10.0", "v9"] }), "prod", { branch: "", tag: "release-v1.10.0", sha: HEAD }, ["sha", "tag"]],
    ["detached at a release tag", {}, git({ branch: undefined, tags: ["nightly", "release-v3"] }), "", { branch: "", tag: "release-v3", sha: HEAD }, ["sha", "tag"]],
    ["detached at any tag", {}, git({ branch: undefined, tags: ["nightly"] }), "", { branch: "", tag: "nightly", sha: HEAD }, ["sha", "tag"]],
    ["--sha given, branch from the checkout", { sha: OTHER }, git(), "", { branch: "main", tag: "", sha: OTHER }, ["branch"]],
    ["--tag given, sha from the checkout", { tag: "release-v1" }, git(), "", { branch: "", tag: "release-v1", sha: HEAD }, ["sha"]],
    ["flags are trimmed", { branch: " da/stage ", sha: ` ${OTHER} ` }, undefined, "", { branch: "da/stage", tag: "", sha: OTHER }, []],
  ])("%s", (_, flags, checkout, env, want, from) => {
    const ref = resolve(flags, checkout, env);
    expect(ref.flags).toEqual(want);
    expect(ref.fromCheckout).toEqual(from);
  });

  it("says which commit and where each value came from, and notes a --sha that is not HEAD", () => {
    expect(resolve({}, git({ changes: [{ status: " M", path: "a.rb" }] })).description).toBe(
      `commit ${HEAD}, branch main (sha and branch read from the checkout; 1 uncommitted change(s): M a.rb)`,
    );
    expect(resolve({ sha: OTHER, branch: "main" }, git()).description).toBe(`commit ${OTHER}, branch main (as given; the checkout's HEAD is a1b2c3d4e5f6; no uncommitted changes)`);
  });

  it.each<[string, Partial<RefFlags>, CheckoutState | undefined, string]>([
    ["no sha and no checkout read", { branch: "main" }, undefined, "--sha was not given and the project's checkout was not read"],
    ["no sha in a folder without git", { branch: "main" }, { kind: "none", reason: "the project has no .git directory (not a git checkout)" }, "--sha was not given and the project has no .git directory"],
    ["no commit yet", {}, { kind: "git", branch: "main", tags: [], changes: [] }, "--sha was not given and HEAD has no commit yet"],
    ["no branch or tag without git", { sha: HEAD }, { kind: "none", reason: "x" }, "neither --branch nor --tag was given and x"],
    ["a detached HEAD without tags", {}, git({ branch: undefined }), "HEAD is detached at a1b2c3d4e5f6 and no tag points at it"],
  ])("refuses %s, saying what to pass", (_, flags, checkout, fragment) => {
    const err = thrown(() => resolve(flags, checkout));
    expect(err.code).toBe("CHECKOUT_UNREADABLE");
    expect(err.message).toContain(fragment);
    expect(err.hint).toMatch(/--sha|--branch/);
  });

  it("base-image needs neither a sha nor, with --env, a branch", () => {
    expect(needsCheckout({ flags: none, needSha: false, needRef: false })).toBe(false);
    expect(needsCheckout({ flags: none, needSha: false, needRef: true })).toBe(true);
    expect(needsCheckout({ flags: { ...none, tag: "release-v1" }, needSha: true, needRef: true })).toBe(true);
    expect(needsCheckout({ flags: { ...none, tag: "release-v1", sha: HEAD }, needSha: true, needRef: true })).toBe(false);
    expect(resolve({}, undefined, "dev", { needSha: false, needRef: false }).flags).toEqual(none);
  });
});

describe("refuseUncommitted", () => {
  it("passes a clean checkout and refuses a dirty one, naming the files and the way out", () => {
    expect(() => refuseUncommitted(resolve({}, git()), "deploy")).not.toThrow();
    const err = thrown(() => refuseUncommitted(resolve({}, git({ changes: [{ status: " M", path: "app/models/loan.rb" }, { status: "??", path: "scratch.rb" }] })), "deploy"));
    expect(err.code).toBe("CHECKOUT_DIRTY");
    expect(err.message).toContain("deploy would deploy uncommitted changes as commit a1b2c3d4e5f6: M app/models/loan.rb, ?? scratch.rb");
    expect(err.hint).toContain("--allow-dirty");
  });
});

describe("resolveTeardownTarget (feature-teardown --name / --branch)", () => {
  it.each<[string, { name: string; branch: string }, { name: string } | { skip: string }]>([
    ["--name", { name: "new-loan-flow", branch: "" }, { name: "new-loan-flow" }],
    ["a deleted feature branch", { name: "", branch: "feature/new-loan-flow" }, { name: "new-loan-flow" }],
    ["a deleted ref as the webhook sends it", { name: "", branch: "refs/heads/feature/x-1" }, { name: "x-1" }],
    ["any other branch: nothing to do", { name: "", branch: "fix/typo" }, { skip: 'deleted branch "fix/typo" is not a feature branch: nothing to tear down' }],
  ])("%s", (_, input, want) => {
    expect(resolveTeardownTarget(input, config)).toEqual(want);
  });

  it.each([
    ["both", { name: "a", branch: "feature/a" }, "both --name a and --branch feature/a"],
    ["neither", { name: "", branch: " " }, "neither --name nor --branch"],
    ["a bad feature name", { name: "", branch: "feature/a;rm -rf" }, "may contain only letters, digits and dashes"],
  ])("refuses %s", (_, input, fragment) => {
    expect(thrown(() => resolveTeardownTarget(input, config)).message).toContain(fragment);
  });
});

describe("decodeBase64SshKey (--ssh-key-base64)", () => {
  const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
  it("decodes a one-line key, with or without wrapping whitespace", () => {
    const b64 = Buffer.from(key).toString("base64");
    expect(decodeBase64SshKey(b64, "--ssh-key-base64")).toBe(key);
    expect(decodeBase64SshKey(`${b64.slice(0, 20)}\n${b64.slice(20)}\n`, "--ssh-key-base64")).toBe(key);
    expect(decodeBase64SshKey(Buffer.from(key.trimEnd()).toString("base64"), "--ssh-key-base64")).toBe(key);
  });

  it.each([
    ["the key itself instead of its base64", key],
    ["base64 of something else", Buffer.from("hello").toString("base64")],
    ["not base64", "%%%"],
  ])("refuses %s without quoting it", (_, value) => {
    const err = thrown(() => decodeBase64SshKey(value, "--ssh-key-base64"));
    expect(err.message).toContain("--ssh-key-base64 is not a base64-encoded SSH private key");
    expect(err.message).not.toContain(value.slice(0, 8) === "-----BEG" ? "b3BlbnNz" : value);
  });
});

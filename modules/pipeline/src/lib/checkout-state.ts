/**
 * Reading the project's git checkout, pure: the shell script a small git container runs on the
 * checkout (the project's repository root, loaded by Dagger from the caller's machine) and the
 * parser of what it prints. `src/checkout.ts` is the thin Dagger shell that runs the script; the
 * integration test runs the very same script with the local git on real repositories.
 *
 * The script prints one record per line:
 *   state git|none|gitfile     whether the checkout holds a .git directory (gitfile: .git is a file,
 *                              as in a git worktree or submodule, pointing outside the project)
 *   gitdir <path>              where a gitfile points
 *   sha <40 hex>               HEAD's commit (empty before the first commit)
 *   branch <name>              the checked-out branch (empty on a detached HEAD)
 *   tag <name>                 each tag pointing at HEAD
 *   change <XY> <path>         each uncommitted change, as `git status --porcelain` shows it
 *   error <text>               git failed (a corrupt or unreadable repository)
 */
import { shellQuote } from "./shell.js";

export interface CheckoutChange {
  /** The two-letter status of `git status --porcelain`: ` M`, `M `, `??`, `D `, `R `, ... */
  status: string;
  /** The path as git shows it (`old -> new` for a rename). */
  path: string;
}

export type CheckoutState =
  | { kind: "git"; sha?: string; branch?: string; tags: string[]; changes: CheckoutChange[] }
  | { kind: "none"; reason: string };

export interface CheckoutScriptOptions {
  /** Where the checkout is mounted in the git container. */
  dir: string;
  /**
   * Paths left out of the checkout Dagger loads (ignore patterns relative to its root): git must
   * not report them as deleted, so they are excluded from `git status` too.
   */
  exclude: readonly string[];
}

/** `:(exclude,glob)` pathspecs for ignore patterns: the pattern itself and everything under it. */
export function excludePathspecs(patterns: readonly string[]): string[] {
  return patterns.flatMap((p) => {
    const clean = p.replace(/^\/+/, "").replace(/\/+$/, "");
    return clean ? [`:(exclude,glob)${clean}`, `:(exclude,glob)${clean}/**`] : [];
  });
}

/**
 * The script the git container runs. It never fails: problems become `state`/`error` records, so
 * the caller decides whether it needed the checkout at all. `core.fileMode=false` because file
 * modes may not survive the copy into the engine; `safe.directory=*` because the copy's owner is
 * not the container's user.
 */
export function formatCheckoutScript(options: CheckoutScriptOptions): string {
  const pathspecs = [".", ...excludePathspecs(options.exclude)].map(shellQuote).join(" ");
  return [
    `cd ${shellQuote(options.dir)} || { echo "state none"; exit 0; }`,
    `if [ -f .git ]; then echo "state gitfile"; sed -n 's/^gitdir: */gitdir /p' .git; exit 0; fi`,
    `if [ ! -d .git ]; then echo "state none"; exit 0; fi`,
    `g() { git -c safe.directory='*' -c core.quotePath=false -c core.fileMode=false "$@"; }`,
    `echo "state git"`,
    `echo "sha $(g rev-parse --verify -q HEAD 2>/dev/null)"`,
    `echo "branch $(g symbolic-ref -q --short HEAD 2>/dev/null)"`,
    `g tag --points-at HEAD 2>/dev/null | sed 's/^/tag /'`,
    `if status=$(g status --porcelain=v1 --untracked-files=all -- ${pathspecs} 2>&1); then`,
    `  printf '%s\\n' "$status" | sed '/^$/d; s/^/change /'`,
    `else`,
    `  printf '%s\\n' "$status" | head -n 1 | sed 's/^/error /'`,
    `fi`,
  ].join("\n");
}

/** Parse what the script printed. */
export function parseCheckoutReport(text: string): CheckoutState {
  const lines = text.split("\n").filter((l) => l.length > 0);
  const value = (key: string) => lines.find((l) => l === key || l.startsWith(`${key} `))?.slice(key.length + 1).trim();
  const all = (key: string) => lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));
  const state = value("state");
  if (state === "gitfile") {
    const gitdir = value("gitdir");
    return {
      kind: "none",
      reason: `the project's .git is a file${gitdir ? ` pointing at ${gitdir}` : ""} (a git worktree or submodule), whose repository lies outside the project Dagger loads`,
    };
  }
  if (state !== "git") return { kind: "none", reason: "the project has no .git directory (not a git checkout)" };
  const error = value("error");
  if (error) return { kind: "none", reason: `git cannot read the checkout: ${error}` };
  const sha = value("sha") || undefined;
  const branch = value("branch") || undefined;
  const tags = all("tag").map((t) => t.trim()).filter(Boolean);
  const changes = all("change").map((l) => ({ status: l.slice(0, 2), path: l.slice(3) }));
  return { kind: "git", ...(sha ? { sha } : {}), ...(branch ? { branch } : {}), tags, changes };
}

/** `M  app/x.rb, ?? notes.txt, ... and 3 more`: the changes named for a message. */
export function formatChanges(changes: readonly CheckoutChange[], max = 10): string {
  const shown = changes.slice(0, max).map((c) => `${c.status.trim() || c.status} ${c.path}`);
  return changes.length > max ? `${shown.join(", ")}, ... and ${changes.length - max} more` : shown.join(", ");
}

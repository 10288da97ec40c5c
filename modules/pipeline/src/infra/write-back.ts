/**
 * The infrastructure-live git write-back (effectful), written once against `Workspace`.
 *
 *   clone (branch) -> apply the plan's edits / generated files / removal -> nothing changed? stop
 *   -> ONE commit (configured author and message) -> push
 *   -> rejected because someone else pushed? wait (full-jitter backoff sized by how long the race
 *      took, so tens of writers spread out), fetch, reset onto the remote, re-apply from scratch,
 *      commit, push again (bounded attempts)
 *   -> nothing left to change after a race? another writer set the same values: report its commit
 *
 * Files are edited as bytes: only the value's bytes change, a byte that is not UTF-8 elsewhere in the
 * file survives. Every unit file is checked before anything is written (missing unit folder, file HCL
 * cannot parse, missing attribute): problems are reported together and nothing is committed or pushed.
 * The report says exactly what changed: files, previous -> new values, commit sha, attempts.
 */
import { PipelineError, ProblemsError, type Problem } from "../lib/errors.js";
import { formatHclString, getHclAttributeInBytes, setHclAttributeInBytes } from "../lib/hcl.js";
import type { InfraChangePlan } from "../lib/infra-live-changes.js";
import { gitAuthConfig, redactUrl, type GitAuth } from "./git-auth.js";
import type { RunResult, Workspace } from "./workspace.js";

export interface WriteBackOptions {
  auth?: GitAuth;
  /** Push attempts before giving up with GIT_PUSH_CONFLICT. Default 12 (enough for tens of writers). */
  maxAttempts?: number;
  /**
   * Delay before retry `attempt` (2, 3, ...), given how long the lost attempt took from fetch to
   * push (`raceMs`). Default: `defaultBackoffMs`.
   */
  backoffMs?: (attempt: number, raceMs: number) => number;
  sleep?: (ms: number) => Promise<void>;
  /** Progress lines (no secrets are ever passed here). */
  log?: (line: string) => void;
  /** Clone with --depth 1 (default true: a fresh clone needs no history; a retry fetches only the commits pushed since). */
  shallow?: boolean;
}

export interface FileChange {
  file: string;
  unit: string | null;
  action: "edited" | "created" | "rewritten" | "removed";
  attribute?: string;
  /** Previous value expression (edits; rewritten feature files: the previous tag). */
  previous?: string;
  value?: string;
}

export interface WriteBackReport {
  repoUrl: string;
  branch: string;
  message: string;
  /** false when every file already had the wanted content: no commit, no push. */
  committed: boolean;
  commitSha: string | null;
  /** The remote commit the final attempt was based on. */
  baseSha: string;
  /** Push attempts made (1 when the first push landed; 0 when nothing was committed at once). */
  attempts: number;
  changes: FileChange[];
  /** Files the plan covers that already had the wanted content. */
  unchanged: string[];
  /**
   * Nothing committed because, while this write-back retried, another writer pushed the same change:
   * that writer's commit (sha and subject). Null otherwise.
   */
  alreadySetBy: { sha: string; subject: string } | null;
}

const DEFAULT_ATTEMPTS = 12;
/** Most writers one backoff window makes room for: 64 race slots. */
const MAX_SLOTS = 64;

/**
 * Full-jitter backoff sized by the race. A push loses when another lands between its fetch and its
 * push, so one writer occupies a slot of about `raceMs`; before attempt `n` the wait is uniform in
 * [0, slot × 2^(n-1)), the window capped at 64 slots. Each doubling halves the collisions, so 16
 * writers finish within 12 attempts (a simulation of 4,000 races of 16, 32 and 48 writers lost
 * none; with the former 5 attempts and 0.25-5 s waits 5 of 16 real pushers failed). The slot is the
 * measured race time (50 ms .. 30 s), so the same rule fits a local checkout and a Dagger container.
 */
export function defaultBackoffMs(attempt: number, raceMs: number, random: () => number = Math.random): number {
  const slot = Math.min(30_000, Math.max(50, raceMs));
  const window = slot * Math.min(MAX_SLOTS, 2 ** Math.max(1, attempt - 1));
  return Math.round(window * random());
}

/** Run the plan's write-back. Throws PipelineError (GIT_FAILED, GIT_PUSH_CONFLICT, HCL_*) on failure. */
export async function applyInfraWriteBack(ws: Workspace, plan: InfraChangePlan, options: WriteBackOptions = {}): Promise<WriteBackReport> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new PipelineError("ARGUMENT_INVALID", `write-back maxAttempts ${maxAttempts} must be a whole number ≥ 1`, { hint: "pass 12, for example" });
  }
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const backoff = options.backoffMs ?? ((a: number, raceMs: number) => defaultBackoffMs(a, raceMs));
  const log = options.log ?? (() => {});
  const shallow = options.shallow ?? true;
  const auth = gitAuthConfig(options.auth);
  const git = new Git(ws, plan.repoUrl);
  const remote = redactUrl(plan.repoUrl);
  const depth = shallow ? ["--depth", "1"] : [];

  let raceStart = Date.now();
  log(`cloning ${remote} (${plan.branch})`);
  await git.must([...auth.args, "clone", "--quiet", "--branch", plan.branch, "--single-branch", "--no-tags", ...depth, "--", plan.repoUrl, "."], {
    env: auth.env,
    what: `clone ${remote} branch ${plan.branch}`,
    hint: "check infraLive.repoUrl and infraLive.branch in the pipeline config, and that the credentials can read the repository",
  });
  await git.must(["config", "user.name", plan.author.name], { what: "set the commit author" });
  await git.must(["config", "user.email", plan.author.email], { what: "set the commit author" });
  await git.must(["config", "commit.gpgsign", "false"], { what: "configure the checkout" });

  let firstBaseSha: string | null = null;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) {
      const ms = backoff(attempt, Date.now() - raceStart);
      log(`push rejected: someone else pushed; retrying (attempt ${attempt}/${maxAttempts}) in ${ms} ms`);
      await sleep(ms);
      raceStart = Date.now();
      // No --depth here: the commits pushed since the clone come along, so a no-op can name its setter.
      await git.must([...auth.args, "fetch", "--quiet", "--no-tags", "origin", plan.branch], {
        env: auth.env,
        what: `fetch ${remote} branch ${plan.branch}`,
      });
      await git.must(["reset", "--quiet", "--hard", "FETCH_HEAD"], { what: "reset onto the remote branch" });
      await git.must(["clean", "-ffdq"], { what: "clean the checkout" });
    }
    const baseSha = (await git.must(["rev-parse", "HEAD"], { what: "read the checked-out commit" })).stdout.trim();
    firstBaseSha ??= baseSha;

    const { changes, unchanged, paths } = await applyPlanFiles(ws, git, plan);
    if (changes.length > 0) await git.must(["add", "--all", "--", ...paths], { what: "stage the changes" });
    const staged = changes.length > 0 && (await git.run(["diff", "--cached", "--quiet"])).exitCode !== 0;
    if (!staged) {
      const alreadySetBy = attempt > 1 ? await lastCommitTouching(git, `${firstBaseSha}..HEAD`, planPaths(plan)) : null;
      log(
        alreadySetBy
          ? `nothing left to push to ${remote}: already set by ${alreadySetBy.sha.slice(0, 12)} "${alreadySetBy.subject}"`
          : `nothing to change in ${remote}: ${unchanged.length} file(s) already up to date`,
      );
      return { repoUrl: remote, branch: plan.branch, message: plan.commitMessage, committed: false, commitSha: null, baseSha, attempts: attempt - 1, changes: [], unchanged, alreadySetBy };
    }
    await git.must(["commit", "--quiet", "--no-verify", "-m", plan.commitMessage], { what: "commit the changes" });
    const commitSha = (await git.must(["rev-parse", "HEAD"], { what: "read the new commit" })).stdout.trim();

    const push = await git.run([...auth.args, "push", "--porcelain", "origin", `HEAD:refs/heads/${plan.branch}`], { env: auth.env });
    if (push.exitCode === 0 && isUpToDate(push, plan.branch)) {
      // Another writer made the very same commit (same tree, parent, author, message and second) and
      // pushed it first: our push changed nothing.
      const alreadySetBy = { sha: commitSha, subject: plan.commitMessage };
      log(`nothing left to push to ${remote}: already set by ${commitSha.slice(0, 12)} "${plan.commitMessage}"`);
      return { repoUrl: remote, branch: plan.branch, message: plan.commitMessage, committed: false, commitSha: null, baseSha, attempts: attempt, changes: [], unchanged, alreadySetBy };
    }
    if (push.exitCode === 0) {
      log(`pushed ${commitSha.slice(0, 12)} to ${remote} ${plan.branch}: ${plan.commitMessage}`);
      return { repoUrl: remote, branch: plan.branch, message: plan.commitMessage, committed: true, commitSha, baseSha, attempts: attempt, changes, unchanged, alreadySetBy: null };
    }
    if (!isRaceRejection(push)) {
      throw git.failure(push, `push to ${remote} branch ${plan.branch}`, "check that the credentials may push to the branch and that no branch protection rejects the CI user; nothing was pushed");
    }
    if (attempt >= maxAttempts) {
      throw new PipelineError(
        "GIT_PUSH_CONFLICT",
        `push to ${remote} branch ${plan.branch} was rejected ${attempt} times because others kept pushing first; nothing was pushed (last attempt based on ${baseSha.slice(0, 12)}, would have changed ${changes.map((c) => c.file).join(", ")})`,
        { hint: "run the deploy again; if this repeats, raise the write-back attempts", cause: new Error(push.stderr.trim()) },
      );
    }
  }
}

/** Pure formatter for the deploy log: what changed, where, in which commit. */
export function formatWriteBackReport(report: WriteBackReport): string {
  const where = `infrastructure-live ${report.repoUrl} (${report.branch})`;
  const head = report.committed
    ? `${where}: pushed ${report.commitSha!.slice(0, 12)} "${report.message}" after ${report.attempts} attempt${report.attempts === 1 ? "" : "s"}`
    : report.alreadySetBy
      ? `${where}: already set by ${report.alreadySetBy.sha.slice(0, 12)} "${report.alreadySetBy.subject}" (another writer made the same change first), no commit`
      : `${where}: already up to date at ${report.baseSha.slice(0, 12)}, no commit`;
  const lines = report.changes.map((c) => {
    if (c.action === "removed") return `  removed ${c.file}`;
    const value = c.attribute ? ` ${c.attribute}: ${c.previous ?? "(new)"} -> ${c.value}` : "";
    return `  ${c.action} ${c.file}${value}`;
  });
  if (report.unchanged.length > 0) lines.push(`  unchanged: ${report.unchanged.join(", ")}`);
  return [head, ...lines].join("\n");
}

/** `git push --porcelain` said the branch was already at our commit (flag `=`, "[up to date]"). */
export function isUpToDate(push: RunResult, branch: string): boolean {
  return push.stdout.split("\n").some((line) => line.startsWith("=\t") && line.includes(`:refs/heads/${branch}\t`));
}

/** A push rejected because the remote moved (retry) as opposed to auth, hooks or protection (fail). */
export function isRaceRejection(push: RunResult): boolean {
  const text = `${push.stdout}\n${push.stderr}`;
  if (/hook declined|protected branch|permission|denied|authentication|\b40[13]\b/i.test(text)) return false;
  return /non-fast-forward|fetch first|\[rejected\]|failed to update ref|cannot lock ref|incorrect old value|stale info|failed to lock/i.test(text);
}

interface AppliedFiles {
  changes: FileChange[];
  unchanged: string[];
  /** Pathspecs to stage. */
  paths: string[];
}

/** Check every file first, then write: a bad unit leaves the checkout (and the remote) untouched. */
async function applyPlanFiles(ws: Workspace, git: Git, plan: InfraChangePlan): Promise<AppliedFiles> {
  const where = `${redactUrl(plan.repoUrl)} (${plan.branch})`;
  if (plan.kind === "environment") {
    const problems: { problem: Problem; error?: PipelineError }[] = [];
    const edits: { file: string; unit: string; attribute: string; value: string; previous: string; bytes: Uint8Array; changed: boolean }[] = [];
    for (const e of plan.edits) {
      const bytes = await ws.readFile(e.file);
      if (bytes === null) {
        problems.push({
          problem: {
            path: e.file,
            message: `unit ${e.unit}: ${e.dir}/terragrunt.hcl does not exist in ${where}`,
            hint: `fix environments.${plan.configEnvironment}.infraLive.units (path of ${e.unit}) in the pipeline config, or add the unit to infrastructure-live`,
          },
        });
        continue;
      }
      try {
        const r = setHclAttributeInBytes(bytes, { name: e.attribute, value: e.value, file: e.file });
        edits.push({ file: e.file, unit: e.unit, attribute: e.attribute, value: e.value, previous: r.previous, bytes: r.bytes, changed: r.changed });
      } catch (err) {
        if (!(err instanceof PipelineError)) throw err;
        const [message, ...rest] = err.message.replace(/^\[\w+\] /, "").split("\n");
        problems.push({ problem: { path: e.file, message: `unit ${e.unit}: ${message}`, hint: err.hint ?? rest.join(" ") }, error: err });
      }
    }
    if (problems.length === 1 && problems[0]!.error) throw problems[0]!.error;
    if (problems.length > 0) {
      const code = problems.every((p) => p.error?.code === "HCL_ATTRIBUTE_MISSING") ? "HCL_ATTRIBUTE_MISSING" : "HCL_INVALID";
      throw new ProblemsError(code, `cannot update ${where} for ${plan.environment}; nothing was pushed`, problems.map((p) => p.problem));
    }
    const changes: FileChange[] = [];
    const unchanged: string[] = [];
    for (const e of edits) {
      if (!e.changed) {
        unchanged.push(e.file);
        continue;
      }
      await ws.writeFile(e.file, e.bytes);
      changes.push({ file: e.file, unit: e.unit, action: "edited", attribute: e.attribute, previous: e.previous, value: e.value });
    }
    return { changes, unchanged, paths: changes.map((c) => c.file) };
  }

  const tracked = await trackedFiles(git, plan.root);
  if (plan.kind === "feature-teardown") {
    if (tracked.length === 0) return { changes: [], unchanged: [], paths: [plan.root] };
    await ws.removeTree(plan.root);
    return { changes: tracked.map((file) => ({ file, unit: unitOf(plan.root, file), action: "removed" as const })), unchanged: [], paths: [plan.root] };
  }

  // feature-deploy: the plan's files are the whole content of the feature folder.
  const changes: FileChange[] = [];
  const unchanged: string[] = [];
  const wanted = new Set(plan.files.map((f) => f.file));
  for (const f of plan.files) {
    const existing = await ws.readFile(f.file);
    if (existing !== null && sameBytes(existing, f.text)) {
      unchanged.push(f.file);
      continue;
    }
    await ws.writeFile(f.file, f.text);
    const change: FileChange = { file: f.file, unit: f.unit, action: existing === null ? "created" : "rewritten", attribute: f.tagAttribute, value: formatHclString(f.tag) };
    if (existing !== null) {
      try {
        const previous = getHclAttributeInBytes(existing, { name: f.tagAttribute, file: f.file, scope: "inputs" })?.value;
        if (previous !== undefined) change.previous = previous;
      } catch {
        // A hand-edited file that no longer tokenizes is simply replaced.
      }
    }
    changes.push(change);
  }
  for (const file of tracked) {
    if (wanted.has(file)) continue;
    await ws.removeTree(file);
    changes.push({ file, unit: unitOf(plan.root, file), action: "removed" });
  }
  return { changes, unchanged, paths: [plan.root] };
}

function sameBytes(bytes: Uint8Array, text: string): boolean {
  return Buffer.from(bytes).equals(Buffer.from(text, "utf8"));
}

/** The files a plan writes (pathspecs), to find who changed them. */
function planPaths(plan: InfraChangePlan): string[] {
  return plan.kind === "environment" ? plan.edits.map((e) => e.file) : [plan.root];
}

/** The newest commit in `range` that touches `paths`, or null. */
async function lastCommitTouching(git: Git, range: string, paths: string[]): Promise<{ sha: string; subject: string } | null> {
  const r = await git.run(["log", "-1", "--format=%H%x00%s", range, "--", ...paths]);
  const [sha, subject] = r.stdout.trim().split("\0");
  return r.exitCode === 0 && sha ? { sha, subject: subject ?? "" } : null;
}

function unitOf(root: string, file: string): string | null {
  const rest = file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
  return rest.includes("/") ? rest.split("/")[0]! : null;
}

async function trackedFiles(git: Git, dir: string): Promise<string[]> {
  const out = await git.must(["ls-files", "-z", "--", dir], { what: `list ${dir}` });
  return out.stdout.split("\0").filter(Boolean).sort();
}

/** git through the workspace; failures become GIT_FAILED with the command (never a secret) and stderr. */
class Git {
  constructor(
    private readonly ws: Workspace,
    private readonly repoUrl: string,
  ) {}

  run(args: string[], opts: { env?: Record<string, string> } = {}): Promise<RunResult> {
    return this.ws.run(["git", ...args], { env: { GIT_TERMINAL_PROMPT: "0", ...opts.env } });
  }

  async must(args: string[], opts: { env?: Record<string, string>; what: string; hint?: string }): Promise<RunResult> {
    const r = await this.run(args, opts);
    if (r.exitCode !== 0) throw this.failure(r, opts.what, opts.hint);
    return r;
  }

  failure(r: RunResult, what: string, hint?: string): PipelineError {
    const stderr = r.stderr.trim().split("\n").slice(-6).join("\n    ").replaceAll(this.repoUrl, redactUrl(this.repoUrl));
    return new PipelineError("GIT_FAILED", `git could not ${what} (exit ${r.exitCode})${stderr ? `:\n    ${stderr}` : ""}`, {
      hint: hint ?? "see git's message above; nothing was pushed",
    });
  }
}

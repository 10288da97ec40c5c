/**
 * The CI configs users copy (ci/circleci/config.yml, ci/github/workflow.yml) against CircleCI's and
 * GitHub's official schemas, the structure the issues ask for, and the module's real CLI surface:
 * every `dagger call` in them (and in ci/README.md and README.md) names functions and flags the
 * module has, in the form an application repository set up with `dagger init --blueprint` uses (no
 * `-m`, no `--source .`), so a renamed function or flag breaks this test, and no secret reaches
 * `dagger call` as a plain value. The configs are thin: every run step installs the Dagger CLI or
 * is ONE `dagger call`; the pipeline logic (timings, reports, refs) is the module's.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import * as ajvFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { DEFAULT_CONFIG } from "../../modules/pipeline/src/lib/config.js";
import {
  checkDaggerCall,
  extractDaggerCalls,
  extractMarkdownScripts,
  extractScripts,
  findDaggerCalls,
  lexShell,
  looksSecret,
  moduleSurface,
  type CheckedCall,
  type DaggerCall,
  type ShellWord,
  type Surface,
} from "../support/dagger-calls.js";
import { REPO_ROOT } from "../support/introspect.js";
import { introspectWorkspace } from "../support/workspace.js";

const CIRCLECI_PATH = "ci/circleci/config.yml";
const GITHUB_PATH = "ci/github/workflow.yml";
const CI_README_PATH = "ci/README.md";
const SHARED = path.resolve(REPO_ROOT, "../shared");
const SCHEMA_PATH = path.join(SHARED, "data/circleci/circleci-config.schema.json");
const GITHUB_SCHEMA_PATH = path.join(SHARED, "data/github/github-workflow.schema.json");
/** The configs run in an application repository set up like the example app. */
const EXAMPLE_APP = path.join(REPO_ROOT, "test/fixtures/rails-api");
const TIMINGS_CACHE = DEFAULT_CONFIG.test.timingsCacheFile;

const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), "utf8");
const circleText = read(CIRCLECI_PATH);
const githubText = read(GITHUB_PATH);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const circle: Json = parseYaml(circleText, { merge: true });
const github: Json = parseYaml(githubText, { merge: true });
const engineVersion: string = JSON.parse(read("dagger.json")).engineVersion;

let surface: Surface;
beforeAll(async () => {
  // `dagger call` in the application repository: the blueprint's functions are the top level.
  surface = moduleSurface(await introspectWorkspace(EXAMPLE_APP));
}, 120_000);

/** Calls as an application repository makes them: the workspace form (no -m, no --source .). */
const check = (calls: DaggerCall[]): CheckedCall[] => calls.map((c) => checkDaggerCall(c, surface, { workspace: true }));
const problemsOf = (calls: DaggerCall[]) => check(calls).flatMap((c) => c.problems);
/** Calls checked only against the surface (snippets that use -m on purpose). */
const looseProblemsOf = (calls: DaggerCall[]) => calls.flatMap((c) => checkDaggerCall(c, surface).problems);
/** The chain as `fn --flag fn --flag`: readable in assertions. */
const chainOf = (c: CheckedCall) => c.steps.map((s) => [s.fn, ...s.flags.keys()].join(" ")).join(" | ");
const snippet = (yaml: string) => extractDaggerCalls(yaml, "snippet.yml");

// --- CircleCI filter semantics ------------------------------------------------------------------

type Ref = { branch: string } | { tag: string };
type Filter = string | string[] | undefined;

/** CircleCI: `/re/` is a regular expression that must match the whole name, anything else is exact. */
function matches(filter: Filter, name: string): boolean {
  const list = filter === undefined ? [] : Array.isArray(filter) ? filter : [filter];
  return list.some((f) => (f.startsWith("/") && f.endsWith("/") && f.length > 1 ? new RegExp(`^(?:${f.slice(1, -1)})$`).test(name) : f === name));
}

/** Whether a workflow job runs for a ref: branches run unless filtered; tags only when listed. */
function runsFor(filters: Json, ref: Ref): boolean {
  if ("tag" in ref) {
    if (!filters?.tags?.only) return false;
    return matches(filters.tags.only, ref.tag) && !matches(filters.tags.ignore, ref.tag);
  }
  const branches = filters?.branches;
  if (branches?.only !== undefined && !matches(branches.only, ref.branch)) return false;
  return !matches(branches?.ignore, ref.branch);
}

interface WorkflowJob {
  name: string;
  job: string;
  requires: string[];
  filters: Json;
  context: string[];
}

function workflowJobs(workflow: string): WorkflowJob[] {
  return (circle.workflows[workflow].jobs as Json[]).map((entry) => {
    if (typeof entry === "string") return { name: entry, job: entry, requires: [], filters: undefined, context: [] };
    const [job, cfg] = Object.entries(entry)[0] as [string, Json];
    const context = cfg?.context === undefined ? [] : Array.isArray(cfg.context) ? cfg.context : [cfg.context];
    return { name: cfg?.name ?? job, job, requires: cfg?.requires ?? [], filters: cfg?.filters, context };
  });
}

/** The commands of a CircleCI job with its `commands:` expanded (one level, as used here). */
function jobSteps(job: string): Json[] {
  return (circle.jobs[job].steps as Json[]).flatMap((step) => {
    const name = typeof step === "string" ? step : Object.keys(step)[0]!;
    return circle.commands?.[name] ? circle.commands[name].steps : [step];
  });
}
const stepName = (step: Json) => (typeof step === "string" ? step : Object.keys(step)[0]!);
const runCommands = (job: string): string[] =>
  jobSteps(job)
    .filter((s) => stepName(s) === "run")
    .map((s) => (typeof s.run === "string" ? s.run : s.run.command));
const callsOfJob = (job: string) => runCommands(job).flatMap((text) => findDaggerCalls({ file: job, line: 1, text, lineByLine: true }));

// --- schema -------------------------------------------------------------------------------------

function compileSchema(schema: Json): ValidateFunction {
  const draft = String(schema.$schema ?? "");
  // strict: false is JSON Schema's own rule: unknown keywords are ignored. Ajv's strict mode lints the
  // schema itself, and the official one has VS Code's `markdownDescription` annotations, union types
  // and a few misplaced keywords (e.g. `steps` where a subschema is expected), none of which changes
  // what a config must look like.
  const options = { allErrors: true, strict: false };
  const ajv = draft.includes("2020-12") ? new Ajv2020(options) : draft.includes("2019-09") ? new Ajv2019(options) : new Ajv(options);
  const addFormats = ((ajvFormats as Json).default ?? ajvFormats) as (a: unknown) => void;
  addFormats(ajv);
  return ajv.compile(schema);
}

const formatErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("\n");

describe("ci/circleci/config.yml against CircleCI's official schema", () => {
  it("validates", () => {
    if (!existsSync(SCHEMA_PATH)) {
      expect.fail(`CircleCI's schema is missing at ${SCHEMA_PATH}: check out the shared data next to this repository (../shared/data/circleci/circleci-config.schema.json)`);
    }
    const validate = compileSchema(JSON.parse(readFileSync(SCHEMA_PATH, "utf8")));
    const ok = validate(circle);
    expect(formatErrors(validate.errors)).toBe("");
    expect(ok).toBe(true);
  });

  it("rejects a broken config (the validation can fail)", () => {
    if (!existsSync(SCHEMA_PATH)) expect.fail(`missing ${SCHEMA_PATH}`);
    const validate = compileSchema(JSON.parse(readFileSync(SCHEMA_PATH, "utf8")));
    const broken = structuredClone(circle);
    broken.jobs.test.parallelism = "eight";
    broken.jobs.lint.steps.push({ store_test_results: { paths: "typo" } });
    expect(validate(broken)).toBe(false);
    expect(formatErrors(validate.errors)).toMatch(/\/jobs\/test\/parallelism/);
  });
});

/**
 * What the official schema lets through (it is loose on purpose: orb commands and job parameters
 * may have any name), checked for a config that uses no orbs: every step is a built-in or one of
 * its `commands`, every workflow job is a defined job with only CircleCI's keys, filters and `when`
 * use only their keys, every `requires` names a job of the workflow, every pipeline parameter used
 * is declared.
 */
function lintCircleConfig(config: Json): string[] {
  const problems: string[] = [];
  const BUILTIN_STEPS = ["run", "checkout", "setup_remote_docker", "save_cache", "restore_cache", "store_artifacts", "store_test_results", "persist_to_workspace", "attach_workspace", "add_ssh_keys", "when", "unless"];
  const commands = Object.keys(config.commands ?? {});
  const checkSteps = (where: string, steps: Json[]) => {
    for (const step of steps ?? []) {
      const name = stepName(step);
      if (!BUILTIN_STEPS.includes(name) && !commands.includes(name)) problems.push(`${where}: unknown step ${name}`);
    }
  };
  for (const [name, cmd] of Object.entries(config.commands ?? {})) checkSteps(`commands.${name}`, (cmd as Json).steps);
  for (const [name, job] of Object.entries(config.jobs ?? {})) {
    checkSteps(`jobs.${name}`, (job as Json).steps);
    const executor = (job as Json).executor;
    if (typeof executor === "string" && !config.executors?.[executor]) problems.push(`jobs.${name}: unknown executor ${executor}`);
  }
  const JOB_KEYS = ["name", "context", "requires", "filters", "matrix", "type", "pre-steps", "post-steps", "serial-group"];
  const checkWhen = (where: string, when: Json): void => {
    if (typeof when === "boolean" || typeof when === "string") return;
    if (when === null || typeof when !== "object" || Array.isArray(when)) return void problems.push(`${where}: a condition is a boolean, a parameter or one of and/or/not/equal/matches`);
    for (const [key, value] of Object.entries(when)) {
      if (key === "and" || key === "or") (value as Json[]).forEach((v, i) => checkWhen(`${where}.${key}[${i}]`, v));
      else if (key === "not") checkWhen(`${where}.not`, value);
      else if (key !== "equal" && key !== "matches") problems.push(`${where}: unknown condition ${key}`);
    }
  };
  for (const [wfName, wf] of Object.entries(config.workflows ?? {})) {
    if (wfName === "version") continue;
    if ((wf as Json).when !== undefined) checkWhen(`workflows.${wfName}.when`, (wf as Json).when);
    const entries = ((wf as Json).jobs as Json[]).map((e) => (typeof e === "string" ? [e, {}] : Object.entries(e)[0]!)) as Array<[string, Json]>;
    const names = entries.map(([job, cfg]) => cfg?.name ?? job);
    for (const [job, cfg] of entries) {
      const where = `workflows.${wfName}.${cfg?.name ?? job}`;
      if (!config.jobs?.[job]) problems.push(`${where}: no job ${job} in jobs`);
      for (const key of Object.keys(cfg ?? {})) if (!JOB_KEYS.includes(key)) problems.push(`${where}: unknown key ${key}`);
      for (const r of cfg?.requires ?? []) if (!names.includes(r)) problems.push(`${where}: requires ${r}, which is not in the workflow`);
      for (const [key, f] of Object.entries(cfg?.filters ?? {})) {
        if (key !== "branches" && key !== "tags") problems.push(`${where}: unknown filter ${key}`);
        for (const k of Object.keys(f as Json)) if (k !== "only" && k !== "ignore") problems.push(`${where}: unknown filter ${key}.${k}`);
      }
    }
  }
  const text = JSON.stringify(config);
  for (const m of text.matchAll(/<<\s*pipeline\.parameters\.([\w-]+)\s*>>/g)) {
    if (!config.parameters?.[m[1]!]) problems.push(`pipeline.parameters.${m[1]} is used but not declared`);
  }
  return problems;
}

describe("ci/github/workflow.yml against GitHub's workflow schema", () => {
  const schema = () => {
    if (!existsSync(GITHUB_SCHEMA_PATH)) expect.fail(`GitHub's workflow schema is missing at ${GITHUB_SCHEMA_PATH} (../shared/data/github/github-workflow.schema.json)`);
    return compileSchema(JSON.parse(readFileSync(GITHUB_SCHEMA_PATH, "utf8")));
  };

  it("validates", () => {
    const validate = schema();
    const ok = validate(github);
    expect(formatErrors(validate.errors)).toBe("");
    expect(ok).toBe(true);
  });

  it.each<[string, (w: Json) => void, RegExp]>([
    ["a job without runs-on", (w) => delete w.jobs.lint["runs-on"], /\/jobs\/lint/],
    ["a step with both run and uses", (w) => (w.jobs.lint.steps[0].run = "dagger call lint"), /\/jobs\/lint\/steps\/0/],
    ["a misspelt trigger", (w) => (w.on.pushh = w.on.push), /\/on/],
    ["a matrix that is a number", (w) => (w.jobs.test.strategy.matrix = 8), /\/jobs\/test\/strategy\/matrix/],
    ["an unknown permission level", (w) => (w.permissions["id-token"] = "maybe"), /\/permissions/],
  ])("rejects %s (the validation can fail)", (_, mutate, where) => {
    const validate = schema();
    const broken = structuredClone(github);
    mutate(broken);
    expect(validate(broken)).toBe(false);
    expect(formatErrors(validate.errors)).toMatch(where);
  });
});

describe("ci/circleci/config.yml: what the schema lets through", () => {
  it("uses only built-in steps and its own commands, defined jobs with CircleCI's keys, known filters and conditions", () => {
    expect(lintCircleConfig(circle)).toEqual([]);
  });

  const mutations: Array<[string, (c: Json) => void, string]> = [
    ["a misspelt step", (c) => c.jobs.lint.steps.push({ runn: "x" }), "jobs.lint: unknown step runn"],
    ["a misspelt requires", (c) => (c.workflows["test-build-deploy"].jobs[1].lint.requirez = ["test"]), "unknown key requirez"],
    ["a requirement not in the workflow", (c) => (c.workflows["test-build-deploy"].jobs[1].lint.requires = ["tests"]), "requires tests, which is not in the workflow"],
    ["a misspelt filter", (c) => (c.workflows["test-build-deploy"].jobs[0]["validate-branch"].filters = { tag: { only: "/x/" } }), "unknown filter tag"],
    ["a misspelt condition", (c) => (c.workflows["teardown-feature"].when = { equals: [1, 2] }), "unknown condition equals"],
    ["an undeclared parameter", (c) => (c.workflows["teardown-feature"].when = { equal: ["delete", "<< pipeline.parameters.GHA_event >>"] }), "pipeline.parameters.GHA_event is used but not declared"],
  ];
  it.each(mutations)("catches %s (which the schema accepts)", (_, mutate, fragment) => {
    const broken = structuredClone(circle);
    mutate(broken);
    expect(lintCircleConfig(broken).join("\n")).toContain(fragment);
  });

  it("control: the real Rails config from the shared data validates against the schema too", () => {
    const real = path.join(SHARED, "data/circleci/laa-apply-for-legal-aid_config.yml");
    if (!existsSync(real) || !existsSync(SCHEMA_PATH)) expect.fail(`missing ${real} or ${SCHEMA_PATH}`);
    const validate = compileSchema(JSON.parse(readFileSync(SCHEMA_PATH, "utf8")));
    expect(validate(parseYaml(readFileSync(real, "utf8"), { merge: true }))).toBe(true);
  });
});

// --- thin CI: every step is the CI's own, the CLI install, or ONE dagger call --------------------

/** Non-comment, non-empty lines: the size of a config. */
const configLines = (text: string) => text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")).length;

const INSTALL = /^curl -fsSL https:\/\/dl\.dagger\.io\/dagger\/install\.sh \| BIN_DIR=\/usr\/local\/bin sudo -E sh$/;

/**
 * What a run script is: the official install command, or exactly one `dagger call` and nothing
 * else (a `$(...)` argument is allowed: it is the call's input). Anything else is a problem:
 * several commands, `;`/`&&`/`|`, `if`/`case`/loops, jq, a heredoc.
 */
function runStepProblem(script: string): string | undefined {
  const text = script.trim();
  if (INSTALL.test(text)) return undefined;
  const tokens = lexShell(text);
  const ops = tokens.filter((t) => t.kind !== "word").map((t) => (t.kind === "op" ? t.op : t.op));
  if (ops.some((o) => o !== "\n")) return `more than one command (${[...new Set(ops)].filter((o) => o !== "\n").join(" ")}): ${text.slice(0, 80)}`;
  const words = tokens.filter((t) => t.kind === "word").map((t) => (t as { word: ShellWord }).word);
  if (words[0]?.value !== "dagger") return `not a dagger call: ${text.slice(0, 80)}`;
  if (/\b(jq|if|then|fi|for|while|case|esac)\b/.test(words.filter((w) => !w.dynamic).map((w) => w.value).join(" "))) return `shell logic in a run step: ${text.slice(0, 80)}`;
  const calls = findDaggerCalls({ file: "step", line: 1, text, lineByLine: true });
  if (calls.length !== 1) return `${calls.length} dagger calls in one step: ${text.slice(0, 80)}`;
  return undefined;
}

describe("thin CI: every run step installs the Dagger CLI or is ONE dagger call", () => {
  const circleRuns = Object.keys(circle.jobs).flatMap((job) => runCommands(job).map((text) => [`circleci ${job}`, text] as const));
  const githubRuns = Object.entries(github.jobs as Record<string, Json>).flatMap(([job, j]) =>
    (j.steps as Json[]).filter((s) => typeof s.run === "string").map((s) => [`github ${job}`, s.run as string] as const),
  );

  it.each([
    [CIRCLECI_PATH, circleText],
    [GITHUB_PATH, githubText],
  ])("%s: under 160 non-comment lines", (file, text) => {
    expect(configLines(text), file).toBeLessThan(160);
  });

  it("no run step is anything else: no jq, no if, no loops, no second command", () => {
    const problems = [...circleRuns, ...githubRuns].flatMap(([where, text]) => {
      const p = runStepProblem(text);
      return p ? [`${where}: ${p}`] : [];
    });
    expect(problems).toEqual([]);
    expect(circleRuns.length + githubRuns.length).toBeGreaterThanOrEqual(20);
  });

  it("the other steps are CircleCI's own (checkout, caches, workspace, test results) or GitHub's (checkout, cache, artifacts, the AWS OIDC exchange)", () => {
    const CIRCLE_OWN = ["checkout", "setup_remote_docker", "restore_cache", "save_cache", "persist_to_workspace", "attach_workspace", "store_test_results", "store_artifacts", "install-dagger", "run"];
    for (const job of Object.keys(circle.jobs)) {
      for (const step of circle.jobs[job].steps as Json[]) expect(CIRCLE_OWN, `${job}: ${stepName(step)}`).toContain(stepName(step));
    }
    const GITHUB_ACTIONS = ["actions/checkout", "actions/cache/restore", "actions/cache/save", "actions/upload-artifact", "actions/download-artifact", "aws-actions/configure-aws-credentials"];
    for (const [job, j] of Object.entries(github.jobs as Record<string, Json>)) {
      for (const step of j.steps as Json[]) {
        if (typeof step.run === "string") continue;
        expect(GITHUB_ACTIONS, `${job}: ${step.uses}`).toContain(String(step.uses).replace(/@.*$/, ""));
      }
    }
  });

  it.each([
    ["a jq filter", "dagger call test report export --path x\njq . x/timings.json"],
    ["an if around two calls", 'if [ -s t.json ]; then dagger call test --timings t.json; else dagger call test; fi'],
    ["a loop", "for f in a b; do dagger call lint; done"],
    ["two commands joined", "mkdir -p x && dagger call lint"],
    ["a pipe", "dagger call plan | tee plan.txt"],
    ["a case", 'case "$R" in feature/*) dagger call lint ;; esac'],
    ["no dagger at all", "docker stop $(docker ps -q)"],
  ])("the rule catches %s", (_, script) => {
    expect(runStepProblem(script)).toBeDefined();
  });

  it("the rule lets the call's own $(...) input through", () => {
    expect(runStepProblem('dagger call feature-sweep --live-branches "$(git ls-remote --heads origin)"')).toBeUndefined();
  });
});
// --- CircleCI structure ---------------------------------------------------------------------------

describe("ci/circleci/config.yml structure", () => {
  const main = () => workflowJobs("test-build-deploy");
  const byName = (name: string) => main().find((j) => j.name === name)!;
  const stepIndex = (job: string, match: (s: Json) => boolean) => jobSteps(job).findIndex(match);
  const runIndex = (job: string, re: RegExp) => stepIndex(job, (s) => stepName(s) === "run" && re.test(typeof s.run === "string" ? s.run : s.run.command));

  it("is version 2.1 with the workflow test-build-deploy and its jobs", () => {
    expect(circle.version).toBe(2.1);
    expect(main().map((j) => j.name).sort()).toEqual(["base-image", "deploy", "deploy-prod", "feature-deploy", "lint", "save-timings", "test", "validate-branch"]);
  });

  it("installs the Dagger CLI pinned to dagger.json's engine version with the official script, with a Docker engine", () => {
    expect(engineVersion).toBe("v0.21.9");
    expect(String(circle.executors.dagger.environment.DAGGER_VERSION)).toBe(engineVersion.replace(/^v/, ""));
    const install = circle.commands["install-dagger"].steps as Json[];
    expect(install).toContain("setup_remote_docker");
    expect(install.find((s) => s.run).run).toMatch(INSTALL);
    for (const job of Object.keys(circle.jobs)) {
      if (callsOfJob(job).length === 0) continue;
      expect(circle.jobs[job].executor, job).toBe("dagger");
      const names = (circle.jobs[job].steps as Json[]).map(stepName);
      expect(names.indexOf("install-dagger"), `${job} installs dagger before calling it`).toBeGreaterThan(-1);
      expect(names.indexOf("install-dagger"), `${job} checks out first (dagger call finds the project's dagger.json)`).toBeGreaterThan(names.indexOf("checkout"));
      expect(names.indexOf("checkout"), job).toBe(0);
    }
  });

  it("runs every job's work through dagger call: no rspec, rubocop, docker build, aws or terragrunt in run steps", () => {
    for (const job of Object.keys(circle.jobs)) {
      for (const text of runCommands(job)) {
        expect(text, job).not.toMatch(/\b(bundle|rspec|rubocop|terragrunt|kubectl|gruntkms|docker (build|push|login|stop)|aws (ecr|sts|eks))\b/);
        expect(text, job).not.toMatch(/(^|[\s|])base64 /); // the module decodes the key (--ssh-key-base64)
      }
    }
  });

  it("validate-branch runs plan with the branch, tag and sha (plan rejects bad feature names)", () => {
    const [plan] = check(callsOfJob("validate-branch"));
    expect(chainOf(plan!)).toBe("plan --branch --tag --sha");
    expect(plan!.steps[0]!.flags.get("--branch")!.value).toBe("${CIRCLE_BRANCH:-}");
    expect(plan!.steps[0]!.flags.get("--sha")!.value).toBe("$CIRCLE_SHA1");
    expect(byName("validate-branch").requires).toEqual([]);
    expect(byName("lint").requires).toEqual(["validate-branch"]);
  });

  it("test: 8 nodes, each its own shard, reports exported and stored, then check-tests fails from them: the suite runs once", () => {
    expect(circle.jobs.test.parallelism).toBe(8);
    const calls = check(callsOfJob("test"));
    expect(calls.map(chainOf)).toEqual(["with-github-token --token | test --shards --shard-index | report | export --path", "check-tests --report"]);
    const test = calls[0]!.steps.find((s) => s.fn === "test")!;
    expect(test.flags.get("--shards")!.value).toBe("$CIRCLE_NODE_TOTAL");
    expect(test.flags.get("--shard-index")!.value).toBe("$CIRCLE_NODE_INDEX");
    expect(calls[0]!.steps.at(-1)!.flags.get("--path")!.value).toBe("test_results");
    expect(calls[1]!.steps[0]!.flags.get("--report")!.value).toBe("test_results");

    const exportAt = runIndex("test", /report export --path test_results/);
    const checkAt = runIndex("test", /check-tests/);
    const at = (name: string) => stepIndex("test", (s) => stepName(s) === name);
    expect(jobSteps("test")[at("store_test_results")].store_test_results.path).toBe("test_results/junit/merged.xml");
    expect(jobSteps("test")[at("store_artifacts")].store_artifacts.path).toBe("test_results");
    expect(at("restore_cache")).toBeLessThan(exportAt);
    for (const after of ["store_test_results", "store_artifacts", "persist_to_workspace"]) {
      expect(at(after), after).toBeGreaterThan(exportAt);
      expect(at(after), `${after} before the failing step`).toBeLessThan(checkAt);
    }
  });

  it("timings: each node restores the last merged .pipeline/timings.json (what test reads first), persists its own file; save-timings merges them and saves the cache the restore finds", () => {
    expect(TIMINGS_CACHE).toBe(".pipeline/timings.json");
    const restore = jobSteps("test").find((s) => stepName(s) === "restore_cache").restore_cache;
    const save = jobSteps("save-timings").find((s) => stepName(s) === "save_cache").save_cache;
    expect(save.key).toBe("pipeline-timings-v2-{{ .Branch }}-{{ epoch }}");
    expect(restore.keys[0]).toBe("pipeline-timings-v2-{{ .Branch }}-");
    for (const key of restore.keys) expect(save.key.replace("{{ .Branch }}", "da/develop").startsWith(key.replace("{{ .Branch }}", "da/develop")), key).toBe(true);
    expect(restore.keys.at(-1)).toBe("pipeline-timings-v2-");
    expect(save.paths).toEqual([TIMINGS_CACHE]);

    const persist = jobSteps("test").find((s) => stepName(s) === "persist_to_workspace").persist_to_workspace;
    expect(persist).toEqual({ root: "test_results", paths: ["timings/shard-*.json"] });
    const attach = jobSteps("save-timings").find((s) => stepName(s) === "attach_workspace").attach_workspace;
    const [merge] = check(callsOfJob("save-timings"));
    expect(chainOf(merge!)).toBe("merge-timings --nodes | export --path");
    expect(merge!.steps[0]!.flags.get("--nodes")!.value).toBe(`${attach.at}/timings`);
    expect(merge!.steps[1]!.flags.get("--path")!.value).toBe(TIMINGS_CACHE);
    expect(runIndex("save-timings", /merge-timings/)).toBeLessThan(stepIndex("save-timings", (s) => stepName(s) === "save_cache"));
    expect(byName("save-timings").requires).toEqual(["test"]);
  });

  it("deploy jobs require lint, test, save-timings (every node ran the same plan) and base-image; base-image runs in parallel with test", () => {
    for (const name of ["deploy", "deploy-prod", "feature-deploy"]) {
      expect(byName(name).requires, name).toEqual(expect.arrayContaining(["lint", "test", "save-timings", "base-image"]));
    }
    expect(byName("base-image").requires).toEqual(["validate-branch"]);
    expect(byName("test").requires).toEqual(["validate-branch"]);
    const deployCalls = (job: string) => check(callsOfJob(job)).map((c) => c.steps.at(-1)!.fn);
    expect(deployCalls("deploy")).toEqual(["deploy"]);
    expect(deployCalls("feature-deploy")).toEqual(["feature-deploy"]);
    expect(byName("deploy-prod").job).toBe("deploy");
  });

  const refs: Array<[string, Ref, string[]]> = [
    ["da/develop", { branch: "da/develop" }, ["deploy"]],
    ["da/stage", { branch: "da/stage" }, ["deploy"]],
    ["feature/new-loan-flow", { branch: "feature/new-loan-flow" }, ["feature-deploy"]],
    ["fix/typo", { branch: "fix/typo" }, []],
    ["main", { branch: "main" }, []],
    ["tag release-v1.2.3", { tag: "release-v1.2.3" }, ["deploy-prod"]],
    ["tag v1.2.3", { tag: "v1.2.3" }, []],
  ];
  it.each(refs)("%s: runs exactly the deploy jobs %j, and every job it runs has its requirements running", (_, ref, deploys) => {
    const running = main().filter((j) => runsFor(j.filters, ref));
    const names = new Set(running.map((j) => j.name));
    expect(running.filter((j) => ["deploy", "deploy-prod", "feature-deploy"].includes(j.name)).map((j) => j.name)).toEqual(deploys);
    // A job whose requirement is filtered out never runs: CircleCI says nothing, so check here.
    for (const j of running) for (const r of j.requires) expect(names.has(r), `${j.name} requires ${r}`).toBe(true);
    if ("tag" in ref && deploys.length) expect([...names].sort()).toEqual(["base-image", "deploy-prod", "lint", "save-timings", "test", "validate-branch"]);
  });

  it("every job in the chain to deploy-prod lists the release tag filter /^release-.*/", () => {
    const jobs = new Map(main().map((j) => [j.name, j]));
    const chain = new Set<string>();
    const walk = (name: string) => {
      chain.add(name);
      for (const r of jobs.get(name)!.requires) walk(r);
    };
    walk("deploy-prod");
    expect([...chain].sort()).toEqual(["base-image", "deploy-prod", "lint", "save-timings", "test", "validate-branch"]);
    for (const name of chain) expect(jobs.get(name)!.filters?.tags?.only, name).toBe("/^release-.*/");
  });

  it("secrets come from contexts: every job whose calls read an env: secret or the role variable has one; prod has its own", () => {
    const jobs = [...main(), ...workflowJobs("teardown-feature"), ...workflowJobs("sweep-features")];
    for (const j of jobs) {
      const secretEnv = check(callsOfJob(j.job)).flatMap((c) => c.steps.flatMap((s) => [...s.flags.values()].map((v) => v.value))).filter((v) => v.startsWith("env:"));
      const envInRun = runCommands(j.job).some((t) => /AWS_CI_ROLE_ARN/.test(t));
      if (secretEnv.length || envInRun) expect(j.context.length, `${j.name} reads ${secretEnv.join(", ")}`).toBeGreaterThan(0);
    }
    expect(byName("deploy").context).toEqual(["rails-pipeline"]);
    expect(byName("deploy-prod").context).toEqual(["rails-pipeline-prod"]);
    expect(check(callsOfJob("deploy"))[0]!.steps[0]).toMatchObject({ fn: "with-aws-web-identity" });
    // The infrastructure-live key stays one line in the context and is decoded by the module: no step writes it to a file.
    expect(check(callsOfJob("deploy"))[0]!.steps.find((s) => s.fn === "with-git-credentials")!.flags.get("--ssh-key-base64")!.value).toBe("env:INFRA_LIVE_SSH_KEY_B64");
  });

  it("teardown-feature runs only on the delete webhook's pipeline parameter, and hands the deleted ref to feature-teardown --branch", () => {
    for (const p of ["GHA_Event", "GHA_Meta", "GHA_Actor", "GHA_Action"]) expect(circle.parameters[p], p).toEqual({ type: "string", default: "" });
    expect(circle.workflows["teardown-feature"].when).toEqual({ equal: ["delete", "<< pipeline.parameters.GHA_Event >>"] });
    expect(circle.workflows["test-build-deploy"].when.and).toContainEqual({ not: { equal: ["delete", "<< pipeline.parameters.GHA_Event >>"] } });
    expect(circle.workflows["test-build-deploy"].when.and).toContainEqual({ not: "<< pipeline.parameters.run-feature-sweep >>" });
    expect(workflowJobs("teardown-feature").map((j) => j.job)).toEqual(["teardown-feature"]);
    expect(circle.jobs["teardown-feature"].environment.DELETED_REF).toBe("<< pipeline.parameters.GHA_Meta >>");
    const [teardown] = check(callsOfJob("teardown-feature"));
    expect(teardown!.steps.at(-1)!.fn).toBe("feature-teardown");
    expect(teardown!.steps.at(-1)!.flags.get("--branch")!.value).toBe("$DELETED_REF");
    expect(circle.workflows["sweep-features"].when).toBe("<< pipeline.parameters.run-feature-sweep >>");
  });

  it("never pastes a pipeline parameter into a script (a branch name may hold $(...)): parameters go through environment", () => {
    for (const job of Object.keys(circle.jobs)) for (const text of runCommands(job)) expect(text, job).not.toContain("<<");
  });
});

// --- GitHub Actions structure ---------------------------------------------------------------------

describe("ci/github/workflow.yml structure", () => {
  const jobs = () => github.jobs as Record<string, Json>;
  const ghRunScripts = (job: string): string[] => (jobs()[job].steps as Json[]).filter((s) => typeof s.run === "string").map((s) => s.run);
  const ghCalls = (job: string) => check(ghRunScripts(job).flatMap((text) => findDaggerCalls({ file: job, line: 1, text, lineByLine: true })));
  const uses = (job: string, action: string) => (jobs()[job].steps as Json[]).find((s) => String(s.uses).startsWith(action));

  it("triggers on pushes of branches and release-* tags, on delete, and has the OIDC permission", () => {
    expect(github.on.push).toEqual({ branches: ["**"], tags: ["release-*"] });
    expect(github.on).toHaveProperty("delete");
    expect(github.permissions["id-token"]).toBe("write");
    expect(github.permissions.contents).toBe("read");
    expect(String(github.env.DAGGER_VERSION)).toBe(engineVersion.replace(/^v/, ""));
    for (const [name, job] of Object.entries(jobs())) {
      const steps = (job.steps as Json[]).map((s) => s.uses ?? s.run);
      expect(String(steps[0]), `${name} checks out first`).toMatch(/^actions\/checkout@/);
      if (ghRunScripts(name).some((t) => t.startsWith("dagger "))) expect(steps.filter((s) => INSTALL.test(String(s))), `${name} installs the CLI`).toHaveLength(1);
    }
  });

  it("test is a matrix over shard indexes 0..7 of SHARDS=8: export, upload, then check-tests from the exported report", () => {
    expect(github.env.SHARDS).toBe(8);
    expect(jobs().test.strategy.matrix.shard).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(jobs().test.strategy["fail-fast"]).toBe(false);
    expect(jobs().test.env.SHARD_INDEX).toBe("${{ matrix.shard }}");
    const calls = ghCalls("test");
    expect(calls.map(chainOf)).toEqual(["with-github-token --token | test --shards --shard-index | report | export --path", "check-tests --report"]);
    const test = calls[0]!.steps.find((s) => s.fn === "test")!;
    expect(test.flags.get("--shards")!.value).toBe("$SHARDS");
    expect(test.flags.get("--shard-index")!.value).toBe("$SHARD_INDEX");
    const steps = jobs().test.steps as Json[];
    const at = (pred: (s: Json) => boolean) => steps.findIndex(pred);
    const exportAt = at((s) => /report export/.test(s.run ?? ""));
    const uploads = steps.filter((s) => String(s.uses).startsWith("actions/upload-artifact")).map((s) => s.with.path);
    expect(uploads).toEqual(["test_results", "test_results/timings"]);
    expect(at((s) => String(s.uses).startsWith("actions/upload-artifact"))).toBeGreaterThan(exportAt);
    const lastUpload = steps.map((s) => String(s.uses).startsWith("actions/upload-artifact")).lastIndexOf(true);
    expect(at((s) => /check-tests/.test(s.run ?? ""))).toBeGreaterThan(lastUpload);
    expect(uses("test", "actions/cache/restore").with.path).toBe(TIMINGS_CACHE);
  });

  it("save-timings merges the shards' timings and saves the cache the test shards restore", () => {
    expect(jobs()["save-timings"].needs).toBe("test");
    const download = uses("save-timings", "actions/download-artifact").with;
    expect(download).toMatchObject({ pattern: "timings-shard-*", "merge-multiple": true, path: "${{ runner.temp }}/timings" });
    const [merge] = ghCalls("save-timings");
    expect(chainOf(merge!)).toBe("merge-timings --nodes | export --path");
    expect(merge!.steps[0]!.flags.get("--nodes")!.value).toBe("$RUNNER_TEMP/timings");
    expect(merge!.steps[1]!.flags.get("--path")!.value).toBe(TIMINGS_CACHE);
    const save = uses("save-timings", "actions/cache/save").with;
    const restore = uses("test", "actions/cache/restore").with;
    expect(save.path).toBe(TIMINGS_CACHE);
    expect(save.key).toBe(restore.key);
    for (const prefix of String(restore["restore-keys"]).trim().split("\n")) expect(save.key.startsWith(prefix.trim()), prefix).toBe(true);
  });

  it("deploys after lint, test, save-timings and base-image: da/develop, da/stage and release-* tags run deploy, feature/* feature-deploy", () => {
    for (const name of ["deploy", "feature-deploy"]) expect(jobs()[name].needs).toEqual(["lint", "test", "save-timings", "base-image"]);
    expect(jobs().deploy.if).toContain("github.ref == 'refs/heads/da/develop'");
    expect(jobs().deploy.if).toContain("github.ref == 'refs/heads/da/stage'");
    expect(jobs().deploy.if).toContain("startsWith(github.ref, 'refs/tags/release-')");
    expect(jobs()["feature-deploy"].if).toBe("startsWith(github.ref, 'refs/heads/feature/')");
    expect(jobs()["base-image"].needs).toBe("validate-branch");
    expect(ghCalls("deploy").map((c) => c.steps.at(-1)!.fn)).toEqual(["deploy"]);
    expect(ghCalls("feature-deploy").map((c) => c.steps.at(-1)!.fn)).toEqual(["feature-deploy"]);
  });

  it("tears down a deleted feature/* branch on `delete` (feature-teardown --branch), and sweeps on the schedule", () => {
    expect(jobs()["teardown-feature"].if).toBe("github.event_name == 'delete' && github.event.ref_type == 'branch' && startsWith(github.event.ref, 'feature/')");
    expect(jobs()["teardown-feature"].env.DELETED_REF).toBe("${{ github.event.ref }}");
    const teardown = ghCalls("teardown-feature")[0]!.steps.at(-1)!;
    expect(teardown.fn).toBe("feature-teardown");
    expect(teardown.flags.get("--branch")!.value).toBe("$DELETED_REF");
    expect(jobs()["sweep-features"].if).toBe("github.event_name == 'schedule'");
    expect(ghCalls("sweep-features")[0]!.steps.at(-1)!.fn).toBe("feature-sweep");
    expect(jobs()["validate-branch"].if).toBe("github.event_name == 'push'");
  });

  it("hands secrets only to the steps that call dagger (step env), never to a whole job or workflow", () => {
    expect(JSON.stringify(github.env)).not.toContain("secrets.");
    let handed = 0;
    for (const [name, job] of Object.entries(jobs())) {
      expect(JSON.stringify(job.env ?? {}), name).not.toContain("secrets.");
      for (const step of job.steps as Json[]) {
        if (!JSON.stringify(step.env ?? {}).includes("secrets.")) continue;
        handed++;
        expect(typeof step.run === "string" && step.run.startsWith("dagger call "), `${name}: ${step.name}`).toBe(true);
      }
    }
    expect(handed).toBeGreaterThanOrEqual(6);
  });

  it("never pastes a ${{ }} expression into a script (script injection): values go through env", () => {
    for (const job of Object.keys(jobs())) for (const text of ghRunScripts(job)) expect(text, job).not.toContain("${{");
  });
});


describe("every dagger call in the CI configs exists in the module, as an application repository calls it (introspection)", () => {
  const configs: Array<[string, string]> = [
    [CIRCLECI_PATH, circleText],
    [GITHUB_PATH, githubText],
  ];

  it.each(configs)("%s: every function, flag and required flag is real, no -m, no --source, and secrets are env:/file: references", (file, text) => {
    const calls = extractDaggerCalls(text, file);
    expect(calls.length).toBeGreaterThanOrEqual(10);
    expect(problemsOf(calls).join("\n\n")).toBe("");
    for (const c of calls) expect(c.globalArgs, c.text).toEqual([]);
    const fns = new Set(check(calls).flatMap((c) => c.steps.map((s) => s.fn)));
    for (const fn of ["plan", "lint", "test", "report", "export", "check-tests", "merge-timings", "base-image", "deploy", "feature-deploy", "feature-teardown", "feature-sweep", "with-github-token", "with-git-credentials"]) {
      expect(fns, `${file} calls ${fn}`).toContain(fn);
    }
    // The secret check is not vacuous: every config passes several secrets, all as references.
    const secretValues = check(calls).flatMap((c) => c.steps.flatMap((s) => [...s.flags].filter(([f]) => looksSecret(f)).map(([, v]) => v.value)));
    expect(secretValues.length).toBeGreaterThanOrEqual(10);
    for (const v of secretValues) expect(v).toMatch(/^(env:[A-Za-z_]\w*|file:\S+)$/);
  });

  it("every dagger call is found: each `dagger` command word in a run script is a call", () => {
    for (const [file, text] of configs) {
      for (const script of extractScripts(text, file)) {
        const words = lexShell(script.text).filter((t) => t.kind === "word").map((t) => (t as { word: { value: string } }).word.value);
        const daggerWords = words.filter((w) => /(^|\/)dagger"?$/.test(w)).length;
        expect(findDaggerCalls(script).length, `${file}:${script.line}`).toBe(daggerWords);
      }
    }
  });

  it(`${CI_README_PATH}: its dagger calls (the static-keys alternative, the laptop calls) exist too`, () => {
    if (!existsSync(path.join(REPO_ROOT, CI_README_PATH))) expect.fail(`${CI_README_PATH} is missing`);
    const calls = extractMarkdownScripts(read(CI_README_PATH), CI_README_PATH).flatMap(findDaggerCalls);
    expect(calls.length).toBeGreaterThan(0);
    expect(problemsOf(calls).join("\n\n")).toBe("");
  });

  it("README.md: every dagger call a user copies from it exists, with secrets only as env:/file:", () => {
    const calls = extractMarkdownScripts(read("README.md"), "README.md").flatMap(findDaggerCalls);
    expect(calls.length).toBeGreaterThan(5);
    expect(problemsOf(calls).join("\n\n")).toBe("");
  });

  it("a renamed flag breaks the configs: with test's --shard-index renamed, the test call fails", () => {
    const renamed: Surface = new Map([...surface].map(([o, fns]) => [o, new Map(fns)]));
    const test = renamed.get("Pipeline")!.get("test")!;
    const flags = new Map([...test.flags].map(([f, s]) => (f === "--shard-index" ? ["--shard-idx", { ...s, flag: "--shard-idx" }] : [f, s])));
    renamed.get("Pipeline")!.set("test", { ...test, flags });
    const problems = extractDaggerCalls(circleText, CIRCLECI_PATH).flatMap((c) => checkDaggerCall(c, renamed, { workspace: true }).problems);
    expect(problems.filter((p) => p.includes("unknown flag --shard-index for Pipeline.test"))).toHaveLength(1);
  });
});

// --- the checker itself (small inline snippets) ----------------------------------------------------

describe("the dagger call checker catches mistakes", () => {
  const cases: Array<[string, string, string]> = [
    ["an unknown function", "steps:\n  - run: dagger call deploi --env dev\n", "unknown function deploi on Pipeline"],
    ["an unknown flag", "steps:\n  - run: dagger call test --shard 2\n", "unknown flag --shard for Pipeline.test"],
    ["an unknown function down the chain (core Directory)", "steps:\n  - run: dagger call test report exprt --path out\n", "unknown function exprt on Directory"],
    ["an unknown flag of a core function", "steps:\n  - run: dagger call test report export --dir out\n", "unknown flag --dir for Directory.export"],
    ["a plaintext secret from a variable", 'steps:\n  - run: dagger call with-github-token --token "$GITHUB_OAUTH_TOKEN" lint\n', "plaintext secret: with-github-token --token"],
    ["a plaintext secret literal", "steps:\n  - run: dagger call with-registry-auth --username ci --password hunter2 base-image\n", "plaintext secret: with-registry-auth --password hunter2"],
    ["a plaintext secret with =", "steps:\n  - run: dagger call with-aws-credentials --access-key-id=AKIAEXAMPLE lint\n", "plaintext secret: with-aws-credentials --access-key-id"],
    ["a missing required flag", "steps:\n  - run: dagger call check-tests\n", "check-tests needs --report"],
    ["-m in the workspace form", "steps:\n  - run: dagger -m github.com/acme/pipeline call lint\n", "-m: in a project set up with dagger init --blueprint"],
    ["the project passed as --source again", "steps:\n  - run: dagger call test --source . --shards 8\n", "test --source .: the default is the project itself"],
    ["a non-integer literal", "steps:\n  - run: dagger call test --shards eight\n", "--shards eight is not an integer"],
    ["an enum value that is not a member", "steps:\n  - run: dagger call deploy --env production --dry-run\n", "deploy --env production is not one of dev, prod, stage"],
    ["a cluster access mode spelled as before the enum", "steps:\n  - run: dagger call deploy --env dev --cluster-access update-kubeconfig\n", "--cluster-access update-kubeconfig is not one of none, update_kubeconfig"],
    ["calling on a string", "steps:\n  - run: dagger call lint stdout\n", "the previous function returns string"],
    ["an unknown dagger global flag", "steps:\n  - run: dagger --modul x call lint\n", "unknown dagger global flag --modul"],
    ["a dynamic function name", 'steps:\n  - run: dagger call "$FN" --source .\n', "is not a literal"],
  ];
  it.each(cases)("%s", (_, yaml, fragment) => {
    const problems = problemsOf(snippet(yaml));
    expect(problems.join("\n")).toContain(fragment);
    if (!/dagger init --blueprint|the default is the project/.test(fragment)) expect(looseProblemsOf(snippet(yaml)).join("\n")).toContain(fragment);
  });

  it("accepts env: and file: secrets, booleans without a value, chains through fields and core types", () => {
    const yaml = [
      "jobs:",
      "  a:",
      "    steps:",
      "      - run:",
      "          command: |",
      "            dagger call with-git-credentials --ssh-key file:$HOME/.ssh/id --token env:INFRA_LIVE_TOKEN \\",
      "              deploy --env prod --tag release-v1.2.3 --sha \"$CIRCLE_SHA1\" --dry-run",
      "            dagger call test --shards=8 --shard-index 0 report file --path junit/merged.xml export --path merged.xml",
      "            dagger call app-image --env dev publish --address registry.local/app:dev",
      "            dagger call serve --env dev up --ports 8080:8080",
      "            dagger call decrypt-env --env dev plaintext",
    ].join("\n");
    const calls = snippet(yaml);
    expect(calls).toHaveLength(5);
    expect(problemsOf(calls)).toEqual([]);
    const [deploy] = check(calls);
    expect(deploy!.steps.at(-1)!.flags.get("--dry-run")!.value).toBe("true");
    expect(calls.map((c) => c.line)).toEqual([6, 8, 9, 10, 11]);
  });

  it("extracts calls across continuations, if/then, pipes, $(...), comments, heredocs and CI expressions", () => {
    const script = [
      "# dagger call not-a-call --in a comment",
      "if [ -n \"$X\" ]; then dagger -m \"$MOD\" call lint --source . 2>&1 | tee lint.log; fi",
      "REF=$(dagger call publish-app-image --branch \"${{ github.ref_name }}\" --sha << pipeline.git.revision >>)",
      "cat <<EOF",
      "dagger call inside --a-heredoc",
      "EOF",
      "dagger version",
      "DAGGER_CLOUD_TOKEN=x dagger call \\",
      "  check-env \\",
      "  --env 'prod'",
    ].join("\n");
    const calls = findDaggerCalls({ file: "s.sh", line: 10, text: script, lineByLine: true });
    expect(calls.map((c) => [c.line, c.args.map((w) => w.value).join(" ")])).toEqual([
      [11, "lint --source ."],
      [12, "publish-app-image --branch ${CI_EXPRESSION} --sha ${CI_PARAMETER}"],
      [17, "check-env --env prod"],
    ]);
    expect(calls[0]!.globalArgs.map((w) => w.value)).toEqual(["-m", "$MOD"]);
    expect(looseProblemsOf(calls)).toEqual([]);
  });

  it("reads run: and command: values of GitHub Actions and CircleCI with their file lines", () => {
    const yaml = ["jobs:", "  x:", "    steps:", "      - run: dagger call lint", "      - run:", "          command: dagger call check-env", "      - name: gh", "        run: |", "          echo hi", "          dagger call plan --sha abc"].join("\n");
    expect(extractDaggerCalls(yaml, "x.yml").map((c) => [c.line, c.args[0]!.value])).toEqual([
      [4, "lint"],
      [6, "check-env"],
      [10, "plan"],
    ]);
  });
});


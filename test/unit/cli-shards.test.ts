import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatUsage, parseFlags, runCli, type CliIo } from "../../modules/pipeline/cli/args.js";
import { readSpecFiles, runShardsCli } from "../../modules/pipeline/cli/shards.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { REPO_ROOT } from "../support/introspect.js";

const KNAPSACK = path.resolve(REPO_ROOT, "../shared/data/timings/ecf_knapsack_rspec_report.json");
const JUNIT = path.resolve(REPO_ROOT, "../shared/data/junit/safecast_rspec_186tests.xml");
const knapsackKeys = Object.keys(JSON.parse(readFileSync(KNAPSACK, "utf8")) as Record<string, number>).sort();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as a subprocess, the way `npm run --silent shards -- ...` does. */
async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)("npx", ["tsx", "modules/pipeline/cli/shards.ts", ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

interface PlanJson {
  shards: Array<{ index: number; units: string[]; predictedSeconds: number }>;
  lowerBoundSeconds: number;
  makespanSeconds: number;
  ratio: number;
  warnings: string[];
  coverage?: unknown;
}

let app: string;
beforeAll(() => {
  app = mkdtempSync(path.join(tmpdir(), "cli-shards-"));
  for (const f of ["spec/models/loan_spec.rb", "spec/models/vehicle_spec.rb", "spec/requests/loans_spec.rb", "spec/jobs/new_job_spec.rb", "spec/support/helper.rb"]) {
    mkdirSync(path.join(app, path.dirname(f)), { recursive: true });
    writeFileSync(path.join(app, f), "");
  }
  writeFileSync(path.join(app, "timings.json"), JSON.stringify({ "./spec/models/loan_spec.rb": 8, "spec/models/vehicle_spec.rb": 2, "spec/requests/loans_spec.rb": 4, "spec/gone_spec.rb": 50 }));
  writeFileSync(path.join(app, "broken.json"), `{"spec/models/loan_spec.rb": 8,`);
  mkdirSync(path.join(app, "nospec"));
});
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe("npm run shards (real subprocess)", () => {
  it("plans the shared knapsack report into the documented JSON shape", async () => {
    const run = await cli("--timings", KNAPSACK, "--shards", "8", "--format", "json");
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    const plan = JSON.parse(run.stdout) as PlanJson;
    expect(plan.shards).toHaveLength(8);
    plan.shards.forEach((s, i) => {
      expect(Object.keys(s)).toEqual(["index", "units", "predictedSeconds"]);
      expect(s.index).toBe(i);
      expect(typeof s.predictedSeconds).toBe("number");
      expect(s.units.length).toBeGreaterThan(0);
    });
    expect(plan.lowerBoundSeconds).toBeCloseTo(3313.58 / 8, 1);
    expect(plan.makespanSeconds).toBeGreaterThanOrEqual(plan.lowerBoundSeconds);
    expect(plan.makespanSeconds / plan.lowerBoundSeconds).toBeLessThanOrEqual(1.02);
    // without --source the units are exactly the entries of the timings file
    expect(plan.shards.flatMap((s) => s.units).sort()).toEqual(knapsackKeys);
    expect(plan.coverage).toMatchObject({ source: KNAPSACK, format: "knapsack", files: { total: knapsackKeys.length, measured: knapsackKeys.length } });
    expect(plan.coverage).not.toHaveProperty("fallback");
  });

  it("says loudly, on stderr and in the plan, when the split has no measured timings", async () => {
    const run = await cli("--source", "test/fixtures/rails-api", "--shards", "4", "--format", "text");
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^WARNING: no measured timings: all \d+ files are estimated from equal times/m);
    expect(run.stdout).toMatch(/^timings: 0 of \d+ files measured \(0%\)/m);
    expect(run.stdout).toMatch(/^WARNING: no measured timings/m);
  });

  it("prints one shard as rspec arguments (text) and as JSON, the same units as in the full plan", async () => {
    const [full, text, json] = await Promise.all([
      cli("--timings", KNAPSACK, "--shards", "8"),
      cli("--timings", KNAPSACK, "--shards", "8", "--shard-index", "3", "--format", "text"),
      cli("--timings", KNAPSACK, "--shards", "8", "--shard-index=3"),
    ]);
    const units = (JSON.parse(full.stdout) as PlanJson).shards[3]!.units;
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`${units.join(" ")}\n`);
    expect(JSON.parse(json.stdout)).toEqual({ index: 3, units, predictedSeconds: (JSON.parse(full.stdout) as PlanJson).shards[3]!.predictedSeconds });
  });

  it("reads JUnit timings and prints a text plan", async () => {
    const run = await cli("--timings", JUNIT, "--shards", "4", "--format", "text");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("lpt plan: 54 files over 4 shard(s)");
    expect(run.stdout).toMatch(/ratio 1\.0\d{3}/);
  });

  it("with --source plans the spec files that exist: vanished dropped, new estimated, warnings on stderr", async () => {
    const run = await cli("--timings", path.join(app, "timings.json"), "--source", app, "--shards", "2");
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as PlanJson;
    expect(plan.shards.flatMap((s) => s.units).sort()).toEqual(["spec/jobs/new_job_spec.rb", "spec/models/loan_spec.rb", "spec/models/vehicle_spec.rb", "spec/requests/loans_spec.rb"]);
    expect(plan.shards.map((s) => s.predictedSeconds)).toEqual([10, 8]); // loan 8 + vehicle 2 | loans 4 + new_job (median) 4
    expect(run.stderr).toContain("warning: ");
    expect(run.stderr).toContain("dropped 1 timed file(s) that no longer exist: spec/gone_spec.rb");
    expect(run.stderr).toContain("1 file(s) have no timing and get the median 4.00 s: spec/jobs/new_job_spec.rb");
  });

  it("with --source a malformed timings file only warns and the split falls back", async () => {
    const run = await cli("--timings", path.join(app, "broken.json"), "--source", app, "--shards", "2");
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("ignoring");
    expect(run.stderr).toContain("not valid JSON");
    expect((JSON.parse(run.stdout) as PlanJson).shards.flatMap((s) => s.units)).toHaveLength(4);
  });

  it.each([
    ["--shards 0", ["--timings", KNAPSACK, "--shards", "0"], 2, "[ARGUMENT_INVALID] --shards 0 must be a whole number ≥ 1"],
    ["--shards not a number", ["--timings", KNAPSACK, "--shards", "eight"], 2, `--shards "eight" is not a whole number`],
    ["--shards missing", ["--timings", KNAPSACK], 2, "--shards is required"],
    ["--shard-index ≥ shards", ["--timings", KNAPSACK, "--shards", "8", "--shard-index", "8"], 2, "--shard-index 8 is out of range for --shards 8 (valid: 0 to 7)"],
    ["negative --shard-index", ["--timings", KNAPSACK, "--shards", "8", "--shard-index=-1"], 2, "--shard-index -1 is out of range"],
    ["unknown flag", ["--timings", KNAPSACK, "--shards", "8", "--parallel", "3"], 2, "unknown flag --parallel"],
    ["bad --format", ["--timings", KNAPSACK, "--shards", "8", "--format", "xml"], 2, `--format "xml" is not one of json, text`],
    ["nothing to plan", ["--shards", "8"], 2, "neither --timings nor --source was given"],
    ["missing timings file", ["--timings", "/nonexistent/timings.json", "--shards", "8"], 1, "[TIMINGS_INVALID] --timings /nonexistent/timings.json cannot be read (no such file)"],
    ["missing timings file with --source", ["--timings", "/nonexistent/timings.json", "--source", "APP", "--shards", "2"], 1, "--timings /nonexistent/timings.json cannot be read (no such file)"],
    ["malformed timings without --source", ["--timings", "BROKEN", "--shards", "8"], 1, "[TIMINGS_INVALID] BROKEN:1:32: not valid JSON"],
    ["source without spec/", ["--source", "NOSPEC", "--shards", "2"], 1, "[SOURCE_FILE_MISSING] spec/ is missing from the source directory"],
    ["source that is not a directory", ["--source", "/nonexistent/app", "--shards", "2"], 2, "--source /nonexistent/app is not a directory"],
  ])("rejects %s with the code, the input and a fix, without a stack trace", async (_name, args, code, fragment) => {
    const resolved = args.map((a) => (a === "BROKEN" ? path.join(app, "broken.json") : a === "NOSPEC" ? path.join(app, "nospec") : a === "APP" ? app : a));
    const run = await cli(...resolved);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(fragment.replace("BROKEN", path.join(app, "broken.json")));
    expect(run.stderr).toContain("\n  fix: ");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trim().split("\n").length).toBeLessThanOrEqual(3);
  });
});

describe("runShardsCli in process", () => {
  it("warns that an empty shard must be skipped", () => {
    const out: string[] = [];
    const err: string[] = [];
    const timings = path.join(app, "one.json");
    writeFileSync(timings, `{"spec/a_spec.rb": 1}`);
    runShardsCli(["--timings", timings, "--shards", "2", "--shard-index", "1", "--format", "text"], { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
    expect(out.join("")).toBe("");
    expect(err.join("")).toContain("shard 1 has nothing to run (more shards than units): skip it, do not run rspec without arguments");
  });

  it("reads spec/**/*_spec.rb only, sorted", () => {
    expect(readSpecFiles(app)).toEqual(["spec/jobs/new_job_spec.rb", "spec/models/loan_spec.rb", "spec/models/vehicle_spec.rb", "spec/requests/loans_spec.rb"]);
  });
});

describe("parseFlags (shared by the npm CLIs)", () => {
  const spec = {
    name: { type: "string", required: true },
    count: { type: "integer", min: 1, default: 3 },
    ratio: { type: "number" },
    mode: { type: "string", choices: ["a", "b"] },
    verbose: { type: "boolean" },
  } as const;

  it.each([
    ["defaults", ["--name", "x"], { name: "x", count: 3, ratio: undefined, mode: undefined, verbose: false }],
    ["every kind", ["--name=x", "--count", "5", "--ratio", "0.5", "--mode", "b", "--verbose"], { name: "x", count: 5, ratio: 0.5, mode: "b", verbose: true }],
    ["negative number with =", ["--name", "x", "--ratio=-2.5"], { name: "x", count: 3, ratio: -2.5, mode: undefined, verbose: false }],
  ])("parses %s into a typed record", (_name, argv, expected) => {
    const flags = parseFlags(argv, spec);
    expect(flags).toEqual(expected);
    const typed: { name: string; count: number; ratio: number | undefined; mode: "a" | "b" | undefined; verbose: boolean } = flags;
    expect(typed).toBe(flags);
  });

  it.each([
    ["unknown flag", ["--name", "x", "--nope"], "cmd: unknown flag --nope"],
    ["missing required flag", ["--count", "2"], "cmd: --name is required"],
    ["missing value", ["--name"], "cmd: --name is missing its value"],
    ["value starting with a dash", ["--name", "x", "--count", "-2"], "cmd: --count is followed by a value starting with a dash"],
    ["not a whole number", ["--name", "x", "--count", "2.5"], `cmd: --count "2.5" is not a whole number`],
    ["below the minimum", ["--name", "x", "--count", "0"], "cmd: --count 0 must be ≥ 1"],
    ["not a number", ["--name", "x", "--ratio", "half"], `cmd: --ratio "half" is not a number`],
    ["empty number", ["--name", "x", "--ratio="], `cmd: --ratio "" is not a number`],
    ["not a choice", ["--name", "x", "--mode", "c"], `cmd: --mode "c" is not one of a, b`],
    ["positional argument", ["--name", "x", "stray"], `cmd: unexpected argument "stray"`],
  ])("rejects %s with ARGUMENT_INVALID naming the flag", (_name, argv, fragment) => {
    let err: unknown;
    try {
      parseFlags(argv, spec, { command: "cmd" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe("ARGUMENT_INVALID");
    expect((err as PipelineError).message).toContain(fragment);
  });

  it("formats usage", () => {
    expect(formatUsage(spec)).toBe("--name <value> [--count <integer>] [--ratio <number>] [--mode a|b] [--verbose]");
  });

  it.each([
    ["a PipelineError: message only, exit 2 for arguments", new PipelineError("ARGUMENT_INVALID", "bad --x", { hint: "pass --x 1" }), 2, "[ARGUMENT_INVALID] bad --x\n  fix: pass --x 1\n"],
    ["another PipelineError: exit 1", new PipelineError("TIMINGS_INVALID", "t.json:1:1: bad"), 1, "[TIMINGS_INVALID] t.json:1:1: bad\n"],
  ])("runCli prints %s", async (_name, error, code, text) => {
    const io: CliIo & { out: string; exitCode?: number } = {
      out: "",
      stdout: () => undefined,
      stderr: (t) => void (io.out += t),
      exit: (c) => void (io.exitCode = c),
    };
    await runCli(() => {
      throw error;
    }, io);
    expect(io.exitCode).toBe(code);
    expect(io.out).toBe(text);
  });

  it("runCli treats other errors as bugs and keeps their stack", async () => {
    let out = "";
    let exitCode: number | undefined;
    await runCli(
      () => {
        throw new TypeError("boom");
      },
      { stdout: () => undefined, stderr: (t) => void (out += t), exit: (c) => void (exitCode = c) },
    );
    expect(exitCode).toBe(1);
    expect(out).toContain("unexpected error (a bug, please report it): TypeError: boom");
  });
});

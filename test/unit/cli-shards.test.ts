import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitStatusFor, formatUsage, HelpRequested, parseFlags, runCli, type CliIo } from "../../modules/pipeline/cli/args.js";
import { runShardsCli, SHARDS_FLAGS } from "../../modules/pipeline/cli/shards.js";
import { listSourceFiles } from "../../modules/pipeline/cli/source-dir.js";
import { ERROR_CODES, type ErrorCode } from "../../modules/pipeline/src/lib/errors.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { REPO_ROOT } from "../support/introspect.js";
import { thrown } from "../support/errors.js";

const KNAPSACK = path.resolve(REPO_ROOT, "../shared/data/timings/ecf_knapsack_rspec_report.json");
const JUNIT = path.resolve(REPO_ROOT, "../shared/data/junit/safecast_rspec_186tests.xml");
const knapsackKeys = Object.keys(JSON.parse(readFileSync(KNAPSACK, "utf8")) as Record<string, number>).sort();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as a subprocess, the way `npm run --silent shards -- ...` does (tsx as a loader). */
async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "modules/pipeline/cli/shards.ts", ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: `${e.stderr ?? ""}${e.killed ? "(killed after 60 s)" : ""}` };
  }
}

/** The same CLI body in this process (runCli sets the exit status): for the many cases that need no real process. */
async function inProcess(...args: string[]): Promise<Run> {
  const run: Run = { code: 0, stdout: "", stderr: "" };
  await runCli((io) => runShardsCli(args, io), { stdout: (t) => void (run.stdout += t), stderr: (t) => void (run.stderr += t), exit: (c) => void (run.code = c) });
  return run;
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
  mkdirSync(path.join(app, "a-directory"));
  execFileSync("mkfifo", [path.join(app, "fifo")]);
  // Sparse: 65 MiB on paper, nothing on disk.
  writeFileSync(path.join(app, "huge.json"), "");
  truncateSync(path.join(app, "huge.json"), 65 * 1024 * 1024);
  writeFileSync(path.join(app, "dashed.json"), JSON.stringify({ "-x_spec.rb": 5, "spec/a_spec.rb": 1 }));
  // An app like the example one: committed spec/timings.json (test.timingsFile's default).
  for (const f of ["spec/models/a_spec.rb", "spec/models/b_spec.rb", "spec/c_spec.rb", "spec/d_spec.rb"]) {
    mkdirSync(path.join(app, "committed", path.dirname(f)), { recursive: true });
    writeFileSync(path.join(app, "committed", f), "x".repeat(f.length)); // sizes that would split differently
  }
  writeFileSync(path.join(app, "committed/spec/timings.json"), JSON.stringify({ "spec/models/a_spec.rb": 30, "spec/models/b_spec.rb": 1, "spec/c_spec.rb": 1, "spec/d_spec.rb": 1 }));
  // An app whose pipeline.json moves the timings and the spec glob; the timings are a parallel_tests log.
  for (const f of ["test/x_test.rb", "test/y_test.rb", "test/sub/z_test.rb", "spec/ignored_spec.rb"]) {
    mkdirSync(path.join(app, "configured", path.dirname(f)), { recursive: true });
    writeFileSync(path.join(app, "configured", f), "");
  }
  mkdirSync(path.join(app, "configured/ci"));
  writeFileSync(path.join(app, "configured/ci/times.log"), "Randomized with seed 1\ntest/x_test.rb:9\ntest/y_test.rb:1\ntest/sub/z_test.rb:8\n");
  writeFileSync(path.join(app, "configured/pipeline.json"), JSON.stringify({ test: { specGlob: "test/**/*_test.rb", timingsFile: "ci/times.log" } }));
  mkdirSync(path.join(app, "config-dir/spec"), { recursive: true });
  writeFileSync(path.join(app, "config-dir/spec/a_spec.rb"), "");
  mkdirSync(path.join(app, "config-dir/pipeline.json"));
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
    // An app without --timings and without committed timings (the example app commits spec/timings.json,
    // which --source now reads as dagger call test does): the split falls back to file sizes.
    const run = await cli("--source", app, "--shards", "4", "--format", "text");
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^WARNING: no measured timings: all \d+ files are estimated from file sizes/m);
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
    ["--shards 0", ["--timings", KNAPSACK, "--shards", "0"], 2, "[ARGUMENT_INVALID] npm run shards --: --shards 0 must be from 1 to 64"],
    ["--shards over the cap pipeline.json has too", ["--timings", KNAPSACK, "--shards", "65"], 2, "npm run shards --: --shards 65 must be from 1 to 64"],
    ["--shards that would exhaust memory", ["--timings", KNAPSACK, "--shards", "100000000000"], 2, "npm run shards --: --shards 100000000000 must be from 1 to 64"],
    ["--shards in hexadecimal", ["--timings", KNAPSACK, "--shards", "0x10"], 2, `npm run shards --: --shards "0x10" is not a whole number (decimal digits only)`],
    ["--shards with an exponent", ["--timings", KNAPSACK, "--shards", "1e1"], 2, `--shards "1e1" is not a whole number`],
    ["--shards not a number", ["--timings", KNAPSACK, "--shards", "eight"], 2, `--shards "eight" is not a whole number`],
    ["--shards given twice", ["--timings", KNAPSACK, "--shards", "8", "--shards=4"], 2, `npm run shards --: --shards is given 2 times ("8", then "4")`],
    ["a switch given twice", ["--timings", KNAPSACK, "--shards", "8", "--whole-files", "--whole-files"], 2, "--whole-files is given 2 times"],
    ["a switch with a value", ["--timings", KNAPSACK, "--shards", "8", "--whole-files=yes"], 2, "--whole-files is a switch and takes no value"],
    ["--shards missing", ["--timings", KNAPSACK], 2, "--shards is required"],
    ["--shard-index ≥ shards", ["--timings", KNAPSACK, "--shards", "8", "--shard-index", "8"], 2, "npm run shards --: --shard-index 8 is out of range for --shards 8 (valid: 0 to 7)"],
    ["negative --shard-index", ["--timings", KNAPSACK, "--shards", "8", "--shard-index=-1"], 2, "--shard-index -1 is out of range"],
    ["unknown flag", ["--timings", KNAPSACK, "--shards", "8", "--parallel", "3"], 2, "unknown flag --parallel"],
    ["bad --format", ["--timings", KNAPSACK, "--shards", "8", "--format", "xml"], 2, `--format "xml" is not one of json, text`],
    ["nothing to plan", ["--shards", "8"], 2, "neither --timings nor --source was given"],
    ["missing timings file", ["--timings", "/nonexistent/timings.json", "--shards", "8"], 2, "[TIMINGS_INVALID] --timings /nonexistent/timings.json does not exist"],
    ["missing timings file with --source", ["--timings", "/nonexistent/timings.json", "--source", "APP", "--shards", "2"], 2, "--timings /nonexistent/timings.json does not exist"],
    ["--timings a directory", ["--timings", "APP/a-directory", "--shards", "2"], 2, "[TIMINGS_INVALID] --timings APP/a-directory is a directory, not a regular file"],
    ["--timings larger than the cap", ["--timings", "APP/huge.json", "--shards", "2"], 2, "--timings APP/huge.json is 65 MiB, more than the 64 MiB an input may have"],
    ["malformed timings without --source", ["--timings", "BROKEN", "--shards", "8"], 2, "[TIMINGS_INVALID] BROKEN:1:32: not valid JSON"],
    ["source without spec files", ["--source", "NOSPEC", "--shards", "2"], 2, "[SOURCE_FILE_MISSING] no spec files match spec/**/*_spec.rb in --source NOSPEC"],
    ["source that is not a directory", ["--source", "/nonexistent/app", "--shards", "2"], 2, "--source /nonexistent/app is not a directory"],
    ["pipeline.json that is a directory", ["--source", "APP/config-dir", "--shards", "2"], 2, "[CONFIG_UNREADABLE] pipeline.json in APP/config-dir is a directory, not a regular file"],
  ])("rejects %s with the code, the input and a fix, without a stack trace", async (_name, args, code, fragment) => {
    const place = (a: string) => a.replace("BROKEN", path.join(app, "broken.json")).replace("NOSPEC", path.join(app, "nospec")).replace("APP", app);
    const run = await inProcess(...args.map(place));
    expect(run.code).toBe(code);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(place(fragment));
    expect(run.stderr).toContain("\n  fix: ");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trim().split("\n").length).toBeLessThanOrEqual(3);
  });

  it.each([
    ["--timings a FIFO (it blocked forever)", ["--timings", "APP/fifo", "--shards", "2"], 2, "[TIMINGS_INVALID] --timings APP/fifo is a FIFO (named pipe), not a regular file"],
    ["--timings /dev/zero (it read without end)", ["--timings", "/dev/zero", "--shards", "2"], 2, "--timings /dev/zero is a character device, not a regular file"],
    ["a usage error", ["--timings", KNAPSACK, "--shards", "0x10"], 2, `--shards "0x10" is not a whole number`],
    ["an invalid input file", ["--timings", "BROKEN", "--shards", "8"], 2, "[TIMINGS_INVALID] BROKEN:1:32: not valid JSON"],
  ])("a real process refuses %s at once, with its exit status and no stack trace", async (_name, args, code, fragment) => {
    const place = (a: string) => a.replace("BROKEN", path.join(app, "broken.json")).replace("APP", app);
    const run = await cli(...args.map(place));
    expect(run.code).toBe(code);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(place(fragment));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("a real process prints --help on stdout and exits 0", async () => {
    const run = await cli("--help");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain("usage: npm run shards --");
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
    expect(listSourceFiles(app, "spec/**/*_spec.rb")).toEqual(["spec/jobs/new_job_spec.rb", "spec/models/loan_spec.rb", "spec/models/vehicle_spec.rb", "spec/requests/loans_spec.rb"]);
  });

  const run = (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    runShardsCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
    return { stdout: out.join(""), stderr: err.join("") };
  };

  it("with --source and no --timings plans the example app from its committed spec/timings.json", () => {
    const out = run("--source", "test/fixtures/rails-api", "--shards", "4");
    const plan = JSON.parse(out.stdout) as PlanJson & { coverage: { source: string; files: { total: number; measured: number } } };
    expect(plan.coverage.source).toBe("spec/timings.json");
    expect(plan.coverage.files.measured).toBe(plan.coverage.files.total);
    expect(out.stderr).not.toContain("WARNING");
  });

  it("with --source and no --timings uses the app's committed test.timingsFile, as dagger call test does", () => {
    const committed = path.join(app, "committed");
    const implicit = run("--source", committed, "--shards", "2");
    const explicit = run("--source", committed, "--timings", path.join(committed, "spec/timings.json"), "--shards", "2");
    const plan = JSON.parse(implicit.stdout) as PlanJson;
    expect(plan.shards.map((s) => s.units)).toEqual((JSON.parse(explicit.stdout) as PlanJson).shards.map((s) => s.units));
    expect(plan.shards.map((s) => s.units)).toEqual([["spec/models/a_spec.rb"], ["spec/c_spec.rb", "spec/d_spec.rb", "spec/models/b_spec.rb"]]);
    expect(plan.makespanSeconds).toBe(30);
    expect(implicit.stderr).toBe("");
  });

  it("with --source prefers the restored timings cache (test.timingsCacheFile) to the committed timings, as dagger call test does", () => {
    const source = path.join(app, "cached");
    for (const f of ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb"]) {
      mkdirSync(path.join(source, "spec"), { recursive: true });
      writeFileSync(path.join(source, f), "");
    }
    writeFileSync(path.join(source, "spec/timings.json"), JSON.stringify({ "spec/a_spec.rb": 10, "spec/b_spec.rb": 1, "spec/c_spec.rb": 1 }));
    mkdirSync(path.join(source, ".pipeline"));
    writeFileSync(path.join(source, ".pipeline/timings.json"), JSON.stringify({ "spec/a_spec.rb": 1, "spec/b_spec.rb": 1, "spec/c_spec.rb": 10 }));
    const plan = JSON.parse(run("--source", source, "--shards", "2").stdout) as PlanJson & { coverage: { source: string } };
    expect(plan.coverage.source).toBe(".pipeline/timings.json");
    expect(plan.shards.map((s) => s.units)).toEqual([["spec/c_spec.rb"], ["spec/a_spec.rb", "spec/b_spec.rb"]]);
  });

  it("with --source follows the app's pipeline.json: its spec glob and its timings file (a parallel_tests log)", () => {
    const plan = JSON.parse(run("--source", path.join(app, "configured"), "--shards", "2").stdout) as PlanJson;
    expect(plan.shards.map((s) => s.units)).toEqual([["test/x_test.rb"], ["test/sub/z_test.rb", "test/y_test.rb"]]);
    expect(plan.shards.map((s) => s.predictedSeconds)).toEqual([9, 9]);
  });

  it("without any timings splits by file size, as dagger call test does", () => {
    const source = path.join(app, "sized");
    for (const [f, bytes] of [["spec/big_spec.rb", 9000], ["spec/a_spec.rb", 3000], ["spec/b_spec.rb", 3000], ["spec/c_spec.rb", 3000]] as const) {
      mkdirSync(path.join(source, "spec"), { recursive: true });
      writeFileSync(path.join(source, f), "x".repeat(bytes));
    }
    const plan = JSON.parse(run("--source", source, "--shards", "2").stdout) as PlanJson;
    expect(plan.shards.map((s) => s.units)).toEqual([["spec/big_spec.rb"], ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb"]]);
  });

  it("prints a timings key starting with a dash as a file argument, not an rspec option", () => {
    expect(run("--timings", path.join(app, "dashed.json"), "--shards", "1", "--shard-index", "0", "--format", "text").stdout).toBe("./-x_spec.rb spec/a_spec.rb\n");
  });

  it("--help prints the usage, every flag and the exit statuses", () => {
    let help: unknown;
    try {
      run("--shards", "8", "--help");
    } catch (err) {
      help = err;
    }
    expect(help).toBeInstanceOf(HelpRequested);
    const text = (help as HelpRequested).text;
    expect(text).toContain("usage: npm run shards -- [--timings <value>] --shards <integer>");
    for (const flag of Object.keys(SHARDS_FLAGS)) expect(text).toContain(`  --${flag}`);
    expect(text).toContain("number of parallel shards (required, 1 to 64)");
    expect(text).toContain("exit status: 0 success; 2 a usage or input error");
  });
});

describe("parseFlags (shared by the npm CLIs)", () => {
  const spec = {
    name: { type: "string", required: true },
    count: { type: "integer", min: 1, max: 10, default: 3 },
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
    ["below the minimum", ["--name", "x", "--count", "0"], "cmd: --count 0 must be from 1 to 10"],
    ["not a number", ["--name", "x", "--ratio", "half"], `cmd: --ratio "half" is not a number`],
    ["empty number", ["--name", "x", "--ratio="], `cmd: --ratio "" is not a number`],
    ["not a choice", ["--name", "x", "--mode", "c"], `cmd: --mode "c" is not one of a, b`],
    ["positional argument", ["--name", "x", "stray"], `cmd: unexpected argument "stray"`],
    ["hexadecimal", ["--name", "x", "--count", "0x10"], `cmd: --count "0x10" is not a whole number (decimal digits only)`],
    ["binary", ["--name", "x", "--count", "0b11"], `cmd: --count "0b11" is not a whole number`],
    ["hexadecimal number", ["--name", "x", "--ratio", "0x1p3"], `cmd: --ratio "0x1p3" is not a number`],
    ["Infinity", ["--name", "x", "--ratio", "Infinity"], `cmd: --ratio "Infinity" is not a number`],
    ["beyond safe integers", ["--name", "x", "--count", "9007199254740993"], `cmd: --count "9007199254740993" is not a whole number`],
    ["above the maximum", ["--name", "x", "--count", "11"], "cmd: --count 11 must be from 1 to 10"],
    ["a flag given twice", ["--name", "x", "--name=y"], `cmd: --name is given 2 times ("x", then "y")`],
    ["a switch given twice", ["--name", "x", "--verbose", "--verbose"], "cmd: --verbose is given 2 times"],
  ])("rejects %s with ARGUMENT_INVALID naming the flag", (_name, argv, fragment) => {
    const err = thrown(() => parseFlags(argv, spec, { command: "cmd" }));
    expect(err.code).toBe("ARGUMENT_INVALID");
    expect(err.message).toContain(fragment);
  });

  it("formats usage", () => {
    expect(formatUsage(spec)).toBe("--name <value> [--count <integer>] [--ratio <number>] [--mode a|b] [--verbose]");
  });

  it.each([
    ["a PipelineError: message only, exit 2 for arguments", new PipelineError("ARGUMENT_INVALID", "bad --x", { hint: "pass --x 1" }), 2, "[ARGUMENT_INVALID] bad --x\n  fix: pass --x 1\n"],
    ["an invalid input file: exit 2", new PipelineError("TIMINGS_INVALID", "t.json:1:1: bad"), 2, "[TIMINGS_INVALID] t.json:1:1: bad\n"],
    ["a failed operation: exit 1", new PipelineError("GIT_FAILED", "git push failed"), 1, "[GIT_FAILED] git push failed\n"],
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

  it("runCli prints --help on stdout and exits 0", async () => {
    const io = { out: "", err: "", code: -1 };
    await runCli(() => void parseFlags(["--help"], spec, { command: "cmd", summary: "Does things." }), {
      stdout: (t) => void (io.out += t),
      stderr: (t) => void (io.err += t),
      exit: (c) => void (io.code = c),
    });
    expect(io).toMatchObject({ err: "", code: 0 });
    expect(io.out).toContain("usage: cmd --name <value> [--count <integer>]");
    expect(io.out).toContain("Does things.");
    expect(io.out).toContain("--count <integer>  (1 to 10, default 3)");
  });

  it.each([
    ["input codes exit 2", ["ARGUMENT_INVALID", "CONFIG_INVALID", "CONFIG_UNREADABLE", "SOURCE_FILE_MISSING", "TIMINGS_INVALID", "JUNIT_INVALID", "HCL_INVALID", "HCL_ATTRIBUTE_MISSING", "ENVIRONMENT_UNKNOWN", "ENV_FILE_PLAINTEXT_SECRET"], 2],
    ["failed operations exit 1", ["GIT_FAILED", "GIT_PUSH_CONFLICT", "REGISTRY_UNREACHABLE", "REGISTRY_REPOSITORY_MISSING", "BUILD_FAILED", "PUSH_FAILED", "TESTS_FAILED", "KMS_DECRYPT_FAILED", "FILE_WRITE_FAILED"], 1],
  ])("exitStatusFor: %s", (_name, codes, status) => {
    for (const code of codes) {
      expect(code in ERROR_CODES, code).toBe(true);
      expect(exitStatusFor(code as ErrorCode), code).toBe(status);
    }
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

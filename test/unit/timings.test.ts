import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import {
  detectTimingsFormat,
  formatKnapsackTimings,
  median,
  parseTimings,
  parseTimingsOrWarn,
  parseUnitKey,
  resolveTimings,
  timingsFromJUnit,
} from "../../modules/pipeline/src/lib/timings.js";
import { thrown } from "../support/errors.js";
import { REPO_ROOT } from "../support/introspect.js";

const SHARED = path.resolve(REPO_ROOT, "../shared/data");
const read = (rel: string) => readFileSync(path.join(SHARED, rel), "utf8");
const KNAPSACK = "timings/ecf_knapsack_rspec_report.json";


const RSPEC_JSON = JSON.stringify({
  version: "3.13.0",
  examples: [
    { id: "./spec/big_spec.rb[1:1]", file_path: "./spec/big_spec.rb", line_number: 3, run_time: 2.5, status: "passed" },
    { id: "./spec/big_spec.rb[1:2:1]", file_path: "./spec/big_spec.rb", line_number: 9, run_time: 1.5, status: "failed" },
    // a shared example: file_path points at the shared file, the id at the spec that ran it
    { id: "./spec/big_spec.rb[1:3]", file_path: "./spec/support/shared.rb", line_number: 1, run_time: 1, status: "passed" },
    { id: "./spec/small_spec.rb[1:1]", file_path: "./spec/small_spec.rb", line_number: 2, run_time: 0.25, status: "passed" },
  ],
  summary: { duration: 5.3 },
});

describe("parseTimings on the shared samples", () => {
  it("reads the knapsack report: 758 files, 3,314 s, longest 172 s", () => {
    const t = parseTimings(read(KNAPSACK), "ecf.json");
    expect(t.format).toBe("knapsack");
    expect(t.files).toHaveLength(758);
    expect(t.files.reduce((s, f) => s + f.seconds, 0)).toBeCloseTo(3313.58, 1);
    const longest = [...t.files].sort((a, b) => b.seconds - a.seconds)[0]!;
    expect(longest.path).toBe("spec/features/schools/choose_programme/choose_programme_spec.rb");
    expect(longest.seconds).toBeCloseTo(172.39, 2);
    expect(t.files.every((f) => f.examples === undefined)).toBe(true);
    expect(t.warnings).toEqual([]);
  });

  it.each([
    ["avalon legacy (files from classnames)", "junit/avalon_legacy_rspec_2013.xml", 12, 106, 175.13],
    ["polaris", "junit/polaris_rspec_84tests_3failures_34skipped.xml", 31, 84, 8.959],
    ["safecast 186", "junit/safecast_rspec_186tests.xml", 54, 186, 341.675],
    ["safecast 29", "junit/safecast_rspec_29tests_1failure.xml", 8, 29, 57.534],
  ])("reads JUnit %s per file and per example", (_name, file, files, examples, seconds) => {
    const t = parseTimings(read(file), file);
    expect(t.format).toBe("junit");
    expect(t.files).toHaveLength(files);
    expect(t.files.reduce((n, f) => n + (f.exampleCount ?? 0), 0)).toBe(examples);
    expect(t.files.reduce((s, f) => s + f.seconds, 0)).toBeCloseTo(seconds, 2);
    // rspec_junit_formatter writes no example ids, so no file can be split by id
    expect(t.files.every((f) => f.examples === undefined)).toBe(true);
  });

  it("sums a file's examples (safecast view spec)", () => {
    const t = parseTimings(read("junit/safecast_rspec_186tests.xml"));
    const f = t.files.find((x) => x.path === "spec/views/bgeigie_imports/show.html.erb_spec.rb")!;
    const cases = parseJUnit(read("junit/safecast_rspec_186tests.xml")).cases.filter((c) => c.file === f.path);
    expect(f.exampleCount).toBe(cases.length);
    expect(f.seconds).toBeCloseTo(cases.reduce((s, c) => s + c.time, 0), 9);
  });
});

describe("parseTimings formats", () => {
  it.each([
    ["knapsack", `{"./spec/a_spec.rb": 1.5, "spec/b_spec.rb": 0}`, "knapsack", [["spec/a_spec.rb", 1.5], ["spec/b_spec.rb", 0]]],
    ["knapsack with example keys", `{"spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 2}`, "knapsack", [["spec/a_spec.rb", 3]]],
    ["parallel_tests log", "spec/a_spec.rb:1.25\n./spec/b_spec.rb:2\n\n", "parallel-tests", [["spec/a_spec.rb", 1.25], ["spec/b_spec.rb", 2]]],
    ["parallel_tests split on the LAST colon", "spec/a_spec.rb:42:0.5\nspec/a_spec.rb:50:1.5\nspec/c:d_spec.rb:3", "parallel-tests", [["spec/a_spec.rb", 2], ["spec/c:d_spec.rb", 3]]],
    ["parallel_tests with CRLF and exponent", "spec/a_spec.rb:1e-3\r\n", "parallel-tests", [["spec/a_spec.rb", 0.001]]],
    ["rspec JSON", RSPEC_JSON, "rspec-json", [["spec/big_spec.rb", 5], ["spec/small_spec.rb", 0.25]]],
    ["JUnit", `<testsuite><testcase file="./spec/a_spec.rb" name="x" time="1"/><testcase file="./spec/a_spec.rb" name="y" time="2"/></testsuite>`, "junit", [["spec/a_spec.rb", 3]]],
    ["BOM and leading blank lines", "\uFEFF\n\n{\"spec/a_spec.rb\": 1}", "knapsack", [["spec/a_spec.rb", 1]]],
  ])("%s", (_name, text, format, files) => {
    const t = parseTimings(text, "t");
    expect(t.format).toBe(format);
    expect(detectTimingsFormat(text)).toBe(format);
    expect(t.files.map((f) => [f.path, f.seconds])).toEqual(files);
  });

  it("keeps per-example ids from rspec JSON (the id, not file_path, names the file)", () => {
    const big = parseTimings(RSPEC_JSON).files[0]!;
    expect(big.examples).toEqual([
      { id: "spec/big_spec.rb[1:1]", seconds: 2.5 },
      { id: "spec/big_spec.rb[1:2:1]", seconds: 1.5 },
      { id: "spec/big_spec.rb[1:3]", seconds: 1 },
    ]);
    expect(big.exampleCount).toBe(3);
  });

  it("keeps per-example ids and lines from knapsack and parallel_tests keys", () => {
    expect(parseTimings(`{"spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 2}`).files[0]!.examples).toEqual([
      { id: "spec/a_spec.rb[1:1]", seconds: 1 },
      { id: "spec/a_spec.rb[1:2]", seconds: 2 },
    ]);
    expect(parseTimings("spec/a_spec.rb:42:0.5\nspec/a_spec.rb:7:1.5").files[0]!.examples).toEqual([
      { id: "spec/a_spec.rb:42", seconds: 0.5 },
      { id: "spec/a_spec.rb:7", seconds: 1.5 },
    ]);
  });

  it("uses JUnit examples as split units only when every example of the file has an id", () => {
    const xml = `<testsuite>
      <testcase file="./spec/a_spec.rb" id="./spec/a_spec.rb[1:1]" name="x" time="1"/>
      <testcase file="./spec/a_spec.rb" id="./spec/a_spec.rb[1:2]" name="y" time="2"/>
      <testcase file="./spec/b_spec.rb" id="./spec/b_spec.rb[1:1]" name="x" time="1"/>
      <testcase file="./spec/b_spec.rb" name="no id" time="2"/>
    </testsuite>`;
    const [a, b] = parseTimings(xml).files;
    expect(a!.examples?.map((e) => e.id)).toEqual(["spec/a_spec.rb[1:1]", "spec/a_spec.rb[1:2]"]);
    expect(b!.examples).toBeUndefined();
    expect(b!.seconds).toBe(3);
  });

  it.each([
    ["a file", "spec/a_spec.rb", { file: "spec/a_spec.rb" }],
    ["an rspec id", "./spec/a_spec.rb[1:2:3]", { file: "spec/a_spec.rb", exampleId: "spec/a_spec.rb[1:2:3]" }],
    ["a line", "spec/a_spec.rb:42", { file: "spec/a_spec.rb", exampleId: "spec/a_spec.rb:42" }],
  ])("parseUnitKey: %s", (_name, key, expected) => {
    expect(parseUnitKey(key)).toEqual(expected);
  });
});

describe("strict parseTimings errors name the file and position", () => {
  it.each([
    ["empty file", "", "t.json is empty"],
    ["unknown format", "hello world\n", "t.json:1:1: the format is not recognised"],
    ["JSON syntax error", `{\n  "spec/a_spec.rb": 1,\n  "spec/b_spec.rb": \n}`, "t.json:4:1: not valid JSON"],
    ["unterminated JSON string", `{"spec/a_spec.rb": 1,\n  "spec/b`, "t.json:2:"],
    ["knapsack value not a number", `{\n  "spec/a_spec.rb": 1,\n  "spec/b_spec.rb": "fast"\n}`, `t.json:3:3: "spec/b_spec.rb" has "fast", expected a number of seconds`],
    ["knapsack negative seconds", `{"spec/a_spec.rb": -1}`, `t.json:1:2: "spec/a_spec.rb" has -1`],
    ["knapsack array root", `{"a": 1}`.replace("{", "[").replace("}", "]").replace(`"a": 1`, `"a"`), "the format is not recognised"],
    ["parallel_tests bad line", "spec/a_spec.rb:1\nspec/b_spec.rb:slow\n", `t.json:2: expected "path:seconds" with decimal seconds, found "spec/b_spec.rb:slow"`],
    ["parallel_tests hexadecimal seconds", "spec/a_spec.rb:1\nspec/b_spec.rb:0x10\n", `t.json:2: expected "path:seconds" with decimal seconds, found "spec/b_spec.rb:0x10"`],
    ["parallel_tests infinite seconds", "spec/a_spec.rb:1\nspec/b_spec.rb:1e999\n", `t.json:2: expected "path:seconds" with decimal seconds`],
    ["parallel_tests only rspec's lines", "Randomized with seed 1\nRun options: include {focus: true}\n", "t.json:1:1: the format is not recognised"],
    ["knapsack value a deeply nested array", `{"spec/a_spec.rb": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`, `t.json:1:2: "spec/a_spec.rb" has an array, expected a number of seconds`],
    ["JSON cut short deep inside", `{"spec/a_spec.rb": ${"[".repeat(100_000)}`, `t.json:1:100020: not valid JSON (Unexpected end of JSON input)`],
    ["parallel_tests missing seconds", "spec/a_spec.rb:1\nspec/b_spec.rb:\n", "t.json:2:"],
    ["truncated JUnit", `<testsuite>\n<testcase file="spec/a_spec.rb" name="x" time="1">`, "t.json:2:1: <testcase> is never closed"],
    ["rspec JSON without examples array", `{"version": "3", "examples": {}}`, `an rspec JSON report needs an "examples" array`],
  ])("%s", (_name, text, fragment) => {
    const err = thrown(() => parseTimings(text, "t.json"));
    expect(err.code).toBe("TIMINGS_INVALID");
    expect(err.message).toContain(fragment);
    expect(err.hint).toBeTruthy();
  });

  it("reports several bad entries together", () => {
    const err = thrown(() => parseTimings("spec/a_spec.rb:x\nspec/b_spec.rb:1\nspec/c_spec.rb:y\n", "rt.log"));
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).problems.map((p) => p.path)).toEqual(["rt.log:1", "rt.log:3"]);
  });
});

/*
 * Minimal reproductions of parallel_tests runtime logs as public repositories commit them (issue #13,
 * items 4 and 5). The shape follows parallel_tests' RuntimeLogger (lib/parallel_tests/rspec/runtime_logger.rb:
 * `#{path}:#{seconds}` per file at the end of each process, appended to one log) and rspec's
 * BaseTextFormatter, which writes its own lines into the same output: `Randomized with seed N`,
 * `Run options: include {focus: true}`, `All examples were filtered out; ignoring {focus: true}`.
 * Paths and times are made up; parallel_tests reads such a log with `runtimes` in
 * lib/parallel_tests/test/runner.rb (rpartition(':'), test files only, last line wins).
 */
const LOG_WITH_RSPEC_LINES = [
  "Randomized with seed 34250",
  "spec/models/user_spec.rb:2.345",
  "spec/requests/api/v1/orders_spec.rb:10.5",
  "Run options: include {focus: true}",
  "",
  "All examples were filtered out; ignoring {focus: true}",
  "spec/features/checkout_spec.rb:31.2",
  "spec/lib/tiny_spec.rb:1.2e-05", // Ruby writes small floats with an exponent
].join("\n");
const LOG_APPENDED_ACROSS_RUNS = [
  "spec/models/user_spec.rb:2.0",
  "spec/features/checkout_spec.rb:30.0",
  "spec/models/user_spec.rb:2.5",
  "spec/features/checkout_spec.rb:31.0",
  "spec/lib/tiny_spec.rb:0",
  "spec/models/user_spec.rb:2.25",
].join("\n");

describe("parallel_tests logs as real repositories commit them", () => {
  it("skips rspec's own lines as parallel_tests does, strict or not, without a warning", () => {
    for (const t of [parseTimings(LOG_WITH_RSPEC_LINES, "rt.log"), parseTimingsOrWarn(LOG_WITH_RSPEC_LINES, "rt.log")]) {
      expect(t.format).toBe("parallel-tests");
      expect(t.files.map((f) => [f.path, f.seconds])).toEqual([
        ["spec/features/checkout_spec.rb", 31.2],
        ["spec/lib/tiny_spec.rb", 0.000012],
        ["spec/models/user_spec.rb", 2.345],
        ["spec/requests/api/v1/orders_spec.rb", 10.5],
      ]);
      expect(t.warnings).toEqual([]);
    }
  });

  it("keeps the last time of a file listed again in a log appended across runs, and says so", () => {
    const t = parseTimings(LOG_APPENDED_ACROSS_RUNS, "rt.log");
    expect(t.files.map((f) => [f.path, f.seconds])).toEqual([
      ["spec/features/checkout_spec.rb", 31],
      ["spec/lib/tiny_spec.rb", 0],
      ["spec/models/user_spec.rb", 2.25],
    ]);
    expect(t.warnings).toEqual([
      "rt.log: 2 file(s) or example(s) are listed more than once, e.g. spec/models/user_spec.rb 3 times (line 1, line 3, line 6); the last time of each is used, as parallel_tests reads a log appended across runs",
    ]);
  });

  it.each([
    ["equal keys", `{\n  "spec/a_spec.rb": 1,\n  "spec/b_spec.rb": 2,\n  "spec/a_spec.rb": 3\n}`, [["spec/a_spec.rb", 3], ["spec/b_spec.rb", 2]], "spec/a_spec.rb 2 times (2:3, 4:3)"],
    ["keys naming the same file", `{"./spec/a_spec.rb": 1, "spec/a_spec.rb": 4}`, [["spec/a_spec.rb", 4]], "spec/a_spec.rb 2 times (1:2, 1:25)"],
    ["equal example keys", `{"spec/a_spec.rb[1:1]": 1, "spec/a_spec.rb[1:2]": 2, "spec/a_spec.rb[1:1]": 5}`, [["spec/a_spec.rb", 7]], "spec/a_spec.rb[1:1] 2 times"],
  ])("knapsack %s: the last one is used, as Ruby's JSON reads it, and a warning says so", (_name, text, files, fragment) => {
    const t = parseTimings(text, "k.json");
    expect(t.files.map((f) => [f.path, f.seconds])).toEqual(files);
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toContain(`k.json: 1 file(s) or example(s) are listed more than once, e.g. ${fragment}`);
    expect(t.warnings[0]).toContain("the last one is used, as knapsack (Ruby's JSON) reads the report");
  });
});

describe("parseTimingsOrWarn never throws", () => {
  it.each([
    ["a missing file", undefined, 0, "no timings at t"],
    ["an empty file", "", 0, "ignoring t: [TIMINGS_INVALID] t is empty"],
    ["broken JSON", `{"spec/a_spec.rb": 1,`, 0, "ignoring t: [TIMINGS_INVALID] t:1:22: not valid JSON"],
    ["truncated JUnit", "<testsuite><testcase", 0, "ignoring t:"],
    ["one bad knapsack entry among good ones", `{"spec/a_spec.rb": 1, "spec/b_spec.rb": null}`, 1, `ignoring t:1:23: "spec/b_spec.rb" has null`],
    ["one bad log line among good ones", "spec/a_spec.rb:1\nspec/b_spec.rb:x\nspec/c_spec.rb:2", 2, `ignoring t:2: expected "path:seconds"`],
    ["a line that names no spec file (parallel_tests skips it)", "spec/a_spec.rb:1\ngarbage\nspec/c_spec.rb:2", 2, "t: skipped 1 line(s) that name no spec file (line 2), as parallel_tests does"],
    ["200,000 bad knapsack entries", `{${Array.from({ length: 200_000 }, (_, i) => `"spec/f${i}_spec.rb": "x"`).join(",")}}`, 0, "ignoring 199980 more bad entries of t"],
  ])("%s: warns and keeps what it can", (_name, text, files, warning) => {
    const t = parseTimingsOrWarn(text, "t");
    expect(t.files).toHaveLength(files);
    expect(t.warnings.join("\n")).toContain(warning);
  });
});

describe("resolveTimings", () => {
  const timings = parseTimings(`{"./spec/a_spec.rb": 10, "spec/b_spec.rb": 2, "spec/gone_spec.rb": 4, "spec/c_spec.rb": 6}`, "k.json");

  it("without an existing-file list the units are exactly the timed entries", () => {
    const r = resolveTimings(timings);
    expect(r.files.map((f) => [f.path, f.seconds, f.estimated])).toEqual([
      ["spec/a_spec.rb", 10, false],
      ["spec/b_spec.rb", 2, false],
      ["spec/c_spec.rb", 6, false],
      ["spec/gone_spec.rb", 4, false],
    ]);
    expect(r.dropped).toEqual([]);
  });

  it("drops vanished files, estimates new ones with the median known time and flags them", () => {
    const r = resolveTimings(timings, ["./spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb", "spec/new_spec.rb", "spec/z_new_spec.rb"]);
    expect(r.dropped).toEqual(["spec/gone_spec.rb"]);
    expect(r.estimated).toEqual(["spec/new_spec.rb", "spec/z_new_spec.rb"]);
    expect(r.medianSeconds).toBe(6); // median of the files that still exist: 2, 6, 10
    expect(r.files.map((f) => [f.path, f.seconds, f.estimated])).toEqual([
      ["spec/a_spec.rb", 10, false],
      ["spec/b_spec.rb", 2, false],
      ["spec/c_spec.rb", 6, false],
      ["spec/new_spec.rb", 6, true],
      ["spec/z_new_spec.rb", 6, true],
    ]);
    expect(r.warnings.join("\n")).toContain("dropped 1 timed file(s) that no longer exist: spec/gone_spec.rb");
    expect(r.warnings.join("\n")).toContain("2 file(s) have no timing and get the median 6.00 s");
  });

  it("drops the shared report's vanished keys against a file list", () => {
    const t = parseTimings(read(KNAPSACK));
    const existing = t.files.map((f) => f.path).filter((_, i) => i % 100 !== 0);
    const r = resolveTimings(t, [...existing, "spec/brand_new_spec.rb"]);
    expect(r.dropped).toHaveLength(8);
    expect(r.files).toHaveLength(existing.length + 1);
    expect(r.files.find((f) => f.path === "spec/brand_new_spec.rb")).toMatchObject({ estimated: true, seconds: r.medianSeconds });
  });

  it("falls back to per-file estimates, then to 1 s each, when nothing is known", () => {
    const none = parseTimingsOrWarn(undefined, "none");
    expect(resolveTimings(none, ["spec/a_spec.rb", "spec/b_spec.rb"]).files.map((f) => f.seconds)).toEqual([1, 1]);
    const sized = resolveTimings(none, ["spec/a_spec.rb", "spec/b_spec.rb"], { fallbackSeconds: { "spec/a_spec.rb": 3 } });
    expect(sized.files.map((f) => [f.seconds, f.estimated])).toEqual([[3, true], [1, true]]);
    expect(sized.warnings.join("\n")).toContain("splitting by the fallback estimates");
  });

  it("matches legacy and dotted JUnit classnames to existing files", () => {
    const xml = `<testsuite>
      <testcase classname="_/spec/views/show_html_erb_spec_rb" name="a" time="2"/>
      <testcase classname="spec.models.user_spec" name="b" time="3"/>
      <testcase classname="spec.models.unknown_spec" name="c" time="4"/>
    </testsuite>`;
    const t = parseTimings(xml, "legacy.xml");
    const r = resolveTimings(t, ["spec/views/show.html.erb_spec.rb", "spec/models/user_spec.rb", "spec/other_spec.rb"]);
    expect(r.files.map((f) => [f.path, f.seconds, f.estimated])).toEqual([
      ["spec/models/user_spec.rb", 3, false],
      ["spec/other_spec.rb", 2.5, true],
      ["spec/views/show.html.erb_spec.rb", 2, false],
    ]);
    expect(r.warnings.join("\n")).toContain("no existing file matches classname(s) spec.models.unknown_spec");
  });

  it("reconciles example ids with the current ids of a file (new examples are timed by the median)", () => {
    const t = parseTimings(RSPEC_JSON);
    const r = resolveTimings(t, undefined, { exampleIds: { "spec/big_spec.rb": ["./spec/big_spec.rb[1:1]", "./spec/big_spec.rb[1:3]", "./spec/big_spec.rb[1:4]"] } });
    expect(r.files[0]!.examples).toEqual([
      { id: "spec/big_spec.rb[1:1]", seconds: 2.5 },
      { id: "spec/big_spec.rb[1:3]", seconds: 1 },
      { id: "spec/big_spec.rb[1:4]", seconds: 1.5 },
    ]);
  });

  it.each([
    ["odd", [3, 1, 2], 2],
    ["even", [4, 1, 3, 2], 2.5],
    ["empty", [], undefined],
  ])("median of %s count", (_name, values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe("formatKnapsackTimings", () => {
  it("writes sorted knapsack JSON that parses back", () => {
    const text = formatKnapsackTimings({ "./spec/b_spec.rb": 2.1234567, "spec/a_spec.rb": 1 });
    expect(text).toBe(`{\n  "spec/a_spec.rb": 1,\n  "spec/b_spec.rb": 2.123457\n}\n`);
    expect(parseTimings(text).files.map((f) => [f.path, f.seconds])).toEqual([["spec/a_spec.rb", 1], ["spec/b_spec.rb", 2.123457]]);
  });

  it("round-trips the shared knapsack report", () => {
    const t = parseTimings(read(KNAPSACK));
    const back = parseTimings(formatKnapsackTimings(t.files));
    expect(back.files.map((f) => f.path)).toEqual(t.files.map((f) => f.path));
    back.files.forEach((f, i) => expect(f.seconds).toBeCloseTo(t.files[i]!.seconds, 5));
  });

  it("writes the new timings of a sharded run (a file split over shards adds up)", () => {
    const shard0 = parseJUnit(`<testsuite><testcase file="./spec/a_spec.rb" name="x" time="1"/></testsuite>`);
    const shard1 = parseJUnit(`<testsuite><testcase file="./spec/a_spec.rb" name="y" time="2"/><testcase file="./spec/b_spec.rb" name="z" time="0.5"/></testsuite>`);
    expect(formatKnapsackTimings(timingsFromJUnit([shard0, shard1]).files)).toBe(`{\n  "spec/a_spec.rb": 3,\n  "spec/b_spec.rb": 0.5\n}\n`);
    expect(formatKnapsackTimings([])).toBe("{}\n");
  });

  it("refuses non-finite seconds", () => {
    expect(thrown(() => formatKnapsackTimings({ "spec/a_spec.rb": Number.NaN })).message).toContain("spec/a_spec.rb has NaN seconds");
  });
});

import { describe, expect, it } from "vitest";
import { formatJUnit, mergeJUnit, parseJUnit, parseXml, type TestCase, type XmlElement } from "../../modules/pipeline/src/lib/junit.js";
import { failedExampleIds, flakyExamples, formatAttemptsJUnit, formatFlakyExamples, resolveAttempts } from "../../modules/pipeline/src/lib/retries.js";
import { planTestRun, summariseTestRun } from "../../modules/pipeline/src/lib/test-run.js";

type Status = "passed" | "failed" | "pending";
interface Ex {
  id: string;
  name: string;
  status: Status;
  error?: boolean;
}

/** An attempt's two reports, shaped like rspec_junit_formatter's and rspec's JSON formatter's. */
function attempt(examples: Ex[]): { junit: string; rspecJson: string } {
  const cases = examples.map((e) => {
    const file = e.id.replace(/\[.*$/, "");
    const inner =
      e.status === "failed"
        ? `<${e.error ? "error" : "failure"} message="${e.name} broke" type="RuntimeError">Failure/Error: boom\n# ./${file}:7:in 'block'</${e.error ? "error" : "failure"}>`
        : e.status === "pending"
          ? "<skipped/>"
          : "";
    return `<testcase classname="${file.replace(/\.rb$/, "").replace(/\//g, ".")}" name="${e.name}" file="./${file}" time="0.5">${inner}</testcase>`;
  });
  const junit = `<?xml version="1.0"?><testsuite name="rspec" tests="${examples.length}">${cases.join("")}</testsuite>`;
  const rspecJson = JSON.stringify({
    examples: examples.map((e) => ({ id: `./${e.id}`, full_description: e.name, file_path: `./${e.id.replace(/\[.*$/, "")}`, status: e.status, run_time: 0.5 })),
  });
  return { junit, rspecJson };
}

const A1 = { id: "spec/a_spec.rb[1:1]", name: "A passes" };
const A2 = { id: "spec/a_spec.rb[1:2]", name: "A is flaky" };
const A3 = { id: "spec/a_spec.rb[1:3]", name: "A always fails" };
const B1 = { id: "spec/b_spec.rb[1:1]", name: "B is pending" };
const B2 = { id: "spec/b_spec.rb[1:2]", name: "B errors then passes" };

const first = attempt([
  { ...A1, status: "passed" },
  { ...A2, status: "failed" },
  { ...A3, status: "failed" },
  { ...B1, status: "pending" },
  { ...B2, status: "failed", error: true },
]);
const retry1 = attempt([
  { ...A2, status: "failed" },
  { ...A3, status: "failed" },
  { ...B2, status: "passed" },
]);
const retry2 = attempt([
  { ...A2, status: "passed" },
  { ...A3, status: "failed" },
]);

const outcomes = resolveAttempts([first, retry1, retry2]);

describe("resolveAttempts", () => {
  it.each([
    [A1.id, "passed", 1],
    [A2.id, "flaky", 3],
    [A3.id, "failed", 3],
    [B1.id, "skipped", 1],
    [B2.id, "flaky", 2],
  ])("%s ends %s after %i attempt(s)", (id, verdict, attempts) => {
    const o = outcomes.find((x) => x.id === id)!;
    expect(o.verdict).toBe(verdict);
    expect(o.attempts).toHaveLength(attempts);
  });

  it("without retries a failure stays failed (never flaky)", () => {
    expect(resolveAttempts([first]).map((o) => o.verdict)).toEqual(["passed", "failed", "failed", "skipped", "failed"]);
  });

  it("a retry that reported nothing (it crashed) leaves the example failed", () => {
    const crashed = { junit: '<testsuite name="rspec" tests="0"></testsuite>' };
    expect(resolveAttempts([first, crashed]).find((o) => o.id === A2.id)!.verdict).toBe("failed");
  });

  it("matches examples across attempts by file and name when no rspec JSON gave ids", () => {
    const noIds = resolveAttempts([{ junit: first.junit }, { junit: retry1.junit }, { junit: retry2.junit }]);
    expect(noIds.map((o) => o.verdict)).toEqual(["passed", "flaky", "failed", "skipped", "flaky"]);
    expect(noIds.every((o) => o.id === undefined)).toBe(true);
  });
});

describe("formatAttemptsJUnit (Maven Surefire's rerun elements)", () => {
  const xml = formatAttemptsJUnit(outcomes, { name: "shard-0" });
  const root = parseXml(xml);
  const cases = root.children.filter((c): c is XmlElement => c.type === "element" && c.name === "testcase");
  const childNames = (id: string) =>
    cases.find((c) => c.attributes.some(([k, v]) => k === "id" && v === `./${id}`))!.children.filter((c): c is XmlElement => c.type === "element").map((c) => c.name);

  it("keeps one testcase per example", () => {
    expect(cases).toHaveLength(5);
  });

  it.each([
    [A1.id, []],
    [A2.id, ["flakyFailure", "flakyFailure"]],
    [A3.id, ["failure", "rerunFailure", "rerunFailure"]],
    [B1.id, ["skipped"]],
    [B2.id, ["flakyError"]],
  ])("%s holds %j", (id, names) => {
    expect(childNames(id)).toEqual(names);
  });

  it("gives every rerun element its type and a stackTrace, as the Surefire 3.0 XSD requires", () => {
    const reruns = cases.flatMap((c) => c.children).filter((c): c is XmlElement => c.type === "element" && /^(flaky|rerun)/.test(c.name));
    expect(reruns).toHaveLength(5);
    for (const r of reruns) {
      expect(r.attributes.map(([k]) => k)).toEqual(expect.arrayContaining(["message", "type"]));
      expect(r.children.filter((c): c is XmlElement => c.type === "element").map((c) => c.name)).toEqual(["stackTrace"]);
    }
  });

  it("parses with the project's own parser: flaky examples pass, the always-failing one fails, ids kept", () => {
    const report = parseJUnit(xml, "merged");
    expect(report.totals).toMatchObject({ tests: 5, failures: 1, skipped: 1, passed: 3 });
    expect(report.cases.map((c) => c.id)).toEqual([A1.id, A2.id, A3.id, B1.id, B2.id]);
    expect(report.cases.find((c) => c.id === A3.id)!.location).toBe("spec/a_spec.rb:7");
    const merged = parseJUnit(mergeJUnit([{ name: "shard-0", xml }, { name: "shard-1", xml: attempt([{ ...A1, id: "spec/c_spec.rb[1:1]", status: "passed" }]).junit }]), "merged");
    expect(merged.totals.tests).toBe(6);
  });
});

describe("formatAttemptsJUnit with hostile names", () => {
  // Quotes, markup, a CDATA end, tab/newline/carriage return (attribute values normalise literal
  // ones to spaces), C0 controls (XML 1.0 cannot carry them, not even as references) and a C1 control.
  const hostile = `say "hi" & 'bye' <b>x</b> ]]> tab\there\nline\r \u0001\u001b[31m \u0085`;
  const file = `spec/it's "odd" & <x>_spec.rb`;
  const testCase = (name: string, status: TestCase["status"], kind: "failure" | "error" = "failure"): TestCase => ({
    file,
    fileSource: "file",
    classname: `spec.odd ${hostile}`,
    name,
    time: 0.25,
    status,
    ...(status === "failed" ? { failure: { kind, message: `${name} broke: ${hostile}`, type: `Odd<"Error">&`, text: `Failure/Error: ${hostile}\n# ./${file}:7:in 'block'` } } : {}),
  });
  const names = { flaky: `flaky ${hostile}`, failing: `failing ${hostile}`, erroring: `erroring ${hostile}` };
  const report = (cases: TestCase[]) => ({
    junit: formatJUnit(cases),
    rspecJson: JSON.stringify({ examples: cases.map((c, i) => ({ id: `./${file}[1:${i + 1}]`, full_description: c.name, file_path: `./${file}`, status: c.status })) }),
  });
  const attempts = [
    report([testCase(names.flaky, "failed"), testCase(names.failing, "failed"), testCase(names.erroring, "failed", "error")]),
    report([testCase(names.flaky, "passed"), testCase(names.failing, "failed"), testCase(names.erroring, "failed", "error")]),
  ];
  const suiteName = `shard "0" <&> ]]> \u0001`;
  const xml = formatAttemptsJUnit(resolveAttempts(attempts), { name: suiteName });

  it("round-trips every name, path, id, message and text through parseJUnit", () => {
    const cases = parseJUnit(xml, "hostile").cases;
    expect(cases.map((c) => [c.name, c.classname, c.file, c.id, c.status, c.suite])).toEqual([
      [names.flaky, `spec.odd ${hostile}`, file, `${file}[1:1]`, "passed", suiteName],
      [names.failing, `spec.odd ${hostile}`, file, `${file}[1:2]`, "failed", suiteName],
      [names.erroring, `spec.odd ${hostile}`, file, `${file}[1:3]`, "failed", suiteName],
    ]);
    expect(cases[1]!.failure).toEqual({ kind: "failure", message: `${names.failing} broke: ${hostile}`, type: `Odd<"Error">&`, text: `Failure/Error: ${hostile}\n# ./${file}:7:in 'block'` });
    expect(cases[2]!.failure).toMatchObject({ kind: "error", message: `${names.erroring} broke: ${hostile}` });
  });

  it("keeps the Surefire rerun elements, their messages and stack traces intact", () => {
    const testcases = parseXml(xml).children.filter((c): c is XmlElement => c.type === "element");
    const problems = testcases.map((t) => t.children.filter((c): c is XmlElement => c.type === "element"));
    expect(problems.map((list) => list.map((e) => e.name))).toEqual([["flakyFailure"], ["failure", "rerunFailure"], ["error", "rerunError"]]);
    for (const element of [problems[0]![0]!, problems[1]![1]!, problems[2]![1]!]) {
      expect(element.attributes).toContainEqual(["message", expect.stringContaining(hostile)]);
      const stackTrace = element.children.find((c): c is XmlElement => c.type === "element" && c.name === "stackTrace")!;
      expect(stackTrace.children.map((c) => (c.type === "text" ? c.text : "")).join("")).toBe(`Failure/Error: ${hostile}\n# ./${file}:7:in 'block'`);
    }
  });

  it("declares XML 1.1, the version that allows references to C0 controls, and keeps 1.0 otherwise", () => {
    expect(xml.startsWith('<?xml version="1.1" encoding="UTF-8"?>\n')).toBe(true);
    expect(formatAttemptsJUnit(outcomes, { name: "shard-0" }).startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  });
});

describe("flaky examples in the summary", () => {
  it("lists each flaky example with the attempt it passed on", () => {
    const flaky = flakyExamples(3, outcomes);
    expect(flaky.map((f) => [f.id, f.attempts])).toEqual([[A2.id, 3], [B2.id, 2]]);
    expect(formatFlakyExamples(flaky)).toContain(`${A2.id}  A is flaky  [shard 3, passed on attempt 3]`);
  });

  it("a run with retries counts flaky examples apart, never as passed, and lists them", () => {
    const plan = planTestRun({ specFiles: ["spec/a_spec.rb", "spec/b_spec.rb"], timingsSource: "(none)", fileSizes: {}, shards: 1, shardIndex: -1 });
    const result = summariseTestRun(plan, [{ index: 0, exitCode: 1, output: "", ...first, retries: [retry1, retry2] }]);
    expect(result.summary.totals).toMatchObject({ tests: 5, failures: 1, flaky: 2, passed: 1, skipped: 1 });
    expect(result.flaky.map((f) => f.id)).toEqual([A2.id, B2.id]);
    expect(result.examples.map((e) => e.verdict)).toEqual(["passed", "flaky", "failed", "skipped", "flaky"]);
    expect(result.text).toMatch(/^FAILED: 5 examples, 1 failed, 2 flaky, 1 skipped, 1 passed/m);
    expect(result.text).toContain("Flaky: failed, then passed on a retry (2)");
    const merged = parseJUnit(result.mergedJUnit, "merged");
    expect(merged.cases).toHaveLength(5);
  });
});

describe("failedExampleIds", () => {
  it("gives the ids rspec reported failed, without ./", () => {
    expect(failedExampleIds(first.rspecJson)).toEqual([A2.id, A3.id, B2.id]);
  });
});

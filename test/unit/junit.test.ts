import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  escapeXml,
  fileFromClassname,
  formatJUnit,
  matchClassnameToFile,
  mergeJUnit,
  normaliseSpecPath,
  parseJUnit,
  parseXml,
  type XmlElement,
} from "../../modules/pipeline/src/lib/junit.js";
import { thrown } from "../support/errors.js";
import { REPO_ROOT } from "../support/introspect.js";

const JUNIT = path.resolve(REPO_ROOT, "../shared/data/junit");
const sample = (name: string) => readFileSync(path.join(JUNIT, name), "utf8");
const SAMPLES = [
  "avalon_legacy_rspec_2013.xml",
  "polaris_rspec_84tests_3failures_34skipped.xml",
  "safecast_rspec_186tests.xml",
  "safecast_rspec_29tests_1failure.xml",
];


describe("parseJUnit on the shared samples", () => {
  it.each([
    // name, tests, passed, failures, skipped, files, reported time
    ["avalon legacy shape (no file attribute)", SAMPLES[0]!, 106, 96, 0, 10, 12, 175.699901],
    ["polaris with failures and skips", SAMPLES[1]!, 84, 47, 3, 34, 31, 8.992127],
    ["safecast 186 examples", SAMPLES[2]!, 186, 186, 0, 0, 54, 343.947971],
    ["safecast with one failure", SAMPLES[3]!, 29, 28, 1, 0, 8, 59.373788],
  ])("%s", (_name, file, tests, passed, failures, skipped, files, reportedTime) => {
    const report = parseJUnit(sample(file), file);
    expect(report.totals).toMatchObject({ tests, passed, failures, skipped });
    expect(report.files).toHaveLength(files);
    expect(report.unattributed).toBe(0);
    expect(report.reportedTime).toBeCloseTo(reportedTime, 6);
    // the per-file totals add up to the report totals
    expect(report.files.reduce((n, f) => n + f.tests, 0)).toBe(tests);
    expect(report.files.reduce((n, f) => n + f.failures, 0)).toBe(failures);
    expect(report.files.every((f) => /^spec\/.+_spec\.rb$/.test(f.file))).toBe(true);
  });

  it("agrees with the root element's counts on every sample", () => {
    for (const file of SAMPLES) {
      const xml = sample(file);
      const root = parseXml(xml, file);
      const attr = (k: string) => Number(root.attributes.find(([n]) => n === k)?.[1] ?? 0);
      const report = parseJUnit(xml, file);
      expect([report.totals.tests, report.totals.failures, report.totals.skipped], file).toEqual([attr("tests"), attr("failures") + attr("errors"), attr("skipped") || report.totals.skipped]);
    }
  });

  it("derives the file from the legacy classname and says so", () => {
    const c = parseJUnit(sample(SAMPLES[0]!)).cases[0]!;
    expect(c).toMatchObject({ file: "spec/controllers/groups_controller_spec.rb", fileSource: "classname", classname: "_/spec/controllers/groups_controller_spec_rb", status: "passed" });
    expect(c.time).toBeCloseTo(0.48423, 6);
  });

  it("reads the file attribute (./spec/... -> spec/...)", () => {
    const c = parseJUnit(sample(SAMPLES[2]!)).cases[1]!;
    expect(c).toMatchObject({ file: "spec/views/bgeigie_imports/show.html.erb_spec.rb", fileSource: "file", classname: "spec.views.bgeigie_imports.show" });
  });

  it.each([
    ["&quot; in a name", SAMPLES[2]!, 'Device sensor is expected to == "LND-712"'],
    ["&gt; and &quot; in a name", SAMPLES[3]!, 'MeasurementsController GET #count when json is expected to eq {"count"=>0}'],
    ["&amp; in a name", SAMPLES[1]!, "#subdomain_shipment_update_shipment_path Sets the shipment contacts & data"],
    ["non-ASCII text", SAMPLES[2]!, "例外が発生しない"],
  ])("decodes %s", (_name, file, fragment) => {
    expect(parseJUnit(sample(file)).cases.some((c) => c.name.includes(fragment))).toBe(true);
  });

  it("gives failures their message, type and file:line from the backtrace", () => {
    const failed = parseJUnit(sample(SAMPLES[1]!)).cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => c.location)).toEqual([
      "spec/models/trucking_pricing_spec.rb:236",
      "spec/models/trucking_pricing_spec.rb:256",
      "spec/models/trucking_pricing_spec.rb:278",
    ]);
    expect(failed[0]!.failure).toMatchObject({
      kind: "failure",
      message: "Expected example to fail since it is pending, but it passed.",
      type: "RSpec::Core::Pending::PendingExampleFixedError",
    });
    expect(failed[0]!.failure!.text).toContain("Expected pending 'Broken Spec' to fail."); // &apos; decoded
  });

  it("keeps a failure without a backtrace line without inventing a location", () => {
    const failed = parseJUnit(sample(SAMPLES[3]!)).cases.filter((c) => c.status === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ file: "spec/models/ingest_measurment_spec.rb", failure: { message: "RSpec::Core::MultipleExceptionError" } });
    expect(failed[0]!.location).toBeUndefined();
  });
});

describe("parseJUnit on hand-written reports", () => {
  it.each([
    [
      "nested testsuites, CDATA, numeric entities",
      `<?xml version="1.0"?>\n<!-- c -->\n<testsuites><testsuite name="a"><testsuite name="b">` +
        `<testcase classname="x" name="caf&#233; &#x2603; &lt;tag&gt;" file="./spec/a_spec.rb" time="1.5">` +
        `<failure message='it&apos;s "bad"'><![CDATA[<raw> & stuff\n./spec/support/helper.rb:3\n./spec/a_spec.rb:12:in block]]></failure></testcase>` +
        `</testsuite></testsuite></testsuites>`,
      { name: "café ☃ <tag>", status: "failed", location: "spec/a_spec.rb:12", suite: "b", failure: { message: `it's "bad"` } },
    ],
    [
      "error element counts as failed",
      `<testsuite><testcase classname="x" name="n" file="spec/b_spec.rb" time="0"><error message="boom" type="RuntimeError"/></testcase></testsuite>`,
      { status: "failed", failure: { kind: "error", message: "boom", type: "RuntimeError" } },
    ],
    [
      "skipped with a message",
      `<testsuite><testcase classname="x" name="n" file="spec/c_spec.rb"><skipped message="pending"/></testcase></testsuite>`,
      { status: "skipped", time: 0 },
    ],
    [
      "id and line attributes of a custom formatter",
      `<testsuite><testcase classname="x" name="n" file="./spec/d_spec.rb" id="./spec/d_spec.rb[1:2]" line="7" time="0.1"/></testsuite>`,
      { id: "spec/d_spec.rb[1:2]", location: "spec/d_spec.rb:7" },
    ],
    [
      "single-quoted attributes and whitespace around =",
      `<testsuite><testcase classname = 'x' name = 'a &amp; b' file='spec/e_spec.rb' time = '2'/></testsuite>`,
      { name: "a & b", time: 2 },
    ],
    [
      "dotted classname without file is not guessed",
      `<testsuite><testcase classname="spec.views.imports.show" name="n" time="1"/></testsuite>`,
      { fileSource: "none", classname: "spec.views.imports.show" },
    ],
  ])("%s", (_name, xml, expected) => {
    const report = parseJUnit(xml, "t.xml");
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0]).toMatchObject(expected);
  });

  it.each([
    ["cut short", `<testsuite><testcase name="a" time="1">`, "t.xml:1:12: <testcase> is never closed (open at the end: <testsuite> > <testcase>)"],
    ["mismatched close", `<testsuite>\n  <testcase name="a"></testsuite>`, "t.xml:2:22: Expected closing tag 'testcase' (opened in line 2, col 3) instead of closing tag 'testsuite'"],
    ["unknown entity", `<testsuite><testcase name="a &nbsp; b"/></testsuite>`, "t.xml:1:30: the value of attribute name of <testcase>: unknown entity &nbsp;"],
    ["unknown entity in text", `<testsuite>\n<testcase name="a"><failure>x &nbsp; y</failure></testcase></testsuite>`, "t.xml:2:31: the text of <failure>: unknown entity &nbsp;"],
    ["bare ampersand", `<testsuite><testcase name="a & b"/></testsuite>`, `"&" must start an entity`],
    ["bare ampersand in text", `<testsuite>a & b</testsuite>`, `t.xml:1:14: char '&' is not expected`],
    ["raw < in an attribute", `<testsuite><testcase name="a < b"/></testsuite>`, `t.xml:1:30: the value of attribute name of <testcase>: "<" is not allowed here`],
    ["unquoted attribute", `<testsuite><testcase name=a/></testsuite>`, "t.xml:1:22: Attribute 'name' is without value"],
    ["duplicate attribute", `<testsuite><testcase name="a" name="b"/></testsuite>`, "t.xml:1:31: Attribute 'name' is repeated"],
    ["a DOCTYPE (it could declare entities)", `<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]><testsuite>&a;</testsuite>`, "t.xml:2:1: a DOCTYPE is not allowed"],
    ["a second root after a self-closing one", `<testsuite/>\n<testsuite/>`, "t.xml:2:1: a second root element <testsuite>"],
    ["nesting deeper than 100 elements", `<testsuite>${"<a>".repeat(100_000)}${"</a>".repeat(100_000)}</testsuite>`, "t.xml: elements nest deeper than 100 levels"],
    ["cut short deep inside", `<testsuite>${"<a>".repeat(100_000)}`, "<a> is never closed (open at the end: <testsuite> > <a> > ... > <a> > <a>, 100001 elements)"],
    ["a name JavaScript reserves", `<testsuite><testcase constructor="x"/></testsuite>`, "an element or attribute is named constructor"],
    ["a control character outside the root", `\u0001<testsuite/>`, "t.xml:1:1: char '\\u0001' is not expected"],
    ["two roots", `<testsuite/><testsuite/>`, "a second root element <testsuite>"],
    ["empty", "  \n", "the report is empty"],
    ["not JUnit", `<html><body/></html>`, "the root element is <html>"],
    ["bad time", `<testsuite>\n<testcase name="a" time="fast"/></testsuite>`, `t.xml:2:1: <testcase name="a"> time="fast" is not a number of seconds`],
    ["text after the root", `<testsuite/>junk`, `t.xml:1:13: text outside the root element: "junk"`],
    ["bad character reference", `<testsuite name="&#xZZ;"/>`, "invalid character reference"],
  ])("rejects %s naming the report and position", (_name, xml, fragment) => {
    const err = thrown(() => parseJUnit(xml, "t.xml"));
    expect(err.code).toBe("JUNIT_INVALID");
    expect(err.message).toContain(fragment);
    expect(err.hint).toContain("rspec_junit_formatter");
  });
});

describe("paths and classnames", () => {
  it.each([
    ["./ prefix", "./spec/a_spec.rb", "spec/a_spec.rb"],
    ["double ./", "././spec/a_spec.rb", "spec/a_spec.rb"],
    ["double slash", "spec//models/a_spec.rb", "spec/models/a_spec.rb"],
    ["absolute CI path", "/home/circleci/project/spec/models/a_spec.rb", "spec/models/a_spec.rb"],
    ["windows separators", "spec\\models\\a_spec.rb", "spec/models/a_spec.rb"],
    ["already normal", "spec/a_spec.rb", "spec/a_spec.rb"],
    ["surrounding whitespace", "  ./spec/a_spec.rb ", "spec/a_spec.rb"],
  ])("normaliseSpecPath: %s", (_name, input, expected) => {
    expect(normaliseSpecPath(input)).toBe(expected);
  });

  it.each([
    ["legacy shape", "_/spec/models/user_spec_rb", "spec/models/user_spec.rb"],
    ["legacy nested", "_/spec/lib/hydrant/batch_ingest_spec_rb", "spec/lib/hydrant/batch_ingest_spec.rb"],
    ["plain path", "./spec/a_spec.rb", "spec/a_spec.rb"],
    ["dotted (lossy) shape", "spec.models.user_spec", undefined],
  ])("fileFromClassname: %s", (_name, classname, expected) => {
    expect(fileFromClassname(classname)).toBe(expected);
  });

  const existing = ["spec/views/imports/show.html.erb_spec.rb", "spec/models/user_spec.rb", "spec/models/user-admin_spec.rb", "spec/a/b/c_spec.rb", "spec/a.b/c_spec.rb"];
  it.each([
    ["dotted classname of a view spec", "spec.views.imports.show", "spec/views/imports/show.html.erb_spec.rb"],
    ["dotted classname", "spec.models.user_spec", "spec/models/user_spec.rb"],
    ["legacy with a dash mangled to _", "_/spec/models/user_admin_spec_rb", "spec/models/user-admin_spec.rb"],
    ["legacy of a dotted view file", "_/spec/views/imports/show_html_erb_spec_rb", "spec/views/imports/show.html.erb_spec.rb"],
    ["ambiguous dotted classname (a/b/ or a.b/)", "spec.a.b.c_spec", undefined],
    ["no match", "spec.models.gone_spec", undefined],
  ])("matchClassnameToFile: %s", (_name, classname, expected) => {
    expect(matchClassnameToFile(classname, existing)).toBe(expected);
  });
});

describe("mergeJUnit", () => {
  it("merges every shared sample into one valid report with one <testsuites> root", () => {
    const merged = mergeJUnit(SAMPLES.map((name) => ({ name, xml: sample(name) })));
    const root = parseXml(merged, "merged");
    expect(root.name).toBe("testsuites");
    expect(root.children.filter((c) => c.type === "element").map((c) => (c as { name: string }).name)).toEqual(["testsuite", "testsuite", "testsuite", "testsuite"]);
    const report = parseJUnit(merged, "merged");
    expect(report.totals).toMatchObject({ tests: 405, failures: 4, skipped: 44, passed: 357 });
    expect(root.attributes).toContainEqual(["tests", "405"]);
    expect(root.attributes).toContainEqual(["failures", "4"]);
    // names, escaped characters and failure text survive the round trip
    const originals = SAMPLES.flatMap((name) => parseJUnit(sample(name)).cases);
    expect(report.cases.map((c) => [c.name, c.file, c.status, c.location, c.failure?.text])).toEqual(
      originals.map((c) => [c.name, c.file, c.status, c.location, c.failure?.text]),
    );
    // the suite without a name is named after its report
    expect(merged).toContain(`<testsuite name="avalon_legacy_rspec_2013.xml"`);
  });

  it("accepts <testsuites> inputs and keeps CDATA", () => {
    const a = `<testsuites><testsuite name="s1"><testcase name="a" file="spec/a_spec.rb" time="1"><system-out><![CDATA[x ]]]]><![CDATA[> <y>]]></system-out></testcase></testsuite></testsuites>`;
    const b = `<testsuite name="s2" time="2.5"><testcase name="b" file="spec/b_spec.rb" time="2"><skipped/></testcase></testsuite>`;
    const merged = mergeJUnit([a, b]);
    const report = parseJUnit(merged);
    expect(report.totals).toMatchObject({ tests: 2, passed: 1, skipped: 1 });
    expect(merged).toContain("<![CDATA[");
    expect(merged).toMatch(/<testsuites name="rspec" tests="2" skipped="1" failures="0" errors="0" time="3\.500000">/);
  });

  it("writes the shared samples byte for byte as the hand-written writer did (golden made by the code before fast-xml-parser)", () => {
    const merged = mergeJUnit(SAMPLES.map((name) => ({ name, xml: sample(name) })));
    expect(merged).toBe(readFileSync(path.join(REPO_ROOT, "test/golden/junit/merged-samples.xml"), "utf8"));
  });

  it.each([
    ["a C0 control as a reference", `name="a&#x1;b"`, "a\u0001b", "1.1"],
    ["a C0 control written raw by a custom formatter", `name="a\u0001b"`, "a\u0001b", "1.1"],
    ["NUL", `name="a&#0;b"`, "a\u0000b", "1.0"],
    ["escape and carriage return", `name="\u001b[31mred&#13;"`, "\u001b[31mred\r", "1.1"],
    ["a C1 control and U+2028", `name="a\u0085b\u2028c"`, "a\u0085b\u2028c", "1.0"],
    ["a non-character", `name="a&#xFFFE;"`, "a\ufffe", "1.0"],
  ])("keeps %s in a test name through the merge", (_name, attribute, expected, version) => {
    const shard = `<testsuite name="s"><testcase classname="c" ${attribute} file="./spec/a_spec.rb" time="1"/></testsuite>`;
    const merged = mergeJUnit([shard]);
    expect(parseJUnit(merged).cases[0]!.name).toBe(expected);
    expect(merged.startsWith(`<?xml version="${version}" encoding="UTF-8"?>\n`)).toBe(true);
  });

  it("keeps control characters in failure text and CDATA (CDATA that needs a reference becomes text)", () => {
    const shard = `<testsuite><testcase name="n" file="spec/a_spec.rb" time="0"><failure message="m">a&#x7;b\r\nc</failure><system-out><![CDATA[x\u0002y]]></system-out></testcase></testsuite>`;
    const merged = mergeJUnit([shard]);
    expect(merged).toContain("<system-out>x&#x2;y</system-out>");
    const child = (e: XmlElement, name: string) => e.children.find((c): c is XmlElement => c.type === "element" && c.name === name)!;
    const testcase = child(child(parseXml(merged), "testsuite"), "testcase");
    const text = (name: string) => child(testcase, name).children.map((c) => (c.type === "text" ? c.text : "")).join("");
    expect(text("failure")).toBe("a\u0007b\nc"); // \r\n is a line end in XML: \n
    expect(text("system-out")).toBe("x\u0002y");
  });

  it("names the broken report and position", () => {
    const err = thrown(() => mergeJUnit([{ name: "shard-0.xml", xml: "<testsuite/>" }, { name: "shard-1.xml", xml: "<testsuite>\n<testcase>" }]));
    expect(err.code).toBe("JUNIT_INVALID");
    expect(err.message).toContain("shard-1.xml:2:1");
  });

  it("names unnamed reports by their position", () => {
    expect(thrown(() => mergeJUnit(["<testsuite/>", "<oops"])).message).toContain("report 2:");
  });
});

describe("formatJUnit", () => {
  it("writes cases that parse back identically", () => {
    const cases = parseJUnit(sample(SAMPLES[1]!)).cases;
    const xml = formatJUnit(cases);
    const back = parseJUnit(xml).cases;
    expect(back.map((c) => [c.name, c.file, c.status, c.failure?.message, c.location])).toEqual(cases.map((c) => [c.name, c.file, c.status, c.failure?.message, c.location]));
    expect(back.reduce((s, c) => s + c.time, 0)).toBeCloseTo(cases.reduce((s, c) => s + c.time, 0), 5);
    expect(xml).toContain('file="./spec/models/trucking_pricing_spec.rb"');
  });

  it("escapes everything XML needs escaped, control characters as references", () => {
    expect(escapeXml(`a<b>&"c"'\u0001`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;&apos;&#x1;");
    const xml = formatJUnit([{ file: "spec/a_spec.rb", fileSource: "file", name: `<"&'>`, classname: "c", time: 1, status: "failed", failure: { kind: "failure", message: "a\nb\tc\r", text: "x ]]> y" } }]);
    const c = parseJUnit(xml).cases[0]!;
    expect(c.name).toBe(`<"&'>`);
    expect(c.failure).toMatchObject({ message: "a\nb\tc\r", text: "x ]]> y" });
  });
});

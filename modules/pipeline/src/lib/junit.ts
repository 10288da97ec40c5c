/**
 * JUnit XML as rspec_junit_formatter writes it: parse reports into test cases, merge the per-shard
 * reports into one, and write reports. Pure: strings in, data out.
 *
 * Two shapes are read:
 * - current rspec_junit_formatter: `<testcase classname="spec.models.user_spec" file="./spec/models/user_spec.rb" ...>`;
 *   the file comes from the `file` attribute (normalised to `spec/...`);
 * - the old (2013) shape without `file`: `classname="_/spec/models/user_spec_rb"`, i.e. the path with `.`
 *   replaced by `_`; the file is derived from it (`spec/models/user_spec.rb`, `fileSource: "classname"`).
 *   A dotted classname without `file` (`spec.views.imports.show`) is lossy (`show.html.erb_spec.rb`), so no
 *   file is guessed; `matchClassnameToFile` resolves both shapes against a list of existing files.
 *
 * The XML layer (lib/xml.ts, on fast-xml-parser) validates, parses and writes; errors are
 * `PipelineError("JUNIT_INVALID")` naming the report and `line:column`. Names and texts with control
 * characters survive a parse and a write (they are written as character references).
 */
import { PipelineError } from "./errors.js";
import { formatPosition } from "./text-position.js";
import { formatXmlDocument, parseXml, type XmlElement, type XmlNode } from "./xml.js";

export { escapeXml, formatXmlElement, parseXml, type XmlElement, type XmlNode, type XmlText } from "./xml.js";
export { formatPosition } from "./text-position.js";

function attr(element: XmlElement, name: string): string | undefined {
  for (const [k, v] of element.attributes) if (k === name) return v;
  return undefined;
}

function textOf(element: XmlElement): string {
  let out = "";
  for (const child of element.children) out += child.type === "text" ? child.text : textOf(child);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// JUnit model
// ---------------------------------------------------------------------------------------------------------

export type TestStatus = "passed" | "failed" | "skipped";

export interface TestFailure {
  /** `failure` (an expectation failed) or `error` (an exception outside expectations). */
  kind: "failure" | "error";
  message: string;
  type?: string;
  /** The element's text: usually the failure output and backtrace. */
  text: string;
}

export interface TestCase {
  /** Spec file, normalised to `spec/...`; undefined when the report does not say which file. */
  file?: string;
  /** Where `file` came from: the `file` attribute, or derived from the legacy `_/spec/..._rb` classname. */
  fileSource: "file" | "classname" | "none";
  name: string;
  classname: string;
  /** Seconds (0 when the attribute is missing). */
  time: number;
  status: TestStatus;
  failure?: TestFailure;
  /** `spec/file_spec.rb:42` when the report says the line (a `line` attribute or the failure backtrace). */
  location?: string;
  /**
   * A unit rspec runs to select just this example, when the report says it: an `id` attribute
   * (`spec/a_spec.rb[1:2:3]`) or else a `line` attribute (`spec/a_spec.rb:42`). rspec_junit_formatter
   * writes neither; a custom formatter may.
   */
  id?: string;
  /** The `name` of the enclosing testsuite. */
  suite?: string;
}

export interface FileTotals {
  file: string;
  tests: number;
  failures: number;
  skipped: number;
  time: number;
}

export interface JUnitTotals {
  tests: number;
  passed: number;
  failures: number;
  skipped: number;
  /** Sum of test case times. */
  time: number;
}

export interface JUnitReport {
  /** The name given to `parseJUnit` (a file name or `shard 3`). */
  source: string;
  cases: TestCase[];
  totals: JUnitTotals;
  /** Per-file totals, sorted by path; cases without a file are not included (see `unattributed`). */
  files: FileTotals[];
  /** Number of test cases whose file is unknown. */
  unattributed: number;
  /** The wall time the root (or the sum of top-level suites) reports, when it has a `time` attribute. */
  reportedTime?: number;
}

/**
 * `./spec/a_spec.rb`, `spec//a_spec.rb`, `/app/spec/a_spec.rb` (absolute, under a `spec/` folder) and
 * `spec\a_spec.rb` all become `spec/a_spec.rb`. Other relative paths keep their shape minus `./`.
 */
export function normaliseSpecPath(path: string): string {
  let p = path.trim().replace(/\\/g, "/").replace(/\/{2,}/g, "/");
  while (p.startsWith("./")) p = p.slice(2);
  p = p.replace(/\/\.\//g, "/");
  if (p.startsWith("/")) {
    const at = p.lastIndexOf("/spec/");
    if (at !== -1) p = p.slice(at + 1);
  }
  return p;
}

const LEGACY_CLASSNAME = /^_\/(.+)_rb$/;

/**
 * The file a classname names, when that is sound: the legacy `_/spec/models/user_spec_rb` shape
 * (the path with `./` and `.` written as `_`). Dotted classnames are lossy and give undefined.
 */
export function fileFromClassname(classname: string): string | undefined {
  const legacy = LEGACY_CLASSNAME.exec(classname);
  if (legacy) return normaliseSpecPath(`${legacy[1]}.rb`);
  if (/^(\.\/)?spec\/.*\.rb$/.test(classname)) return normaliseSpecPath(classname);
  return undefined;
}

/**
 * Find the existing file a classname stands for (both the legacy `_/spec/x_spec_rb` and the dotted
 * `spec.views.imports.show` shapes). Returns undefined when none or several files match.
 */
export function matchClassnameToFile(classname: string, existingFiles: readonly string[]): string | undefined {
  const legacy = LEGACY_CLASSNAME.test(classname);
  const key = legacy ? classname.replace(/^_\//, "").replace(/[^A-Za-z0-9_/]/g, "_") : classname.replace(/^\.+/, "");
  const matches = existingFiles.filter((file) => {
    const f = normaliseSpecPath(file);
    if (legacy) return f.replace(/[^A-Za-z0-9_/]/g, "_") === key;
    // rspec_junit_formatter: file path without extension(s) of the last segment, / -> .
    return f.replace(/\.[^/]*$/, "").replace(/\//g, ".") === key;
  });
  return matches.length === 1 ? normaliseSpecPath(matches[0]!) : undefined;
}

function parseSeconds(raw: string | undefined, what: string | (() => string), fail: (m: string) => never): number {
  if (raw === undefined) return 0;
  const value = Number(raw); // "" and whitespace give 0, like a missing attribute
  if (!Number.isFinite(value) || value < 0) fail(`${typeof what === "string" ? what : what()} time=${JSON.stringify(raw)} is not a number of seconds`);
  return value;
}

function lineFromText(text: string, file: string | undefined): number | undefined {
  const re = /(?:^|[\s'"(\[])(?:\.\/)?((?:[\w.@+-]+\/)*[\w.@+-]+_spec\.rb):(\d+)/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const line = Number(m[2]);
    const path = normaliseSpecPath(m[1]!);
    // Only a line in the example's own file is its location (not a support file in the backtrace).
    if (file === undefined || path === file || path.endsWith(`/${file}`) || file.endsWith(`/${path}`)) return line;
  }
  return undefined;
}

/**
 * Parse one rspec_junit_formatter report (root `<testsuite>` or `<testsuites>`, suites may nest).
 * Throws `PipelineError("JUNIT_INVALID")` naming `source` and `line:column`.
 */
export function parseJUnit(xml: string, source = "junit.xml"): JUnitReport {
  return readJUnit(parseXml(xml, source), xml, source);
}

function readJUnit(root: XmlElement, xml: string, source: string): JUnitReport {
  // Element offsets count from after a byte order mark.
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const fail = (element: XmlElement) => (message: string): never => {
    throw new PipelineError("JUNIT_INVALID", `${source}:${formatPosition(text, element.offset)}: ${message}`, {
      hint: "pass a JUnit report written by rspec_junit_formatter (root <testsuite> or <testsuites>)",
    });
  };
  if (root.name !== "testsuite" && root.name !== "testsuites") {
    fail(root)(`the root element is <${root.name}>, expected <testsuites> or <testsuite>`);
  }

  const cases: TestCase[] = [];
  const visit = (element: XmlElement, suite: string | undefined): void => {
    for (const child of element.children) {
      if (child.type !== "element") continue;
      if (child.name === "testsuite" || child.name === "testsuites") visit(child, attr(child, "name") ?? suite);
      else if (child.name === "testcase") cases.push(readCase(child, suite, fail(child)));
    }
  };
  if (root.name === "testsuite") visit(root, attr(root, "name"));
  else visit(root, undefined);

  const reportedRaw = attr(root, "time");
  let reportedTime: number | undefined = reportedRaw !== undefined ? parseSeconds(reportedRaw, `<${root.name}>`, fail(root)) : undefined;
  if (reportedTime === undefined && root.name === "testsuites") {
    const suites = root.children.filter((c): c is XmlElement => c.type === "element" && c.name === "testsuite");
    const times = suites.map((s) => attr(s, "time"));
    if (suites.length > 0 && times.every((t) => t !== undefined)) {
      reportedTime = suites.reduce((sum, s) => sum + parseSeconds(attr(s, "time"), "<testsuite>", fail(s)), 0);
    }
  }
  return { source, cases, ...summariseCases(cases), ...(reportedTime !== undefined ? { reportedTime } : {}) };
}

function readCase(element: XmlElement, suite: string | undefined, fail: (m: string) => never): TestCase {
  const name = attr(element, "name") ?? "";
  const classname = attr(element, "classname") ?? "";
  const fileAttr = attr(element, "file");
  const time = parseSeconds(attr(element, "time"), () => `<testcase name=${JSON.stringify(name.slice(0, 60))}>`, fail);
  let file: string | undefined;
  let fileSource: TestCase["fileSource"] = "none";
  if (fileAttr !== undefined && fileAttr.trim() !== "") {
    file = normaliseSpecPath(fileAttr);
    fileSource = "file";
  } else {
    file = fileFromClassname(classname);
    if (file) fileSource = "classname";
  }

  let status: TestStatus = "passed";
  let failure: TestFailure | undefined;
  for (const child of element.children) {
    if (child.type !== "element") continue;
    if (child.name === "failure" || child.name === "error") {
      // The first failure wins; an <error> after a <failure> does not replace it.
      if (!failure) {
        const text = textOf(child);
        failure = { kind: child.name, message: attr(child, "message") ?? text.trim().split("\n")[0] ?? "", text };
        const type = attr(child, "type");
        if (type !== undefined) failure.type = type;
      }
      status = "failed";
    } else if (child.name === "skipped" && status !== "failed") {
      status = "skipped";
    }
  }

  const idAttr = attr(element, "id");
  const lineAttr = attr(element, "line");
  let line: number | undefined = lineAttr !== undefined && /^\d+$/.test(lineAttr) ? Number(lineAttr) : undefined;
  if (line === undefined && failure) line = lineFromText(`${failure.text}\n${failure.message}`, file);
  const location = file !== undefined && line !== undefined ? `${file}:${line}` : undefined;

  const testCase: TestCase = { fileSource, name, classname, time, status };
  if (file !== undefined) testCase.file = file;
  if (failure) testCase.failure = failure;
  if (location) testCase.location = location;
  if (idAttr) testCase.id = normaliseSpecPath(idAttr);
  else if (lineAttr !== undefined && location) testCase.id = location;
  if (suite !== undefined) testCase.suite = suite;
  return testCase;
}

/** Totals and per-file totals of a list of test cases. */
export function summariseCases(cases: readonly TestCase[]): Pick<JUnitReport, "totals" | "files" | "unattributed"> {
  const totals: JUnitTotals = { tests: 0, passed: 0, failures: 0, skipped: 0, time: 0 };
  const files = new Map<string, FileTotals>();
  let unattributed = 0;
  for (const c of cases) {
    totals.tests++;
    totals.time += c.time;
    if (c.status === "passed") totals.passed++;
    else if (c.status === "failed") totals.failures++;
    else totals.skipped++;
    if (c.file === undefined) {
      unattributed++;
      continue;
    }
    let f = files.get(c.file);
    if (!f) files.set(c.file, (f = { file: c.file, tests: 0, failures: 0, skipped: 0, time: 0 }));
    f.tests++;
    f.time += c.time;
    if (c.status === "failed") f.failures++;
    if (c.status === "skipped") f.skipped++;
  }
  return {
    totals,
    files: [...files.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)),
    unattributed,
  };
}

export interface JUnitInput {
  /** Names the report in errors and becomes the suite name when the suite has none (e.g. `shard-3`). */
  name: string;
  xml: string;
}

/**
 * Merge several reports (e.g. one per shard) into one valid report with a single `<testsuites>` root.
 * Every `<testsuite>` is kept as it was (properties, system-out, CDATA); the root carries recomputed
 * totals. Throws `JUNIT_INVALID` naming the report (`report 2` or its name) and position.
 */
export function mergeJUnit(reports: ReadonlyArray<string | JUnitInput>, options: { name?: string } = {}): string {
  const suites: XmlElement[] = [];
  const allCases: TestCase[] = [];
  let errors = 0;
  let reported = 0;
  reports.forEach((report, i) => {
    const input = typeof report === "string" ? { name: `report ${i + 1}`, xml: report } : report;
    const root = parseXml(input.xml, input.name);
    const parsed = readJUnit(root, input.xml, input.name);
    allCases.push(...parsed.cases);
    reported += parsed.reportedTime ?? parsed.totals.time;
    const top = root.name === "testsuite" ? [root] : root.children.filter((c): c is XmlElement => c.type === "element" && c.name === "testsuite");
    for (const suite of top) {
      if (attr(suite, "name") === undefined) suite.attributes.unshift(["name", input.name]);
      suites.push(suite);
    }
    errors += parsed.cases.filter((c) => c.failure?.kind === "error").length;
  });
  const { totals } = summariseCases(allCases);
  const rootAttrs: Array<[string, string]> = [
    ["name", options.name ?? "rspec"],
    ["tests", String(totals.tests)],
    ["skipped", String(totals.skipped)],
    ["failures", String(totals.failures - errors)],
    ["errors", String(errors)],
    ["time", formatSeconds(reported)],
  ];
  const root: XmlElement = { type: "element", name: "testsuites", attributes: rootAttrs, children: suites, offset: 0 };
  return formatXmlDocument(root);
}

function formatSeconds(seconds: number): string {
  return seconds.toFixed(6);
}

/**
 * Write test cases as an rspec_junit_formatter-shaped report (one `<testsuite>`): `file` as `./spec/...`,
 * failures with message and text, skips as `<skipped/>`.
 */
export function formatJUnit(cases: readonly TestCase[], options: { name?: string; timestamp?: string } = {}): string {
  const { totals } = summariseCases(cases);
  const errors = cases.filter((c) => c.failure?.kind === "error").length;
  const attrs: Array<[string, string]> = [
    ["name", options.name ?? "rspec"],
    ["tests", String(totals.tests)],
    ["skipped", String(totals.skipped)],
    ["failures", String(totals.failures - errors)],
    ["errors", String(errors)],
    ["time", formatSeconds(totals.time)],
    ...(options.timestamp ? ([["timestamp", options.timestamp]] as Array<[string, string]>) : []),
  ];
  const children: XmlNode[] = cases.map((c) => {
    const caseAttrs: Array<[string, string]> = [
      ["classname", c.classname],
      ["name", c.name],
      ...(c.file !== undefined ? ([["file", `./${c.file}`]] as Array<[string, string]>) : []),
      ...(c.id !== undefined ? ([["id", `./${c.id}`]] as Array<[string, string]>) : []),
      ["time", formatSeconds(c.time)],
    ];
    const inner: XmlNode[] = [];
    if (c.status === "failed" && c.failure) {
      inner.push({
        type: "element",
        name: c.failure.kind,
        attributes: [["message", c.failure.message], ...(c.failure.type ? ([["type", c.failure.type]] as Array<[string, string]>) : [])],
        children: c.failure.text ? [{ type: "text", text: c.failure.text, cdata: false }] : [],
        offset: 0,
      });
    } else if (c.status === "failed") {
      inner.push({ type: "element", name: "failure", attributes: [["message", "failed"]], children: [], offset: 0 });
    } else if (c.status === "skipped") {
      inner.push({ type: "element", name: "skipped", attributes: [], children: [], offset: 0 });
    }
    return { type: "element", name: "testcase", attributes: caseAttrs, children: inner, offset: 0 };
  });
  const root: XmlElement = { type: "element", name: "testsuite", attributes: attrs, children, offset: 0 };
  return formatXmlDocument(root);
}

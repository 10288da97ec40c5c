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
 * The XML reader is a small, strict parser for the subset JUnit uses: elements, attributes (`"` or `'`),
 * the five named entities and numeric references, CDATA, comments, processing instructions and a DOCTYPE
 * without internal subset. Errors are `PipelineError("JUNIT_INVALID")` naming the report and `line:column`.
 */
import { PipelineError } from "./errors.js";

// ---------------------------------------------------------------------------------------------------------
// XML subset
// ---------------------------------------------------------------------------------------------------------

export interface XmlElement {
  type: "element";
  name: string;
  /** Attributes in document order (decoded). */
  attributes: Array<[string, string]>;
  children: XmlNode[];
  /** Character offset of the `<` in the source, for error positions. */
  offset: number;
}

export interface XmlText {
  type: "text";
  text: string;
  cdata: boolean;
}

export type XmlNode = XmlElement | XmlText;

/** `line:column` (1-based) of a character offset. */
export function formatPosition(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `${line}:${offset - lineStart + 1}`;
}

/** An XML name (the ASCII part exactly, non-ASCII letters loosely), matched at `lastIndex`. */
const NAME = /[A-Za-z_:\u00C0-\uFFFF][A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]*/y;
const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Parse an XML document (the JUnit subset) into its root element.
 * @param source names the document in error messages (a file name or `shard 3`).
 */
export function parseXml(xml: string, source = "XML"): XmlElement {
  let pos = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (message: string, at = pos): never => {
    throw new PipelineError("JUNIT_INVALID", `${source}:${formatPosition(xml, at)}: ${message}`, {
      hint: "pass the report rspec_junit_formatter wrote (rspec --format RspecJunitFormatter --out <file>); a report cut short usually means the run was killed",
    });
  };

  const decode = (raw: string, at: number): string => {
    if (!raw.includes("&")) return raw;
    return raw.replace(/&([^;&\s<]*);?/g, (match, body: string, index: number) => {
      if (!match.endsWith(";")) fail(`"&" must start an entity such as &amp; (found ${JSON.stringify(match.slice(0, 12))})`, at + index);
      if (body.startsWith("#")) {
        const hex = body[1] === "x" || body[1] === "X";
        const digits = body.slice(hex ? 2 : 1);
        const code = digits !== "" && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits) ? Number.parseInt(digits, hex ? 16 : 10) : Number.NaN;
        if (!Number.isFinite(code) || code > 0x10ffff || code === 0) fail(`invalid character reference &${body};`, at + index);
        return String.fromCodePoint(code);
      }
      const named = NAMED_ENTITIES[body];
      if (named === undefined) fail(`unknown entity &${body}; (XML knows &amp; &lt; &gt; &quot; &apos; and &#...;)`, at + index);
      return named!;
    });
  };

  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(xml);
    if (!m) return fail(`expected a tag or attribute name, found ${describe(xml[pos])}`);
    pos += m[0].length;
    return m[0];
  };
  const skipSpace = (): void => {
    for (let c = xml.charCodeAt(pos); c === 32 || c === 10 || c === 13 || c === 9; c = xml.charCodeAt(pos)) pos++;
  };
  const expectEnd = (terminator: string, what: string, from: number): number => {
    const end = xml.indexOf(terminator, pos);
    if (end === -1) fail(`${what} is never closed with ${terminator}`, from);
    return end;
  };
  /** Skips comments, processing instructions and DOCTYPE at `pos`; returns false when none is there. */
  const skipMisc = (): boolean => {
    if (xml.startsWith("<!--", pos)) {
      const start = pos;
      pos = expectEnd("-->", "a comment", start) + 3;
      return true;
    }
    if (xml.startsWith("<?", pos)) {
      const start = pos;
      pos = expectEnd("?>", "a processing instruction", start) + 2;
      return true;
    }
    if (xml.startsWith("<!DOCTYPE", pos)) {
      const start = pos;
      const end = expectEnd(">", "the DOCTYPE", start);
      if (xml.slice(start, end).includes("[")) fail("a DOCTYPE with an internal subset is not supported in JUnit reports", start);
      pos = end + 1;
      return true;
    }
    return false;
  };

  const readElement = (): XmlElement => {
    const start = pos;
    pos++; // <
    const name = readName();
    const element: XmlElement = { type: "element", name, attributes: [], children: [], offset: start };
    const seen = new Set<string>();
    for (;;) {
      const before = pos;
      skipSpace();
      if (pos >= xml.length) fail(`<${name}> is cut short: the document ends inside the tag`, start);
      if (xml[pos] === "/") {
        if (xml[pos + 1] !== ">") fail(`expected "/>" to close <${name}>`);
        pos += 2;
        return element;
      }
      if (xml[pos] === ">") {
        pos++;
        break;
      }
      if (before === pos) fail(`expected whitespace before the next attribute of <${name}>, found ${describe(xml[pos])}`);
      const attrAt = pos;
      const attr = readName();
      skipSpace();
      if (xml[pos] !== "=") fail(`attribute ${attr} of <${name}> has no value (expected =)`);
      pos++;
      skipSpace();
      const quote = xml[pos];
      if (quote !== '"' && quote !== "'") fail(`the value of attribute ${attr} of <${name}> must be quoted`);
      const valueStart = pos + 1;
      const valueEnd = xml.indexOf(quote!, valueStart);
      if (valueEnd === -1) fail(`the value of attribute ${attr} of <${name}> is never closed`, attrAt);
      const raw = xml.slice(valueStart, valueEnd);
      const lt = raw.indexOf("<");
      if (lt !== -1) fail(`"<" is not allowed inside the value of attribute ${attr} (write &lt;)`, valueStart + lt);
      if (seen.has(attr)) fail(`attribute ${attr} appears twice on <${name}>`, attrAt);
      seen.add(attr);
      // Attribute-value normalisation: literal tabs/newlines become spaces; &#10; stays a newline.
      element.attributes.push([attr, decode(/[\t\n\r]/.test(raw) ? raw.replace(/[\t\n\r]/g, " ") : raw, valueStart)]);
      pos = valueEnd + 1;
    }
    // content
    for (;;) {
      if (pos >= xml.length) fail(`<${name}> is never closed (expected </${name}>)`, start);
      const lt = xml.indexOf("<", pos);
      if (lt === -1) fail(`<${name}> is never closed (expected </${name}>)`, start);
      if (lt > pos) {
        const raw = xml.slice(pos, lt);
        element.children.push({ type: "text", text: decode(raw, pos), cdata: false });
        pos = lt;
      }
      if (xml.startsWith("</", pos)) {
        const closeAt = pos;
        pos += 2;
        const closing = readName();
        skipSpace();
        if (xml[pos] !== ">") fail(`expected ">" to end </${closing}>`);
        pos++;
        if (closing !== name) fail(`</${closing}> closes <${name}> opened at ${formatPosition(xml, start)}`, closeAt);
        return element;
      }
      if (xml.startsWith("<![CDATA[", pos)) {
        const cdataStart = pos;
        const end = expectEnd("]]>", "a CDATA section", cdataStart);
        element.children.push({ type: "text", text: xml.slice(cdataStart + 9, end), cdata: true });
        pos = end + 3;
        continue;
      }
      if (skipMisc()) continue;
      if (xml.startsWith("<!", pos)) fail(`unexpected markup ${JSON.stringify(xml.slice(pos, pos + 12))}`);
      element.children.push(readElement());
    }
  };

  let root: XmlElement | undefined;
  for (;;) {
    skipSpace();
    if (pos >= xml.length) break;
    if (xml[pos] !== "<") fail(`text outside the root element: ${JSON.stringify(xml.slice(pos, pos + 20))}`);
    if (skipMisc()) continue;
    if (root) fail(`a second root element <${xml.slice(pos + 1).match(/^[^\s/>]*/)?.[0]}> after </${root.name}>`);
    root = readElement();
  }
  if (!root) fail(xml.trim() === "" ? "the report is empty" : "no root element", 0);
  return root!;
}

function describe(ch: string | undefined): string {
  return ch === undefined ? "the end of the document" : JSON.stringify(ch);
}

/** Escape text for an attribute value or element content. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (ch) => {
    switch (ch) {
      case "&":
        return "&amp;";
      case "<":
        return "&lt;";
      case ">":
        return "&gt;";
      case '"':
        return "&quot;";
      case "'":
        return "&apos;";
      default:
        return ""; // control characters are not allowed in XML 1.0 at all
    }
  });
}

/** Serialise an element tree back to XML (attributes escaped, CDATA kept). */
export function formatXmlElement(element: XmlElement, indent = ""): string {
  // Whitespace other than spaces is written as references: a parser normalises literal ones to spaces.
  const attrs = element.attributes.map(([k, v]) => ` ${k}="${escapeXml(v).replace(/\n/g, "&#10;").replace(/\t/g, "&#9;").replace(/\r/g, "&#13;")}"`).join("");
  if (element.children.length === 0) return `${indent}<${element.name}${attrs}/>`;
  const hasElements = element.children.some((c) => c.type === "element");
  const onlyElements = hasElements && element.children.every((c) => c.type === "element" || (!c.cdata && c.text.trim() === ""));
  if (onlyElements) {
    const inner = element.children
      .filter((c): c is XmlElement => c.type === "element")
      .map((c) => formatXmlElement(c, `${indent}  `))
      .join("\n");
    return `${indent}<${element.name}${attrs}>\n${inner}\n${indent}</${element.name}>`;
  }
  const inner = element.children
    .map((c) =>
      c.type === "element"
        ? formatXmlElement(c)
        : c.cdata
          ? `<![CDATA[${c.text.replace(/]]>/g, "]]]]><![CDATA[>")}]]>`
          : escapeXml(c.text).replace(/&apos;/g, "'").replace(/&quot;/g, '"'),
    )
    .join("");
  return `${indent}<${element.name}${attrs}>${inner}</${element.name}>`;
}

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
  const fail = (element: XmlElement) => (message: string): never => {
    throw new PipelineError("JUNIT_INVALID", `${source}:${formatPosition(xml, element.offset)}: ${message}`, {
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
  return `<?xml version="1.0" encoding="UTF-8"?>\n${formatXmlElement(root)}\n`;
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
  return `<?xml version="1.0" encoding="UTF-8"?>\n${formatXmlElement(root)}\n`;
}

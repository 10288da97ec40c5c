/**
 * Flaky-aware retries, pure. A shard runs its examples once, then reruns the ones that failed in a
 * fresh process, up to `--retries` times. Every attempt's JUnit (and rspec JSON, for example ids)
 * comes back here and each example gets one verdict:
 * - `passed`: passed the first time; `skipped`: pending/skipped;
 * - `failed`: failed every attempt it got;
 * - `flaky`: failed, then passed on a retry. It is never reported as passed.
 *
 * The report keeps every attempt the way Maven Surefire writes reruns, which is what CI servers
 * (Jenkins, GitLab, CircleCI, the JUnit publish actions) read: a flaky example is a passing
 * `<testcase>` holding one `<flakyFailure>` (or `<flakyError>`) per failed attempt; a failed one
 * holds its first `<failure>` (`<error>`) and one `<rerunFailure>` (`<rerunError>`) per failed rerun,
 * each with a `<stackTrace>` (surefire-test-report-3.0.xsd; maven.apache.org/surefire/
 * maven-surefire-plugin/examples/rerun-failing-tests.html). One `<testcase>` per example.
 */
import { PipelineError } from "./errors.js";
import { normaliseSpecPath, parseJUnit, type TestCase } from "./junit.js";
import { formatXmlDocument, type XmlElement, type XmlNode } from "./xml.js";

/** More than this many reruns of a failing example only hides a real failure longer. */
export const MAX_RETRIES = 5;

/** `--retries` must be a whole number from 0 to MAX_RETRIES. */
export function validateRetries(retries: number): void {
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new PipelineError("ARGUMENT_INVALID", `--retries ${retries} must be a whole number from 0 to ${MAX_RETRIES}`, {
      hint: "pass --retries 0 (no retries) up to 5; an example that fails more often than that is not flaky, it is failing",
    });
  }
}

export type ExampleVerdict = "passed" | "failed" | "flaky" | "skipped";

/** One attempt of a shard: its JUnit report and, when written, rspec's JSON report (example ids). */
export interface AttemptReport {
  junit: string;
  rspecJson?: string;
}

export interface ExampleOutcome {
  /** rspec id (`spec/a_spec.rb[1:2]`) when the rspec JSON report gave one. */
  id?: string;
  verdict: ExampleVerdict;
  /** Every attempt this example got, first pass first. */
  attempts: TestCase[];
}

/** The files a shard's retries write, attempt k >= 1 (the first pass writes junit.xml and rspec.json). */
export function retryReportFiles(attempt: number | string): { junit: string; rspecJson: string } {
  return { junit: `junit-retry-${attempt}.xml`, rspecJson: `rspec-retry-${attempt}.json` };
}

/**
 * A shard's retry reports and the seconds they took, read through `read` (a file of the shard's out
 * folder, undefined when missing): the same for the Dagger graph and the local runner.
 */
export async function readRetryReports(read: (name: string) => Promise<string | undefined>): Promise<{ retries?: AttemptReport[]; retrySeconds?: number }> {
  const count = Number((await read("attempts"))?.trim() ?? "0");
  const retries: AttemptReport[] = [];
  for (let k = 1; k <= count; k++) {
    const files = retryReportFiles(k);
    const [junit, rspecJson] = await Promise.all([read(files.junit), read(files.rspecJson)]);
    retries.push({ junit: junit ?? "", ...(rspecJson ? { rspecJson } : {}) });
  }
  const seconds = await read("retry-seconds");
  return { ...(retries.length ? { retries } : {}), ...(seconds !== undefined && count > 0 ? { retrySeconds: Number(seconds) } : {}) };
}

interface RspecJsonExample {
  id?: string;
  full_description?: string;
  file_path?: string;
  status?: string;
}

/** `file \0 full name`: how a JUnit test case and an rspec JSON example are matched. */
const keyOf = (file: string | undefined, name: string) => `${file ?? ""}\u0000${name}`;

/** Example ids by key, in report order (two examples may share a name: they are matched in order). */
function idsByKey(rspecJson: string | undefined): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  if (!rspecJson) return ids;
  let examples: RspecJsonExample[] = [];
  try {
    examples = (JSON.parse(rspecJson) as { examples?: RspecJsonExample[] }).examples ?? [];
  } catch {
    return ids; // no ids: examples are still matched across attempts by file and name
  }
  for (const e of examples) {
    if (!e.id || e.file_path === undefined || e.full_description === undefined) continue;
    const key = keyOf(normaliseSpecPath(e.file_path), e.full_description);
    ids.set(key, [...(ids.get(key) ?? []), normaliseSpecPath(e.id)]);
  }
  return ids;
}

/** The ids rspec reported as failed in a JSON report (what a retry reruns). */
export function failedExampleIds(rspecJson: string): string[] {
  const examples = (JSON.parse(rspecJson) as { examples?: RspecJsonExample[] }).examples ?? [];
  return examples.filter((e) => e.status === "failed" && e.id).map((e) => normaliseSpecPath(e.id!));
}

/**
 * One outcome per example of the first attempt, with the later attempts attached. An example a
 * retry did not report (the retry crashed) keeps the attempts it had: failed stays failed.
 */
export function resolveAttempts(attempts: readonly AttemptReport[], source = "shard"): ExampleOutcome[] {
  if (attempts.length === 0) return [];
  const parsed = attempts.map((a, i) => ({ cases: parseJUnit(a.junit, i === 0 ? source : `${source} retry ${i}`).cases, ids: idsByKey(a.rspecJson) }));
  const outcomes: ExampleOutcome[] = [];
  const byKey = new Map<string, ExampleOutcome[]>();
  for (const c of parsed[0]!.cases) {
    const key = keyOf(c.file, c.name);
    const id = c.id ?? parsed[0]!.ids.get(key)?.shift();
    const outcome: ExampleOutcome = { ...(id ? { id } : {}), verdict: c.status, attempts: [c] };
    outcomes.push(outcome);
    byKey.set(key, [...(byKey.get(key) ?? []), outcome]);
  }
  for (const attempt of parsed.slice(1)) {
    const pending = new Map([...byKey].map(([k, list]) => [k, list.filter((o) => o.attempts.at(-1)!.status === "failed")]));
    for (const c of attempt.cases) {
      const outcome = pending.get(keyOf(c.file, c.name))?.shift();
      if (outcome) outcome.attempts.push(c);
    }
  }
  for (const o of outcomes) o.verdict = verdictOf(o.attempts);
  return outcomes;
}

function verdictOf(attempts: readonly TestCase[]): ExampleVerdict {
  const first = attempts[0]!.status;
  if (first !== "failed") return first;
  return attempts.some((a) => a.status === "passed") ? "flaky" : "failed";
}

const seconds = (s: number) => s.toFixed(6);

/** An element of the tree `formatXmlDocument` writes (it escapes names and texts, lib/xml.ts). */
function element(name: string, attributes: Array<[string, string]>, children: XmlNode[] = []): XmlElement {
  return { type: "element", name, attributes, children, offset: 0 };
}

const text = (value: string): XmlNode[] => (value === "" ? [] : [{ type: "text", text: value, cdata: false }]);

/** `<failure>`/`<error>` hold the text; Surefire's rerun and flaky elements hold it in a `<stackTrace>`. */
function problemElement(name: string, c: TestCase, nested: boolean): XmlElement {
  const f = c.failure ?? { kind: "failure" as const, message: "failed", text: "" };
  const type = f.type ?? (f.kind === "error" ? "Error" : "RSpec::Expectations::ExpectationNotMetError");
  const attributes: Array<[string, string]> = [
    ["message", f.message],
    ["type", type],
  ];
  return element(name, attributes, nested ? [element("stackTrace", [], text(f.text))] : text(f.text));
}

function outcomeElement(o: ExampleOutcome): XmlElement {
  const passing = o.attempts.find((a) => a.status === "passed");
  const shown = o.verdict === "flaky" ? passing! : o.attempts[0]!;
  const attributes: Array<[string, string]> = [
    ["classname", shown.classname],
    ["name", shown.name],
    ...(shown.file !== undefined ? ([["file", `./${shown.file}`]] as Array<[string, string]>) : []),
    ...(o.id ? ([["id", `./${o.id}`]] as Array<[string, string]>) : []),
    ["time", seconds(shown.time)],
  ];
  const inner: XmlElement[] = [];
  const failedAttempts = o.attempts.filter((a) => a.status === "failed");
  if (o.verdict === "flaky") {
    for (const a of failedAttempts) inner.push(problemElement(a.failure?.kind === "error" ? "flakyError" : "flakyFailure", a, true));
  } else if (o.verdict === "failed") {
    const [first, ...reruns] = failedAttempts;
    inner.push(problemElement(first!.failure?.kind === "error" ? "error" : "failure", first!, false));
    for (const a of reruns) inner.push(problemElement(a.failure?.kind === "error" ? "rerunError" : "rerunFailure", a, true));
  } else if (o.verdict === "skipped") {
    inner.push(element("skipped", []));
  }
  return element("testcase", attributes, inner);
}

/**
 * One `<testsuite>` of a shard with every attempt kept (Surefire's rerun elements) and example ids
 * as `id` attributes, so a later `--only-failures` can select them. Written by lib/xml.ts like every
 * other report, so names with quotes, markup, line breaks or control characters read back unchanged.
 */
export function formatAttemptsJUnit(outcomes: readonly ExampleOutcome[], options: { name: string; time?: number }): string {
  const count = (v: ExampleVerdict) => outcomes.filter((o) => o.verdict === v).length;
  const failed = outcomes.filter((o) => o.verdict === "failed");
  const errors = failed.filter((o) => o.attempts.find((a) => a.status === "failed")?.failure?.kind === "error").length;
  const time = options.time ?? outcomes.reduce((t, o) => t + o.attempts.reduce((s, a) => s + a.time, 0), 0);
  const attributes: Array<[string, string]> = [
    ["name", options.name],
    ["tests", String(outcomes.length)],
    ["skipped", String(count("skipped"))],
    ["failures", String(failed.length - errors)],
    ["errors", String(errors)],
    ["flakes", String(count("flaky"))],
    ["time", seconds(time)],
  ];
  return formatXmlDocument(element("testsuite", attributes, outcomes.map(outcomeElement)));
}

/** A flaky example as the summary lists it. */
export interface FlakyExample {
  shardIndex: number;
  id?: string;
  location: string;
  name: string;
  /** Attempts until it passed. */
  attempts: number;
  /** The first failure's message. */
  message: string;
}

export function flakyExamples(shardIndex: number, outcomes: readonly ExampleOutcome[]): FlakyExample[] {
  return outcomes
    .filter((o) => o.verdict === "flaky")
    .map((o) => {
      const first = o.attempts[0]!;
      return {
        shardIndex,
        ...(o.id ? { id: o.id } : {}),
        location: o.id ?? first.location ?? first.file ?? first.classname,
        name: first.name,
        attempts: o.attempts.findIndex((a) => a.status === "passed") + 1,
        message: (first.failure?.message ?? "").trim().split("\n")[0] ?? "",
      };
    });
}

/** The summary's section for flaky examples (empty when there are none). */
export function formatFlakyExamples(flaky: readonly FlakyExample[]): string {
  if (flaky.length === 0) return "";
  const lines = [`Flaky: failed, then passed on a retry (${flaky.length}); not counted as passed:`];
  for (const f of flaky) {
    lines.push(`  ${f.location}  ${f.name}  [shard ${f.shardIndex}, passed on attempt ${f.attempts}]`);
    if (f.message) lines.push(`    first failure: ${f.message}`);
  }
  return lines.join("\n");
}

/**
 * The timing store: previous run times per spec file (and per example when known), read from
 * - rspec_junit_formatter XML (per example and per file; `file="./spec/..."`),
 * - knapsack JSON (`{"spec/a_spec.rb": 1.23, ...}`; keys like `spec/a_spec.rb[1:2]` are examples),
 * - parallel_tests runtime logs (`spec/a_spec.rb:1.23` per line, split on the LAST colon; lines that
 *   name no spec file, such as rspec's own `Randomized with seed 1234`, are skipped as parallel_tests
 *   skips them),
 * - rspec's JSON formatter (`{"examples":[{"id":"./spec/a_spec.rb[1:1]","run_time":0.1,...}]}`), the one
 *   format that carries example ids for every example, which example-level splitting needs.
 * The format is detected from the content. Pure: strings in, data out, in time linear in the text.
 *
 * A file or example listed twice is read as the tool that wrote the file reads it, and a warning says
 * so: a parallel_tests log appended across runs keeps the last time of each file (parallel_tests'
 * `runtimes` assigns `times[test] = ...` line by line), a knapsack report keeps the last of equal keys
 * (Ruby's JSON, like `JSON.parse`). Seconds are decimal numbers only (`0x10` is refused, not 16).
 *
 * `parseTimings` is strict (throws `TIMINGS_INVALID` naming the file and `line:column`);
 * `parseTimingsOrWarn` never throws: it keeps what it can and returns warnings, so a bad timings file
 * degrades the split instead of failing the run. `resolveTimings` then fits the timings to the files
 * that exist now: drops the vanished, estimates the new (median known time, `estimated: true`).
 */
import { PipelineError, ProblemsError, type Problem } from "./errors.js";
import { scanJson, type JsonKey } from "./json-scan.js";
import { matchClassnameToFile, normaliseSpecPath, parseJUnit, type JUnitReport } from "./junit.js";
import { formatPosition, positionsIn } from "./text-position.js";

export type TimingsFormat = "junit" | "knapsack" | "parallel-tests" | "rspec-json";

/** One example's time. `id` is a unit rspec accepts: `spec/a_spec.rb[1:2:3]` or `spec/a_spec.rb:42`. */
export interface ExampleTiming {
  id: string;
  seconds: number;
}

export interface FileTiming {
  /** `spec/...`, normalised. */
  path: string;
  seconds: number;
  /** Per-example times with ids, only when every example of the file has one (needed to split a file). */
  examples?: ExampleTiming[];
  /** Number of examples seen (JUnit / rspec JSON), with or without ids. */
  exampleCount?: number;
  /** Set when the path was derived from a legacy JUnit classname and may need matching to a real file. */
  classname?: string;
}

export interface Timings {
  format: TimingsFormat | "none";
  /** The name given to the parser, e.g. the file path. */
  source: string;
  /** Sorted by path, one entry per file. */
  files: FileTiming[];
  /** JUnit test cases whose file the report does not name, grouped by classname (resolved later). */
  unattributed: Array<{ classname: string; seconds: number }>;
  warnings: string[];
}

const HINT =
  "pass a knapsack JSON report, a parallel_tests runtime log, an rspec JSON report or a JUnit XML report from a previous run, or leave the timings out to split by file count";

/** Bad entries listed in an error or in warnings; the rest are counted. */
const MAX_LISTED_PROBLEMS = 20;

/** Guess the format from the content; throws `TIMINGS_INVALID` when it is none of the four. */
export function detectTimingsFormat(text: string, source = "timings"): TimingsFormat {
  const body = text.replace(/^\uFEFF/, "").trimStart();
  if (body === "") throw new PipelineError("TIMINGS_INVALID", `${source} is empty`, { hint: HINT });
  if (body.startsWith("<")) return "junit";
  if (body.startsWith("{")) return /^\{\s*"(version|examples|summary|seed)"\s*:/.test(body) || /"examples"\s*:\s*\[/.test(body) ? "rspec-json" : "knapsack";
  const first = body.split("\n", 1)[0]!.trim();
  // parallel_tests: `path:seconds` lines; one among the first 200 lines is enough to tell (rspec's own
  // lines may come first in a log as committed).
  const lines = body.split("\n", 200).map((l) => l.trim());
  if (lines.some((l) => timingLine(l) !== undefined)) return "parallel-tests";
  throw new PipelineError("TIMINGS_INVALID", `${source}:1:1: the format is not recognised (starts with ${JSON.stringify(first.slice(0, 40))})`, {
    hint: HINT,
  });
}

/** Strict: parse a timings file of any supported format; throws `TIMINGS_INVALID` naming `source:line`. */
export function parseTimings(text: string, source = "timings"): Timings {
  const problems: Problem[] = [];
  const timings = parseInto(text, source, problems);
  if (problems.length === 1) {
    throw new PipelineError("TIMINGS_INVALID", `${problems[0]!.path}: ${problems[0]!.message}`, { hint: problems[0]!.hint ?? HINT });
  }
  if (problems.length > 1) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
    if (problems.length > MAX_LISTED_PROBLEMS) listed.push({ path: source, message: `and ${problems.length - MAX_LISTED_PROBLEMS} more bad entries` });
    throw new ProblemsError("TIMINGS_INVALID", `${source} cannot be used as timings`, listed);
  }
  return timings;
}

/**
 * Lenient: never throws. Keeps every entry it can read; a missing (`undefined`) or unreadable file, or
 * bad entries, become warnings and the result simply has fewer (or no) files, so the planner falls
 * back to estimates.
 */
export function parseTimingsOrWarn(text: string | undefined, source = "timings"): Timings {
  if (text === undefined) {
    return { format: "none", source, files: [], unattributed: [], warnings: [`no timings at ${source}: every file gets the same estimate`] };
  }
  const problems: Problem[] = [];
  let timings: Timings;
  try {
    timings = parseInto(text, source, problems);
  } catch (err) {
    const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
    return { format: "none", source, files: [], unattributed: [], warnings: [`ignoring ${source}: ${message}`] };
  }
  // A file with many bad entries gives a few lines, not one per entry.
  const warnings = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `ignoring ${p.path}: ${p.message}`);
  if (problems.length > MAX_LISTED_PROBLEMS) warnings.push(`ignoring ${problems.length - MAX_LISTED_PROBLEMS} more bad entries of ${source}`);
  return { ...timings, warnings: [...timings.warnings, ...warnings] };
}

/** Parse; recoverable problems (one bad entry) go to `problems`, unrecoverable ones throw. */
function parseInto(text: string, source: string, problems: Problem[]): Timings {
  const format = detectTimingsFormat(text, source);
  const body = text.replace(/^\uFEFF/, "");
  switch (format) {
    case "junit":
      return fromJUnitReports([parseJUnitAsTimings(body, source)], source);
    case "knapsack":
      return parseKnapsack(body, source, problems);
    case "parallel-tests":
      return parseParallelTests(body, source, problems);
    case "rspec-json":
      return parseRspecJson(body, source, problems);
  }
}

function parseJUnitAsTimings(xml: string, source: string): JUnitReport {
  try {
    return parseJUnit(xml, source);
  } catch (err) {
    if (err instanceof PipelineError) {
      throw new PipelineError("TIMINGS_INVALID", err.message.replace(/^\[JUNIT_INVALID\] /, "").split("\n")[0]!, { hint: HINT, cause: err });
    }
    throw err;
  }
}

/** A key names a file or one example of it: `spec/a_spec.rb`, `spec/a_spec.rb[1:2]`, `spec/a_spec.rb:42`. */
export function parseUnitKey(key: string): { file: string; exampleId?: string } {
  const norm = normaliseSpecPath(key);
  const bracket = /^(.+?)\[([\d:,]+)\]$/.exec(norm);
  if (bracket) return { file: bracket[1]!, exampleId: norm };
  const line = /^(.+\.rb):(\d+)$/.exec(norm);
  if (line) return { file: line[1]!, exampleId: norm };
  return { file: norm };
}

class Accumulator {
  private files = new Map<string, { whole?: number; examples: Map<string, number>; count: number; anonymous: number; anonymousCount: number; classname?: string }>();

  entry(path: string) {
    let e = this.files.get(path);
    if (!e) this.files.set(path, (e = { examples: new Map(), count: 0, anonymous: 0, anonymousCount: 0 }));
    return e;
  }

  addKey(key: string, seconds: number): void {
    const { file, exampleId } = parseUnitKey(key);
    const e = this.entry(file);
    if (exampleId) e.examples.set(exampleId, (e.examples.get(exampleId) ?? 0) + seconds);
    else e.whole = (e.whole ?? 0) + seconds;
  }

  /** One example of a file, with or without an id. */
  addExample(file: string, seconds: number, id?: string, classname?: string): void {
    const e = this.entry(file);
    e.count++;
    if (classname) e.classname = classname;
    if (id) e.examples.set(id, (e.examples.get(id) ?? 0) + seconds);
    else {
      e.anonymous += seconds;
      e.anonymousCount++;
    }
  }

  result(): FileTiming[] {
    const out: FileTiming[] = [];
    for (const [path, e] of this.files) {
      const exampleSum = [...e.examples.values()].reduce((a, b) => a + b, 0);
      const seconds = e.whole ?? exampleSum + e.anonymous;
      // Splitting a file by ids is only safe when every example seen has an id.
      const complete = e.examples.size > 0 && e.anonymousCount === 0;
      const examples = complete
        ? [...e.examples].map(([id, s]) => ({ id, seconds: s })).sort((a, b) => compareStrings(a.id, b.id))
        : undefined;
      out.push({
        path,
        seconds,
        ...(examples ? { examples } : {}),
        ...(e.count > 0 ? { exampleCount: e.count } : {}),
        ...(e.classname ? { classname: e.classname } : {}),
      });
    }
    return out.sort((a, b) => compareStrings(a.path, b.path));
  }
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkSeconds(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** Seconds as parallel_tests and knapsack write them: decimal, maybe with an exponent (Ruby's `1.2e-05`). */
const DECIMAL_SECONDS = /^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A short, bounded description of a JSON value for a message (never the whole value). */
function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}

/** JSON.parse, or `TIMINGS_INVALID` naming `source:line:column` of the first syntax error. */
function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = scanJson(text).errorAt;
    const where = offset !== undefined ? `${source}:${formatPosition(text, offset)}` : source;
    throw new PipelineError("TIMINGS_INVALID", `${where}: not valid JSON (${message.split("\n")[0]!.slice(0, 120)})`, { hint: HINT, cause: err });
  }
}

/** Several occurrences of one file or example: which one was used and where all of them are. */
interface Occurrences {
  count: number;
  where: string[];
}

/** One warning for every file or example listed more than once, saying which time was used and why. */
function duplicatesWarning(source: string, duplicates: ReadonlyMap<string, Occurrences>, rule: string): string[] {
  const repeated = [...duplicates].filter(([, o]) => o.count > 1);
  if (repeated.length === 0) return [];
  const [key, o] = repeated[0]!;
  const example = `${key} ${o.count} times (${o.where.slice(0, 3).join(", ")}${o.count > 3 ? ", ..." : ""})`;
  return [`${source}: ${repeated.length} file(s) or example(s) are listed more than once, e.g. ${example}; ${rule}`];
}

function parseKnapsack(text: string, source: string, problems: Problem[]): Timings {
  const data = parseJson(text, source);
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new PipelineError("TIMINGS_INVALID", `${source}:1:1: a knapsack report is a JSON object of "path": seconds`, { hint: HINT });
  }
  const values = data as Record<string, unknown>;
  // The keys in document order, with positions: JSON.parse keeps only the last of equal keys.
  const keys: JsonKey[] = scanJson(text).keys;
  const position = positionsIn(text);
  const kept = new Map<string, { key: string; seconds: number }>();
  const seen = new Map<string, Occurrences>();
  const reported = new Set<string>();
  for (const { key, offset } of keys) {
    const value = values[key];
    if (!checkSeconds(value) || key.trim() === "") {
      const where = `${source}:${position(offset)}`;
      // Equal raw keys share JSON.parse's (last) value: report it once.
      if (!reported.has(key)) {
        reported.add(key);
        problems.push(
          key.trim() === ""
            ? { path: where, message: "an empty path" }
            : { path: where, message: `${JSON.stringify(key)} has ${describeValue(value)}, expected a number of seconds ≥ 0`, hint: `write the seconds as a number, e.g. ${JSON.stringify(key)}: 1.25` },
        );
      }
      continue;
    }
    const unit = normaliseSpecPath(key);
    const occurrences = seen.get(unit) ?? { count: 0, where: [] };
    occurrences.count++;
    if (occurrences.where.length < 3) occurrences.where.push(position(offset));
    seen.set(unit, occurrences);
    kept.set(unit, { key, seconds: value });
  }
  const acc = new Accumulator();
  for (const { key, seconds } of kept.values()) acc.addKey(key, seconds);
  const warnings = duplicatesWarning(source, seen, "the last one is used, as knapsack (Ruby's JSON) reads the report");
  return { format: "knapsack", source, files: acc.result(), unattributed: [], warnings };
}

/**
 * rspec's own output that a parallel_tests log as committed carries (its RuntimeLogger is an rspec
 * text formatter): `Randomized with seed 1234`, `Run options: include {focus: true}`, `All examples
 * were filtered out; ignoring {focus: true}`. Skipped without a word, as parallel_tests skips them.
 */
const RSPEC_OWN_LINE = /^(Randomized with seed \d+|Run options: |All examples were filtered out)/;

/**
 * `path:seconds` split on the last colon, when the path names a spec file (`.rb` or `.feature`,
 * optionally with an example id or line); undefined for any other line.
 */
function timingLine(line: string): { path: string; secondsText: string } | undefined {
  const colon = line.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const path = line.slice(0, colon).trim();
  const file = path.replace(/(\[[\d:,]+\]|(:\d+)+)$/, "");
  if (!/\.(rb|feature)$/.test(file) || /^[\[{<]/.test(path)) return undefined;
  return { path, secondsText: line.slice(colon + 1).trim() };
}

/**
 * A parallel_tests runtime log, read as parallel_tests reads it (lib/parallel_tests/test/runner.rb,
 * `runtimes`): `test, _, time = line.rpartition(':')`, a line counts only when `test` is a test file,
 * and `times[test] = time` keeps the LAST line of a file, so a log appended across runs gives each
 * file its latest time (adding them up made a real log 8.6 times too slow).
 */
function parseParallelTests(text: string, source: string, problems: Problem[]): Timings {
  const kept = new Map<string, { path: string; seconds: number }>();
  const seen = new Map<string, Occurrences>();
  const skipped: string[] = [];
  const lines = text.split("\n");
  lines.forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#") || RSPEC_OWN_LINE.test(line)) return;
    const entry = timingLine(line);
    if (entry === undefined) {
      skipped.push(`${i + 1}`);
      return;
    }
    const seconds = DECIMAL_SECONDS.test(entry.secondsText) ? Number(entry.secondsText) : Number.NaN;
    if (!checkSeconds(seconds)) {
      problems.push({
        path: `${source}:${i + 1}`,
        message: `expected "path:seconds" with decimal seconds, found ${JSON.stringify(line.slice(0, 80))}`,
        hint: "each line of a parallel_tests runtime log is <spec path>:<seconds>, e.g. spec/models/user_spec.rb:1.25",
      });
      return;
    }
    const unit = normaliseSpecPath(entry.path);
    const occurrences = seen.get(unit) ?? { count: 0, where: [] };
    occurrences.count++;
    if (occurrences.where.length < 3) occurrences.where.push(`line ${i + 1}`);
    seen.set(unit, occurrences);
    kept.set(unit, { path: entry.path, seconds });
  });
  const acc = new Accumulator();
  for (const { path, seconds } of kept.values()) acc.addKey(path, seconds);
  const warnings = duplicatesWarning(source, seen, "the last time of each is used, as parallel_tests reads a log appended across runs");
  if (skipped.length > 0) {
    warnings.push(`${source}: skipped ${skipped.length} line(s) that name no spec file (line ${skipped.slice(0, 5).join(", ")}${skipped.length > 5 ? ", ..." : ""}), as parallel_tests does`);
  }
  return { format: "parallel-tests", source, files: acc.result(), unattributed: [], warnings };
}

function parseRspecJson(text: string, source: string, problems: Problem[]): Timings {
  const data = parseJson(text, source) as { examples?: unknown };
  if (!Array.isArray(data?.examples)) {
    throw new PipelineError("TIMINGS_INVALID", `${source}:1:1: an rspec JSON report needs an "examples" array`, { hint: HINT });
  }
  const acc = new Accumulator();
  data.examples.forEach((example: unknown, i: number) => {
    const e = example as { id?: unknown; file_path?: unknown; line_number?: unknown; run_time?: unknown };
    const id = typeof e?.id === "string" ? normaliseSpecPath(e.id) : undefined;
    const file = id ? parseUnitKey(id).file : typeof e?.file_path === "string" ? normaliseSpecPath(e.file_path) : undefined;
    const seconds = e?.run_time === undefined ? 0 : e.run_time;
    if (!file || !checkSeconds(seconds)) {
      problems.push({
        path: `${source} examples[${i}]`,
        message: !file ? "has neither id nor file_path" : `run_time ${describeValue(e.run_time)} is not a number of seconds`,
      });
      return;
    }
    acc.addExample(file, seconds, id && id !== file ? id : undefined);
  });
  return { format: "rspec-json", source, files: acc.result(), unattributed: [], warnings: [] };
}

/**
 * Timings from parsed JUnit reports (e.g. every shard of the run that just finished): per file the sum
 * of its examples (a file split across shards adds up). Cases without a file are kept by classname.
 */
export function timingsFromJUnit(reports: readonly JUnitReport[], source = "junit"): Timings {
  return fromJUnitReports(reports, source);
}

function fromJUnitReports(reports: readonly JUnitReport[], source: string): Timings {
  const acc = new Accumulator();
  const unattributed = new Map<string, number>();
  for (const report of reports) {
    for (const c of report.cases) {
      if (c.file === undefined) {
        unattributed.set(c.classname, (unattributed.get(c.classname) ?? 0) + c.time);
        continue;
      }
      acc.addExample(c.file, c.time, c.id, c.fileSource === "classname" ? c.classname : undefined);
    }
  }
  return {
    format: "junit",
    source,
    files: acc.result(),
    unattributed: [...unattributed].map(([classname, seconds]) => ({ classname, seconds })).sort((a, b) => compareStrings(a.classname, b.classname)),
    warnings: [],
  };
}

export interface ResolvedFileTiming {
  path: string;
  seconds: number;
  /** True when the file had no timing and got an estimate. */
  estimated: boolean;
  examples?: ExampleTiming[];
}

export interface ResolvedTimings {
  /** One entry per unit-to-plan file, sorted by path. */
  files: ResolvedFileTiming[];
  /** Timed paths that are not in the existing-file list (deleted or renamed specs). */
  dropped: string[];
  /** Existing files without timing data, given the estimate. */
  estimated: string[];
  /** Median of the known file times used as the estimate; undefined when nothing was known. */
  medianSeconds?: number;
  warnings: string[];
}

export interface ResolveTimingsOptions {
  /**
   * Per-file estimates used only when no timing at all is known (e.g. derived from file size);
   * otherwise `defaultSeconds`.
   */
  fallbackSeconds?: Readonly<Record<string, number>>;
  /** Estimate when nothing is known about any file; 1 second (= split by count). */
  defaultSeconds?: number;
  /**
   * The current, complete example ids of files (e.g. from `rspec --dry-run --format json`). When given
   * for a file, its examples become exactly these ids (timed from history, else the file's median
   * example time), so a split never loses examples added since the timings were recorded.
   */
  exampleIds?: Readonly<Record<string, readonly string[]>>;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Fit timings to the files that exist. With `existingFiles`, the result has exactly those files: timed
 * ones keep their time, the rest get the median known time (`estimated: true`), timed paths that no
 * longer exist are `dropped`. Without it, the result is exactly the timed files.
 */
export function resolveTimings(
  timings: Timings,
  existingFiles?: readonly string[],
  options: ResolveTimingsOptions = {},
): ResolvedTimings {
  const warnings = [...timings.warnings];
  const known = new Map<string, FileTiming>();
  for (const f of timings.files) known.set(f.path, f);

  let files: ResolvedFileTiming[];
  let dropped: string[] = [];
  let estimated: string[] = [];
  let medianSeconds: number | undefined;

  if (existingFiles === undefined) {
    if (timings.unattributed.length > 0) {
      warnings.push(
        `${timings.source}: ${timings.unattributed.length} classname(s) name no file (e.g. ${timings.unattributed[0]!.classname}); pass the source directory to match them`,
      );
    }
    files = timings.files.map((f) => ({ path: f.path, seconds: f.seconds, estimated: false, ...(f.examples ? { examples: f.examples } : {}) }));
    medianSeconds = median(files.map((f) => f.seconds));
  } else {
    const existing = [...new Set(existingFiles.map(normaliseSpecPath))].sort(compareStrings);
    const existingSet = new Set(existing);
    const matched = new Map<string, FileTiming>();
    const add = (path: string, timing: FileTiming) => {
      const prev = matched.get(path);
      matched.set(path, prev ? { path, seconds: prev.seconds + timing.seconds } : { ...timing, path });
    };
    for (const f of timings.files) {
      if (existingSet.has(f.path)) add(f.path, f);
      else {
        const match = f.classname ? matchClassnameToFile(f.classname, existing) : undefined;
        if (match) add(match, f);
        else dropped.push(f.path);
      }
    }
    const unmatched: string[] = [];
    for (const u of timings.unattributed) {
      const match = matchClassnameToFile(u.classname, existing);
      if (match) add(match, { path: match, seconds: u.seconds });
      else unmatched.push(u.classname);
    }
    if (unmatched.length > 0) warnings.push(`${timings.source}: no existing file matches classname(s) ${unmatched.slice(0, 5).join(", ")}${unmatched.length > 5 ? ", ..." : ""}`);
    if (dropped.length > 0) {
      warnings.push(`${timings.source}: dropped ${dropped.length} timed file(s) that no longer exist: ${dropped.slice(0, 5).join(", ")}${dropped.length > 5 ? ", ..." : ""}`);
    }
    medianSeconds = median([...matched.values()].map((f) => f.seconds));
    files = existing.map((path) => {
      const t = matched.get(path);
      if (t) return { path, seconds: t.seconds, estimated: false, ...(t.examples ? { examples: t.examples } : {}) };
      estimated.push(path);
      const seconds = medianSeconds ?? options.fallbackSeconds?.[path] ?? options.defaultSeconds ?? 1;
      return { path, seconds, estimated: true };
    });
    if (estimated.length > 0) {
      warnings.push(
        medianSeconds !== undefined
          ? `${estimated.length} file(s) have no timing and get the median ${medianSeconds.toFixed(2)} s: ${estimated.slice(0, 5).join(", ")}${estimated.length > 5 ? ", ..." : ""}`
          : `no timing for any of the ${estimated.length} file(s): splitting by ${options.fallbackSeconds ? "the fallback estimates" : "file count"}`,
      );
    }
  }

  if (options.exampleIds) files = files.map((f) => withCurrentExamples(f, options.exampleIds![f.path]));
  dropped = dropped.sort(compareStrings);
  estimated = estimated.sort(compareStrings);
  return { files, dropped, estimated, ...(medianSeconds !== undefined ? { medianSeconds } : {}), warnings };
}

function withCurrentExamples(file: ResolvedFileTiming, ids: readonly string[] | undefined): ResolvedFileTiming {
  if (!ids || ids.length === 0) return file;
  const history = new Map((file.examples ?? []).map((e) => [e.id, e.seconds]));
  const perExample = median([...history.values()]) ?? file.seconds / ids.length;
  const examples = [...new Set(ids.map(normaliseSpecPath))].sort(compareStrings).map((id) => ({ id, seconds: history.get(id) ?? perExample }));
  return { ...file, examples };
}

/**
 * The "new timings file" a test run exports: knapsack JSON (`{"spec/a_spec.rb": 1.234567}`), keys
 * sorted, so later runs (and knapsack itself) can read it.
 */
export function formatKnapsackTimings(perFile: Readonly<Record<string, number>> | ReadonlyArray<{ path: string; seconds: number }>): string {
  const entries: Array<[string, number]> = Array.isArray(perFile)
    ? (perFile as ReadonlyArray<{ path: string; seconds: number }>).map((f) => [f.path, f.seconds])
    : Object.entries(perFile as Record<string, number>);
  const merged = new Map<string, number>();
  for (const [path, seconds] of entries) {
    if (!checkSeconds(seconds)) {
      throw new PipelineError("TIMINGS_INVALID", `cannot write timings: ${path} has ${String(seconds)} seconds`, {
        hint: "pass finite, non-negative seconds per file",
      });
    }
    const key = normaliseSpecPath(path);
    merged.set(key, (merged.get(key) ?? 0) + seconds);
  }
  const sorted = [...merged].sort((a, b) => compareStrings(a[0], b[0]));
  const body = sorted.map(([path, seconds]) => `  ${JSON.stringify(path)}: ${Number(seconds.toFixed(6))}`).join(",\n");
  return sorted.length === 0 ? "{}\n" : `{\n${body}\n}\n`;
}

/**
 * Properties of the timings parsers (issue #11 items 7-9 and 11, #13 items 4-5): on any text the
 * strict parser gives a result or a TIMINGS_INVALID error (never a raw exception such as a stack
 * overflow), the lenient one never throws; a parallel_tests log keeps the last time of each file;
 * knapsack timings written by formatKnapsackTimings read back the same.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { formatKnapsackTimings, parseTimings, parseTimingsOrWarn } from "../../modules/pipeline/src/lib/timings.js";
import { propertyParameters } from "../support/property.js";

/** Any UTF-16 code unit, lone surrogates and control characters included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const specPath = fc
  .array(fc.stringMatching(/^[a-z0-9_]{1,8}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => `spec/${parts.join("/")}_spec.rb`);
const seconds = fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true });
const numberText = fc.oneof(
  seconds.map(String),
  fc.constantFrom("0x10", "1e999", "-1", "", "NaN", "Infinity", "1_000", ".5", "5.", "1e-5", " 2 ", "0b11"),
);
const logLine = fc.oneof(
  fc.tuple(specPath, numberText).map(([p, n]) => `${p}:${n}`),
  fc.constantFrom("Randomized with seed 1234", "Run options: include {focus: true}", "All examples were filtered out; ignoring {focus: true}", "", "# comment", "garbage"),
  fc.string({ unit: codeUnit, maxLength: 30 }),
);
const deepJson = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([n, closed]) => `{"spec/a_spec.rb": ${"[".repeat(n)}${closed ? "]".repeat(n) : ""}}`);
const timingsText = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 200 }),
  fc.array(logLine, { maxLength: 30 }).map((lines) => lines.join("\n")),
  fc.dictionary(fc.oneof(specPath, fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 3 })).map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ examples: v })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  deepJson,
  fc.tuple(fc.dictionary(specPath, seconds), fc.nat()).map(([o, cut]) => {
    const text = JSON.stringify(o);
    return text.slice(0, cut % (text.length + 1));
  }),
  fc.array(fc.constantFrom("<testsuite>", "</testsuite>", '<testcase file="./spec/a_spec.rb" time="', "1", "fast", '"/>', ">", "&amp;", "&"), { maxLength: 20 }).map((parts) => parts.join("")),
);

describe("timings parsers on arbitrary input", () => {
  it("strict: a result or TIMINGS_INVALID, never another exception", () => {
    fc.assert(
      fc.property(timingsText, (text) => {
        try {
          const t = parseTimings(text, "t");
          expect(t.files.every((f) => Number.isFinite(f.seconds) && f.seconds >= 0)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(PipelineError);
          expect((err as PipelineError).code).toBe("TIMINGS_INVALID");
        }
      }),
      propertyParameters(),
    );
  });

  it("lenient: never throws, and its warnings are bounded", () => {
    fc.assert(
      fc.property(timingsText, (text) => {
        const t = parseTimingsOrWarn(text, "t");
        expect(t.warnings.length).toBeLessThanOrEqual(25);
      }),
      propertyParameters(),
    );
  });
});

describe("timings semantics", () => {
  it("a parallel_tests log keeps the last time of every file, whatever else the log holds", () => {
    const entry = fc.tuple(fc.constantFrom<string>("spec/a_spec.rb", "spec/b_spec.rb", "spec/c/d_spec.rb"), fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100));
    const noise = fc.constantFrom("Randomized with seed 42", "Run options: include {focus: true}", "", "All examples were filtered out");
    fc.assert(
      fc.property(fc.array(fc.oneof(entry, noise), { minLength: 1, maxLength: 40 }), (items) => {
        const entries = items.filter((i): i is [string, number] => Array.isArray(i));
        fc.pre(entries.length > 0);
        const text = items.map((i) => (Array.isArray(i) ? `${i[0]}:${i[1]}` : i)).join("\n");
        const expected = new Map<string, number>();
        for (const [path, s] of entries) expected.set(path, s);
        const t = parseTimings(text, "rt.log");
        expect(Object.fromEntries(t.files.map((f) => [f.path, f.seconds]))).toEqual(Object.fromEntries(expected));
        const repeated = entries.length > expected.size;
        expect(t.warnings.some((w) => w.includes("listed more than once"))).toBe(repeated);
      }),
      propertyParameters(),
    );
  });

  it("knapsack timings written by formatKnapsackTimings read back the same", () => {
    fc.assert(
      fc.property(fc.dictionary(specPath, seconds, { minKeys: 1 }), (perFile) => {
        const back = parseTimings(formatKnapsackTimings(perFile), "k.json");
        expect(back.warnings).toEqual([]);
        for (const f of back.files) expect(f.seconds).toBeCloseTo(perFile[f.path]!, 5);
        expect(back.files).toHaveLength(Object.keys(perFile).length);
      }),
      propertyParameters(),
    );
  });
});

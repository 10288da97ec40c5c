/**
 * Properties of the JUnit reader and writer (issue #11 items 8 and 11, #13 item 8): on any text
 * parseJUnit gives a report or a JUNIT_INVALID error (never a raw exception such as a stack overflow);
 * whatever names, messages and failure texts a test case has, control characters, lone surrogates
 * and markup included, formatJUnit and mergeJUnit write them so that parseJUnit reads them back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { formatJUnit, mergeJUnit, parseJUnit, type TestCase } from "../../modules/pipeline/src/lib/junit.js";
import { propertyParameters } from "../support/property.js";

/** Any UTF-16 code unit, weighted towards what XML makes hard. */
const hardChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("&", "<", ">", '"', "'", "]]>", "\r\n", "\t", "\u2028", "\ufffe", "\uffff", "&amp;", "&#x1;"),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);
const text = fc.string({ unit: hardChar, maxLength: 40 });
const specFile = fc.stringMatching(/^spec\/[a-z0-9_]{1,8}_spec\.rb$/);

const testCase: fc.Arbitrary<TestCase> = fc
  .record({
    name: text,
    classname: text,
    file: specFile,
    time: fc.integer({ min: 0, max: 10_000_000 }).map((n) => n / 1_000_000),
    status: fc.constantFrom("passed", "failed", "skipped") as fc.Arbitrary<TestCase["status"]>,
    message: text,
    failureText: text,
    kind: fc.constantFrom("failure", "error") as fc.Arbitrary<"failure" | "error">,
  })
  .map(({ name, classname, file, time, status, message, failureText, kind }) => ({
    name,
    classname,
    file,
    fileSource: "file" as const,
    time,
    status,
    ...(status === "failed" ? { failure: { kind, message, text: failureText } } : {}),
  }));

const xmlToken = fc.constantFrom(
  "<testsuite>", "</testsuite>", "<testsuites>", "</testsuites>", '<testcase name="a" time="1">', "</testcase>", "<testcase", " name=", '"', "'", "/>", ">", "<",
  "&amp;", "&", "&#x1;", "&#0;", "&nbsp;", "<![CDATA[", "]]>", "<!--", "-->", '<?xml version="1.0"?>', "?>", "<!DOCTYPE x>", "\u0001", "\r\n", "<failure>", "</failure>", "<__proto__/>", " constructor=\"x\"",
);
const xmlText = fc.oneof(
  fc.string({ unit: hardChar, maxLength: 200 }),
  fc.array(fc.oneof(xmlToken, text), { maxLength: 40 }).map((parts) => parts.join("")),
  fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.boolean()).map(([n, closed]) => `<testsuite>${"<a>".repeat(n)}${closed ? "</a>".repeat(n) : ""}</testsuite>`),
  fc.tuple(fc.array(testCase, { maxLength: 5 }), fc.nat()).map(([cases, cut]) => {
    const xml = formatJUnit(cases);
    return xml.slice(0, cut % (xml.length + 1));
  }),
);

const comparable = (c: TestCase) => [c.name, c.classname, c.file, c.status, c.failure?.kind, c.failure?.message, c.failure?.text];

describe("parseJUnit on arbitrary input", () => {
  it("a report or JUNIT_INVALID, never another exception", () => {
    fc.assert(
      fc.property(xmlText, (xml) => {
        try {
          parseJUnit(xml, "r.xml");
        } catch (err) {
          expect(err).toBeInstanceOf(PipelineError);
          expect((err as PipelineError).code).toBe("JUNIT_INVALID");
        }
      }),
      propertyParameters(),
    );
  });
});

describe("JUnit round trips", () => {
  it("parseJUnit(formatJUnit(cases)) gives back every name, message and failure text", () => {
    fc.assert(
      fc.property(fc.array(testCase, { minLength: 1, maxLength: 6 }), (cases) => {
        const back = parseJUnit(formatJUnit(cases), "written.xml").cases;
        expect(back.map(comparable)).toEqual(cases.map(comparable));
        back.forEach((c, i) => expect(c.time).toBeCloseTo(cases[i]!.time, 6));
      }),
      propertyParameters(),
    );
  });

  it("mergeJUnit keeps every test case of every shard unchanged", () => {
    fc.assert(
      fc.property(fc.array(fc.array(testCase, { maxLength: 4 }), { minLength: 1, maxLength: 4 }), (shards) => {
        const merged = mergeJUnit(shards.map((cases, i) => ({ name: `shard-${i}`, xml: formatJUnit(cases) })));
        expect(parseJUnit(merged, "merged.xml").cases.map(comparable)).toEqual(shards.flat().map(comparable));
      }),
      propertyParameters(),
    );
  });
});

/**
 * JUnit parse, write and merge, linear in the size of the reports; deep nesting is refused in
 * linear time too (issue #11 item 8: it overflowed the stack).
 */
import { formatJUnit, mergeJUnit, parseJUnit, type TestCase } from "../../../modules/pipeline/src/lib/junit.js";
import type { ScalingCase } from "./types.js";

function testCases(size: number): TestCase[] {
  return Array.from({ length: size }, (_, i) => ({
    file: `spec/dir${i % 31}/file${i % 401}_spec.rb`,
    fileSource: "file" as const,
    classname: `spec.dir${i % 31}.file${i % 401}_spec`,
    name: `Thing #${i} does "what" it <should> & more\u0001`,
    time: (i % 1000) / 1000,
    status: i % 17 === 0 ? ("failed" as const) : ("passed" as const),
    ...(i % 17 === 0 ? { failure: { kind: "failure" as const, message: "expected 1, got 2", text: `./spec/dir${i % 31}/file${i % 401}_spec.rb:${i}:in 'block'\n` } } : {}),
  }));
}

const SHARDS = 8;

export const cases: ScalingCase[] = [
  { name: "junit: parse a report of n cases", make: (size) => formatJUnit(testCases(size)), run: (input) => parseJUnit(input, "r.xml") },
  { name: "junit: write a report of n cases", make: (size) => String(size), run: (input) => formatJUnit(testCases(Number(input))) },
  {
    name: "junit: merge 8 shards of n cases",
    make: (size) => JSON.stringify(Array.from({ length: SHARDS }, (_, s) => formatJUnit(testCases(Math.ceil(size / SHARDS)).map((c) => ({ ...c, name: `${c.name} ${s}` }))))),
    run: (input) => mergeJUnit(JSON.parse(input) as string[]),
  },
  {
    name: "junit: nested n deep (refused)",
    make: (size) => `<testsuite>${"<a>".repeat(size)}${"</a>".repeat(size)}</testsuite>`,
    run: (input) => {
      try {
        return parseJUnit(input, "deep.xml");
      } catch (err) {
        return err;
      }
    },
  },
  {
    name: "junit: cut short n deep",
    make: (size) => `<testsuite>${"<a>".repeat(size)}`,
    run: (input) => {
      try {
        return parseJUnit(input, "cut.xml");
      } catch (err) {
        return err;
      }
    },
  },
];

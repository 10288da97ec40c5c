/**
 * The HCL parser accepts exactly what HashiCorp's accepts. Each case is checked twice: against the
 * verdict written here (our message for a refusal) and against hcl2json (HCL v2.23 compiled to
 * WebAssembly), so a wrong table line fails too. The cases are the corners of hclsyntax's scanner and
 * parser (scan_tokens.rl, parser.go, parser_template.go): comments that do or do not end a line,
 * one-line blocks, labels, number literals, legacy indexes, escapes, templates and directives, for
 * expressions, heredocs, stray characters.
 */
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { listHclAttributes, MAX_HCL_NESTING } from "../../modules/pipeline/src/lib/hcl.js";
import { oracleAccepts } from "../support/hcl-parse.js";

/** Our verdict: null when accepted, else the message's first line without the code. */
function ourVerdict(text: string): string | null {
  try {
    listHclAttributes(text, "t.hcl");
    return null;
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    expect(err.code).toBe("HCL_INVALID");
    return err.message.split("\n")[0]!.replace("[HCL_INVALID] ", "");
  }
}

/** [text, null when valid | our message]. */
const CASES: [string, string | null][] = [
  ["a = 1 /* x\n */ b = 2\n", "t.hcl:2: \"b\" after the value of a"],
  ["a = \"${\n1}\"\n", null],
  ["a = 1.e5\n", null],
  ["a = 007\n", null],
  ["a = 1..2\n", "t.hcl:1: 1..2 is not a number"],
  ["a = 1e5.2\n", "t.hcl:1: 1e5.2 is not a number"],
  ["a = 1 # c", null],
  ["a = <<EOT\nx\n  EOT\n", null],
  ["b { a = 1 }\n", null],
  ["b { a = 1, c = 2 }\n", "t.hcl:1: a one-line block holds one argument (block b)"],
  ["b {\n}\n", null],
  ["b { }\n", null],
  ["b \"x\" y { }\n", null],
  ["b \"${x}\" {}\n", "t.hcl:1: block labels cannot hold ${ } or %{ } sequences"],
  ["a = \"\\q\"\n", "t.hcl:1: \\q is not a valid escape"],
  ["a = \"\\u00e9\"\n", null],
  ["a = \"\\uD800\"\n", "t.hcl:1: \\uD800 is not a character UTF-8 can encode"],
  ["a = \"\\u12\"\n", "t.hcl:1: \\u needs 4 hexadecimal digits"],
  ["a = {\n for k, v in x : k => v }\n", null],
  ["a = [for x in y : x if x]\n", null],
  ["a = x.*.y\n", null],
  ["a = x[*].y\n", null],
  ["a = x.0\n", null],
  ["a = x.0.1\n", "t.hcl:1: .0.1 chains two legacy indexes"],
  ["a = f::g(1)\n", null],
  ["a = \"%{ if x }y%{ endif }\"\n", null],
  ["a = \"%{ if x }y\"\n", "t.hcl:1: %{ if } without %{ endif }"],
  ["a = \"$\"\n", null],
  ["a = \"%\"\n", null],
  ["a = \"$${x}\"\n", null],
  ["a = 1\n\ta = 2", "t.hcl:2: argument a is set twice (first at line 1)"],
  ["a = 1\nb { a = 2 }\n", null],
  ["a = { a = 1, a = 2 }\n", null],
  ["a = (1\n+ 2)\n", null],
  ["a = 1\n+ 2\n", "t.hcl:2: expected an argument or a block, found \"+\""],
  ["a = [\n1,\n2,\n]\n", null],
  ["a = { x = 1, }\n", null],
  ["a = {,}\n", "t.hcl:1: expected an expression, found \",\""],
  ["a = f(1,)\n", null],
  ["a = f(,)\n", "t.hcl:1: expected an expression, found \",\""],
  ["a = f(x...)\n", null],
  ["a = !true\n", null],
  ["a = -x.y\n", null],
  ["﻿﻿a = 1\n", "t.hcl:1: character \"﻿\" (U+FEFF) is not valid here"],
  ["a = 1 ~ 2\n", "t.hcl:1: bitwise operator \"~\" is not supported (did you mean \"!\"?)"],
  ["a = x ? y : z ? w : v\n", null],
  ["a = \"\\\n\"\n", "t.hcl:1: backslash at the end of a line in a quoted string"],
  ["a = <<-EOT\n  ${x}\n  EOT\n", null],
  ["a = <<EOT\nEOT\n", null],
  ["a = \"${x}\"\n", null],
  ["a = \"${}\"\n", "t.hcl:1: expected an expression, found \"}\""],
  ["a = {\"x\" = 1}\n", null],
  ["a = {x: 1}\n", null],
  ["a\t=\t1\n", null],
  ["a = 1\r\n", null],
  ["a = \"x\r\"\n", "t.hcl:1: unterminated string: a quoted string must end on the line it starts"],
  ["a = 1 // c\r\nb = 2\r\n", null],
  ["a = \"\\$\"\n", "t.hcl:1: \\$ is not a valid escape"],
  ["a = x.y[0][\"k\"].z\n", null],
  ["a = [1, 2]...\n", "t.hcl:1: \"...\" after the value of a"],
  ["a = { for x in y : x => x... if x }\n", null],
  ["a = [for x in y : x...]\n", "t.hcl:1: grouping (...) only works in a map for expression"],
  ["a = {for x in y : x}\n", "t.hcl:1: a map for expression needs a key"],
  ["locals {\n a = 1\n}\nlocals {\n a = 2\n}\n", null],
  ["a = \"${ \"nested ${1}\" }\"\n", null],
  ["a = x[*][0]\n", null],
  ["a = x.*[0]\n", null],
  ["a = 1 == 2 == 3\n", null],
  ["a = -\n1\n", "t.hcl:1: expected an expression, found a line end"],
  ["a = x.\ny\n", "t.hcl:1: expected an attribute name after the dot, found a line end"],
  ["a = f(\n)\n", null],
  ["a = [\n]\n", null],
  ["a = {\n}\n", null],
  ["a = {x = 1\n,y = 2}\n", "t.hcl:2: expected an expression, found \",\""],
  ["a = \"x\" # comment", null],
  ["a = 1 /* c */\n", null],
  ["/* c */ a = 1\n", null],
  ["a /* c */ = 1\n", null],
  ["a = {\n  b = 1 # c\n}\n", null],
  ["a = { b = 1 # c }\n", "t.hcl:2: expected an expression, found the end of the file"],
  ["a = { b = 1 /* c */ }\n", null],
  ["b {\n a = 1 }\n", "t.hcl:2: \"}\" after the value of a"],
  ["b { a = 1\n}\n", "t.hcl:1: a one-line block must close on its line (block b)"],
  ["b {}\n", null],
  ["b {} c {}\n", "t.hcl:1: \"c\" after block b"],
  ["a = \"\\U0001F600\"\n", null],
  ["a = 1e\n", "t.hcl:1: \"e\" after the value of a"],
  ["a = <<E-O\nx\nE-O\n", null],
  ["a = \"${x~}\"\n", null],
  ["a = \"${~x}\"\n", null],
  ["a = {x = 1}.x\n", null],
  ["a = \"x\".y\n", null],
  ["a = true.x\n", null],
  ["a = for\n", null],
  ["a = [for]\n", "t.hcl:1: for needs a variable name"],
  ["a = {for = 1}\n", "t.hcl:1: for needs a variable name"],
  ["for = 1\n", null],
  ["a = x[\n0\n]\n", null],
  ["a = x\n[0]\n", "t.hcl:2: expected an argument or a block, found \"[\""],
  ["a = 1.5e3\n", null],
  ["a = 1E+5\n", null],
  ["a = 1.2.3\n", "t.hcl:1: 1.2.3 is not a number"],
  ["a = 1e5e5\n", "t.hcl:1: 1e5e5 is not a number"],
  ["a = 1.\n", "t.hcl:1: expected an attribute name after the dot, found a line end"],
  ["a = 0.5\n", null],
  ["a = x.1.5\n", "t.hcl:1: .1.5 chains two legacy indexes"],
  ["a = 99999999999999999999999999999\n", null],
  ["a = 1e999999999\n", null],
];

describe("parser verdicts agree with hcl2json", () => {
  it.each(CASES)("%j -> %s", async (text, verdict) => {
    expect(ourVerdict(text)).toBe(verdict);
    expect(await oracleAccepts(text)).toBe(verdict === null);
  });
});

/** Nesting shapes: `open(n) + "1" + close(n)` as the value of `x`. */
const SHAPES: { name: string; open: string; close: string }[] = [
  { name: "lists", open: "[", close: "]" },
  { name: "objects", open: "{ a = ", close: " }" },
  { name: "parentheses", open: "(", close: ")" },
  { name: "function calls", open: "f(", close: ")" },
  { name: "index keys", open: "x[", close: "]" },
  { name: "negations", open: "-", close: "" },
  { name: "nots", open: "!", close: "" },
  { name: "templates in interpolations", open: '"${', close: '}"' },
  { name: "conditionals", open: "c ? ", close: " : 0" },
];

describe("deep nesting is a coded error, never a stack overflow", () => {
  it.each(SHAPES)("$name nested 100,000 deep: HCL_INVALID naming the limit", ({ open, close }) => {
    const text = `x = ${open.repeat(100_000)}1${close.repeat(100_000)}\n`;
    expect(ourVerdict(text)).toBe(`t.hcl:1: nested more than ${MAX_HCL_NESTING} levels deep`);
  });

  it.each(SHAPES)("$name nested 150 deep: accepted, as by hcl2json", async ({ open, close }) => {
    const text = `x = ${open.repeat(150)}1${close.repeat(150)}\n`;
    expect(ourVerdict(text)).toBeNull();
    expect(await oracleAccepts(text)).toBe(true);
  });

  it("blocks nested 100,000 deep: HCL_INVALID naming the limit and the line", () => {
    const text = `${"b {\n".repeat(100_000)}${"}\n".repeat(100_000)}`;
    expect(ourVerdict(text)).toBe(`t.hcl:${MAX_HCL_NESTING + 1}: nested more than ${MAX_HCL_NESTING} levels deep`);
  });
});

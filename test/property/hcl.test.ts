/**
 * Properties of the HCL editor, with HashiCorp's parser (hcl2json: HCL v2.23 in WebAssembly) as the
 * oracle. Generated files come from HCL's grammar shaped like terragrunt units (test/support/
 * hcl-arbitrary.ts); values mix valid expressions with the mistakes people make on a command line.
 *
 * - The parser accepts a file exactly when HCL does (valid files and small mutations of them).
 * - An edit either succeeds, and then HCL parses the result and only the value's characters changed,
 *   or it is refused with a coded PipelineError (the input is never changed: the functions are pure,
 *   and the CLI and write-back write only what an edit returned).
 * - A value is accepted exactly when HCL accepts it as an attribute's expression.
 * - Bytes that are not UTF-8 in comments survive an edit byte for byte.
 * - Nesting of any depth gives a result or HCL_INVALID, never a stack overflow.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { assertHclExpression, formatHclString, listHclAttributes, MAX_HCL_NESTING, setHclAttribute, setHclAttributeInBytes } from "../../modules/pipeline/src/lib/hcl.js";
import { expression, mutated, validHclFile } from "../support/hcl-arbitrary.js";
import { jsonDiffPaths, oracleAccepts, parseHcl } from "../support/hcl-parse.js";
import { propertyParameters } from "../support/property.js";

/** Room for `npm run test:properties:long` (PROPERTY_RUNS=20000): the oracle takes about 5 ms a call. */
const TIMEOUT_MS = Math.max(60_000, propertyParameters().numRuns * 40);

/** hcl2json's JSON for a file HCL accepts, or undefined when its converter cannot write it (e.g. `locals` blocks with and without labels). */
async function oracleJson(text: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await parseHcl(text, "t.hcl");
  } catch (err) {
    if (String(err).includes("convert to HCL")) return undefined;
    throw err;
  }
}

function ourVerdict(run: () => unknown): { ok: true } | { ok: false; error: PipelineError } {
  try {
    run();
    return { ok: true };
  } catch (err) {
    if (err instanceof PipelineError) return { ok: false, error: err };
    throw err; // a RangeError, a TypeError: a bug, fails the property
  }
}

/** What people pass as --value: expressions, and strings missing their quotes or worse. */
const value = fc.oneof(
  { weight: 6, arbitrary: expression(1) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map(formatHclString) },
  {
    weight: 3,
    arbitrary: fc.constantFrom("v1.2.3", "1.2.3", '"a" "b"', "1 +", "<<EOF", "${x}", "'v1'", "http://host/", "a b", '"open', "feat-x", "release-2024.05", "[1, 2", "{ a = 1 b = 2 }", "x = 1", "1,2", "!", "a..b", '"\\q"', "0x10"),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(..."av1.2-_ \"'$%{}[]()=,:#/\\\n~;é".split("")), maxLength: 10 }) },
);

/** Where the edited attribute sits: the usual places, twice (ambiguous), or only inside a map (missing). */
const placement = fc.constantFrom(
  'inputs = {\n  image_version = "old"\n  replicas      = 2\n}\n',
  'inputs = { image_version = "old", env = { image_version = "per-env" } }\n',
  'locals {\n  image_version = "old" # CI\n}\n',
  'image_version = "old"\n',
  'inputs = merge(local.common, {\n  image_version = <<EOT\nold\nEOT\n})\n',
  'locals {\n  image_version = "a"\n}\ninputs = {\n  image_version = "old"\n}\n',
  'inputs = {\n  env = {\n    image_version = "old"\n  }\n}\n',
  'inputs = {\n  listeners = [{ image_version = "old" }]\n}\n',
);

describe("HCL editor properties (oracle: hcl2json)", () => {
  it("the parser accepts a file exactly when HCL does", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(validHclFile(2), mutated(validHclFile(2)), mutated(mutated(validHclFile(1)))), async (text) => {
        const ours = ourVerdict(() => listHclAttributes(text, "t.hcl"));
        expect(ours.ok, ours.ok ? "we accept, HCL refuses" : `we refuse (${ours.error.message.split("\n")[0]}), HCL accepts`).toBe(await oracleAccepts(text));
      }),
      propertyParameters(),
    );
  }, TIMEOUT_MS);

  it("an edit succeeds with only the value's characters changed and HCL parsing the result, or is refused with a code", async () => {
    await fc.assert(
      fc.asyncProperty(validHclFile(1), placement, value, fc.boolean(), async (file, where, newValue, first) => {
        const text = first ? `${where}${file.replace(/^\ufeff/, "")}` : `${file}${file.endsWith("\n") || file === "" ? "" : "\n"}${where}`;
        let result: ReturnType<typeof setHclAttribute> | undefined;
        const verdict = ourVerdict(() => (result = setHclAttribute(text, { name: "image_version", value: newValue, file: "t.hcl" })));
        if (!verdict.ok) {
          expect(["ARGUMENT_INVALID", "HCL_INVALID", "HCL_ATTRIBUTE_MISSING"]).toContain(verdict.error.code);
          if (verdict.error.code === "HCL_INVALID" && !verdict.error.message.includes(" times: ")) expect(await oracleAccepts(text)).toBe(false);
          return;
        }
        const r = result!;
        expect(await oracleAccepts(r.text), `HCL refuses the edited file:\n${r.text}`).toBe(true);
        // Only the value changed: text = before + previous + after, result = before + value + after ...
        let spliced = false;
        for (let at = text.indexOf(r.previous); at !== -1 && !spliced; at = text.indexOf(r.previous, at + 1)) {
          spliced = text.slice(0, at) + newValue + text.slice(at + r.previous.length) === r.text;
        }
        expect(spliced).toBe(true);
        // ... and, as HCL reads the two files, what changed is in an image_version, or is the attribute
        // holding it when hcl2json renders that one as an expression (`inputs = merge(...)`), or nothing.
        const [before, after] = [await oracleJson(text), await oracleJson(r.text)];
        if (before === undefined || after === undefined) return; // parsed, but hcl2json cannot write it as JSON
        const changed = jsonDiffPaths(before, after);
        for (const p of changed) expect(/(^|\.)image_version($|\.|\[)/.test(p) || p === r.scope.split(".")[0], p).toBe(true);
      }),
      propertyParameters(),
    );
  }, TIMEOUT_MS);

  it("a one-line value without comments is accepted exactly when HCL accepts it as an attribute's value", async () => {
    const oneLine = value.filter((v) => v.trim() === v && v !== "" && !/[\r\n#]|\/\/|\/\*/.test(v));
    await fc.assert(
      fc.asyncProperty(oneLine, async (v) => {
        const ours = ourVerdict(() => assertHclExpression(v));
        if (!ours.ok) expect(ours.error.code).toBe("ARGUMENT_INVALID");
        expect(ours.ok).toBe(await oracleAccepts(`a = ${v}\n`));
      }),
      propertyParameters(),
    );
  }, TIMEOUT_MS);

  it("bytes that are not UTF-8 in comments survive an edit byte for byte", () => {
    const commentByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0x0a);
    const commentBytes = fc.uint8Array({ minLength: 0, maxLength: 12 }).map((bs) => Buffer.from(bs.map((b) => (b === 0x0a ? 0xe9 : b))));
    const file = validHclFile(1).filter((t) => !t.includes("image_version"));
    fc.assert(
      fc.property(file, commentBytes, commentBytes, commentBytes, fc.string({ maxLength: 10 }), commentByte, (text, a, b, c, newString, lastByte) => {
        const blockComment = Buffer.from(c.toString("latin1").replace(/\*\//g, "*-"), "latin1");
        const bytes = Buffer.concat([
          Buffer.from(text.replace(/^\ufeff/, ""), "utf8"),
          Buffer.from("\n# "),
          a,
          Buffer.from('\ninputs = { # '),
          b,
          Buffer.from('\n  image_version = "old" /* '),
          blockComment,
          Buffer.from(" */\n}\n// "),
          Buffer.from([lastByte]),
        ]);
        const newValue = formatHclString(newString);
        const r = setHclAttributeInBytes(bytes, { name: "image_version", value: newValue, file: "t.hcl" });
        const at = bytes.lastIndexOf('"old"');
        const expected = Buffer.concat([bytes.subarray(0, at), Buffer.from(newValue, "utf8"), bytes.subarray(at + 5)]);
        expect(Buffer.from(r.bytes).equals(expected)).toBe(true);
      }),
      propertyParameters(),
    );
  }, TIMEOUT_MS);

  it("nesting of any depth and shape parses or is HCL_INVALID, never a stack overflow", async () => {
    const shapes = [
      ["[", "]"],
      ["{ a = ", " }"],
      ["(", ")"],
      ["f(", ")"],
      ["x[", "]"],
      ["-", ""],
      ['"${', '}"'],
      ["c ? ", " : 0"],
    ] as const;
    const nested = fc.array(fc.constantFrom(...shapes), { minLength: 1, maxLength: 3 }).chain((mix) =>
      fc.integer({ min: 1, max: 4000 }).map((depth) => {
        const layers = Array.from({ length: depth }, (_, i) => mix[i % mix.length]!);
        return { depth, text: `x = ${layers.map(([o]) => o).join("")}1${layers.map(([, c]) => c).reverse().join("")}\n` };
      }),
    );
    await fc.assert(
      fc.asyncProperty(nested, async ({ depth, text }) => {
        const ours = ourVerdict(() => listHclAttributes(text, "t.hcl"));
        if (ours.ok) {
          if (depth < 300) expect(await oracleAccepts(text)).toBe(true);
        } else {
          expect(ours.error.code).toBe("HCL_INVALID");
          expect(ours.error.message).toContain(`nested more than ${MAX_HCL_NESTING} levels deep`);
          // Each layer nests at most one level (a unary minus binds only its operand): no early refusal.
          expect(depth).toBeGreaterThanOrEqual(MAX_HCL_NESTING);
        }
      }),
      propertyParameters(),
    );
  }, TIMEOUT_MS);
});

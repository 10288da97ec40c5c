import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  assertHclExpression,
  formatHclString,
  getHclAttribute,
  listHclAttributes,
  parseHclStringLiteral,
  setHclAttribute,
  setHclAttributeInBytes,
} from "../../modules/pipeline/src/lib/hcl.js";
import { scanHcl } from "../../modules/pipeline/src/lib/hcl-scan.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { jsonDiffPaths, parseHcl } from "../support/hcl-parse.js";

const SAMPLES = "/work/shared/data/terragrunt";
const samples = readdirSync(SAMPLES)
  .filter((f) => f.endsWith(".hcl"))
  .sort();

/** Put `image_version = "old"` where a real unit would have it: inputs object, else locals, else a new inputs. */
function withAttribute(text: string): { text: string; jsonPath: string } {
  const nl = text.includes("\r\n") ? "\r\n" : "\n";
  const inputs = /^inputs\s*=\s*\{[^\S\n]*\r?\n/m.exec(text);
  if (inputs) {
    const at = inputs.index + inputs[0].length;
    return { text: `${text.slice(0, at)}  image_version = "old"${nl}${text.slice(at)}`, jsonPath: "inputs.image_version" };
  }
  const locals = /^locals\s*\{[^\S\n]*\r?\n/m.exec(text);
  if (locals) {
    const at = locals.index + locals[0].length;
    return { text: `${text.slice(0, at)}  image_version = "old"${nl}${text.slice(at)}`, jsonPath: "locals[0].image_version" };
  }
  const sep = text.endsWith("\n") ? "" : nl;
  return { text: `${text}${sep}${nl}inputs = {${nl}  image_version = "old"${nl}}${nl}`, jsonPath: "inputs.image_version" };
}

function expectPipelineError(fn: () => unknown, code: string, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a PipelineError").toBeInstanceOf(PipelineError);
  const err = caught as PipelineError;
  expect(err.code).toBe(code);
  for (const f of fragments) expect(err.message).toContain(f);
}

describe("setHclAttribute on the shared terragrunt samples", () => {
  it("has samples to test", () => {
    expect(samples.length).toBeGreaterThanOrEqual(8);
  });

  it.each(samples)("%s: the real parser sees only image_version change", async (file) => {
    const original = readFileSync(path.join(SAMPLES, file), "utf8");
    const { text: before, jsonPath } = withAttribute(original);
    const after = setHclAttribute(before, { name: "image_version", value: '"v1.2.3"', file });
    expect(after.changed).toBe(true);
    expect(after.previous).toBe('"old"');

    const jsonBefore = await parseHcl(before, file);
    const jsonAfter = await parseHcl(after.text, file);
    expect(jsonDiffPaths(jsonBefore, jsonAfter)).toEqual([jsonPath]);
    // Byte-level: everything but the value is identical.
    expect(after.text).toBe(before.replace('image_version = "old"', 'image_version = "v1.2.3"'));
    expect(getHclAttribute(after.text, { name: "image_version", file })?.value).toBe('"v1.2.3"');
  });

  it.each(samples)("%s: without the attribute, the error names the file and the fix", (file) => {
    const original = readFileSync(path.join(SAMPLES, file), "utf8");
    expectPipelineError(
      () => setHclAttribute(original, { name: "image_version", value: '"v1"', file: `dev/apps/x/${file}` }),
      "HCL_ATTRIBUTE_MISSING",
      `dev/apps/x/${file} has no image_version attribute`,
      'add `image_version = ""` to the inputs',
    );
  });

  it.each(samples)("%s: tokenizes and lists attributes without error; the original parses", async (file) => {
    const original = readFileSync(path.join(SAMPLES, file), "utf8");
    await expect(parseHcl(original, file)).resolves.toBeTypeOf("object");
    expect(listHclAttributes(original, file).length).toBeGreaterThan(0);
  });

  it.each(samples)("%s with CRLF line ends: edited, still CRLF everywhere, still valid", async (file) => {
    const crlf = withAttribute(readFileSync(path.join(SAMPLES, file), "utf8")).text.replace(/\n/g, "\r\n");
    const r = setHclAttribute(crlf, { name: "image_version", value: '"v2"', file });
    expect(r.text).toBe(crlf.replace('"old"', '"v2"'));
    expect(r.text.replace(/\r\n/g, "").includes("\n")).toBe(false);
    expect(jsonDiffPaths(await parseHcl(crlf), await parseHcl(r.text))).toHaveLength(1);
  });

  it.each(samples)("%s: EVERY attribute's value extent is exact (replacing it changes one JSON path, file stays valid)", async (file) => {
    const text = readFileSync(path.join(SAMPLES, file), "utf8");
    const before = await parseHcl(text, file);
    const attrs = listHclAttributes(text, file);
    for (const a of attrs) {
      const edited = text.slice(0, a.valueStart) + '"__X__"' + text.slice(a.valueEnd);
      const after = await parseHcl(edited, file).catch((err: unknown) => {
        throw new Error(`${file}:${a.line} ${a.path.join(".")}.${a.name}: replacing ${JSON.stringify(a.value)} broke the file: ${String(err)}`);
      });
      const diff = jsonDiffPaths(before, after);
      expect(diff, `${file}:${a.line} ${a.name}`).toHaveLength(1);
      expect(diff[0], `${file}:${a.line} ${a.name}`).toMatch(new RegExp(`(^|\\.)${a.name}$`));
    }
  });

  it("every attribute's value extent is exact in a file of hard expressions (for, conditionals, templates, heredocs)", async () => {
    const text = `locals {
  cond    = var.enabled ? { a = 1 } : { a = 2 }
  list    = [for s in var.items : upper(s) if s != ""]
  obj     = { for k, v in var.map : k => v... }
  splat   = aws_instance.web[*].id
  idx     = local.data["key"][0]
  tmpl    = "%{ if var.x }yes%{ else }no%{ endif } \${join(",", [for i in var.l : "\${i}"])}"
  multi = merge(
    { x = 1 }, # comment
    /* block */ { y = 2 },
  )
  doc = <<-EOT
    image_version = "nope"
    \${local.cond.a}
  EOT
  neg     = -1.5e3
}

inputs = {
  nested = {
    deeper = { leaf = "v" }
  }
  list_of_obj = [
    { name = "a", port = 1 },
    { name = "b", port = 2 }
  ]
  image_version = local.cond.a == 1 ? "x" : "y"
}
`;
    const before = await parseHcl(text);
    const attrs = listHclAttributes(text, "torture.hcl");
    expect(attrs.length).toBeGreaterThanOrEqual(20);
    for (const a of attrs) {
      const edited = text.slice(0, a.valueStart) + '"__X__"' + text.slice(a.valueEnd);
      const after = await parseHcl(edited).catch((err: unknown) => {
        throw new Error(`torture.hcl:${a.line} ${a.name}: replacing ${JSON.stringify(a.value)} broke the file: ${String(err)}`);
      });
      expect(jsonDiffPaths(before, after), `torture.hcl:${a.line} ${a.name}`).toHaveLength(1);
    }
    expect(getHclAttribute(text, { name: "image_version", file: "torture.hcl" })).toEqual({ value: 'local.cond.a == 1 ? "x" : "y"', line: 27, scope: "inputs" });
  });

  it("edits docker_image_version (a suffix look-alike) only when asked by its own name", () => {
    const file = "gruntwork_dry_prod_frontend_terragrunt.hcl";
    const text = readFileSync(path.join(SAMPLES, file), "utf8");
    const r = setHclAttribute(text, { name: "docker_image_version", value: '"v12"', file });
    expect(r).toMatchObject({ changed: true, previous: '"v11"', line: 15, scope: "inputs" });
    expect(r.text).toBe(text.replace('"v11"', '"v12"'));
  });
});

interface EdgeCase {
  name: string;
  text: string;
  value?: string;
  scope?: string;
  /** Expected output text; defaults to a single replacement of `"old"` by the value. */
  expected?: string;
  jsonPath: string;
}

const edgeCases: EdgeCase[] = [
  {
    name: "heredoc with look-alike text before the real attribute",
    text: [
      'generate "provider" {',
      '  path     = "provider.tf"',
      "  contents = <<EOF",
      'image_version = "not-me"',
      "inputs = {",
      '  image_version = "nor-me"',
      "}",
      "EOF",
      "}",
      "",
      "inputs = {",
      '  image_version = "old"',
      "}",
      "",
    ].join("\n"),
    jsonPath: "inputs.image_version",
  },
  {
    name: "indented heredoc <<-EOT with the marker word inside",
    text: [
      "locals {",
      "  script = <<-EOT",
      "    EOT is only the end when alone on its line",
      '    image_version = "no"',
      "    EOT",
      '  image_version = "old" # trailing comment',
      "}",
      "",
    ].join("\n"),
    jsonPath: "locals[0].image_version",
  },
  {
    name: "comments of all three kinds, including commented-out assignments",
    text: [
      '# image_version = "hash-comment"',
      '// image_version = "slash-comment"',
      "/* multi-line",
      '   image_version = "block-comment"',
      "*/",
      "inputs = {",
      '  // image_version = "inside"',
      '  image_version /* why */ = /* lead */ "old" /* tail */ // end',
      "}",
      "",
    ].join("\n"),
    jsonPath: "inputs.image_version",
  },
  {
    name: "a string that contains `image_version =` and an interpolation with braces and quotes",
    text: [
      "inputs = {",
      '  note          = "image_version = \\"fake\\" ${lookup({ a = "}" }, "a", "image_version = x")}"',
      '  image_version = "old"',
      "}",
      "",
    ].join("\n"),
    jsonPath: "inputs.image_version",
  },
  {
    name: "no trailing newline is kept",
    text: 'inputs = {\n  replicas      = 5\n  image_version = "old"\n}',
    jsonPath: "inputs.image_version",
  },
  {
    name: "CRLF line ends are kept",
    text: 'locals {\r\n  a = 1\r\n}\r\n\r\ninputs = {\r\n  image_version  =   "old"\r\n  b = "x"\r\n}\r\n',
    jsonPath: "inputs.image_version",
  },
  {
    name: "top-level attribute, unaligned =",
    text: 'image_version="old"\nother = 2\n',
    jsonPath: "image_version",
  },
  {
    name: "inside a one-line object and a function call",
    text: 'inputs = merge(local.base, { replicas = 2, image_version = "old" })\n',
    jsonPath: "inputs",
  },
  {
    name: "non-string previous value (expression with a traversal) replaced by a string",
    text: 'inputs = {\n  image_version = local.versions["api"]\n}\n',
    expected: 'inputs = {\n  image_version = "v1.2.3"\n}\n',
    jsonPath: "inputs.image_version",
  },
  {
    name: "two places, disambiguated by scope",
    text: 'locals {\n  image_version = "local"\n}\n\ninputs = {\n  image_version = "old"\n}\n',
    scope: "inputs",
    jsonPath: "inputs.image_version",
  },
  {
    name: "escaped interpolation $${ inside a string",
    text: 'inputs = {\n  tmpl          = "$${not} %%{ nor }"\n  image_version = "old"\n}\n',
    jsonPath: "inputs.image_version",
  },
  {
    name: "value is an object spanning lines",
    text: 'inputs = {\n  image_version = {\n    api = "a"\n  }\n  z = 1\n}\n',
    expected: 'inputs = {\n  image_version = "v1.2.3"\n  z = 1\n}\n',
    jsonPath: "inputs.image_version",
  },
  {
    name: "quoted key with colon separator",
    text: 'inputs = {\n  "image_version": "old",\n  other: 1\n}\n',
    jsonPath: "inputs.image_version",
  },
];

describe("setHclAttribute edge cases (checked with the real parser)", () => {
  it.each(edgeCases)("$name", async (c) => {
    const value = c.value ?? '"v1.2.3"';
    const result = setHclAttribute(c.text, { name: "image_version", value, file: "t.hcl", scope: c.scope });
    const expected = c.expected ?? c.text.replace('"old"', value);
    expect(result.text).toBe(expected);
    expect(result.changed).toBe(true);
    const before = await parseHcl(c.text);
    const after = await parseHcl(result.text);
    expect(jsonDiffPaths(before, after)).toEqual([c.jsonPath]);
    // Setting it again is a no-op with the same bytes.
    const again = setHclAttribute(result.text, { name: "image_version", value, file: "t.hcl", scope: c.scope });
    expect(again).toMatchObject({ changed: false, previous: value, text: result.text });
  });

  it("keeps the line number of the attribute", () => {
    const r = setHclAttribute(edgeCases[0]!.text, { name: "image_version", value: '"x"', file: "t.hcl" });
    expect(r.line).toBe(12);
    expect(r.scope).toBe("inputs");
  });
});

describe("errors", () => {
  const cases: { name: string; text: string; code: string; fragments: string[]; scope?: string; invalidHcl?: boolean }[] = [
    {
      name: "several matches without a scope",
      text: 'locals {\n  image_version = "a"\n}\ninputs = {\n  image_version = "b"\n}\n',
      code: "HCL_INVALID",
      fragments: ["t.hcl sets image_version 2 times", "t.hcl:2 (locals)", "t.hcl:5 (inputs)", "--scope locals"],
    },
    {
      name: "scope without the attribute",
      text: 'locals {\n  image_version = "a"\n}\n',
      scope: "inputs",
      code: "HCL_ATTRIBUTE_MISSING",
      fragments: ["t.hcl has no image_version attribute in inputs"],
    },
    {
      name: "only inside a heredoc",
      text: 'x = <<EOF\nimage_version = "a"\nEOF\n',
      code: "HCL_ATTRIBUTE_MISSING",
      fragments: ["t.hcl has no image_version"],
    },
    { name: "unterminated string", invalidHcl: true, text: 'a = 1\nb = "open\n', code: "HCL_INVALID", fragments: ["t.hcl:2: unterminated string"] },
    { name: "unterminated heredoc", invalidHcl: true, text: "a = 1\n\nb = <<EOF\nnever closed\n", code: "HCL_INVALID", fragments: ["t.hcl:3: unterminated heredoc <<EOF"] },
    { name: "heredoc closed at end of file without newline", invalidHcl: true, text: "a = <<EOF\nx\nEOF", code: "HCL_INVALID", fragments: ["t.hcl:1: heredoc <<EOF ends the file without a newline"] },
    { name: "unterminated block comment", invalidHcl: true, text: "/* oops\nimage_version = 1\n", code: "HCL_INVALID", fragments: ["t.hcl:1: unterminated /* comment"] },
    { name: "unclosed block", invalidHcl: true, text: 'inputs {\n  image_version = "a"\n', code: "HCL_INVALID", fragments: ["t.hcl:1: block opened here is never closed"] },
    { name: "stray closing brace", invalidHcl: true, text: 'image_version = "a"\n}\n', code: "HCL_INVALID", fragments: ["t.hcl:2: unexpected }"] },
    { name: "attribute without value", invalidHcl: true, text: "inputs = {\n  image_version =\n}\n", code: "HCL_INVALID", fragments: ["t.hcl:2: attribute image_version has no value"] },
  ];
  it.each(cases)("$name", async (c) => {
    expectPipelineError(() => setHclAttribute(c.text, { name: "image_version", value: '"v"', file: "t.hcl", scope: c.scope }), c.code, ...c.fragments);
    // Our verdict agrees with HashiCorp's parser: files we call invalid, it rejects too.
    if (c.invalidHcl) await expect(parseHcl(c.text)).rejects.toThrow();
    else await expect(parseHcl(c.text)).resolves.toBeTypeOf("object");
  });

  it.each([
    { name: "empty", value: "", fragment: "it is empty" },
    { name: "unquoted word with a newline", value: "a\nb", fragment: "spans several lines" },
    { name: "unterminated string", value: '"v1', fragment: "unterminated string" },
    { name: "name = value", value: 'image_version = "v1"', fragment: "contains = after an expression" },
    { name: "unbalanced bracket", value: '["a"', fragment: "[ opened here is never closed" },
    { name: "comment", value: '"a" # c', fragment: "contains a comment" },
    { name: "two values", value: '"a", "b"', fragment: "contains , outside brackets" },
  ])("invalid value expression: $name", ({ value, fragment }) => {
    expectPipelineError(
      () => setHclAttribute('image_version = "x"\n', { name: "image_version", value, file: "t.hcl" }),
      "ARGUMENT_INVALID",
      fragment,
    );
  });

  it("rejects an attribute name that is not an identifier", () => {
    expectPipelineError(() => setHclAttribute("a = 1\n", { name: "a b", value: "1", file: "t.hcl" }), "ARGUMENT_INVALID", '"a b" is not an HCL identifier');
  });

  it.each(['"v1.2.3"', "5", "true", 'upper("x")', '["a", { b = 1 }]', 'local.x["y"]', '"${var.a}-b"'])("accepts the expression %s", async (v) => {
    expect(() => assertHclExpression(v)).not.toThrow();
    await expect(parseHcl(`a = ${v}\n`)).resolves.toHaveProperty("a");
  });
});

/** Refused: a PipelineError with this code whose message (or hint) holds the fragments. */
function refusal(fn: () => unknown): PipelineError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipelineError) return err;
    throw err;
  }
  throw new Error("expected a refusal, the edit succeeded");
}

async function oracleAccepts(text: string): Promise<boolean> {
  return parseHcl(text).then(
    () => true,
    () => false,
  );
}

/*
 * Reproductions written after the shapes that failed on real files (issues #11 and #13): terragrunt
 * `mock_outputs` keyed by listener port (ALB units in public infrastructure-live repositories and the
 * terragrunt docs' dependency examples), maps inside `inputs` that repeat an input's name (per-env
 * overrides), lists of listener objects, an unquoted URL, and CLI values with forgotten quotes.
 */
describe("object keys that are numbers or other expressions (#13.1)", () => {
  const mockOutputs = [
    'dependency "alb" {',
    '  config_path = "../alb"',
    "  mock_outputs = {",
    "    listener_arns = {",
    '      80  = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/mock/80"',
    '      443 = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/mock/443"',
    "    }",
    "    weights = { 1.5 = \"blue\", 0.5 = \"green\" }",
    "  }",
    "}",
    "",
    "inputs = {",
    '  image_version = "old"',
    "  listener_arn  = dependency.alb.outputs.listener_arns[443]",
    "}",
    "",
  ].join("\n");

  it("a unit whose mock_outputs are keyed by port is edited; only the value changes", async () => {
    const r = setHclAttribute(mockOutputs, { name: "image_version", value: '"v2"', file: "t.hcl" });
    expect(r.text).toBe(mockOutputs.replace('"old"', '"v2"'));
    expect(jsonDiffPaths(await parseHcl(mockOutputs), await parseHcl(r.text))).toEqual(["inputs.image_version"]);
  });

  it("lists the numeric keys by their full text, in their scope", () => {
    const keys = listHclAttributes(mockOutputs, "t.hcl").filter((a) => a.scope.startsWith("dependency.alb.mock_outputs."));
    expect(keys.map((a) => `${a.scope}:${a.name}`)).toEqual([
      "dependency.alb.mock_outputs.listener_arns:80",
      "dependency.alb.mock_outputs.listener_arns:443",
      "dependency.alb.mock_outputs.weights:1.5",
      "dependency.alb.mock_outputs.weights:0.5",
    ]);
  });

  it.each([
    { name: "quoted key with a space", text: 'x = { "a b" = 1 }\n', key: "a b" },
    { name: "parenthesised expression", text: "x = { (local.k) = 1 }\n", key: "(local.k)" },
    { name: "traversal", text: "x = { a.b = 1 }\n", key: "a.b" },
    { name: "template", text: 'x = { "${var.p}-a" = 1 }\n', key: '"${var.p}-a"' },
    { name: "exponent", text: "x = { 1e3 = 1 }\n", key: "1e3" },
  ])("any expression is a key: $name", async ({ text, key }) => {
    expect(listHclAttributes(text, "t.hcl").map((a) => a.name)).toEqual(["x", key]);
    expect(await oracleAccepts(text)).toBe(true);
  });

  it("a bad number key is named in full", async () => {
    const err = refusal(() => setHclAttribute('x = { 1.5.3 = "a" }\nimage_version = "v"\n', { name: "image_version", value: '"w"', file: "t.hcl" }));
    expect(err.code).toBe("HCL_INVALID");
    expect(err.message).toContain("t.hcl:1: 1.5.3 is not a number");
    expect(await oracleAccepts('x = { 1.5.3 = "a" }\n')).toBe(false);
  });
});

describe("only inputs, locals and the top level are candidates (#13.2)", () => {
  const overrides = 'inputs = {\n  image_version = "old"\n  env = {\n    image_version = "per-env"\n  }\n}\n';

  it("a key inside a map value does not make a plain edit ambiguous", () => {
    const r = setHclAttribute(overrides, { name: "image_version", value: '"v2"', file: "t.hcl" });
    expect(r).toMatchObject({ scope: "inputs", line: 2, previous: '"old"' });
    expect(r.text).toBe(overrides.replace('"old"', '"v2"'));
  });

  it("a map field alone is not an input: HCL_ATTRIBUTE_MISSING naming where it is and the scope to pass", () => {
    const text = 'inputs = {\n  env = {\n    image_version = "per-env"\n  }\n}\n';
    const err = refusal(() => setHclAttribute(text, { name: "image_version", value: '"v2"', file: "t.hcl" }));
    expect(err.code).toBe("HCL_ATTRIBUTE_MISSING");
    expect(err.message).toContain("only at t.hcl:3 (inputs.env)");
    expect(err.hint).toContain("--scope inputs.env");
    expect(setHclAttribute(text, { name: "image_version", value: '"v2"', file: "t.hcl", scope: "inputs.env" }).text).toBe(text.replace('"per-env"', '"v2"'));
  });

  it("attributes of other blocks are not candidates", () => {
    const text = 'remote_state {\n  config = {\n    image_version = "x"\n  }\n}\ngenerate "p" {\n  image_version = "y"\n}\nlocals {\n  image_version = "old"\n}\n';
    expect(setHclAttribute(text, { name: "image_version", value: '"v2"', file: "t.hcl" })).toMatchObject({ scope: "locals", previous: '"old"' });
  });

  it("repeated inside a list of objects: the hint offers scopes that each pick one, and they work", () => {
    const text = "inputs = {\n  listeners = [\n    { port = 80 },\n    { port = 443 },\n  ]\n}\n";
    const plain = refusal(() => setHclAttribute(text, { name: "port", value: "8080", file: "t.hcl" }));
    expect(plain.code).toBe("HCL_ATTRIBUTE_MISSING");
    expect(plain.message).toContain("only at t.hcl:3 (inputs.listeners[0]), t.hcl:4 (inputs.listeners[1])");
    expect(plain.hint).toContain("pass its scope: --scope inputs.listeners[0] or --scope inputs.listeners[1]");
    // The scope of the list itself (what the old hint offered) names no single one: the hint says which do.
    const list = refusal(() => setHclAttribute(text, { name: "port", value: "8080", file: "t.hcl", scope: "inputs.listeners" }));
    expect(list.code).toBe("HCL_ATTRIBUTE_MISSING");
    expect(list.hint).toBe("pass the scope where it is: --scope inputs.listeners[0] or --scope inputs.listeners[1]");
    const first = setHclAttribute(text, { name: "port", value: "8080", file: "t.hcl", scope: "inputs.listeners[0]" });
    expect(first.text).toBe(text.replace("80 }", "8080 }"));
    const second = setHclAttribute(text, { name: "port", value: "8443", file: "t.hcl", scope: "inputs.listeners[1]" });
    expect(second.text).toBe(text.replace("443", "8443"));
  });

  it("two matches in the same scope: the hint says no scope tells them apart instead of offering one", () => {
    const text = 'inputs = merge({ image_version = "a" }, { image_version = "b" })\n';
    const err = refusal(() => setHclAttribute(text, { name: "image_version", value: '"v2"', file: "t.hcl" }));
    expect(err.code).toBe("HCL_INVALID");
    expect(err.message).toContain("t.hcl sets image_version 2 times: t.hcl:1 (inputs), t.hcl:1 (inputs)");
    expect(err.hint).toBe("no scope tells apart the ones in inputs: remove the duplicates");
  });

  it("locals and inputs both: each --scope offered picks exactly one", () => {
    const text = 'locals {\n  image_version = "a"\n}\ninputs = {\n  image_version = "b"\n}\n';
    const err = refusal(() => setHclAttribute(text, { name: "image_version", value: '"v2"', file: "t.hcl" }));
    expect(err.hint).toBe("choose one with a scope: --scope locals or --scope inputs");
  });
});

describe("files HCL refuses are refused, untouched (#13.3)", () => {
  it.each([
    { name: "unquoted URL (http: then a // comment)", text: 'X = http://host/\nimage_version = "v"\n', fragment: "t.hcl:1: \":\" after the value of X" },
    { name: "unquoted version", text: 'tag = v1.2.3\nimage_version = "v"\n', fragment: "t.hcl:1: .2.3 chains two legacy indexes" },
    { name: "argument set twice", text: 'image_version = "a"\nimage_version = "b"\n', fragment: "t.hcl:2: argument image_version is set twice (first at line 1)" },
    { name: "object items without a separator", text: 'inputs = { a = 1 b = 2 }\nimage_version = "v"\n', fragment: 't.hcl:1: "b" after the value of a' },
    { name: "two strings", text: 'a = "x" "y"\nimage_version = "v"\n', fragment: "t.hcl:1: " },
    { name: "two blocks on one line", text: 'b {} c {}\nimage_version = "v"\n', fragment: 't.hcl:1: "c" after block b' },
    { name: "single quotes", text: "a = 'x'\nimage_version = \"v\"\n", fragment: "t.hcl:1: single quotes are not valid HCL" },
    { name: "interpolation outside a string", text: 'a = ${x}\nimage_version = "v"\n', fragment: "t.hcl:1: ${ outside a string" },
  ])("$name", async ({ text, fragment }) => {
    const err = refusal(() => setHclAttribute(text, { name: "image_version", value: '"w"', file: "t.hcl" }));
    expect(err.code).toBe("HCL_INVALID");
    expect(err.message).toContain(fragment);
    expect(await oracleAccepts(text)).toBe(false);
  });
});

describe("a value must be exactly one HCL expression (#11.5)", () => {
  const file = 'inputs = {\n  image_version = "old"\n}\n';
  it.each([
    { value: "v1.2.3", quoted: '"v1.2.3"', why: ".2.3 chains two legacy indexes" },
    { value: "1.2.3", quoted: '"1.2.3"', why: "1.2.3 is not a number" },
    { value: '"a" "b"', quoted: "", why: '"\\"" follows a complete expression' },
    { value: "1 +", quoted: '"1 +"', why: "expected an expression, found the end of the file" },
    { value: "<<EOF", quoted: '"<<EOF"', why: "" },
    { value: "${x}", quoted: '"$${x}"', why: "${ outside a string" },
    { value: "'v1'", quoted: "\"'v1'\"", why: "single quotes are not valid HCL" },
    { value: "http://host/", quoted: '"http://host/"', why: "" },
    { value: "a b", quoted: '"a b"', why: '"b" follows a complete expression' },
  ])("$value is refused, saying how to quote it", async ({ value, quoted, why }) => {
    const err = refusal(() => setHclAttribute(file, { name: "image_version", value, file: "t.hcl" }));
    expect(err.code).toBe("ARGUMENT_INVALID");
    expect(err.message).toContain(`value for image_version ${JSON.stringify(value)} is not a valid HCL expression: ${why}`);
    expect(err.hint).toContain("a string needs double quotes");
    if (quoted) expect(err.hint).toContain(`--value '${quoted.replace(/'/g, "'\\''")}'`);
    // HCL agrees: the value does not make an attribute.
    expect(await oracleAccepts(`a = ${value}\n`)).toBe(false);
  });

  it.each(['"v1.2.3"', "5", "-1.5", "true", "null", 'upper("x")', '["a", { b = 1 }]', 'local.x["y"]', '"${var.a}-b"', "a.b[0].c", 'x ? "a" : "b"', "{ 80 = 1 }"])(
    "%s is one expression and is written as given",
    async (value) => {
      const r = setHclAttribute(file, { name: "image_version", value, file: "t.hcl" });
      expect(r.text).toBe(file.replace('"old"', value));
      expect(await oracleAccepts(r.text)).toBe(true);
    },
  );
});

describe("bytes outside the value never change (#11.1)", () => {
  const latin1 = (s: string) => Buffer.from(s, "latin1");

  it.each([
    { name: "Latin-1 comment", bytes: latin1('# configuraci\u00f3n\ninputs = {\n  image_version = "old" # caf\u00e9\n}\n') },
    { name: "Latin-1 in a /* */ comment and no final newline", bytes: latin1('/* \u00e9t\u00e9 */\ninputs = {\n  image_version = "old"\n}') },
    { name: "UTF-8 BOM, CRLF and a lone CR inside a comment", bytes: Buffer.from('\ufeff# a\rb\r\ninputs = {\r\n  image_version = "old"\r\n}\r\n', "utf8") },
    { name: "invalid UTF-8 sequences in a comment", bytes: Buffer.concat([Buffer.from("# "), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff]), Buffer.from('\nimage_version = "old"\n')]) },
  ])("$name: only the value's bytes change", ({ bytes }) => {
    const r = setHclAttributeInBytes(bytes, { name: "image_version", value: '"v1.2.3"', file: "t.hcl" });
    const at = bytes.indexOf('"old"');
    const expected = Buffer.concat([bytes.subarray(0, at), Buffer.from('"v1.2.3"'), bytes.subarray(at + 5)]);
    expect(Buffer.from(r.bytes).equals(expected)).toBe(true);
    expect(r.previous).toBe('"old"');
  });

  it("a byte that is not UTF-8 outside a comment: refused (HCL refuses it too), naming the byte", () => {
    const bytes = latin1('name = "caf\u00e9"\nimage_version = "old"\n');
    const err = refusal(() => setHclAttributeInBytes(bytes, { name: "image_version", value: '"v2"', file: "t.hcl" }));
    expect(err.code).toBe("HCL_INVALID");
    expect(err.message).toContain("t.hcl:1: byte 0xE9 is not UTF-8");
    expect(err.hint).toContain("save the file as UTF-8");
  });

  it("unchanged: the same bytes come back", () => {
    const bytes = latin1('# \u00e9\nimage_version = "v2"\n');
    const r = setHclAttributeInBytes(bytes, { name: "image_version", value: '"v2"', file: "t.hcl" });
    expect(r.changed).toBe(false);
    expect(r.bytes).toBe(bytes);
  });
});

describe("helpers", () => {
  it.each([
    { name: "plain", s: "v1.2.3" },
    { name: "quotes and backslash", s: 'a"b\\c' },
    { name: "interpolation markers", s: "${x} %{y}" },
    { name: "newline and tab", s: "a\nb\tc" },
  ])("formatHclString round-trips through the real parser: $name", async ({ s }) => {
    const expr = formatHclString(s);
    expect(parseHclStringLiteral(expr)).toBe(s);
    // hcl2json emits HCL's JSON syntax, where strings are templates too: `${` stays escaped as `$${`.
    const jsonTemplate = s.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
    expect((await parseHcl(`a = ${expr}\n`)).a).toBe(jsonTemplate);
  });

  it("parseHclStringLiteral is undefined for non-literals", () => {
    expect(parseHclStringLiteral('"${x}"')).toBeUndefined();
    expect(parseHclStringLiteral("local.x")).toBeUndefined();
  });

  it("getHclAttribute returns undefined when absent and the value when present", () => {
    expect(getHclAttribute("a = 1\n", { name: "image_version", file: "t.hcl" })).toBeUndefined();
    expect(getHclAttribute('locals {\n  image_version = "v"\n}\n', { name: "image_version", file: "t.hcl" })).toEqual({
      value: '"v"',
      line: 2,
      scope: "locals",
    });
  });

  it("lists attributes with their block paths (labels included)", () => {
    const attrs = listHclAttributes('dependency "vpc" {\n  config_path = "../vpc"\n}\ninputs = { a = { b = 1 } }\n');
    expect(attrs.map((a) => `${a.scope}:${a.name}=${a.value}`)).toEqual([
      'dependency.vpc:config_path="../vpc"',
      ":inputs={ a = { b = 1 } }",
      "inputs:a={ b = 1 }",
      "inputs.a:b=1",
    ]);
  });

  it("tokenizes CRLF newlines as single tokens and keeps offsets", () => {
    const text = 'a = "x"\r\nb = 1';
    const tokens = scanHcl(text).list();
    expect(tokens.map((t) => t.type)).toEqual(["Ident", "=", "OQuote", "QuotedLit", "CQuote", "Newline", "Ident", "=", "Number", "EOF"]);
    expect(tokens.map((t) => text.slice(t.start, t.end))).toEqual(["a", "=", '"', "x", '"', "\r\n", "b", "=", "1", ""]);
    expect(tokens.at(-1)!.line).toBe(2);
  });
});

describe("update-variable CLI (the real npm script)", () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const run = (args: string[]) =>
    spawnSync("npm", ["run", "--silent", "update-variable", "--", ...args], { cwd: root, encoding: "utf8" });
  const sample = path.join(SAMPLES, "gruntwork_dry_prod_backend_terragrunt_2021-04-27_noTrailingNewline.hcl");

  it("edits the file in place, keeps the missing final newline, and is idempotent", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "update-variable-"));
    const file = path.join(dir, "terragrunt.hcl");
    const original = withAttribute(readFileSync(sample, "utf8")).text;
    writeFileSync(file, original);
    const first = run(["--file", file, "--name", "image_version", "--value", '"v1.2.3"']);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`${file}:10 inputs.image_version: "old" -> "v1.2.3"\n`);
    const edited = readFileSync(file, "utf8");
    expect(edited).toBe(original.replace('"old"', '"v1.2.3"'));
    expect(edited.endsWith("}")).toBe(true);
    expect(jsonDiffPaths(await parseHcl(original), await parseHcl(edited))).toEqual(["inputs.image_version"]);
    const second = run(["--file", file, "--value", '"v1.2.3"']);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("unchanged");
    expect(readFileSync(file, "utf8")).toBe(edited);
  });

  it("keeps a Latin-1 byte in a comment: only the value's bytes change (#11.1)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "update-variable-"));
    const file = path.join(dir, "terragrunt.hcl");
    const original = Buffer.from('# configuraci\u00f3n\ninputs = {\n  image_version = "old" # caf\u00e9\n}\n', "latin1");
    writeFileSync(file, original);
    const r = run(["--file", file, "--value", '"v1.2.3"']);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const at = original.indexOf('"old"');
    expect(readFileSync(file).equals(Buffer.concat([original.subarray(0, at), Buffer.from('"v1.2.3"'), original.subarray(at + 5)]))).toBe(true);
  });

  it.each([
    { name: "unquoted version", value: "v1.2.3", hint: `--value '"v1.2.3"'` },
    { name: "two strings", value: '"a" "b"', hint: "a string needs double quotes around all of it" },
    { name: "dangling operator", value: "1 +", hint: `--value '"1 +"'` },
    { name: "heredoc opener", value: "<<EOF", hint: `--value '"<<EOF"'` },
    { name: "interpolation without quotes", value: "${x}", hint: `--value '"$\${x}"'` },
  ])("refuses a value that is not one expression ($name) with exit 2, the quoting fix, and the file untouched (#11.5)", ({ value, hint }) => {
    const dir = mkdtempSync(path.join(tmpdir(), "update-variable-"));
    const file = path.join(dir, "terragrunt.hcl");
    const original = Buffer.from('inputs = {\n  image_version = "old" # caf\u00e9\n}\n', "latin1");
    writeFileSync(file, original);
    const r = run(["--file", file, "--value", value]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("[ARGUMENT_INVALID]");
    expect(r.stderr).toContain(hint);
    expect(readFileSync(file).equals(original)).toBe(true);
  });

  it("refuses a file HCL refuses (X = http://host/) with exit 2 (the file must change) and leaves it untouched (#13.3)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "update-variable-"));
    const file = path.join(dir, "terragrunt.hcl");
    const original = 'X = http://host/\ninputs = {\n  image_version = "old"\n}\n';
    writeFileSync(file, original);
    const r = run(["--file", file, "--value", '"v2"']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`[HCL_INVALID] ${file}:1:`);
    expect(readFileSync(file, "utf8")).toBe(original);
  });

  it.each([
    { name: "missing file", args: (f: string) => ["--file", `${f}.nope`, "--value", '"v"'], status: 2, fragment: "does not exist" },
    { name: "attribute missing", args: (f: string) => ["--file", f, "--name", "nope", "--value", '"v"'], status: 2, fragment: "has no nope attribute" },
    { name: "a directory as --file (it got a permissions hint)", args: (f: string) => ["--file", path.dirname(f), "--value", '"v"'], status: 2, fragment: "is a directory, not a regular file\n  fix: pass the path of an existing terragrunt.hcl" },
    { name: "--value given twice", args: (f: string) => ["--file", f, "--value", '"a"', "--value", '"b"'], status: 2, fragment: "--value is given 2 times" },
    { name: "invalid value expression", args: (f: string) => ["--file", f, "--value", '"v'], status: 2, fragment: "is not a valid HCL expression: unterminated string" },
    { name: "missing --value", args: (f: string) => ["--file", f], status: 2, fragment: "--value is required" },
  ])("fails clearly on $name and leaves the file alone", ({ args, status, fragment }) => {
    const dir = mkdtempSync(path.join(tmpdir(), "update-variable-"));
    const file = path.join(dir, "terragrunt.hcl");
    const original = withAttribute(readFileSync(sample, "utf8")).text;
    writeFileSync(file, original);
    const r = run(args(file));
    expect(r.status).toBe(status);
    expect(r.stderr).toContain(fragment);
    expect(r.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toBe(original);
  });
});

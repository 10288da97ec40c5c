/**
 * fast-check arbitraries for HCL: files and expressions from HCL's native grammar (blocks and labels,
 * one-line blocks, objects with any key expression such as `80 = "..."`, lists of objects, templates
 * with escapes, interpolations and directives, heredocs, for expressions, splats, legacy `.0` indexes,
 * comments of the three kinds, CRLF), shaped like terragrunt units (`locals`, `inputs`,
 * `dependency "x" { mock_outputs = ... }`), plus near-misses made by small mutations.
 *
 * Everything `validHclFile` makes is meant to be valid; the property tests check that against
 * hcl2json (the oracle) rather than trusting it.
 */
import fc from "fast-check";

const NAMES = ["a", "b", "name", "env", "x1", "db-port", "_p", "image_version", "é", "listener_arns", "true", "null", "in", "if"];
/** `for` opens a for expression at the start of an object or list: never a generated key. */
export const identifier = fc.constantFrom(...NAMES);

const numberLiteral = fc.constantFrom("0", "42", "1.5", "1e3", "2E-2", "007", "443", "80", "1.e5");

const stringChar = fc.oneof(
  fc.constantFrom("a", "v", "1", ".", "-", " ", "/", ":", "é", "😀", "{", "}", "#", "'", "~"),
  fc.constantFrom("\\n", "\\t", '\\"', "\\\\", "\\u00e9", "\\U0001F600", "$${", "%%{", "$", "%"),
);

/** A literal quoted string (no interpolation): `"v1.2.3"`, `"a\\n$${x}"`. */
export const literalString = fc.array(stringChar, { maxLength: 8 }).map((cs) => {
  // `$` / `%` followed by `{` would open a sequence: keep a lone `$` away from a following `{`.
  const body = cs.join("").replace(/([$%])(?=\{)/g, "$1$1");
  return `"${body.replace(/([^$%])([$%])$/, "$1$2 ")}"`;
});

interface ExprOptions {
  /** Line ends are allowed between tokens (inside (), [] and templates). */
  multiline: boolean;
}

/** What may separate the tokens of a bracketed expression, line ends included. */
const bracketSpace = fc.constantFrom(" ", "\n  ", " # note\n  ", "\r\n", " /* c\n */ ");

/** An expression of nesting depth at most `depth`. */
export function expression(depth: number, options: ExprOptions = { multiline: false }): fc.Arbitrary<string> {
  const leaf = fc.oneof(
    numberLiteral,
    fc.constantFrom("true", "false", "null", "local.x", "var.list[0]", "dependency.vpc.outputs.id", "x.0", "a.*.b", "a[*].id", "module.m.out[\"k\"]"),
    literalString,
    identifier,
  );
  if (depth <= 0) return leaf;
  const sub = expression(depth - 1, { multiline: false });
  const inner = expression(depth - 1, { multiline: true });
  const nl = bracketSpace;
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    fc.tuple(sub, fc.constantFrom("+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||"), sub).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(sub, sub, sub).map(([c, a, b]) => `${c} ? ${a} : ${b}`),
    fc.tuple(fc.constantFrom("-", "!"), sub).map(([op, a]) => `${op}${a}`),
    fc.tuple(nl, inner, nl).map(([s1, a, s2]) => `(${s1}${a}${s2})`),
    fc.tuple(fc.constantFrom("merge", "lookup", "concat", "upper", "provider::p::f"), fc.array(inner, { maxLength: 3 }), nl, fc.boolean(), fc.boolean()).map(
      ([f, args, s, trailing, expand]) => `${f}(${args.join(`,${s}`)}${args.length && expand ? "..." : args.length && trailing ? "," : ""})`,
    ),
    fc.tuple(fc.array(inner, { maxLength: 3 }), nl, fc.boolean()).map(([items, s, trailing]) => `[${s}${items.join(`,${s}`)}${items.length && trailing ? "," : ""}${s}]`),
    objectConstructor(depth - 1),
    fc.tuple(identifier, inner, inner, fc.boolean()).map(([v, coll, e, cond]) => `[for ${v} in ${coll} : ${e}${cond ? ` if ${v} != ""` : ""}]`),
    fc.tuple(inner, inner, fc.boolean()).map(([coll, e, group]) => `{ for k, v in ${coll} : k => ${e}${group ? "..." : ""} }`),
    template(depth - 1),
    fc.tuple(sub, fc.constantFrom(".name", "[0]", '["k"]', ".*.id", "[*].id", ".0")).map(([a, t]) => `(${a})${t}`),
  );
}

/** An object constructor: keys of every kind HCL allows, comma or line-end separated. */
export function objectConstructor(depth: number): fc.Arbitrary<string> {
  const key = fc.oneof(
    identifier.filter((k) => k !== "in" && k !== "if"),
    literalString,
    numberLiteral,
    fc.constantFrom("(local.k)", "a.b", '"${var.prefix}-x"'),
  );
  const item = fc.tuple(key, fc.constantFrom(" = ", " =", ": ", "="), expression(Math.max(0, depth), { multiline: false })).map(([k, s, v]) => `${k}${s}${v}`);
  return fc.tuple(fc.array(item, { maxLength: 4 }), fc.constantFrom(", ", "\n  ", ",\n  ", " # note\n  ", "\r\n  ")).map(([items, s]) =>
    items.length === 0 ? "{}" : s.includes("\n") ? `{\n  ${items.join(s)}\n}` : `{ ${items.join(s)} }`,
  );
}

function template(depth: number): fc.Arbitrary<string> {
  const part = fc.oneof(
    { weight: 3, arbitrary: fc.array(stringChar, { maxLength: 4 }).map((cs) => cs.join("").replace(/([$%])$/, "$1 ").replace(/([$%])(?=\{)/g, "$1$1")) },
    fc.tuple(fc.constantFrom("${", "${~"), expression(Math.max(0, depth - 1), { multiline: false }), fc.constantFrom("}", "~}")).map(([o, e, c]) => `${o} ${e} ${c}`),
    fc.tuple(expression(0), fc.constantFrom("yes", "${x}")).map(([c, t]) => `%{ if ${c} }${t}%{ else }no%{ endif }`),
    fc.constantFrom("%{ for i in var.l }${i},%{ endfor }"),
  );
  return fc.array(part, { maxLength: 4 }).map((ps) => `"${ps.join("").replace(/([$%])$/, "$1 ")}"`);
}

/** A heredoc value (the caller ends the line after it). */
export const heredoc = fc.tuple(fc.constantFrom("<<EOT", "<<-EOT", "<<EOF"), fc.array(fc.constantFrom("text", "  image_version = \"no\"", "${local.x}", "$${literal}", "EOT is not the end", "%{ if true }y%{ endif }", ""), { maxLength: 3 })).map(
  ([open, lines]) => `${open}\n${lines.map((l) => `${l}\n`).join("")}${open.endsWith("EOF") ? "EOF" : "  EOT"}`,
);

const lineEnd = fc.constantFrom("\n", "\n", "\r\n", " # trailing\n", " // trailing\n", "  \n");

function attribute(name: fc.Arbitrary<string>, depth: number): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(expression(depth, { multiline: false }), lineEnd) },
    // The closing marker must be alone on its line: nothing may follow it before the line end.
    fc.tuple(heredoc, fc.constant("\n")),
  );
  return fc.tuple(name, fc.constantFrom(" = ", "=", "   =   ", " /* c */ = "), value).map(([n, eq, [v, end]]) => `${n}${eq}${v}${end}`);
}

/** Distinct attribute names, so no body sets one twice (HCL refuses that). */
function uniqueAttributes(depth: number, max: number): fc.Arbitrary<string[]> {
  return fc.uniqueArray(identifier, { maxLength: max }).chain((names) => fc.tuple(...names.map((n) => attribute(fc.constant(n), depth))));
}

const comment = fc.constantFrom("# comment\n", "// comment\n", "/* block\n   comment */\n", "\n", "# image_version = \"commented\"\n");

/** A block: `type "label" ident {` body `}`, or a one-line block `type { name = value }`. */
function block(depth: number): fc.Arbitrary<string> {
  const labels = fc.array(fc.oneof(literalString, identifier), { maxLength: 2 }).map((ls) => ls.map((l) => ` ${l}`).join(""));
  const multiLine = fc.tuple(fc.constantFrom("locals", "dependency", "generate", "remote_state", "terraform", "include"), labels, uniqueAttributes(depth, 3), fc.array(comment, { maxLength: 1 }), lineEnd).map(
    ([type, ls, attrs, cs, end]) => `${type}${ls} {\n${[...cs, ...attrs].map((l) => `  ${l}`).join("")}}${end}`,
  );
  const oneLine = fc.tuple(fc.constantFrom("b", "retry"), labels, identifier, expression(Math.max(0, depth - 1), { multiline: false }), lineEnd).map(([type, ls, n, v, end]) => `${type}${ls} { ${n} = ${v} }${end}`);
  return fc.oneof({ weight: 3, arbitrary: multiLine }, oneLine);
}

/** A valid terragrunt-like file (up to `depth` nesting in values). */
export function validHclFile(depth = 2): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.oneof(block(depth), comment), { maxLength: 4 }), uniqueAttributes(depth, 4), fc.boolean(), fc.constantFrom("", "\ufeff")).map(([items, attrs, crlf, bom]) => {
    const text = `${bom}${[...items, ...attrs].join("")}`;
    return crlf ? text.replace(/\r?\n/g, "\r\n") : text;
  });
}

/** A small edit of `text` (delete, insert or duplicate): mostly invalid HCL, sometimes still valid. */
export function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(text, fc.nat(), fc.constantFrom(...'"{}[](),=:.\n#$%~;\'\\<-?*/`'.split(""), "delete", "duplicate", "${", "}\n", "\r", "é")).map(([t, n, op]) => {
    if (t.length === 0) return op === "delete" || op === "duplicate" ? t : op;
    const at = n % t.length;
    if (op === "delete") return t.slice(0, at) + t.slice(at + 1);
    if (op === "duplicate") return t.slice(0, at) + t.slice(at, at + 8) + t.slice(at);
    return t.slice(0, at) + op + t.slice(at);
  });
}

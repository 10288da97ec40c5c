/**
 * Format-preserving edits of terragrunt.hcl files (pure).
 *
 * `setHclAttribute` replaces the bytes of ONE attribute's value expression and nothing else: comments
 * (`#`, `//`, `/* *\/`), alignment, heredocs, CRLF line ends, a missing final newline and bytes that
 * are not UTF-8 (`setHclAttributeInBytes`) all survive. The file is parsed with a port of HCL's own
 * parser (hcl-parse.ts), so a file HCL refuses is refused here (HCL_INVALID, `file:line`), the value
 * must be exactly one HCL expression (ARGUMENT_INVALID, with how to quote a string), and the edited
 * file is parsed again before it is returned: nothing this module returns fails to parse in terraform.
 *
 * Which attribute: terragrunt reads inputs from the top level, `locals` and `inputs = { ... }`; only
 * those places are candidates unless a scope names another (`--scope dependency.vpc.mock_outputs`,
 * `--scope inputs.env`, `--scope inputs.listeners[1]`). A field of a map inside `inputs` is not an
 * input of its own, so it never makes a plain edit ambiguous.
 */
import { PipelineError } from "./errors.js";
import { checkHclExpression, formatHclScope, parseHclFile, type HclAttribute } from "./hcl-parse.js";
import { isHclIdentifier, scanHcl } from "./hcl-scan.js";
import { formatHclString, parseHclStringLiteral } from "./hcl-string.js";
import { decodeLosslessUtf8, encodeLosslessUtf8 } from "./lossless-utf8.js";

export { formatHclString, parseHclStringLiteral, formatHclScope, type HclAttribute };
export { MAX_HCL_NESTING } from "./hcl-parse.js";

/** Every attribute of the file, in source order, at every depth. Throws HCL_INVALID where HCL would. */
export function listHclAttributes(text: string, file = "<input>"): HclAttribute[] {
  return parseHclFile(text, file);
}

export interface HclAttributeQuery {
  /** Attribute name, e.g. `image_version`. */
  name: string;
  /** Path shown in errors (the file the text came from). */
  file: string;
  /**
   * Where the attribute must sit: `inputs`, `locals`, `""` (or `.`) for the top level, or any other
   * scope (`dependency.vpc`, `inputs.env`, `inputs.listeners[0]`). Without it, the attribute must be
   * set exactly once at the top level, in `locals` or in `inputs`.
   */
  scope?: string;
}

export interface SetHclAttributeInput extends HclAttributeQuery {
  /** The new value as one HCL expression on one line, e.g. `"v1.2.3"` (quotes included) or `5`. */
  value: string;
}

export interface SetHclAttributeResult {
  text: string;
  changed: boolean;
  /** The previous value expression, verbatim. */
  previous: string;
  /** 1-based line of the attribute. */
  line: number;
  /** Scope where the attribute was found (`inputs`, `locals`, `` for top level). */
  scope: string;
}

export interface HclAttributeValue {
  value: string;
  line: number;
  scope: string;
}

/** The places terragrunt reads inputs from, where an attribute is looked up without a scope. */
const INPUT_SCOPES = new Set(["", "locals", "inputs"]);

/** Find the one attribute `name` (in `scope` if given). Returns undefined when there is none. */
export function getHclAttribute(text: string, query: HclAttributeQuery): HclAttributeValue | undefined {
  const found = findOne(parseHclFile(text, query.file), query);
  return found && { value: found.value, line: found.line, scope: found.scope };
}

/**
 * Set attribute `name` to the HCL expression `value`, changing only the old value's characters.
 * Throws ARGUMENT_INVALID when `value` is not one HCL expression, HCL_INVALID when the file is not
 * valid HCL or the attribute is ambiguous, HCL_ATTRIBUTE_MISSING when it is absent.
 */
export function setHclAttribute(text: string, input: SetHclAttributeInput): SetHclAttributeResult {
  assertIdentifier(input.name);
  assertHclExpression(input.value, `value for ${input.name}`);
  const attributes = parseHclFile(text, input.file);
  const found = findOne(attributes, input);
  if (!found) throw missing(attributes, input);
  const next = text.slice(0, found.valueStart) + input.value + text.slice(found.valueEnd);
  if (next !== text) assertEditParses(next, found, input);
  return { text: next, changed: next !== text, previous: found.value, line: found.line, scope: found.scope };
}

export interface SetHclAttributeBytesResult extends Omit<SetHclAttributeResult, "text"> {
  bytes: Uint8Array;
}

/**
 * `setHclAttribute` on the file's bytes: bytes that are not UTF-8 (a Latin-1 comment) are kept as
 * they are, so the result differs from `bytes` exactly in the value's bytes.
 */
export function setHclAttributeInBytes(bytes: Uint8Array, input: SetHclAttributeInput): SetHclAttributeBytesResult {
  const { text, ...result } = setHclAttribute(decodeLosslessUtf8(bytes), input);
  return { ...result, bytes: result.changed ? encodeLosslessUtf8(text) : bytes };
}

/** `getHclAttribute` on the file's bytes. */
export function getHclAttributeInBytes(bytes: Uint8Array, query: HclAttributeQuery): HclAttributeValue | undefined {
  return getHclAttribute(decodeLosslessUtf8(bytes), query);
}

function findOne(attributes: HclAttribute[], query: HclAttributeQuery): HclAttribute | undefined {
  const scope = query.scope === undefined ? undefined : normalizeScope(query.scope);
  const matches = attributes.filter((a) => a.name === query.name && (scope === undefined ? INPUT_SCOPES.has(a.scope) : a.scope === scope));
  if (matches.length > 1) throw ambiguous(matches, query);
  return matches[0];
}

/** Several matches: name them all, and suggest only scopes that pick exactly one. */
function ambiguous(matches: HclAttribute[], query: HclAttributeQuery): PipelineError {
  const places = matches.map((a) => `${query.file}:${a.line} (${describeScope(a.scope)})`).join(", ");
  const count = new Map<string, number>();
  for (const a of matches) count.set(a.scope, (count.get(a.scope) ?? 0) + 1);
  const unique = matches.filter((a) => count.get(a.scope) === 1).map((a) => `--scope ${a.scope || "."}`);
  const shared = [...count].filter(([, n]) => n > 1).map(([s]) => describeScope(s));
  const parts = [
    unique.length > 0 ? `choose one with a scope: ${unique.join(" or ")}` : "",
    shared.length > 0 ? `no scope tells apart the ones in ${shared.join(" and ")}: remove the duplicates` : "",
  ].filter(Boolean);
  return new PipelineError("HCL_INVALID", `${query.file} sets ${query.name} ${matches.length} times: ${places}`, { hint: parts.join("; ") });
}

function missing(attributes: HclAttribute[], input: SetHclAttributeInput): PipelineError {
  const scope = input.scope === undefined ? undefined : normalizeScope(input.scope);
  const where = scope !== undefined ? ` in ${describeScope(scope)}` : "";
  const elsewhere = attributes.filter((a) => a.name === input.name);
  if (elsewhere.length > 0) {
    const places = elsewhere.map((a) => `${input.file}:${a.line} (${describeScope(a.scope)})`).join(", ");
    const looked = scope !== undefined ? describeScope(scope) : "the top level, locals or inputs";
    const scopes = [...new Set(elsewhere.map((a) => `--scope ${a.scope || "."}`))].join(" or ");
    return new PipelineError("HCL_ATTRIBUTE_MISSING", `${input.file} has no ${input.name} attribute${where || " where terragrunt reads inputs"}: not in ${looked}, only at ${places}`, {
      hint: scope !== undefined ? `pass the scope where it is: ${scopes}` : `a field of a map, list or other block is not a terragrunt input; to edit it anyway, pass its scope: ${scopes}`,
    });
  }
  return new PipelineError("HCL_ATTRIBUTE_MISSING", `${input.file} has no ${input.name} attribute${where}`, {
    hint: `add \`${input.name} = ""\` to the inputs = { ... } block of ${input.file} (or to its locals), then run again`,
  });
}

/** The edited file must parse, with the new value exactly where the old one was. */
function assertEditParses(next: string, found: HclAttribute, input: SetHclAttributeInput): void {
  const fail = (why: string) =>
    new PipelineError("HCL_INVALID", `setting ${input.name} to ${input.value} at ${input.file}:${found.line} would leave a file HCL cannot parse: ${why}`, {
      hint: `nothing was written; ${quoteHint(input.value)}`,
    });
  let after: HclAttribute[];
  try {
    after = parseHclFile(next, input.file);
  } catch (err) {
    throw fail(err instanceof PipelineError ? err.message.replace(/^\[\w+\] /, "").split("\n")[0]! : String(err));
  }
  const end = found.valueStart + input.value.length;
  const same = after.some((a) => a.name === found.name && a.scope === found.scope && a.valueStart === found.valueStart && a.valueEnd === end);
  if (!same) throw fail(`the value does not stand alone there`);
}

function normalizeScope(scope: string): string {
  return scope === "." ? "" : scope;
}

function describeScope(scope: string): string {
  return scope === "" ? "the top level" : scope;
}

function assertIdentifier(name: string): void {
  if (!isHclIdentifier(name)) {
    throw new PipelineError("ARGUMENT_INVALID", `attribute name ${JSON.stringify(name)} is not an HCL identifier`, {
      hint: "use letters, digits, _ and -, starting with a letter or _ (e.g. image_version)",
    });
  }
}

/**
 * Check that `value` is exactly one HCL expression on one line (as HCL's own parser reads it), with no
 * comment and no surrounding whitespace. Throws ARGUMENT_INVALID saying why and how to quote a string.
 */
export function assertHclExpression(value: string, what = "value"): void {
  const bad = (why: string) =>
    new PipelineError("ARGUMENT_INVALID", `${what} ${JSON.stringify(value)} is not a valid HCL expression: ${why}`, { hint: quoteHint(value) });
  if (value.trim() === "") throw bad("it is empty");
  if (value.trim() !== value) throw bad("it has leading or trailing whitespace");
  if (/[\r\n]/.test(value)) throw bad("it spans several lines (write a newline inside a string as \\n)");
  const problem = checkHclExpression(value);
  if (problem) throw bad(problem.what);
  if (scanHcl(value).list().some((t) => t.type === "Comment")) throw bad("it contains a comment");
}

/** How to pass `value` as a string: the likeliest mistake is a version without its quotes. */
function quoteHint(value: string): string {
  if (value.startsWith('"') && parseHclStringLiteral(value) === undefined) {
    return 'a string needs double quotes around all of it, on one line, with \\" and \\\\ escaped inside, e.g. --value \'"v1.2.3"\' (single quotes keep the shell from eating them)';
  }
  const asString = parseHclStringLiteral(value) !== undefined ? value : formatHclString(value.trim());
  return `a string needs double quotes, e.g. --value '${asString.replace(/'/g, "'\\''")}' (single quotes keep the shell from eating them); numbers, true/false and references like local.x stand alone`;
}

/**
 * Format-preserving edits of terragrunt.hcl files (pure).
 *
 * `setHclAttribute` replaces the bytes of ONE attribute's value expression and nothing else: comments
 * (`#`, `//`, `/* *\/`), alignment, heredocs, CRLF line ends and a missing final newline all survive.
 * A small tokenizer knows HCL's native syntax well enough to never match text inside a string
 * (including `${...}` interpolations), a heredoc or a comment, and a structural pass tracks block and
 * object nesting so every attribute is known with its scope (`inputs`, `locals`, top level, ...).
 *
 * It is not a full HCL parser: it checks what it must to edit safely (terminated strings, heredocs and
 * comments; balanced brackets; body items that are attributes or blocks). Tests check every edit with
 * HashiCorp's real parser (`@cdktf/hcl2json`).
 */
import { PipelineError } from "./errors.js";

// ---------------------------------------------------------------------------------------------------
// Tokens

export type HclTokenKind =
  | "ident"
  | "string" // a whole quoted template, interpolations included
  | "heredoc" // `<<EOF` / `<<-EOF` through the closing marker (the newline after it is a separate token)
  | "comment" // `# ...`, `// ...` (without the newline) or `/* ... */`
  | "newline"
  | "punct" // one of { } [ ] ( ) = , : and the two-character operators == != <= >= => ...
  | "other"; // numbers, operators, dots, anything else

export interface HclToken {
  kind: HclTokenKind;
  start: number;
  end: number;
  /** 1-based line of the first character. */
  line: number;
  text: string;
}

const IDENT_START = /[\p{L}_]/u;
const IDENT_CONT = /[\p{L}\p{N}_-]/u;

/** Split HCL native syntax into tokens. Throws HCL_INVALID (`file:line`) on unterminated constructs. */
export function tokenizeHcl(text: string, file = "<input>"): HclToken[] {
  const tokens: HclToken[] = [];
  let pos = 0;
  let line = 1;
  const push = (kind: HclTokenKind, start: number, end: number, startLine: number) => {
    tokens.push({ kind, start, end, line: startLine, text: text.slice(start, end) });
  };
  const countLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) line++;
  };

  while (pos < text.length) {
    const c = text[pos]!;
    const startLine = line;
    if (c === " " || c === "\t" || c === "\uFEFF") {
      pos++;
      continue;
    }
    if (c === "\n" || (c === "\r" && text[pos + 1] === "\n")) {
      const end = c === "\r" ? pos + 2 : pos + 1;
      push("newline", pos, end, startLine);
      line++;
      pos = end;
      continue;
    }
    if (c === "#" || (c === "/" && text[pos + 1] === "/")) {
      let end = text.indexOf("\n", pos);
      if (end === -1) end = text.length;
      if (text[end - 1] === "\r") end--;
      push("comment", pos, end, startLine);
      pos = end;
      continue;
    }
    if (c === "/" && text[pos + 1] === "*") {
      const close = text.indexOf("*/", pos + 2);
      if (close === -1) throw invalid(file, startLine, "unterminated /* comment", "close the comment with */");
      const end = close + 2;
      countLines(pos, end);
      push("comment", pos, end, startLine);
      pos = end;
      continue;
    }
    if (c === '"') {
      const end = scanQuoted(text, pos, file, startLine);
      countLines(pos, end);
      push("string", pos, end, startLine);
      pos = end;
      continue;
    }
    if (c === "<" && text[pos + 1] === "<") {
      const heredoc = scanHeredoc(text, pos, file, startLine);
      if (heredoc) {
        countLines(pos, heredoc.end);
        push("heredoc", pos, heredoc.end, startLine);
        pos = heredoc.end;
        continue;
      }
    }
    if (IDENT_START.test(c)) {
      let end = pos + 1;
      while (end < text.length && IDENT_CONT.test(text[end]!)) end++;
      push("ident", pos, end, startLine);
      pos = end;
      continue;
    }
    const two = text.slice(pos, pos + 2);
    if (["==", "!=", "<=", ">=", "=>", "&&", "||"].includes(two)) {
      push("punct", pos, pos + 2, startLine);
      pos += 2;
      continue;
    }
    if ("{}[]()=,:".includes(c)) {
      push("punct", pos, pos + 1, startLine);
      pos++;
      continue;
    }
    if (c === "\r") {
      // A lone CR is whitespace for our purposes.
      pos++;
      continue;
    }
    push("other", pos, pos + 1, startLine);
    pos++;
  }
  return tokens;
}

/** End offset (exclusive) of the quoted template starting at `start` (a `"`). */
function scanQuoted(text: string, start: number, file: string, line: number): number {
  let pos = start + 1;
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === "\\") {
      pos += 2;
      continue;
    }
    if (c === '"') return pos + 1;
    if (c === "\n" || c === "\r") break;
    if ((c === "$" || c === "%") && text[pos + 1] === c && text[pos + 2] === "{") {
      pos += 3; // `$${` and `%%{` are escapes for a literal `${` / `%{`
      continue;
    }
    if ((c === "$" || c === "%") && text[pos + 1] === "{") {
      pos = scanInterpolation(text, pos + 2, file, line);
      continue;
    }
    pos++;
  }
  throw invalid(file, line, "unterminated string", 'close the string with " on the same line (use a heredoc for multi-line text)');
}

/** From just after `${`, the offset just after the matching `}`; nested strings and braces allowed. */
function scanInterpolation(text: string, start: number, file: string, line: number): number {
  let depth = 0;
  let pos = start;
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === '"') {
      pos = scanQuoted(text, pos, file, line);
      continue;
    }
    if (c === "{") depth++;
    if (c === "}") {
      if (depth === 0) return pos + 1;
      depth--;
    }
    pos++;
  }
  throw invalid(file, line, "unterminated ${ interpolation", "close the interpolation with }");
}

/** A heredoc starting at `start` (`<<`), or null when `<<` does not open one. */
function scanHeredoc(text: string, start: number, file: string, line: number): { end: number } | null {
  const m = /^<<(-?)([\p{L}_][\p{L}\p{N}_-]*)\r?\n/u.exec(text.slice(start, start + 200));
  if (!m) return null;
  const marker = m[2]!;
  let pos = start + m[0].length;
  while (pos <= text.length) {
    let eol = text.indexOf("\n", pos);
    if (eol === -1) eol = text.length;
    const content = text.slice(pos, eol).replace(/\r$/, "");
    if (content.trim() === marker) {
      if (eol >= text.length) {
        throw invalid(file, line, `heredoc <<${m[1]}${marker} ends the file without a newline after ${marker}`, `add a newline after the closing ${marker}`);
      }
      return { end: pos + content.trimEnd().length };
    }
    if (eol >= text.length) break;
    pos = eol + 1;
  }
  throw invalid(file, line, `unterminated heredoc <<${m[1]}${marker}`, `end the heredoc with a line holding only ${marker}`);
}

function invalid(file: string, line: number, what: string, hint: string): PipelineError {
  return new PipelineError("HCL_INVALID", `${file}:${line}: ${what}`, { hint });
}

// ---------------------------------------------------------------------------------------------------
// Structure

/** One attribute definition found in the file (a block body item or an object constructor element). */
export interface HclAttribute {
  name: string;
  /** Enclosing blocks/objects: `[]` top level, `["inputs"]`, `["locals"]`, `["dependency", "vpc"]`. */
  path: string[];
  /** 1-based line of the attribute name. */
  line: number;
  /** Offsets of the value expression (comments and surrounding whitespace excluded). */
  valueStart: number;
  valueEnd: number;
  value: string;
}

/** Every attribute of the file, in source order, at every depth. */
export function listHclAttributes(text: string, file = "<input>"): HclAttribute[] {
  const tokens = tokenizeHcl(text, file);
  const parser = new StructureParser(text, tokens, file);
  parser.body([], null);
  return parser.attributes;
}

class StructureParser {
  readonly attributes: HclAttribute[] = [];
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: HclToken[],
    private readonly file: string,
  ) {}

  private peek(offset = 0): HclToken | undefined {
    return this.tokens[this.i + offset];
  }

  private isPunct(t: HclToken | undefined, p: string): boolean {
    return t !== undefined && t.kind === "punct" && t.text === p;
  }

  /** Inline comments are whitespace between the parts of an item. */
  private skipComments(): void {
    while (this.peek()?.kind === "comment") this.i++;
  }

  private lastLine(): number {
    return this.tokens.at(-1)?.line ?? 1;
  }

  private fail(t: HclToken | undefined, what: string, hint = "check the file with `terragrunt hclfmt`"): never {
    throw invalid(this.file, t?.line ?? this.lastLine(), what, hint);
  }

  /** A file or block body: attributes and blocks until `}` (when `closer` is set) or end of file. */
  body(path: string[], opener: HclToken | null): void {
    for (;;) {
      const t = this.peek();
      if (t === undefined) {
        if (opener) this.fail(opener, "block opened here is never closed", "add the missing }");
        return;
      }
      if (t.kind === "newline" || t.kind === "comment") {
        this.i++;
        continue;
      }
      if (this.isPunct(t, "}")) {
        if (!opener) this.fail(t, "unexpected }", "remove the extra }");
        this.i++;
        return;
      }
      if (t.kind !== "ident") this.fail(t, `expected an attribute or block, found ${JSON.stringify(t.text)}`);
      this.i++;
      this.skipComments();
      if (this.isPunct(this.peek(), "=")) {
        this.i++;
        this.attributeValue(t, unquote(t), path, ["newline", "}"]);
        continue;
      }
      // A block: type, labels, `{`.
      const labels: string[] = [];
      for (;;) {
        this.skipComments();
        const l = this.peek();
        if (l && (l.kind === "string" || l.kind === "ident")) {
          labels.push(unquote(l));
          this.i++;
          continue;
        }
        if (this.isPunct(l, "{")) {
          this.i++;
          this.body([...path, t.text, ...labels], l!);
          break;
        }
        this.fail(l ?? t, `expected = or { after ${JSON.stringify(t.text)}`);
      }
    }
  }

  /**
   * The value expression of attribute `nameTok`; stops (without consuming) at a depth-0 token whose
   * kind or text is in `stops`, at a closing bracket, or at end of file.
   */
  private attributeValue(nameTok: HclToken, name: string, path: string[], stops: string[]): void {
    let first: HclToken | undefined;
    let last: HclToken | undefined;
    for (;;) {
      const t = this.peek();
      if (t === undefined) break;
      if (t.kind === "comment") {
        this.i++;
        continue;
      }
      if (t.kind === "newline" && first === undefined && !stops.includes("newline")) {
        this.i++;
        continue;
      }
      if (stops.includes(t.kind) || (t.kind === "punct" && stops.includes(t.text))) break;
      if (t.kind === "punct" && (t.text === "}" || t.text === "]" || t.text === ")")) break;
      first ??= t;
      if (t.kind === "punct" && t.text === "{") {
        this.i++;
        this.object([...path, name], t);
        last = this.tokens[this.i - 1];
        continue;
      }
      if (t.kind === "punct" && (t.text === "[" || t.text === "(")) {
        this.i++;
        this.nested([...path, name], t);
        last = this.tokens[this.i - 1];
        continue;
      }
      this.i++;
      last = t;
    }
    if (!first || !last) this.fail(nameTok, `attribute ${name} has no value`, `write a value after the =, e.g. ${name} = ""`);
    this.attributes.push({
      name,
      path,
      line: nameTok.line,
      valueStart: first.start,
      valueEnd: last.end,
      value: this.text.slice(first.start, last.end),
    });
  }

  /** `(`/`[` content up to the matching closer; object constructors inside are scanned. */
  private nested(path: string[], opener: HclToken): void {
    const closer = opener.text === "(" ? ")" : "]";
    for (;;) {
      const t = this.peek();
      if (t === undefined) this.fail(opener, `${opener.text} opened here is never closed`, `add the missing ${closer}`);
      this.i++;
      if (t.kind !== "punct") continue;
      if (t.text === closer) return;
      if (t.text === "{") this.object(path, t);
      else if (t.text === "(" || t.text === "[") this.nested(path, t);
      else if (t.text === ")" || t.text === "]" || t.text === "}") this.fail(t, `unexpected ${t.text}`, `check the brackets opened at line ${opener.line}`);
    }
  }

  /** An object constructor `{ key = value, ... }` (or a `for` expression) after its `{`. */
  private object(path: string[], opener: HclToken): void {
    const first = this.tokens.slice(this.i).find((t) => t.kind !== "newline" && t.kind !== "comment");
    if (first && first.kind === "ident" && first.text === "for") {
      this.skipBalanced(opener);
      return;
    }
    for (;;) {
      const t = this.peek();
      if (t === undefined) this.fail(opener, "{ opened here is never closed", "add the missing }");
      if (t.kind === "newline" || t.kind === "comment" || this.isPunct(t, ",")) {
        this.i++;
        continue;
      }
      if (this.isPunct(t, "}")) {
        this.i++;
        return;
      }
      // Key: identifier, quoted string or a parenthesised expression.
      let keyTok = t;
      if (this.isPunct(t, "(")) {
        this.i++;
        this.nested(path, t);
        keyTok = t;
      } else if (t.kind === "ident" || t.kind === "string") {
        this.i++;
        // Traversals such as `local.x` as keys are not valid HCL, but tolerate `a.b` shapes by skipping.
        while (this.peek() && this.peek()!.kind === "other" && this.peek()!.text === ".") {
          this.i += 2;
        }
      } else {
        this.fail(t, `expected an object key, found ${JSON.stringify(t.text)}`);
      }
      this.skipComments();
      const sep = this.peek();
      if (!(this.isPunct(sep, "=") || this.isPunct(sep, ":"))) this.fail(sep ?? t, `expected = or : after object key ${JSON.stringify(keyTok.text)}`);
      this.i++;
      const name = keyTok.kind === "ident" || keyTok.kind === "string" ? unquote(keyTok) : keyTok.text;
      this.attributeValue(keyTok, name, path, ["newline", ",", "}"]);
    }
  }

  private skipBalanced(opener: HclToken): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t === undefined) this.fail(opener, `${opener.text} opened here is never closed`, "add the missing closing bracket");
      this.i++;
      if (t.kind !== "punct") continue;
      if (t.text === "{" || t.text === "[" || t.text === "(") depth++;
      if (t.text === "}" || t.text === "]" || t.text === ")") {
        if (depth === 0) return;
        depth--;
      }
    }
  }
}

/** An identifier's text, or a simple quoted string's content. */
function unquote(t: HclToken): string {
  if (t.kind !== "string") return t.text;
  const inner = t.text.slice(1, -1);
  return /[\\$%]/.test(inner) ? t.text : inner;
}

// ---------------------------------------------------------------------------------------------------
// Public edit API

export interface HclAttributeQuery {
  /** Attribute name, e.g. `image_version`. */
  name: string;
  /** Path shown in errors (the file the text came from). */
  file: string;
  /**
   * Where the attribute must sit when the file has several: the dotted enclosing path, e.g. `inputs`,
   * `locals`, `dependency.vpc`; `""` (or `.`) for the top level. Without it, exactly one must exist.
   */
  scope?: string;
}

export interface SetHclAttributeInput extends HclAttributeQuery {
  /** The new value as an HCL expression, e.g. `"v1.2.3"` (quotes included) or `5`. */
  value: string;
}

export interface SetHclAttributeResult {
  text: string;
  changed: boolean;
  /** The previous value expression, verbatim. */
  previous: string;
  /** 1-based line of the attribute. */
  line: number;
  /** Dotted scope where the attribute was found (`inputs`, `locals`, `` for top level). */
  scope: string;
}

export interface HclAttributeValue {
  value: string;
  line: number;
  scope: string;
}

/** Find the one attribute `name` (in `scope` if given). Returns undefined when there is none. */
export function getHclAttribute(text: string, query: HclAttributeQuery): HclAttributeValue | undefined {
  const found = findOne(text, query);
  return found && { value: found.value, line: found.line, scope: found.path.join(".") };
}

/**
 * Set attribute `name` to the HCL expression `value`, changing only the old value's bytes.
 * Throws HCL_ATTRIBUTE_MISSING when the attribute is absent, HCL_INVALID when the file cannot be
 * tokenized or the attribute is ambiguous, ARGUMENT_INVALID when `value` is not one HCL expression.
 */
export function setHclAttribute(text: string, input: SetHclAttributeInput): SetHclAttributeResult {
  assertIdentifier(input.name);
  assertHclExpression(input.value, `value for ${input.name}`);
  const found = findOne(text, input);
  if (!found) {
    const where = input.scope !== undefined ? ` in ${describeScope(normalizeScope(input.scope))}` : "";
    throw new PipelineError("HCL_ATTRIBUTE_MISSING", `${input.file} has no ${input.name} attribute${where}`, {
      hint: `add \`${input.name} = ""\` to the inputs = { ... } block of ${input.file} (or to its locals), then run again`,
    });
  }
  const next = text.slice(0, found.valueStart) + input.value + text.slice(found.valueEnd);
  return { text: next, changed: next !== text, previous: found.value, line: found.line, scope: found.path.join(".") };
}

function findOne(text: string, query: HclAttributeQuery): HclAttribute | undefined {
  const all = listHclAttributes(text, query.file).filter((a) => a.name === query.name);
  const scope = query.scope === undefined ? undefined : normalizeScope(query.scope);
  const matches = scope === undefined ? all : all.filter((a) => a.path.join(".") === scope);
  if (matches.length > 1) {
    const places = matches.map((a) => `${query.file}:${a.line} (${describeScope(a.path.join("."))})`).join(", ");
    throw new PipelineError("HCL_INVALID", `${query.file} sets ${query.name} ${matches.length} times: ${places}`, {
      hint: `choose one with a scope (e.g. --scope ${matches[0]!.path.join(".") || "."}) or remove the duplicates`,
    });
  }
  return matches[0];
}

function normalizeScope(scope: string): string {
  return scope === "." ? "" : scope;
}

function describeScope(scope: string): string {
  return scope === "" ? "the top level" : scope;
}

const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_-]*$/u;

function assertIdentifier(name: string): void {
  if (!IDENTIFIER.test(name)) {
    throw new PipelineError("ARGUMENT_INVALID", `attribute name ${JSON.stringify(name)} is not an HCL identifier`, {
      hint: "use letters, digits, _ and -, starting with a letter or _ (e.g. image_version)",
    });
  }
}

/**
 * Check that `value` is a single-line HCL expression: its strings and brackets are closed and it holds
 * no newline, comment or heredoc at the top level. (A lexical check; tests confirm with a real parser.)
 */
export function assertHclExpression(value: string, what = "value"): void {
  const bad = (why: string, hint = 'quote strings, e.g. \'"v1.2.3"\'; numbers and true/false stand alone') =>
    new PipelineError("ARGUMENT_INVALID", `${what} ${JSON.stringify(value)} is not a valid HCL expression: ${why}`, { hint });
  if (value.trim() === "" || value.trim() !== value) throw bad(value.trim() === "" ? "it is empty" : "it has leading or trailing whitespace");
  let tokens: HclToken[];
  try {
    tokens = tokenizeHcl(value, what);
  } catch (err) {
    throw bad(err instanceof PipelineError ? err.message.replace(/^\[\w+\] [^\n]*?:\d+: /, "").split("\n")[0]! : String(err));
  }
  const stack: string[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (const t of tokens) {
    if (t.kind === "newline" || t.kind === "heredoc") throw bad("it spans several lines");
    if (t.kind === "comment") throw bad("it contains a comment");
    if (t.kind !== "punct") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") stack.push(t.text);
    else if (t.text in pairs) {
      if (stack.pop() !== pairs[t.text]) throw bad(`unbalanced ${t.text}`);
    } else if (t.text === "=" && stack.length === 0) throw bad("it contains = outside brackets (pass only the value, not name = value)");
    else if (t.text === "," && stack.length === 0) throw bad("it contains , outside brackets (pass a single value)");
  }
  if (stack.length > 0) throw bad(`unclosed ${stack.at(-1)}`);
}

/** An HCL quoted string literal for `s` (escapes `\`, `"`, control characters, `${` and `%{`). */
export function formatHclString(s: string): string {
  const body = s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/\$\{/g, () => "$${")
    .replace(/%\{/g, () => "%%{");
  return `"${body}"`;
}

/** The content of a literal quoted string expression (no interpolation), or undefined otherwise. */
export function parseHclStringLiteral(expr: string): string | undefined {
  const m = /^"((?:[^"\\$%]|\\.|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*)"$/s.exec(expr);
  if (!m) return undefined;
  return m[1]!.replace(/\\(.)|\$\$\{|%%\{/g, (all, ch: string | undefined) => {
    if (all === "$${") return "${";
    if (all === "%%{") return "%{";
    return ({ n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" } as Record<string, string>)[ch!] ?? all;
  });
}

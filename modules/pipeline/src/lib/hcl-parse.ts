/**
 * HCL native-syntax parser (pure): a port of hashicorp/hcl v2.23.0 `hclsyntax/parser.go` and
 * `parser_template.go` that accepts exactly what HCL accepts and records where every attribute's value
 * sits, so an edit can replace those bytes and nothing else.
 *
 * It builds no tree: it walks the tokens once (linear time), checking the grammar HCL checks while
 * parsing (body items and line ends, one-line blocks, labels, argument redefinition, expressions,
 * object keys that are any expression such as `80 = "..."`, for expressions, templates and their
 * directives, number literals, legacy `.0` indexes) and stops at the first error with HCL_INVALID and
 * `file:line`. Recursion is bounded: nesting deeper than MAX_HCL_NESTING is a coded error, never a
 * stack overflow. Precedence is not modelled because it never decides whether a file parses.
 */
import { PipelineError } from "./errors.js";
import { HclSyntaxError, isHclIdentifier, scanHcl, type HclTokens, type HclTokenType } from "./hcl-scan.js";
import { parseHclStringLiteral } from "./hcl-string.js";

/** Deepest nesting of blocks, brackets, templates and unary operators accepted (real files use < 20). */
export const MAX_HCL_NESTING = 200;

/** One attribute definition: a block body item, or an element of an object constructor. */
export interface HclAttribute {
  /** The name, or for object keys that are not identifiers the key (`80`, `"a b"` -> `a b`, `(local.k)`). */
  name: string;
  /**
   * Where it sits: block types and labels, then attribute and object-key names, `[i]` for list
   * elements: `[]` top level, `["locals"]`, `["inputs"]`, `["dependency", "vpc", "mock_outputs"]`,
   * `["inputs", "listeners", "[1]"]`. Objects inside function calls and conditionals count as the
   * attribute's own (`inputs = merge(local.x, { a = 1 })` puts `a` in `inputs`).
   */
  path: string[];
  /** The path written as `--scope` takes it: `inputs`, `dependency.vpc`, `inputs.listeners[1]`, `` (top level). */
  scope: string;
  /** 1-based line of the name. */
  line: number;
  /** Offsets of the value expression (comments and surrounding whitespace excluded). */
  valueStart: number;
  valueEnd: number;
  value: string;
}

/** Every attribute of a file, in source order, at every depth. Throws HCL_INVALID where HCL would. */
export function parseHclFile(text: string, file = "<input>"): HclAttribute[] {
  try {
    const parser = new Parser(text, scanHcl(text));
    parser.file();
    return parser.attributes;
  } catch (err) {
    throw err instanceof HclSyntaxError ? new PipelineError("HCL_INVALID", `${file}:${err.line}: ${err.what}`, { hint: err.hint, cause: err }) : err;
  }
}

/**
 * Check that `text` is exactly one HCL expression, as `hclsyntax.ParseExpression` reads it.
 * Returns undefined when it is, else what is wrong (line, what, hint) for the caller to word.
 */
export function checkHclExpression(text: string): HclSyntaxError | undefined {
  try {
    new Parser(text, scanHcl(text)).standaloneExpression();
    return undefined;
  } catch (err) {
    if (err instanceof HclSyntaxError) return err;
    throw err;
  }
}

/** `[0]` segments join without a dot: `inputs.listeners[0]`. */
export function formatHclScope(path: readonly string[]): string {
  return path.reduce((out, seg) => (seg.startsWith("[") || out === "" ? out + seg : `${out}.${seg}`), "");
}

const BINARY_OPERATORS = new Set<HclTokenType>(["||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]);
const NUMBER = /^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?$/;
const QUOTE_HINT = 'a string needs double quotes around all of it, e.g. "v1.2.3"';

/** A token: its index in `HclTokens`. */
type Tok = number;

/** Where object constructors record their items (`null`: not recorded, e.g. inside `for` or an index). */
type Context = string[] | null;

class Parser {
  readonly attributes: HclAttribute[] = [];
  /** Index of the next token to read. */
  private next = 0;
  /** Last token read (the end of the expression just parsed). */
  private last: Tok = -1;
  /** Whether line ends count here (they do in bodies and objects, not inside (), [] or templates). */
  private readonly newlines: boolean[] = [true];
  private depth = 0;
  private peekCache = { next: -1, newlines: true, index: 0 };

  constructor(
    private readonly text: string,
    private readonly tokens: HclTokens,
  ) {}

  // -------------------------------------------------------------------------------------------------
  // Token access, as hclsyntax's peeker: comments are skipped, a `#`/`//` comment ending in a line end
  // IS a line end, and line ends are skipped where they do not count.

  private peekIndex(): number {
    const newlines = this.newlines[this.newlines.length - 1]!;
    const cache = this.peekCache;
    if (cache.next === this.next && cache.newlines === newlines) return cache.index;
    const tokens = this.tokens;
    let i = this.next;
    for (; i < tokens.count - 1; i++) {
      const type = tokens.type(i);
      if (type === "Comment") {
        if (newlines && this.text.charCodeAt(tokens.end(i) - 1) === 10) break;
        continue;
      }
      if (type === "Newline" && !newlines) continue;
      break;
    }
    cache.next = this.next;
    cache.newlines = newlines;
    cache.index = i;
    return i;
  }

  private peek(): Tok {
    return this.peekIndex();
  }

  /** The type the parser sees: a comment that ends a line is a Newline. */
  private peekType(): HclTokenType {
    const type = this.tokens.type(this.peekIndex());
    return type === "Comment" ? "Newline" : type;
  }

  private read(): Tok {
    const i = this.peekIndex();
    if (this.tokens.type(i) !== "EOF") this.next = i + 1;
    this.last = i;
    return i;
  }

  private source(t: Tok): string {
    return this.text.slice(this.tokens.start(t), this.tokens.end(t));
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return this.tokens.type(t) === "Ident" && this.source(t) === word;
  }

  private withNewlines<T>(include: boolean, body: () => T): T {
    this.newlines.push(include);
    try {
      return body();
    } finally {
      this.newlines.pop();
    }
  }

  private describe(t: Tok): string {
    if (this.tokens.type(t) === "EOF") return "the end of the file";
    if (this.tokens.type(t) === "Newline" || (this.tokens.type(t) === "Comment" && this.text.charCodeAt(this.tokens.end(t) - 1) === 10)) return "a line end";
    const s = this.source(t);
    return JSON.stringify(s.length > 24 ? `${s.slice(0, 24)}...` : s);
  }

  private fail(at: Tok, what: string, hint = "check the file with `terragrunt hclfmt`"): never {
    throw new HclSyntaxError(this.tokens.line(at), what, hint);
  }

  private enter(at: Tok): void {
    if (++this.depth > MAX_HCL_NESTING) {
      this.fail(at, `nested more than ${MAX_HCL_NESTING} levels deep`, "flatten the value: HCL files are not expected to nest this deep");
    }
  }

  private leave(): void {
    this.depth--;
  }

  // -------------------------------------------------------------------------------------------------
  // Structure

  file(): void {
    this.body([], null);
  }

  standaloneExpression(): void {
    this.newlines.push(false);
    if (this.peekType() === "EOF") this.fail(this.peek(), "it is empty");
    this.expression(null);
    const after = this.peekType();
    if (after === "=") this.fail(this.peek(), "it contains = after an expression (pass only the value, not name = value)", QUOTE_HINT);
    if (after === ",") this.fail(this.peek(), "it contains , outside brackets (pass a single value)", QUOTE_HINT);
    if (after !== "EOF") this.fail(this.peek(), `${this.describe(this.peek())} follows a complete expression`, QUOTE_HINT);
  }

  /** A file body (until EOF) or a block body (after its `{`, until `}`). */
  private body(path: string[], opener: Tok | null): void {
    const seen = new Map<string, number>();
    for (;;) {
      const t = this.peek();
      const type = this.peekType();
      if (opener !== null ? type === "}" : type === "EOF") {
        this.read();
        return;
      }
      if (type === "Newline") {
        this.read();
        continue;
      }
      if (type === "Ident") {
        this.bodyItem(path, seen);
        continue;
      }
      if (type === "EOF") this.fail(opener!, "block opened here is never closed", "add the missing }");
      if (type === "}") this.fail(t, "unexpected }", "remove the extra }");
      if (type === "OQuote") this.fail(t, "argument names must not be quoted", "write name = value without quotes around the name");
      this.fail(t, `expected an argument or a block, found ${this.describe(t)}`);
    }
  }

  private bodyItem(path: string[], seen: Map<string, number>): void {
    const ident = this.read();
    const name = this.source(ident);
    const next = this.peekType();
    if (next === "=") {
      const first = seen.get(name);
      if (first !== undefined) this.fail(ident, `argument ${name} is set twice (first at line ${first})`, "remove one of them: HCL sets each argument once per block");
      seen.set(name, this.tokens.line(ident));
      this.attribute(ident, path, false);
      return;
    }
    if (next === "OQuote" || next === "{" || next === "Ident") {
      this.block(ident, path);
      return;
    }
    this.fail(ident, `expected = or { after ${name}, found ${this.describe(this.peek())}`, `set an argument with ${name} = <value>, or open a block with ${name} {`);
  }

  /** `name = value` in a body; a one-line block's only attribute ends at its `}` instead of a line end. */
  private attribute(ident: Tok, path: string[], oneLine: boolean): void {
    const name = this.source(ident);
    this.read(); // =
    this.value(ident, name, path, () => this.expression([...path, name]));
    if (oneLine) return;
    const end = this.peekType();
    if (end === "EOF") return;
    if (end !== "Newline") {
      const what = end === "," ? `unexpected , after the value of ${name}` : `${this.describe(this.peek())} after the value of ${name}`;
      this.fail(this.peek(), what, `end the argument with a line end (one argument per line); ${QUOTE_HINT}`);
    }
    this.read();
  }

  /** Record an attribute (in source order) whose value `parse` reads. */
  private value(nameTok: Tok, name: string, path: string[], parse: () => void): void {
    this.requireValue(nameTok, name);
    const attribute: HclAttribute = { name, path, scope: formatHclScope(path), line: this.tokens.line(nameTok), valueStart: this.tokens.start(this.peek()), valueEnd: 0, value: "" };
    this.attributes.push(attribute);
    parse();
    attribute.valueEnd = this.tokens.end(this.last);
    attribute.value = this.text.slice(attribute.valueStart, attribute.valueEnd);
  }

  /** A clearer message than "expected an expression" for `name =` followed by nothing. */
  private requireValue(nameTok: Tok, name: string): void {
    const type = this.peekType();
    if (type === "Newline" || type === "EOF" || type === "}" || type === ",") {
      this.fail(nameTok, `attribute ${name} has no value`, `write a value after the =, e.g. ${isHclIdentifier(name) ? name : "key"} = ""`);
    }
  }

  private block(ident: Tok, path: string[]): void {
    const type = this.source(ident);
    const labels: string[] = [];
    for (;;) {
      const t = this.peek();
      const next = this.peekType();
      if (next === "{") break;
      if (next === "OQuote") {
        labels.push(this.label());
        continue;
      }
      if (next === "Ident") {
        labels.push(this.source(this.read()));
        continue;
      }
      if (next === "=") this.fail(t, `block ${type} cannot have = after its labels`, `an argument is ${type} = <value>, a block is ${type} "label" { ... }`);
      if (next === "Newline") this.fail(t, `the { of block ${type} must be on the line of its name`, `write ${type} ${labels.map((l) => JSON.stringify(l)).join(" ")}${labels.length ? " " : ""}{ on one line`);
      this.fail(t, `expected a quoted label or { in block ${type}, found ${this.describe(t)}`);
    }
    const open = this.read();
    const inner = [...path, type, ...labels];
    this.enter(open);
    const after = this.peekType();
    if (after === "Newline" || after === "EOF" || after === "}") {
      this.body(inner, open);
    } else {
      this.oneLineBlockBody(type, inner, open);
    }
    this.leave();
    const end = this.peekType();
    if (end !== "Newline" && end !== "EOF") this.fail(this.peek(), `${this.describe(this.peek())} after block ${type}`, "end the block with a line end");
    this.read();
  }

  /** `type { name = value }` on one line: exactly one attribute, then `}`. */
  private oneLineBlockBody(type: string, path: string[], open: Tok): void {
    const id = this.peek();
    if (this.peekType() !== "Ident") this.fail(id, `expected an argument after the { of block ${type}, found ${this.describe(id)}`);
    this.read();
    const next = this.peekType();
    if (next === "OQuote" || next === "{" || next === "Ident") {
      this.fail(id, `a one-line block holds one argument: put the nested block ${this.source(id)} on its own line`, "write the block over several lines");
    }
    if (next !== "=") this.fail(id, `expected = after ${this.source(id)}, found ${this.describe(this.peek())}`);
    this.attribute(id, path, true);
    const close = this.peekType();
    if (close === "}") {
      this.read();
      return;
    }
    if (close === "EOF") this.fail(open, "block opened here is never closed", "add the missing }");
    if (close === ",") this.fail(this.peek(), `a one-line block holds one argument (block ${type})`, "write one argument per line inside the block");
    if (close === "Newline") this.fail(this.peek(), `a one-line block must close on its line (block ${type})`, "put the } right after the argument, or the argument on its own line");
    this.fail(this.peek(), `expected } after the argument of block ${type}, found ${this.describe(this.peek())}`);
  }

  /** A quoted block label: a literal string, no `${ }` or `%{ }`. */
  private label(): string {
    const open = this.read();
    for (;;) {
      const t = this.read();
      if (this.tokens.type(t) === "CQuote") return parseHclStringLiteral(this.text.slice(this.tokens.start(open), this.tokens.end(t))) ?? this.text.slice(this.tokens.start(open) + 1, this.tokens.start(t));
      if (this.tokens.type(t) === "Interp" || this.tokens.type(t) === "Control") {
        this.fail(t, "block labels cannot hold ${ } or %{ } sequences", "write $${ or %%{ for a literal ${ or %{");
      }
      if (this.tokens.type(t) === "EOF") this.fail(open, "unterminated string", 'close the label with "');
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Expressions

  private expression(ctx: Context): void {
    this.enter(this.peek());
    this.operand(ctx);
    while (BINARY_OPERATORS.has(this.peekType())) {
      this.read();
      this.operand(ctx);
    }
    if (this.peekType() === "?") {
      const question = this.read();
      this.expression(ctx);
      if (this.peekType() !== ":") this.fail(this.peek(), `the conditional at line ${this.tokens.line(question)} needs : and a false value`, "write cond ? a : b");
      this.read();
      this.expression(ctx);
    }
    this.leave();
  }

  /** A term and its traversals (`.attr`, `.0`, `[key]`, `.*`, `[*]`). */
  private operand(ctx: Context): void {
    this.term(ctx);
    this.traversals();
  }

  private term(ctx: Context): void {
    const t = this.peek();
    switch (this.peekType()) {
      case "(": {
        this.read();
        this.withNewlines(false, () => {
          this.expression(ctx);
          if (this.peekType() !== ")") this.fail(this.peek(), `expected ) to close the ( at line ${this.tokens.line(t)}, found ${this.describe(this.peek())}`);
          this.read();
        });
        return;
      }
      case "Number":
        this.number(this.read());
        return;
      case "Ident":
        this.read();
        if (this.peekType() === "(" || this.peekType() === "::") this.call(t, ctx);
        return;
      case "OQuote":
        this.read();
        this.template(t, "CQuote");
        return;
      case "OHeredoc":
        this.read();
        this.template(t, "CHeredoc");
        return;
      case "-":
      case "!":
        this.read();
        this.enter(t);
        this.operand(null);
        this.leave();
        return;
      case "[":
        this.tuple(ctx);
        return;
      case "{":
        this.object(ctx);
        return;
      default:
        this.fail(t, `expected an expression, found ${this.describe(t)}`, QUOTE_HINT);
    }
  }

  private number(t: Tok): void {
    const s = this.source(t);
    if (!NUMBER.test(s)) this.fail(t, `${s} is not a number`, `a version or other text needs quotes: "${s}"`);
  }

  private traversals(): void {
    for (;;) {
      const type = this.peekType();
      if (type === ".") {
        this.read();
        const at = this.peek();
        const next = this.peekType();
        if (next === "Ident") this.read();
        else if (next === "Number") this.legacyIndex(this.read());
        else if (next === "*") {
          this.read();
          while (this.peekType() === ".") {
            this.read();
            const step = this.peek();
            const stepType = this.peekType();
            if (stepType === "Number") this.legacyIndex(this.read());
            else if (stepType === "Ident") this.read();
            else if (stepType === "*") this.fail(step, "a splat (.*) cannot be nested in another", "use [*] and for expressions");
            else this.fail(step, `expected an attribute name after the dot, found ${this.describe(step)}`);
          }
        } else this.fail(at, `expected an attribute name after the dot, found ${this.describe(at)}`, QUOTE_HINT);
        continue;
      }
      if (type === "[") {
        const open = this.read();
        if (this.peekType() === "*") {
          this.read();
          if (this.peekType() !== "]") this.fail(this.peek(), "expected ] right after [*");
          this.read();
          continue;
        }
        this.withNewlines(false, () => {
          this.expression(null);
          if (this.peekType() !== "]") this.fail(this.peek(), `expected ] to close the index opened at line ${this.tokens.line(open)}, found ${this.describe(this.peek())}`);
          this.read();
        });
        continue;
      }
      return;
    }
  }

  /** `.0` (HCL 1's index syntax); `.1.2` reads as the number 1.2 and HCL refuses it. */
  private legacyIndex(t: Tok): void {
    const s = this.source(t);
    if (s.includes(".")) {
      this.fail(t, `.${s} chains two legacy indexes`, `write [${s.split(".").join("][")}] for indexes; ${QUOTE_HINT}`);
    }
    this.number(t);
  }

  private call(name: Tok, ctx: Context): void {
    for (;;) {
      if (this.peekType() === "(") break;
      this.read(); // ::
      if (this.peekType() !== "Ident") this.fail(this.peek(), "expected a function name after ::");
      this.read();
      if (this.peekType() !== "(" && this.peekType() !== "::") this.fail(this.peek(), `expected ( after function ${this.source(name)}, found ${this.describe(this.peek())}`);
    }
    this.read(); // (
    this.withNewlines(false, () => {
      for (;;) {
        if (this.peekType() === ")") {
          this.read();
          return;
        }
        this.expression(ctx);
        const sep = this.peek();
        const type = this.peekType();
        if (type === ")") {
          this.read();
          return;
        }
        if (type === "...") {
          this.read();
          if (this.peekType() !== ")") this.fail(this.peek(), "... must come right before the closing ) of the call");
          this.read();
          return;
        }
        if (type === "EOF") this.fail(name, `the call of ${this.source(name)} is never closed`, "add the missing )");
        if (type !== ",") this.fail(sep, `expected , or ) in the call of ${this.source(name)}, found ${this.describe(sep)}`, QUOTE_HINT);
        this.read();
      }
    });
  }

  private tuple(ctx: Context): void {
    const open = this.read();
    this.withNewlines(false, () => {
      if (this.isKeyword("for")) return this.forExpression(open);
      for (let i = 0; ; i++) {
        if (this.peekType() === "]") {
          this.read();
          return;
        }
        this.expression(ctx && [...ctx, `[${i}]`]);
        const type = this.peekType();
        if (type === "]") {
          this.read();
          return;
        }
        if (type === "EOF") this.fail(open, "[ opened here is never closed", "add the missing ]");
        if (type !== ",") this.fail(this.peek(), `expected , or ] between list items, found ${this.describe(this.peek())}`, QUOTE_HINT);
        this.read();
      }
    });
  }

  private object(ctx: Context): void {
    const open = this.read();
    if (this.withNewlines(false, () => this.isKeyword("for"))) {
      this.forExpression(open);
      return;
    }
    this.withNewlines(true, () => {
      for (;;) {
        const type = this.peekType();
        if (type === "Newline") {
          this.read();
          continue;
        }
        if (type === "}") {
          this.read();
          return;
        }
        const keyFirst = this.peek();
        this.expression(null);
        const keyLast = this.last;
        const name = this.keyName(keyFirst, keyLast);
        const sep = this.peekType();
        if (sep !== "=" && sep !== ":") {
          if (sep === "EOF") this.fail(open, "{ opened here is never closed", "add the missing }");
          if (sep === "Newline" || sep === "," || sep === "}") this.fail(keyFirst, `object key ${name} has no value`, `write ${name} = <value>`);
          this.fail(this.peek(), `expected = after object key ${name}, found ${this.describe(this.peek())}`, "quote a key that holds spaces or dots");
        }
        this.read();
        if (ctx) {
          this.value(keyFirst, name, ctx, () => this.expression([...ctx, name]));
        } else {
          this.requireValue(keyFirst, name);
          this.expression(null);
        }
        const end = this.peekType();
        if (end === "}") {
          this.read();
          return;
        }
        if (end === "EOF") this.fail(open, "{ opened here is never closed", "add the missing }");
        if (end !== "," && end !== "Newline") {
          this.fail(this.peek(), `${this.describe(this.peek())} after the value of ${name}`, `separate object items with a line end or a comma; ${QUOTE_HINT}`);
        }
        this.read();
      }
    });
  }

  /** `80` -> "80", `"a b"` -> "a b", `name` -> "name"; any other key expression -> its source text. */
  private keyName(first: Tok, last: Tok): string {
    const source = this.text.slice(this.tokens.start(first), this.tokens.end(last));
    if (first === last && (this.tokens.type(first) === "Ident" || this.tokens.type(first) === "Number")) return source;
    if (this.tokens.type(first) === "OQuote") return parseHclStringLiteral(source) ?? source;
    return source;
  }

  /** `[for v in coll : expr if cond]` or `{for k, v in coll : key => value... if cond}` after its bracket. */
  private forExpression(open: Tok): void {
    const closer = this.tokens.type(open) === "{" ? "}" : "]";
    this.withNewlines(false, () => {
      this.read(); // for
      if (this.peekType() !== "Ident") this.fail(this.peek(), "for needs a variable name", "write [for x in list : x]");
      this.read();
      if (this.peekType() === ",") {
        this.read();
        if (this.peekType() !== "Ident") this.fail(this.peek(), "for needs a value variable after the comma", "write { for k, v in map : k => v }");
        this.read();
      }
      if (!this.isKeyword("in")) this.fail(this.peek(), `for needs in after its variable names, found ${this.describe(this.peek())}`);
      this.read();
      this.expression(null);
      if (this.peekType() !== ":") this.fail(this.peek(), `for needs : after its collection, found ${this.describe(this.peek())}`);
      this.read();
      this.expression(null);
      let key = false;
      let group = false;
      if (this.peekType() === "=>") {
        this.read();
        key = true;
        this.expression(null);
      }
      if (this.peekType() === "...") {
        this.read();
        group = true;
      }
      if (this.isKeyword("if")) {
        this.read();
        this.expression(null);
      }
      if (this.peekType() !== closer) this.fail(this.peek(), `expected ${closer} to end the for expression, found ${this.describe(this.peek())}`);
      this.read();
      if (closer === "]" && key) this.fail(open, "a list for expression cannot have a key (=>)", "use { for ... : k => v } to build a map");
      if (closer === "]" && group) this.fail(open, "grouping (...) only works in a map for expression");
      if (closer === "}" && !key) this.fail(open, "a map for expression needs a key", "write { for k, v in m : k => v }");
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Templates

  /** A quoted string or heredoc after its opener: literals, `${ expr }` and balanced `%{ }` directives. */
  private template(open: Tok, closer: "CQuote" | "CHeredoc"): void {
    const directives: { word: "if" | "else" | "for"; at: Tok }[] = [];
    for (;;) {
      const t = this.peek();
      const type = this.peekType();
      if (type === closer) {
        this.read();
        break;
      }
      if (type === "QuotedLit" || type === "StringLit") {
        this.read();
        continue;
      }
      if (type === "Interp") {
        this.read();
        this.withNewlines(false, () => {
          this.expression(null);
          this.sequenceEnd("the ${ } interpolation", t);
        });
        continue;
      }
      if (type === "Control") {
        this.read();
        this.withNewlines(false, () => {
          this.directive(directives);
          this.sequenceEnd("the %{ } directive", t);
        });
        continue;
      }
      if (type === "EOF") this.unterminated(open, closer);
      this.fail(t, `unexpected ${this.describe(t)} in a string`);
    }
    const unclosed = directives.at(-1);
    if (unclosed) this.fail(unclosed.at, `%{ ${unclosed.word === "for" ? "for" : "if"} } without %{ end${unclosed.word === "for" ? "for" : "if"} }`, "close every directive in the same string");
  }

  private sequenceEnd(what: string, opener: Tok): void {
    if (this.peekType() === "SeqEnd") {
      this.read();
      return;
    }
    const t = this.peek();
    if (this.tokens.type(t) === "EOF") this.fail(opener, `${what} is never closed`, "add the missing }");
    this.fail(t, `${this.describe(t)} after the expression in ${what} opened at line ${this.tokens.line(opener)}`, "write $${ for a literal ${ (e.g. in a shell script inside a heredoc)");
  }

  private directive(open: { word: "if" | "else" | "for"; at: Tok }[]): void {
    const kw = this.peek();
    if (this.peekType() !== "Ident") this.fail(kw, `expected if, for, else, endif or endfor after %{, found ${this.describe(kw)}`, "write %%{ for a literal %{");
    this.read();
    const word = this.source(kw);
    const top = open.at(-1);
    switch (word) {
      case "if":
        this.expression(null);
        open.push({ word: "if", at: kw });
        return;
      case "else":
        if (top?.word !== "if") this.fail(kw, "%{ else } without a matching %{ if }");
        top.word = "else";
        return;
      case "endif":
        if (top?.word !== "if" && top?.word !== "else") this.fail(kw, "%{ endif } without a matching %{ if }");
        open.pop();
        return;
      case "for":
        if (this.peekType() !== "Ident") this.fail(this.peek(), "%{ for } needs a variable name");
        this.read();
        if (this.peekType() === ",") {
          this.read();
          if (this.peekType() !== "Ident") this.fail(this.peek(), "%{ for } needs a value variable after the comma");
          this.read();
        }
        if (!this.isKeyword("in")) this.fail(this.peek(), "%{ for } needs in after its variable names");
        this.read();
        this.expression(null);
        open.push({ word: "for", at: kw });
        return;
      case "endfor":
        if (top?.word !== "for") this.fail(kw, "%{ endfor } without a matching %{ for }");
        open.pop();
        return;
      default:
        this.fail(kw, `${word} is not a template directive`, "use if, for, else, endif or endfor; write %%{ for a literal %{");
    }
  }

  private unterminated(open: Tok, closer: "CQuote" | "CHeredoc"): never {
    if (closer === "CQuote") this.fail(open, "unterminated string", 'close the string with " on the same line');
    const opener = this.source(open).trimEnd();
    const marker = opener.replace(/^<<-?/, "");
    const lastLine = this.text.slice(this.text.lastIndexOf("\n") + 1);
    if (lastLine.trim() === marker) this.fail(open, `heredoc ${opener} ends the file without a newline after ${marker}`, `add a newline after the closing ${marker}`);
    this.fail(open, `unterminated heredoc ${opener}`, `end the heredoc with a line holding only ${marker}`);
  }
}

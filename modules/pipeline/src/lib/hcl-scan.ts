/**
 * HCL native-syntax scanner (pure), a port of hashicorp/hcl v2.23.0 `hclsyntax/scan_tokens.rl` (the
 * version inside @cdktf/hcl2json, which the tests use as the oracle).
 *
 * One pass, one token array, no recursion: templates (`"..."`, heredocs) and the expressions inside
 * their `${ }` / `%{ }` sequences are scanned with an explicit mode stack, as the Ragel machine does
 * with `fcall`/`fret`. Like `hclsyntax.LexConfig`, every token HCL rejects outright (single quotes,
 * `;`, bitwise operators, stray characters, bad escapes, bad UTF-8 outside comments, a quoted string
 * split over lines) is an error: here the first one throws an HclSyntaxError, which `parseHclFile`
 * (hcl-parse.ts) turns into HCL_INVALID with `file:line`.
 *
 * Text comes from `decodeLosslessUtf8`: a byte of an invalid UTF-8 sequence is a lone surrogate
 * U+DC80..U+DCFF. HCL accepts any byte inside a comment and so does this scanner; elsewhere such a
 * byte is refused (HCL accepts a few non-UTF-8 forms inside strings, e.g. overlong sequences: refused
 * here, on the safe side).
 */
import { escapedByte } from "./lossless-utf8.js";

/** Every token type, in the order of their codes in `HclTokens`. */
const TOKEN_TYPES = [
  "{", "}", "[", "]", "(", ")", ".", ",", "*", "/", "%", "+", "-", "=", "<", ">", "!", "?", ":",
  "==", "!=", "<=", ">=", "&&", "||", "::", "...", "=>",
  // `"` opening and closing a quoted template.
  "OQuote", "CQuote",
  // `<<EOT` / `<<-EOT` with its newline, and the closing marker line (without its newline).
  "OHeredoc", "CHeredoc",
  // `${` / `${~`, `%{` / `%{~`, and the `}` / `~}` that ends either.
  "Interp", "Control", "SeqEnd",
  // Literal text of a quoted template (may hold escapes) or of a heredoc (no escapes).
  "QuotedLit", "StringLit",
  "Number", "Ident",
  // `#` and `//` comments include their newline; `/* */` comments do not.
  "Comment",
  "Newline", "EOF",
] as const;

export type HclTokenType = (typeof TOKEN_TYPES)[number];

const TYPE_CODE = new Map<HclTokenType, number>(TOKEN_TYPES.map((t, i) => [t, i]));

/** One token, as `HclTokens.list()` gives them (for tests and debugging). */
export interface HclToken {
  type: HclTokenType;
  start: number;
  end: number;
  /** 1-based line of the first character. */
  line: number;
}

/**
 * The tokens of a text, four numbers each in one growing Int32Array: a large file makes a few
 * allocations, not one object per token (which made garbage collection grow faster than the input).
 */
export class HclTokens {
  private data = new Int32Array(256);
  count = 0;

  push(type: HclTokenType, start: number, end: number, line: number): void {
    if ((this.count + 1) * 4 > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const at = this.count++ * 4;
    this.data[at] = TYPE_CODE.get(type)!;
    this.data[at + 1] = start;
    this.data[at + 2] = end;
    this.data[at + 3] = line;
  }

  type(i: number): HclTokenType {
    return TOKEN_TYPES[this.data[i * 4]!]!;
  }

  start(i: number): number {
    return this.data[i * 4 + 1]!;
  }

  end(i: number): number {
    return this.data[i * 4 + 2]!;
  }

  line(i: number): number {
    return this.data[i * 4 + 3]!;
  }

  list(): HclToken[] {
    return Array.from({ length: this.count }, (_, i) => ({ type: this.type(i), start: this.start(i), end: this.end(i), line: this.line(i) }));
  }
}

/** `<<EOT` or `<<-EOT` right before a line end (sticky: matched at the scan position only). */
const HEREDOC_OPENER = /<<-?([\p{ID_Start}_][\p{ID_Continue}-]*)\r?\n/uy;
const SELF_TOKENS = new Set("[]().,*/%+-=<>!?:");
const TWO_CHAR = new Set(["==", "!=", "<=", ">=", "&&", "||", "::", "=>"]);
const BITWISE: Record<string, string> = { "&": ' (did you mean "&&"?)', "|": ' (did you mean "||"?)', "~": ' (did you mean "!"?)', "^": "" };

type Mode =
  | { kind: "main"; closesAtBrace: number | null }
  | { kind: "quoted" }
  | { kind: "heredoc"; marker: string; startOfLine: boolean };

/**
 * Where and why text is not valid HCL. Internal to the hcl-* files: the public entry points turn it
 * into a PipelineError (HCL_INVALID naming `file:line`, or ARGUMENT_INVALID for a `--value`).
 */
export class HclSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly what: string,
    readonly hint: string,
  ) {
    super(`line ${line}: ${what}`);
    this.name = "HclSyntaxError";
  }
}

/** Split `text` into HCL tokens, ending with an EOF token. Throws HclSyntaxError at the first invalid token. */
export function scanHcl(text: string): HclTokens {
  return new Scanner(text).run();
}

class Scanner {
  private readonly tokens = new HclTokens();
  private pos = 0;
  private line = 1;
  private braces = 0;
  private readonly modes: Mode[] = [{ kind: "main", closesAtBrace: null }];

  constructor(private readonly text: string) {}

  run(): HclTokens {
    if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1; // a UTF-8 byte order mark, only at the very start
    while (this.pos < this.text.length) {
      const mode = this.modes.at(-1)!;
      if (mode.kind === "main") this.main(mode);
      else if (mode.kind === "quoted") this.quoted();
      else this.heredoc(mode);
    }
    this.tokens.push("EOF", this.text.length, this.text.length, this.line);
    return this.tokens;
  }

  private emit(type: HclTokenType, end: number): void {
    const line = this.line;
    for (let i = this.pos; i < end; i++) if (this.text.charCodeAt(i) === 10) this.line++;
    this.tokens.push(type, this.pos, end, line);
    this.pos = end;
  }

  private fail(what: string, hint: string): never {
    throw new HclSyntaxError(this.line, what, hint);
  }

  private at(s: string, offset = 0): boolean {
    return this.text.startsWith(s, this.pos + offset);
  }

  // -------------------------------------------------------------------------------------------------
  // main: expressions and structure

  private main(mode: Extract<Mode, { kind: "main" }>): void {
    const text = this.text;
    const c = text[this.pos]!;
    if (c === " " || c === "\t") {
      this.pos++;
      return;
    }
    if (c === "\n") return this.emit("Newline", this.pos + 1);
    if (c === "\r" && text[this.pos + 1] === "\n") return this.emit("Newline", this.pos + 2);
    if (c === "#" || this.at("//")) {
      const nl = text.indexOf("\n", this.pos);
      return this.emit("Comment", nl === -1 ? text.length : nl + 1);
    }
    if (this.at("/*")) {
      const close = text.indexOf("*/", this.pos + 2);
      if (close === -1) this.fail("unterminated /* comment", "close the comment with */");
      return this.emit("Comment", close + 2);
    }
    if (isDigit(c)) return this.emit("Number", this.numberEnd());
    const identEnd = this.identEnd(this.pos);
    if (identEnd > this.pos) return this.emit("Ident", identEnd);
    if (c === "{") {
      this.braces++;
      return this.emit("{", this.pos + 1);
    }
    if (c === "}" || this.at("~}")) {
      const closesSequence = mode.closesAtBrace === this.braces;
      this.braces--;
      if (closesSequence) this.modes.pop();
      // `~}` is always a sequence end: closing an ordinary brace with it is the parser's error to report.
      return this.emit(closesSequence || c === "~" ? "SeqEnd" : "}", this.pos + (c === "~" ? 2 : 1));
    }
    if (c === '"') {
      this.emit("OQuote", this.pos + 1);
      this.modes.push({ kind: "quoted" });
      return;
    }
    if (this.at("<<")) {
      HEREDOC_OPENER.lastIndex = this.pos;
      const opener = HEREDOC_OPENER.exec(text);
      if (opener) {
        this.emit("OHeredoc", this.pos + opener[0].length);
        this.modes.push({ kind: "heredoc", marker: opener[1]!, startOfLine: true });
        return;
      }
    }
    if (this.at("...")) return this.emit("...", this.pos + 3);
    const two = text.slice(this.pos, this.pos + 2);
    if (TWO_CHAR.has(two)) return this.emit(two as HclTokenType, this.pos + 2);
    if (SELF_TOKENS.has(c)) return this.emit(c as HclTokenType, this.pos + 1);
    this.invalidCharacter();
  }

  /** NumberLit = digit ((digit | "." | [eE][+-]?digit)* not ending in "."), longest match. */
  private numberEnd(): number {
    const text = this.text;
    let end = this.pos + 1;
    let i = end;
    for (;;) {
      const c = text[i];
      if (c !== undefined && isDigit(c)) {
        end = ++i;
      } else if (c === ".") {
        i++;
      } else if (c === "e" || c === "E") {
        const sign = text[i + 1] === "+" || text[i + 1] === "-" ? 1 : 0;
        if (!isDigit(text[i + 1 + sign] ?? "")) break;
        end = i = i + 2 + sign;
      } else {
        break;
      }
    }
    return end;
  }

  /** End of the identifier starting at `from` (`from` itself when there is none). */
  private identEnd(from: number): number {
    const text = this.text;
    let i = from;
    for (;;) {
      const cp = text.codePointAt(i);
      if (cp === undefined) return i;
      const ok = i === from ? isIdentStart(cp) : isIdentContinue(cp);
      if (!ok) return i;
      i += cp > 0xffff ? 2 : 1;
    }
  }

  private invalidCharacter(): never {
    const c = this.text[this.pos]!;
    const byte = escapedByte(c.charCodeAt(0));
    if (byte !== undefined) this.failBadByte(byte);
    if (c === "'") this.fail("single quotes are not valid HCL", 'write strings in double quotes: "..."');
    if (c === ";") this.fail('";" is not valid HCL', "separate arguments and blocks with newlines and collection items with commas");
    if (c === "`") this.fail('"`" is not valid HCL', "write strings in double quotes, and multi-line text as a heredoc (<<EOT)");
    if (c in BITWISE) this.fail(`bitwise operator ${JSON.stringify(c)} is not supported${BITWISE[c]}`, "use the boolean operators &&, || and !");
    if (c === "\r") this.fail("carriage return without a newline", "use \\n or \\r\\n line ends");
    if (c === "$" && this.at("${")) this.fail("${ outside a string", 'write an interpolation inside quotes ("${var.x}") or the bare expression (var.x)');
    if (c === "\u201c" || c === "\u201d") this.fail("curly quotes are not valid HCL", 'replace them with straight double quotes (")');
    const cp = this.text.codePointAt(this.pos)!;
    this.fail(`character ${JSON.stringify(String.fromCodePoint(cp))} (U+${cp.toString(16).toUpperCase().padStart(4, "0")}) is not valid here`, "remove it, or quote the text it belongs to");
  }

  private failBadByte(byte: number): never {
    this.fail(
      `byte 0x${byte.toString(16).toUpperCase()} is not UTF-8 (HCL accepts other bytes only inside comments)`,
      "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    );
  }

  /** Enter a `${` / `%{` sequence: its expression is scanned in main mode until the matching `}`. */
  private beginSequence(type: "Interp" | "Control"): void {
    this.emit(type, this.pos + (this.at("~", 2) ? 3 : 2));
    this.braces++;
    this.modes.push({ kind: "main", closesAtBrace: this.braces });
  }

  // -------------------------------------------------------------------------------------------------
  // quoted templates

  private quoted(): void {
    const text = this.text;
    const c = text[this.pos]!;
    if (this.at("${")) return this.beginSequence("Interp");
    if (this.at("%{")) return this.beginSequence("Control");
    if (c === '"') {
      this.modes.pop();
      return this.emit("CQuote", this.pos + 1);
    }
    if (c === "\n" || c === "\r") {
      this.fail("unterminated string: a quoted string must end on the line it starts", 'close the string with " on the same line; write a newline as \\n, or use a heredoc (<<EOT) for multi-line text');
    }
    if (c === "$" || c === "%") return this.emit("QuotedLit", this.escapedSequenceEnd(c));
    // A run of characters and backslash escapes up to $, %, ", a line end or the end of the text.
    let i = this.pos;
    while (i < text.length) {
      const d = text[i]!;
      if (d === "$" || d === "%" || d === '"' || d === "\n" || d === "\r") break;
      const byte = escapedByte(d.charCodeAt(0));
      if (byte !== undefined) {
        if (i === this.pos) this.failBadByte(byte);
        break;
      }
      if (d === "\\") {
        const escape = this.escapeLength(i);
        i += escape;
        continue;
      }
      i++;
    }
    this.emit("QuotedLit", i);
  }

  /** `$` / `%` not opening a sequence: `$${` (an escaped `${`) or a lone `$`. */
  private escapedSequenceEnd(c: string): number {
    if (this.at(`${c}{`, 1)) return this.pos + (this.at("~", 3) ? 4 : 3);
    if (this.pos + 1 >= this.text.length) this.fail("unterminated string", 'close the string with "');
    return this.pos + 1;
  }

  /**
   * Length of the backslash escape at `i`, checked as hclsyntax's ParseStringLiteralToken does:
   * \n \r \t \" \\, \uXXXX (4 hex digits) or \UXXXXXXXX (8), naming a character UTF-8 can encode.
   */
  private escapeLength(i: number): number {
    const text = this.text;
    const next = text[i + 1];
    const at = (what: string, hint: string) => {
      this.pos = i;
      this.fail(what, hint);
    };
    if (next === undefined || next === "\n" || next === "\r") at("backslash at the end of a line in a quoted string", "write \\\\ for a backslash");
    if (next === "u" || next === "U") {
      const want = next === "u" ? 4 : 8;
      const hex = /^[0-9a-fA-F]*/.exec(text.slice(i + 2, i + 2 + want))![0];
      if (hex.length !== want) at(`\\${next} needs ${want} hexadecimal digits`, `write \\${next}${"0".repeat(want - 4)}00e9 for é`);
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) at(`\\${next}${hex} is not a character UTF-8 can encode`, "name a Unicode scalar value (not a surrogate, at most 10FFFF)");
      return 2 + want;
    }
    if ('nrt"\\'.includes(next!)) return 2;
    const cp = text.codePointAt(i + 1)!;
    if (escapedByte(cp) !== undefined) return 1; // the bad byte is reported by the caller's loop
    at(`\\${String.fromCodePoint(cp)} is not a valid escape`, 'use \\n, \\r, \\t, \\", \\\\, \\uXXXX or \\UXXXXXXXX; write $${ for a literal ${');
    return 0;
  }

  // -------------------------------------------------------------------------------------------------
  // heredoc templates

  private heredoc(mode: Extract<Mode, { kind: "heredoc" }>): void {
    const text = this.text;
    if (this.at("${") || this.at("%{")) {
      mode.startOfLine = false;
      return this.beginSequence(this.at("${") ? "Interp" : "Control");
    }
    const lineStart = this.pos;
    const startOfLine = mode.startOfLine;
    let i = this.pos;
    const c = text[i]!;
    if (c === "$" || c === "%") {
      i = this.at(`${c}{`, 1) ? i + (this.at("~", 3) ? 4 : 3) : i + 1;
    } else {
      while (i < text.length) {
        const d = text[i]!;
        if (d === "$" || d === "%" || d === "\n" || d === "\r") break;
        const byte = escapedByte(d.charCodeAt(0));
        if (byte !== undefined) {
          if (i === lineStart) this.failBadByte(byte);
          break;
        }
        i++;
      }
    }
    const eol = text[i] === "\n" ? 1 : text[i] === "\r" && text[i + 1] === "\n" ? 2 : 0;
    if (eol === 0) {
      if (i === lineStart) this.fail("carriage return without a newline in a heredoc", "use \\n or \\r\\n line ends");
      mode.startOfLine = false;
      return this.emit("StringLit", i);
    }
    if (startOfLine && trimGoSpace(text.slice(lineStart, i)) === mode.marker) {
      this.emit("CHeredoc", i);
      this.modes.pop();
      return this.emit("Newline", i + eol);
    }
    mode.startOfLine = true;
    this.emit("StringLit", i + eol);
  }
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

const ID_START = /[\p{ID_Start}_]/u;
const ID_CONTINUE = /[\p{ID_Continue}-]/u;

function isIdentStart(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || cp === 0x5f;
  return ID_START.test(String.fromCodePoint(cp));
}

function isIdentContinue(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x30 && cp <= 0x39) || cp === 0x5f || cp === 0x2d;
  return ID_CONTINUE.test(String.fromCodePoint(cp));
}

/** Go's `bytes.TrimSpace` (unicode.IsSpace), which decides whether a heredoc line is its closing marker. */
function trimGoSpace(s: string): string {
  const space = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
  return s.replace(space, "");
}

/** Is `name` an HCL identifier (`image_version`, `db-port`)? */
export function isHclIdentifier(name: string): boolean {
  if (name === "") return false;
  let i = 0;
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (!(i === 0 ? isIdentStart(cp) : isIdentContinue(cp))) return false;
    i++;
  }
  return true;
}

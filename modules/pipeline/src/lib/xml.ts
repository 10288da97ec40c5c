/**
 * XML documents as JUnit reports need them, on fast-xml-parser: its validator finds syntax errors with
 * line and column, its parser builds the tree (order, CDATA and positions kept), its builder writes it.
 * Pure: strings in, data out.
 *
 * What this layer adds to the library, and why:
 * - Entities are decoded here, not by the library: only the five XML ones and character references,
 *   any other `&name;` is an error naming its position, and no DTD is read (a DOCTYPE is refused), so
 *   no document can define or expand entities.
 * - Lossless text: a character XML 1.0 cannot carry raw (control characters, `\r`, which parsers turn
 *   into `\n`) is written as a character reference and read back as itself, so a test name survives
 *   parse and write. A document that needs references to C0 controls is declared XML 1.1, the version
 *   that allows them.
 * - Bounded work: nesting deeper than `MAX_XML_DEPTH` is an error (not a stack overflow), and every step
 *   is linear in the size of the document.
 * Errors are `PipelineError("JUNIT_INVALID")` naming the document and `line:column`.
 */
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { PipelineError } from "./errors.js";
import { positionsIn } from "./text-position.js";

export interface XmlElement {
  type: "element";
  name: string;
  /** Attributes in document order (decoded). */
  attributes: Array<[string, string]>;
  children: XmlNode[];
  /** Character offset of the `<` in the source (after a BOM), for error positions. */
  offset: number;
}

export interface XmlText {
  type: "text";
  text: string;
  cdata: boolean;
}

export type XmlNode = XmlElement | XmlText;

/** Deeper element nesting is refused: real JUnit reports nest a few levels. */
export const MAX_XML_DEPTH = 100;

const HINT =
  "pass the report rspec_junit_formatter wrote (rspec --format RspecJunitFormatter --out <file>); a report cut short usually means the run was killed";

// Keys of fast-xml-parser's ordered output.
const TEXT = "#text";
const CDATA = "#cdata";
const ATTRIBUTES = ":@";

type OrderedNode = Record<string | symbol, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  textNodeName: TEXT,
  cdataPropName: CDATA,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Entities stay raw: decodeReferences below decides what they mean.
  processEntities: false,
  htmlEntities: false,
  captureMetaData: true,
  maxNestedTags: MAX_XML_DEPTH,
});
// The declared type is `Symbol` (the wrapper); the value is a plain symbol.
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  textNodeName: TEXT,
  cdataPropName: CDATA,
  suppressEmptyNode: true,
  // Values arrive escaped (escapeXmlText / escapeXmlAttribute): the builder must not escape again.
  processEntities: false,
  // One more level than a parsed tree can have: mergeJUnit puts parsed suites under a new root.
  maxNestedTags: MAX_XML_DEPTH + 2,
});

/**
 * Parse an XML document (a JUnit report) into its root element.
 * @param source names the document in error messages (a file name or `shard 3`).
 */
export function parseXml(xml: string, source = "XML"): XmlElement {
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const position = positionsIn(text);
  const fail = (message: string, offset?: number, at = offset === undefined ? undefined : position(offset)): never => {
    throw new PipelineError("JUNIT_INVALID", `${source}${at === undefined ? "" : `:${at}`}: ${message}`, { hint: HINT });
  };
  if (text.trim() === "") fail("the report is empty", 0);
  refuseDoctype(text, fail);

  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const unclosed = /^Invalid '\[(.*)\]' found\.$/.exec(msg);
    if (unclosed) {
      // The validator lists the open tags at 1:1; the lenient parse says where the innermost one starts.
      const names = [...unclosed[1]!.matchAll(/"([^"]*)"/g)].map((m) => `<${m[1]}>`);
      const open = names.length > 4 ? `${names.slice(0, 2).join(" > ")} > ... > ${names.slice(-2).join(" > ")}, ${names.length} elements` : names.join(" > ");
      fail(`${names[names.length - 1] ?? "an element"} is never closed (open at the end: ${open}): the report is cut short`, innermostUnclosed(text));
    }
    // The validator quotes the offending character raw; a control character must not reach a terminal.
    fail(msg.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`), undefined, `${line}:${col ?? 1}`);
  }

  let ordered: OrderedNode[];
  try {
    ordered = parser.parse(text) as OrderedNode[];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/Maximum nested tags exceeded/.test(message)) fail(`elements nest deeper than ${MAX_XML_DEPTH} levels; a JUnit report nests a few`);
    const reserved = /Invalid name: "([^"]*)"/.exec(message);
    if (reserved) fail(`an element or attribute is named ${reserved[1]}, a name the XML parser refuses (__proto__, constructor, prototype)`);
    return fail(`cannot be parsed: ${message.split("\n")[0]}`);
  }
  const root = toTree(ordered, text, fail);
  checkAfterRoot(text, ordered, fail);
  return root;
}

type Fail = (message: string, offset?: number) => never;

/** Whitespace, comments and processing instructions from `at` on: where the next markup starts. */
function skipMisc(text: string, at: number): number {
  const misc = /\s*(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->)?/y;
  for (;;) {
    misc.lastIndex = at;
    const m = misc.exec(text);
    if (!m || m[0].length === 0) return at;
    at += m[0].length;
  }
}

/** A DTD could declare entities; JUnit reports have none, so one in the prolog is refused. */
function refuseDoctype(text: string, fail: Fail): void {
  const at = skipMisc(text, 0);
  if (text.startsWith("<!DOCTYPE", at)) fail("a DOCTYPE is not allowed in a JUnit report (DTDs and their entities are refused)", at);
}

/** After the root only whitespace, comments and processing instructions may follow (the validator lets a second root pass). */
function checkAfterRoot(text: string, ordered: OrderedNode[], fail: Fail): void {
  const root = ordered.find((n) => elementKey(n) !== undefined);
  const end = (root?.[META] as { endIndex?: number } | undefined)?.endIndex;
  if (end === undefined) return;
  const at = skipMisc(text, end);
  if (at >= text.length) return;
  const second = /^<([^\s/>]+)/.exec(text.slice(at, at + 200));
  if (second) fail(`a second root element <${second[1]}> after the root element`, at);
  fail(`text outside the root element: ${JSON.stringify(text.slice(at, at + 20))}`, at);
}

/** Offset of the deepest element the (lenient) parser left open, for a cut-short document. */
function innermostUnclosed(text: string): number | undefined {
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(text) as OrderedNode[];
  } catch {
    // Cut inside a tag (or nested too deep to parse): the last tag start is the best guess.
    const last = text.lastIndexOf("<");
    return last === -1 ? undefined : last;
  }
  let offset: number | undefined;
  for (;;) {
    const last = nodes.findLast((n) => elementKey(n) !== undefined);
    const meta = last?.[META] as { startIndex?: number; endIndex?: number } | undefined;
    if (!last || !meta || meta.endIndex !== undefined) return offset;
    offset = meta.startIndex;
    nodes = last[elementKey(last)!] as OrderedNode[];
  }
}

/** The key holding an ordered node's children when it is an element; undefined for text, CDATA, PIs. */
function elementKey(node: OrderedNode): string | undefined {
  for (const key of Object.keys(node)) {
    if (key !== ATTRIBUTES && key !== TEXT && key !== CDATA && !key.startsWith("?")) return key;
  }
  return undefined;
}

/**
 * fast-xml-parser's ordered output to our tree, depth first in document order without recursion (so
 * the first bad entity in the document is the one reported); decodes attributes and text.
 */
function toTree(ordered: OrderedNode[], text: string, fail: Fail): XmlElement {
  const top: XmlElement = { type: "element", name: "", attributes: [], children: [], offset: 0 };
  const pending: Array<{ node: OrderedNode; parent: XmlElement }> = ordered.map((node) => ({ node, parent: top })).reverse();
  let lastOffset = 0;
  /** Position of `raw` at or after the last element start: where a decoding problem is. */
  const failAt = (raw: string, where: string) => (message: string): never => {
    const at = text.indexOf(raw, lastOffset + 1);
    return fail(`${where}: ${message}`, at === -1 ? lastOffset : at);
  };
  while (pending.length > 0) {
    const { node, parent } = pending.pop()!;
    if (TEXT in node) {
      const raw = String(node[TEXT]);
      if (parent !== top) parent.children.push({ type: "text", text: decodeReferences(raw, (entity) => failAt(entity, `the text of <${parent.name}>`)), cdata: false });
      continue;
    }
    if (CDATA in node) {
      const parts = node[CDATA] as OrderedNode[];
      parent.children.push({ type: "text", text: parts.map((p) => String(p[TEXT] ?? "")).join(""), cdata: true });
      continue;
    }
    const key = elementKey(node);
    if (key === undefined) continue; // the declaration or another processing instruction
    const name = key;
    const offset = (node[META] as { startIndex?: number } | undefined)?.startIndex ?? 0;
    lastOffset = offset;
    if (parent === top && top.children.length > 0) fail(`a second root element <${name}> after </${(top.children[0] as XmlElement).name}>`, offset);
    const element: XmlElement = { type: "element", name, attributes: [], children: [], offset };
    for (const [attribute, value] of Object.entries((node[ATTRIBUTES] as Record<string, unknown> | undefined) ?? {})) {
      const raw = String(value);
      const where = `the value of attribute ${attribute} of <${name}>`;
      if (raw.includes("<")) failAt("<", where)(`"<" is not allowed here (write &lt;)`);
      // Attribute-value normalisation: literal tabs and newlines become spaces; &#10; stays a newline.
      element.attributes.push([attribute, decodeReferences(raw.replace(/[\t\n\r]/g, " "), (entity) => failAt(entity, where))]);
    }
    parent.children.push(element);
    const children = node[key] as OrderedNode[];
    for (let i = children.length - 1; i >= 0; i--) pending.push({ node: children[i]!, parent: element });
  }
  const root = top.children[0];
  if (root === undefined || root.type !== "element") return fail("no root element", 0);
  return root;
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Decode `&amp;`-style entities and `&#...;` references. Any code point a reference can name is read
 * back, NUL and lone surrogates included, so whatever `escapeXmlText` wrote comes back unchanged.
 * `fail(match)` gives the failure for the offending text.
 */
function decodeReferences(raw: string, failAt: (match: string) => (message: string) => never): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&\s<]*)(;?)/g, (match, body: string, semicolon: string) => {
    const fail = failAt(match);
    if (semicolon === "") fail(`"&" must start an entity such as &amp; (found ${JSON.stringify(match.slice(0, 12))})`);
    if (body.startsWith("#")) {
      const hex = body[1] === "x";
      const digits = body.slice(hex ? 2 : 1);
      const code = digits !== "" && digits.length <= 8 && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits) ? Number.parseInt(digits, hex ? 16 : 10) : Number.NaN;
      if (!(code <= 0x10ffff)) fail(`invalid character reference &${body};`);
      return code <= 0xffff ? String.fromCharCode(code) : String.fromCodePoint(code);
    }
    const named = NAMED_ENTITIES[body];
    if (named === undefined) fail(`unknown entity &${body}; (XML knows &amp; &lt; &gt; &quot; &apos; and &#...;)`);
    return named!;
  });
}

/**
 * Characters written as references: those XML 1.0 cannot carry raw (C0 controls but tab and newline,
 * U+FFFE, U+FFFF, lone surrogates), the C1 controls and U+2028 (XML 1.1 restricts or rewrites them),
 * and `\r` (every parser turns it into `\n`).
 */
const NEEDS_REFERENCE = /[\u0000-\u0008\u000b\u000c\r\u000e-\u001f\u007f-\u009f\u2028\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_REFERENCE_NEED = new RegExp(NEEDS_REFERENCE.source);
/** A reference to a C0 control that only XML 1.1 allows: a document with one is declared 1.1. */
const XML11_REFERENCE = /&#x(?:[1-8BCE]|1[0-9A-F]);/;

function reference(ch: string): string {
  return `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`;
}

/** Escape element text: `&`, `<`, `>`, and references for what XML cannot carry raw. Quotes stay. */
export function escapeXmlText(text: string): string {
  return text.replace(/[&<>]/g, (ch) => (ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : "&gt;")).replace(NEEDS_REFERENCE, reference);
}

/** Escape an attribute value: as text, plus both quotes, and tab and newline as references (parsers turn literal ones into spaces). */
export function escapeXmlAttribute(value: string): string {
  return escapeXml(value).replace(/[\t\n]/g, (ch) => (ch === "\t" ? "&#9;" : "&#10;"));
}

/** Escape text for element content or a quoted value: `&`, `<`, `>`, both quotes, references for the rest. */
export function escapeXml(text: string): string {
  return escapeXmlText(text).replace(/["']/g, (ch) => (ch === '"' ? "&quot;" : "&apos;"));
}

/**
 * The ordered form the builder writes, laid out as before: an element whose children are all
 * elements (whitespace between them dropped) gets one child per line, indented by two spaces; text
 * and CDATA are written exactly, never re-indented.
 */
function toOrdered(root: XmlElement, indent: string): OrderedNode {
  const top: OrderedNode = {};
  const pending: Array<{ element: XmlElement; target: OrderedNode; indent: string }> = [{ element: root, target: top, indent }];
  while (pending.length > 0) {
    const { element, target, indent: at } = pending.pop()!;
    const children: OrderedNode[] = [];
    // defineProperty: a name such as __proto__ must become a key, not a prototype.
    Object.defineProperty(target, element.name, { value: children, enumerable: true, writable: true, configurable: true });
    if (element.attributes.length > 0) {
      const attributes = Object.create(null) as Record<string, string>;
      for (const [k, v] of element.attributes) attributes[k] = escapeXmlAttribute(v);
      target[ATTRIBUTES] = attributes;
    }
    const elementsOnly =
      element.children.some((c) => c.type === "element") && element.children.every((c) => c.type === "element" || (!c.cdata && c.text.trim() === ""));
    for (const child of element.children) {
      if (child.type === "text") {
        if (elementsOnly || child.text === "") continue;
        // CDATA cannot hold a reference: text that needs one is written as escaped text instead.
        if (child.cdata && !HAS_REFERENCE_NEED.test(child.text)) children.push({ [CDATA]: [{ [TEXT]: child.text }] });
        else children.push({ [TEXT]: escapeXmlText(child.text) });
        continue;
      }
      if (elementsOnly) children.push({ [TEXT]: `\n${at}  ` });
      const node: OrderedNode = {};
      children.push(node);
      pending.push({ element: child, target: node, indent: elementsOnly ? `${at}  ` : "" });
    }
    if (elementsOnly) children.push({ [TEXT]: `\n${at}` });
  }
  return top;
}

/** Serialise an element tree (no XML declaration); `indent` is the indentation of its first line. */
export function formatXmlElement(element: XmlElement, indent = ""): string {
  return indent + (builder.build([toOrdered(element, indent)]) as string);
}

/** A whole document: declaration (XML 1.1 only when a C0 control needs it), root element, final newline. */
export function formatXmlDocument(root: XmlElement): string {
  const body = formatXmlElement(root);
  const version = XML11_REFERENCE.test(body) ? "1.1" : "1.0";
  const declaration = builder.build([{ "?xml": [{ [TEXT]: "" }], [ATTRIBUTES]: { version, encoding: "UTF-8" } }]) as string;
  return `${declaration}\n${body}\n`;
}

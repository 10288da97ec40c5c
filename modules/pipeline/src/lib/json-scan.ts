/**
 * One linear pass over JSON text, without recursion (nesting depth costs memory, never the stack):
 * where the first syntax error is, and where each key of the top-level object is. `JSON.parse`
 * says neither reliably: V8 does not always give a position, and it keeps the last of two equal
 * keys without a word. Pure.
 */

export interface JsonKey {
  /** The decoded key. */
  key: string;
  /** Offset of its opening quote. */
  offset: number;
}

export interface JsonScan {
  /** Offset of the first syntax error; undefined when the text is valid JSON. */
  errorAt?: number;
  /** Keys of the top-level object in document order, duplicates included (empty for other roots). */
  keys: JsonKey[];
}

type State = "value" | "value-or-end" | "key" | "key-or-end" | "colon" | "comma-or-end" | "done";

const NUMBER_OR_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null/y;

export function scanJson(text: string): JsonScan {
  const keys: JsonKey[] = [];
  const stack: Array<"{" | "["> = [];
  let state: State = "value";
  let i = 0;
  const afterValue = (): State => (stack.length === 0 ? "done" : "comma-or-end");

  for (;;) {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
    if (state === "done") return i < text.length ? { errorAt: i, keys } : { keys };
    if (i >= text.length) return { errorAt: text.length, keys };
    const c = text[i];
    switch (state) {
      case "value":
      case "value-or-end":
        if (state === "value-or-end" && c === "]") {
          stack.pop();
          i++;
          state = afterValue();
        } else if (c === "{" || c === "[") {
          stack.push(c);
          i++;
          state = c === "{" ? "key-or-end" : "value-or-end";
        } else if (c === '"') {
          const end = stringEnd(text, i);
          if (end < 0) return { errorAt: -end - 1, keys };
          i = end;
          state = afterValue();
        } else {
          NUMBER_OR_LITERAL.lastIndex = i;
          const m = NUMBER_OR_LITERAL.exec(text);
          if (!m) return { errorAt: i, keys };
          i += m[0].length;
          state = afterValue();
        }
        break;
      case "key":
      case "key-or-end": {
        if (state === "key-or-end" && c === "}") {
          stack.pop();
          i++;
          state = afterValue();
          break;
        }
        if (c !== '"') return { errorAt: i, keys };
        const end = stringEnd(text, i);
        if (end < 0) return { errorAt: -end - 1, keys };
        if (stack.length === 1) keys.push({ key: JSON.parse(text.slice(i, end)) as string, offset: i });
        i = end;
        state = "colon";
        break;
      }
      case "colon":
        if (c !== ":") return { errorAt: i, keys };
        i++;
        state = "value";
        break;
      case "comma-or-end": {
        const open = stack[stack.length - 1];
        if (c === ",") {
          i++;
          state = open === "{" ? "key" : "value";
        } else if (c === (open === "{" ? "}" : "]")) {
          stack.pop();
          i++;
          state = afterValue();
        } else return { errorAt: i, keys };
        break;
      }
    }
  }
}

/** Offset just after the string starting at `start`, or `-(offset of the error) - 1`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return -i - 1;
    if (code === 0x5c) {
      const next = text[i + 1];
      if (next === "u") {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return -i - 1;
        i += 5;
      } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i++;
      else return -i - 1;
    }
  }
  return -text.length - 1;
}

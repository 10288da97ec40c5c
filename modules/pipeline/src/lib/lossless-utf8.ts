/**
 * Bytes <-> text without losing a byte (pure).
 *
 * `TextDecoder` (and `readFile(path, "utf8")`) turn every byte that is not valid UTF-8 into U+FFFD, so
 * writing the text back changes the file: a Latin-1 `é` (0xE9) in a comment of a terragrunt.hcl became
 * `EF BF BD`. Here valid UTF-8 decodes as usual and each byte of an invalid sequence becomes the lone
 * surrogate U+DC80 + (byte - 0x80) (Python's "surrogateescape"), which `encodeLosslessUtf8` turns back
 * into that byte. Valid UTF-8 never decodes to a lone surrogate, so `encode(decode(b))` is `b` for every
 * byte string, and an edit between two characters of the text changes only the bytes it replaces.
 */

/** First of the 128 lone surrogates that stand for the bytes 0x80..0xFF of invalid sequences. */
const ESCAPE_BASE = 0xdc00;

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Decode UTF-8, turning each byte of an invalid sequence into U+DC80..U+DCFF instead of U+FFFD. */
export function decodeLosslessUtf8(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return decodeWithEscapes(bytes);
  }
}

/** The byte a lone surrogate from `decodeLosslessUtf8` stands for, or undefined for any other code unit. */
export function escapedByte(codeUnit: number): number | undefined {
  return codeUnit >= 0xdc80 && codeUnit <= 0xdcff ? codeUnit - ESCAPE_BASE : undefined;
}

/**
 * Encode text as UTF-8, turning U+DC80..U+DCFF back into their bytes. Throws on any other lone
 * surrogate (no byte stands for it), which only text that did not come from `decodeLosslessUtf8` has.
 */
export function encodeLosslessUtf8(text: string): Uint8Array {
  if (!hasLoneSurrogate(text)) return encoder.encode(text);
  const out = new Uint8Array(text.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 code unit
  let length = 0;
  let runStart = 0;
  const flush = (end: number) => {
    if (end > runStart) length += encoder.encodeInto(text.slice(runStart, end), out.subarray(length)).written;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && isLow(text.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    if (c < 0xd800 || c > 0xdfff) continue;
    const byte = escapedByte(c);
    if (byte === undefined) throw new RangeError(`lone surrogate U+${c.toString(16).toUpperCase()} at offset ${i} stands for no byte`);
    flush(i);
    out[length++] = byte;
    runStart = i + 1;
  }
  flush(text.length);
  return out.slice(0, length);
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && isLow(text.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    return true;
  }
  return false;
}

/** The slow path: a hand-written strict UTF-8 decoder (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF). */
function decodeWithEscapes(bytes: Uint8Array): string {
  const parts: string[] = [];
  let validStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (i > validStart) parts.push(strictDecoder.decode(bytes.subarray(validStart, i)));
    // A run of bad bytes, in chunks: String.fromCharCode takes its codes as arguments.
    let escapes: number[] = [];
    while (i < bytes.length && validSequenceLength(bytes, i) === 0) {
      escapes.push(ESCAPE_BASE + bytes[i++]!);
      if (escapes.length === 4096) {
        parts.push(String.fromCharCode(...escapes));
        escapes = [];
      }
    }
    parts.push(String.fromCharCode(...escapes));
    validStart = i;
  }
  if (validStart < bytes.length) parts.push(strictDecoder.decode(bytes.subarray(validStart)));
  return parts.join("");
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when there is none. */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

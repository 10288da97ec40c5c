import { describe, expect, it } from "vitest";
import { decodeLosslessUtf8, encodeLosslessUtf8, escapedByte } from "../../modules/pipeline/src/lib/lossless-utf8.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("lossless UTF-8", () => {
  it.each([
    { name: "ASCII", input: Buffer.from("a = 1\n"), text: "a = 1\n" },
    { name: "UTF-8 with a BOM (kept)", input: Buffer.from("\ufeffcafé 😀", "utf8"), text: "\ufeffcafé 😀" },
    { name: "Latin-1 é in a comment", input: bytes(0x23, 0x20, 0xe9, 0x0a), text: "# \udce9\n" },
    { name: "truncated 3-byte sequence", input: bytes(0x61, 0xe2, 0x82), text: "a\udce2\udc82" },
    { name: "overlong encoding of /", input: bytes(0xc0, 0xaf), text: "\udcc0\udcaf" },
    { name: "UTF-8 encoded surrogate (CESU)", input: bytes(0xed, 0xa0, 0x80), text: "\udced\udca0\udc80" },
    { name: "above U+10FFFF", input: bytes(0xf4, 0x90, 0x80, 0x80), text: "\udcf4\udc90\udc80\udc80" },
    { name: "a valid 4-byte character right before a bad byte", input: bytes(0xf0, 0x9f, 0x98, 0x80, 0xff), text: "😀\udcff" },
  ])("$name: decodes as expected and encodes back to the same bytes", ({ input, text }) => {
    const decoded = decodeLosslessUtf8(input);
    expect(decoded).toBe(text);
    expect(Buffer.from(encodeLosslessUtf8(decoded)).equals(Buffer.from(input))).toBe(true);
  });

  it("every byte string of length 0..3 round-trips (exhaustive over a byte subset)", () => {
    const sample = [0x00, 0x0a, 0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    let checked = 0;
    const visit = (prefix: number[]) => {
      const input = Uint8Array.from(prefix);
      expect(Array.from(encodeLosslessUtf8(decodeLosslessUtf8(input)))).toEqual(prefix);
      checked++;
      if (prefix.length < 3) for (const b of sample) visit([...prefix, b]);
    };
    visit([]);
    expect(checked).toBe(1 + 15 + 15 ** 2 + 15 ** 3);
  });

  it("a megabyte of bytes that are never UTF-8 round-trips", () => {
    const input = new Uint8Array(1 << 20).fill(0xff);
    const text = decodeLosslessUtf8(input);
    expect(text.length).toBe(1 << 20);
    expect(Buffer.from(encodeLosslessUtf8(text)).equals(Buffer.from(input))).toBe(true);
  });

  it("escapedByte names the byte of an escape and nothing else", () => {
    expect(escapedByte(0xdce9)).toBe(0xe9);
    expect(escapedByte(0xdc7f)).toBeUndefined();
    expect(escapedByte(0x41)).toBeUndefined();
  });

  it("refuses a lone surrogate that stands for no byte", () => {
    expect(() => encodeLosslessUtf8("a\ud800b")).toThrow(/lone surrogate U\+D800/);
  });
});

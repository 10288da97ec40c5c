import { describe, expect, it } from "vitest";
import { ProblemsError, PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import {
  collectTokens,
  decodeKmsToken,
  findKmsTokens,
  formatEnvFile,
  formatKmsToken,
  parseEnvFile,
  replaceTokens,
  scanEnvFile,
  validateCiphertext,
} from "../../modules/pipeline/src/lib/env-file.js";

/** A KMS-shaped ciphertext blob (01 02 02 00 78 ...): its base64 starts AQICAH. */
function blob(seed: number, length = 48): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes.set([0x01, 0x02, 0x02, 0x00, 0x78]);
  for (let i = 5; i < length; i++) bytes[i] = (seed * 31 + i * 17) % 256;
  return bytes;
}
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const TOKEN_A = b64(blob(1)); // 48 bytes: no padding
const TOKEN_B = b64(blob(2, 47)); // ends with "="
const TOKEN_C = b64(blob(3, 46)); // ends with "=="

describe("scanEnvFile / parseEnvFile: good files", () => {
  it("fixture tokens look like KMS blobs and carry padding", () => {
    expect(TOKEN_A.startsWith("AQICAH")).toBe(true);
    expect(TOKEN_B.endsWith("=") && !TOKEN_B.endsWith("==")).toBe(true);
    expect(TOKEN_C.endsWith("==")).toBe(true);
  });

  it.each([
    { name: "plain pair", text: "A=1\n", key: "A", value: "1", exported: false },
    { name: "splits on the first = only", text: `P=kmscrypt::${TOKEN_C}\n`, key: "P", value: `kmscrypt::${TOKEN_C}`, exported: false },
    { name: "value with = and spaces kept opaque", text: "Q=a=b c \n", key: "Q", value: "a=b c ", exported: false },
    { name: "quotes kept", text: 'Q="x y"\n', key: "Q", value: '"x y"', exported: false },
    { name: "# inside a value is not a comment", text: "U=http://h/#frag\n", key: "U", value: "http://h/#frag", exported: false },
    { name: "export prefix", text: "export E=2\n", key: "E", value: "2", exported: true },
    { name: "CRLF line ending", text: "W=win\r\n", key: "W", value: "win", exported: false },
    { name: "no final newline", text: "L=last", key: "L", value: "last", exported: false },
    { name: "empty value", text: "EMPTY=\n", key: "EMPTY", value: "", exported: false },
    { name: "lowercase and underscore key", text: "_lower_1=x\n", key: "_lower_1", value: "x", exported: false },
    { name: "indented line", text: "   I=1\n", key: "I", value: "1", exported: false },
  ])("$name", ({ text, key, value, exported }) => {
    const file = parseEnvFile(text, "config/dev.env");
    expect(file.entries).toHaveLength(1);
    expect(file.entries[0]).toMatchObject({ key, value, exported, line: 1 });
  });

  it("skips comments and blank lines and keeps line numbers", () => {
    const text = ["# header", "", "A=1", "   # indented comment", "\t", `B=kmscrypt::${TOKEN_A}`, "export C=3"].join("\n");
    const file = parseEnvFile(text, "config/prod.env");
    expect(file.entries.map((e) => [e.key, e.line])).toEqual([["A", 3], ["B", 6], ["C", 7]]);
    expect(file.path).toBe("config/prod.env");
  });

  it("parses an empty file", () => {
    expect(parseEnvFile("", "config/dev.env").entries).toEqual([]);
  });
});

describe("scanEnvFile / parseEnvFile: bad lines", () => {
  it.each([
    { name: "no =", text: "A=1\nJUSTTEXT\n", fragments: ["config/prod.env:2", "no '=' found"] },
    { name: "starts with =", text: "=value\n", fragments: ["config/prod.env:1", "starts with '='"] },
    { name: "space before =", text: "A=1\nB =2\n", fragments: ["config/prod.env:2", "whitespace", "no spaces around '='"] },
    { name: "dash in name", text: "MY-KEY=1\n", fragments: ["config/prod.env:1", "('-')"] },
    { name: "digit first", text: "1KEY=1\n", fragments: ["config/prod.env:1", "starts with a digit"] },
    { name: "duplicate key", text: "A=1\n\nA=2\n", fragments: ["config/prod.env:3", "A is set again (first set on line 1)"] },
    { name: "duplicate across export", text: "A=1\nexport A=2\n", fragments: ["config/prod.env:2", "A is set again"] },
    { name: "export without =", text: "export A\n", fragments: ["config/prod.env:1", "no '=' found"] },
    { name: "invalid token", text: "T=kmscrypt::AQICAHabc\n", fragments: ["config/prod.env:1", "T holds a kmscrypt:: token", "not a multiple of 4"] },
  ])("$name", ({ text, fragments }) => {
    let caught: unknown;
    try {
      parseEnvFile(text, "config/prod.env");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProblemsError);
    const err = caught as ProblemsError;
    expect(err.code).toBe("ENV_FILE_INVALID");
    for (const fragment of fragments) expect(err.message).toContain(fragment);
  });

  it("reports every problem at once, in line order, and keeps the good entries in a scan", () => {
    const text = ["GOOD=1", "oops", "GOOD=2", "BAD KEY=3", `T=kmscrypt::${TOKEN_A}x`, "FINE=ok"].join("\n");
    const { file, problems } = scanEnvFile(text, "config/stage.env");
    expect(problems.map((p) => p.path)).toEqual(["config/stage.env:2", "config/stage.env:3", "config/stage.env:4"]);
    expect(file.entries.map((e) => e.key)).toEqual(["GOOD", "T", "FINE"]);
    const err = (() => {
      try {
        parseEnvFile(text, "config/stage.env");
      } catch (e) {
        return e as ProblemsError;
      }
      throw new Error("expected a throw");
    })();
    expect(err.problems.map((p) => p.path)).toEqual(["config/stage.env:2", "config/stage.env:3", "config/stage.env:4", "config/stage.env:5"]);
    expect(err.message).toContain("4 problems");
  });

  it("never echoes a value or a malformed line in a message", () => {
    const secretish = "hunter2-Sup3rS3cret";
    const text = [`${secretish}`, `BAD KEY=${secretish}`, `A=${secretish}`, `A=${secretish}`, `T=kmscrypt::${secretish}`, `${secretish}=x`].join("\n");
    try {
      parseEnvFile(text, "config/prod.env");
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain("hunter2");
      expect((err as Error).message).not.toContain("S3cret");
      expect((err as ProblemsError).problems).toHaveLength(5);
    }
  });
});

describe("kmscrypt tokens", () => {
  it.each([
    { name: "valid, no padding", ciphertext: TOKEN_A, invalid: undefined },
    { name: "valid, one =", ciphertext: TOKEN_B, invalid: undefined },
    { name: "valid, two =", ciphertext: TOKEN_C, invalid: undefined },
    { name: "old AQECAH blob", ciphertext: b64(new Uint8Array([1, 1, 2, 0, 0x78, 9, 9, 9, 9])), invalid: undefined },
    { name: "empty", ciphertext: "", invalid: "is empty" },
    { name: "truncated", ciphertext: TOKEN_A.slice(0, -1), invalid: "not a multiple of 4" },
    { name: "padding in the middle", ciphertext: `AQICAH==${TOKEN_A.slice(8)}`, invalid: "padding in the middle" },
    { name: "url-safe alphabet", ciphertext: `${TOKEN_A.slice(0, -4)}ab-_`, invalid: "URL-safe" },
    { name: "non-canonical padding bits", ciphertext: `${TOKEN_C.slice(0, -3)}B==`, invalid: "non-canonical" },
    { name: "base64 of plaintext, not a KMS blob", ciphertext: Buffer.from("password123").toString("base64"), invalid: "not a KMS ciphertext blob" },
  ])("$name", ({ ciphertext, invalid }) => {
    const result = validateCiphertext(ciphertext);
    if (invalid === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(invalid);
  });

  it("finds several tokens inside one value with their offsets", () => {
    const value = `postgres://app:kmscrypt::${TOKEN_B}@db:5432/app?x=kmscrypt::${TOKEN_C}`;
    const tokens = findKmsTokens(value);
    expect(tokens.map((t) => t.ciphertext)).toEqual([TOKEN_B, TOKEN_C]);
    expect(value.slice(tokens[0]!.start, tokens[0]!.end)).toBe(`kmscrypt::${TOKEN_B}`);
    expect(tokens.every((t) => t.invalid === undefined)).toBe(true);
  });

  it("decodes a valid token to its blob and refuses an invalid one", () => {
    const [token] = findKmsTokens(`kmscrypt::${TOKEN_B}`);
    expect(decodeKmsToken(token!)).toEqual(blob(2, 47));
    expect(() => decodeKmsToken({ ciphertext: "abc", start: 0, end: 13 }, "K at f:1")).toThrow(/K at f:1 is not valid base64/);
  });

  it("formats a blob as a token that parses back", () => {
    const token = formatKmsToken(blob(7));
    expect(token).toMatch(/^kmscrypt::AQICAH/);
    expect(findKmsTokens(token)[0]!.invalid).toBeUndefined();
  });

  it("collects distinct ciphertexts with the entries that use them", () => {
    const file = parseEnvFile(`A=kmscrypt::${TOKEN_A}\nB=kmscrypt::${TOKEN_A}\nC=kmscrypt::${TOKEN_B}\nD=plain\n`, "f.env");
    const map = collectTokens(file);
    expect([...map.keys()]).toEqual([TOKEN_A, TOKEN_B]);
    expect(map.get(TOKEN_A)!.map((e) => e.key)).toEqual(["A", "B"]);
  });
});

describe("replaceTokens / formatEnvFile", () => {
  const text = [
    "# prod",
    `DB_PASSWORD=kmscrypt::${TOKEN_A}`,
    `DATABASE_URL=postgres://app:kmscrypt::${TOKEN_B}@db/app`,
    "export RAILS_ENV=production",
    `BOTH=kmscrypt::${TOKEN_A}:kmscrypt::${TOKEN_C}`,
    "",
  ].join("\n");
  const decrypted = new Map([
    [TOKEN_A, "s3cr=t"],
    [TOKEN_B, "p@ss"],
    [TOKEN_C, ""],
  ]);

  it("replaces only the tokens and renders KEY=value lines", () => {
    const file = parseEnvFile(text, "config/prod.env");
    const out = replaceTokens(file, decrypted);
    expect(formatEnvFile(out)).toBe(
      ["DB_PASSWORD=s3cr=t", "DATABASE_URL=postgres://app:p@ss@db/app", "RAILS_ENV=production", "BOTH=s3cr=t:", ""].join("\n"),
    );
    expect(out.entries.every((e) => e.tokens.length === 0)).toBe(true);
    // The input is not modified.
    expect(file.entries[0]!.value).toBe(`kmscrypt::${TOKEN_A}`);
  });

  it.each([
    { name: "missing plaintext", map: new Map([[TOKEN_B, "x"], [TOKEN_C, "y"]]), code: "KMS_DECRYPT_FAILED", fragment: "DB_PASSWORD at config/prod.env:2: its kmscrypt:: token was not decrypted" },
    { name: "plaintext with a newline", map: new Map([[TOKEN_A, "line1\nline2-TOPSECRET"], [TOKEN_B, "x"], [TOKEN_C, "y"]]), code: "KMS_DECRYPT_FAILED", fragment: "DB_PASSWORD at config/prod.env:2: the decrypted value contains a line break" },
  ])("$name", ({ map, code, fragment }) => {
    const file = parseEnvFile(text, "config/prod.env");
    try {
      replaceTokens(file, map);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe(code);
      expect((err as Error).message).toContain(fragment);
      expect((err as Error).message).not.toContain("TOPSECRET");
    }
  });

  it("refuses a scanned file that still holds an invalid token", () => {
    const { file } = scanEnvFile("T=kmscrypt::nope\n", "config/prod.env");
    expect(() => replaceTokens(file, new Map())).toThrow(/T at config\/prod.env:1 holds a kmscrypt:: token that/);
  });
});

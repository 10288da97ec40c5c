/**
 * Env files (`config/<env>.env`): parse, find `kmscrypt::` tokens, replace them, render.
 *
 * Pure. The format is the one the seed's `bin/env` and `gruntkms` use: one `KEY=value` per line,
 * split on the FIRST `=` (base64 ciphertext contains `=`), `#` comment lines, blank lines and an
 * optional `export ` prefix. Values are opaque: no unquoting, no interpolation, nothing trimmed.
 *
 * A value may hold `kmscrypt::<base64>` tokens: the standard base64 of a KMS ciphertext blob (real
 * ones start `AQICAH` or `AQECAH`). Decryption replaces only the token; the rest of the value stays,
 * so `DATABASE_URL=postgres://app:kmscrypt::AQICAH...@db/app` keeps its URL around the password.
 *
 * Values never appear in a problem or an error: messages name the key and `file:line` only,
 * because a value in a stage/prod file may be a plaintext secret.
 */
import { PipelineError, ProblemsError, type Problem } from "./errors.js";

export const KMS_TOKEN_PREFIX = "kmscrypt::";

/** Base64 prefixes of KMS ciphertext blobs (format version 1, blob types 1 and 2). */
export const KMS_BLOB_PREFIXES = ["AQICAH", "AQECAH"] as const;

/** A `kmscrypt::` token inside a value. Offsets are relative to the value. */
export interface KmsToken {
  /** The base64 text after `kmscrypt::` (the ciphertext blob, encoded). */
  ciphertext: string;
  /** Offset of `kmscrypt::` in the value. */
  start: number;
  /** Offset just past the last base64 character. */
  end: number;
  /** Why the token is not a usable KMS ciphertext; absent when it is valid. */
  invalid?: string;
}

export interface EnvEntry {
  key: string;
  /** Everything after the first `=`, byte for byte (a trailing `\r` is dropped). */
  value: string;
  /** 1-based line number in the file. */
  line: number;
  /** The line started with `export `. */
  exported: boolean;
  tokens: KmsToken[];
}

export interface EnvFile {
  /** The path shown in messages, e.g. `config/prod.env`. */
  path: string;
  /** Entries in file order; malformed lines and repeated keys are left out (see `scanEnvFile`). */
  entries: EnvEntry[];
}

export interface EnvFileScan {
  file: EnvFile;
  /** Malformed lines and duplicate keys, each at `file:line`. Token problems: `tokenProblems`. */
  problems: Problem[];
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXPORT_PREFIX = /^export[ \t]+/;
/** The token and the run of base64-ish characters after it (url-safe ones too, to report them). */
const TOKEN_PATTERN = /kmscrypt::([A-Za-z0-9+/=_-]*)/g;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `config/prod.env:12`. */
export function envLocation(file: Pick<EnvFile, "path">, entry: Pick<EnvEntry, "line">): string {
  return `${file.path}:${entry.line}`;
}

/**
 * Read every line, collecting problems instead of throwing: `check-env` reports syntax, token and
 * plaintext problems together. Use `parseEnvFile` when the file must be usable.
 */
export function scanEnvFile(text: string, path: string): EnvFileScan {
  const entries: EnvEntry[] = [];
  const problems: Problem[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split("\n");
  // A final newline does not start another line.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const at = `${path}:${line}`;
    const content = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const trimmed = content.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) return;

    const exported = EXPORT_PREFIX.test(trimmed);
    const body = exported ? trimmed.replace(EXPORT_PREFIX, "") : trimmed;
    const eq = body.indexOf("=");
    if (eq === -1) {
      problems.push({
        path: at,
        message: "line is not KEY=value (no '=' found)",
        hint: "write KEY=value, start comments with #, and keep each value on one line",
      });
      return;
    }
    const key = body.slice(0, eq);
    const value = body.slice(eq + 1);
    if (!KEY_PATTERN.test(key)) {
      problems.push({ path: at, message: describeBadKey(key), hint: keyHint(key) });
      return;
    }
    const seen = firstLine.get(key);
    if (seen !== undefined) {
      problems.push({
        path: at,
        message: `${key} is set again (first set on line ${seen})`,
        hint: `keep one ${key} line; the runtime would silently use only one of them`,
      });
      return;
    }
    firstLine.set(key, line);
    entries.push({ key, value, line, exported, tokens: findKmsTokens(value) });
  });

  return { file: { path, entries }, problems };
}

/**
 * Parse an env file that must be usable (decrypt, serve): throws `ProblemsError` ENV_FILE_INVALID
 * listing every malformed line, duplicate key and invalid token at once.
 */
export function parseEnvFile(text: string, path: string): EnvFile {
  const { file, problems } = scanEnvFile(text, path);
  const all = [...problems, ...tokenProblems(file)].sort(byLine);
  if (all.length > 0) throw new ProblemsError("ENV_FILE_INVALID", `${path} is invalid`, all);
  return file;
}

/** One problem per invalid `kmscrypt::` token, at `file:line`, naming the key. */
export function tokenProblems(file: EnvFile): Problem[] {
  const problems: Problem[] = [];
  for (const entry of file.entries) {
    for (const token of entry.tokens) {
      if (token.invalid === undefined) continue;
      problems.push({
        path: envLocation(file, entry),
        message: `${entry.key} holds a kmscrypt:: token that ${token.invalid}`,
        hint: `re-encrypt the value (dagger call encrypt-value --env <env> --value env:${entry.key}) and paste the whole token`,
      });
    }
  }
  return problems;
}

/** Find and validate the `kmscrypt::` tokens of one value. */
export function findKmsTokens(value: string): KmsToken[] {
  const tokens: KmsToken[] = [];
  for (const match of value.matchAll(TOKEN_PATTERN)) {
    const ciphertext = match[1]!;
    const start = match.index!;
    const token: KmsToken = { ciphertext, start, end: start + match[0].length };
    const invalid = validateCiphertext(ciphertext);
    if (invalid !== undefined) token.invalid = invalid;
    tokens.push(token);
  }
  return tokens;
}

/** Why `ciphertext` is not the standard base64 of a KMS blob, or undefined when it is. */
export function validateCiphertext(ciphertext: string): string | undefined {
  if (ciphertext === "") return "is empty";
  if (/[-_]/.test(ciphertext)) return "uses URL-safe base64 ('-' or '_'); KMS tokens use standard base64 (+ and /)";
  if (ciphertext.length % 4 !== 0) return `is not valid base64 (its length, ${ciphertext.length}, is not a multiple of 4: truncated?)`;
  if (!STRICT_BASE64.test(ciphertext)) return "is not valid base64 ('=' padding in the middle)";
  // Canonical form only: the unused bits before the padding must be zero.
  if (Buffer.from(ciphertext, "base64").toString("base64") !== ciphertext) return "is not valid base64 (non-canonical padding bits)";
  if (!KMS_BLOB_PREFIXES.some((p) => ciphertext.startsWith(p))) {
    return `is base64 but not a KMS ciphertext blob (those start ${KMS_BLOB_PREFIXES.join(" or ")})`;
  }
  return undefined;
}

/** The ciphertext blob of a valid token. Throws ENV_FILE_INVALID for an invalid one. */
export function decodeKmsToken(token: KmsToken, where = "kmscrypt:: token"): Uint8Array {
  const invalid = token.invalid ?? validateCiphertext(token.ciphertext);
  if (invalid !== undefined) throw new PipelineError("ENV_FILE_INVALID", `${where} ${invalid}`);
  return new Uint8Array(Buffer.from(token.ciphertext, "base64"));
}

/** `kmscrypt::<base64>` for a ciphertext blob (what `encrypt-value` prints). */
export function formatKmsToken(ciphertextBlob: Uint8Array): string {
  return `${KMS_TOKEN_PREFIX}${Buffer.from(ciphertextBlob).toString("base64")}`;
}

/** Every distinct valid ciphertext of the file, with the entries that use it (file order). */
export function collectTokens(file: EnvFile): Map<string, EnvEntry[]> {
  const byCiphertext = new Map<string, EnvEntry[]>();
  for (const entry of file.entries) {
    for (const token of entry.tokens) {
      if (token.invalid !== undefined) continue;
      const users = byCiphertext.get(token.ciphertext) ?? [];
      if (!users.includes(entry)) users.push(entry);
      byCiphertext.set(token.ciphertext, users);
    }
  }
  return byCiphertext;
}

/**
 * Replace each token by its plaintext (`decrypted`: ciphertext base64 -> plaintext); the text
 * around a token stays. Returns a new file whose entries hold no tokens. A missing or unusable
 * plaintext (newline, NUL) is an error naming the key and line, never the value.
 */
export function replaceTokens(file: EnvFile, decrypted: ReadonlyMap<string, string>): EnvFile {
  const entries = file.entries.map((entry): EnvEntry => {
    if (entry.tokens.length === 0) return entry;
    let value = "";
    let cursor = 0;
    for (const token of entry.tokens) {
      const where = `${entry.key} at ${envLocation(file, entry)}`;
      if (token.invalid !== undefined) {
        throw new PipelineError("ENV_FILE_INVALID", `${where} holds a kmscrypt:: token that ${token.invalid}`);
      }
      const plaintext = decrypted.get(token.ciphertext);
      if (plaintext === undefined) {
        throw new PipelineError("KMS_DECRYPT_FAILED", `${where}: its kmscrypt:: token was not decrypted`);
      }
      if (/[\r\n\0]/.test(plaintext)) {
        throw new PipelineError("KMS_DECRYPT_FAILED", `${where}: the decrypted value contains a line break or NUL, which an env file cannot hold`, {
          hint: `encrypt a single-line value (e.g. base64-encode multi-line data first) and update ${entry.key}`,
        });
      }
      value += entry.value.slice(cursor, token.start) + plaintext;
      cursor = token.end;
    }
    value += entry.value.slice(cursor);
    return { ...entry, value, tokens: [] };
  });
  return { path: file.path, entries };
}

/** Render `KEY=value` lines (no comments, no `export`), newline-terminated, for injection. */
export function formatEnvFile(file: EnvFile): string {
  return file.entries.map((e) => `${e.key}=${e.value}\n`).join("");
}

/** Order problems located at `file:line` by their line (the one comparator env files and KMS share). */
export function byLine(a: Pick<Problem, "path">, b: Pick<Problem, "path">): number {
  return lineOf(a.path) - lineOf(b.path);
}

function lineOf(location: string): number {
  const n = Number(location.slice(location.lastIndexOf(":") + 1));
  return Number.isFinite(n) ? n : 0;
}

/** Say what is wrong with a key without echoing it: the "key" may be a pasted secret. */
function describeBadKey(key: string): string {
  if (key === "") return "line starts with '=' (no variable name)";
  if (/\s/.test(key)) return "the name before '=' contains whitespace (spaces around '=' are not allowed)";
  if (/^[0-9]/.test(key)) return "the name before '=' starts with a digit";
  const bad = [...key].find((c) => !/[A-Za-z0-9_]/.test(c))!;
  const shown = "-.:/@".includes(bad) ? ` ('${bad}')` : "";
  return `the name before '=' contains a character${shown} not allowed in a variable name`;
}

function keyHint(key: string): string {
  if (/\s/.test(key)) return "write KEY=value with no spaces around '='";
  return "use letters, digits and _ (not starting with a digit), e.g. MY_SETTING=value";
}

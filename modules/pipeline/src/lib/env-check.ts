/**
 * `check-env`: the lint that runs before `plan` and `deploy`. Pure.
 *
 * - In the environments that must be encrypted (stage and prod), a key that looks secret must not
 *   hold a plaintext value: it needs a `kmscrypt::` token (or an entry in
 *   `secrets.plaintextAllowList`). Empty values are not secrets.
 * - In every environment, a `kmscrypt::` token must be valid base64 of a KMS blob, a value must not
 *   be a bare KMS ciphertext (the `kmscrypt::` prefix forgotten), and the file must parse
 *   (malformed lines, duplicate keys).
 *
 * Which keys look secret (`looksSecret`): the key is split into `_`-separated words and compared
 * case-insensitively with `secrets.secretKeyPatterns` (PASSWORD, TOKEN, SECRET, KEY, ...):
 * - a whole word matches, also in the plural: `API_KEY`, `SECRET_KEY_BASE`, `GOOGLE_CREDENTIALS`;
 * - a word that ENDS with a pattern matches (names glued together): `APIKEY`, `DBPASSWORD`,
 *   `authToken`; a word that merely starts with one does not: `KEYBOARD_LAYOUT`, `TOKENIZER_MODE`.
 *   (So `MONKEY_PATCH` matches: allow-list it; a false alarm costs one line, a miss leaks a secret.)
 * - not a secret: a match right after `PUBLIC`/`PUBLISHABLE` (`STRIPE_PUBLISHABLE_KEY`), or a key
 *   whose LAST word, after the last match, names data about the secret rather than the secret:
 *   `AWS_ACCESS_KEY_ID`, `KMS_KEY_ARN`, `TOKEN_TTL`, `PASSWORD_MIN_LENGTH`, `PRIVATE_KEY_PATH`
 *   (see `NON_SECRET_QUALIFIERS`). `SECRET_KEY_BASE` and `GITHUB_TOKEN_RW` stay secret.
 * Multi-word patterns (`API_KEY`) match as consecutive words.
 *
 * In the encrypted environments the VALUE is checked too, whatever the key's name
 * (`secret-shapes.ts`): a URL with a password or a key as its user, a secret-looking `name=value`
 * pair (`?token=`, `password=` in a DSN), a private PEM block; and a secret-looking key that holds
 * a token must not keep plaintext around it (`pw-kmscrypt::...`), except inside a URL.
 */
import { ProblemsError, type Problem } from "./errors.js";
import { byLine, envLocation, scanEnvFile, tokenProblems, validateCiphertext, type EnvEntry, type EnvFile } from "./env-file.js";
import { findSecretShapes, plaintextAroundTokens, SECRET_PARAMETER_PATTERNS } from "./secret-shapes.js";

/** Environments whose env files must not hold plaintext secrets. */
export const ENCRYPTED_ENVIRONMENTS: readonly string[] = ["stage", "prod"];

/** Last words that describe a secret without being one (id, location, lifetime, size, switch). */
export const NON_SECRET_QUALIFIERS: readonly string[] = [
  "ID", "IDS", "ARN", "ALIAS", "NAME", "REGION",
  "PATH", "FILE", "DIR", "URL", "URI", "ENDPOINT", "HOST", "PORT",
  "TTL", "EXPIRY", "EXPIRES", "EXPIRATION", "LIFETIME", "TIMEOUT", "SECONDS", "MINUTES", "HOURS", "DAYS",
  "LENGTH", "SIZE", "BITS", "COUNT", "LIMIT",
  "ENABLED", "DISABLED", "REQUIRED", "HEADER", "PARAM", "TYPE", "ALGORITHM", "ALG", "FORMAT", "VERSION", "PREFIX",
  "MODE", "PROVIDER", "METHOD", "STRATEGY", "SCHEME", "USER", "USERNAME", "DOMAIN", "ISSUER", "AUDIENCE", "REALM",
];

/** Words that end with a pattern but name no secret: `CACHE_BYPASS` is not a `PASS`. */
export const NOT_SECRET_WORDS: readonly string[] = ["BYPASS", "COMPASS", "SURPASS", "TRESPASS", "OVERPASS", "UNDERPASS"];

/** Words that make the match right after them public: `PUBLIC_KEY`, `STRIPE_PUBLISHABLE_KEY`. */
export const PUBLIC_MARKERS: readonly string[] = ["PUBLIC", "PUBLISHABLE"];

export interface EnvCheckOptions {
  /** The configured environment the file belongs to (`dev`, `stage`, `prod`). */
  environment: string;
  /** `secrets.secretKeyPatterns`. */
  patterns: readonly string[];
  /** `secrets.plaintextAllowList`: exact key names allowed to hold plaintext. */
  allowList: readonly string[];
  /** Defaults to `ENCRYPTED_ENVIRONMENTS` (stage, prod). */
  encryptedEnvironments?: readonly string[];
}

export type EnvCheckCode = "ENV_FILE_INVALID" | "ENV_FILE_PLAINTEXT_SECRET";

export interface EnvCheckProblem extends Problem {
  code: EnvCheckCode;
}

/** True when `key` looks like it names a secret (see the module comment for the rules). */
export function looksSecret(key: string, patterns: readonly string[]): boolean {
  const words = key
    .toUpperCase()
    .split("_")
    .filter((w) => w !== "" && !NOT_SECRET_WORDS.includes(w));
  let lastHit = -1;
  for (const pattern of patterns) {
    const pw = pattern.toUpperCase().split("_").filter((w) => w !== "");
    if (pw.length === 0) continue;
    for (let i = 0; i + pw.length <= words.length; i++) {
      if (!matchesAt(words, i, pw)) continue;
      if (i > 0 && PUBLIC_MARKERS.includes(words[i - 1]!)) continue;
      lastHit = Math.max(lastHit, i + pw.length - 1);
    }
  }
  if (lastHit === -1) return false;
  const lastWord = words[words.length - 1]!;
  return !(lastHit < words.length - 1 && NON_SECRET_QUALIFIERS.includes(lastWord));
}

function matchesAt(words: string[], i: number, pw: string[]): boolean {
  return pw.every((p, j) => {
    const word = words[i + j]!;
    const first = j === 0;
    const last = j === pw.length - 1;
    const forms = last ? [p, `${p}S`] : [p];
    // Only the first word may have something glued in front of it (APIKEY, DBPASSWORD).
    return forms.some((f) => word === f || (first && word.endsWith(f)));
  });
}

/** A whole value that is the base64 of a KMS blob (long enough not to be a coincidence). */
function looksLikeBareCiphertext(value: string): boolean {
  const v = value.trim();
  return v.length >= 40 && validateCiphertext(v) === undefined;
}

/** A value that holds nothing: empty, or an empty quoted string. */
function isEmptyValue(value: string): boolean {
  const v = value.trim();
  return v === "" || v === '""' || v === "''";
}

/**
 * Check a parsed (scanned) env file: invalid tokens everywhere, plaintext secrets in the
 * encrypted environments. Each problem names the key and `file:line`, never the value.
 */
export function checkEnvFile(file: EnvFile, options: EnvCheckOptions): EnvCheckProblem[] {
  const problems: EnvCheckProblem[] = tokenProblems(file).map((p) => ({ ...p, code: "ENV_FILE_INVALID" as const }));
  const encrypted = (options.encryptedEnvironments ?? ENCRYPTED_ENVIRONMENTS).includes(options.environment);
  for (const entry of file.entries) {
    if (isEmptyValue(entry.value)) continue;
    if (entry.tokens.length === 0 && looksLikeBareCiphertext(entry.value)) {
      // Deployed as is, the app would see the ciphertext itself: nothing decrypts a bare blob.
      problems.push({
        code: "ENV_FILE_INVALID",
        path: envLocation(file, entry),
        message: `${entry.key} holds what looks like a KMS ciphertext without the kmscrypt:: prefix`,
        hint: `write ${entry.key}=kmscrypt::<the ciphertext>`,
      });
      continue;
    }
    if (!encrypted || options.allowList.includes(entry.key)) continue;
    const why = plaintextSecret(entry, options.patterns);
    if (why === undefined) continue;
    problems.push({
      code: "ENV_FILE_PLAINTEXT_SECRET",
      path: envLocation(file, entry),
      message: `${entry.key} ${why} (${options.environment} env files must encrypt secrets)`,
      hint:
        `export ${entry.key}=<the value>; run dagger call encrypt-value --env ${options.environment} --value env:${entry.key} ` +
        `and replace the value (or the secret part of it) with the kmscrypt:: token it prints; or, if it is not a secret, add ${entry.key} to secrets.plaintextAllowList`,
    });
  }
  return problems.sort(byLine);
}

/** Why an entry holds a plaintext secret (a phrase after its key), or undefined. Never quotes the value. */
function plaintextSecret(entry: EnvEntry, patterns: readonly string[]): string | undefined {
  const secretKey = looksSecret(entry.key, patterns);
  const valid = entry.tokens.filter((t) => t.invalid === undefined);
  // An invalid token is reported by tokenProblems; do not call the same value plaintext as well.
  if (valid.length < entry.tokens.length) return undefined;
  if (secretKey && valid.length === 0) return "looks secret but holds a plaintext value";
  const around = secretKey ? plaintextAroundTokens(entry.value, valid) : 0;
  if (around > 0) {
    return `looks secret but keeps ${around} plaintext character${around === 1 ? "" : "s"} beside its kmscrypt:: token (only the token is encrypted)`;
  }
  const nameLooksSecret = (name: string) => looksSecret(name, [...patterns, ...SECRET_PARAMETER_PATTERNS]);
  const shapes = findSecretShapes(entry.value, valid, nameLooksSecret);
  return shapes.length > 0 ? `holds ${shapes.join(" and ")}` : undefined;
}

/** Scan the text and check it: syntax problems, invalid tokens and plaintext secrets together. */
export function checkEnvText(text: string, path: string, options: EnvCheckOptions): EnvCheckProblem[] {
  const { file, problems } = scanEnvFile(text, path);
  const syntax = problems.map((p) => ({ ...p, code: "ENV_FILE_INVALID" as const }));
  return [...syntax, ...checkEnvFile(file, options)].sort(byLine);
}

/**
 * Throw when there are problems: ENV_FILE_INVALID if any problem is a syntax or token problem,
 * ENV_FILE_PLAINTEXT_SECRET otherwise. All problems are listed in one error.
 */
export function assertEnvCheckPassed(problems: readonly EnvCheckProblem[], path: string): void {
  if (problems.length === 0) return;
  const code: EnvCheckCode = problems.some((p) => p.code === "ENV_FILE_INVALID") ? "ENV_FILE_INVALID" : "ENV_FILE_PLAINTEXT_SECRET";
  throw new ProblemsError(code, `${path} failed check-env`, problems.map(({ path: p, message, hint }) => ({ path: p, message, hint })));
}


/** One environment's env file as read by the caller: `text` undefined when the file is absent. */
export interface EnvFileInput {
  environment: string;
  path: string;
  text?: string;
}

export interface EnvFileCheck {
  environment: string;
  path: string;
  /** False when the file is not in the repository. */
  present: boolean;
  variables: number;
  tokens: number;
  problems: EnvCheckProblem[];
}

/**
 * The check-env lint over several env files (the repository's config/<env>.env): ALL problems of
 * ALL files in one error (ENV_FILE_INVALID if any is a syntax or token problem,
 * ENV_FILE_PLAINTEXT_SECRET otherwise), each at `file:line`, never a value. Returns the checks
 * of a passing run, for `formatEnvCheckReport`.
 */
export function checkEnvFiles(files: readonly EnvFileInput[], options: Omit<EnvCheckOptions, "environment">): EnvFileCheck[] {
  const checks = files.map((f): EnvFileCheck => {
    if (f.text === undefined) return { environment: f.environment, path: f.path, present: false, variables: 0, tokens: 0, problems: [] };
    const problems = checkEnvText(f.text, f.path, { ...options, environment: f.environment });
    const { file } = scanEnvFile(f.text, f.path);
    const tokens = file.entries.reduce((n, e) => n + e.tokens.length, 0);
    return { environment: f.environment, path: f.path, present: true, variables: file.entries.length, tokens, problems };
  });
  const failing = checks.filter((c) => c.problems.length > 0);
  assertEnvCheckPassed(
    failing.flatMap((c) => c.problems),
    failing.map((c) => c.path).join(", "),
  );
  return checks;
}

/** The `ok` lines of a passing check. */
export function formatEnvCheckReport(checks: readonly EnvFileCheck[]): string {
  return checks
    .map((c) => {
      if (!c.present) return `skip ${c.path}: not in the source (${c.environment})`;
      const tokens = `${c.tokens} kmscrypt value${c.tokens === 1 ? "" : "s"}`;
      return `ok   ${c.path}: ${c.environment}, ${c.variables} variable${c.variables === 1 ? "" : "s"}, ${tokens}`;
    })
    .join("\n");
}

/** `config/prod.env`: where the env file of an environment lives in the repository. */
export function envFilePath(env: string): string {
  return `config/${env}.env`;
}

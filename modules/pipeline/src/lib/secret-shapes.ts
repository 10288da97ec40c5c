/**
 * Plaintext secrets that sit INSIDE a value, whatever the key is called. Pure.
 *
 * `check-env` judges a key by its name (`looksSecret`); these shapes catch what a name does not say:
 * - a URL with a password (`postgres://user:pw@host/db`, `redis://:pw@host`), or with a key or
 *   token as its user name (a DSN such as `https://<32 hex>@o1.ingest.sentry.io/1`);
 * - a `name=value` pair whose name looks secret: URL query parameters (`?token=...`,
 *   `&X-Amz-Signature=...`) and keyword DSNs (`host=db password=pw`, `Server=x;Password=pw;`);
 * - a PEM block other than a certificate or public key (`-----BEGIN RSA PRIVATE KEY-----`).
 *
 * A `kmscrypt::` token in a credential position is encrypted, so it is fine
 * (`postgres://app:kmscrypt::AQICAH...@db/app`). Descriptions never contain a character of the
 * value (at most a PEM label and a character position): a value may be a plaintext secret.
 */

/** A span of the value held by a `kmscrypt::` token (offsets relative to the value). */
export interface TokenSpan {
  start: number;
  end: number;
}

/** Names of `name=value` pairs that hold credentials, besides the configured key patterns. */
export const SECRET_PARAMETER_PATTERNS: readonly string[] = ["SIG", "SIGNATURE", "PASS", "PWD", "AUTH"];

/** PEM labels that are public by design; every other PEM block is treated as secret. */
export const PUBLIC_PEM_LABELS: readonly string[] = ["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "PUBLIC KEY", "RSA PUBLIC KEY", "PGP PUBLIC KEY BLOCK", "SSH2 PUBLIC KEY"];

/** Stands for the characters of a token while the value is scanned (never in `TOKEN_CHARS`). */
const MASK = "\u0001";
/** `scheme://user@` or `scheme://user:password@`; a raw password may hold '/', '?' or '#'. */
const URL_USERINFO = /([A-Za-z][A-Za-z0-9+.-]*):\/\/([^\s/?#@:]*)(?::([^\s@]*))?@/g;
/** `host:8080/path?mail=a@b` is a port, not a password. */
const PORT_THEN_PATH = /^\d{1,5}[/?#]/;
const NAME_VALUE = /(?:^|[\s;&?,])-{0,2}([A-Za-z][\w.-]*)=([^\s;&,]*)/g;
const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]{1,60})-----/g;

/**
 * Where `value` holds a plaintext secret, as descriptions ("a URL with a plaintext password").
 * `isSecretName` judges `name=value` names (pass `looksSecret` with the configured patterns).
 */
export function findSecretShapes(value: string, tokens: readonly TokenSpan[], isSecretName: (name: string) => boolean): string[] {
  const masked = maskTokens(value, tokens);
  const shapes: string[] = [];
  for (const m of masked.matchAll(URL_USERINFO)) {
    const user = m[2]!;
    const password = m[3] ?? "";
    if (PORT_THEN_PATH.test(password)) continue;
    if (password !== "" && !isMasked(password)) shapes.push(`a URL with a plaintext password (${m[1]}://<user>:<password>@..., at character ${m.index! + 1})`);
    else if (password === "" && looksLikeKey(user)) shapes.push(`a URL whose user name is a key or token (as in a DSN, ${m[1]}://<key>@..., at character ${m.index! + 1})`);
  }
  for (const m of masked.matchAll(NAME_VALUE)) {
    const name = m[1]!.replace(/[.-]/g, "_");
    const pairValue = m[2]!;
    if (pairValue === "" || isMasked(pairValue) || !isSecretName(name)) continue;
    const at = m.index! + m[0].length - pairValue.length - m[1]!.length;
    shapes.push(`a secret-looking name=value pair with a plaintext value (at character ${at})`);
  }
  for (const m of value.matchAll(PEM_BEGIN)) {
    const label = m[1]!.trim();
    if (!PUBLIC_PEM_LABELS.includes(label)) shapes.push(`a PEM block (BEGIN ${label})`);
  }
  return shapes;
}

/**
 * For a key that looks secret and holds a token: how many characters around the tokens stay
 * plaintext. Zero when the value is the token alone or a URL (whose credential positions
 * `findSecretShapes` checks); text glued to a token (`pw-kmscrypt::...`, `kmscrypt::... pw`) counts.
 */
export function plaintextAroundTokens(value: string, tokens: readonly TokenSpan[]): number {
  if (tokens.length === 0) return 0;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) return 0;
  // Whitespace hides no secret; everything else next to a token is plaintext.
  return maskTokens(value, tokens).split(MASK).join("").replace(/\s/g, "").length;
}

function maskTokens(value: string, tokens: readonly TokenSpan[]): string {
  let out = value;
  for (const t of tokens) out = out.slice(0, t.start) + MASK.repeat(t.end - t.start) + out.slice(t.end);
  return out;
}

function isMasked(text: string): boolean {
  return text.length > 0 && text.split(MASK).join("") === "";
}

/** A user name that is a key, not a login: long, letters and digits mixed (Sentry keys are 32 hex). */
function looksLikeKey(user: string): boolean {
  if (user === "" || isMasked(user)) return false;
  return user.length >= 16 && /[A-Za-z]/.test(user) && /[0-9]/.test(user);
}

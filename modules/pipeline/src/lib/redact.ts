/**
 * Credentials out of text that came from outside (an AWS error message, a program's stderr). Pure.
 *
 * Two passes: every known secret in any form it may be quoted in (as is, URL-encoded, JSON-escaped),
 * then the shapes AWS puts credentials in whatever their value: the canonical request of a
 * signature error (`x-amz-security-token:<token>`), presigned query strings
 * (`X-Amz-Security-Token=`, `X-Amz-Signature=`), `Signature=`, access key ids (`AKIA...`, `ASIA...`)
 * and `"SecretAccessKey": "..."`-style fields. The second pass catches what nobody registered.
 */

export const REDACTED = "***";

/** Shorter values are too likely to be ordinary words or numbers to be replaced everywhere. */
export const MIN_SECRET_LENGTH = 4;

/** [pattern, replacement] pairs for credentials AWS may quote whatever their value. */
const CREDENTIAL_SHAPES: ReadonlyArray<[RegExp, string]> = [
  [/(x-amz-security-token\s*[:=]\s*)[^\s&'",;]+/gi, `$1${REDACTED}`],
  [/(x-amz-signature\s*[:=]\s*)[^\s&'",;]+/gi, `$1${REDACTED}`],
  [/(\bSignature\s*=\s*)[0-9a-fA-F]{16,}/g, `$1${REDACTED}`],
  [/\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b/g, REDACTED],
  // `aws_session_token = v`, `"SessionToken": "v"`, `<SessionToken>v</SessionToken>` (STS answers in XML).
  [/(\b(?:SecretAccessKey|SessionToken|secretAccessKey|sessionToken|aws_secret_access_key|aws_session_token|aws_security_token|WebIdentityToken)\s*=\s*)[^\s&'",;}]+/g, `$1${REDACTED}`],
  [/("(?:SecretAccessKey|SessionToken|secretAccessKey|sessionToken|aws_secret_access_key|aws_session_token|WebIdentityToken)"\s*:\s*")[^"]+/g, `$1${REDACTED}`],
  [/(<(?:SecretAccessKey|SessionToken|WebIdentityToken)>)[^<]+/g, `$1${REDACTED}`],
];

/** The forms a secret may be quoted in: as is, URL-encoded (both flavours), JSON-escaped. */
export function quotedForms(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), encodeURI(secret), JSON.stringify(secret).slice(1, -1)]);
  return [...forms];
}

/** `text` with every secret (4+ characters, every quoted form) and every credential shape replaced by `***`. */
export function redactCredentials(text: string, secrets: Iterable<string | undefined>): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret && secret.length >= MIN_SECRET_LENGTH) for (const form of quotedForms(secret)) forms.add(form);
  }
  // Longest first: a token that contains another secret goes whole.
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(REDACTED);
  for (const [pattern, replacement] of CREDENTIAL_SHAPES) out = out.replace(pattern, replacement);
  return out;
}

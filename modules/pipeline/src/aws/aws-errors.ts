/**
 * What an AWS SDK error is, for the adapters' messages: its name and one line of its text. The
 * error reaching an adapter has already been redacted at the client boundary (`redaction.ts`), so
 * the text may be quoted.
 */

/**
 * Names that mean the caller's credentials themselves are bad, whichever service answered: every
 * request fails the same way. Query-protocol services (STS) and JSON-protocol ones (ECR, KMS) name
 * the same failures differently (`IncompleteSignature` / `IncompleteSignatureException`).
 */
export const CREDENTIAL_ERRORS: Readonly<Record<string, string>> = {
  InvalidClientTokenId: "AWS does not know the access key id (deleted or deactivated key, or a key from another partition)",
  UnrecognizedClientException: "AWS does not know the access key id or session token",
  SignatureDoesNotMatch: "the secret access key does not belong to the access key id",
  InvalidSignatureException: "the secret access key does not belong to the access key id",
  IncompleteSignature: "the request signature is incomplete (a key or token is truncated)",
  IncompleteSignatureException: "the request signature is incomplete (a key or token is truncated)",
  MissingAuthenticationToken: "no credentials were sent",
  MissingAuthenticationTokenException: "no credentials were sent",
  ExpiredToken: "the credentials have expired",
  ExpiredTokenException: "the credentials have expired",
  RequestExpired: "the request expired before AWS saw it (check the clock of the machine running the pipeline)",
  TokenRefreshRequired: "the credentials have expired",
  CredentialsProviderError: "no credentials could be loaded",
};

/** The subset of `CREDENTIAL_ERRORS` that means "expired" (refresh, rather than fix, the credentials). */
export const EXPIRED_ERRORS: ReadonlySet<string> = new Set(["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"]);

export function isCredentialError(err: unknown): boolean {
  return awsErrorName(err) in CREDENTIAL_ERRORS;
}

/** The error name the SDK gives (`AccessDenied`, `ExpiredTokenException`, `ECONNREFUSED`, ...). */
export function awsErrorName(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const n of [e.name, e.Code, e.code]) if (typeof n === "string" && n !== "Error") return n;
  }
  return "Error";
}

/** AWS's message, first line, at most 400 characters: enough to act on, short enough for a log line. */
export function awsErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]!.slice(0, 400);
}

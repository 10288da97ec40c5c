/**
 * The one redaction mechanism for everything that talks to AWS: applied where clients and
 * credential providers are handed out (`createAwsClients`), not at each call site.
 *
 * `CredentialsInPlay` holds every credential a set of clients sends or receives: the inputs (keys,
 * session token, web identity token, the values of a credentials file), whatever a provider returns
 * (assumed-role keys), and the secret fields of each request and response (`SecretAccessKey`,
 * `SessionToken`, `WebIdentityToken`, ECR's `authorizationToken`, KMS `Plaintext`).
 * `redactingClient` / `redactingProvider` wrap `send` / the provider so that an error leaving them is
 * rebuilt from redacted text: message, name, code, `$metadata`, `$retryable` (what the adapters
 * read) and a redacted cause; the SDK's raw `$response` and stack are not kept. Our own
 * PipelineErrors are redacted in place. So whatever AWS sends (a signature error quoting the
 * canonical request with `x-amz-security-token`, a service echoing a key), no credential leaves in
 * a message, a cause chain or a stack.
 */
import { MIN_SECRET_LENGTH, redactCredentials } from "../lib/redact.js";
import { PipelineError, ProblemsError } from "../lib/errors.js";

/** Request/response fields that carry a credential or a secret value. */
const SECRET_FIELD = /secret|token|password|plaintext|accesskeyid/i;
/** Nesting depth searched for secret fields (STS: output.Credentials.SessionToken is depth 2). */
const HARVEST_DEPTH = 6;

export class CredentialsInPlay {
  private readonly secrets = new Set<string>();

  add(...values: ReadonlyArray<string | undefined>): void {
    for (const v of values) if (typeof v === "string" && v.length >= MIN_SECRET_LENGTH) this.secrets.add(v);
  }

  addCredentials(credentials: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string } | undefined): void {
    this.add(credentials?.accessKeyId, credentials?.secretAccessKey, credentials?.sessionToken);
  }

  /** Remember the secret fields of an SDK command input or output. */
  harvest(value: unknown, depth = 0): void {
    if (depth > HARVEST_DEPTH || typeof value !== "object" || value === null) return;
    for (const [key, field] of Object.entries(value)) {
      if (key === "$metadata") continue;
      if (SECRET_FIELD.test(key)) {
        if (typeof field === "string") this.add(field, ...basicPassword(key, field));
        else if (field instanceof Uint8Array) this.add(new TextDecoder().decode(field), Buffer.from(field).toString("base64"));
      }
      if (typeof field === "object" && field !== null && !(field instanceof Uint8Array)) this.harvest(field, depth + 1);
    }
  }

  redact(text: string): string {
    return redactCredentials(text, this.secrets);
  }
}

/** ECR's `authorizationToken` is base64 of `user:password`: the password is a credential too. */
function basicPassword(key: string, value: string): string[] {
  if (!/authorizationtoken/i.test(key)) return [];
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? [decoded, decoded.slice(colon + 1)] : [];
}

/** Fields of an SDK error the adapters read, copied (redacted) onto the rebuilt error. */
const KEPT_FIELDS = ["code", "Code", "$fault", "$retryable"] as const;

/**
 * An error safe to show: our PipelineErrors redacted in place, anything else rebuilt from redacted
 * text (see the module comment). `depth` bounds the cause chain.
 */
export function sanitizeAwsError(err: unknown, inPlay: CredentialsInPlay, depth = 0): Error {
  if (err instanceof PipelineError) {
    redactPipelineError(err, inPlay, depth);
    return err;
  }
  const source = (typeof err === "object" && err !== null ? err : {}) as Record<string, unknown>;
  const message = inPlay.redact(err instanceof Error ? err.message : String(err));
  const clean = new Error(message) as Error & Record<string, unknown>;
  clean.name = typeof source.name === "string" ? inPlay.redact(source.name) : "Error";
  for (const field of KEPT_FIELDS) {
    const value = source[field];
    if (typeof value === "string") clean[field] = inPlay.redact(value);
    else if (value !== undefined && typeof value !== "object") clean[field] = value;
    else if (field === "$retryable" && typeof value === "object" && value !== null) clean[field] = { throttling: (value as { throttling?: unknown }).throttling === true };
  }
  const metadata = source.$metadata as { httpStatusCode?: number; requestId?: string; attempts?: number } | undefined;
  if (metadata) clean.$metadata = { httpStatusCode: metadata.httpStatusCode, requestId: metadata.requestId, attempts: metadata.attempts };
  if (source.cause !== undefined && depth < 4) clean.cause = sanitizeAwsError(source.cause, inPlay, depth + 1);
  clean.stack = `${clean.name}: ${message}\n    at (redacted AWS error: the SDK's stack is not kept)`;
  return clean;
}

function redactPipelineError(err: PipelineError, inPlay: CredentialsInPlay, depth: number): void {
  err.message = inPlay.redact(err.message);
  err.stack = err.stack === undefined ? undefined : inPlay.redact(err.stack);
  if (err instanceof ProblemsError) {
    for (const p of err.problems) {
      p.message = inPlay.redact(p.message);
      if (p.hint !== undefined) p.hint = inPlay.redact(p.hint);
    }
  }
  if (err.cause !== undefined && depth < 4) Object.defineProperty(err, "cause", { value: sanitizeAwsError(err.cause, inPlay, depth + 1), enumerable: false, configurable: true, writable: true });
}

/** Anything with the SDK clients' promise-returning `send`. */
export interface SendingClient {
  send(command: never, ...rest: never[]): Promise<unknown>;
}

/**
 * The same client (same prototype: `instanceof`, `config` and `destroy` still work) whose `send`
 * records the secrets of each command and response and rethrows errors sanitized.
 */
export function redactingClient<C extends SendingClient>(client: C, inPlay: CredentialsInPlay): C {
  const wrapped = Object.create(client) as C;
  // Looked up at each call, not bound once: the client's own `send` may be replaced later (test doubles).
  const send = (command: { input?: unknown }, ...rest: unknown[]) => (client.send as (c: unknown, ...r: unknown[]) => Promise<unknown>).call(client, command, ...rest);
  Object.defineProperty(wrapped, "send", {
    value: async (command: { input?: unknown }, ...rest: unknown[]) => {
      inPlay.harvest(command?.input);
      try {
        const output = await send(command, ...rest);
        inPlay.harvest(output);
        return output;
      } catch (err) {
        throw sanitizeAwsError(err, inPlay);
      }
    },
  });
  return wrapped;
}

/** A credential provider whose results join the credentials in play and whose errors are sanitized. */
export function redactingProvider<A extends unknown[], T extends { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string }>(
  provider: (...args: A) => Promise<T>,
  inPlay: CredentialsInPlay,
): (...args: A) => Promise<T> {
  return async (...args: A) => {
    try {
      const credentials = await provider(...args);
      inPlay.addCredentials(credentials);
      return credentials;
    } catch (err) {
      throw sanitizeAwsError(err, inPlay);
    }
  };
}

/**
 * KMS for env files: decrypt every `kmscrypt::` token of a file, encrypt one value into a token.
 *
 * The AWS call sits behind `KmsPort` (two methods); `kmsPort(client)` implements it with
 * `@aws-sdk/client-kms`. `decryptEnvFile` decrypts each distinct token once, at most
 * `concurrency` at a time (default 8), retries throttling with bounded exponential backoff, and
 * reports every failure at once, naming the KEY, `file:line` and what to check. Plaintext never
 * enters a message, a log line or an error: this module does not log at all, and the client comes
 * from `createAwsClients`, whose redaction (`redaction.ts`) has removed every credential and every
 * plaintext sent or received from AWS's text before it gets here.
 */
import { DecryptCommand, EncryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import { PipelineError, ProblemsError, type Problem } from "../lib/errors.js";
import {
  byLine,
  collectTokens,
  decodeKmsToken,
  envLocation,
  formatEnvFile,
  formatKmsToken,
  parseEnvFile,
  replaceTokens,
  tokenProblems,
  type EnvEntry,
  type EnvFile,
} from "../lib/env-file.js";
import { awsErrorName, awsErrorText, isCredentialError } from "./aws-errors.js";

/** The two KMS operations env files need. */
export interface KmsPort {
  decrypt(ciphertext: Uint8Array): Promise<Uint8Array>;
  encrypt(keyId: string, plaintext: Uint8Array): Promise<Uint8Array>;
}

export interface KmsPortOptions {
  /**
   * Pin decryption to this key (id, ARN, alias): KMS then refuses tokens of any other key with
   * IncorrectKeyException. Off by default (KMS finds the key from the ciphertext blob).
   */
  decryptKeyId?: string;
}

/** `KmsPort` over a real `KMSClient` (share one from `createAwsClients(...).kms()`). */
export function kmsPort(client: KMSClient, options: KmsPortOptions = {}): KmsPort {
  return {
    async decrypt(ciphertext) {
      const out = await client.send(new DecryptCommand({ CiphertextBlob: ciphertext, ...(options.decryptKeyId ? { KeyId: options.decryptKeyId } : {}) }));
      if (!out.Plaintext) throw Object.assign(new Error("KMS returned no plaintext"), { name: "EmptyResponse" });
      return out.Plaintext;
    },
    async encrypt(keyId, plaintext) {
      const out = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
      if (!out.CiphertextBlob) throw Object.assign(new Error("KMS returned no ciphertext"), { name: "EmptyResponse" });
      return out.CiphertextBlob;
    },
  };
}

export interface RetryOptions {
  /** Tries per token, including the first (default 5). */
  attempts?: number;
  /** First backoff (default 100 ms); doubles each retry up to `maxDelayMs` (default 2000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected for tests; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1): the delay is d/2 + random()*d/2. */
  random?: () => number;
}

export interface KmsContext {
  /** The environment whose file this is (used in fixes: `encrypt-value --env <env>`). */
  environment?: string;
  /** The KMS client's region, named in wrong-region hints. */
  region?: string;
  /** The configured key (`environments.<env>.kmsKeyId`), named in hints. */
  keyId?: string;
}

export interface DecryptEnvOptions extends RetryOptions, KmsContext {
  /** Decryptions in flight at most (default 8). */
  concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 8;
const DEFAULT_ATTEMPTS = 5;

/** Transient KMS errors worth another try (throttling first of all). */
const RETRYABLE = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "KMSInternalException",
  "DependencyTimeoutException",
  "KeyUnavailableException",
]);

/**
 * Decrypt every token of `file` and return the file with plaintext values (render it with
 * `formatEnvFile`). Throws ENV_FILE_INVALID for invalid tokens (before any KMS call),
 * AWS_CREDENTIALS_INVALID (once) when the credentials are refused, or KMS_DECRYPT_FAILED listing
 * each failed KEY at `file:line` with the cause.
 */
export async function decryptEnvFile(file: EnvFile, kms: KmsPort, options: DecryptEnvOptions = {}): Promise<EnvFile> {
  const invalid = tokenProblems(file);
  if (invalid.length > 0) throw new ProblemsError("ENV_FILE_INVALID", `${file.path} is invalid`, invalid);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new PipelineError("ARGUMENT_INVALID", `--concurrency ${concurrency} must be a whole number of at least 1`, { hint: `omit it to use ${DEFAULT_CONCURRENCY}` });
  }

  const tokens = [...collectTokens(file)];
  const decrypted = new Map<string, string>();
  const failures: Array<{ users: EnvEntry[]; err: unknown; attempts: number }> = [];

  await mapWithConcurrency(tokens, concurrency, async ([ciphertext, users]) => {
    const first = users[0]!;
    const blob = decodeKmsToken(first.tokens.find((t) => t.ciphertext === ciphertext)!, `${first.key} at ${envLocation(file, first)}`);
    let attempts = 0;
    try {
      const plaintext = await withRetry(() => {
        attempts++;
        return kms.decrypt(blob);
      }, options);
      decrypted.set(ciphertext, decodeUtf8(plaintext));
    } catch (err) {
      failures.push({ users, err, attempts });
    }
  });

  if (failures.length > 0) {
    // A refused credential or role fails every token the same way: say it once.
    const shared = failures.find((f) => f.err instanceof PipelineError || isCredentialError(f.err));
    if (shared) {
      if (shared.err instanceof PipelineError) throw shared.err;
      throw new PipelineError("AWS_CREDENTIALS_INVALID", `KMS refused the credentials while decrypting ${file.path} (${awsErrorName(shared.err)}: ${awsErrorText(shared.err)})`, {
        hint: "pass fresh AWS credentials (for temporary keys, the session token of the same session)",
        cause: shared.err,
      });
    }
    const problems: Problem[] = [];
    for (const f of failures) {
      const why = describeDecryptFailure(f.err, f.attempts, options);
      for (const entry of f.users) problems.push({ path: envLocation(file, entry), message: `${entry.key}: ${why.message}`, hint: why.hint });
    }
    problems.sort(byLine);
    const error = new ProblemsError("KMS_DECRYPT_FAILED", `${file.path}: ${problems.length} value${problems.length === 1 ? "" : "s"} could not be decrypted`, problems);
    Object.defineProperty(error, "cause", { value: failures[0]!.err, enumerable: false });
    throw error;
  }
  return replaceTokens(file, decrypted);
}

/** Parse, decrypt and render in one go: the text injected as a Dagger `Secret`. */
export async function decryptEnvText(text: string, path: string, kms: KmsPort, options: DecryptEnvOptions = {}): Promise<string> {
  return formatEnvFile(await decryptEnvFile(parseEnvFile(text, path), kms, options));
}

/** KMS accepts at most 4096 bytes of plaintext. */
export const MAX_PLAINTEXT_BYTES = 4096;

/**
 * Encrypt one value under `keyId` and return the `kmscrypt::<base64>` token to paste into the
 * env file. A single trailing newline (as `file:` secrets have) is dropped; other line breaks are
 * refused, because an env file value is one line.
 */
export async function encryptValue(kms: KmsPort, keyId: string, plaintext: string, options: RetryOptions & KmsContext = {}): Promise<string> {
  const value = plaintext.replace(/\r?\n$/, "");
  const refuse = (message: string, hint: string) => new PipelineError("KMS_ENCRYPT_FAILED", message, { hint });
  if (value === "") throw refuse("the value to encrypt is empty", "pass the secret as --value env:MY_SECRET with MY_SECRET set and non-empty");
  if (/[\r\n\0]/.test(value)) {
    throw refuse("the value to encrypt contains a line break or NUL, which an env file value cannot hold", "encrypt a single-line value (base64-encode multi-line data such as PEM keys first)");
  }
  const bytes = new TextEncoder().encode(value);
  if (bytes.length > MAX_PLAINTEXT_BYTES) {
    throw refuse(`the value to encrypt is ${bytes.length} bytes; KMS encrypts at most ${MAX_PLAINTEXT_BYTES}`, "store large data elsewhere (e.g. S3) and keep its location in the env file");
  }
  let attempts = 0;
  try {
    const blob = await withRetry(() => {
      attempts++;
      return kms.encrypt(keyId, bytes);
    }, options);
    return formatKmsToken(blob);
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    const name = awsErrorName(err);
    const detail = `${name}: ${awsErrorText(err)}`;
    const region = options.region ? ` in ${options.region}` : "";
    const env = options.environment ?? "<env>";
    const [message, hint] =
      name === "AccessDeniedException"
        ? [`access denied encrypting with ${keyId}${region}`, `allow kms:Encrypt on ${keyId} for the credentials in use, in the key policy and their IAM policy`]
        : name === "NotFoundException"
          ? [`KMS key ${keyId} does not exist${region}`, `check environments.${env}.kmsKeyId and environments.${env}.region in the pipeline config`]
          : name === "DisabledException" || name === "KMSInvalidStateException"
            ? [`KMS key ${keyId} is disabled or pending deletion`, "enable the key (or cancel its deletion) in the KMS console"]
            : RETRYABLE.has(name)
              ? [`KMS kept refusing (${name}) after ${attempts} attempts`, "retry in a minute"]
              : isCredentialError(err)
                ? [`KMS refused the credentials`, "pass fresh AWS credentials"]
                : [`encrypting with ${keyId}${region} failed`, "the error name above says what KMS refused"];
    throw new PipelineError(isCredentialError(err) ? "AWS_CREDENTIALS_INVALID" : "KMS_ENCRYPT_FAILED", `${message} (${detail})`, { hint, cause: err });
  }
}

/** Run `fn` on each item with at most `limit` in flight; results in input order. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Retry transient KMS errors with bounded exponential backoff (and jitter). */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      const d = Math.min(max, base * 2 ** (attempt - 1));
      await sleep(Math.round(d / 2 + random() * (d / 2)));
    }
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof PipelineError) return false;
  const retryable = (err as { $retryable?: { throttling?: boolean } } | null)?.$retryable;
  return RETRYABLE.has(awsErrorName(err)) || retryable?.throttling === true;
}

/** What went wrong with one token, and what to check. Never includes the value. */
export function describeDecryptFailure(err: unknown, attempts: number, ctx: KmsContext): { message: string; hint: string } {
  const name = awsErrorName(err);
  const detail = `${name}: ${awsErrorText(err)}`;
  const region = ctx.region ? ` ${ctx.region}` : "";
  const env = ctx.environment ?? "<env>";
  const key = ctx.keyId ? ` (${ctx.keyId})` : "";
  const reencrypt = `re-encrypt it with dagger call encrypt-value --env ${env} --value env:<KEY> and replace the token`;
  const regionHint = `the pipeline decrypts in region${region || " <region>"} (environments.${env}.region): a token made in another region or account cannot be decrypted there`;
  switch (name) {
    case "AccessDeniedException":
      return {
        message: `access denied by KMS (${detail})`,
        hint: `allow kms:Decrypt on the environment's key${key} for the credentials in use: in their IAM policy and in the key policy`,
      };
    case "IncorrectKeyException":
      return { message: `the token was encrypted under a different KMS key than the one requested (${detail})`, hint: `wrong key: ${reencrypt} with the ${env} key${key}` };
    case "InvalidCiphertextException":
      return { message: `KMS rejected the ciphertext: the token is corrupted, or was made with another key, region or encryption context (${detail})`, hint: `${regionHint}; otherwise ${reencrypt}` };
    case "NotFoundException":
      return { message: `the KMS key of this token does not exist in${region || " this region"} (${detail})`, hint: regionHint };
    case "DisabledException":
    case "KMSInvalidStateException":
      return { message: `the KMS key of this token is disabled or pending deletion (${detail})`, hint: "enable the key (or cancel its deletion) in the KMS console" };
    case "UTF8":
      return { message: "the decrypted value is not UTF-8 text", hint: `encrypt text only; ${reencrypt}` };
    default:
      if (RETRYABLE.has(name) || isRetryable(err)) {
        return {
          message: `KMS kept refusing (${name}) after ${attempts} attempt${attempts === 1 ? "" : "s"}`,
          hint: "lower --concurrency, retry later, or raise the account's KMS request quota",
        };
      }
      return { message: `decryption failed (${detail})`, hint: "the error name says what KMS refused" };
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw Object.assign(new Error("plaintext is not UTF-8"), { name: "UTF8" });
  }
}


/**
 * Every failure the pipeline reports on purpose is a `PipelineError` with a stable `code` from
 * this one table. The message must stand alone (it is all a CI log shows) and `hint` says how to
 * fix it. Codes never change meaning once released; add new ones instead.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: "the pipeline configuration failed validation",
  CONFIG_UNREADABLE: "the pipeline configuration file is not valid JSON/YAML",
  REF_INVALID: "the branch, tag or sha given cannot be resolved",
  FEATURE_NAME_INVALID: "a feature branch name is not an RFC 1123 label (letters, digits, inner dashes, short enough)",
  ENVIRONMENT_UNKNOWN: "an environment name is not configured",
  SOURCE_FILE_MISSING: "a file the pipeline needs is missing from the source directory",
  ARGUMENT_INVALID: "a command-line argument is missing or out of range",
  TIMINGS_INVALID: "a timings file cannot be parsed",
  SHARD_PLAN_INVALID: "a shard plan cannot be made from the inputs",
  JUNIT_INVALID: "a JUnit XML report cannot be parsed",
  TESTS_FAILED: "one or more examples failed",
  HCL_INVALID: "a terragrunt.hcl file cannot be edited",
  HCL_ATTRIBUTE_MISSING: "a terragrunt.hcl file lacks the attribute to set",
  GIT_FAILED: "a git operation on the infrastructure-live repository failed",
  GIT_PUSH_CONFLICT: "the infrastructure-live push kept being rejected",
  REGISTRY_UNREACHABLE: "the image registry cannot be reached",
  REGISTRY_AUTH_FAILED: "the image registry refused the credentials",
  REGISTRY_REPOSITORY_MISSING: "the image repository does not exist",
  REGISTRY_AUTH_CHALLENGE_INVALID: "the registry named a token service that is not a URL or cannot be trusted with the credentials",
  AWS_CREDENTIALS_INVALID: "AWS credentials are missing, malformed or expired",
  AWS_ASSUME_ROLE_FAILED: "the deploy role could not be assumed",
  KMS_DECRYPT_FAILED: "a kmscrypt value could not be decrypted",
  KMS_ENCRYPT_FAILED: "a value could not be encrypted",
  ENV_FILE_INVALID: "an env file has malformed or duplicate lines",
  ENV_FILE_PLAINTEXT_SECRET: "an env file holds a plaintext value for a secret-looking key",
  TERRAGRUNT_FAILED: "terragrunt failed on a unit",
  BUILD_FAILED: "an image build failed",
  PUSH_FAILED: "an image push failed",
  CHECKOUT_DIRTY: "the checkout has uncommitted changes and the command deploys it",
  CHECKOUT_UNREADABLE: "the commit or branch was not given and cannot be read from the project's git checkout",
  FILE_WRITE_FAILED: "a file a command edits could not be written",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface PipelineErrorOptions {
  /** How to fix it, one or two sentences, naming the flag or file. */
  hint?: string;
  cause?: unknown;
}

/** Base class: `[CODE] message` plus a hint line, so a log line alone tells what to do. */
export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: PipelineErrorOptions = {}) {
    super(formatErrorMessage(code, message, options.hint), { cause: options.cause });
    this.name = "PipelineError";
    this.code = code;
    this.hint = options.hint;
  }
}

/** Pure formatter for the text a user sees; unit-tested so the shape stays stable. */
export function formatErrorMessage(code: ErrorCode, message: string, hint?: string): string {
  return hint ? `[${code}] ${message}\n  fix: ${hint}` : `[${code}] ${message}`;
}

/** One problem at one path of a structured input (config key, file:line, flag). */
export interface Problem {
  path: string;
  message: string;
  hint?: string;
}

/** Several problems found at once (config validation, env-file lint): all are reported together. */
export class ProblemsError extends PipelineError {
  readonly problems: Problem[];

  constructor(code: ErrorCode, subject: string, problems: Problem[]) {
    super(code, `${subject}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${formatProblems(problems)}`);
    this.name = "ProblemsError";
    this.problems = problems;
  }
}

export function formatProblems(problems: Problem[]): string {
  return problems
    .map((p) => `  - ${p.path}: ${p.message}${p.hint ? ` (fix: ${p.hint})` : ""}`)
    .join("\n");
}

/** What went wrong, without the `[CODE] ` prefix and the `fix:` line (to quote inside another report). */
export function errorDetail(err: unknown): string {
  return err instanceof PipelineError ? err.message.replace(/^\[\w+\] /, "").replace(/\n\s+fix: [\s\S]*$/, "") : errorMessage(err);
}

/** Narrow an unknown thrown value to a message without losing PipelineError text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A file the pipeline needs is not in the application repository (same words for Dagger and the CLIs). */
export function missingSourceFile(name: string, why: string): PipelineError {
  return new PipelineError("SOURCE_FILE_MISSING", `${name} is missing from the source directory (${why})`, {
    hint: `pass the application repository with --source <dir>, and commit ${name} there`,
  });
}

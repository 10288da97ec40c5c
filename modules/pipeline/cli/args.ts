/**
 * The conventions every npm-script CLI shares (`npm run --silent <cli> -- --flag value`):
 *
 * - `parseFlags(argv, spec)` turns `--name value` / `--name=value` / `--switch` into a typed record.
 *   Numbers are decimal only (`0x10` is refused, not read as 16), within `min`/`max`; a flag given
 *   twice is refused (which one was meant?); positionals are refused. Every problem is a
 *   `PipelineError("ARGUMENT_INVALID")` whose message starts with the command and names the flag.
 * - `--help` (or `-h`) prints the command's summary, its flags with their defaults and the exit
 *   statuses, and exits 0.
 * - `runCli(main)` prints a `PipelineError` as its message and `fix:` line (no stack trace) and exits
 *   with `exitStatusFor(code)`:
 *     0  success
 *     2  a usage or input error: a bad flag, or an input file that is missing, unreadable or invalid
 *        (the codes in INPUT_ERROR_CODES): change the command or the file and run it again
 *     1  an operation that failed (writing a file, git, a registry) or a bug (printed with its stack)
 *
 * Built on `parseArgs` from `node:util`; values are validated here so messages stay ours.
 */
import { parseArgs } from "node:util";
import { PipelineError, errorMessage, type ErrorCode } from "../src/lib/errors.js";

/** How one flag is read. `integer` and `number` are parsed from the string value and checked. */
export type FlagSpec =
  | { type: "string"; description?: string; required?: boolean; default?: string; choices?: readonly string[] }
  | { type: "integer"; description?: string; required?: boolean; default?: number; min?: number; max?: number }
  | { type: "number"; description?: string; required?: boolean; default?: number; min?: number; max?: number }
  | { type: "boolean"; description?: string; default?: boolean };

export type FlagsSpec = Record<string, FlagSpec>;

type BaseValue<F extends FlagSpec> = F extends { type: "string"; choices: readonly (infer C)[] }
  ? C
  : F extends { type: "string" }
    ? string
    : F extends { type: "integer" | "number" }
      ? number
      : boolean;

/** The typed record `parseFlags` returns: required / defaulted / boolean flags are always present. */
export type ParsedFlags<S extends FlagsSpec> = {
  [K in keyof S]: S[K] extends { required: true } | { default: unknown } | { type: "boolean" }
    ? BaseValue<S[K]>
    : BaseValue<S[K]> | undefined;
};

export interface ParseFlagsOptions {
  /** The command shown in messages, e.g. `npm run shards --`. */
  command?: string;
  /** What the command does, for `--help` (a paragraph). */
  summary?: string;
}

/** Exit statuses of every CLI (see the module comment). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/**
 * The codes that mean "change the command or the files you gave it": they exit 2. Every other code
 * (a registry, git, AWS or a write that failed, tests that failed) is a failed operation and exits 1,
 * and so does a code added later until it is listed here.
 */
export const INPUT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set([
  "ARGUMENT_INVALID",
  "CONFIG_INVALID",
  "CONFIG_UNREADABLE",
  "REF_INVALID",
  "FEATURE_NAME_INVALID",
  "ENVIRONMENT_UNKNOWN",
  "SOURCE_FILE_MISSING",
  "TIMINGS_INVALID",
  "SHARD_PLAN_INVALID",
  "JUNIT_INVALID",
  "HCL_INVALID",
  "HCL_ATTRIBUTE_MISSING",
  "ENV_FILE_INVALID",
  "ENV_FILE_PLAINTEXT_SECRET",
  "AWS_CREDENTIALS_INVALID",
  "CHECKOUT_DIRTY",
  "CHECKOUT_UNREADABLE",
] satisfies ErrorCode[]);

/** 2 when the input must change (a usage or input error), 1 when an operation failed. */
export function exitStatusFor(code: ErrorCode): number {
  return INPUT_ERROR_CODES.has(code) ? EXIT.USAGE : EXIT.FAILED;
}

/** Thrown by `parseFlags` for `--help`; `runCli` prints the text and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

const INTEGER = /^[-+]?\d+$/;
const DECIMAL = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parse `argv` (without node and script, i.e. `process.argv.slice(2)`) against `spec`.
 * Throws `PipelineError("ARGUMENT_INVALID")` naming the offending flag, or `HelpRequested`.
 */
export function parseFlags<const S extends FlagsSpec>(argv: readonly string[], spec: S, options: ParseFlagsOptions = {}): ParsedFlags<S> {
  const command = options.command ?? "this command";
  const usage = formatUsage(spec);
  if (argv.some((arg) => arg === "--help" || arg === "-h")) throw new HelpRequested(formatHelp(spec, options));
  const nodeOptions: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, flag] of Object.entries(spec)) nodeOptions[name] = { type: flag.type === "boolean" ? "boolean" : "string" };

  let parsed: { values: Record<string, string | boolean | undefined>; tokens: Array<{ kind: string; name?: string; value?: string }> };
  try {
    parsed = parseArgs({ args: [...argv], options: nodeOptions, strict: true, allowPositionals: false, tokens: true }) as typeof parsed;
  } catch (err) {
    throw fromNodeError(err, command, usage);
  }
  refuseRepeatedFlags(parsed.tokens, command);

  const out: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec)) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      if ("required" in flag && flag.required) {
        throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} is required`, {
          hint: `pass --${name} <${flag.type === "string" ? "value" : flag.type}>${flag.description ? ` (${flag.description})` : ""}; usage: ${usage}`,
        });
      }
      out[name] = flag.default ?? (flag.type === "boolean" ? false : undefined);
      continue;
    }
    out[name] = convert(name, flag, raw, command);
  }
  return out as ParsedFlags<S>;
}

/** `--shards 8 --shards 4` silently meant 4; say which values clashed instead. */
function refuseRepeatedFlags(tokens: ReadonlyArray<{ kind: string; name?: string; value?: string }>, command: string): void {
  const seen = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.name === undefined) continue;
    const values = seen.get(token.name) ?? [];
    values.push(token.value ?? "(set)");
    seen.set(token.name, values);
    if (values.length > 1) {
      throw new PipelineError("ARGUMENT_INVALID", `${command}: --${token.name} is given ${values.length} times (${values.map((v) => JSON.stringify(v)).join(", then ")})`, {
        hint: `pass --${token.name} once`,
      });
    }
  }
}

function convert(name: string, flag: FlagSpec, raw: string | boolean, command: string): unknown {
  if (flag.type === "boolean") return raw === true;
  const text = String(raw);
  if (flag.type === "string") {
    if (flag.choices && !flag.choices.includes(text)) {
      throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} ${JSON.stringify(text)} is not one of ${flag.choices.join(", ")}`, {
        hint: `pass --${name} ${flag.choices.join("|")}`,
      });
    }
    return text;
  }
  const integer = flag.type === "integer";
  const kind = integer ? "a whole number" : "a number";
  const value = (integer ? INTEGER : DECIMAL).test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
    throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} ${JSON.stringify(text)} is not ${kind} (decimal digits${integer ? "" : ", a point and an exponent"} only)`, {
      hint: `pass --${name} <${flag.type}>${flag.description ? ` (${flag.description})` : ""}`,
    });
  }
  const { min, max } = flag;
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    const range = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `≥ ${min}` : `≤ ${max}`;
    throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} ${text} must be ${range}`, {
      hint: `pass --${name} with ${kind} ${range}`,
    });
  }
  return value;
}

function fromNodeError(err: unknown, command: string, usage: string): PipelineError {
  const code = (err as { code?: string }).code;
  const message = errorMessage(err);
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return new PipelineError("ARGUMENT_INVALID", `${command}: unknown flag ${flag ?? message}`, { hint: `usage: ${usage} (--help lists them)`, cause: err });
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const problem = message.includes("ambiguous")
      ? "is followed by a value starting with a dash"
      : message.includes("does not take an argument")
        ? "is a switch and takes no value"
        : "is missing its value";
    return new PipelineError("ARGUMENT_INVALID", `${command}: ${flag ?? "a flag"} ${problem}`, {
      hint: problem.includes("dash") ? `write ${flag ?? "--flag"}=<value> for values starting with a dash` : `usage: ${usage}`,
      cause: err,
    });
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const arg = /argument '([^']*)'/.exec(message)?.[1];
    return new PipelineError("ARGUMENT_INVALID", `${command}: unexpected argument ${JSON.stringify(arg ?? message)}`, {
      hint: `every value needs its flag; usage: ${usage}`,
      cause: err,
    });
  }
  return new PipelineError("ARGUMENT_INVALID", `${command}: ${message}`, { hint: `usage: ${usage}`, cause: err });
}

function valueName(flag: FlagSpec): string {
  if (flag.type === "boolean") return "";
  if (flag.type === "string" && flag.choices) return ` ${flag.choices.join("|")}`;
  return ` <${flag.type === "string" ? "value" : flag.type}>`;
}

/** One-line usage from a spec: `--timings <value> --shards <integer> [--format json|text]`. */
export function formatUsage(spec: FlagsSpec): string {
  return Object.entries(spec)
    .map(([name, flag]) => {
      const text = `--${name}${valueName(flag)}`;
      return flag.type !== "boolean" && flag.required ? text : `[${text}]`;
    })
    .join(" ");
}

/** The `--help` text: usage, summary, every flag with its description, range and default, exit statuses. */
export function formatHelp(spec: FlagsSpec, options: ParseFlagsOptions = {}): string {
  const rows = Object.entries(spec).map(([name, flag]) => {
    const notes: string[] = [];
    if (flag.type !== "boolean" && flag.required) notes.push("required");
    if ((flag.type === "integer" || flag.type === "number") && (flag.min !== undefined || flag.max !== undefined)) {
      notes.push(flag.min !== undefined && flag.max !== undefined ? `${flag.min} to ${flag.max}` : flag.min !== undefined ? `≥ ${flag.min}` : `≤ ${flag.max}`);
    }
    if (flag.default !== undefined && flag.default !== "" && flag.default !== false) notes.push(`default ${String(flag.default)}`);
    return [`--${name}${valueName(flag)}`, [flag.description, notes.length ? `(${notes.join(", ")})` : ""].filter(Boolean).join(" ")] as const;
  });
  rows.push(["--help", "print this help"]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `usage: ${options.command ?? "this command"} ${formatUsage(spec)}`,
    ...(options.summary ? ["", options.summary] : []),
    "",
    "flags:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()),
    "",
    "exit status: 0 success; 2 a usage or input error (bad flag, input file missing, unreadable or invalid);",
    "1 a failed operation. Errors print [CODE] message and a fix: line.",
    "",
  ].join("\n");
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exit: (code: number) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  exit: (code) => {
    process.exitCode = code;
  },
};

/**
 * Run a CLI body: `--help` prints to stdout and exits 0; a `PipelineError` prints its message (code,
 * input, fix) to stderr without a stack and exits `exitStatusFor(code)`; anything else is a bug: its
 * stack is printed and the exit status is 1.
 */
export async function runCli(main: (io: CliIo) => Promise<void> | void, io: CliIo = processIo): Promise<void> {
  try {
    await main(io);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(err.text);
      io.exit(EXIT.OK);
    } else if (err instanceof PipelineError) {
      io.stderr(`${err.message}\n`);
      io.exit(exitStatusFor(err.code));
    } else {
      io.stderr(`unexpected error (a bug, please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      io.exit(EXIT.FAILED);
    }
  }
}

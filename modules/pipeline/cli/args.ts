/**
 * A tiny shared flag parser for the npm-script CLIs (`npm run --silent <cli> -- --flag value`).
 *
 * `parseFlags(argv, spec)` turns `--name value` / `--name=value` / `--switch` into a typed record;
 * every problem (unknown flag, missing value, not a number, not one of the choices, missing required
 * flag) is a `PipelineError` with code `ARGUMENT_INVALID` whose message names the flag. `runCli(main)`
 * prints such errors as one paragraph (no stack trace) and sets a non-zero exit code.
 *
 * Built on `parseArgs` from `node:util`; values are validated here so messages stay ours.
 */
import { parseArgs } from "node:util";
import { PipelineError, errorMessage } from "../src/lib/errors.js";

/** How one flag is read. `integer` and `number` are parsed from the string value and checked. */
export type FlagSpec =
  | { type: "string"; description?: string; required?: boolean; default?: string; choices?: readonly string[] }
  | { type: "integer"; description?: string; required?: boolean; default?: number; min?: number }
  | { type: "number"; description?: string; required?: boolean; default?: number; min?: number }
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
}

/**
 * Parse `argv` (without node and script, i.e. `process.argv.slice(2)`) against `spec`.
 * Throws `PipelineError("ARGUMENT_INVALID")` naming the offending flag; positionals are rejected.
 */
export function parseFlags<const S extends FlagsSpec>(argv: readonly string[], spec: S, options: ParseFlagsOptions = {}): ParsedFlags<S> {
  const command = options.command ?? "this command";
  const usage = formatUsage(spec);
  const nodeOptions: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, flag] of Object.entries(spec)) nodeOptions[name] = { type: flag.type === "boolean" ? "boolean" : "string" };

  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: nodeOptions, strict: true, allowPositionals: false }) as {
      values: Record<string, string | boolean | undefined>;
    });
  } catch (err) {
    throw fromNodeError(err, command, usage);
  }

  const out: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec)) {
    const raw = values[name];
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
  const value = text.trim() === "" ? Number.NaN : Number(text);
  const kind = flag.type === "integer" ? "a whole number" : "a number";
  if (!Number.isFinite(value) || (flag.type === "integer" && !Number.isInteger(value))) {
    throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} ${JSON.stringify(text)} is not ${kind}`, {
      hint: `pass --${name} <${flag.type}>${flag.description ? ` (${flag.description})` : ""}`,
    });
  }
  if (flag.min !== undefined && value < flag.min) {
    throw new PipelineError("ARGUMENT_INVALID", `${command}: --${name} ${text} must be ≥ ${flag.min}`, {
      hint: `pass --${name} with ${kind} of at least ${flag.min}`,
    });
  }
  return value;
}

function fromNodeError(err: unknown, command: string, usage: string): PipelineError {
  const code = (err as { code?: string }).code;
  const message = errorMessage(err);
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return new PipelineError("ARGUMENT_INVALID", `${command}: unknown flag ${flag ?? message}`, { hint: `usage: ${usage}`, cause: err });
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const dashValue = message.includes("ambiguous");
    return new PipelineError(
      "ARGUMENT_INVALID",
      `${command}: ${flag ?? "a flag"} ${dashValue ? "is followed by a value starting with a dash" : "is missing its value"}`,
      { hint: dashValue ? `write ${flag ?? "--flag"}=<value> for values starting with a dash` : `usage: ${usage}`, cause: err },
    );
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

/** One-line usage from a spec: `--timings <string> --shards <integer> [--format json|text]`. */
export function formatUsage(spec: FlagsSpec): string {
  return Object.entries(spec)
    .map(([name, flag]) => {
      const value =
        flag.type === "boolean" ? "" : flag.type === "string" && flag.choices ? ` ${flag.choices.join("|")}` : ` <${flag.type === "string" ? "value" : flag.type}>`;
      const text = `--${name}${value}`;
      return flag.type !== "boolean" && flag.required ? text : `[${text}]`;
    })
    .join(" ");
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
 * Run a CLI body: a `PipelineError` prints its message (code, input, fix) to stderr without a stack
 * and exits 2 for `ARGUMENT_INVALID`, 1 otherwise; anything else prints the stack (a bug) and exits 1.
 */
export async function runCli(main: (io: CliIo) => Promise<void> | void, io: CliIo = processIo): Promise<void> {
  try {
    await main(io);
  } catch (err) {
    if (err instanceof PipelineError) {
      io.stderr(`${err.message}\n`);
      io.exit(err.code === "ARGUMENT_INVALID" ? 2 : 1);
    } else {
      io.stderr(`unexpected error (a bug, please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      io.exit(1);
    }
  }
}

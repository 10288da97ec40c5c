/**
 * An application repository on disk (`--source <dir>`) read the way the Dagger module reads its
 * `Directory` (src/source.ts, src/test-suite.ts): the same config file choice, the same spec glob,
 * the same files, so a CLI plans what `dagger call` would. Every file goes through `readInputFile`.
 */
import { existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { CONFIG_FILES, parseConfigText, selectConfigFile } from "../src/lib/config-text.js";
import type { PipelineConfig } from "../src/lib/config.js";
import { missingSourceFile, PipelineError, type ErrorCode } from "../src/lib/errors.js";
import { specGlobMatcher } from "../src/lib/spec-glob.js";
import { readInputFile, readInputText } from "./input-file.js";

/** Throws ARGUMENT_INVALID unless `dir` is a directory. */
export function requireSourceDirectory(dir: string, flag = "--source"): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new PipelineError("ARGUMENT_INVALID", `${flag} ${dir} is not a directory`, { hint: "pass the application's root directory, e.g. --source test/fixtures/rails-api" });
  }
}

/** `pipeline.json` (or `.yaml`) of the repository, validated; the seed defaults when it has none. */
export function readSourceConfig(dir: string): PipelineConfig {
  const name = selectConfigFile(CONFIG_FILES.filter((file) => existsSync(path.join(dir, file))));
  const file = path.join(dir, name ?? CONFIG_FILES[0]);
  const text = name
    ? readInputText(file, { label: `${name} in ${dir}`, code: "CONFIG_UNREADABLE", hint: `make ${name} a file holding the pipeline settings, or remove it to use the defaults` })
    : undefined;
  return parseConfigText(text, file);
}

/** A file of the repository, when it exists (as a regular file: anything else is an error naming it). */
export function readOptionalSourceText(dir: string, name: string, code: ErrorCode, hint: string): string | undefined {
  const file = path.join(dir, name);
  if (!existsSync(file)) return undefined;
  return readInputText(file, { label: `${name} in ${dir}`, code, hint });
}

/** A file the pipeline cannot work without (same message as the Dagger module's `readRequiredFile`). */
export function readRequiredSourceFile(dir: string, name: string, why: string): Buffer {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw missingSourceFile(name, why);
  return readInputFile(file, { label: `${name} in ${dir}`, code: "SOURCE_FILE_MISSING", hint: `commit ${name} as a regular file (${why})` });
}

/**
 * Paths under `dir` that `glob` matches, relative and slash-separated, sorted: what `Directory.glob`
 * returns in the engine (symbolic links are listed, never followed). Only directories on the glob's
 * literal prefix are walked (`spec/` for `spec/**\/*_spec.rb`), as the engine does.
 */
export function listSourceFiles(dir: string, glob: string): string[] {
  const matches = specGlobMatcher(glob);
  const prefix = literalPrefix(glob);
  const start = path.join(dir, prefix);
  if (prefix !== "" && !(existsSync(start) && lstatSync(start).isDirectory())) return [];
  const files: string[] = [];
  const pending = [prefix];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) pending.push(child);
      else if ((entry.isFile() || entry.isSymbolicLink()) && matches(child)) files.push(child);
    }
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The leading directories of a glob without wildcards: `spec/` of `spec/**\/*_spec.rb`. */
function literalPrefix(glob: string): string {
  const segments = glob.trim().replace(/^\.\//, "").split("/");
  const literal: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (/[*?[\]\\]/.test(segment)) break;
    literal.push(segment);
  }
  return literal.join("/");
}

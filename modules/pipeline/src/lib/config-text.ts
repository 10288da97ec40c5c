/**
 * Turn the text of `pipeline.json` / `pipeline.yaml` into a validated config. Pure: the caller
 * reads the file (and lists which of the names exist).
 */
import { parseDocument } from "yaml";
import { PipelineError } from "./errors.js";
import { parseConfig, type PipelineConfig } from "./config.js";

/** The names a repository's config file may have, in the order they are looked for. */
export const CONFIG_FILES = ["pipeline.json", "pipeline.yaml", "pipeline.yml"] as const;

/** Which config file to read, given the names that exist; two at once is a contradiction. */
export function selectConfigFile(existing: readonly string[]): string | undefined {
  const found = CONFIG_FILES.filter((name) => existing.includes(name));
  if (found.length > 1) {
    throw new PipelineError("CONFIG_UNREADABLE", `the repository has ${found.join(" and ")}: only one pipeline config is read`, {
      hint: `keep one of them (merge the settings into ${found[0]} and delete the other)`,
    });
  }
  return found[0];
}

/** `text` undefined means the repository has no config file: the seed defaults apply. */
export function parseConfigText(text: string | undefined, source = "pipeline.json"): PipelineConfig {
  if (text === undefined) return parseConfig(undefined, source);
  const yaml = /\.ya?ml$/.test(source);
  let raw: unknown;
  try {
    raw = yaml ? parseYamlText(text) : JSON.parse(text);
  } catch (err) {
    const where = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    const at = where ? `:${where.line}:${where.col}` : "";
    throw new PipelineError("CONFIG_UNREADABLE", `${source}${at} is not valid ${yaml ? "YAML" : "JSON"}: ${(err as Error).message.split("\n")[0]}`, {
      hint: yaml
        ? `fix the YAML syntax in ${source} (indentation and unclosed brackets are the usual cause)`
        : `fix the JSON syntax in ${source} (a trailing comma or an unquoted key is the usual cause)`,
      cause: err,
    });
  }
  // An explicit `null` is refused (parseConfig), not taken as "no config": `{}` keeps every default.
  return parseConfig(raw, source);
}

/** A YAML document with nothing in it (comments only) means no settings: undefined, not null. */
function parseYamlText(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw doc.errors[0];
  return doc.contents === null ? undefined : doc.toJS();
}

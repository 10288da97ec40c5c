/**
 * Turn the text of `pipeline.json` into a validated config. Pure: the caller reads the file.
 */
import { PipelineError } from "./errors.js";
import { parseConfig, type PipelineConfig } from "./config.js";

/** `text` undefined means the repository has no config file: the seed defaults apply. */
export function parseConfigText(text: string | undefined, source = "pipeline.json"): PipelineConfig {
  if (text === undefined) return parseConfig(undefined, source);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PipelineError("CONFIG_UNREADABLE", `${source} is not valid JSON: ${(err as Error).message}`, {
      hint: `fix the JSON syntax in ${source} (a trailing comma or an unquoted key is the usual cause)`,
      cause: err,
    });
  }
  return parseConfig(raw, source);
}

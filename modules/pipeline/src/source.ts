/**
 * Reading an application repository (a Dagger `Directory`) into the plain data the pure planners take.
 */
import type { Directory } from "@dagger.io/dagger";
import { CONFIG_FILES, parseConfigText, selectConfigFile } from "./lib/config-text.js";
import type { PipelineConfig } from "./lib/config.js";
import type { DependencyFiles } from "./lib/checksum.js";
import { missingSourceFile } from "./lib/errors.js";

/** Read and validate `pipeline.json` (or `.yaml`) if the repository has one; the seed defaults otherwise. */
export async function readConfig(source: Directory): Promise<PipelineConfig> {
  const exists = await Promise.all(CONFIG_FILES.map((name) => source.exists(name)));
  const name = selectConfigFile(CONFIG_FILES.filter((_, i) => exists[i]));
  return parseConfigText(name ? await source.file(name).contents() : undefined, name ?? CONFIG_FILES[0]);
}

/** Read a file the pipeline cannot work without, with an error naming it and the fix. */
export async function readRequiredFile(source: Directory, path: string, why: string): Promise<string> {
  if (!(await source.exists(path))) {
    throw missingSourceFile(path, why);
  }
  return source.file(path).contents();
}

/** The checksum inputs. Read as text (UTF-8), which is byte-exact for the UTF-8 files Ruby uses. */
export async function readDependencyFiles(source: Directory, config: PipelineConfig): Promise<DependencyFiles> {
  const why = "the base image is keyed by its checksum";
  const [gemfile, gemfileLock, dockerfileBase] = await Promise.all([
    readRequiredFile(source, "Gemfile", why),
    readRequiredFile(source, "Gemfile.lock", `${why}; run bundle lock`),
    readRequiredFile(source, config.images.baseDockerfile, why),
  ]);
  const bytes = (s: string) => new TextEncoder().encode(s);
  return { gemfile: bytes(gemfile), gemfileLock: bytes(gemfileLock), dockerfileBase: bytes(dockerfileBase) };
}

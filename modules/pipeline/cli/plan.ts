/**
 * `npm run --silent plan -- --source <dir> --branch <b> | --tag <t> --sha <sha> [--env <env>] [--format json]`
 *
 * The same pure plan as `dagger call plan`, without Dagger: for CI steps and quick checks.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { CONFIG_FILES, parseConfigText, selectConfigFile } from "../src/lib/config-text.js";
import { ENVIRONMENT_NAMES } from "../src/lib/config.js";
import { checkEnvFiles, envFilePath } from "../src/lib/env-check.js";
import { missingSourceFile, PipelineError } from "../src/lib/errors.js";
import { formatPlan, parsePlanFormat } from "../src/lib/plan-format.js";
import { planPipeline } from "../src/lib/plan.js";
import { parseFlags, runCli } from "./args.js";

const FLAGS = {
  source: { type: "string", required: true, description: "the application repository" },
  branch: { type: "string", default: "", description: "the branch being built" },
  tag: { type: "string", default: "", description: "the tag being built" },
  sha: { type: "string", required: true, description: "the full commit sha" },
  env: { type: "string", default: "", description: "force an environment" },
  format: { type: "string", default: "text", choices: ["text", "json"] },
} as const;

function readSourceFile(dir: string, name: string, why: string): Uint8Array {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw missingSourceFile(name, why);
  return readFileSync(file);
}

await runCli((io) => {
  const flags = parseFlags(process.argv.slice(2), FLAGS, { command: "npm run plan --" });
  if (!existsSync(flags.source)) {
    throw new PipelineError("ARGUMENT_INVALID", `--source ${flags.source} does not exist`, { hint: "pass the path of the application repository" });
  }
  const configName = selectConfigFile(CONFIG_FILES.filter((name) => existsSync(path.join(flags.source, name))));
  const configPath = path.join(flags.source, configName ?? CONFIG_FILES[0]);
  const config = parseConfigText(configName ? readFileSync(configPath, "utf8") : undefined, configPath);
  // check-env first, as deploy does: a plaintext prod secret stops the run here.
  const envFiles = ENVIRONMENT_NAMES.map((environment) => {
    const file = path.join(flags.source, envFilePath(environment));
    return { environment, path: envFilePath(environment), text: existsSync(file) ? readFileSync(file, "utf8") : undefined };
  });
  checkEnvFiles(envFiles, { patterns: config.secrets.secretKeyPatterns, allowList: config.secrets.plaintextAllowList });
  const why = "the base image is keyed by its checksum";
  const files = {
    gemfile: readSourceFile(flags.source, "Gemfile", why),
    gemfileLock: readSourceFile(flags.source, "Gemfile.lock", `${why}; run bundle lock`),
    dockerfileBase: readSourceFile(flags.source, config.images.baseDockerfile, why),
  };
  const plan = planPipeline({ config, files, env: flags.env || undefined, ref: { branch: flags.branch, tag: flags.tag, sha: flags.sha } });
  io.stdout(formatPlan(plan, parsePlanFormat(flags.format)));
});

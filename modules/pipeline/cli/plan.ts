/**
 * `npm run --silent plan -- --source <dir> --branch <b> | --tag <t> --sha <sha> [--env <env>] [--format json]`
 *
 * The same pure plan as `dagger call plan`, without Dagger: for CI steps and quick checks. Exit
 * status: see cli/args.ts (2 for a bad flag or input file, 1 for a failed operation).
 */
import { ENVIRONMENT_NAMES } from "../src/lib/config.js";
import { checkEnvFiles, envFilePath } from "../src/lib/env-check.js";
import { formatPlan, parsePlanFormat } from "../src/lib/pipeline-plan-format.js";
import { planPipeline } from "../src/lib/pipeline-plan.js";
import { parseFlags, runCli } from "./args.js";
import { readOptionalSourceText, readRequiredSourceFile, readSourceConfig, requireSourceDirectory } from "./source-dir.js";

const FLAGS = {
  source: { type: "string", required: true, description: "the application repository" },
  branch: { type: "string", default: "", description: "the branch being built" },
  tag: { type: "string", default: "", description: "the tag being built" },
  sha: { type: "string", required: true, description: "the full commit sha" },
  env: { type: "string", default: "", description: "force an environment" },
  format: { type: "string", default: "text", choices: ["text", "json"] },
} as const;

const SUMMARY =
  "Prints the plan dagger call plan makes (environment, image tags, base image checksum, deploy units) from the " +
  "application repository in --source, without Dagger. check-env runs first, as deploy does.";

await runCli((io) => {
  const flags = parseFlags(process.argv.slice(2), FLAGS, { command: "npm run plan --", summary: SUMMARY });
  requireSourceDirectory(flags.source);
  const config = readSourceConfig(flags.source);
  // check-env first, as deploy does: a plaintext prod secret stops the run here.
  const envFiles = ENVIRONMENT_NAMES.map((environment) => {
    const file = envFilePath(environment);
    return { environment, path: file, text: readOptionalSourceText(flags.source, file, "ENV_FILE_INVALID", `make ${file} a file of KEY=value lines`) };
  });
  checkEnvFiles(envFiles, { patterns: config.secrets.secretKeyPatterns, allowList: config.secrets.plaintextAllowList });
  const why = "the base image is keyed by its checksum";
  const files = {
    gemfile: readRequiredSourceFile(flags.source, "Gemfile", why),
    gemfileLock: readRequiredSourceFile(flags.source, "Gemfile.lock", `${why}; run bundle lock`),
    dockerfileBase: readRequiredSourceFile(flags.source, config.images.baseDockerfile, why),
  };
  const plan = planPipeline({ config, files, env: flags.env || undefined, ref: { branch: flags.branch, tag: flags.tag, sha: flags.sha } });
  io.stdout(formatPlan(plan, parsePlanFormat(flags.format)));
});

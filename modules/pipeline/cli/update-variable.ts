/**
 * `npm run --silent update-variable -- --file <terragrunt.hcl> --name <attr> --value <HCL expression>`
 *
 * The seed's `terraform-update-variable` without git: set one attribute of a terragrunt.hcl in place,
 * changing only that value's bytes (comments, alignment, heredocs, line ends and bytes that are not
 * UTF-8 are kept). The value is one HCL expression, so a string carries its quotes:
 * `--value '"v1.2.3"'`; a value that is not one, or an edit that would leave a file HCL cannot parse,
 * is refused and the file is not written.
 *
 * Prints `<file>:<line> <scope>.<name>: <old> -> <new>` (or `unchanged`). Exit status (cli/args.ts):
 * 2 when the flags, the value or the file must change (missing, not a regular file, does not parse,
 * lacks the attribute), 1 when the edited file could not be written.
 */
import { writeFile } from "node:fs/promises";
import { PipelineError } from "../src/lib/errors.js";
import { setHclAttributeInBytes } from "../src/lib/hcl.js";
import { parseFlags, runCli, type CliIo } from "./args.js";
import { readInputFile } from "./input-file.js";

const COMMAND = "npm run update-variable --";

const SPEC = {
  file: { type: "string", required: true, description: "path of the terragrunt.hcl to edit" },
  name: { type: "string", default: "image_version", description: "attribute to set" },
  value: { type: "string", required: true, description: "new value as an HCL expression, e.g. '\"v1.2.3\"'" },
  scope: { type: "string", description: "where the attribute sits: inputs, locals, . (top level); elsewhere only when named, e.g. inputs.env or inputs.listeners[0]" },
} as const;

const SUMMARY =
  "Sets one attribute of a terragrunt.hcl in place, changing only that value's bytes (comments, alignment, " +
  "heredocs and line ends are kept): the write-back of dagger call deploy, without git.";

export async function updateVariable(argv: readonly string[], io: CliIo): Promise<void> {
  const flags = parseFlags(argv, SPEC, { command: COMMAND, summary: SUMMARY });
  const bytes = readInputFile(flags.file, {
    label: `${COMMAND}: --file ${flags.file}`,
    code: "ARGUMENT_INVALID",
    hint: "pass the path of an existing terragrunt.hcl, e.g. dev/us-west-2/dev/apps/rails-api/terragrunt.hcl",
  });
  const result = setHclAttributeInBytes(bytes, { name: flags.name, value: flags.value, file: flags.file, scope: flags.scope });
  const where = `${flags.file}:${result.line} ${result.scope ? `${result.scope}.` : ""}${flags.name}`;
  if (!result.changed) {
    io.stdout(`${where}: already ${flags.value}, unchanged\n`);
    return;
  }
  try {
    await writeFile(flags.file, result.bytes);
  } catch (err) {
    throw new PipelineError("FILE_WRITE_FAILED", `${COMMAND}: --file ${flags.file} could not be written (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
      hint: "check the file's permissions and the free space",
      cause: err,
    });
  }
  io.stdout(`${where}: ${result.previous} -> ${flags.value}\n`);
}

await runCli((io) => updateVariable(process.argv.slice(2), io));

/**
 * `npm run --silent update-variable -- --file <terragrunt.hcl> --name <attr> --value <HCL expression>`
 *
 * The seed's `terraform-update-variable` without git: set one attribute of a terragrunt.hcl in place,
 * changing only that value's bytes (comments, alignment, heredocs, line ends and bytes that are not
 * UTF-8 are kept). The value is one HCL expression, so a string carries its quotes:
 * `--value '"v1.2.3"'`; a value that is not one, or an edit that would leave a file HCL cannot parse,
 * is refused and the file is not written.
 *
 * Prints `<file>:<line> <scope>.<name>: <old> -> <new>` (or `unchanged`); exits 2 on a bad flag or
 * value, 1 when the file is missing, does not tokenize, or lacks the attribute.
 */
import { readFile, writeFile } from "node:fs/promises";
import { PipelineError } from "../src/lib/errors.js";
import { setHclAttributeInBytes } from "../src/lib/hcl.js";
import { parseFlags, runCli, type CliIo } from "./args.js";

const COMMAND = "npm run update-variable --";

const SPEC = {
  file: { type: "string", required: true, description: "path of the terragrunt.hcl to edit" },
  name: { type: "string", default: "image_version", description: "attribute to set" },
  value: { type: "string", required: true, description: "new value as an HCL expression, e.g. '\"v1.2.3\"'" },
  scope: { type: "string", description: "where the attribute sits: inputs, locals, . (top level); elsewhere only when named, e.g. inputs.env or inputs.listeners[0]" },
} as const;

export async function updateVariable(argv: readonly string[], io: CliIo): Promise<void> {
  const flags = parseFlags(argv, SPEC, { command: COMMAND });
  let bytes: Uint8Array;
  try {
    bytes = await readFile(flags.file);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new PipelineError("ARGUMENT_INVALID", `${COMMAND}: --file ${flags.file} ${missing ? "does not exist" : "cannot be read"}`, {
      hint: missing ? "pass the path of an existing terragrunt.hcl, e.g. dev/us-west-2/dev/apps/rails-api/terragrunt.hcl" : "check the file's permissions",
      cause: err,
    });
  }
  const result = setHclAttributeInBytes(bytes, { name: flags.name, value: flags.value, file: flags.file, scope: flags.scope });
  const where = `${flags.file}:${result.line} ${result.scope ? `${result.scope}.` : ""}${flags.name}`;
  if (!result.changed) {
    io.stdout(`${where}: already ${flags.value}, unchanged\n`);
    return;
  }
  await writeFile(flags.file, result.bytes);
  io.stdout(`${where}: ${result.previous} -> ${flags.value}\n`);
}

await runCli((io) => updateVariable(process.argv.slice(2), io));

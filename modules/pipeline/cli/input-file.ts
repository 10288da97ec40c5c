/**
 * Reading a file a CLI was given (a flag's file or a file of the source directory), the one way every
 * npm CLI does it: only a regular file is read (a FIFO would block forever, `/dev/zero` never ends, a
 * directory fails with EISDIR), and at most `MAX_INPUT_BYTES`. Each refusal is a `PipelineError` with
 * the caller's code, naming the file and the fix, never a stack trace.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { PipelineError, type ErrorCode } from "../src/lib/errors.js";

/** Larger inputs are refused: a timings file, a JUnit report or a terragrunt.hcl is far smaller. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export interface InputFile {
  /** How the message names the file: `--timings ./t.json`, `pipeline.json in --source app`. */
  label: string;
  /** The error code of this input's kind (TIMINGS_INVALID, CONFIG_UNREADABLE, ARGUMENT_INVALID, ...). */
  code: ErrorCode;
  /** What to pass instead, said when the file is missing or not a file. */
  hint: string;
  maxBytes?: number;
}

/** The bytes of a regular file; refuses anything else, and anything over the size cap. */
export function readInputFile(path: string, input: InputFile): Buffer {
  const maxBytes = input.maxBytes ?? MAX_INPUT_BYTES;
  const refuse = (why: string, hint = input.hint, cause?: unknown): never => {
    throw new PipelineError(input.code, `${input.label} ${why}`, { hint, cause });
  };
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return refuse("does not exist", input.hint, err);
    if (code === "EACCES" || code === "EPERM") return refuse("cannot be read (permission denied)", "check the file's permissions", err);
    if (code === "EISDIR") return refuse("is a directory, not a file", input.hint, err);
    return refuse(`cannot be opened (${code ?? "error"})`, input.hint, err);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) refuse(`is ${describeKind(stats)}, not a regular file`);
    if (stats.size > maxBytes) refuse(`is ${formatBytes(stats.size)}, more than the ${formatBytes(maxBytes)} an input may have`, "pass the file itself, not an archive or a log of many runs");
    return readAtMost(fd, maxBytes, () => refuse(`grew past ${formatBytes(maxBytes)} while it was read`, "pass a file that is not being written to"));
  } finally {
    closeSync(fd);
  }
}

/** The text of a regular file (UTF-8), with the same checks as `readInputFile`. */
export function readInputText(path: string, input: InputFile): string {
  return readInputFile(path, input).toString("utf8");
}

/** Reads to the end, but never more than `maxBytes`: the size from stat is not a promise. */
function readAtMost(fd: number, maxBytes: number, tooLarge: () => never): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, maxBytes + 1 - total));
    const read = readSync(fd, chunk, 0, chunk.length, null);
    if (read === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, read));
    total += read;
    if (total > maxBytes) tooLarge();
  }
}

function describeKind(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a file";
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;
  return `${bytes} bytes`;
}

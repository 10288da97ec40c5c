/**
 * SSH private keys kept base64-encoded on one line, for CI variables that cannot hold newlines
 * (CircleCI contexts): decoded inside the module, so no CI step writes the key to a file.
 */
import { PipelineError } from "./errors.js";

/** Decode and check a base64 SSH private key; the error never quotes the value. */
export function decodeBase64SshKey(text: string, flag: string): string {
  const compact = text.replace(/\s+/g, "");
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(compact) ? Buffer.from(compact, "base64").toString("utf8") : "";
  if (!/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z0-9 ]*PRIVATE KEY-----\s*$/.test(decoded)) {
    throw new PipelineError("ARGUMENT_INVALID", `${flag} is not a base64-encoded SSH private key`, {
      hint: "store the key as one line made with `base64 -w0 deploy_key` (GNU) or `base64 -i deploy_key` (macOS)",
    });
  }
  return decoded.endsWith("\n") ? decoded : `${decoded}\n`;
}

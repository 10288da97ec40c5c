/**
 * How git authenticates to infrastructure-live, without the secret ever being an argument, part of
 * the URL stored in `.git/config`, or a plain environment variable set by the algorithm.
 *
 * - `token`: the workspace exposes the token as the secret environment variable `tokenEnv`; git gets
 *   an inline credential helper (`git -c credential.helper=...`, not persisted) that prints
 *   `password=$<tokenEnv>` when asked. Works for https URLs (GitHub: any username, default
 *   `x-access-token`).
 * - `ssh`: the workspace holds the private key at `keyFile` (mode 0600); git uses it through
 *   `GIT_SSH_COMMAND` (`-i <keyFile> -o IdentitiesOnly=yes`), host keys from `knownHostsFile` when given.
 * - `none`: local paths, file:// URLs, or credentials already configured where git runs.
 */
import { PipelineError } from "../lib/errors.js";
import { shellQuote } from "../lib/shell.js";

export type GitAuth =
  | { kind: "none" }
  | { kind: "token"; tokenEnv: string; username?: string }
  | { kind: "ssh"; keyFile: string; knownHostsFile?: string; strictHostKeyChecking?: "yes" | "accept-new" };

export interface GitAuthConfig {
  /** Arguments to put right after `git` for network commands (clone, fetch, push). */
  args: string[];
  /** Non-secret environment variables for those commands. */
  env: Record<string, string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The git arguments and environment for `auth`. Pure. */
export function gitAuthConfig(auth: GitAuth = { kind: "none" }): GitAuthConfig {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: "0" };
  switch (auth.kind) {
    case "none":
      return { args: [], env };
    case "token": {
      if (!ENV_NAME.test(auth.tokenEnv)) {
        throw new PipelineError("ARGUMENT_INVALID", `token variable name ${JSON.stringify(auth.tokenEnv)} is not an environment variable name`, {
          hint: "use letters, digits and _, e.g. INFRA_LIVE_TOKEN",
        });
      }
      const username = auth.username ?? "x-access-token";
      if (!/^[\w.@-]+$/.test(username)) {
        throw new PipelineError("ARGUMENT_INVALID", `git username ${JSON.stringify(username)} contains unsupported characters`, {
          hint: "use letters, digits, '.', '@', '_' or '-'",
        });
      }
      // The helper is a shell snippet run by git; it names the variable, the shell reads its value.
      const helper = `!f() { test "$1" = get || exit 0; echo "username=${username}"; echo "password=\${${auth.tokenEnv}}"; }; f`;
      return { args: ["-c", "credential.helper=", "-c", `credential.helper=${helper}`, "-c", "core.askPass="], env };
    }
    case "ssh": {
      const parts = ["ssh", "-i", shellQuote(auth.keyFile), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"];
      parts.push("-o", `StrictHostKeyChecking=${auth.strictHostKeyChecking ?? (auth.knownHostsFile ? "yes" : "accept-new")}`);
      if (auth.knownHostsFile) parts.push("-o", `UserKnownHostsFile=${shellQuote(auth.knownHostsFile)}`);
      return { args: [], env: { ...env, GIT_SSH_COMMAND: parts.join(" ") } };
    }
  }
}

/** Remove user:password@ from a URL before it is shown anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, "$1***@");
}

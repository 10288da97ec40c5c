/**
 * The one seam between the git write-back algorithm and where it runs.
 *
 * `applyInfraWriteBack` (write-back.ts) is written once against this interface. Two implementations:
 * `LocalWorkspace` (child_process + fs; tests and the npm CLIs) and a Dagger container (a `Container`
 * with the checkout as workdir, each `run` a `withExec`). Keep it this small.
 *
 * Contract for implementations:
 * - The workspace is rooted at an EMPTY folder that becomes the checkout (`git clone <url> .`); every
 *   path is relative to that root and every command runs with the root as working directory.
 * - `run` resolves with the exit code and output, it never throws for a non-zero exit (Dagger:
 *   `withExec(cmd, { expect: ReturnType.Any })`). It must really run every call, in order, on the
 *   state left by the previous one: no result caching (Dagger: chain the container and add a
 *   cache-busting variable per write-back, or the clone and push of an earlier run are replayed).
 * - Secrets never travel through `run` arguments or `opts.env`. The workspace itself provides them:
 *   a token as an environment variable of every command (Dagger: `withSecretVariable(name, secret)`;
 *   local: the `secretEnv` constructor option), an SSH key as a file of mode 0600 (Dagger:
 *   `withMountedSecret(path, secret, { mode: 0o600 })`). The algorithm only names the variable or the
 *   key path (see `GitAuth` in git-auth.ts).
 * - Files are bytes: `readFile` returns them exactly (null when the file does not exist), never text
 *   decoded and re-encoded, so a byte that is not UTF-8 survives an edit (Dagger: `File.contents()`
 *   turns such bytes into U+FFFD, see infra-dagger.ts). `writeFile` writes the bytes (a string as
 *   UTF-8) and creates parent folders; `removeTree` removes a file or folder recursively and succeeds
 *   when it is already gone.
 */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra NON-secret environment variables for this command only. */
  env?: Record<string, string>;
}

export interface Workspace {
  run(cmd: string[], opts?: RunOptions): Promise<RunResult>;
  readFile(path: string): Promise<Uint8Array | null>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  removeTree(path: string): Promise<void>;
}

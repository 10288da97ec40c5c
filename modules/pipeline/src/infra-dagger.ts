/**
 * `Workspace` in a Dagger container: the git write-back algorithm (`src/infra/write-back.ts`) runs
 * unchanged inside a small git image (default `alpine/git`, configurable), with the checkout as the
 * container's working directory.
 *
 * - Every `run` is one `withExec(cmd, { expect: ReturnType.Any })` chained on the container left by
 *   the previous call, then `sync()`ed so the next call starts from that state (clone, edits, commit,
 *   push happen in order). A per-workspace `PIPELINE_RUN_ID` variable at the start of the chain keeps
 *   the engine from replaying the clone and push of an earlier run from its cache.
 * - Secrets are the container's, never the algorithm's: an SSH key is mounted with
 *   `withMountedSecret` (mode 0600, owner root) and named by `GIT_SSH_COMMAND`; a token is a
 *   `withSecretVariable` read by the inline credential helper (see `infra/git-auth.ts`).
 * - SSH checks the server strictly (`StrictHostKeyChecking=yes`) against a known_hosts file written
 *   next to the key (`with-git-credentials --known-hosts`, default GitHub's published keys): each
 *   workspace is a fresh container, so `accept-new` would trust whatever answers, every time.
 * - Files are bytes (see the Workspace contract). `File.contents()` and `withNewFile` carry a GraphQL
 *   String, which the engine marshals with Go's encoding/json (engine `dagql/types.go`,
 *   `String.MarshalJSON` -> `json.Marshal`, which replaces bytes that are not UTF-8 with U+FFFD;
 *   `core/schema/file.go` `contents` returns `dagql.NewString(string(content))`). So UTF-8 files
 *   travel as text, and a file whose text shows a U+FFFD (maybe a replaced byte) or that is not
 *   UTF-8 travels as base64 through `base64` in the git container (busybox has it). Removed with
 *   `rm -rf`.
 */
import { dag, ExistsType, ReturnType, type Container, type Directory, type File, type Secret } from "@dagger.io/dagger";
import type { GitAuth } from "./infra/git-auth.js";
import type { RunOptions, RunResult, Workspace } from "./infra/workspace.js";

export const DEFAULT_GIT_IMAGE = "alpine/git:2.47.2";
/** Where the checkout lives in the git container. */
export const GIT_CHECKOUT = "/infra-live";
/** The SSH key's mount point and the token variable in the git container. */
export const GIT_SSH_KEY_PATH = "/run/secrets/infra-live-ssh-key";
export const GIT_TOKEN_ENV = "INFRA_LIVE_TOKEN";
/** The known_hosts file SSH checks the server's host key against. */
export const GIT_KNOWN_HOSTS_PATH = "/run/pipeline/known_hosts";

export interface DaggerWorkspaceOptions {
  /** The git image (needs git, ssh and sh). */
  image?: string;
  sshKey?: Secret;
  token?: Secret;
  /** known_hosts text for SSH (from `resolveKnownHosts`); required with `sshKey`. */
  knownHosts?: string;
  /** The caller's known_hosts file (`--known-hosts`), mounted instead of `knownHosts`. */
  knownHostsFile?: File;
  /** Unique per workspace: busts the engine cache so each clone/push really runs. */
  runId: string;
}

/** The GitAuth the algorithm uses with a DaggerWorkspace holding these secrets. */
export function daggerGitAuth(secrets: { sshKey?: Secret; token?: Secret }): GitAuth {
  if (secrets.sshKey) return { kind: "ssh", keyFile: GIT_SSH_KEY_PATH, knownHostsFile: GIT_KNOWN_HOSTS_PATH, strictHostKeyChecking: "yes" };
  if (secrets.token) return { kind: "token", tokenEnv: GIT_TOKEN_ENV };
  return { kind: "none" };
}

export class DaggerWorkspace implements Workspace {
  /** The container after the last command. */
  private ctr: Container;
  readonly root = GIT_CHECKOUT;

  constructor(options: DaggerWorkspaceOptions) {
    let ctr = dag
      .container()
      .from(options.image ?? DEFAULT_GIT_IMAGE)
      .withEnvVariable("PIPELINE_RUN_ID", options.runId)
      .withEnvVariable("GIT_TERMINAL_PROMPT", "0")
      .withWorkdir(GIT_CHECKOUT);
    if (options.sshKey) {
      ctr = ctr.withMountedSecret(GIT_SSH_KEY_PATH, options.sshKey, { owner: "0:0", mode: 0o600 });
      if (options.knownHostsFile) ctr = ctr.withMountedFile(GIT_KNOWN_HOSTS_PATH, options.knownHostsFile);
      else if (options.knownHosts) ctr = ctr.withNewFile(GIT_KNOWN_HOSTS_PATH, options.knownHosts, { permissions: 0o644 });
      else throw new Error("DaggerWorkspace: an SSH key needs known hosts (resolveKnownHosts)");
    }
    if (options.token) ctr = ctr.withSecretVariable(GIT_TOKEN_ENV, options.token);
    this.ctr = ctr;
  }

  /** The container as it is now (the checkout at GIT_CHECKOUT). */
  container(): Container {
    return this.ctr;
  }

  /** The checkout, e.g. to mount into the terragrunt container. */
  checkout(): Directory {
    return this.ctr.directory(GIT_CHECKOUT);
  }

  async run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const names = Object.keys(opts.env ?? {});
    let next = this.ctr;
    for (const name of names) next = next.withEnvVariable(name, opts.env![name]!);
    next = next.withExec(cmd, { expect: ReturnType.Any });
    for (const name of names) next = next.withoutEnvVariable(name);
    const done = await next.sync();
    const [exitCode, stdout, stderr] = await Promise.all([done.exitCode(), done.stdout(), done.stderr()]);
    this.ctr = done;
    return { exitCode, stdout, stderr };
  }

  async readFile(path: string): Promise<Uint8Array | null> {
    const full = this.abs(path);
    if (!(await this.ctr.exists(full, { expectedType: ExistsType.RegularType }))) return null;
    const text = await this.ctr.file(full).contents();
    if (!text.includes("\uFFFD")) return new TextEncoder().encode(text);
    const r = await this.run(["base64", full]);
    if (r.exitCode !== 0) throw new Error(`base64 ${path} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return new Uint8Array(Buffer.from(r.stdout, "base64"));
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const full = this.abs(path);
    const text = typeof data === "string" ? data : utf8Text(data);
    if (text !== undefined) {
      this.ctr = await this.ctr.withNewFile(full, text, { permissions: 0o644 }).sync();
      return;
    }
    // Not UTF-8: create the file (parents, mode), then fill it with the bytes decoded in the container.
    const b64 = Buffer.from(data).toString("base64");
    this.ctr = await this.ctr.withNewFile(full, "", { permissions: 0o644 }).withExec(["base64", "-d"], { stdin: b64, redirectStdout: full }).sync();
  }

  async removeTree(path: string): Promise<void> {
    const r = await this.run(["rm", "-rf", "--", this.abs(path)]);
    if (r.exitCode !== 0) throw new Error(`rm -rf ${path} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  }

  private abs(path: string): string {
    const clean = path.replace(/^\.\/+/, "");
    if (clean.startsWith("/") || clean.split("/").includes("..")) throw new Error(`path ${path} escapes the workspace ${GIT_CHECKOUT}`);
    return clean === "" || clean === "." ? GIT_CHECKOUT : `${GIT_CHECKOUT}/${clean}`;
  }
}

/** The bytes as text when they are UTF-8 (a String carries them exactly), else undefined. */
function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

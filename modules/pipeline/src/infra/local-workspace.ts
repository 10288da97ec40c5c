/**
 * `Workspace` on the local machine: commands through child_process, files through node:fs.
 * Used by the integration tests and the npm CLIs; the Dagger module has its own container-backed one.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RunOptions, RunResult, Workspace } from "./workspace.js";

export interface LocalWorkspaceOptions {
  /**
   * Secret environment variables given to every command (e.g. `{ INFRA_LIVE_TOKEN: token }`).
   * They are passed in the child's environment only: never in arguments, files or logs.
   */
  secretEnv?: Record<string, string>;
  /** Base environment; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

export class LocalWorkspace implements Workspace {
  readonly root: string;
  private readonly secretEnv: Record<string, string>;
  private readonly baseEnv: NodeJS.ProcessEnv;

  /** `root` must exist and be empty before the clone (see `createLocalWorkspace`). */
  constructor(root: string, options: LocalWorkspaceOptions = {}) {
    this.root = path.resolve(root);
    this.secretEnv = options.secretEnv ?? {};
    this.baseEnv = options.env ?? process.env;
  }

  run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = cmd;
    if (!file) return Promise.reject(new Error("LocalWorkspace.run: empty command"));
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        cwd: this.root,
        env: { ...this.baseEnv, ...opts.env, ...this.secretEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }

  async readFile(file: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.resolve(file));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw err;
    }
  }

  async writeFile(file: string, data: Uint8Array | string): Promise<void> {
    const target = this.resolve(file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, data);
  }

  async removeTree(file: string): Promise<void> {
    await rm(this.resolve(file), { recursive: true, force: true });
  }

  /** Paths stay inside the root. */
  private resolve(file: string): string {
    const target = path.resolve(this.root, file);
    if (target !== this.root && !target.startsWith(this.root + path.sep)) throw new Error(`path ${file} escapes the workspace ${this.root}`);
    return target;
  }
}

/** A LocalWorkspace in a new empty folder `<parent>/<prefix>XXXXXX`. */
export async function createLocalWorkspace(parent: string, options: LocalWorkspaceOptions & { prefix?: string } = {}): Promise<LocalWorkspace> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, options.prefix ?? "infra-live-"));
  return new LocalWorkspace(dir, options);
}

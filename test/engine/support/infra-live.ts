/**
 * A local infrastructure-live for the engine tests: a bare git repository with the dev units
 * (clockwork, sidekiq, rails-api) and the feature template folder, served read-write by
 * `git daemon` so the pipeline's git container inside the engine can clone and push it.
 *
 * The daemon listens on the engine network's gateway address on this host (the engine runs in
 * the host's network namespace, so its containers reach this host there); the repository URL is
 * `git://<address>:<port>/infrastructure-live.git`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { seedInfraLive } from "../../support/infra-live-seed.js";

export const DEV_UNITS = ["clockwork", "sidekiq", "rails-api"];

export interface InfraLive {
  /** The bare repository on this host. */
  bare: string;
  url: string;
  /** `git show main:<file>` of the bare repository ("" when missing). */
  show(file: string): string;
  log(): string[];
  close(): void;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

async function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export async function startInfraLive(address: string, port: number): Promise<InfraLive> {
  const root = mkdtempSync(path.join(tmpdir(), "engine-infra-live-"));
  const bare = path.join(root, "infrastructure-live.git");
  const seed = path.join(root, "seed");
  seedInfraLive(bare, seed, DEV_UNITS, { "dev/us-west-2/dev/apps/features/README.md": "feature environments\n" });
  const daemon: ChildProcess = spawn(
    "git",
    ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${root}`, `--listen=${address}`, `--port=${port}`, root],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 10_000;
  while (!(await listening(address, port))) {
    if (Date.now() > deadline) throw new Error(`git daemon did not listen on ${address}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    bare,
    url: `git://${address}:${port}/infrastructure-live.git`,
    show: (file) => {
      try {
        return git(bare, "show", `main:${file}`);
      } catch {
        return "";
      }
    },
    log: () => git(bare, "log", "--format=%s", "main").split("\n"),
    close: () => daemon.kill(),
  };
}

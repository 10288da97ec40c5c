/**
 * The `dagger` CLI as the engine tests run it: in the example app (test/fixtures/rails-api, whose
 * dagger.json uses this module as its blueprint, as a user's repository would),
 * against the engine named by `_EXPERIMENTAL_DAGGER_RUNNER_HOST`, with telemetry and update checks
 * off and no Dagger Cloud token, so nothing leaves this machine. Every call's wall time and result
 * is appended to a results file the README table is made from.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** Where the calls run: the example app, set up as a user's repository (its dagger.json uses this module as its blueprint). */
export const EXAMPLE_APP = path.join(REPO_ROOT, "test/fixtures/rails-api");
/** The CLI: DAGGER_BIN, else `dagger` on PATH. */
export const DAGGER_BIN = process.env.DAGGER_BIN ?? "dagger";
/** One JSON line per call: { call, ms, ok, exitCode, engineVersion }. */
export const RESULTS_FILE = process.env.PIPELINE_ENGINE_RESULTS ?? path.join(os.tmpdir(), "pipeline-engine-results.jsonl");

/** The environment every dagger process gets: no telemetry, no cloud, no update check. */
export function daggerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DO_NOT_TRACK: "1", DAGGER_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...extra };
  delete env.DAGGER_CLOUD_TOKEN;
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return env;
}

export interface DaggerRun {
  args: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `dagger <args>` to the end; never rejects for a non-zero exit (see exitCode). */
export function dagger(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; label?: string } = {}): Promise<DaggerRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(DAGGER_BIN, ["--progress=plain", ...args], { cwd: EXAMPLE_APP, env: daggerEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 45 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const run = { args, exitCode: code ?? -1, stdout, stderr, ms: Date.now() - started };
      record(opts.label ?? `dagger ${args.join(" ")}`, run);
      resolve(run);
    });
  });
}

/** Start `dagger <args>` and leave it running (e.g. `serve ... up`); the caller stops it. */
export function daggerInBackground(args: string[], opts: { env?: Record<string, string> } = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(DAGGER_BIN, ["--progress=plain", ...args], { cwd: EXAMPLE_APP, env: daggerEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return { child, output: () => output };
}

/** The last lines of a run's output, for assertion messages. */
export function tail(run: Pick<DaggerRun, "stdout" | "stderr">, lines = 40): string {
  return `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-lines).join("\n");
}

export function record(call: string, run: Pick<DaggerRun, "exitCode" | "ms">): void {
  appendFileSync(RESULTS_FILE, `${JSON.stringify({ call, ms: run.ms, ok: run.exitCode === 0, exitCode: run.exitCode, at: new Date().toISOString() })}\n`);
}

/**
 * `npm run test:engine` runs only against a Dagger engine that is already running. Before any test,
 * this checks everything the calls need and fails the run with one message naming each missing
 * piece and how to provide it:
 * - the Dagger CLI (DAGGER_BIN or `dagger` on PATH) and `_EXPERIMENTAL_DAGGER_RUNNER_HOST` naming the
 *   engine (without it the CLI would try to pull and start an engine image from a public registry);
 * - the engine answering (`dagger core version`);
 * - the loopback registry the engine mirrors docker.io from, serving every fixture image
 *   (`npx tsx test/engine/images/build.ts` builds and pushes them).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DAGGER_BIN, daggerEnv, REPO_ROOT } from "./dagger-cli.js";
import { ENGINE_MIRROR, missingFixtureImages } from "./fixture-images.js";

const run = promisify(execFile);

export interface EngineCheck {
  problems: string[];
  engineVersion?: string;
  cliVersion?: string;
}

export async function checkEngine(): Promise<EngineCheck> {
  const problems: string[] = [];
  const out: EngineCheck = { problems };
  try {
    out.cliVersion = (await run(DAGGER_BIN, ["version"], { env: daggerEnv(), timeout: 30_000 })).stdout.trim();
  } catch (err) {
    problems.push(`the Dagger CLI: ${DAGGER_BIN} did not run (${(err as Error).message.split("\n")[0]}); put dagger v0.21.9 on PATH or set DAGGER_BIN`);
  }
  const runner = process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST;
  if (!runner) {
    problems.push("the engine: _EXPERIMENTAL_DAGGER_RUNNER_HOST is not set (e.g. unix:///run/dagger/engine.sock or docker-container://<name>); without it the CLI would pull an engine image from a public registry");
  } else if (out.cliVersion) {
    try {
      const { stdout } = await run(DAGGER_BIN, ["--progress=plain", "core", "version"], { cwd: REPO_ROOT, env: daggerEnv(), timeout: 120_000 });
      out.engineVersion = stdout.trim();
    } catch (err) {
      const text = `${(err as { stderr?: string }).stderr ?? (err as Error).message}`.trim().split("\n").slice(-3).join(" | ");
      problems.push(`the engine: ${runner} does not answer \`dagger core version\` (${text}); start the engine (README, "Verified on a real engine")`);
    }
  }
  try {
    const missing = await missingFixtureImages();
    if (missing.length > 0) {
      problems.push(`images: the engine's docker.io mirror ${ENGINE_MIRROR} does not serve ${missing.map((m) => m.ref).join(", ")}; run npx tsx test/engine/images/build.ts`);
    }
  } catch (err) {
    problems.push(`images: the mirror registry ${ENGINE_MIRROR} does not answer (${(err as Error).message}); run npx tsx test/engine/images/build.ts`);
  }
  return out;
}

export default async function setup(): Promise<void> {
  const check = await checkEngine();
  if (check.problems.length > 0) {
    throw new Error(`npm run test:engine needs a running Dagger engine; missing:\n${check.problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  process.env.PIPELINE_ENGINE_VERSION = check.engineVersion;
  console.log(`engine tests: ${check.cliVersion}; engine ${check.engineVersion}`);
}

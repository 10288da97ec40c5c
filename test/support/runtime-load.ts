/**
 * Import a module's source the way the Dagger 0.21 TypeScript runtime does at EVERY function call,
 * in a fresh process, and report what the process did.
 *
 * The runtime's entrypoint (github:dagger/dagger, branch backport-0.21,
 * `sdk/typescript/runtime/tsutils/bin/__dagger.entrypoint.ts`, copied next to the module's sources)
 * lists every `.ts`/`.mts` file under the source folder recursively (by extension only: no
 * `node_modules` or `.d.ts` exclusion), prepends the SDK's generated client, and hands the list to
 * the SDK's `entrypoint()`, whose `load()` (`dist/src/module/entrypoint/load.js`) imports them all
 * before invoking the function. A top-level side effect in any of them runs on every call; the
 * engine fails the call on a non-zero exit even when the function returned (`core/sdk.go`,
 * `core/modfunc.go`). This helper lists the files the same way (our own code, not Dagger's), calls
 * the SDK's real `load()` from the pinned npm package and reports exit code, output, whether the
 * process ended by itself (an open handle keeps it alive) and which classes were exported.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "./introspect.js";

const SDK_DIST = path.join(REPO_ROOT, "node_modules/@dagger.io/dagger/dist/src");
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");
const ALLOWED_EXTENSIONS = [".ts", ".mts"];

/**
 * The files the runtime's entrypoint would import, in its order: each folder's entries are reduced
 * last-first onto a list that starts with the SDK client (so the client comes once per folder;
 * importing it again is a cache hit). Here the client is the npm package's compiled one.
 */
export function listModuleFilesLikeRuntime(srcDir: string): string[] {
  const client = path.join(SDK_DIST, "api/client.gen.js");
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .map((entry) => {
        const file = path.join(dir, entry);
        if (statSync(file).isDirectory()) return walk(file);
        return ALLOWED_EXTENSIONS.includes(path.extname(file)) ? [file] : [];
      })
      .reduce<string[]>((acc, files) => [...files, ...acc], [client]);
  return walk(srcDir);
}

export interface RuntimeLoadResult {
  /** The process's exit code (null when it had to be killed). */
  exitCode: number | null;
  /** Everything the process printed, stdout then stderr. */
  output: string;
  /** The process did not end by itself within the time limit: a handle (timer, socket, server) kept it alive. */
  hung: boolean;
  /** Names exported by the imported files. */
  exports: string[];
}

/**
 * Load every file of `<moduleDir>/src` with the SDK's `load()` in a fresh tsx process using the
 * module's own tsconfig, as the runtime does. The process is left to end by itself.
 */
export async function loadLikeRuntime(moduleDir: string, timeoutMs = 45_000): Promise<RuntimeLoadResult> {
  const files = listModuleFilesLikeRuntime(path.join(moduleDir, "src"));
  const tmp = await mkdtemp(path.join(os.tmpdir(), "runtime-load-"));
  const script = path.join(tmp, "load.mjs");
  const exportsFile = path.join(tmp, "exports.json");
  // The export list goes to a file so that stdout/stderr hold only what the module printed.
  await writeFile(
    script,
    [
      `import { writeFileSync } from "node:fs";`,
      `const { load } = await import(${JSON.stringify(pathToFileURL(path.join(SDK_DIST, "module/entrypoint/load.js")).href)});`,
      `const modules = await load(${JSON.stringify(files)});`,
      `writeFileSync(${JSON.stringify(exportsFile)}, JSON.stringify(modules.flatMap((m) => Object.keys(m))));`,
    ].join("\n"),
  );
  try {
    return await new Promise<RuntimeLoadResult>((resolve, reject) => {
      const child = spawn(TSX, ["--tsconfig", path.join(moduleDir, "tsconfig.json"), script], {
        cwd: moduleDir,
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group: tsx runs node as a child, and both must die on a hang.
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      let hung = false;
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        hung = true;
        process.kill(-child.pid!, "SIGKILL");
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        readFile(exportsFile, "utf8").then(
          (text) => resolve({ exitCode: code, output: stdout + stderr, hung, exports: JSON.parse(text) as string[] }),
          () => resolve({ exitCode: code, output: stdout + stderr, hung, exports: [] }),
        );
      });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

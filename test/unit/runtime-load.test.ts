/**
 * The module's source is imported at every `dagger call` (see test/support/runtime-load.ts): it must
 * load with exit code 0, print nothing, leave no handle open and export the main class. The control
 * cases prove the check catches each way a file can break a call.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/introspect.js";
import { listModuleFilesLikeRuntime, loadLikeRuntime } from "../support/runtime-load.js";

const MODULE_DIR = path.join(REPO_ROOT, "modules/pipeline");

describe("modules/pipeline/src loads as the Dagger runtime loads it", () => {
  it("lists every .ts file under src/, the lib/ and aws/ folders included", () => {
    const files = listModuleFilesLikeRuntime(path.join(MODULE_DIR, "src")).map((f) => path.relative(MODULE_DIR, f));
    expect(files).toContain("src/index.ts");
    expect(files).toContain("src/lib/config.ts");
    expect(files).toContain("src/aws/kms.ts");
  });

  it("exits 0, prints nothing, ends by itself and exports Pipeline", async () => {
    const result = await loadLikeRuntime(MODULE_DIR);
    expect(result).toMatchObject({ exitCode: 0, output: "", hung: false });
    expect(result.exports).toContain("Pipeline");
  });
});

describe("the runtime-load check catches a broken module (controls)", () => {
  const made: string[] = [];
  afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

  /** A module folder with the pipeline's tsconfig and the given extra file next to a valid main class. */
  async function moduleWith(extra: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "load-control-"));
    made.push(dir);
    await mkdir(path.join(dir, "src/cli"), { recursive: true });
    await writeFile(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { experimentalDecorators: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022" } }));
    await writeFile(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(path.join(dir, "src/index.ts"), `export class Pipeline {}\n`);
    await writeFile(path.join(dir, "src/cli/extra.ts"), extra);
    return dir;
  }

  it.each([
    // The time limit only matters for the hang; the others get room for a loaded machine.
    ["a CLI that sets process.exitCode at import", `if (process.argv.length < 5) { console.error("--file is required"); process.exitCode = 2; }\nexport {};\n`, { exitCode: 2, hung: false }, 45_000],
    ["a file that prints at import", `console.log("hello");\nexport {};\n`, { exitCode: 0, output: "hello\n", hung: false }, 45_000],
    ["a file that throws at import", `throw new Error("boom");\n`, { exitCode: 1, hung: false }, 45_000],
    ["a file that leaves a timer running", `setInterval(() => {}, 1000);\nexport {};\n`, { hung: true }, 8_000],
  ])("%s", async (_name, extra, expected, timeoutMs) => {
    const result = await loadLikeRuntime(await moduleWith(extra), timeoutMs);
    expect(result).toMatchObject(expected);
  });
});

/**
 * The module's dependencies must install the way the Dagger 0.21 TypeScript runtime installs them
 * at every call (test/support/runtime-install.ts models runtime_node.go). The first real-engine run
 * failed here: `"typescript": "5.9.3"` made the runtime mount its bundled TypeScript 6 over
 * node_modules/typescript, and `npm install` could not replace the mount (EBUSY).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/introspect.js";
import { planRuntimeInstall, type Lockfile, type PackageJson } from "../support/runtime-install.js";

const MODULE_DIR = path.join(REPO_ROOT, "modules/pipeline");
const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(MODULE_DIR, file), "utf8")) as T;

describe("the pipeline module's dependencies, as the 0.21 TypeScript runtime installs them", () => {
  it("install with npm and nothing mounted over what npm installs", () => {
    const plan = planRuntimeInstall(read<PackageJson>("package.json"), read<Lockfile>("package-lock.json"));
    expect(plan).toEqual({ mountsBundledTypescript: false, install: "npm install --omit=dev", problems: [] });
  });

  it("lock typescript 5.9.x, the version the module is type-checked with", () => {
    expect(read<Lockfile>("package-lock.json").packages?.["node_modules/typescript"]?.version).toMatch(/^5\.9\./);
  });
});

describe("the model catches what breaks the runtime's install (controls)", () => {
  const lock59: Lockfile = { packages: { "node_modules/typescript": { version: "5.9.3" } } };

  const cases: Array<{ name: string; pkg: PackageJson; lock: Lockfile; fails: boolean }> = [
    { name: "typescript pinned to 5.9.3 beside other dependencies", pkg: { dependencies: { typescript: "5.9.3", zod: "4.1.12" } }, lock: lock59, fails: true },
    { name: "no typescript at all (the runtime adds 5.9.3) beside other dependencies", pkg: { dependencies: { zod: "4.1.12" } }, lock: lock59, fails: true },
    { name: "typescript 5.9.3 alone (nothing is installed)", pkg: { dependencies: { typescript: "5.9.3" } }, lock: lock59, fails: false },
    { name: "typescript as a range", pkg: { dependencies: { typescript: "~5.9.3", zod: "4.1.12" } }, lock: lock59, fails: false },
  ];
  it.each(cases)("$name", ({ pkg, lock, fails }) => {
    const plan = planRuntimeInstall(pkg, lock);
    expect(plan.problems.length > 0).toBe(fails);
    if (fails) expect(plan.problems[0]).toMatch(/EBUSY[\s\S]*~5\.9\.3/);
  });
});

import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/introspect.js";

/** src/lib is the pure core: plain data in, plain data out. These imports would make it effectful. */
const FORBIDDEN = [/^@dagger\.io\//, /^@aws-sdk\//, /^(node:)?(fs|fs\/promises|child_process|net|http|https|dgram|dns|os|process|worker_threads|cluster|tls)$/];

async function libFiles(): Promise<string[]> {
  const dir = path.join(REPO_ROOT, "modules/pipeline/src/lib");
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f));
}

export function importsOf(source: string): string[] {
  const specs = [...source.matchAll(/(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/g)];
  return specs.map((m) => m[1] ?? m[2] ?? m[3]);
}

describe("src/lib purity", () => {
  it("finds the lib files", async () => {
    expect((await libFiles()).length).toBeGreaterThanOrEqual(5);
  });

  it("no lib file imports Dagger, the AWS SDK or an I/O module", async () => {
    const offenders: string[] = [];
    for (const file of await libFiles()) {
      for (const spec of importsOf(await readFile(file, "utf8"))) {
        if (FORBIDDEN.some((re) => re.test(spec))) offenders.push(`${path.relative(REPO_ROOT, file)} imports ${spec}`);
        if (spec.startsWith(".") && !path.resolve(path.dirname(file), spec).startsWith(path.dirname(file))) {
          offenders.push(`${path.relative(REPO_ROOT, file)} imports ${spec} from outside lib/`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it.each([
    ["static import", `import { dag } from "@dagger.io/dagger";`, "@dagger.io/dagger"],
    ["type-only import", `import type { KMSClient } from "@aws-sdk/client-kms";`, "@aws-sdk/client-kms"],
    ["dynamic import", `const fs = await import("node:fs");`, "node:fs"],
    ["re-export", `export * from "child_process";`, "child_process"],
  ])("the checker sees a %s", (_name, source, spec) => {
    expect(importsOf(source)).toContain(spec);
    expect(FORBIDDEN.some((re) => re.test(spec))).toBe(true);
  });
});

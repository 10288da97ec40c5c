/**
 * A newcomer finds a file by its name (#13.9): no two files of the module share one, so `plan.ts`
 * or `credentials.ts` never needs its folder to say which of several it is. The one exception is a
 * command that exists both ways: `src/<command>.ts` is the Dagger function, `cli/<command>.ts` the
 * npm CLI of the same command, built on the same pure code.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = path.resolve(__dirname, "../../modules/pipeline");

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(MODULE, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.includes("node_modules"))
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")));
}

/** Basenames held by more than one file, except src/<command>.ts + cli/<command>.ts. */
export function ambiguousNames(files: readonly string[]): Record<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const f of files) byName.set(path.posix.basename(f), [...(byName.get(path.posix.basename(f)) ?? []), f]);
  const out: Record<string, string[]> = {};
  for (const [name, paths] of byName) {
    const commandPair = paths.length === 2 && paths.includes(`src/${name}`) && paths.includes(`cli/${name}`);
    if (paths.length > 1 && !commandPair) out[name] = paths.sort();
  }
  return out;
}

describe("file names say what the file holds", () => {
  it("no two files of the module share a name (a command's Dagger function and npm CLI excepted)", () => {
    expect(ambiguousNames([...tsFiles("src"), ...tsFiles("cli")])).toEqual({});
  });

  it("the rule catches the names a newcomer could not tell apart (the layout before the renames)", () => {
    const before = ["src/plan.ts", "cli/plan.ts", "src/lib/plan.ts", "src/credentials.ts", "src/aws/credentials.ts", "src/lib/checkout.ts", "src/checkout.ts"];
    expect(ambiguousNames(before)).toEqual({
      "plan.ts": ["cli/plan.ts", "src/lib/plan.ts", "src/plan.ts"],
      "credentials.ts": ["src/aws/credentials.ts", "src/credentials.ts"],
      "checkout.ts": ["src/checkout.ts", "src/lib/checkout.ts"],
    });
  });
});

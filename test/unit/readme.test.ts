/**
 * The README's first screen works for a reader with and without Dagger (#13.10): exactly two set-up
 * commands up front (the main job on the bundled example, the tests), every path and npm script it
 * names exists, and the commands it offers without Dagger run as written from the repository's root
 * and print what the text says.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const SCRIPTS = Object.keys((JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

/** The `sh` code blocks of a piece of markdown, each as its command lines (comments dropped). */
function shellBlocks(markdown: string): string[][] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter((line) => line && !line.startsWith("#")),
  );
}

function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}`);
  expect(start, `README has a "## ${heading}" section`).toBeGreaterThan(0);
  const end = README.indexOf("\n## ", start + 4);
  return README.slice(start, end < 0 ? undefined : end);
}

const bash = (command: string) => spawnSync("bash", ["-c", command], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

describe("the README's first screen", () => {
  const upFront = README.slice(0, README.indexOf("\n## ", README.indexOf("\n## Set up") + 4));

  it("opens with exactly two set-up commands: the main job on the bundled example, then the tests", () => {
    const [setUp] = shellBlocks(upFront);
    expect(setUp).toEqual(["cd test/fixtures/rails-api && dagger call test --shards 8", "npm ci && npm test"]);
    expect(existsSync(path.join(ROOT, "test/fixtures/rails-api/dagger.json"))).toBe(true);
  });

  it("says what the first command needs before the command, and what .ci/run does to the machine", () => {
    const beforeCommands = upFront.slice(0, upFront.indexOf("```sh"));
    expect(beforeCommands).toMatch(/Dagger CLI/);
    expect(beforeCommands).toMatch(/Node\.js 20/);
    expect(upFront).toMatch(/needs root/);
    expect(upFront).toMatch(/stops the system's\s+`postgresql` and `redis-server` services/);
    expect(upFront).toMatch(/starts dockerd/);
  });

  it("names only npm scripts that exist", () => {
    const named = [...README.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !SCRIPTS.includes(name))).toEqual([]);
  });

  it.each([
    ["Set up", shellBlocks(upFront)[1] ?? []],
    ["Without Dagger: the npm CLIs", shellBlocks(section("Without Dagger: the npm CLIs"))[0] ?? []],
  ])("the commands offered without Dagger (%s) run as written from the repository's root", (_where, commands) => {
    expect(commands.length).toBeGreaterThanOrEqual(2);
    for (const command of commands) {
      for (const p of command.matchAll(/--(?:source|timings|file) (\S+)/g)) {
        if (!p[1]!.startsWith("/tmp/")) expect(existsSync(path.join(ROOT, p[1]!)), `${p[1]} in: ${command}`).toBe(true);
      }
      const r = bash(command);
      expect(r.status, `${command}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  }, 300_000);

  it("update-variable prints the edit the README shows and changes only the value's bytes", () => {
    const command = shellBlocks(section("Without Dagger: the npm CLIs"))[0]!.find((c) => c.includes("update-variable"))!;
    const r = bash(command);
    expect(r.stdout).toMatch(/^\/tmp\/terragrunt\.hcl:\d+ inputs\.image_version: "[^"]+" -> "v1\.2\.3"\n$/);
    const before = readFileSync(path.join(ROOT, "test/golden/feature-env/api.hcl"), "utf8");
    const after = readFileSync("/tmp/terragrunt.hcl", "utf8");
    expect(after).toBe(before.replace(/image_version = "[^"]+"/, 'image_version = "v1.2.3"'));
  });

  it("per-shard text output evaluated by the shell, as the README says, gives exactly that shard's units", () => {
    const evalCommand = README.match(/`(eval "set -- \$\(npm run --silent shards -- [^`]*\)")`/)?.[1];
    expect(evalCommand).toBeDefined();
    const words = bash(`${evalCommand} && printf '%s\\n' "$@"`).stdout.trim().split("\n");
    const json = execFileSync("bash", ["-c", evalCommand!.replace(/^eval "set -- \$\((.*)\)"$/, "$1").replace("--format text", "--format json")], { cwd: ROOT, encoding: "utf8" });
    const shard = JSON.parse(json) as { index: number; units: string[] };
    expect(shard.index).toBe(Number(/--shard-index (\d+)/.exec(evalCommand!)![1]));
    const units = shard.units;
    expect(units.some((u) => u.includes("["))).toBe(true);
    expect(words).toEqual(units);
  });
});

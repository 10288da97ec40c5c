/**
 * A bare infrastructure-live repository as the deploy tests start from: each app unit's
 * terragrunt.hcl with `image_version = "initial"` under dev/us-west-2/dev/apps, plus any extra files,
 * in one commit on main. Shared by the deploy integration test and the real-engine suite.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const INITIAL_UNIT_HCL = `include "root" {\n  path = find_in_parent_folders()\n}\n\ninputs = {\n  # set by CI\n  image_version = "initial"\n  replicas      = 2\n}\n`;

/** Writes the units and `extraFiles` (paths relative to the repository) in `seedDir`, commits them and pushes to a new bare repository at `bare`. */
export function seedInfraLive(bare: string, seedDir: string, units: readonly string[], extraFiles: Record<string, string> = {}): void {
  const files: Record<string, string> = { ...Object.fromEntries(units.map((u) => [`dev/us-west-2/dev/apps/${u}/terragrunt.hcl`, INITIAL_UNIT_HCL])), ...extraFiles };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(seedDir, file)), { recursive: true });
    writeFileSync(path.join(seedDir, file), text);
  }
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "pipe" });
  git(path.dirname(bare), "init", "--quiet", "--bare", "--initial-branch=main", bare);
  git(seedDir, "init", "--quiet", "--initial-branch=main");
  git(seedDir, "add", ".");
  git(seedDir, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "-m", "seed");
  git(seedDir, "push", "--quiet", bare, "main");
}

/** A folder of the repository as the engine loads a directory: relative path -> text, with ignore patterns. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export function readTree(root: string, ignore: readonly string[] = []): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const abs = path.join(dir, entry);
      const rel = path.relative(root, abs);
      if (ignore.some((p) => rel === p || rel.startsWith(`${p}/`))) continue;
      if (statSync(abs).isDirectory()) walk(abs);
      else files[rel] = readFileSync(abs, "utf8");
    }
  };
  walk(root);
  return files;
}

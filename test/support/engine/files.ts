/** A folder of the repository as the engine loads a directory: relative path -> text, with ignore patterns. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export function readTree(root: string, ignore: readonly string[] = []): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const abs = path.join(dir, entry);
      const rel = path.relative(root, abs);
      if (ignore.some((p) => matches(rel, p))) continue;
      if (statSync(abs).isDirectory()) walk(abs);
      else files[rel] = readFileSync(abs, "utf8");
    }
  };
  walk(root);
  return files;
}

/** A dockerignore-style pattern from the root (`tmp`, `vendor/bundle`), or anywhere (`**\/node_modules`). */
function matches(rel: string, pattern: string): boolean {
  const p = pattern.replace(/^\/+|\/+$/g, "");
  if (p.startsWith("**/")) {
    const name = p.slice(3);
    return rel.split("/").some((_, i, parts) => parts.slice(i).join("/") === name || parts.slice(i).join("/").startsWith(`${name}/`));
  }
  return rel === p || rel.startsWith(`${p}/`);
}

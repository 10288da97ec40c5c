/**
 * A REAL HCL parser for tests: HashiCorp's hcl2json (Go, compiled to WebAssembly) via @cdktf/hcl2json.
 * Used to prove that format-preserving edits and generated files are valid HCL, and that an edit
 * changed exactly one value.
 */
import { parse } from "@cdktf/hcl2json";

/** Parse HCL text into hcl2json's JSON shape; rejects with the parser's diagnostics. */
export async function parseHcl(text: string, filename = "terragrunt.hcl"): Promise<Record<string, unknown>> {
  return (await parse(filename, text)) as Record<string, unknown>;
}

/** hcl2json's verdict on a text; its converter failing after a good parse (it cannot write infinity as JSON) is a pass. */
export async function oracleAccepts(text: string): Promise<boolean> {
  try {
    await parseHcl(text, "t.hcl");
    return true;
  } catch (err) {
    return String(err).includes("convert to HCL");
  }
}

/** Dotted paths (`inputs.image_version`, `locals[0].x`) at which two JSON values differ. */
export function jsonDiffPaths(a: unknown, b: unknown, path = ""): string[] {
  if (Object.is(a, b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...jsonDiffPaths(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => jsonDiffPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return [path || "(root)"];
}

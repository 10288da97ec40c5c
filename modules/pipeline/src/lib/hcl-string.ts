/**
 * HCL quoted string literals (pure): writing one for any text, and reading the text of one that has
 * no interpolation. Escapes as hclsyntax's `ParseStringLiteralToken` reads them.
 */

/** An HCL quoted string literal for `s` (escapes `\`, `"`, control characters, `${` and `%{`). */
export function formatHclString(s: string): string {
  const body = s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/\$\{/g, () => "$${")
    .replace(/%\{/g, () => "%%{");
  return `"${body}"`;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

/** The content of a literal quoted string expression (no interpolation or directive), or undefined. */
export function parseHclStringLiteral(expr: string): string | undefined {
  const m = /^"((?:[^"\\$%\r\n]|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|\\[nrt"\\]|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*)"$/s.exec(expr);
  if (!m) return undefined;
  let bad = false;
  const text = m[1]!.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\(.)|\$\$\{|%%\{/g, (all, u4?: string, u8?: string, ch?: string) => {
    if (all === "$${") return "${";
    if (all === "%%{") return "%{";
    const hex = u4 ?? u8;
    if (hex !== undefined) {
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) bad = true;
      return bad ? "" : String.fromCodePoint(cp);
    }
    return SIMPLE_ESCAPES[ch!]!;
  });
  return bad ? undefined : text;
}

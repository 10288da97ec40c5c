/**
 * pipeline.json `test.specGlob` as a matcher, with the semantics `Directory.glob` uses in the engine
 * (core/directory.go `Glob` compiles the pattern with moby/patternmatcher and matches every walked
 * path against it): `**` any number of directories, `*` and `?` within one path segment, `[...]`
 * a character class, `\` escapes the next character. So `npm run shards -- --source` finds the same
 * spec files as `dagger call test`. Pure.
 */

/** A predicate on slash-separated paths relative to the source root (`spec/models/user_spec.rb`). */
export function specGlobMatcher(pattern: string): (path: string) => boolean {
  const regex = new RegExp(`^${globToRegExpSource(pattern.trim().replace(/^\.\//, ""))}$`);
  return (path) => regex.test(path);
}

/** patternmatcher's translation (Pattern.compile), for `/` as the separator. */
function globToRegExpSource(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") i++; // `**/` is `**`
        // `**` at the end matches everything below; elsewhere any number of directories, even none.
        out += i + 1 >= pattern.length ? ".*" : "(.*/)?";
      } else out += "[^/]*";
    } else if (ch === "?") out += "[^/]";
    else if (ch === "\\") out += i + 1 < pattern.length ? escapeRegExp(pattern[++i]!) : "\\\\";
    else if (ch === "[" || ch === "]") out += ch;
    else out += escapeRegExp(ch);
  }
  return out;
}

function escapeRegExp(ch: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(ch) ? `\\${ch}` : ch;
}

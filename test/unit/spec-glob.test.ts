import { describe, expect, it } from "vitest";
import { specGlobMatcher } from "../../modules/pipeline/src/lib/spec-glob.js";

/** Expected results follow moby/patternmatcher (Pattern.compile), which the engine's Directory.glob uses. */
describe("specGlobMatcher: test.specGlob as dagger's Directory.glob reads it", () => {
  it.each([
    ["spec/**/*_spec.rb", "spec/a_spec.rb", true], // ** matches no directory too
    ["spec/**/*_spec.rb", "spec/models/admin/user_spec.rb", true],
    ["spec/**/*_spec.rb", "spec/support/helper.rb", false],
    ["spec/**/*_spec.rb", "spec/a_spec.rb.orig", false],
    ["spec/**/*_spec.rb", "spec/a_specXrb", false], // the dot is literal
    ["spec/**/*_spec.rb", "specs/a_spec.rb", false],
    ["spec/**/*_spec.rb", "engines/x/spec/a_spec.rb", false],
    ["spec/*_spec.rb", "spec/models/a_spec.rb", false], // * stays within a segment
    ["**/*_spec.rb", "engines/x/spec/a_spec.rb", true],
    ["**/*_spec.rb", "a_spec.rb", true],
    ["test/**/*_test.rb", "test/sub/z_test.rb", true],
    ["spec/?_spec.rb", "spec/a_spec.rb", true],
    ["spec/?_spec.rb", "spec/ab_spec.rb", false],
    ["spec/[ab]_spec.rb", "spec/b_spec.rb", true],
    ["spec/[ab]_spec.rb", "spec/c_spec.rb", false],
    ["spec/\\*_spec.rb", "spec/*_spec.rb", true],
    ["spec/\\*_spec.rb", "spec/a_spec.rb", false],
    ["spec/**", "spec/anything/at/all.txt", true],
    ["./spec/**/*_spec.rb", "spec/a_spec.rb", true],
    ["spec/models/user_spec.rb", "spec/models/user_spec.rb", true],
    ["spec/models/user_spec.rb", "spec/models/user_spec.rbx", false],
    ["spec/(a|b)+_spec.rb", "spec/(a|b)+_spec.rb", true], // regex characters are literal
    ["spec/(a|b)+_spec.rb", "spec/a_spec.rb", false],
  ])("%s on %s: %s", (glob, path, expected) => {
    expect(specGlobMatcher(glob)(path)).toBe(expected);
  });
});

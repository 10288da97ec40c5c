import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { baseImageTag, dependencyChecksum, devVariantDockerfile } from "../../modules/pipeline/src/lib/checksum.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("dependencyChecksum", () => {
  it.each([
    ["plain files", "source 'https://rubygems.org'\ngem 'rails'\n", "GEM\n  specs:\n\nBUNDLED WITH\n   2.3.15\n", "FROM ruby:3.1.4\n"],
    ["no trailing newlines", "gem 'rails'", "BUNDLED WITH 2", "FROM ruby"],
    ["CRLF and unicode", "gem 'rails'\r\n# café\r\n", "lock\r\n", "FROM ruby # ünïcode\r\n"],
    ["empty files", "", "", ""],
  ])("matches `cat Gemfile Gemfile.lock Dockerfile.base | sha1sum` for %s", (_name, gemfile, lock, dockerfile) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "checksum-"));
    writeFileSync(path.join(dir, "Gemfile"), gemfile);
    writeFileSync(path.join(dir, "Gemfile.lock"), lock);
    writeFileSync(path.join(dir, "Dockerfile.base"), dockerfile);
    const expected = execFileSync("sh", ["-c", "cat Gemfile Gemfile.lock Dockerfile.base | sha1sum | awk '{print $1}'"], { cwd: dir })
      .toString()
      .trim();
    expect(dependencyChecksum({ gemfile: enc(gemfile), gemfileLock: enc(lock), dockerfileBase: enc(dockerfile) })).toBe(expected);
  });

  it("changes when Gemfile.lock changes", () => {
    const a = dependencyChecksum({ gemfile: enc("g"), gemfileLock: enc("l1"), dockerfileBase: enc("d") });
    const b = dependencyChecksum({ gemfile: enc("g"), gemfileLock: enc("l2"), dockerfileBase: enc("d") });
    expect(a).not.toBe(b);
  });
});

describe("devVariantDockerfile", () => {
  const dockerfile = [
    "FROM ruby",
    "RUN bundle config set --local frozen 'true'   # remove-for-dev",
    "RUN bundle config set --local without 'development test' # remove-for-dev",
    "RUN bundle install",
    "",
  ].join("\n");

  it("drops every line containing the marker, like grep -v", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "devvariant-"));
    writeFileSync(path.join(dir, "Dockerfile.base"), dockerfile);
    const grep = execFileSync("sh", ["-c", "grep -v remove-for-dev Dockerfile.base"], { cwd: dir }).toString();
    expect(devVariantDockerfile(dockerfile)).toBe(grep);
    expect(devVariantDockerfile(dockerfile)).toBe("FROM ruby\nRUN bundle install\n");
  });

  it("honours a configured marker", () => {
    expect(devVariantDockerfile("a\nb # prod-only\n", "prod-only")).toBe("a\n");
  });
});

describe("baseImageTag", () => {
  it.each([
    [true, "base-dev-abc"],
    [false, "base-abc"],
  ])("devVariant=%s gives %s", (dev, tag) => {
    expect(baseImageTag("abc", dev)).toBe(tag);
  });
});

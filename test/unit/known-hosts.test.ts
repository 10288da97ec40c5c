import { describe, expect, it } from "vitest";
import { GITHUB_KNOWN_HOSTS, resolveKnownHosts, sshHostOf } from "../../modules/pipeline/src/lib/known-hosts.js";

describe("sshHostOf: the SSH host of a git URL", () => {
  it.each([
    ["scp-like with a user", "git@github.com:BlinkerGit/infrastructure-live.git", "github.com"],
    ["scp-like without a user", "gitlab.example.com:org/repo.git", "gitlab.example.com"],
    ["ssh:// with the default port", "ssh://git@git.example.com/org/repo.git", "git.example.com"],
    ["ssh:// with port 22", "ssh://git@git.example.com:22/org/repo.git", "git.example.com"],
    ["ssh:// with another port: known_hosts writes [host]:port", "ssh://git@git.example.com:2222/org/repo.git", "[git.example.com]:2222"],
    ["https", "https://github.com/BlinkerGit/infrastructure-live.git", undefined],
    ["file://", "file:///tmp/infra-live.git", undefined],
    ["a local path", "/tmp/infra-live.git", undefined],
    ["a relative path", "../infra-live", undefined],
  ])("%s", (_name, url, host) => {
    expect(sshHostOf(url)).toBe(host);
  });
});

describe("resolveKnownHosts", () => {
  it("GitHub (and non-SSH URLs) get GitHub's published ed25519, ECDSA and RSA keys", () => {
    expect(resolveKnownHosts("git@github.com:o/r.git", undefined)).toBe(GITHUB_KNOWN_HOSTS);
    expect(GITHUB_KNOWN_HOSTS.trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual([
      "github.com ssh-ed25519",
      "github.com ecdsa-sha2-nistp256",
      "github.com ssh-rsa",
    ]);
  });

  it("another SSH host needs --known-hosts, named in the error", () => {
    expect(() => resolveKnownHosts("git@gitlab.example.com:o/r.git", undefined)).toThrow(/ARGUMENT_INVALID\] infraLive.repoUrl is on gitlab.example.com[\s\S]*--known-hosts/);
  });

  it("given lines win, a final newline is added; a file with no key line is refused", () => {
    expect(resolveKnownHosts("git@gitlab.example.com:o/r.git", "gitlab.example.com ssh-ed25519 AAAA")).toBe("gitlab.example.com ssh-ed25519 AAAA\n");
    expect(() => resolveKnownHosts("git@github.com:o/r.git", "# nothing\n\n")).toThrow("--known-hosts holds no host key line");
  });
});

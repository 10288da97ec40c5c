/**
 * Which SSH host keys infrastructure-live's server must present. A fresh container has no
 * known_hosts, so `StrictHostKeyChecking=accept-new` would trust whatever answers, every time: the
 * pipeline checks strictly against keys it was given, by default GitHub's published ones. Pure.
 */
import { PipelineError } from "./errors.js";

/**
 * GitHub's SSH host keys as published at
 * https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/githubs-ssh-key-fingerprints
 * (also `ssh_keys` of https://api.github.com/meta). Update when GitHub rotates them.
 */
export const GITHUB_KNOWN_HOSTS = [
  "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
  "github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
  "github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=",
].join("\n") + "\n";

/** The SSH host of a git URL (`git@github.com:org/repo.git`, `ssh://git@host:2222/repo`), or undefined for https, file and local paths. */
export function sshHostOf(repoUrl: string): string | undefined {
  const url = /^ssh:\/\/(?:[^@/]+@)?(\[[^\]]+\]|[^/:]+)(?::(\d+))?\//.exec(repoUrl);
  if (url) return url[2] && url[2] !== "22" ? `[${url[1]!.replace(/^\[|\]$/g, "")}]:${url[2]}` : url[1];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repoUrl)) return undefined; // https://, file://, ...
  // git's scp-like syntax: [user@]host:path, a colon before any slash.
  return /^(?:[^@/:]+@)?([^/:]+):/.exec(repoUrl)?.[1];
}

/**
 * The known_hosts text for SSH access to `repoUrl`: the caller's (`--known-hosts`), else GitHub's
 * published keys when the host is github.com. Any other SSH host without `--known-hosts` is refused:
 * there is nothing to check its key against.
 */
export function resolveKnownHosts(repoUrl: string, given: string | undefined): string {
  if (given !== undefined) {
    if (!given.split("\n").some((l) => l.trim() && !l.trim().startsWith("#"))) {
      throw new PipelineError("ARGUMENT_INVALID", "with-git-credentials --known-hosts holds no host key line", {
        hint: "give known_hosts lines (`<host> <key-type> <base64 key>`), e.g. from ssh-keyscan, checked against the host's published fingerprints",
      });
    }
    return given.endsWith("\n") ? given : `${given}\n`;
  }
  const host = sshHostOf(repoUrl);
  if (host === undefined || host === "github.com") return GITHUB_KNOWN_HOSTS;
  throw new PipelineError("ARGUMENT_INVALID", `infraLive.repoUrl is on ${host}, whose SSH host key the pipeline does not know`, {
    hint: "pass with-git-credentials --known-hosts <file> with that host's known_hosts lines (the default holds GitHub's published keys only)",
  });
}

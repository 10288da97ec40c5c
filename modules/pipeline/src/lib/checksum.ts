/**
 * Dependency checksum and base-image variants.
 *
 * The checksum is byte-compatible with the seed's
 * `cat Gemfile Gemfile.lock Dockerfile.base | sha1sum`, so base images that teams already pushed
 * keep hitting. node:crypto is computation, not I/O: this file stays pure.
 */
import { createHash } from "node:crypto";

/** The three files, in the order `cat` reads them. Bytes, not text: line endings must not change. */
export interface DependencyFiles {
  gemfile: Uint8Array;
  gemfileLock: Uint8Array;
  dockerfileBase: Uint8Array;
}

export function dependencyChecksum(files: DependencyFiles): string {
  return createHash("sha1").update(files.gemfile).update(files.gemfileLock).update(files.dockerfileBase).digest("hex");
}

/** The seed's `grep -v remove-for-dev`: every line that contains the marker is dropped. */
export function devVariantDockerfile(dockerfile: string, marker = "remove-for-dev"): string {
  const lines = dockerfile.split("\n");
  const kept = lines.filter((line) => !line.includes(marker));
  return kept.join("\n");
}

/** `base-dev-<sum>` for the dev variant, `base-<sum>` for prod. */
export function baseImageTag(checksum: string, devVariant: boolean): string {
  return devVariant ? `base-dev-${checksum}` : `base-${checksum}`;
}

/**
 * The images a real engine pulls while it runs the pipeline module on the example app, and where
 * the engine tests serve them from: a local registry on loopback that the engine uses as its mirror
 * of docker.io (engine.json `registries."docker.io".mirrors`). No registry off this machine is ever
 * asked. Each image is built here by `npx tsx test/engine/images/build.ts`.
 *
 * The names are the ones the engine is asked for:
 * - the TypeScript runtime (Dagger 0.21, `sdk/typescript/runtime/tsdistconsts`): node 24.13.1 for the
 *   module's container, bun 1.3.0 for its introspector and codegen;
 * - the pipeline's defaults: `images.rubyImage` (the example app's Dockerfile.base FROM),
 *   `test.postgresImage`, `test.redisImage`, deploy's `--git-image`, `terragrunt.image`.
 */
/** The mirror registry's port on 127.0.0.1 (override with PIPELINE_ENGINE_MIRROR_PORT). */
export const ENGINE_MIRROR_PORT = Number(process.env.PIPELINE_ENGINE_MIRROR_PORT ?? 15100);
export const ENGINE_MIRROR = `127.0.0.1:${ENGINE_MIRROR_PORT}`;

export interface FixtureImage {
  /** Repository and tag as pulled from docker.io (the mirror serves the same path). */
  ref: string;
  /** Folder under test/engine/images with its Dockerfile ("ruby" starts from test/support/docker.ts's image). */
  dir: string;
  /** Who asks for it. */
  usedBy: string;
}

export const FIXTURE_IMAGES: readonly FixtureImage[] = [
  { ref: "library/node:24.13.1-alpine", dir: "node", usedBy: "the TypeScript runtime's module container" },
  { ref: "oven/bun:1.3.0-alpine", dir: "bun", usedBy: "the TypeScript runtime's introspector and codegen" },
  { ref: "library/ruby:3.1.4", dir: "ruby", usedBy: "images.rubyImage, FROM of the example app's Dockerfile.base" },
  { ref: "library/postgres:15", dir: "postgres", usedBy: "test.postgresImage, serve" },
  { ref: "library/redis:7", dir: "redis", usedBy: "test.redisImage, serve" },
  { ref: "alpine/git:2.47.2", dir: "git", usedBy: "deploy/feature --git-image" },
  { ref: "alpine/terragrunt:1.9.8", dir: "terragrunt", usedBy: "terragrunt.image (a stand-in that records)" },
];

/** `name:tag` -> [repository, tag]. */
export function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(":");
  return [ref.slice(0, at), ref.slice(at + 1)];
}

/** The fixture images the mirror does not serve (HEAD of each manifest). */
export async function missingFixtureImages(mirror = ENGINE_MIRROR): Promise<FixtureImage[]> {
  const missing: FixtureImage[] = [];
  for (const image of FIXTURE_IMAGES) {
    const [repo, tag] = splitRef(image.ref);
    const res = await fetch(`http://${mirror}/v2/${repo}/manifests/${tag}`, {
      method: "HEAD",
      headers: { accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
    if (!res || res.status !== 200) missing.push(image);
  }
  return missing;
}

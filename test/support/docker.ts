/**
 * Real docker for the image tests: start `dockerd` and local `docker-registry`s when they are not
 * running, and build a Ruby base image from Debian packages (no image can be pulled here).
 * Everything is idempotent, so `.ci/run` can call it once and every test file again:
 *
 *   npx tsx test/support/docker.ts          # dockerd + both registries + local/ruby-debian:3.1
 *
 * Only Debian's `/usr/bin/docker` client is used: it has BuildKit (`--secret`) built in, unlike the
 * newer client that may come first on PATH.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

export const DOCKER = "/usr/bin/docker";
const DOCKERD = "/usr/sbin/dockerd";
const REGISTRY_BIN = "/usr/bin/docker-registry";
const DEBOOTSTRAP = "/usr/sbin/debootstrap";
const STATE_DIR = path.join(os.tmpdir(), "pipeline-docker");

/** The Ruby image the example app's Dockerfile.base is built FROM here (its RUBY_IMAGE build arg). */
export const RUBY_IMAGE = "local/ruby-debian:3.1";
/** Debian bookworm packages that hold every gem of the example app's Gemfile.lock. */
export const RUBY_PACKAGES = [
  "ruby",
  "ruby-rails",
  "ruby-pg",
  "ruby-redis",
  "ruby-rspec-rails",
  "ruby-rspec-junit-formatter",
  "rubocop",
  "ruby-sidekiq",
  "ruby-clockwork",
  "ruby-webrick",
  "bundler",
  "ca-certificates",
];

/** Fixed test-only credentials of the authenticating registry (bcrypt hash made with htpasswd -B). */
export const AUTH_REGISTRY_USER = "pipeline";
export const AUTH_REGISTRY_PASSWORD = "pipeline-test-pass";
const AUTH_REGISTRY_HTPASSWD = `${AUTH_REGISTRY_USER}:$2b$12$LfUFxn5LlqUsP1VZAVMH.OwuKQpJ884wLA5Pi6BTBnAX7oepmx2mW\n`;

export interface LocalRegistry {
  name: "open" | "auth";
  host: string;
  port: number;
}
/** Ports of the two registries; override with PIPELINE_REGISTRY_PORT (open) / +1 (auth). */
const BASE_PORT = Number(process.env.PIPELINE_REGISTRY_PORT ?? 15000);
export const OPEN_REGISTRY: LocalRegistry = { name: "open", host: `127.0.0.1:${BASE_PORT}`, port: BASE_PORT };
export const AUTH_REGISTRY: LocalRegistry = { name: "auth", host: `127.0.0.1:${BASE_PORT + 1}`, port: BASE_PORT + 1 };

const run = promisify(execFile);

/** Run the Debian docker client with BuildKit on; rejects with stderr on a non-zero exit. */
export async function docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env: { ...process.env, DOCKER_BUILDKIT: "1" }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`docker ${args.join(" ")} exited ${code}\n${stderr || stdout}`));
    });
    child.stdin.end(opts.input ?? "");
  });
}

async function dockerResponds(): Promise<boolean> {
  try {
    await run(DOCKER, ["info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return check();
}

/** Start a long-running daemon detached from this process, its output in a log file. */
async function startDaemon(bin: string, args: string[], logName: string): Promise<string> {
  await mkdir(STATE_DIR, { recursive: true });
  const log = path.join(STATE_DIR, logName);
  const fh = await open(log, "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", fh.fd, fh.fd] });
  child.unref();
  await fh.close();
  return log;
}

export type DockerStatus = { ok: true } | { ok: false; reason: string };

let dockerReady: Promise<DockerStatus> | undefined;

/** Make sure a docker daemon answers; start `dockerd` if we can. Never throws. */
export function ensureDocker(): Promise<DockerStatus> {
  dockerReady ??= (async (): Promise<DockerStatus> => {
    if (!existsSync(DOCKER)) return { ok: false, reason: `${DOCKER} is missing: apt-get install -y docker.io` };
    if (await dockerResponds()) return { ok: true };
    if (!existsSync(DOCKERD)) return { ok: false, reason: `${DOCKERD} is missing: apt-get install -y docker.io` };
    if (process.getuid?.() !== 0) return { ok: false, reason: "dockerd is not running and only root can start it" };
    const log = await startDaemon(DOCKERD, [], "dockerd.log");
    if (await waitFor(dockerResponds, 60_000)) return { ok: true };
    const tail = (await readFile(log, "utf8").catch(() => "")).split("\n").slice(-15).join("\n");
    return { ok: false, reason: `dockerd did not start within 60 s; ${log}:\n${tail}` };
  })();
  return dockerReady;
}

async function registryResponds(reg: LocalRegistry): Promise<boolean> {
  try {
    const res = await fetch(`http://${reg.host}/v2/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

function registryConfig(reg: LocalRegistry, root: string, htpasswd?: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${root}/data`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${reg.port}`,
    ...(htpasswd ? ["auth:", "  htpasswd:", "    realm: pipeline-test", `    path: ${htpasswd}`] : []),
    "",
  ].join("\n");
}

/** Start Debian's docker-registry on 127.0.0.1 (open, or with htpasswd basic auth) unless it answers. */
export async function ensureRegistry(reg: LocalRegistry): Promise<LocalRegistry> {
  if (await registryResponds(reg)) return reg;
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: apt-get install -y docker-registry`);
  const root = path.join(STATE_DIR, `registry-${reg.name}`);
  await mkdir(root, { recursive: true });
  let htpasswd: string | undefined;
  if (reg.name === "auth") {
    htpasswd = path.join(root, "htpasswd");
    await writeFile(htpasswd, AUTH_REGISTRY_HTPASSWD);
  }
  const config = path.join(root, "config.yml");
  await writeFile(config, registryConfig(reg, root, htpasswd));
  const log = await startDaemon(REGISTRY_BIN, ["serve", config], `registry-${reg.name}.log`);
  if (!(await waitFor(() => registryResponds(reg), 20_000))) {
    throw new Error(`docker-registry (${reg.name}) did not answer on ${reg.host}; see ${log}`);
  }
  return reg;
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker(["image", "inspect", "--format", "{{.Id}}", ref]);
    return true;
  } catch {
    return false;
  }
}

/**
 * `local/ruby-debian:3.1`: debootstrap (minbase) with Ruby, Rails 6.1 and the app's gems from Debian,
 * imported as an image. About 2 minutes the first time; skipped when the image exists. A lock
 * directory keeps two callers (test files, the benchmark) from building it twice at once.
 */
export async function ensureRubyImage(): Promise<string> {
  if (await imageExists(RUBY_IMAGE)) return RUBY_IMAGE;
  await mkdir(STATE_DIR, { recursive: true });
  const lock = path.join(STATE_DIR, "ruby-image.lock");
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 15 * 60_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 2000));
      if (await imageExists(RUBY_IMAGE)) return RUBY_IMAGE;
    }
  }
  try {
    if (await imageExists(RUBY_IMAGE)) return RUBY_IMAGE;
    if (!existsSync(DEBOOTSTRAP)) throw new Error(`${DEBOOTSTRAP} is missing: apt-get install -y debootstrap`);
    const root = await mkdtemp(path.join(STATE_DIR, "rootfs-"));
    try {
      await run(DEBOOTSTRAP, ["--variant=minbase", `--include=${RUBY_PACKAGES.join(",")}`, "bookworm", root], {
        timeout: 15 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      await run("sh", ["-c", `tar -C '${root}' -c . | '${DOCKER}' import -c 'ENV LANG=C.UTF-8' - ${RUBY_IMAGE}`], {
        timeout: 10 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    return RUBY_IMAGE;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Everything the image integration tests and the benchmark need. Throws only when docker runs but setup fails. */
export async function ensureImageTestEnvironment(): Promise<DockerStatus> {
  const status = await ensureDocker();
  if (!status.ok) return status;
  await Promise.all([ensureRegistry(OPEN_REGISTRY), ensureRegistry(AUTH_REGISTRY)]);
  await ensureRubyImage();
  return status;
}

/** A free TCP port on 127.0.0.1 that nothing listens on (for the unreachable-registry case). */
export async function unusedPort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface SavedImage {
  /** Every file of the `docker save` archive and of each layer tar, as [name, bytes]. */
  files: Array<[string, Buffer]>;
  /** `docker history --no-trunc` output (the created-by lines, where build args would show). */
  history: string;
  /** `docker image inspect` JSON (config: env, labels, cmd). */
  inspect: string;
}

/** `docker save` an image and unpack it and every layer, for scanning. */
export async function saveImage(ref: string): Promise<SavedImage> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "image-save-"));
  try {
    await run("sh", ["-c", `'${DOCKER}' save '${ref}' | tar -x -C '${dir}'`], { maxBuffer: 64 * 1024 * 1024 });
    const files: Array<[string, Buffer]> = [];
    const walk = async (d: string): Promise<void> => {
      for (const entry of await readdir(d, { withFileTypes: true })) {
        const p = path.join(d, entry.name);
        if (entry.isDirectory()) await walk(p);
        else if (entry.isFile()) files.push([path.relative(dir, p), await readFile(p)]);
      }
    };
    await walk(dir);
    // Layers are tars (maybe under blobs/sha256/): unpack each into its own folder and scan its files too.
    const layerFiles: Array<[string, Buffer]> = [];
    for (const [name, bytes] of files) {
      if (bytes.length < 512 || bytes.subarray(257, 262).toString() !== "ustar") continue;
      const ldir = await mkdtemp(path.join(dir, "layer-"));
      await run("tar", ["-x", "-C", ldir, "-f", path.join(dir, name)], { maxBuffer: 64 * 1024 * 1024 }).catch(() => undefined);
      const before = layerFiles.length;
      const walkLayer = async (d: string): Promise<void> => {
        for (const entry of await readdir(d, { withFileTypes: true })) {
          const p = path.join(d, entry.name);
          if (entry.isDirectory()) await walkLayer(p);
          else if (entry.isFile()) layerFiles.push([`${name}!${path.relative(ldir, p)}`, await readFile(p)]);
        }
      };
      await walkLayer(ldir);
      if (layerFiles.length === before) layerFiles.push([`${name}!(empty)`, Buffer.alloc(0)]);
    }
    const history = (await docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", ref])).stdout;
    const inspect = (await docker(["image", "inspect", ref])).stdout;
    return { files: [...files, ...layerFiles], history, inspect };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const status = await ensureImageTestEnvironment();
  if (!status.ok) {
    console.error(`docker unavailable: ${status.reason}`);
    process.exit(1);
  }
  console.log(`docker ok; registries ${OPEN_REGISTRY.host} (open), ${AUTH_REGISTRY.host} (htpasswd); ${RUBY_IMAGE} ready`);
}

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
  /** Names the registry's state folder; "auth" turns on htpasswd basic auth. */
  name: "open" | "auth" | "engine-mirror" | "engine-deploy";
  /** host:port it listens on (127.0.0.1 but for the engine tests' deploy registry). */
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
    if (process.getuid?.() !== 0) {
      const denied = existsSync("/var/run/docker.sock") ? "dockerd's socket /var/run/docker.sock is not accessible to this user" : "dockerd is not running";
      return { ok: false, reason: `${denied}, and only root can start dockerd (run as root, or join the docker group)` };
    }
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
    `  addr: ${reg.host}`,
    ...(htpasswd ? ["auth:", "  htpasswd:", "    realm: pipeline-test", `    path: ${htpasswd}`] : []),
    "",
  ].join("\n");
}

/** Start Debian's docker-registry on its host:port (open, or with htpasswd basic auth) unless it answers. */
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
  /** Every file of the `docker save` archive (manifest, image config, layer tars), as [name, bytes]. */
  files: Array<[string, Buffer]>;
  /** `docker history --no-trunc` output (the created-by lines, where build args would show). */
  history: string;
  /** `docker image inspect` JSON (config: env, labels, cmd). */
  inspect: string;
}

/** `docker save` an image and read every file of the archive. */
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
    const history = (await docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", ref])).stdout;
    const inspect = (await docker(["image", "inspect", ref])).stdout;
    return { files, history, inspect };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Is this an (uncompressed) tar archive? `docker save` writes layers as plain tars. */
export function isTar(bytes: Buffer): boolean {
  return bytes.length >= 512 && bytes.subarray(257, 262).toString("latin1") === "ustar";
}

/** The entries of a plain tar (ustar + GNU/PAX long names), as [name, data]. */
export function tarEntries(bytes: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= bytes.length) {
    const header = bytes.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) => header.subarray(start, start + len).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const data = bytes.subarray(offset + 512, offset + 512 + size);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === "L") longName = data.toString("utf8").replace(/\0.*$/s, "");
    else if (type === "x") longName = /\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1];
    else if (type === "0" || type === "" || type === "7") out.push([name, data]);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/**
 * Where `needle` occurs in an image: archive files (image config, manifest), files inside each
 * layer tar (`<layer>!<path>`), `docker history` and `docker image inspect`. Also returns how many
 * layers were scanned, so a caller can tell an empty result from an empty scan.
 */
export async function findInImage(ref: string, needle: string): Promise<{ hits: string[]; layers: number }> {
  const saved = await saveImage(ref);
  const hits: string[] = [];
  let layers = 0;
  for (const [name, bytes] of saved.files) {
    if (isTar(bytes)) {
      layers++;
      if (!bytes.includes(needle)) continue;
      const inner = tarEntries(bytes).filter(([, data]) => data.includes(needle));
      hits.push(...(inner.length ? inner.map(([n]) => `${name}!${n}`) : [`${name}!(tar headers)`]));
    } else if (bytes.includes(needle)) hits.push(name);
  }
  if (saved.history.includes(needle)) hits.push("docker history");
  if (saved.inspect.includes(needle)) hits.push("docker image inspect");
  return { hits, layers };
}

/** The BuildKit frontend a `# syntax=<image>` first line asks for, or undefined. */
export function syntaxDirective(dockerfile: string): string | undefined {
  return /^#\s*syntax\s*=\s*(\S+)\s*$/m.exec(dockerfile.split("\n").find((l) => l.trim() !== "") ?? "")?.[1];
}

/**
 * This machine cannot pull images, and a `# syntax=docker/dockerfile:1` directive makes BuildKit
 * pull its frontend image. When that image is not present locally the directive is dropped, so the
 * daemon's built-in Dockerfile frontend (which supports `RUN --mount=type=secret`) builds the file.
 * Nothing else changes. Returns the text and the dropped frontend (for the test log), if any.
 */
export async function offlineDockerfile(text: string): Promise<{ text: string; droppedFrontend?: string }> {
  const frontend = syntaxDirective(text);
  if (!frontend || (await imageExists(frontend))) return { text };
  return { text: text.replace(/^#\s*syntax\s*=.*\n/m, ""), droppedFrontend: frontend };
}

export interface DockerBuildInput {
  /** Dockerfile path relative to the context, and its text as the pipeline produced it. */
  dockerfilePath: string;
  dockerfileText: string;
  /** Write the text into the context at dockerfilePath first (the dev variant), as images.ts does. */
  writeDockerfile: boolean;
  buildArgs: Array<{ name: string; value: string }>;
}

/**
 * `docker build` of a pipeline plan: the same Dockerfile text, build args and secret id Dagger's
 * `dockerBuild` gets. A file the pipeline writes into the context exists only during that build.
 */
export async function dockerBuildPlan(
  context: string,
  plan: DockerBuildInput,
  tag: string,
  opts: { secretId?: string; tokenFile?: string; noCache?: boolean } = {},
): Promise<{ log: string; droppedFrontend?: string }> {
  const offline = await offlineDockerfile(plan.dockerfileText);
  const scratch = await mkdtemp(path.join(os.tmpdir(), "dockerfile-"));
  let dockerfile = path.join(context, plan.dockerfilePath);
  const written: string[] = [];
  try {
    if (plan.writeDockerfile) {
      await mkdir(path.dirname(dockerfile), { recursive: true });
      await writeFile(dockerfile, offline.text);
      written.push(dockerfile);
    } else if (offline.droppedFrontend) {
      dockerfile = path.join(scratch, path.basename(plan.dockerfilePath));
      await writeFile(dockerfile, offline.text);
    }
    const args = ["build", "--progress=plain", "-f", dockerfile, "-t", tag];
    for (const a of plan.buildArgs) args.push("--build-arg", `${a.name}=${a.value}`);
    if (opts.secretId && opts.tokenFile) args.push("--secret", `id=${opts.secretId},src=${opts.tokenFile}`);
    if (opts.noCache) args.push("--no-cache");
    args.push(context);
    const { stdout, stderr } = await docker(args, { timeoutMs: 10 * 60_000 });
    return { log: stdout + stderr, droppedFrontend: offline.droppedFrontend };
  } finally {
    for (const f of written) await rm(f, { force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `docker tag` + `docker push`; returns `ref@sha256:...` like Dagger's publish. */
export async function dockerPush(image: string, ref: string): Promise<string> {
  if (image !== ref) await docker(["tag", image, ref]);
  const { stdout } = await docker(["push", ref], { timeoutMs: 5 * 60_000 });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
  if (!digest) throw new Error(`docker push ${ref}: no digest in output\n${stdout}`);
  return `${ref}@${digest}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const status = await ensureImageTestEnvironment();
  if (!status.ok) {
    console.error(`docker unavailable: ${status.reason}`);
    process.exit(1);
  }
  console.log(`docker ok; registries ${OPEN_REGISTRY.host} (open), ${AUTH_REGISTRY.host} (htpasswd); ${RUBY_IMAGE} ready`);
}


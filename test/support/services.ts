/**
 * Real postgres and redis servers for integration tests, started from the Debian binaries in temp
 * directories on free loopback ports. Every call starts its own instance, so several shards can each
 * have theirs at once.
 *
 * - postgres refuses to run as root: when the test runs as root the server runs as the `postgres`
 *   user (uid/gid looked up once); a non-root user runs it as itself.
 * - `initdb` runs once per machine into a cached template directory; each instance copies it with
 *   `cp -a` (much faster than one initdb per instance).
 * - Durability is off (fsync, synchronous_commit, full_page_writes): these are throwaway test servers.
 *
 * Example:
 *   const pg = await startPostgres({ database: "blinker_test" });
 *   const redis = await startRedis();
 *   // DATABASE_URL=pg.url REDIS_URL=redis.url bundle exec rspec
 *   await Promise.all([pg.stop(), redis.stop()]);
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rename, rm, stat, statfs, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RunningService {
  /** Connection URL (`postgres://postgres@127.0.0.1:<port>/<db>` or `redis://127.0.0.1:<port>/0`). */
  url: string;
  port: number;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PostgresService extends RunningService {
  /** Name of the database in `url`. */
  database: string;
  /** URL of the `postgres` maintenance database (for createdb/dropdb style work). */
  adminUrl: string;
}

export interface StartPostgresOptions {
  /** Database named in `url` (default `blinker_test`). */
  database?: string;
  /** Create `database` before returning (default false: the app's `rake db:create` may do it). */
  createDatabase?: boolean;
  /** Readiness timeout in ms (default 30 s). */
  timeoutMs?: number;
}

export interface StartRedisOptions {
  /** Readiness timeout in ms (default 15 s). */
  timeoutMs?: number;
}

const PG_BIN_CANDIDATES = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];
const HOST = "127.0.0.1";

/** Children still running, killed if the test process exits without calling stop(). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess, killSignal: NodeJS.Signals): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill(killSignal);
    });
  }
}

function pgBinDir(): string {
  const dir = process.env.PG_BIN_DIR ?? PG_BIN_CANDIDATES.find((d) => existsSync(path.join(d, "postgres")));
  if (!dir) {
    throw new Error(
      `postgres binaries not found in ${PG_BIN_CANDIDATES.join(", ")}: apt-get install postgresql (or set PG_BIN_DIR)`,
    );
  }
  return dir;
}

interface RunAs {
  uid?: number;
  gid?: number;
  user: string;
}

let runAsPromise: Promise<RunAs> | undefined;
/** root -> the `postgres` user; anyone else -> themselves. */
function postgresUser(): Promise<RunAs> {
  runAsPromise ??= (async () => {
    if (process.getuid?.() !== 0) return { user: process.env.USER ?? "current user" };
    try {
      const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
        run("id", ["-u", "postgres"]),
        run("id", ["-g", "postgres"]),
      ]);
      return { uid: Number(uid.trim()), gid: Number(gid.trim()), user: "postgres" };
    } catch (cause) {
      throw new Error("running as root but there is no `postgres` user to run postgres as (apt-get install postgresql)", {
        cause,
      });
    }
  })();
  return runAsPromise;
}

async function chownTree(dir: string, who: RunAs): Promise<void> {
  if (who.uid === undefined || who.gid === undefined) return;
  await run("chown", ["-R", `${who.uid}:${who.gid}`, dir]);
}

/** A port the kernel just handed out on loopback; a race with another process is handled by retrying. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it resolves true; fails early when the server process has exited. */
async function waitUntil(
  what: string,
  child: ChildProcess,
  output: () => string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms:\n${output()}`);
}

function captureOutput(child: ChildProcess): () => string {
  let text = "";
  const append = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return () => text;
}

function stopper(child: ChildProcess, signal: NodeJS.Signals, dir: string): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill(signal);
        const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
        if (timedOut) {
          child.kill("SIGKILL");
          await exited;
        }
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
}

let baseDirPromise: Promise<string> | undefined;
/**
 * Where instance directories go. SERVICES_TMPDIR wins; else /dev/shm when it is a usable tmpfs
 * (copying the template and postgres' own writes are then memory-speed: on a busy CI disk a 40 MB
 * copy takes seconds); else os.tmpdir(), or /tmp when postgres runs as another user who cannot
 * traverse os.tmpdir() (e.g. TMPDIR=/root/tmp, mode 0700).
 */
function baseDir(): Promise<string> {
  baseDirPromise ??= (async () => {
    if (process.env.SERVICES_TMPDIR) return process.env.SERVICES_TMPDIR;
    const traversable = async (dir: string) => {
      try {
        const info = await stat(dir);
        return info.isDirectory() && (process.getuid?.() !== 0 || (info.mode & 0o003) === 0o003);
      } catch {
        return false;
      }
    };
    if (await traversable("/dev/shm")) {
      try {
        const { bavail, bsize } = await statfs("/dev/shm");
        if (bavail * bsize > 1024 ** 3) return "/dev/shm";
      } catch {
        /* fall through */
      }
    }
    const dir = tmpdir();
    return (await traversable(dir)) ? dir : "/tmp";
  })();
  return baseDirPromise;
}

/** Bump when the initdb arguments change, so a stale cached template is not reused. */
const TEMPLATE_VERSION = "v2";
// 1 MB WAL segments instead of 16 MB: a smaller template to copy.
const INITDB_ARGS = ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"];

let templatePromise: Promise<string> | undefined;
/**
 * A data directory made by initdb (trust auth, superuser `postgres`, UTF8, C locale), cached on the
 * machine at <tmp>/pg-template-<major>-<version>-<uid>: made once (into a temp name, then renamed, so a
 * half-made template is never seen and concurrent test processes race safely), then copied per
 * instance with `cp -a` (keeps the postgres ownership and 0700 mode).
 */
function postgresTemplate(): Promise<string> {
  templatePromise ??= (async () => {
    const who = await postgresUser();
    const bin = pgBinDir();
    const major = path.basename(path.dirname(bin));
    const template = path.join(await baseDir(), `pg-template-${major}-${TEMPLATE_VERSION}-${who.uid ?? process.getuid?.()}`);
    if (existsSync(path.join(template, "PG_VERSION"))) return template;

    const scratch = await mkdtemp(`${template}.tmp-`);
    try {
      await chownTree(scratch, who);
      const dataDir = path.join(scratch, "data");
      const initdb = spawn(path.join(bin, "initdb"), ["-D", dataDir, ...INITDB_ARGS], {
        uid: who.uid,
        gid: who.gid,
        stdio: ["ignore", "pipe", "pipe"],
        cwd: scratch,
      });
      const output = captureOutput(initdb);
      const code = await new Promise<number | null>((r) => initdb.once("close", (c) => r(c)));
      if (code !== 0) throw new Error(`initdb failed (exit ${code}) as ${who.user}:\n${output()}`);
      try {
        await rename(dataDir, template);
      } catch (error) {
        // Another process won the race: use its template.
        if (!existsSync(path.join(template, "PG_VERSION"))) throw error;
      }
      return template;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  })();
  templatePromise.catch(() => {
    templatePromise = undefined;
  });
  return templatePromise;
}

const SETPRIV = "/usr/bin/setpriv";
const OWNER_FILE = ".owner-pid";

/**
 * Spawns a server that dies with this process: `setpriv --pdeathsig` (util-linux) makes the kernel
 * signal it when the test process goes away without calling stop() (killed worker, Ctrl-C), which an
 * `exit` handler cannot cover. Without setpriv, the `exit` handler in track() is the fallback.
 */
function spawnServer(
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; cwd: string },
  deathSignal: NodeJS.Signals,
): ChildProcess {
  const [cmd, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ["--pdeathsig", deathSignal, "--", command, ...args]]
    : [command, args];
  return spawn(cmd, argv, { ...options, stdio: ["ignore", "pipe", "pipe"] });
}

/** Marks an instance directory as this process's, for sweepOrphans(). */
async function claim(dir: string): Promise<void> {
  await writeFile(path.join(dir, OWNER_FILE), String(process.pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

let swept: Promise<void> | undefined;
/** Once per process: removes instance directories left by test processes that died without stop(). */
function sweepOrphans(): Promise<void> {
  swept ??= (async () => {
    const base = await baseDir();
    const names = await readdir(base).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => /^(pg|redis)-[A-Za-z0-9]{6}$/.test(name))
        .map(async (name) => {
          const owner = Number(await readFile(path.join(base, name, OWNER_FILE), "utf8").catch(() => ""));
          if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
            await rm(path.join(base, name), { recursive: true, force: true });
          }
        }),
    );
  })();
  return swept;
}

async function pgIsReady(port: number): Promise<boolean> {
  try {
    await run(path.join(pgBinDir(), "pg_isready"), ["-q", "-h", HOST, "-p", String(port), "-t", "1"]);
    return true;
  } catch {
    return false;
  }
}

/** Starts a fresh postgres server; returns its URL once `pg_isready` succeeds. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresService> {
  const database = options.database ?? "blinker_test";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  const [who, template] = await Promise.all([postgresUser(), postgresTemplate(), sweepOrphans()]);
  const bin = pgBinDir();

  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = await mkdtemp(path.join(await baseDir(), "pg-"));
    const dataDir = path.join(dir, "data");
    await claim(dir);
    await chownTree(dir, who);
    await run("cp", ["-a", template, dataDir]);
    const port = await freePort();
    const child = spawnServer(
      path.join(bin, "postgres"),
      [
        "-D", dataDir,
        "-p", String(port),
        "-k", dir, // unix socket in our own dir: no clash with a system server's /var/run/postgresql
        "-c", `listen_addresses=${HOST}`,
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
        "-c", "max_connections=50",
        "-c", "shared_buffers=32MB",
        "-c", "logging_collector=off",
      ],
      { uid: who.uid, gid: who.gid, cwd: dir },
      "SIGQUIT", // immediate shutdown when orphaned
    );
    track(child, "SIGQUIT");
    const output = captureOutput(child);
    // SIGINT = postgres "fast" shutdown: rolls back sessions, exits in well under a second.
    const stop = stopper(child, "SIGINT", dir);
    try {
      await waitUntil(`postgres on port ${port}`, child, output, () => pgIsReady(port), options.timeoutMs ?? 30_000);
      const adminUrl = `postgres://postgres@${HOST}:${port}/postgres`;
      if (options.createDatabase) {
        await run(path.join(bin, "createdb"), ["-h", HOST, "-p", String(port), "-U", "postgres", database]);
      }
      return { url: `postgres://postgres@${HOST}:${port}/${database}`, adminUrl, port, database, stop };
    } catch (error) {
      lastError = error;
      await stop();
      // A port taken between freePort() and bind: try another one.
      if (!/could not (create|bind)|Address already in use/i.test(String(error))) break;
    }
  }
  throw lastError;
}

async function redisPing(port: number): Promise<boolean> {
  try {
    const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(port), "ping"]);
    return stdout.trim() === "PONG";
  } catch {
    return false;
  }
}

/** Starts a fresh redis server (no persistence); returns its URL once `redis-cli ping` answers PONG. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RunningService> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    await sweepOrphans();
    const dir = await mkdtemp(path.join(await baseDir(), "redis-"));
    await claim(dir);
    const port = await freePort();
    const child = spawnServer(
      "redis-server",
      ["--port", String(port), "--bind", HOST, "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--protected-mode", "no", "--loglevel", "warning"],
      { cwd: dir },
      "SIGTERM",
    );
    track(child, "SIGKILL");
    const output = captureOutput(child);
    const stop = stopper(child, "SIGTERM", dir);
    try {
      await waitUntil(`redis on port ${port}`, child, output, () => redisPing(port), options.timeoutMs ?? 15_000);
      return { url: `redis://${HOST}:${port}/0`, port, stop };
    } catch (error) {
      lastError = error;
      await stop();
      if (!/Address already in use|bind/i.test(String(error))) break;
    }
  }
  throw lastError;
}

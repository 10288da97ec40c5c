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
 * - A server is ready only when the one answering on its port proves it is this instance: postgres
 *   reports the instance's own `cluster_name` marker, redis its own `dir`. A port picked by
 *   freePort() can be taken by another process before the server binds it; the old probe
 *   (`pg_isready`, `PING`) then accepted the other process's server, and two shards shared one
 *   database. Now a bind failure (or a stranger answering) is a `ServiceBindError`, retried on
 *   another port, and reported as such when every attempt hit one.
 *
 * Example:
 *   const pg = await startPostgres({ database: "blinker_test" });
 *   const redis = await startRedis();
 *   // DATABASE_URL=pg.url REDIS_URL=redis.url bundle exec rspec
 *   await Promise.all([pg.stop(), redis.stop()]);
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, realpath, rename, rm, stat, statfs, writeFile } from "node:fs/promises";
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

/** The server could not bind its port (another process holds it): says so instead of timing out. */
export class ServiceBindError extends Error {
  constructor(what: string, port: number, detail: string) {
    super(`${what} could not bind 127.0.0.1:${port}: ${detail}`);
    this.name = "ServiceBindError";
  }
}

/** Where a server listens: a port from freePort() unless a test forces one (to provoke a collision). */
export type PortChooser = () => Promise<number>;

export interface StartPostgresOptions {
  /** Database named in `url` (default `blinker_test`). */
  database?: string;
  /** Create `database` before returning (default false: the app's `rake db:create` may do it). */
  createDatabase?: boolean;
  /** Readiness timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Chooses each attempt's port (default freePort). */
  choosePort?: PortChooser;
  /** Attempts on fresh ports after a bind failure (default 5). */
  attempts?: number;
}

export interface StartRedisOptions {
  /** Readiness timeout in ms (default 15 s). */
  timeoutMs?: number;
  /** Chooses each attempt's port (default freePort). */
  choosePort?: PortChooser;
  /** Attempts on fresh ports after a bind failure (default 5). */
  attempts?: number;
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

/** Ports this process's servers hold or are about to bind: freePort() never hands one out twice. */
const reserved = new Set<number>();

/**
 * A port the kernel just handed out on loopback and that no server of this process holds. Another
 * process may still take it before our server binds it: the identity probe and the bind-failure
 * retry in startPostgres/startRedis handle that.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await kernelPort();
    if (!reserved.has(port)) return port;
  }
  return kernelPort();
}

function kernelPort(): Promise<number> {
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

/** What answered on the port: this instance, another server, or nothing (yet). */
export type ProbeAnswer = "mine" | "stranger" | "none";

const BIND_FAILURE = /could not bind|could not create any TCP\/IP sockets|Address already in use|bind: /i;

/**
 * Polls `probe` until this instance answers. Fails early when the server process exited, and with
 * a ServiceBindError when it exited over its port or a stranger answered on it.
 */
async function waitUntil(
  what: string,
  port: number,
  child: ChildProcess,
  output: () => string,
  probe: () => Promise<ProbeAnswer>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (Date.now() < deadline) {
    const answer = await probe().catch((): ProbeAnswer => "none");
    // Checked after the probe: a server that died over its port must not pass for ready.
    if (child.exitCode !== null || child.signalCode !== null) {
      await new Promise((r) => setImmediate(r)); // let the last output chunks arrive
      const text = output();
      if (BIND_FAILURE.test(text)) throw new ServiceBindError(what, port, lastMatchingLine(text));
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${text}`);
    }
    if (answer === "mine") return;
    if (answer === "stranger") throw new ServiceBindError(what, port, "another server answers on this port");
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms:\n${output()}`);
}

function lastMatchingLine(text: string): string {
  return text.split("\n").filter((l) => BIND_FAILURE.test(l)).pop()?.trim() ?? "address already in use";
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

/** Asks the server on `port` for its cluster_name: this instance's marker means it is ours. */
async function pgIdentity(port: number, marker: string): Promise<ProbeAnswer> {
  try {
    const { stdout } = await run(path.join(pgBinDir(), "psql"), ["-X", "-A", "-t", "-h", HOST, "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", "SHOW cluster_name"], {
      env: { ...process.env, PGCONNECT_TIMEOUT: "1" },
    });
    return stdout.trim() === marker ? "mine" : "stranger";
  } catch (error) {
    // Starting up, or nothing listening yet; a server that refuses us outright is not ours either.
    return /password authentication|role .* does not exist|no pg_hba/i.test(String((error as { stderr?: string }).stderr)) ? "stranger" : "none";
  }
}

/** A random marker naming one server instance, for the identity probes. */
function instanceMarker(kind: string): string {
  return `${kind}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Tries `start` on fresh ports while it fails with a ServiceBindError; the last error is thrown
 * (a ServiceBindError naming the port when every attempt hit one).
 */
async function onFreshPorts<T>(attempts: number, choosePort: PortChooser, start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = await choosePort();
    reserved.add(port);
    try {
      return await start(port);
    } catch (error) {
      reserved.delete(port);
      lastError = error;
      if (!(error instanceof ServiceBindError)) break;
    }
  }
  throw lastError;
}

/** Starts a fresh postgres server; returns its URL once it answers with its own identity. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresService> {
  const database = options.database ?? "blinker_test";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  const [who, template] = await Promise.all([postgresUser(), postgresTemplate(), sweepOrphans()]);
  const bin = pgBinDir();

  return onFreshPorts(options.attempts ?? 5, options.choosePort ?? freePort, async (port) => {
    const dir = await mkdtemp(path.join(await baseDir(), "pg-"));
    const dataDir = path.join(dir, "data");
    await claim(dir);
    await chownTree(dir, who);
    await run("cp", ["-a", template, dataDir]);
    const marker = instanceMarker("pg");
    const child = spawnServer(
      path.join(bin, "postgres"),
      [
        "-D", dataDir,
        "-p", String(port),
        "-k", dir, // unix socket in our own dir: no clash with a system server's /var/run/postgresql
        "-c", `listen_addresses=${HOST}`,
        "-c", `cluster_name=${marker}`, // what the identity probe asks for
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
    const stopServer = stopper(child, "SIGINT", dir);
    const stop = () => stopServer().finally(() => reserved.delete(port));
    try {
      await waitUntil(`postgres on port ${port}`, port, child, output, () => pgIdentity(port, marker), options.timeoutMs ?? 30_000);
      const adminUrl = `postgres://postgres@${HOST}:${port}/postgres`;
      if (options.createDatabase) {
        await run(path.join(bin, "createdb"), ["-h", HOST, "-p", String(port), "-U", "postgres", database]);
      }
      return { url: `postgres://postgres@${HOST}:${port}/${database}`, adminUrl, port, database, stop };
    } catch (error) {
      await stopServer();
      throw error;
    }
  });
}

/** Asks the redis on `port` for its `dir`: this instance's own directory means it is ours. */
async function redisIdentity(port: number, dir: string): Promise<ProbeAnswer> {
  try {
    const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(port), "CONFIG", "GET", "dir"], { timeout: 2000 });
    const lines = stdout.trim().split("\n");
    if (lines[0] !== "dir") return /LOADING|Connection refused/i.test(stdout) ? "none" : "stranger";
    return lines[1] === dir ? "mine" : "stranger";
  } catch {
    return "none";
  }
}

/** Starts a fresh redis server (no persistence); returns its URL once it answers with its own identity. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RunningService> {
  await sweepOrphans();
  return onFreshPorts(options.attempts ?? 5, options.choosePort ?? freePort, async (port) => {
    const dir = await realpath(await mkdtemp(path.join(await baseDir(), "redis-")));
    await claim(dir);
    const child = spawnServer(
      "redis-server",
      ["--port", String(port), "--bind", HOST, "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--protected-mode", "no", "--loglevel", "warning"],
      { cwd: dir },
      "SIGTERM",
    );
    track(child, "SIGKILL");
    const output = captureOutput(child);
    const stopServer = stopper(child, "SIGTERM", dir);
    const stop = () => stopServer().finally(() => reserved.delete(port));
    try {
      await waitUntil(`redis on port ${port}`, port, child, output, () => redisIdentity(port, dir), options.timeoutMs ?? 15_000);
      return { url: `redis://${HOST}:${port}/0`, port, stop };
    } catch (error) {
      await stopServer();
      throw error;
    }
  });
}

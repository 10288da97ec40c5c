/**
 * A fake Dagger engine for the SDK's REAL code path: a GraphQL server on 127.0.0.1 that answers
 * from the engine model (model.ts), and a runtime process started the way the 0.21 TypeScript
 * runtime starts one.
 *
 * - Registration (`register`) runs the SDK's introspection entrypoint
 *   (`dist/src/module/entrypoint/introspection_entrypoint.js`), which is what the 0.21 runtime's
 *   `ModuleTypes` runs (`sdk/typescript/runtime/introspector.go`, `main.go`): scan the sources and
 *   send the typedefs through `Register`, then write the module id to `TYPEDEF_OUTPUT_FILE`.
 *   `registerThroughEntrypoint` takes the other path, `entrypoint()` with `parentName ""`.
 * - Each invocation (`call`) starts a fresh `tsx --tsconfig <module>/tsconfig.json` process that
 *   calls the SDK's exported `entrypoint(files)` with the runtime's file list
 *   (`sdk/typescript/runtime/tsutils/bin/__dagger.entrypoint.ts`), connected through
 *   `DAGGER_SESSION_PORT`/`DAGGER_SESSION_TOKEN` (`dist/src/common/graphql/connect.js`). The fake
 *   engine hands it `currentFunctionCall` as the engine does (`core/modfunc.go` `setCallInputs`: the
 *   caller's arguments as JSON, then the registered defaults; objects by id; enums by member name;
 *   contextual directories loaded from `defaultPath`), and records `returnValue`/`returnError` and
 *   the exit code (the SDK calls `process.exit(1)` after `returnError`).
 * - Function results are cached as the engine caches them (`core/typedef.go`, `core/modfunc.go`):
 *   a second identical call to a function without `cache: "never"` is answered from the cache.
 * - The module's code runs "in its own container": a clean environment (no caller variables, an
 *   empty HOME), and `fetch` goes through the model's network (`EngineModel.moduleFetch`), where
 *   loopback is the module's own container.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../introspect.js";
import { listModuleFilesLikeRuntime } from "../runtime-load.js";
import { readTree } from "./files.js";
import { EngineModel, type FunctionCallState, type Returned, type World } from "./model.js";
import { EngineError, ModuleObj, type ArgDef, type FunctionDef, type TypeDefObj } from "./objects.js";
import { answeredFromCache, type CachePolicy } from "./rules.js";

const SDK_DIST = path.join(REPO_ROOT, "node_modules/@dagger.io/dagger/dist/src");
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");

/** A value as the caller writes it on `dagger call`'s command line, for the types the CLI turns into objects. */
export type CliValue =
  | string
  | number
  | boolean
  | null
  | { env: string } // --token env:NAME (Secret)
  | { dir: string } // --source ./path (Directory, relative to the repository)
  | { file: string } // --timings ./file (File)
  | { image: string } // --image ref (Container: the CLI's container().from(ref))
  | { service: string }; // --registry tcp://localhost:5000 (Service)

export interface CallResult {
  /** The process's exit code (null when killed after hanging). */
  exitCode: number | null;
  returned?: Returned;
  /** The returned value, parsed (object state, id, scalar). */
  value?: unknown;
  /** The message given to returnError. */
  error?: string;
  /** Everything the runtime printed. */
  output: string;
  /** Answered from the function cache: no process ran. */
  cached: boolean;
}

/** A `dagger call` the CLI itself refuses (unknown flag, a value not in an enum, a missing required flag). */
export class CliRefusal extends Error {}

function findUp(from: string, name: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, name))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export class FakeEngine {
  readonly model: EngineModel;
  readonly moduleDir: string;
  private server?: Server;
  private port = 0;
  /** One session per runtime process, by its token: several calls may run at once. */
  private readonly sessions = new Map<string, { call?: FunctionCallState; returned?: Returned }>();
  private readonly cache = new Map<string, { result: CallResult; session: number }>();
  private session = 1;
  private tmp?: string;
  /** How many runtime processes were started (registration included). */
  processes = 0;

  private readonly maxParallel: number;
  /** The project `dagger call` runs in, and its workspace boundary (the nearest `.git` upward, else itself). */
  readonly callerDir: string;
  readonly callerRoot: string;

  constructor(world: World = {}, options: { moduleDir?: string; maxParallel?: number; callerDir?: string } = {}) {
    this.model = new EngineModel(world);
    this.moduleDir = options.moduleDir ?? path.join(REPO_ROOT, "modules/pipeline");
    this.maxParallel = options.maxParallel ?? 2;
    this.callerDir = path.resolve(options.callerDir ?? path.join(REPO_ROOT, "test/fixtures/rails-api"));
    this.callerRoot = findUp(this.callerDir, ".git") ?? this.callerDir;
  }

  async start(): Promise<this> {
    this.tmp = await mkdtemp(path.join(os.tmpdir(), "fake-engine-"));
    await mkdir(path.join(this.tmp, "sdk"));
    // The runtime lists the generated client (sdk/client.gen.ts) first: the introspector needs a
    // file named client.gen.ts with the core types (Container, Secret, ...). The npm package ships
    // them as client.gen.d.ts: a copy under that name is scanned like the generated one, and
    // importing it (declarations only) loads nothing.
    await copyFile(path.join(SDK_DIST, "api/client.gen.d.ts"), this.clientFile);
    this.server = createServer((req, res) =>
      void this.handle(req, res).catch((err) => {
        process.stderr.write(`fake engine: ${(err as Error).stack}\n`);
        res.destroy();
      }),
    );
    // The runtime's HTTP client keeps its connection open while the introspector scans (many
    // seconds): Node's default 5 s keep-alive would close it under the client ("socket hang up").
    this.server.keepAliveTimeout = 10 * 60_000;
    this.server.headersTimeout = 11 * 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }

  private get clientFile(): string {
    return path.join(this.tmp!, "sdk/client.gen.ts");
  }

  /** A new client session (the per-session function cache starts empty; the default cache stays). */
  newSession(): void {
    this.session++;
  }

  // --- HTTP -------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await new Promise<string>((resolve) => {
      let text = "";
      req.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve(text));
    });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    const token = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString().replace(/:$/, "");
    const session = this.sessions.get(token);
    if (!session) return send(401, { errors: [{ message: "unauthorized" }] });
    if (req.url === "/__network") return send(200, await this.network(JSON.parse(body)));
    try {
      const { query } = JSON.parse(body) as { query: string };
      // The model answers one query at a time, synchronously: give it this session's call.
      this.model.call = session.call;
      this.model.returned = session.returned;
      try {
        send(200, { data: this.model.request(query) });
      } finally {
        session.returned = this.model.returned;
      }
    } catch (err) {
      const e = err as Error & { extensions?: Record<string, unknown> };
      if (!(err instanceof EngineError)) process.stderr.write(`fake engine: ${e.stack}\n`);
      send(200, { data: null, errors: [{ message: e.message, extensions: e.extensions }] });
    }
  }

  private async network(request: { url: string; method: string; headers: Record<string, string> }) {
    try {
      const res = await this.model.moduleFetch(request.url, { method: request.method, headers: request.headers });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, key) => (headers[key] = value));
      return { status: res.status, headers, body: await res.text() };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { error: { code: cause?.code ?? "EFAIL", message: cause?.message ?? String(err) } };
    }
  }

  // --- registration -----------------------------------------------------------------------------

  /** Register the module as 0.21's ModuleTypes does (the introspection entrypoint). */
  async register(): Promise<ModuleObj> {
    const client = this.clientFile;
    const out = path.join(this.tmp!, "module-id.json");
    const token = randomBytes(12).toString("hex");
    this.sessions.set(token, {});
    const run = await this.spawn(process.execPath, [path.join(SDK_DIST, "module/entrypoint/introspection_entrypoint.js"), "pipeline", path.join(this.moduleDir, "src"), client], {
      TYPEDEF_OUTPUT_FILE: out,
      DAGGER_SESSION_TOKEN: token,
    }).finally(() => this.sessions.delete(token));
    if (run.exitCode !== 0) throw new Error(`registration failed (exit ${run.exitCode}):\n${run.output}`);
    const id = JSON.parse(await readFile(out, "utf8")) as string;
    this.model.registered = this.model.load<ModuleObj>(id, "Module");
    return this.model.registered;
  }

  /** Register through `entrypoint()` with `parentName ""` (the SDK's other registration path). */
  async registerThroughEntrypoint(): Promise<ModuleObj> {
    const { run, returned } = await this.runEntrypoint({ parentName: "", name: "", parent: "{}", inputArgs: [] });
    if (run.exitCode !== 0 || !returned || !("value" in returned)) throw new Error(`registration through entrypoint failed (exit ${run.exitCode}):\n${run.output}`);
    return this.model.load<ModuleObj>(JSON.parse(returned.value), "Module");
  }

  /** The registered object type `name`. */
  objectType(name: string): TypeDefObj {
    const obj = this.model.registered?.def.objects.find((o) => o.data.name === name);
    if (!obj) throw new Error(`object ${name} is not registered (call register() first)`);
    return obj;
  }

  fn(objectName: string, fnName: string): FunctionDef {
    const f = this.objectType(objectName).data.functions.find((x) => x.name === fnName);
    if (!f) throw new CliRefusal(`unknown command "${kebab(fnName)}" for ${objectName}`);
    return f;
  }

  // --- invocation -------------------------------------------------------------------------------

  /**
   * `dagger call` one function: the parent's state (`{}` for the main object, which has no
   * constructor), the caller's arguments by their TypeScript names.
   */
  async call(parentName: string, fnName: string, parent: Record<string, unknown>, args: Record<string, CliValue> = {}): Promise<CallResult> {
    const def = this.fn(parentName, fnName);
    const inputArgs = this.inputArgs(def, args);
    const parentJson = JSON.stringify(parent);
    const key = JSON.stringify([parentName, fnName, parentJson, inputArgs]);
    const policy: CachePolicy = def.cachePolicy ?? "Default";
    const hit = this.cache.get(key);
    if (hit && answeredFromCache(policy, hit.session === this.session)) return { ...hit.result, cached: true };
    const { run, returned } = await this.runEntrypoint({ parentName, name: fnName, parent: parentJson, inputArgs });
    const result: CallResult = { exitCode: run.exitCode, output: run.output, returned, cached: false };
    if (returned && "value" in returned) result.value = JSON.parse(returned.value);
    if (returned && "error" in returned) result.error = returned.error.message;
    // The engine fails a call whose runtime exited non-zero, even after returnValue (core/sdk.go, core/modfunc.go).
    if (run.exitCode === 0 && returned && "value" in returned) this.cache.set(key, { result, session: this.session });
    return result;
  }

  /** The call inputs the engine builds (core/modfunc.go `setCallInputs`): given values, then registered defaults. */
  private inputArgs(def: FunctionDef, given: Record<string, CliValue>): Array<{ name: string; value: string }> {
    const out: Array<{ name: string; value: string }> = [];
    for (const [name, value] of Object.entries(given)) {
      const arg = def.args.find((a) => a.name === name);
      if (!arg) throw new CliRefusal(`unknown flag: --${kebab(name)} for ${kebab(def.name)}`);
      out.push({ name, value: JSON.stringify(this.convert(arg, arg.typeDef, value)) });
    }
    for (const arg of def.args) {
      if (arg.name in given) continue;
      if (arg.defaultValue !== undefined) out.push({ name: arg.name, value: arg.defaultValue });
      else if (arg.defaultPath) out.push({ name: arg.name, value: JSON.stringify(this.model.idFor(this.defaultPathDirectory(arg.defaultPath, arg.ignore ?? []))) });
      else if (!arg.typeDef.data.optional) throw new CliRefusal(`required flag(s) "${kebab(arg.name)}" not set`);
    }
    return out;
  }

  private convert(arg: ArgDef, type: TypeDefObj, value: CliValue): unknown {
    const t = type.data;
    if (value === null) return null;
    switch (t.kind) {
      case "ENUM_KIND": {
        const members = this.model.registered!.def.enums.find((e) => e.data.name === t.name)?.data.members ?? [];
        // cmd/dagger/flags.go enumValue.Set: a member NAME, case-insensitively; anything else is refused.
        const member = members.find((m) => m.name.toLowerCase() === String(value).toLowerCase());
        if (!member) throw new CliRefusal(`invalid argument "${value}" for "--${kebab(arg.name)}" flag: value should be one of ${members.map((m) => m.name).sort().join(",")}`);
        return member.name;
      }
      case "OBJECT_KIND": {
        const v = value as Exclude<CliValue, string | number | boolean | null>;
        if (t.name === "Secret" && "env" in v) return this.model.idFor(this.model.secretFromEnv(v.env));
        if (t.name === "Directory" && "dir" in v) return this.model.idFor(this.hostDirectory(path.resolve(REPO_ROOT, v.dir), arg.ignore ?? []));
        if (t.name === "File" && "file" in v) {
          const abs = path.resolve(REPO_ROOT, v.file);
          return this.model.idFor(this.model.fileOf(path.basename(abs), readFileSync(abs, "utf8")));
        }
        if (t.name === "Container" && "image" in v) return this.model.idFor(this.model.containerFrom(v.image));
        if (t.name === "Service" && "service" in v) return this.model.idFor(this.model.hostService(v.service));
        throw new CliRefusal(`--${kebab(arg.name)}: the fake CLI cannot make a ${t.name} from ${JSON.stringify(value)}`);
      }
      case "INTEGER_KIND":
        if (!Number.isInteger(Number(value))) throw new CliRefusal(`invalid argument "${value}" for "--${kebab(arg.name)}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
        return Number(value);
      case "BOOLEAN_KIND":
        return value === true || value === "true";
      case "LIST_KIND":
        return (value as unknown as CliValue[]).map((v) => this.convert(arg, t.elementType!, v));
      default:
        return value;
    }
  }

  /**
   * A contextual directory (`defaultPath`), `ignore` applied. The module is the project's blueprint
   * (`dagger init --blueprint`), loaded with legacy default paths: they come from the CALLER's
   * workspace, a relative path from the directory `dagger call` runs in, an absolute one from the
   * workspace boundary (`core/modfunc.go` loadLegacyDefaultPathArg, `core/schema/workspace.go`
   * resolveWorkspacePath; test/support/workspace.ts reads the same rules).
   */
  private defaultPathDirectory(defaultPath: string, ignore: string[]) {
    const abs = defaultPath.startsWith("/") ? path.join(this.callerRoot, defaultPath) : path.join(this.callerDir, defaultPath);
    return this.hostDirectory(abs, ignore);
  }

  private readonly directories = new Map<string, ReturnType<EngineModel["directoryOf"]>>();

  /** A directory of the caller's machine, loaded once (the engine content-addresses it: the same files are the same Directory). */
  private hostDirectory(abs: string, ignore: string[]) {
    const key = JSON.stringify([abs, ignore]);
    let dir = this.directories.get(key);
    if (!dir) {
      dir = this.model.directoryOf(readTree(abs, ignore), `host:${abs}`);
      this.directories.set(key, dir);
    }
    return dir;
  }

  // --- processes --------------------------------------------------------------------------------

  private async runEntrypoint(call: FunctionCallState): Promise<{ run: { exitCode: number | null; output: string }; returned?: Returned }> {
    const token = randomBytes(12).toString("hex");
    const session: { call?: FunctionCallState; returned?: Returned } = { call };
    this.sessions.set(token, session);
    try {
      const run = await this.runRuntime(token);
      return { run, returned: session.returned };
    } finally {
      this.sessions.delete(token);
    }
  }

  private async runRuntime(token: string): Promise<{ exitCode: number | null; output: string }> {
    const npmClient = path.join(SDK_DIST, "api/client.gen.js");
    const files = listModuleFilesLikeRuntime(path.join(this.moduleDir, "src")).map((f) => (f === npmClient ? this.clientFile : f));
    const script = path.join(this.tmp!, `entrypoint-${this.processes}.mts`);
    await writeFile(
      script,
      [
        // The module's container network: fetch goes through the engine model (model.moduleFetch).
        `const session = { port: ${this.port}, auth: ${JSON.stringify(`Basic ${Buffer.from(`${token}:`).toString("base64")}`)} };`,
        `const realFetch = globalThis.fetch;`,
        `globalThis.fetch = async (input, init = {}) => {`,
        `  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;`,
        `  const headers = Object.fromEntries(new Headers(init.headers ?? {}));`,
        `  const r = await realFetch("http://127.0.0.1:" + session.port + "/__network", { method: "POST", headers: { authorization: session.auth }, body: JSON.stringify({ url, method: init.method ?? "GET", headers }) });`,
        `  const j = await r.json();`,
        `  if (j.error) throw new TypeError("fetch failed", { cause: Object.assign(new Error(j.error.message), { code: j.error.code }) });`,
        `  const empty = (init.method ?? "GET") === "HEAD" || [204, 304].includes(j.status);`,
        `  return new Response(empty ? null : j.body, { status: j.status, headers: j.headers });`,
        `};`,
        `const { entrypoint } = await import(${JSON.stringify(pathToFileURL(path.join(SDK_DIST, "index.js")).href)});`,
        `await entrypoint(${JSON.stringify(files)});`,
      ].join("\n"),
    );
    return this.spawn(TSX, ["--tsconfig", path.join(this.moduleDir, "tsconfig.json"), script], { DAGGER_SESSION_TOKEN: token });
  }

  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** At most `maxParallel` runtimes at once: each scans the module with TypeScript (seconds of CPU). */
  private async spawn(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 240_000): Promise<{ exitCode: number | null; output: string }> {
    while (this.running >= this.maxParallel) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.spawnNow(cmd, args, env, timeoutMs);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async spawnNow(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ exitCode: number | null; output: string }> {
    this.processes++;
    const home = await mkdtemp(path.join(this.tmp!, "home-"));
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        cwd: this.moduleDir,
        // The module's container: nothing of the caller's environment (no AWS_*, no ~/.aws).
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: home,
          DAGGER_SESSION_PORT: String(this.port),
          AWS_EC2_METADATA_DISABLED: "true",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code, output });
      });
    });
  }
}


/**
 * A model of the Dagger 0.21 engine's API, enough for what the pipeline module calls: it parses each
 * GraphQL query the SDK sends (with the `graphql` package the SDK depends on), evaluates it against
 * immutable objects (objects.ts) and applies the engine's rules (rules.ts). Execs are lazy, as in the
 * engine: `withExec` runs nothing until a leaf (`sync`, `stdout`, `exitCode`, a file's contents,
 * `publish`) needs its result; what a process does comes from the test's `World`.
 *
 * One model serves both the in-process graph tests (`installEngineModel`, in-process.ts) and the fake
 * engine that the SDK's real entrypoint talks to over HTTP (fake-engine.ts).
 */
import { Kind, parse, type FieldNode, type SelectionSetNode, type ValueNode } from "graphql";
import { evaluateDockerfile } from "./dockerfile.js";
import {
  ContainerObj,
  DirectoryObj,
  EngineError,
  ErrorObj,
  ExecNode,
  FileObj,
  FunctionCallArgObj,
  FunctionObj,
  ModuleObj,
  CacheVolumeObj,
  PortObj,
  SecretObj,
  ServiceObj,
  SourceMapObj,
  TypeDefObj,
  type ContainerState,
  type ExecCall,
  type ExecResult,
  type Files,
  type FunctionDef,
  type ModelObject,
  type Mount,
} from "./objects.js";
import {
  acceptsExitCode,
  buildSecretMountPath,
  cacheLockDeadlock,
  emptyImageConfig,
  engineRegistryScheme,
  execFailureMessage,
  heldCacheLocks,
  isLoopbackHost,
  loopbackUnreachable,
  missingBuildSecretError,
  portsFromImageConfig,
  serviceStartError,
  tlsToPlainHttpError,
  upError,
  type CacheSharingMode,
  type ImageConfig,
  type ReturnType,
} from "./rules.js";

export interface RegistryImage {
  digest: string;
  config?: Partial<ImageConfig>;
}

/** A registry as the world holds it: `repository:tag` -> image; optional basic auth. */
export interface RegistryState {
  images: Record<string, RegistryImage>;
  auth?: { username: string; password: string };
  /** It speaks plain HTTP, no TLS (default: true for a loopback host, as a local docker-registry). */
  plainHttp?: boolean;
}

/** What lies outside the engine: images, registries, the caller's machine, what processes do. */
export interface World {
  /** The config of public images pulled by `from` / a Dockerfile FROM (default: an empty config). */
  images?: Record<string, Partial<ImageConfig>>;
  /**
   * Registries by the host refs name them with. A loopback host (`127.0.0.1:5000`) is on the
   * caller's machine: reachable only through a host service (`tcp://localhost:5000`).
   */
  registries?: Record<string, RegistryState>;
  /** Registry hosts the engine's engine.json gives `http: true` (`registries."<host>".http`). */
  engineHttpRegistries?: string[];
  /** What a process does (default: exit 0, no output). */
  exec?(call: ExecCall): ExecResult | undefined;
  /** Ports a service's process really listens on (default: every port it exposes). */
  listening?(service: { container: ContainerObj; env: Record<string, string> }): number[] | undefined;
  /** The caller's directories (`host().directory(path)`): path -> relative path -> contents. */
  hostDirectories?: Record<string, Record<string, string>>;
  /** The caller's environment, for `env://NAME` secrets. */
  callerEnv?: Record<string, string>;
  /** The module's name (`currentModule.name`). */
  moduleName?: string;
}

/** The function call the engine hands the runtime (`currentFunctionCall`). */
export interface FunctionCallState {
  parentName: string;
  name: string;
  /** JSON of the parent object's fields. */
  parent: string;
  inputArgs: Array<{ name: string; value: string }>;
}

export type Returned = { value: string } | { error: { message: string; values: Array<{ name: string; value: string }> } };

const ZERO_DIGEST = "sha256:" + "0".repeat(64);

function fakeDigest(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    h1 = Math.imul(h1 ^ text.charCodeAt(i), 16777619) >>> 0;
    h2 = Math.imul(h2 + text.charCodeAt(i), 2246822519) >>> 0;
  }
  return "sha256:" + (h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")).repeat(4);
}

/** Whether a world registry speaks plain HTTP (RegistryState.plainHttp; loopback by default). */
function speaksPlainHttp(hostPort: string, registry: RegistryState): boolean {
  return registry.plainHttp ?? isLoopbackHost(hostPort);
}

/** `host[:port]` of an image ref (`docker.io` when it names none). */
export function refHost(ref: string): string {
  const first = ref.split("/")[0]!;
  return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** `repository:tag` of a ref, without its host. */
function refRepoTag(ref: string): string {
  const host = refHost(ref);
  const rest = host === "docker.io" && !ref.startsWith("docker.io/") ? ref : ref.slice(host.length + 1);
  const noDigest = rest.split("@")[0]!;
  return /:[^/]+$/.test(noDigest) ? noDigest : `${noDigest}:latest`;
}

function joinPath(base: string, path: string): string {
  const abs = path.startsWith("/") ? path : `${base.replace(/\/$/, "")}/${path}`;
  const out: string[] = [];
  for (const part of abs.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** dockerignore-style: a pattern matches a path or a folder it is in (from the root). */
function ignored(rel: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    const clean = p.replace(/^\/+|\/+$/g, "");
    if (clean.startsWith("!")) return false;
    if (clean.includes("*")) {
      const re = new RegExp("^" + clean.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*") + "(/|$)");
      return re.test(rel);
    }
    return rel === clean || rel.startsWith(`${clean}/`);
  });
}

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += pattern[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Relative files of a directory under `path` (relative to it). */
function subtree(files: Files, path: string): Files {
  const prefix = path.replace(/^\.?\/*/, "").replace(/\/+$/, "");
  if (!prefix) return files;
  const out: Files = new Map();
  for (const [k, v] of files) if (k.startsWith(`${prefix}/`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

type Args = Record<string, unknown>;

/** What a selection applies to: the root (null), a model object, or a plain object (host, currentFunctionCall). */
type Node = ModelObject | Record<string, unknown> | null;

function isPlain(obj: object): obj is Record<string, unknown> {
  return Object.getPrototypeOf(obj) === Object.prototype;
}

/** A value of the engine's API: an object, a scalar, a list, or null. */
type Value = ModelObject | string | number | boolean | null | Value[] | { [field: string]: Value } | undefined;

export class EngineModel {
  readonly world: World;
  /** Every query in the order received (whitespace collapsed). */
  readonly queries: string[] = [];
  /** Every exec that ran, in order. */
  readonly execs: Array<{ call: ExecCall; exitCode: number; error?: string }> = [];
  /** Services started (health-checked), in order. */
  readonly started: ServiceObj[] = [];
  /** Images pushed: ref -> digest. */
  readonly pushes: Array<{ ref: string; digest: string; container: ContainerObj }> = [];
  /** dockerBuild calls, in the order they were made. */
  readonly builds: Array<{ dockerfile: string; buildArgs: Record<string, string>; secrets: string[]; container: ContainerObj }> = [];
  /** The current function call, when the model serves a runtime. */
  call?: FunctionCallState;
  returned?: Returned;
  /** The module the runtime registered (`Register` / introspection entrypoint). */
  registered?: ModuleObj;

  private readonly ids = new Map<string, ModelObject>();
  /** The call chain that made each object (its content address), and the object of each chain. */
  private readonly keys = new WeakMap<object, string>();
  private readonly byKey = new Map<string, ModelObject>();
  private readonly idOf = new Map<ModelObject, string>();
  private readonly execMemo = new Map<string, ExecNode>();
  private readonly registryAuth = new Map<string, { username: string; secret: SecretObj }>();
  private readonly startedKeys = new Set<ServiceObj>();
  private serviceCount = 0;

  constructor(world: World = {}) {
    this.world = world;
  }

  // --- public helpers ---------------------------------------------------------------------------

  /** The id the SDK gets for an object (stable per object). */
  idFor(obj: ModelObject): string {
    let id = this.idOf.get(obj);
    if (!id) {
      id = `${obj.kind}#${this.ids.size + 1}`;
      this.ids.set(id, obj);
      this.idOf.set(obj, id);
    }
    return id;
  }

  load<T extends ModelObject>(id: unknown, kind: T["kind"]): T {
    const obj = typeof id === "string" ? this.ids.get(id) : undefined;
    if (!obj) throw new EngineError(`failed to load ${kind} from ID ${JSON.stringify(id)}: not found`);
    if (obj.kind !== kind) throw new EngineError(`ID ${id} is a ${obj.kind}, not a ${kind}`);
    return obj as T;
  }

  /** A directory of `files` (relative path -> contents), as the engine loads a host or contextual directory. */
  directoryOf(files: Record<string, string>, origin: string): DirectoryObj {
    return new DirectoryObj(() => new Map(Object.entries(files)), origin);
  }

  /** A file of the caller's, as `--timings ./file` makes it. */
  fileOf(name: string, text: string): FileObj {
    return new FileObj(name, () => text);
  }

  private readonly hostServices = new Map<string, ServiceObj>();

  /** A service on the caller's machine, as `--flag tcp://localhost:5000` makes it (the same address is the same service). */
  hostService(address: string): ServiceObj {
    const m = /^tcp:\/\/([^/]+):(\d+)$/.exec(address);
    if (!m) throw new EngineError(`unsupported service address ${address} (the model knows tcp://host:port)`);
    let svc = this.hostServices.get(address);
    if (!svc) {
      svc = new ServiceObj(`svc-host-${++this.serviceCount}`, { kind: "host", host: `${m[1]}:${m[2]}`, ports: [Number(m[2])] });
      this.hostServices.set(address, svc);
    }
    return svc;
  }

  secretFromEnv(name: string): SecretObj {
    return new SecretObj(`env://${name}`, () => this.callerEnv(name), `env://${name}`);
  }

  /** A container as `--image <ref>` makes it: `container().from(ref)`. */
  containerFrom(ref: string): ContainerObj {
    return this.from(this.emptyContainer(), ref, undefined);
  }

  /** Evaluate a container (run its pending execs); throws the engine's error. */
  evaluate(ctr: ContainerObj): void {
    for (const layer of ctr.state.layers) {
      if (layer.kind === "error") throw layer.error;
      if (layer.kind === "exec") {
        this.runExec(layer.exec);
        if (layer.exec.result!.error) throw layer.exec.result!.error;
      }
    }
  }

  /** Start a service as the engine does before anything uses it (health checks). */
  startService(svc: ServiceObj): void {
    if (this.startedKeys.has(svc)) return;
    if (svc.source.kind === "container") {
      const ctr = svc.source.container;
      this.evaluate(ctr);
      const env = this.envOf(ctr.state);
      const listening = this.world.listening?.({ container: ctr, env }) ?? ctr.state.ports.map((p) => p.port);
      const error = serviceStartError({ ports: ctr.state.ports, listening, dockerHealthcheck: Boolean(ctr.state.config.healthcheck) });
      if (error) throw new EngineError(`start ${svc.hostname}: ${error}`);
    }
    this.startedKeys.add(svc);
    this.started.push(svc);
  }

  /** `dagger call ... up [--ports]` on a service (the CLI's last step). */
  up(svc: ServiceObj, ports: string[] = []): void {
    const exposed = svc.source.kind === "container" ? svc.source.container.state.ports : svc.source.ports.map((port) => ({ port, protocol: "TCP" as const, skipHealthcheck: false }));
    const error = upError(ports, exposed);
    if (error) throw new EngineError(error);
    this.startService(svc);
  }

  /**
   * A request from the module's code (its own container) to `url`: loopback is that container,
   * service hostnames of the session resolve once the service runs, other hosts are the world's
   * registries. Returns a fetch Response or throws like undici does (TypeError, cause.code).
   */
  async moduleFetch(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(url);
    const hostPort = u.port ? `${u.hostname}:${u.port}` : u.hostname;
    const fail = (code: string, message: string) => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
    };
    let registry: RegistryState | undefined;
    if (isLoopbackHost(hostPort)) fail("ECONNREFUSED", loopbackUnreachable("module", hostPort));
    const svc = [...this.startedKeys].find((s) => s.hostname === u.hostname);
    if (svc) {
      if (svc.source.kind !== "host") fail("ECONNREFUSED", `${hostPort}: the model serves only host services to module code`);
      else registry = this.callerRegistry(svc.source.host);
    } else if (/^svc-/.test(u.hostname)) fail("ENOTFOUND", `getaddrinfo ENOTFOUND ${u.hostname} (the service was not started: call start() first)`);
    else {
      registry = this.world.registries?.[hostPort];
      if (registry && u.protocol === "https:" && speaksPlainHttp(hostPort, registry)) fail("EPROTO", tlsToPlainHttpError("module", hostPort));
    }
    if (!registry) return fail("ENOTFOUND", `getaddrinfo ENOTFOUND ${u.hostname}`);
    return serveRegistryApi(registry, init.method ?? "GET", u.pathname, init.headers ?? {});
  }

  // --- GraphQL ----------------------------------------------------------------------------------

  /** Answer one query the SDK sent: the `data` object, or an EngineError thrown. */
  request(query: string): Record<string, unknown> {
    this.queries.push(query.replace(/\s+/g, " ").trim());
    const doc = parse(query);
    const op = doc.definitions[0];
    if (!op || op.kind !== Kind.OPERATION_DEFINITION) throw new EngineError("expected one query operation");
    return this.selectOn(null, op.selectionSet) as Record<string, unknown>;
  }

  private selectOn(obj: Node, set: SelectionSetNode): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) out[sel.alias?.value ?? sel.name.value] = this.selectField(obj, sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition?.name.value;
        if (type && obj && !isPlain(obj) && obj.kind !== type) throw new EngineError(`${obj.kind} is not a ${type}`);
        Object.assign(out, this.selectOn(obj, sel.selectionSet));
      }
    }
    return out;
  }

  private selectField(obj: Node, field: FieldNode): unknown {
    const args: Args = {};
    for (const a of field.arguments ?? []) args[a.name.value] = valueOf(a.value);
    const name = field.name.value;
    // Objects are content-addressed by the call chain that made them, as the engine's call IDs are:
    // the same chain is the same object (one exec run, one service, one build), whichever query
    // sends it again.
    const parentKey = obj === null ? "" : (this.keys.get(obj) ?? (isPlain(obj) ? "?" : this.idFor(obj)));
    const key = `${parentKey}.${name}${JSON.stringify(args)}`;
    let value: Value = this.byKey.get(key);
    if (value === undefined) {
      value = obj === null ? this.query(name, args) : isPlain(obj) ? this.plainField(obj, name, args) : this.field(obj, name, args);
      if (value && typeof value === "object" && !Array.isArray(value)) {
        if (!this.keys.has(value)) this.keys.set(value, key);
        if (!isPlain(value)) this.byKey.set(key, value as ModelObject);
      }
    }
    return this.shape(value, field);
  }

  private shape(value: Value, field: FieldNode): unknown {
    if (value === undefined || value === null) return null;
    if (Array.isArray(value)) return value.map((v) => this.shape(v, field));
    if (typeof value === "object") {
      if (!field.selectionSet) throw new EngineError(`field ${field.name.value} returns an object: select its fields`);
      return this.selectOn(value as Node, field.selectionSet);
    }
    return value;
  }

  // --- Query ------------------------------------------------------------------------------------

  private query(name: string, args: Args): Value {
    switch (name) {
      case "container":
        return this.emptyContainer();
      case "directory":
        return new DirectoryObj(() => new Map(), "scratch");
      case "file":
        return new FileObj(String(args.name), () => String(args.contents));
      case "host":
        return { directory: null, service: null } as unknown as Value; // host { directory, service } are resolved by plainField
      case "setSecret":
        return new SecretObj(String(args.name), () => String(args.plaintext), "setSecret");
      case "secret":
        return this.secretFromUri(String(args.uri));
      case "cacheVolume":
        return new CacheVolumeObj(String(args.key));
      case "node":
        return this.ids.get(String(args.id)) ?? null;
      case "error":
        return new ErrorObj(String(args.message));
      case "currentModule":
        return { name: this.world.moduleName ?? "pipeline" } as unknown as Value;
      case "currentFunctionCall":
        return this.functionCall();
      case "module_":
      case "module":
        return new ModuleObj({ objects: [], enums: [], interfaces: [] });
      case "typeDef":
        return new TypeDefObj({ kind: "VOID_KIND", optional: false, functions: [], fields: [], members: [] });
      case "function_":
      case "function":
        return new FunctionObj({ name: String(args.name), returnType: this.load<TypeDefObj>(args.returnType, "TypeDef"), args: [] });
      case "sourceMap":
        return new SourceMapObj(`${args.filename}:${args.line}:${args.column}`);
      case "version":
        return "v0.21.9";
      default:
        if (name.startsWith("load") && name.endsWith("FromID")) return this.ids.get(String(args.id)) ?? null;
        throw new EngineError(`the engine model does not know Query.${name}`);
    }
  }

  private functionCall(): Value {
    if (!this.call) throw new EngineError("no function call: the model is not serving a runtime");
    const call = this.call;
    return {
      parentName: call.parentName,
      name: call.name,
      parent: call.parent,
      inputArgs: call.inputArgs.map((a) => new FunctionCallArgObj(a.name, a.value)),
      returnValue: null,
      returnError: null,
    } as unknown as Value;
  }

  // --- objects ----------------------------------------------------------------------------------

  private field(obj: ModelObject, name: string, args: Args): Value {
    if (name === "id") return this.idFor(obj);
    switch (obj.kind) {
      case "Container":
        return this.containerField(obj, name, args);
      case "Directory":
        return this.directoryField(obj, name, args);
      case "File":
        return this.fileField(obj, name, args);
      case "Secret":
        if (name === "plaintext") return obj.plaintext();
        if (name === "name") return obj.name;
        break;
      case "Service":
        return this.serviceField(obj, name, args);
      case "CacheVolume":
        break;
      case "TypeDef":
      case "Function":
      case "Module":
      case "SourceMap":
        return this.registrationField(obj, name, args);
      case "Error":
        if (name === "withValue") return new ErrorObj(obj.message, [...obj.values, { name: String(args.name), value: String(args.value) }]);
        if (name === "message") return obj.message;
        break;
      case "Port":
        if (name === "port" || name === "protocol" || name === "experimentalSkipHealthcheck") return obj[name];
        break;
      case "FunctionCallArgValue":
        if (name === "name") return obj.name;
        if (name === "value") return obj.value;
        break;
    }
    throw new EngineError(`the engine model does not know ${obj.kind}.${name}`);
  }

  /** Plain objects returned by Query fields (host, currentModule, currentFunctionCall). */
  private plainField(obj: Record<string, unknown>, name: string, args: Args): Value {
    if ("parentName" in obj) {
      if (name === "returnValue") {
        this.returned = { value: String(args.value) };
        return null;
      }
      if (name === "returnError") {
        const err = this.load<ErrorObj>(args.error, "Error");
        this.returned = { error: { message: err.message, values: err.values } };
        return null;
      }
    }
    if ("directory" in obj && name === "directory") return this.hostDirectory(String(args.path), (args.exclude as string[] | undefined) ?? []);
    if ("directory" in obj && name === "service") {
      // host.service(ports, { host }): what the CLI makes of `--flag tcp://localhost:5000`.
      const ports = (args.ports as Array<{ backend: number; frontend?: number }>).map((p) => p.frontend ?? p.backend);
      return this.hostService(`tcp://${(args.host as string | undefined) ?? "localhost"}:${ports[0]}`);
    }
    if (name in obj) return obj[name] as Value;
    throw new EngineError(`the engine model does not know field ${name}`);
  }

  // --- Container --------------------------------------------------------------------------------

  emptyContainer(): ContainerObj {
    return new ContainerObj({ config: emptyImageConfig(), ports: [], mounts: [], secretEnv: [], services: [], layers: [], ops: [] });
  }

  private containerField(ctr: ContainerObj, name: string, args: Args): Value {
    const s = ctr.state;
    const str = (k: string) => String(args[k]);
    const path = (k = "path") => joinPath(s.config.workdir || "/", str(k));
    switch (name) {
      case "from":
        return this.from(ctr, str("address"), args.registryService);
      case "withExec":
        return this.withExec(ctr, (args.args as string[]) ?? [], { expect: ((args.expect as ReturnType) ?? "SUCCESS") as ReturnType, useEntrypoint: Boolean(args.useEntrypoint) });
      case "withEnvVariable": {
        const value = args.expand ? substituteEnv(str("value"), this.envOf(s)) : str("value");
        return ctr.with({ config: { ...s.config, env: [...s.config.env.filter(([n]) => n !== args.name), [str("name"), value]] } }, `withEnvVariable(${args.name}=${value})`);
      }
      case "withoutEnvVariable":
        return ctr.with({ config: { ...s.config, env: s.config.env.filter(([n]) => n !== args.name) } }, `withoutEnvVariable(${args.name})`);
      case "withSecretVariable":
        return ctr.with({ secretEnv: [...s.secretEnv.filter((e) => e.name !== args.name), { name: str("name"), secret: this.load<SecretObj>(args.secret, "Secret") }] }, `withSecretVariable(${args.name})`);
      case "withoutSecretVariable":
        return ctr.with({ secretEnv: s.secretEnv.filter((e) => e.name !== args.name) }, `withoutSecretVariable(${args.name})`);
      case "withWorkdir":
        return ctr.with({ config: { ...s.config, workdir: path() } }, `withWorkdir(${path()})`);
      case "withUser":
        return ctr.with({ config: { ...s.config, user: str("name") } }, `withUser(${args.name})`);
      case "withEntrypoint":
        return ctr.with({ config: { ...s.config, entrypoint: args.args as string[], cmd: args.keepDefaultArgs ? s.config.cmd : null } }, "withEntrypoint");
      case "withoutEntrypoint":
        return ctr.with({ config: { ...s.config, entrypoint: null, cmd: args.keepDefaultArgs ? s.config.cmd : null } }, "withoutEntrypoint");
      case "withDefaultArgs":
        return ctr.with({ config: { ...s.config, cmd: args.args as string[] } }, "withDefaultArgs");
      case "withLabel":
        return ctr.with({ config: { ...s.config, labels: { ...s.config.labels, [str("name")]: str("value") } } }, `withLabel(${args.name}=${args.value})`);
      case "withExposedPort": {
        const protocol = (args.protocol as "TCP" | "UDP" | undefined) ?? "TCP";
        const port = { port: Number(args.port), protocol, skipHealthcheck: Boolean(args.experimentalSkipHealthcheck) };
        return ctr.with({ ports: [...s.ports.filter((p) => !(p.port === port.port && p.protocol === protocol)), port] }, `withExposedPort(${port.port}${port.skipHealthcheck ? ", skipHealthcheck" : ""})`);
      }
      case "withoutExposedPort": {
        const protocol = (args.protocol as string | undefined) ?? "TCP";
        return ctr.with({ ports: s.ports.filter((p) => !(p.port === Number(args.port) && p.protocol === protocol)) }, `withoutExposedPort(${args.port})`);
      }
      case "withMountedSecret":
        return this.mount(ctr, { path: path(), kind: "secret", secret: this.load<SecretObj>(args.source, "Secret"), owner: args.owner as string | undefined, mode: args.mode as number | undefined });
      case "withMountedCache": {
        const cache = this.load<CacheVolumeObj>(args.cache, "CacheVolume");
        return this.mount(ctr, { path: path(), kind: "cache", cache: { key: cache.key, sharing: ((args.sharing as CacheSharingMode | undefined) ?? "SHARED") } });
      }
      case "withMountedDirectory":
        return this.mount(ctr, { path: path(), kind: "directory", directory: this.load<DirectoryObj>(args.source, "Directory") });
      case "withMountedFile":
        return this.mount(ctr, { path: path(), kind: "file", file: this.load<FileObj>(args.source, "File") });
      case "withMountedTemp":
        return this.mount(ctr, { path: path(), kind: "temp" });
      case "withoutMount":
        return ctr.with({ mounts: s.mounts.filter((m) => m.path !== path()) }, `withoutMount(${path()})`);
      case "withNewFile":
        return this.withFiles(ctr, new Map([[path(), str("contents")]]), `withNewFile(${path()})`);
      case "withFile":
        return this.withFiles(ctr, new Map([[path(), this.load<FileObj>(args.source, "File").contents()]]), `withFile(${path()})`);
      case "withDirectory": {
        const dir = this.load<DirectoryObj>(args.directory ?? args.source, "Directory");
        const exclude = (args.exclude as string[] | undefined) ?? [];
        const files = new Map<string, string | null>();
        for (const [rel, text] of dir.files()) if (!ignored(rel, exclude)) files.set(joinPath(path(), rel), text);
        return this.withFiles(ctr, files, `withDirectory(${path()}, ${dir.origin})`);
      }
      case "withoutFile":
      case "withoutDirectory":
        return this.withFiles(ctr, new Map([[path(), null]]), `${name}(${path()})`);
      case "withServiceBinding":
        return ctr.with({ services: [...s.services.filter((b) => b.alias !== args.alias), { alias: str("alias"), service: this.load<ServiceObj>(args.service, "Service") }] }, `withServiceBinding(${args.alias})`);
      case "withRegistryAuth": {
        // The login belongs to the session: later pulls and pushes use it (core/schema/container.go).
        this.registryAuth.set(refHost(`${str("address")}/x`), { username: str("username"), secret: this.load<SecretObj>(args.secret, "Secret") });
        return ctr.with({}, `withRegistryAuth(${args.address})`);
      }
      case "asService":
        return new ServiceObj(`svc-${++this.serviceCount}`, {
          kind: "container",
          container: ctr,
          args: args.args as string[] | undefined,
          useEntrypoint: Boolean(args.useEntrypoint),
        });
      case "up":
        this.up(new ServiceObj(`svc-${++this.serviceCount}`, { kind: "container", container: ctr, useEntrypoint: false }), (args.ports as string[] | undefined) ?? []);
        return null;
      case "sync":
        this.evaluate(ctr);
        return this.idFor(ctr);
      case "stdout":
      case "stderr":
      case "exitCode": {
        this.evaluate(ctr);
        const last = s.lastExec?.result;
        if (!last) throw new EngineError(`${name}: no command has been set`);
        return name === "exitCode" ? last.exitCode : last[name];
      }
      case "directory": {
        const at = path();
        return new DirectoryObj(() => {
          this.evaluate(ctr);
          return this.readTree(s, at);
        }, `container:${at}`);
      }
      case "file": {
        const at = path();
        return new FileObj(at.split("/").pop()!, () => {
          this.evaluate(ctr);
          const text = this.readFile(s, at);
          if (text === undefined) throw new EngineError(`lstat ${at}: no such file or directory`);
          return text;
        });
      }
      case "exists": {
        this.evaluate(ctr);
        const at = path();
        const isFile = this.readFile(s, at) !== undefined;
        const isDir = this.readTree(s, at).size > 0;
        if (args.expectedType === "REGULAR_TYPE") return isFile;
        if (args.expectedType === "DIRECTORY_TYPE") return isDir;
        return isFile || isDir;
      }
      case "publish":
        return this.publish(ctr, str("address"), args.registryService);
      case "envVariable":
        return this.envOf(s)[str("name")] ?? null;
      case "workdir":
        return s.config.workdir;
      case "user":
        return s.config.user;
      case "entrypoint":
        return s.config.entrypoint;
      case "defaultArgs":
        return s.config.cmd;
      case "mounts":
        return s.mounts.map((m) => m.path);
      case "label":
        return s.config.labels[str("name")] ?? null;
      case "exposedPorts":
        return s.ports.map((p) => new PortObj(p.port, p.protocol, p.skipHealthcheck));
      case "terminal":
        return ctr;
      default:
        throw new EngineError(`the engine model does not know Container.${name}`);
    }
  }

  private mount(ctr: ContainerObj, m: Mount): ContainerObj {
    return ctr.with({ mounts: [...ctr.state.mounts.filter((x) => x.path !== m.path), m] }, `withMounted${m.kind[0]!.toUpperCase()}${m.kind.slice(1)}(${m.path})`);
  }

  private withFiles(ctr: ContainerObj, files: Map<string, string | null>, op: string): ContainerObj {
    return ctr.with({ layers: [...ctr.state.layers, { kind: "files", files }] }, op);
  }

  private from(ctr: ContainerObj, ref: string, registryService: unknown): ContainerObj {
    const base = this.emptyContainer();
    const pulled = this.pull(ref, registryService);
    const state: ContainerState = {
      ...base.state,
      origin: ref,
      config: pulled.config,
      ports: portsFromImageConfig(pulled.config, "from"),
      layers: pulled.error ? [{ kind: "error", error: pulled.error }] : [],
      ops: [...ctr.state.ops, `from(${ref})`],
    };
    return new ContainerObj(state);
  }

  /** The config of `ref` as a pull would get it, or the engine's error (lazy: raised on evaluation). */
  private pull(ref: string, registryService: unknown): { config: ImageConfig; error?: EngineError } {
    const host = refHost(ref);
    const registry = this.engineRegistry(host, registryService);
    if (registry === "unreachable") return { config: emptyImageConfig(), error: new EngineError(`failed to resolve source metadata for ${ref}: ${loopbackUnreachable("engine", host)}`) };
    if (registry) {
      const image = registry.images[refRepoTag(ref)];
      if (!image) return { config: emptyImageConfig(), error: new EngineError(`failed to resolve source metadata for ${ref}: ${ref}: not found`) };
      return { config: { ...emptyImageConfig(), ...image.config } };
    }
    return { config: { ...emptyImageConfig(), ...this.world.images?.[ref] } };
  }

  /**
   * The registry the ENGINE reaches for `host`: the world's registry, a host service given as
   * `registryService` (which the engine aliases to the ref's host), "unreachable" for a loopback
   * host without one, or undefined for a public registry the world does not model.
   */
  private engineRegistry(host: string, registryService: unknown): RegistryState | "unreachable" | undefined {
    if (registryService !== undefined && registryService !== null) {
      const svc = this.load<ServiceObj>(registryService, "Service");
      this.startService(svc);
      return svc.source.kind === "host" ? (this.callerRegistry(svc.source.host) ?? "unreachable") : "unreachable";
    }
    if (isLoopbackHost(host)) return "unreachable";
    const registry = this.world.registries?.[host];
    if (registry && speaksPlainHttp(host, registry) && engineRegistryScheme(host, this.world.engineHttpRegistries ?? []) === "https") {
      throw new EngineError(tlsToPlainHttpError("engine", host));
    }
    return registry;
  }

  /** A registry on the caller's machine by `host:port` (localhost and 127.0.0.1 are the same machine). */
  private callerRegistry(hostPort: string): RegistryState | undefined {
    const port = hostPort.split(":").pop();
    const regs = this.world.registries ?? {};
    return regs[hostPort] ?? Object.entries(regs).find(([h]) => isLoopbackHost(h) && h.split(":").pop() === port)?.[1];
  }

  private publish(ctr: ContainerObj, ref: string, registryService: unknown): string {
    this.evaluate(ctr);
    const host = refHost(ref);
    let registry = this.engineRegistry(host, registryService);
    if (registry === "unreachable") throw new EngineError(`failed to export: failed to push ${ref}: ${loopbackUnreachable("engine", host)}`);
    if (registry?.auth) {
      const login = this.registryAuth.get(host);
      if (!login || login.username !== registry.auth.username || login.secret.plaintext() !== registry.auth.password) {
        throw new EngineError(`failed to export: failed to push ${ref}: unexpected status from HEAD request: 401 Unauthorized`);
      }
    }
    if (!registry) {
      registry = { images: {} };
      (this.world.registries ??= {})[host] = registry;
    }
    const digest = fakeDigest(JSON.stringify([ref, ctr.state.ops]));
    registry.images[refRepoTag(ref)] = { digest, config: ctr.state.config };
    this.pushes.push({ ref, digest, container: ctr });
    // The address with its tag and the pushed digest: core/container.go Publish returns
    // reference.WithDigest(ref, digest), which keeps the tag (a real engine answered
    // `host/repo:tag@sha256:...`; the model used to drop the tag).
    return `${ref.split("@")[0]!}@${digest}`;
  }

  private withExec(ctr: ContainerObj, args: string[], options: { expect: ReturnType; useEntrypoint: boolean }): ContainerObj {
    const argv = options.useEntrypoint && ctr.state.config.entrypoint ? [...ctr.state.config.entrypoint, ...args] : args;
    const key = JSON.stringify([this.idFor(ctr), argv, options]);
    let exec = this.execMemo.get(key);
    if (!exec) {
      exec = new ExecNode(argv, options, ctr.state);
      this.execMemo.set(key, exec);
    }
    return new ContainerObj({ ...ctr.state, layers: [...ctr.state.layers, { kind: "exec", exec }], lastExec: exec, ops: [...ctr.state.ops, `withExec(${JSON.stringify(argv)}${options.expect !== "SUCCESS" ? `, expect ${options.expect}` : ""})`] });
  }

  private runExec(exec: ExecNode): void {
    if (exec.result) return;
    const s = exec.state;
    const fail = (error: EngineError) => {
      exec.result = { exitCode: -1, stdout: "", stderr: "", files: new Map(), error };
    };
    try {
      this.evaluate(new ContainerObj(s));
      const heldLocks = heldCacheLocks(s.mounts.map((m) => ({ kind: m.kind, cacheKey: m.cache?.key, sharing: m.cache?.sharing })));
      for (const b of s.services) {
        if (b.service.source.kind === "container") {
          const serviceLocks = heldCacheLocks(b.service.source.container.state.mounts.map((m) => ({ kind: m.kind, cacheKey: m.cache?.key, sharing: m.cache?.sharing })));
          const deadlock = cacheLockDeadlock({ args: exec.args, heldLocks }, { hostname: b.service.hostname, alias: b.alias, heldLocks: serviceLocks });
          if (deadlock) throw new EngineError(deadlock);
        }
        this.startService(b.service);
      }
    } catch (err) {
      return fail(err instanceof EngineError ? err : new EngineError(String(err)));
    }
    const call: ExecCall = {
      args: exec.args,
      env: this.envOf(s),
      secretEnv: s.secretEnv.map((e) => e.name),
      workdir: s.config.workdir || "/",
      user: s.config.user,
      origin: s.origin,
      labels: s.config.labels,
      mounts: s.mounts.map((m) => ({ path: m.path, kind: m.kind, secretName: m.secret?.name, cacheKey: m.cache?.key, sharing: m.cache?.sharing, fromBuild: m.fromBuild })),
      services: s.services,
      readFile: (p) => this.readFile(s, joinPath(s.config.workdir || "/", p)),
    };
    const r = this.world.exec?.(call) ?? {};
    const exitCode = r.exitCode ?? 0;
    const files = new Map<string, string | null>(Object.entries(r.files ?? {}).map(([p, t]) => [joinPath(call.workdir, p), t]));
    const result = { exitCode, stdout: r.stdout ?? "", stderr: r.stderr ?? "", files };
    if (!acceptsExitCode(exec.options.expect, exitCode)) {
      exec.result = {
        ...result,
        error: new EngineError(execFailureMessage(exec.args, exitCode), { _type: "EXEC_ERROR", cmd: exec.args, exitCode, stdout: result.stdout, stderr: result.stderr }),
      };
    } else exec.result = result;
    this.execs.push({ call, exitCode, error: exec.result.error?.message });
  }

  envOf(s: ContainerState): Record<string, string> {
    return Object.fromEntries(s.config.env);
  }

  /** A file as a process in `s` reads it: mounts first (secret mounts give the plaintext), then layers. */
  readFile(s: ContainerState, abs: string): string | undefined {
    for (const m of [...s.mounts].reverse()) {
      if (m.kind === "secret" && m.path === abs) return m.secret!.plaintext();
      if (m.kind === "file" && m.path === abs) return m.file!.contents();
      if (m.kind === "directory" && abs.startsWith(`${m.path}/`)) return m.directory!.files().get(abs.slice(m.path.length + 1));
    }
    for (const layer of [...s.layers].reverse()) {
      const files = layer.kind === "files" ? layer.files : layer.kind === "exec" ? layer.exec.result?.files : undefined;
      if (files?.has(abs)) return files.get(abs) ?? undefined;
      if (files) for (const [p, v] of files) if (v === null && abs.startsWith(`${p}/`)) return undefined;
    }
    return undefined;
  }

  private readTree(s: ContainerState, abs: string): Files {
    const out: Files = new Map();
    const prefix = abs === "/" ? "/" : `${abs}/`;
    for (const layer of s.layers) {
      const files = layer.kind === "files" ? layer.files : layer.kind === "exec" ? layer.exec.result?.files : undefined;
      for (const [p, v] of files ?? []) {
        if (!p.startsWith(prefix)) {
          if (v === null && (p === abs || prefix.startsWith(`${p}/`))) out.clear();
          continue;
        }
        const rel = p.slice(prefix.length);
        if (v === null) for (const k of [...out.keys()]) if (k === rel || k.startsWith(`${rel}/`)) out.delete(k);
        if (v !== null) out.set(rel, v);
      }
    }
    for (const m of s.mounts) {
      if (m.kind === "directory" && (m.path === abs || m.path.startsWith(prefix))) {
        const at = m.path === abs ? "" : `${m.path.slice(prefix.length)}/`;
        for (const [rel, v] of m.directory!.files()) out.set(`${at}${rel}`, v);
      }
    }
    return out;
  }

  // --- Directory, File --------------------------------------------------------------------------

  private directoryField(dir: DirectoryObj, name: string, args: Args): Value {
    const str = (k: string) => String(args[k]);
    const rel = (p: string) => p.replace(/^\.?\/+/, "").replace(/\/+$/, "");
    switch (name) {
      case "entries": {
        const files = subtree(dir.files(), rel(String(args.path ?? "")));
        return [...new Set([...files.keys()].map((k) => (k.includes("/") ? `${k.split("/")[0]}/` : k)))].sort();
      }
      case "glob": {
        const re = globToRegExp(str("pattern"));
        return [...dir.files().keys()].filter((k) => re.test(k)).sort();
      }
      case "file": {
        const p = rel(str("path"));
        return new FileObj(p.split("/").pop()!, () => {
          const text = dir.files().get(p);
          if (text === undefined) throw new EngineError(`lstat ${p}: no such file or directory`);
          return text;
        });
      }
      case "directory": {
        const p = rel(str("path"));
        return new DirectoryObj(() => subtree(dir.files(), p), `${dir.origin}/${p}`);
      }
      case "exists": {
        const p = rel(str("path"));
        const files = dir.files();
        const isFile = files.has(p);
        const isDir = [...files.keys()].some((k) => k.startsWith(`${p}/`));
        if (args.expectedType === "REGULAR_TYPE") return isFile;
        if (args.expectedType === "DIRECTORY_TYPE") return isDir;
        return isFile || isDir;
      }
      case "withNewFile": {
        const p = rel(str("path"));
        return new DirectoryObj(() => new Map([...dir.files(), [p, str("contents")]]), dir.origin);
      }
      case "withFile": {
        const p = rel(str("path"));
        const f = this.load<FileObj>(args.source, "File");
        return new DirectoryObj(() => new Map([...dir.files(), [p, f.contents()]]), dir.origin);
      }
      case "withDirectory": {
        const p = rel(str("path"));
        const src = this.load<DirectoryObj>(args.directory ?? args.source, "Directory");
        const exclude = (args.exclude as string[] | undefined) ?? [];
        return new DirectoryObj(() => {
          const out = new Map(dir.files());
          for (const [k, v] of src.files()) if (!ignored(k, exclude)) out.set(p ? `${p}/${k}` : k, v);
          return out;
        }, dir.origin);
      }
      case "withoutFile":
      case "withoutDirectory": {
        const p = rel(str("path"));
        return new DirectoryObj(() => new Map([...dir.files()].filter(([k]) => k !== p && !k.startsWith(`${p}/`))), dir.origin);
      }
      case "dockerBuild":
        return this.dockerBuild(dir, args);
      case "sync":
        dir.files();
        return this.idFor(dir);
      case "name":
        return dir.origin.split("/").pop() ?? "";
      default:
        throw new EngineError(`the engine model does not know Directory.${name}`);
    }
  }

  private fileField(file: FileObj, name: string, _args: Args): Value {
    switch (name) {
      case "contents":
        return file.contents();
      case "size":
        return Buffer.byteLength(file.contents());
      case "name":
        return file.name;
      case "sync":
        file.contents();
        return this.idFor(file);
      default:
        throw new EngineError(`the engine model does not know File.${name}`);
    }
  }

  /**
   * `Directory.dockerBuild` (`core/container.go` Build, `util/llbtodagger`): the image config of the
   * final stage (EXPOSE becomes exposed ports), and every given secret mounted at
   * `/run/secrets/<name>` in the returned container.
   */
  private dockerBuild(dir: DirectoryObj, args: Args): ContainerObj {
    const dockerfilePath = String(args.dockerfile ?? "Dockerfile").replace(/^\.?\//, "");
    const buildArgs = Object.fromEntries(((args.buildArgs as Array<{ name: string; value: string }> | undefined) ?? []).map((a) => [a.name, a.value]));
    const secrets = ((args.secrets as string[] | undefined) ?? []).map((id) => this.load<SecretObj>(id, "Secret"));
    const base = this.emptyContainer();
    const layers: ContainerState["layers"] = [];
    let config = emptyImageConfig();
    let origin: string | undefined;
    try {
      const text = dir.files().get(dockerfilePath);
      if (text === undefined) throw new EngineError(`failed to read dockerfile: open ${dockerfilePath}: no such file or directory`);
      const errors: EngineError[] = [];
      const result = evaluateDockerfile(text, {
        buildArgs,
        target: args.target as string | undefined,
        imageConfig: (ref) => {
          const pulled = this.pull(ref, undefined);
          if (pulled.error) errors.push(pulled.error);
          return pulled.config;
        },
      });
      config = result.config;
      origin = result.baseImage;
      const names = secrets.map((s) => s.name);
      for (const m of result.secretMounts) {
        if (m.required && !names.includes(m.id)) errors.push(new EngineError(`${dockerfilePath}:${m.line}: ${missingBuildSecretError(m.id, names)}`));
      }
      if (errors.length > 0) layers.push({ kind: "error", error: errors[0]! });
    } catch (err) {
      layers.push({ kind: "error", error: err instanceof EngineError ? err : new EngineError(`dockerBuild ${dockerfilePath}: ${(err as Error).message}`) });
    }
    const mounts: Mount[] = secrets.map((secret) => ({ path: buildSecretMountPath(secret.name), kind: "secret", secret, owner: "0:0", mode: 0o400, fromBuild: true }));
    const ctr = new ContainerObj({
      ...base.state,
      origin,
      config,
      ports: portsFromImageConfig(config, "dockerBuild"),
      mounts,
      layers,
      ops: [`dockerBuild(${dockerfilePath})`],
    });
    this.builds.push({ dockerfile: dockerfilePath, buildArgs, secrets: secrets.map((s) => s.name), container: ctr });
    return ctr;
  }

  // --- Service ----------------------------------------------------------------------------------

  private serviceField(svc: ServiceObj, name: string, args: Args): Value {
    switch (name) {
      case "start":
        this.startService(svc);
        return this.idFor(svc);
      case "up":
        this.up(svc, (args.ports as string[] | undefined) ?? []);
        return null;
      case "stop":
        return this.idFor(svc);
      case "hostname":
        return svc.hostname;
      case "endpoint": {
        const port = (args.port as number | undefined) ?? (svc.source.kind === "host" ? svc.source.ports[0] : svc.source.container.state.ports[0]?.port);
        if (port === undefined) throw new EngineError("no ports exposed");
        const hostPort = `${svc.hostname}:${port}`;
        return args.scheme ? `${args.scheme}://${hostPort}` : hostPort;
      }
      case "sync":
        return this.idFor(svc);
      default:
        throw new EngineError(`the engine model does not know Service.${name}`);
    }
  }

  // --- registration -----------------------------------------------------------------------------

  private registrationField(obj: TypeDefObj | FunctionObj | ModuleObj | SourceMapObj, name: string, args: Args): Value {
    if (obj.kind === "Module") {
      const d = obj.def;
      switch (name) {
        case "withDescription":
          return new ModuleObj({ ...d, description: String(args.description) });
        case "withObject":
          return new ModuleObj({ ...d, objects: [...d.objects, this.load<TypeDefObj>(args.object, "TypeDef")] });
        case "withEnum":
          return new ModuleObj({ ...d, enums: [...d.enums, this.load<TypeDefObj>(args.enum, "TypeDef")] });
        case "withInterface":
          return new ModuleObj({ ...d, interfaces: [...d.interfaces, this.load<TypeDefObj>(args.iface ?? args.interface, "TypeDef")] });
      }
    }
    if (obj.kind === "TypeDef") {
      const d = obj.data;
      switch (name) {
        case "withObject":
          return obj.with({ kind: "OBJECT_KIND", name: String(args.name), description: args.description as string | undefined });
        case "withEnum":
          return obj.with({ kind: "ENUM_KIND", name: String(args.name), description: args.description as string | undefined });
        case "withInterface":
          return obj.with({ kind: "INTERFACE_KIND", name: String(args.name) });
        case "withScalar":
          return obj.with({ kind: "SCALAR_KIND", name: String(args.name) });
        case "withKind":
          return obj.with({ kind: String(args.kind) });
        case "withOptional":
          return obj.with({ optional: Boolean(args.optional) });
        case "withListOf":
          return obj.with({ kind: "LIST_KIND", elementType: this.load<TypeDefObj>(args.elementType, "TypeDef") });
        case "withFunction":
          return obj.with({ functions: [...d.functions, this.load<FunctionObj>(args.function, "Function").def] });
        case "withConstructor":
          return obj.with({ ctor: this.load<FunctionObj>(args.function, "Function").def });
        case "withField":
          return obj.with({ fields: [...d.fields, { name: String(args.name), typeDef: this.load<TypeDefObj>(args.typeDef, "TypeDef"), description: args.description as string | undefined }] });
        case "withEnumMember":
        case "withEnumValue": {
          const memberName = String(args.name ?? args.value);
          // core/typedef.go EnumTypeDef.WithMember: names are GraphQL names.
          if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(memberName)) throw new EngineError(`enum name "${memberName}" is not valid (only letters, digits and underscores are allowed)`);
          return obj.with({ members: [...d.members, { name: memberName, value: (args.value as string | undefined) ?? memberName, description: args.description as string | undefined }] });
        }
      }
    }
    if (obj.kind === "Function") {
      const d = obj.def;
      switch (name) {
        case "withDescription":
          return new FunctionObj({ ...d, description: String(args.description) });
        case "withSourceMap":
        case "withGenerator":
        case "withUp":
          return obj;
        case "withArg":
          return new FunctionObj({
            ...d,
            args: [
              ...d.args,
              {
                name: String(args.name),
                typeDef: this.load<TypeDefObj>(args.typeDef, "TypeDef"),
                description: args.description as string | undefined,
                defaultValue: args.defaultValue as string | undefined,
                defaultPath: args.defaultPath as string | undefined,
                defaultAddress: args.defaultAddress as string | undefined,
                ignore: args.ignore as string[] | undefined,
              },
            ],
          });
        case "withCachePolicy":
          return new FunctionObj({ ...d, cachePolicy: args.policy as FunctionDef["cachePolicy"], timeToLive: args.timeToLive as string | undefined });
        case "withCheck":
          return new FunctionObj({ ...d, check: true });
        case "withDeprecated":
          return new FunctionObj({ ...d, deprecated: String(args.reason ?? "") });
      }
    }
    throw new EngineError(`the engine model does not know ${obj.kind}.${name}`);
  }

  // --- helpers ----------------------------------------------------------------------------------

  private callerEnv(name: string): string {
    const value = this.world.callerEnv?.[name];
    if (value === undefined) throw new EngineError(`secret env var not found: "${name}"`);
    return value;
  }

  private secretFromUri(uri: string): SecretObj {
    const m = /^env:\/\/(.+)$/.exec(uri);
    if (m) return this.secretFromEnv(m[1]!);
    throw new EngineError(`the engine model knows env:// secrets only, not ${uri}`);
  }

  private hostDirectory(path: string, exclude: string[]): DirectoryObj {
    const files = this.world.hostDirectories?.[path] ?? {};
    return new DirectoryObj(() => new Map(Object.entries(files).filter(([k]) => !ignored(k, exclude))), `host:${path}`);
  }

}

function substituteEnv(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => env[a ?? b] ?? "");
}

function valueOf(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
      return Number(node.value);
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(valueOf);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, valueOf(f.value)]));
    default:
      throw new EngineError(`unsupported GraphQL value ${node.kind}`);
  }
}

/**
 * The OCI distribution API of a registry in the world: `GET /v2/`, `HEAD|GET /v2/<name>/manifests/<tag>`,
 * basic auth when the registry has a user.
 */
export function serveRegistryApi(registry: RegistryState, method: string, pathname: string, headers: Record<string, string>): Response {
  const auth = Object.entries(headers).find(([k]) => k.toLowerCase() === "authorization")?.[1];
  if (registry.auth) {
    const expected = `Basic ${Buffer.from(`${registry.auth.username}:${registry.auth.password}`).toString("base64")}`;
    if (auth !== expected) return new Response(null, { status: 401, headers: { "www-authenticate": 'Basic realm="registry"' } });
  }
  if (pathname === "/v2/" || pathname === "/v2") return new Response("{}", { status: 200 });
  const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
  if (!m) return new Response(null, { status: 404 });
  const image = registry.images[`${m[1]}:${m[2]}`];
  if (!image) return new Response(method === "HEAD" ? null : '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', { status: 404 });
  return new Response(method === "HEAD" ? null : "{}", { status: 200, headers: { "docker-content-digest": image.digest || ZERO_DIGEST } });
}

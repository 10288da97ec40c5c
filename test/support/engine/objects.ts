/**
 * The objects of the engine model: containers with layered file systems and lazy execs, directories,
 * files, secrets, services, cache volumes, and the typedefs a module registers. Immutable: every
 * `with*` returns a new object, as the engine's API does.
 */
import type { CacheSharingMode, ExposedPort, ImageConfig, ReturnType } from "./rules.js";

/** An error the engine would return for a field (GraphQL `errors[0]`). */
export class EngineError extends Error {
  readonly extensions?: Record<string, unknown>;
  constructor(message: string, extensions?: Record<string, unknown>) {
    super(message);
    this.name = "EngineError";
    this.extensions = extensions;
  }
}

export type Files = Map<string, string>;

/** One layer of a container's root file system: files (null deletes), an exec's outputs, or a failure. */
export type Layer = { kind: "files"; files: Map<string, string | null> } | { kind: "exec"; exec: ExecNode } | { kind: "error"; error: EngineError };

export type MountKind = "secret" | "cache" | "directory" | "file" | "temp";

export interface Mount {
  path: string;
  kind: MountKind;
  secret?: SecretObj;
  cache?: { key: string; sharing: CacheSharingMode };
  directory?: DirectoryObj;
  file?: FileObj;
  owner?: string;
  mode?: number;
  /** Added by dockerBuild (a build secret the engine keeps in the returned container). */
  fromBuild?: boolean;
}

export interface ContainerState {
  /** The image the container started from (`from` address, or the base image of a dockerBuild). */
  origin?: string;
  config: ImageConfig;
  ports: ExposedPort[];
  mounts: Mount[];
  secretEnv: Array<{ name: string; secret: SecretObj }>;
  services: Array<{ alias: string; service: ServiceObj }>;
  layers: Layer[];
  lastExec?: ExecNode;
  /** Every operation applied, in order (`withExec(["bash", ...])`, `withoutMount(/run/secrets/x)`): for assertions. */
  ops: string[];
}

export interface ExecOptions {
  expect: ReturnType;
  useEntrypoint: boolean;
}

/** What the world sees of an exec about to run. */
export interface ExecCall {
  args: string[];
  env: Record<string, string>;
  /** Names of the secret variables (their values are readable inside the process). */
  secretEnv: string[];
  workdir: string;
  user: string;
  origin?: string;
  labels: Record<string, string>;
  mounts: ReadonlyArray<{ path: string; kind: MountKind; secretName?: string; cacheKey?: string; sharing?: CacheSharingMode; fromBuild?: boolean }>;
  services: ReadonlyArray<{ alias: string; service: ServiceObj }>;
  /** A file as the process would read it (layers, then mounts; a secret mount gives the plaintext). */
  readFile(path: string): string | undefined;
}

/** What the world says an exec did. Defaults: exit code 0, no output, no files. */
export interface ExecResult {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** Files the process wrote (absolute paths). */
  files?: Record<string, string>;
}

export class ExecNode {
  result?: { exitCode: number; stdout: string; stderr: string; files: Map<string, string | null>; error?: EngineError };
  constructor(
    readonly args: string[],
    readonly options: ExecOptions,
    /** The container state the process runs in (before its own outputs). */
    readonly state: ContainerState,
  ) {}
}

export class ContainerObj {
  readonly kind = "Container";
  constructor(readonly state: ContainerState) {}
  with(change: Partial<ContainerState>, op: string): ContainerObj {
    return new ContainerObj({ ...this.state, ...change, ops: [...this.state.ops, op] });
  }
}

export class DirectoryObj {
  readonly kind = "Directory";
  private cached?: Files;
  constructor(
    private readonly compute: () => Files,
    /** How the directory was made, for assertions (`host:/app`, `container:/pipeline/out`). */
    readonly origin: string,
  ) {}
  /** Relative path -> contents. Evaluating may run execs (a container's directory) and throw their error. */
  files(): Files {
    this.cached ??= this.compute();
    return this.cached;
  }
}

export class FileObj {
  readonly kind = "File";
  constructor(
    readonly name: string,
    private readonly read: () => string,
  ) {}
  contents(): string {
    return this.read();
  }
}

export class SecretObj {
  readonly kind = "Secret";
  constructor(
    readonly name: string,
    private readonly value: () => string,
    /** `setSecret`, `env://NAME`, `file://PATH`. */
    readonly source: string,
  ) {}
  plaintext(): string {
    return this.value();
  }
}

export class CacheVolumeObj {
  readonly kind = "CacheVolume";
  constructor(readonly key: string) {}
}

/** A container run as a service, or a port of the caller's machine (`tcp://localhost:5000`). */
export class ServiceObj {
  readonly kind = "Service";
  constructor(
    readonly hostname: string,
    readonly source: { kind: "container"; container: ContainerObj; args?: string[]; useEntrypoint: boolean } | { kind: "host"; host: string; ports: number[] },
  ) {}
}

// --- registration -------------------------------------------------------------------------------

export interface ArgDef {
  name: string;
  typeDef: TypeDefObj;
  description?: string;
  /** JSON, as the SDK sends it. */
  defaultValue?: string;
  defaultPath?: string;
  defaultAddress?: string;
  ignore?: string[];
}

export interface FunctionDef {
  name: string;
  returnType: TypeDefObj;
  description?: string;
  args: ArgDef[];
  cachePolicy?: "Default" | "PerSession" | "Never";
  timeToLive?: string;
  check?: boolean;
  deprecated?: string;
}

export interface TypeDefData {
  kind: string;
  name?: string;
  optional: boolean;
  description?: string;
  elementType?: TypeDefObj;
  functions: FunctionDef[];
  fields: Array<{ name: string; typeDef: TypeDefObj; description?: string }>;
  ctor?: FunctionDef;
  members: Array<{ name: string; value?: string; description?: string }>;
}

export class TypeDefObj {
  readonly kind = "TypeDef";
  constructor(readonly data: TypeDefData) {}
  with(change: Partial<TypeDefData>): TypeDefObj {
    return new TypeDefObj({ ...this.data, ...change });
  }
}

export class FunctionObj {
  readonly kind = "Function";
  constructor(readonly def: FunctionDef) {}
}

export class ModuleObj {
  readonly kind = "Module";
  constructor(readonly def: { description?: string; objects: TypeDefObj[]; enums: TypeDefObj[]; interfaces: TypeDefObj[] }) {}
}

export class ErrorObj {
  readonly kind = "Error";
  constructor(
    readonly message: string,
    readonly values: Array<{ name: string; value: string }> = [],
  ) {}
}

export class SourceMapObj {
  readonly kind = "SourceMap";
  constructor(readonly location: string) {}
}

export class FunctionCallArgObj {
  readonly kind = "FunctionCallArgValue";
  constructor(
    readonly name: string,
    /** JSON */
    readonly value: string,
  ) {}
}

/** A port as `Container.exposedPorts` lists it. */
export class PortObj {
  readonly kind = "Port";
  constructor(
    readonly port: number,
    readonly protocol: "TCP" | "UDP",
    readonly experimentalSkipHealthcheck: boolean,
  ) {}
}

export type ModelObject =
  | PortObj
  | ContainerObj
  | DirectoryObj
  | FileObj
  | SecretObj
  | CacheVolumeObj
  | ServiceObj
  | TypeDefObj
  | FunctionObj
  | ModuleObj
  | ErrorObj
  | SourceMapObj
  | FunctionCallArgObj;

/**
 * The rules of a real Dagger 0.21 engine that a plain recorder cannot see, each written once as a
 * small pure function and cited from the engine source it models (github:dagger/dagger, branch
 * `backport-0.21`; a local mirror: `git -C /work/.mirror/dagger+dagger/repo show backport-0.21:<path>`).
 *
 * The engine model (model.ts) applies them to every graph it evaluates, in-process (the recorder
 * tests) and behind the fake engine the SDK's real entrypoint talks to (fake-engine.ts). Each rule has
 * a test where a deliberately broken graph fails (test/unit/engine-rules.test.ts).
 */

// --- withExec: which exit codes a call accepts --------------------------------------------------

export type ReturnType = "SUCCESS" | "FAILURE" | "ANY";

/**
 * Exit codes `withExec(..., { expect })` accepts (`core/container.go`, `ReturnTypes.ReturnCodes`):
 * SUCCESS 0; FAILURE 1-127 and 192-255; ANY 0-127 and 192-255. 128-191 are deaths by a signal
 * (137 SIGKILL/OOM, 139 SIGSEGV, 143 SIGTERM): they fail the call whatever `expect` says.
 */
export function acceptsExitCode(expect: ReturnType, exitCode: number): boolean {
  const signalled = exitCode >= 128 && exitCode <= 191;
  switch (expect) {
    case "SUCCESS":
      return exitCode === 0;
    case "FAILURE":
      return exitCode !== 0 && !signalled && exitCode >= 1 && exitCode <= 255;
    case "ANY":
      return !signalled && exitCode >= 0 && exitCode <= 255;
  }
}

/** The message of the engine's exec error (`core/container_exec.go`, BuildKit's "did not complete successfully"). */
export function execFailureMessage(args: readonly string[], exitCode: number): string {
  return `process "${args.join(" ")}" did not complete successfully: exit code: ${exitCode}`;
}

// --- image config -------------------------------------------------------------------------------

export interface ExposedPort {
  port: number;
  protocol: "TCP" | "UDP";
  /** `withExposedPort(port, { experimentalSkipHealthcheck: true })`. */
  skipHealthcheck: boolean;
}

/** The OCI image config a container carries (what `from` and `dockerBuild` apply). */
export interface ImageConfig {
  env: Array<[string, string]>;
  workdir: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
  user: string;
  labels: Record<string, string>;
  /** `EXPOSE` lines: `8080/tcp`. */
  exposedPorts: string[];
  /** A Docker HEALTHCHECK test (`["CMD", ...]`), when the image declares one. */
  healthcheck?: string[];
}

export function emptyImageConfig(): ImageConfig {
  return { env: [], workdir: "", entrypoint: null, cmd: null, user: "", labels: {}, exposedPorts: [] };
}

/**
 * The ports a container gets from an image config.
 * - `dockerBuild` turns every `EXPOSE` into `withExposedPort` (`util/llbtodagger/metadata.go`,
 *   `applyDockerImageConfig`): health-checked ports.
 * - `from` copies the config (`core/container.go`: `ExposedPorts` cloned) but sets no `Ports`: only
 *   `withExposedPort` does (`core/container.go`, `WithExposedPort`), so an image pulled with `from`
 *   has no port to check or forward.
 */
export function portsFromImageConfig(config: ImageConfig, via: "dockerBuild" | "from"): ExposedPort[] {
  if (via === "from") return [];
  return [...config.exposedPorts].sort().map((raw) => {
    const [port, proto = "tcp"] = raw.split("/");
    return { port: Number(port), protocol: proto.toLowerCase() === "udp" ? "UDP" : "TCP", skipHealthcheck: false };
  });
}

// --- services -----------------------------------------------------------------------------------

/** Roughly how long the engine keeps dialling a dead port before it gives up (exponential backoff). */
export const HEALTHCHECK_GIVES_UP_AFTER = "about 15 minutes";

/**
 * Starting a service (`core/service.go`, `startContainer`): without a Docker HEALTHCHECK in the
 * image, the engine dials EVERY exposed port that does not skip the check
 * (`core/healthcheck.go`, `portHealthChecker.Check`, backoff up to 10 s between tries), and the
 * service counts as started only when all answer. Returns the error the engine gives, or null.
 */
export function serviceStartError(input: { ports: readonly ExposedPort[]; listening: readonly number[]; dockerHealthcheck?: boolean }): string | null {
  if (input.dockerHealthcheck) return null;
  for (const p of input.ports) {
    if (p.skipHealthcheck) continue;
    if (!input.listening.includes(p.port)) {
      return `health check errored: checking for port ${p.port}/${p.protocol.toLowerCase()}: dial tcp: connect: connection refused (the engine retries for ${HEALTHCHECK_GIVES_UP_AFTER} before this error)`;
    }
  }
  return null;
}

/** `up` without `--ports` forwards the service's exposed ports; none at all is an error (`core/schema/host.go`, `tunnel`). */
export function upError(requested: readonly string[], exposed: readonly ExposedPort[]): string | null {
  return requested.length === 0 && exposed.length === 0 ? "no ports to forward" : null;
}

// --- dockerBuild secrets --------------------------------------------------------------------------

/**
 * `dockerBuild(secrets)` (`core/container.go`, `Container.Build`): a Dockerfile's
 * `--mount=type=secret,id=<id>` is answered by the Secret whose NAME is `<id>` (a secret without a
 * name is refused), and EVERY given secret stays mounted at `/run/secrets/<name>` in the returned
 * container (`builtContainer.Secrets = append(..., returnedSecretMounts...)`; also
 * `util/llbtodagger/exec.go`: "preserve Dockerfile secret mounts in the resulting container")
 * until `withoutMount` removes it.
 */
export function buildSecretMountPath(secretName: string): string {
  if (!secretName) throw new Error("secret has no name and cannot be referenced from Dockerfile secret id");
  return `/run/secrets/${secretName}`;
}

/** A required Dockerfile secret no given Secret is named after (`util/llbtodagger/exec.go`, `resolveSecretID`). */
export function missingBuildSecretError(id: string, given: readonly string[]): string {
  return given.length === 0 ? `secret "${id}" is required but no secret mappings were provided` : `secret "${id}" is required but was not provided`;
}

// --- function cache policy ------------------------------------------------------------------------

export type CachePolicy = "Default" | "PerSession" | "Never";

/** A function without a policy is cached for a week (`core/modfunc.go` `MaxFunctionCacheTTLSeconds`, `core/typedef.go`). */
export const DEFAULT_FUNCTION_CACHE_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * Whether a second call with the same parent and arguments is answered from the cache
 * (`core/typedef.go` `FieldSpec`: Never and PerSession are not persistable; `core/modfunc.go`
 * `cacheImplicitInputs`: Never adds a per-call input, PerSession a per-session one).
 */
export function answeredFromCache(policy: CachePolicy, sameSession: boolean): boolean {
  switch (policy) {
    case "Never":
      return false;
    case "PerSession":
      return sameSession;
    case "Default":
      return true;
  }
}

// --- network ------------------------------------------------------------------------------------

/** `127.0.0.1`, `localhost`, `::1` and the rest of 127/8, with or without a port. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.startsWith("[") ? hostPort.slice(1, hostPort.indexOf("]")) : hostPort.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host) || host.endsWith(".localhost");
}

/**
 * The module's code runs in its own container and its execs, pulls and pushes in the engine's
 * network: neither is the caller's machine, so a loopback address there reaches nothing the caller
 * runs (`core/sdk.go`/`core/modfunc.go`: the runtime is a container; `engine/engineutil/executor_spec.go`:
 * execs get the session's network and search domains). A host service comes in as a `Service`
 * argument (`tcp://localhost:5000`); pulls and pushes reach it through `registryService`
 * (`core/container.go`, `ContainerRegistryServiceBinding`).
 */
export function loopbackUnreachable(where: "module" | "engine", hostPort: string): string {
  return where === "module"
    ? `connect ECONNREFUSED ${hostPort}: the module's code runs in its own container, where ${hostPort} is that container, not the caller's machine`
    : `dial tcp ${hostPort}: connect: connection refused (pulls and pushes run in the Dagger engine's network, not on the caller's machine)`;
}

// --- registry protocol ----------------------------------------------------------------------------

/**
 * The scheme the engine pulls and pushes a registry with (`engine/server/registryhosts.go`,
 * `applyRegistryHostConfig`): plain HTTP for a host whose engine.json entry sets `http: true`
 * (`engine/config/config.go`, `PlainHTTP`) and, without an entry, for a loopback host
 * (`docker.MatchLocalhost`); HTTPS for every other host.
 */
export function engineRegistryScheme(host: string, engineHttpHosts: readonly string[]): "http" | "https" {
  return engineHttpHosts.includes(host) || isLoopbackHost(host) ? "http" : "https";
}

/**
 * A TLS client talking to a registry that speaks plain HTTP: Go's net/http (the engine) and
 * Node's fetch (the module's code) both fail the request.
 */
export function tlsToPlainHttpError(client: "engine" | "module", host: string): string {
  return client === "engine"
    ? `failed to do request: Head "https://${host}/v2/": http: server gave HTTP response to HTTPS client`
    : `${host}: SSL routines::wrong version number (the registry speaks plain HTTP; the request was https)`;
}

// --- cache volumes --------------------------------------------------------------------------------

export type CacheSharingMode = "SHARED" | "PRIVATE" | "LOCKED";

/**
 * `withMountedCache` defaults to SHARED (`core/schema/cache.go`: `default:"SHARED"`): concurrent
 * execs, of this run or of another session on the same engine, write the volume at the same time;
 * LOCKED serialises them (`core/cache.go`: "will serialize the writes"), and in 0.21 so does
 * PRIVATE (`core/container_exec.go`, `cacheSharingModeLocksWrites`: "Stop-gap: PRIVATE is
 * implemented with the same serialized writes as LOCKED").
 */
export function concurrentWritersShareVolume(mode: CacheSharingMode): boolean {
  return mode === "SHARED";
}

/** LOCKED and PRIVATE volumes are held by one exec or service at a time (`core/container_exec.go`, `cacheSharingModeLocksWrites`). */
export function cacheSharingLocksWrites(mode: CacheSharingMode): boolean {
  return mode === "LOCKED" || mode === "PRIVATE";
}

/** The cache volumes a container's process holds while it runs: its write-locking cache mounts (`core/container_exec.go`, `lockMountedCaches`). */
export function heldCacheLocks(mounts: ReadonlyArray<{ kind: string; cacheKey?: string; sharing?: CacheSharingMode }>): string[] {
  return [...new Set(mounts.filter((m) => m.kind === "cache" && m.cacheKey !== undefined && cacheSharingLocksWrites(m.sharing ?? "SHARED")).map((m) => m.cacheKey!))].sort();
}

/**
 * A mounted cache volume is carried by every container derived from the one that mounted it, and
 * its lock is held for the whole life of a process:
 * - an exec takes the locks of its write-locking cache mounts (`core/container_exec.go`,
 *   `ContainerExecState.Evaluate`: `lockMountedCaches` ... `defer releaseLockedCaches()`) BEFORE it
 *   starts its bound services (`svcs.StartBindings`, further down the same function);
 * - a service takes the locks of ITS cache mounts when it starts and keeps them until it stops
 *   (`core/service.go`, `startContainer`: `lockMountedCaches` with the release as a cleanup).
 * So an exec bound to a service that mounts a volume the exec holds waits for ever: the service
 * cannot start until the exec ends, the exec cannot run until the service starts (a real engine
 * sat idle for 13 minutes on `test --strategy queue`, the queue service and the shards all made
 * from a container with the apt cache LOCKED). And every exec holding a lock runs after the
 * previous holder ended: concurrent shards holding one become sequential.
 * Returns the hang the engine would show, or null.
 */
export function cacheLockDeadlock(exec: { args: readonly string[]; heldLocks: readonly string[] }, service: { hostname: string; alias: string; heldLocks: readonly string[] }): string | null {
  const both = exec.heldLocks.filter((k) => service.heldLocks.includes(k));
  if (both.length === 0) return null;
  return `deadlock: the exec ${JSON.stringify(exec.args.join(" "))} holds the lock of cache volume(s) ${both.join(", ")} and waits for its bound service "${service.alias}" (${service.hostname}), which needs the same lock to start: the engine hangs here for ever`;
}

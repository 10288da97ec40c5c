/**
 * `dagger call` in an application repository set up with `dagger init --blueprint=<module>`, the
 * way Dagger 0.21 loads it, without an engine. Each rule is the engine's, read in
 * github:dagger/dagger, branch backport-0.21 (the line 0.21.9 is cut from):
 *
 * - Workspace: the boundary is the nearest folder upward holding `.git` (file or directory), else
 *   the working directory; the workspace path is the working directory relative to it
 *   (`core/workspace/detect.go` Detect).
 * - Modules: the nearest `dagger.json` upward; its `blueprint` becomes the ENTRYPOINT module (its
 *   main object's functions are the top level: `dagger call test`), a local blueprint source is
 *   relative to that dagger.json, and the blueprint is loaded with legacy default paths
 *   (`engine/server/session_workspaces.go` detectAndLoadWorkspaceWithRootfs, pendingLegacyModule
 *   `LegacyDefaultPath: true`, `Entrypoint: true`). `dagger init --blueprint` writes exactly that
 *   dagger.json (`cmd/dagger/module.go` moduleInitCmd, `core/schema/modulesource.go` withBlueprint).
 * - Default paths of such a module come from the CALLER's workspace: a relative path from the
 *   workspace directory, an absolute one from the boundary (`core/modfunc.go`
 *   loadLegacyDefaultPathArg -> `currentWorkspace.directory(path, exclude: ignore)`,
 *   `core/schema/workspace.go` resolveWorkspacePath).
 *
 * `introspectWorkspace` runs the SDK's own introspector on the blueprint's sources (what `dagger
 * call --help` lists at the top level). `invokeInWorkspace` calls a function through the SDK's real
 * invocation path (`invoke` + `Executor` from the pinned npm package, as the runtime's entrypoint
 * does) with the contextual arguments the engine would fill in; a recorder answers the function's
 * reads of those directories from the real files, and runs the one container command the ref
 * resolution needs (the checkout script) with the local git on a copy made like Dagger's (ignored
 * paths left out). Every other container call gets the recorder's defaults.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { installRecorder, type Recorder } from "./dagger-recorder.js";
import { introspectModuleAt, type IntrospectedModule } from "./introspect.js";

export interface WorkspaceLoad {
  /** The workspace boundary: the folder holding `.git`, else the working directory. */
  root: string;
  /** The working directory relative to the boundary ("." at the root). */
  path: string;
  /** The dagger.json that set the project up. */
  config: string;
  /** The entrypoint module: the blueprint. */
  blueprint: { name: string; moduleRoot: string; sourceDir: string };
}

function findUp(from: string, name: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, name))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** What `dagger call` run in `cwd` loads, for a project whose dagger.json has a local blueprint. */
export function loadWorkspace(cwd: string): WorkspaceLoad {
  const gitRoot = findUp(cwd, ".git");
  const root = gitRoot ?? path.resolve(cwd);
  const configDir = findUp(cwd, "dagger.json");
  if (!configDir) throw new Error(`no dagger.json at or above ${cwd}: the project is not set up (dagger init --blueprint=<module>)`);
  const config = path.join(configDir, "dagger.json");
  const cfg = JSON.parse(readFileSync(config, "utf8")) as { blueprint?: { name: string; source: string; pin?: string } };
  if (!cfg.blueprint) throw new Error(`${config} has no blueprint: its own functions, not a blueprint's, would be the top level`);
  if (!/^(\.|\/)/.test(cfg.blueprint.source)) throw new Error(`${config}: blueprint ${cfg.blueprint.source} is a git ref; this harness loads local blueprints only`);
  // moduleSource(refString) of a local path finds the module's dagger.json upward from it.
  const moduleRoot = findUp(path.resolve(configDir, cfg.blueprint.source), "dagger.json");
  if (!moduleRoot) throw new Error(`${config}: no dagger.json at or above blueprint ${cfg.blueprint.source}`);
  const mod = JSON.parse(readFileSync(path.join(moduleRoot, "dagger.json"), "utf8")) as { name: string; source?: string; sdk?: { source: string } | string };
  return {
    root,
    path: path.relative(root, path.resolve(cwd)) || ".",
    config,
    blueprint: { name: mod.name, moduleRoot, sourceDir: path.join(moduleRoot, mod.source ?? ".") },
  };
}

/** The top-level surface of `dagger call` in `cwd`: the blueprint module, read by the SDK's introspector. */
export async function introspectWorkspace(cwd: string): Promise<IntrospectedModule> {
  const ws = loadWorkspace(cwd);
  return introspectModuleAt(ws.blueprint.sourceDir, ws.blueprint.name);
}

/** Where a `defaultPath` of the blueprint resolves for this workspace (resolveWorkspacePath). */
export function resolveDefaultPath(ws: WorkspaceLoad, defaultPath: string): string {
  const clean = path.posix.normalize(defaultPath);
  const rel = clean.startsWith("/") ? clean.slice(1) : path.posix.join(ws.path, clean);
  return path.join(ws.root, rel);
}

// --- a small glob, with doublestar semantics as Dagger's ----------------------------------------

function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Ignore patterns as Dagger applies them: a path is left out when it or a parent folder matches. */
function isExcluded(rel: string, exclude: readonly string[]): boolean {
  const parts = rel.split("/");
  return exclude.some((p) => {
    const re = globRegExp(p.replace(/^\/+|\/+$/g, ""));
    return parts.some((_, i) => re.test(parts.slice(0, i + 1).join("/")));
  });
}

function walk(root: string, exclude: readonly string[], dir = ""): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (isExcluded(rel, exclude)) return [];
    return e.isDirectory() ? [rel, ...walk(root, exclude, rel)] : [rel];
  });
}

// --- invocation -------------------------------------------------------------------------------

interface LoadedDir {
  hostPath: string;
  exclude: string[];
}

export interface Invocation {
  /** What the function returned, as the runtime would send it (IDs for objects). */
  result: unknown;
  /** Every query the function sent, fake ids expanded. */
  queries: string[];
  /** Where each contextual argument was loaded from. */
  contextual: Record<string, LoadedDir>;
  /** Output of the container commands run for real (the checkout script). */
  ran: string[];
}

const SDK_DIST = path.resolve(new URL(import.meta.resolve("@dagger.io/dagger")).pathname, "..");

/**
 * Call `fnName` of the workspace's entrypoint module as `dagger call <fn> <args>` run in `cwd`
 * would: `args` are the flags typed (camelCase names); every object argument with a default path
 * that was not typed is loaded from the caller's workspace.
 */
export async function invokeInWorkspace(cwd: string, fnName: string, args: Record<string, unknown> = {}): Promise<Invocation> {
  const ws = loadWorkspace(cwd);
  const mod = await introspectWorkspace(cwd);
  const main = Object.keys(mod.objects).find((o) => o.toLowerCase() === ws.blueprint.name.replace(/-/g, "").toLowerCase())!;
  const fn = mod.objects[main]!.methods[fnName];
  if (!fn) throw new Error(`dagger call: unknown function ${fnName} (top level: ${Object.keys(mod.objects[main]!.methods).join(", ")})`);
  for (const name of Object.keys(args)) if (!(name in fn.arguments)) throw new Error(`dagger call ${fnName}: unknown flag ${name}`);

  const dirs = new Map<string, LoadedDir>();
  const contextual: Record<string, LoadedDir> = {};
  const fnArgs: Record<string, unknown> = { ...args };
  for (const [name, arg] of Object.entries(fn.arguments)) {
    if (name in args || !arg.defaultPath) continue;
    const loaded = { hostPath: resolveDefaultPath(ws, arg.defaultPath), exclude: arg.ignore ?? [] };
    if (!existsSync(loaded.hostPath) || !statSync(loaded.hostPath).isDirectory()) throw new Error(`load contextual arg ${name}: ${loaded.hostPath} is not a directory`);
    const id = `workspace-dir-${dirs.size + 1}`;
    dirs.set(id, loaded);
    contextual[name] = loaded;
    fnArgs[name] = id;
  }

  const ran: string[] = [];
  let rec: Recorder | undefined;
  rec = await installRecorder((field, raw) => answer(field, rec!.expand(raw), dirs, ran));

  const srcFiles = readdirSync(path.join(ws.blueprint.sourceDir, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(ws.blueprint.sourceDir, "src", f));
  const clientDir = mkdtempSync(path.join(os.tmpdir(), "invoke-"));
  const client = path.join(clientDir, "client.gen.ts");
  copyFileSync(path.join(SDK_DIST, "api/client.gen.d.ts"), client);
  const sdk = async <T>(rel: string) => (await import(pathToFileURL(path.join(SDK_DIST, rel)).href)) as T;
  const { scan } = await sdk<{ scan: (files: string[], name: string, load: boolean) => Promise<unknown> }>("module/introspector/index.js");
  const { invoke } = await sdk<{ invoke: (e: unknown, m: unknown, ctx: unknown) => Promise<unknown> }>("module/entrypoint/invoke.js");
  const { Executor } = await sdk<{ Executor: new (modules: unknown[], m: unknown) => unknown }>("module/executor.js");
  const scanned = await scan([...srcFiles, client], ws.blueprint.name, false);
  // The runtime imports every file of the module (load()); here vitest imports them (TypeScript).
  const modules = await Promise.all(srcFiles.map((f) => import(pathToFileURL(f).href)));
  const result = await invoke(new Executor(modules, scanned), scanned, { parentName: main, fnName, parentArgs: {}, fnArgs });
  return { result, queries: rec.expanded(), contextual, ran };
}

/** The directory a query reads (its `node(id: "workspace-dir-N")`) and the path it reads in it. */
function answer(field: string, query: string, dirs: Map<string, LoadedDir>, ran: string[]): unknown {
  const squashed = query.replace(/\s+/g, "");
  if (field === "stdout" && squashed.includes('withExec(args:["sh","-c"') && squashed.includes('withMountedDirectory(path:"/checkout"')) {
    return runCheckoutScript(query, dirs, ran);
  }
  const ids = [...squashed.matchAll(/node\(id:"(workspace-dir-\d+)"\)/g)].map((m) => m[1]!);
  const dir = ids.length ? dirs.get(ids.at(-1)!) : undefined;
  if (!dir) return undefined;
  const after = squashed.slice(squashed.lastIndexOf(`node(id:"${ids.at(-1)}")`));
  const arg = (name: string) => [...after.matchAll(new RegExp(`${name}\\((?:path|pattern):("(?:[^"\\\\]|\\\\.)*")`, "g"))].map((m) => JSON.parse(m[1]!) as string).at(-1);
  const files = () => walk(dir.hostPath, dir.exclude);
  const exists = (rel: string) => existsSync(path.join(dir.hostPath, rel)) && !isExcluded(rel, dir.exclude);
  switch (field) {
    case "exists":
      return exists(arg("exists")!);
    case "contents": {
      const rel = arg("file")!;
      if (!exists(rel)) throw new Error(`${rel}: no such file in ${dir.hostPath}`);
      return readFileSync(path.join(dir.hostPath, rel), "utf8");
    }
    case "size":
      return statSync(path.join(dir.hostPath, arg("file")!)).size;
    case "glob": {
      const re = globRegExp(arg("glob")!);
      return files().filter((f) => re.test(f) && statSync(path.join(dir.hostPath, f)).isFile());
    }
    case "entries":
      return readdirSync(dir.hostPath).filter((e) => !isExcluded(e, dir.exclude));
  }
  return undefined;
}

/** The checkout script of the git container, run with the local git on a copy made like Dagger's. */
function runCheckoutScript(query: string, dirs: Map<string, LoadedDir>, ran: string[]): string {
  const mounted = /withMountedDirectory\(path:"\/checkout",source:"<<.*?node\(id:"(workspace-dir-\d+)"\)/.exec(query.replace(/\s+/g, ""))?.[1];
  const dir = mounted ? dirs.get(mounted) : undefined;
  if (!dir) throw new Error(`the checkout mounted at /checkout is not a directory this workspace loaded: ${query.slice(0, 300)}`);
  const script = JSON.parse(/withExec\s*\(\s*args:\s*\[\s*"sh",\s*"-c",\s*("(?:[^"\\]|\\.)*")/.exec(query)![1]!) as string;
  const copy = mkdtempSync(path.join(os.tmpdir(), "checkout-"));
  cpSync(dir.hostPath, copy, { recursive: true, verbatimSymlinks: true, filter: (src) => src === dir.hostPath || !isExcluded(path.relative(dir.hostPath, src).split(path.sep).join("/"), dir.exclude) });
  const out = execFileSync("sh", ["-c", script.replace(/^cd \/checkout /, `cd '${copy}' `)], { encoding: "utf8", env: { ...process.env, HOME: copy } });
  ran.push(out);
  return out;
}

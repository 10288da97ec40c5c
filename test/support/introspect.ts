/**
 * Read the module the way `dagger call` will: run the SDK's own introspector offline (DRY_RUN=1)
 * on modules/pipeline/src and return its JSON. The result is what `dagger call <fn> --help` shows.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const SDK_DIR = path.join(REPO_ROOT, "node_modules/@dagger.io/dagger/dist/src");

export interface IntrospectedArgument {
  name: string;
  description: string;
  type: { kind: string; name?: string; typeDef?: { kind: string; name?: string } };
  isOptional: boolean;
  isNullable: boolean;
  defaultValue?: string;
  defaultPath?: string;
  ignore?: string[];
}
export interface IntrospectedFunction {
  name: string;
  description: string;
  arguments: Record<string, IntrospectedArgument>;
  returnType: { kind: string; name?: string };
}
export interface IntrospectedEnum {
  name: string;
  description: string;
  /** By member NAME (what the CLI shows and accepts); `value` is what the function receives. */
  values: Record<string, { name: string; value: string; description: string }>;
}
export interface IntrospectedModule {
  name: string;
  description: string;
  objects: Record<string, { name: string; description: string; methods: Record<string, IntrospectedFunction> }>;
  enums?: Record<string, IntrospectedEnum>;
}

const cached = new Map<string, Promise<IntrospectedModule>>();

/** This repository's module (dagger.json at the root, source modules/pipeline). */
export function introspectModule(): Promise<IntrospectedModule> {
  return introspectModuleAt(path.join(REPO_ROOT, "modules/pipeline"), "pipeline");
}

/**
 * A TypeScript module whose source folder (dagger.json's `source`) is `sourceDir`: the SDK's
 * introspector reads `<sourceDir>/src`, as the runtime does. Cached per folder.
 */
export function introspectModuleAt(sourceDir: string, moduleName: string): Promise<IntrospectedModule> {
  const key = `${path.resolve(sourceDir)}\0${moduleName}`;
  if (!cached.has(key)) {
    cached.set(
      key,
      (async () => {
        // The introspector wants the generated client as a .ts file next to the module's sources.
        const dir = await mkdtemp(path.join(os.tmpdir(), "introspect-"));
        const client = path.join(dir, "client.gen.ts");
        await copyFile(path.join(SDK_DIR, "api/client.gen.d.ts"), client);
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [path.join(SDK_DIR, "module/entrypoint/introspection_entrypoint.js"), moduleName, path.join(sourceDir, "src"), client],
          { env: { ...process.env, DRY_RUN: "1" }, maxBuffer: 64 * 1024 * 1024 },
        );
        return JSON.parse(stdout) as IntrospectedModule;
      })(),
    );
  }
  return cached.get(key)!;
}

/** camelCase -> the kebab-case flag `dagger call` shows. */
export function flagName(argName: string): string {
  return "--" + argName.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

export function functionName(methodName: string): string {
  return methodName.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

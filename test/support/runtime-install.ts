/**
 * How the Dagger 0.21 TypeScript runtime installs a module's dependencies before every call, as a
 * pure model (github:dagger/dagger, branch backport-0.21):
 * - `sdk/typescript/runtime/tsutils/package_json_updator.go` UpdatePackageJSONForModule: the
 *   module's package.json gets `dependencies.typescript = "5.9.3"` when it has none
 *   (`tsdistconsts.DefaultTypeScriptVersion`);
 * - `sdk/typescript/runtime/config.go` detectPackageManager: `packageManager`, else the lockfile
 *   (package-lock.json -> npm 11.8.0), else yarn;
 * - `sdk/typescript/runtime/runtime_node.go` withInstalledDependencies: when
 *   `dependencies.typescript` is exactly "5.9.3", the SDK's bundled TypeScript ("typescript-library",
 *   built from `sdk/typescript/package.json`, `"typescript": "^6.0.3"`) is MOUNTED at
 *   node_modules/typescript; if that is the only dependency nothing is installed, otherwise
 *   `npm install --omit=dev` runs on top of the mount. npm then finds typescript 6.x where the
 *   lockfile says 5.9.3 and renames the folder to replace it: a mount point cannot be renamed, and
 *   the call fails with `npm error EBUSY: resource busy or locked, rename
 *   '.../node_modules/typescript'` (seen on a real engine, README "Verified on a real engine").
 */

/** `tsdistconsts.DefaultTypeScriptVersion`. */
export const RUNTIME_DEFAULT_TYPESCRIPT = "5.9.3";
/** Major version of the TypeScript the 0.21 SDK bundles as typescript-library. */
export const BUNDLED_TYPESCRIPT_MAJOR = 6;

export interface PackageJson {
  packageManager?: string;
  dependencies?: Record<string, string>;
}

export interface Lockfile {
  packages?: Record<string, { version?: string }>;
}

export interface RuntimeInstallPlan {
  /** The SDK's TypeScript is mounted at node_modules/typescript. */
  mountsBundledTypescript: boolean;
  /** The package manager install that runs (null: none). */
  install: string | null;
  /** Why the runtime's install fails, if it does. */
  problems: string[];
}

export function planRuntimeInstall(pkg: PackageJson, lock: Lockfile | null): RuntimeInstallPlan {
  const deps = { typescript: RUNTIME_DEFAULT_TYPESCRIPT, ...(pkg.dependencies ?? {}) };
  delete (deps as Record<string, string>)["@dagger.io/dagger"];
  const manager = pkg.packageManager?.split("@")[0] ?? (lock ? "npm" : "yarn");
  const mounts = deps.typescript === RUNTIME_DEFAULT_TYPESCRIPT;
  const onlyTypescript = Object.keys(deps).length <= 1;
  const install = mounts && onlyTypescript ? null : manager === "npm" ? "npm install --omit=dev" : manager === "pnpm" ? "pnpm install --shamefully-hoist=true --prod" : "yarn install --prod";
  const problems: string[] = [];
  if (mounts && install) {
    const locked = lock?.packages?.["node_modules/typescript"]?.version;
    if (!locked || Number(locked.split(".")[0]) !== BUNDLED_TYPESCRIPT_MAJOR) {
      problems.push(
        `dependencies.typescript is "${RUNTIME_DEFAULT_TYPESCRIPT}", so the runtime mounts its bundled TypeScript ${BUNDLED_TYPESCRIPT_MAJOR}.x at node_modules/typescript, ` +
          `then \`${install}\` tries to replace it with ${locked ?? "the locked version"} and fails (EBUSY: a mount point cannot be renamed); ` +
          `pin it as a range (e.g. "~${RUNTIME_DEFAULT_TYPESCRIPT}") so the package manager installs it itself`,
      );
    }
  }
  return { mountsBundledTypescript: mounts, install, problems };
}

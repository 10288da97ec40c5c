/**
 * The project's git checkout as the source of `--sha`, `--branch` and `--tag`: a thin Dagger shell
 * around lib/checkout-state.ts (the script and its parser) and lib/refs.ts (`resolveRunRef`).
 *
 * Every function with ref flags takes the checkout as a `Directory` argument whose default is the
 * project's repository root (`defaultPath: "/"`: in a project set up with `dagger init
 * --blueprint`, Dagger 0.21 resolves it from the caller's workspace boundary, the git root;
 * `core/modfunc.go` loadLegacyDefaultPathArg, `core/schema/workspace.go` resolveWorkspacePath).
 * A `GitRepository` argument would not do: for a blueprint it resolves to the blueprint module's
 * own repository (`core/modulesource.go` LoadContextGit), not the user's. The checkout is read
 * only when a value is missing or the command must refuse uncommitted changes.
 */
import { dag, type Directory } from "@dagger.io/dagger";
import { DEFAULT_GIT_IMAGE } from "./infra-dagger.js";
import { formatCheckoutScript, parseCheckoutReport, type CheckoutState } from "./lib/checkout-state.js";
import { needsCheckout, refuseUncommitted, resolveRunRef, type RefFlags, type RunRef } from "./lib/refs.js";
import { readConfig } from "./source.js";

/** Where the checkout is mounted in the git container. */
const CHECKOUT_MOUNT = "/checkout";

/**
 * Left out of the checkout Dagger loads (big, never committed, or written by the pipeline itself);
 * `git status` skips them too (lib/checkout-state.ts excludePathspecs).
 */
export const CHECKOUT_IGNORE = ["node_modules", "**/node_modules", "tmp", "log", "coverage", "test_results", ".pipeline", "vendor/bundle"];

/** Run the checkout script in a git container and parse what it printed. */
export async function readCheckout(checkout: Directory, image = DEFAULT_GIT_IMAGE): Promise<CheckoutState> {
  const script = formatCheckoutScript({ dir: CHECKOUT_MOUNT, exclude: CHECKOUT_IGNORE });
  const out = await dag.container().from(image).withMountedDirectory(CHECKOUT_MOUNT, checkout).withExec(["sh", "-c", script]).stdout();
  return parseCheckoutReport(out);
}

export interface RunRefOptions {
  /** Whether the command needs a commit sha / a branch or tag (see RunRefInput). */
  needSha?: boolean;
  needRef?: boolean;
  /** Deploying commands refuse uncommitted changes unless told otherwise. */
  uncommitted?: "refuse" | "allow";
  /** The command, for the refusal message. */
  command: string;
  gitImage?: string;
}

/**
 * The ref flags of a run, completed from the checkout when a value is missing, with uncommitted
 * changes refused for deploying commands. Logs the one-line description of what runs.
 */
export async function refFromCheckout(
  source: Directory,
  checkout: Directory | undefined,
  flags: RefFlags & { env: string },
  options: RunRefOptions,
): Promise<RunRef> {
  const needSha = options.needSha ?? true;
  const needRef = options.needRef ?? true;
  const refuse = options.uncommitted === "refuse";
  const read = checkout !== undefined && (refuse || needsCheckout({ flags, needSha, needRef }));
  const [config, state] = await Promise.all([readConfig(source), read ? readCheckout(checkout!, options.gitImage || DEFAULT_GIT_IMAGE) : undefined]);
  const ref = resolveRunRef({ flags, env: flags.env, checkout: state, config, needSha, needRef });
  if (refuse) refuseUncommitted(ref, options.command);
  console.log(`${options.command}: ${ref.description}`);
  return ref;
}

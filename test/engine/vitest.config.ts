import { defineConfig } from "vitest/config";

/**
 * `npm run test:engine`: the module's functions called for real with the `dagger` CLI on a running
 * Dagger engine (see README, "Verified on a real engine"). Not part of `npm test`: the global setup
 * fails the run, naming what is missing, when no engine is reachable.
 */
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    globalSetup: ["test/engine/support/global-setup.ts"],
    // One engine, calls that build images and start services: one file, one test at a time.
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 30 * 60_000,
  },
});

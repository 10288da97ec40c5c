import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/engine needs a running Dagger engine: `npm run test:engine` (its own config).
    exclude: ["test/fixtures/**", "test/engine/**", "node_modules/**"],
    // Integration tests start real postgres/redis/docker work: give them room.
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});

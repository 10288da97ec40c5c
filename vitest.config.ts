import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/fixtures/**", "node_modules/**"],
    // Integration tests start real postgres/redis/docker work: give them room.
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});

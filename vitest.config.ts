import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/engine needs a running Dagger engine: `npm run test:engine` (its own config).
    exclude: ["test/fixtures/**", "test/engine/**", "node_modules/**"],
    // Integration tests start real postgres/redis/docker work: give them room.
    testTimeout: 60_000,
    hookTimeout: 300_000,
    env: {
      // The AWS SDK warns once per process (so once per test file) that its 2027 releases need
      // Node 22; it is about this machine's Node, not about the code under test.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
  },
});

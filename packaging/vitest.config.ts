import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "packaging",
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    // The build, the six packs and the npm installs run in hooks, once each, before the tests that use them.
    hookTimeout: 900_000
  }
})

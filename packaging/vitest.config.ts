import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "packaging",
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    // The build, the five packs and the npm install run once, before the tests.
    hookTimeout: 900_000
  }
})

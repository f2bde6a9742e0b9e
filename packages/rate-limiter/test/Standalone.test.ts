/**
 * `@httpkit/rate-limiter` stands alone: an app that never installed
 * `@httpkit/client` imports the package and runs a limit, and only the
 * client adapter (`@httpkit/rate-limiter/ClientRateLimit`) needs the client.
 * Proved in a child process where every `@httpkit/client` import fails to
 * resolve, as it would in such an app.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { fileURLToPath } from "node:url"

const child = fileURLToPath(new URL("support/withoutClient.ts", import.meta.url))
const packageRoot = fileURLToPath(new URL("..", import.meta.url))

describe("@httpkit/rate-limiter without @httpkit/client", () => {
  it("imports, limits and fails with its own errors; only the client adapter cannot load", async () => {
    const run = await NodeChild.run([child], { cwd: packageRoot, timeoutMillis: 120_000 })
    assert.strictEqual(run.code, 0, run.output)
    const line = run.stdout.trim().split("\n").at(-1) ?? ""
    const report = JSON.parse(line) as {
      readonly adapter: string
      readonly outcomes: ReadonlyArray<string>
      readonly errorTag: string
    }
    assert.deepStrictEqual(report.outcomes, ["granted", "granted", "granted", "RateLimitExceededError"])
    assert.strictEqual(report.errorTag, "RateLimitExceededError")
    // The hook really hides the client: the adapter, which imports it, fails to load.
    assert.strictEqual(report.adapter, "ERR_MODULE_NOT_FOUND")
  }, 150_000)
})

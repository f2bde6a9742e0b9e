/**
 * `@httpkit/rate-limiter` stands alone: an app that never installed
 * `@httpkit/client`, `redis` or `@effect/platform-node` imports the package
 * and runs a limit; only the client adapter
 * (`@httpkit/rate-limiter/ClientRateLimit`) needs the client, and only
 * `@httpkit/rate-limiter/RedisStore` needs `redis` and
 * `@effect/platform-node`. Proved in a child process where every import of
 * those fails to resolve, as it would in such an app.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { fileURLToPath } from "node:url"

const child = fileURLToPath(new URL("support/withoutPeers.ts", import.meta.url))
const packageRoot = fileURLToPath(new URL("..", import.meta.url))

describe("@httpkit/rate-limiter without its optional peers", () => {
  it(
    "the root imports nothing of @httpkit/client, redis or @effect/platform-node, limits and fails with its own errors; only ClientRateLimit and RedisStore cannot load",
    async () => {
      const run = await NodeChild.run([child], { cwd: packageRoot, timeoutMillis: 120_000 })
      assert.strictEqual(run.code, 0, run.output)
      const line = run.stdout.trim().split("\n").at(-1) ?? ""
      const report = JSON.parse(line) as {
        readonly refusedByRoot: ReadonlyArray<string>
        readonly adapter: string
        readonly redisStore: string
        readonly outcomes: ReadonlyArray<string>
        readonly errorTag: string
      }
      assert.deepStrictEqual(report.outcomes, ["granted", "granted", "granted", "RateLimitExceededError"])
      assert.strictEqual(report.errorTag, "RateLimitExceededError")
      assert.deepStrictEqual(report.refusedByRoot, [])
      // The hook really hides the peers: the adapter, which imports the client, and RedisStore, which imports
      // `@effect/platform-node/NodeRedis` (and so `redis`), fail to load.
      assert.strictEqual(report.adapter, "ERR_MODULE_NOT_FOUND")
      assert.strictEqual(report.redisStore, "ERR_MODULE_NOT_FOUND")
    },
    150_000
  )
})

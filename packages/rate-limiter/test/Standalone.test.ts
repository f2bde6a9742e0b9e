/**
 * `@httpkit/rate-limiter` stands alone: an app that never installed
 * `@httpkit/client`, `redis` or `@effect/platform-node` imports the package
 * and runs a limit; only the client adapter
 * (`@httpkit/rate-limiter/ClientRateLimit`) needs the client, and only
 * `@httpkit/rate-limiter/RedisStore` needs `redis` and
 * `@effect/platform-node`. Proved in a child process where every import of
 * those fails to resolve, as it would in such an app.
 *
 * Nor does the root load `node:sqlite` until a local store is built: on
 * Node 22 loading it prints an `ExperimentalWarning`, which an app on the
 * memory or Redis store must never see.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { fileURLToPath } from "node:url"

const child = fileURLToPath(new URL("support/withoutPeers.ts", import.meta.url))
const sqliteChild = fileURLToPath(new URL("support/sqliteOnDemand.ts", import.meta.url))
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

  it(
    "node:sqlite is loaded only when a local store is built: not by the root, a limit on the memory store, nor the RedisStore and ClientRateLimit subpaths, so no warning before",
    async () => {
      const run = await NodeChild.run([sqliteChild], { cwd: packageRoot, timeoutMillis: 120_000 })
      assert.strictEqual(run.code, 0, run.output)
      const line = run.stdout.trim().split("\n").at(-1) ?? ""
      const report = JSON.parse(line) as {
        readonly loaded: Readonly<Record<string, boolean>>
        readonly outcomes: Readonly<Record<string, ReadonlyArray<string>>>
        readonly warnings: ReadonlyArray<{ readonly step: string; readonly name: string; readonly message: string }>
      }
      // Loaded by the local store alone; that it shows there proves the signal works on this Node.
      assert.deepStrictEqual(report.loaded, { root: false, memory: false, subpaths: false, local: true })
      const limited = ["granted", "granted", "granted", "RateLimitExceededError"]
      assert.deepStrictEqual(report.outcomes, { memory: limited, local: limited })
      // Node 22 warns once, when the local store loads node:sqlite; Node 24 does not warn. (Other warnings, such
      // as Node 22's about type stripping, are not this test's.)
      const sqliteWarnings = report.warnings.filter((warning) => /sqlite/i.test(warning.message))
      assert.ok(sqliteWarnings.length <= 1, JSON.stringify(report.warnings))
      assert.deepStrictEqual(sqliteWarnings.filter((warning) => warning.step !== "local"), [])
    },
    150_000
  )
})

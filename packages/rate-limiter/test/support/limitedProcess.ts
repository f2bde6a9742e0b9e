/**
 * One process of a multi-process limiter test: `fibers` fibers acquire
 * permits of one global rate (`limit` per second, evenly spaced) on the chosen
 * backend from `start` (epoch ms) for `seconds`, and the process prints the
 * admission times (epoch ms) as one JSON line.
 *
 * `node limitedProcess.ts <redis|local> <target> <key> <limit> <seconds> <start> [fibers] [rate|window]`
 * where `target` is a Redis URL or a SQLite file path; the policy is
 * `Policy.rate` (evenly spaced, the default) or `Policy.window` (bursts).
 */
import { Effect, Fiber, Layer } from "effect"
import * as LimiterStore from "../../src/LimiterStore.ts"
import * as LocalStore from "../../src/LocalStore.ts"
import * as Policy from "../../src/Policy.ts"
import * as RateLimiter from "../../src/RateLimiter.ts"
import * as RedisStore from "../../src/RedisStore.ts"

const [backend, target, key, limitText, secondsText, startText, fibersText, kind] = process.argv.slice(2)
const limit = Number(limitText)
const seconds = Number(secondsText)
const start = Number(startText)
const fibers = Number(fibersText ?? "16")

const store: Layer.Layer<LimiterStore.LimiterStore, unknown> = backend === "redis"
  ? RedisStore.layer({ url: target!, prefix: `httpkit:test:${key}:` })
  : LocalStore.layer({ path: target! })

const program = Effect.gen(function*() {
  const limiter = yield* RateLimiter.RateLimiter
  const end = start + seconds * 1_000
  const admitted: Array<number> = []
  yield* Effect.sleep(Math.max(0, start - Date.now()))
  const worker = Effect.gen(function*() {
    while (Date.now() < end) {
      yield* Effect.scoped(limiter.acquire({ key: key! }))
      const at = Date.now()
      if (at < end) admitted.push(at)
    }
  })
  const running = yield* Effect.forEach(Array.from({ length: fibers }), () => Effect.forkChild(worker))
  yield* Effect.sleep(Math.max(0, end - Date.now()))
  yield* Effect.forEach(running, Fiber.interrupt)
  process.stdout.write(JSON.stringify(admitted) + "\n")
}).pipe(
  Effect.provide(
    RateLimiter.layer({
      policies: [
        kind === "window"
          ? Policy.window({ limit, window: "1 second", keyBy: "global" })
          : Policy.rate({ limit, window: "1 second", keyBy: "global" })
      ],
      maxWait: `${seconds * 2} seconds`
    }).pipe(Layer.provide(store))
  )
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)

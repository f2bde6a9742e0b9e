/**
 * One process of a multi-process limiter test: `fibers` fibers acquire
 * permits of one global rate (`limit` per second, evenly spaced) on the chosen
 * backend from `start` for `seconds`, and the process prints what happened.
 *
 * `node limitedProcess.ts <redis|local> <target> <key> <limit> <seconds> <start> [fibers] [rate|window]`
 * where `target` is a Redis URL or a SQLite file path; the policy is
 * `Policy.rate` (evenly spaced, the default) or `Policy.window` (bursts).
 *
 * - `start` in epoch ms: the process prints the admission times (epoch ms) as
 *   one JSON array (what `bench/rate-limiter.ts` reads).
 * - `start` = `stdin`: once its store is open, and it has taken a few permits
 *   of a policy of its own (a warm-up: the first calls of a cold process are
 *   slow), the process prints `ready` and reads the start time from a line
 *   on stdin (so a slow start on a loaded machine delays the run instead of
 *   cutting it short), then prints one JSON
 *   line `{ admitted, late, failed, errors }`: the admission times, how many
 *   times a request woke too late and booked again (each leaves a booked slot
 *   unused), how many acquisitions failed, and the first few failures.
 */
import { Effect, Fiber, Layer, Metric } from "effect"
import { createInterface } from "node:readline"
import * as LimiterStore from "../../src/LimiterStore.ts"
import * as LocalStore from "../../src/LocalStore.ts"
import * as Policy from "../../src/Policy.ts"
import * as RateLimiter from "../../src/RateLimiter.ts"
import * as RedisStore from "../../src/RedisStore.ts"

const [backend, target, key, limitText, secondsText, startText, fibersText, kind] = process.argv.slice(2)
const fromStdin = startText === "stdin"
const limit = Number(limitText)
const seconds = Number(secondsText)
const fibers = Number(fibersText ?? "16")

const store: Layer.Layer<LimiterStore.LimiterStore, unknown> = backend === "redis"
  ? RedisStore.layer({ url: target!, prefix: `httpkit:test:${key}:` })
  : LocalStore.layer({ path: target! })

/** The start time the parent sends once every process is ready. */
const startTime = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const lines = createInterface({ input: process.stdin })
    lines.once("line", (line) => {
      lines.close()
      resolve(Number(line))
    })
  })
)

const program = Effect.gen(function*() {
  const limiter = yield* RateLimiter.make({
    policies: [
      kind === "window"
        ? Policy.window({ limit, window: "1 second", keyBy: "global" })
        : Policy.rate({ limit, window: "1 second", keyBy: "global" })
    ],
    maxWait: `${seconds * 2} seconds`
  })
  if (fromStdin) {
    const warmUp = yield* RateLimiter.make({
      policies: [Policy.rate({ name: "warm-up", limit: 1_000, window: "1 second", keyBy: "global" })]
    })
    for (let i = 0; i < 20; i++) yield* warmUp.withPermit(Effect.void)
    process.stdout.write("ready\n")
  }
  const start = fromStdin ? yield* startTime : Number(startText)
  const end = start + seconds * 1_000
  const admitted: Array<number> = []
  const errors: Array<string> = []
  let failed = 0
  yield* Effect.sleep(Math.max(0, start - Date.now()))
  const worker = Effect.gen(function*() {
    while (Date.now() < end) {
      const exit = yield* Effect.exit(Effect.scoped(limiter.acquire({ key: key! })))
      const at = Date.now()
      if (exit._tag === "Failure") {
        if (failed++ < 5) errors.push(String(exit.cause))
        yield* Effect.sleep(10)
        continue
      }
      if (at < end) admitted.push(at)
    }
  })
  const running = yield* Effect.forEach(Array.from({ length: fibers }), () => Effect.forkChild(worker))
  yield* Effect.sleep(Math.max(0, end - Date.now()))
  yield* Effect.forEach(running, Fiber.interrupt)
  const late = yield* Metric.value(Metric.withAttributes(RateLimiter.acquisitions, { key: "custom", outcome: "late" }))
  process.stdout.write(`${JSON.stringify(fromStdin ? { admitted, late: late.count, failed, errors } : admitted)}\n`)
}).pipe(Effect.provide(store))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)

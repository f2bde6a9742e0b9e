/**
 * Four worker processes crawl one server under one rate limit kept in Redis:
 * together they never go faster than the server allows, so the server
 * refuses none of their requests. Each worker alone would be within the
 * limit; four limits of their own would send four times too much.
 *
 * The parent starts the fault-injection server (or uses `--url`), then runs
 * four copies of this file with `--worker`; each fetches every fourth of 80
 * pages with 10 fibers, through `ResilientClient` with a `RateLimiter` on
 * `RedisStore` (`REDIS_URL`, default `redis://127.0.0.1:6379`).
 *
 * Run it with `node examples/rate-limit-crawler.ts` (Redis must be running).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { RedisStore } from "@httpkit/rate-limiter"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { crawl, crawlKey, limitedClient, limiter, ourLimit, serverLimit } from "./crawl.ts"
import { serverUrl } from "./server.ts"

const workers = 4
const pages = 80
const { values } = parseArgs({
  options: { worker: { type: "string" }, url: { type: "string" } },
  strict: false
})
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

/** One worker: its share of the pages, under the limit shared through Redis. */
const worker = (index: number, baseUrl: string) =>
  Effect.gen(function*() {
    const mine = Array.from({ length: pages }, (_, n) => n).filter((n) => n % workers === index)
    const result = yield* crawl(mine, 10)
    yield* Console.log(JSON.stringify(result))
  }).pipe(
    Effect.provide(
      limitedClient(baseUrl).pipe(
        Layer.provide(limiter()),
        Layer.provide(RedisStore.layer({ url: redisUrl, prefix: `httpkit:example:${baseUrl}:` }))
      )
    )
  )

/** Runs this file as worker `index` (killed after 60 s, or when interrupted), returning what it printed. */
const runWorker = (index: number, baseUrl: string) =>
  Effect.gen(function*() {
    const run = yield* Effect.tryPromise((signal) =>
      NodeChild.run([fileURLToPath(import.meta.url), "--worker", String(index), "--url", baseUrl], {
        timeoutMillis: 60_000,
        signal
      })
    )
    if (run.code !== 0) return yield* Effect.fail(new Error(`worker ${index} exited with ${run.code}: ${run.stderr}`))
    const last = run.stdout.trim().split("\n").at(-1) ?? ""
    return yield* Effect.try({
      try: () => JSON.parse(last) as { fetched: number; failed: number; errors: string },
      catch: () => new Error(`worker ${index} printed ${last}`)
    })
  })

const parent = Effect.gen(function*() {
  const baseUrl = yield* serverUrl
  const control = ServerControl.make(baseUrl)
  yield* control.reset
  yield* Console.log(`${workers} worker processes share ${ourLimit} requests per second through ${redisUrl}`)
  yield* Console.log(`(the server allows ${serverLimit} per second and answers 429 past that)`)
  const started = Date.now()
  const results = yield* Effect.all(
    Array.from({ length: workers }, (_, index) => runWorker(index, baseUrl)),
    { concurrency: "unbounded" }
  )
  const seconds = (Date.now() - started) / 1_000
  results.forEach((result, index) =>
    console.log(
      `worker ${index}: fetched ${result.fetched}, failed ${result.failed}${
        result.failed > 0 ? ` (${result.errors})` : ""
      }`
    )
  )
  const fetched = results.reduce((sum, result) => sum + result.fetched, 0)
  const stats = yield* control.rateLimitStats(crawlKey)
  yield* Console.log(`fetched ${fetched} pages in ${seconds.toFixed(1)} s (our shared limit: ${ourLimit}/s)`)
  yield* Console.log(`the server admitted ${stats.allowed} and refused ${stats.refused}`)
  if (stats.refused > 0 || fetched !== pages) return yield* Effect.fail(new Error("the shared limit did not hold"))
})

NodeRuntime.runMain(
  typeof values.worker === "string" && typeof values.url === "string"
    ? worker(Number(values.worker), values.url)
    : Effect.scoped(parent)
)

/**
 * Four worker processes crawl one server under one rate limit kept in Redis:
 * together they never go faster than the server allows, so the server
 * refuses none of their requests. Each worker alone would be within the
 * limit; four limits of their own would send four times too much.
 *
 * The parent starts the fault-injection server (or uses `--url`), then runs
 * four copies of this file with `--worker`; each fetches every fourth of 80
 * pages with 10 fibers, through `ResilientClient` with a `RateLimiter` on
 * `RedisStore` (`--redis URL`, else `REDIS_URL`, else `redis://127.0.0.1:6379`).
 *
 * Run it with `npm run example -- rate-limit-crawler` (Redis must be running).
 * It ends with one of four outcomes, each its own line: the limit held
 * (exit 0); `Redis was unreachable at <url>` (before the crawl, or requests
 * that failed with `RateLimiterUnavailableError` during it; exit 1);
 * `Redis refused the credentials at <url>: authentication failed` (a wrong
 * password, or a user that its ACL refuses: before the crawl, or during it;
 * exit 1); or `the limit did not hold` (the server refused requests, or
 * pages were missing for another reason; exit 1).
 */
import * as Redact from "@httpkit/core/Redact"
import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Data, Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { fail, redisUrlOf } from "../scripts/args.ts"
import { crawl, crawlKey, limitedClient, limiter, ourLimit, serverLimit } from "./support/crawl.ts"
import { runMain } from "./support/outcome.ts"
import { authReason, requireRedis } from "./support/redis.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const workers = 4
const pages = 80

const usage = `Usage: npm run example -- rate-limit-crawler [--redis URL] [--url URL]

Four worker processes crawl ${pages} pages under one rate limit kept in Redis; the server refuses none.

  --redis URL   the Redis holding the shared limit (default: REDIS_URL, else redis://127.0.0.1:6379)
${serverHelp}

Internal (the example runs itself as its workers):
  --worker N    crawl the share of worker N (0 to ${workers - 1}) of the server at --url`
const flags = serverFlags(usage, { redis: { type: "string" }, worker: { type: "string" } })
const redisUrl = flags.redis !== undefined
  ? redisUrlOf("--redis", flags.redis)
  : redisUrlOf("REDIS_URL", process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
const shownRedis = Redact.url(redisUrl)
const workerIndex = flags.worker === undefined
  ? undefined
  : /^[0-9]+$/.test(flags.worker)
  ? Number(flags.worker)
  : Number.NaN
if (
  workerIndex !== undefined &&
  !(Number.isInteger(workerIndex) && workerIndex >= 0 && workerIndex < workers && flags.url !== undefined)
) fail(`--worker takes 0 to ${workers - 1}, with --url`)

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

/** A crawl that did not show its point, and why: printed as one line. */
class CrawlFailed extends Data.TaggedError("CrawlFailed")<{ readonly message: string }> {}

/** Runs this file as worker `index` (killed after 60 s, or when interrupted), returning what it printed. */
const runWorker = (index: number, baseUrl: string) =>
  Effect.gen(function*() {
    const run = yield* Effect.tryPromise((signal) =>
      NodeChild.run(
        [fileURLToPath(import.meta.url), "--worker", String(index), "--url", baseUrl, "--redis", redisUrl],
        { timeoutMillis: 60_000, signal }
      )
    )
    if (run.code !== 0) {
      return yield* Effect.fail(
        new CrawlFailed({ message: `worker ${index} exited with ${run.code ?? run.signal}: ${run.stderr.trim()}` })
      )
    }
    // Its result is its one JSON line (the limiter's warnings, when Redis is away, are lines too).
    const result = run.stdout.split("\n").findLast((line) => line.startsWith("{"))
    return yield* Effect.try({
      try: () =>
        JSON.parse(result ?? "") as { fetched: number; failed: number; errors: string; storeFailure: string | null },
      catch: () => new CrawlFailed({ message: `worker ${index} printed no result: ${run.stdout.trim()}` })
    })
  })

/** The tag a request fails with when the limiter could not reach its store. */
const storeUnavailable = "RateLimiterUnavailableError"

const parent = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  const control = ServerControl.make(baseUrl)
  yield* control.reset
  yield* Console.log(`${workers} worker processes share ${ourLimit} requests per second through ${shownRedis}`)
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
  // Redis going away is not the limit failing: requests the limiter refused for want of its store never left.
  // Nor is it unreachable when it answered, refusing the credentials.
  const refused = results.flatMap((result) => {
    const reason = result.storeFailure === null ? undefined : authReason(result.storeFailure)
    return reason === undefined ? [] : [reason]
  })
  if (refused.length > 0) {
    return yield* Effect.fail(
      new CrawlFailed({
        message: `Redis refused the credentials at ${shownRedis} during the crawl: authentication failed ` +
          `(${refused.length} of ${workers} workers: ${refused[0]})`
      })
    )
  }
  const unavailable = results.filter((result) => result.errors.split(", ").includes(storeUnavailable)).length
  if (unavailable > 0) {
    return yield* Effect.fail(
      new CrawlFailed({
        message: `Redis was unreachable at ${shownRedis} during the crawl: ${unavailable} of ${workers} workers had ` +
          `requests fail with ${storeUnavailable}`
      })
    )
  }
  if (stats.refused > 0) {
    return yield* Effect.fail(
      new CrawlFailed({ message: `the limit did not hold: the server refused ${stats.refused} requests` })
    )
  }
  if (fetched !== pages) {
    const errors = [...new Set(results.flatMap((result) => result.errors === "" ? [] : result.errors.split(", ")))]
    return yield* Effect.fail(
      new CrawlFailed({
        message: `the crawl fell short: ${pages - fetched} of ${pages} pages failed (${errors.join(", ")})`
      })
    )
  }
})

if (workerIndex !== undefined) {
  runMain(worker(workerIndex, flags.url!))
} else {
  // Before anything starts: an unreachable Redis is said as such, not as a limit that did not hold.
  await requireRedis(redisUrl, Redact.url)
  runMain(
    Effect.scoped(parent).pipe(Effect.catchTag("CrawlFailed", (failed) => Effect.sync(() => fail(failed.message, 1))))
  )
}

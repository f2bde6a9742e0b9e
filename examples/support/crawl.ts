/**
 * The crawl shared by the rate-limit examples: fetch pages of the
 * fault-injection server's `/ratelimit` endpoint, which allows 20 requests
 * per second and answers 429 past that, and count what came back.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Policy, RateLimiter } from "@httpkit/rate-limiter"
import * as ClientRateLimit from "@httpkit/rate-limiter/ClientRateLimit"
import { Effect, Layer } from "effect"

/** The server's budget: 20 requests per 1-second window for the key `crawl`. */
export const serverLimit = 20

/**
 * Our limit: 15 per second, evenly spaced (one every 67 ms), per host. Under
 * the server's budget, because the server counts arrivals: a request's way
 * there (a new connection, a busy process) varies by tens of milliseconds,
 * and the embedded server shares its process and the machine's cores with the
 * crawl: starved, it reads requests in bunches and counts them as arriving
 * together. At 18 a second a loaded machine (two cores busy) saw 1 or 2 of 80
 * refused in 2 of 5 runs.
 */
export const ourLimit = 15

/** The limiter of the examples, on the `LimiterStore` in context. */
export const limiter = (options: { readonly onStoreFailure?: "fail" | "local" } = {}) =>
  RateLimiter.layer({
    policies: [Policy.rate({ limit: ourLimit, window: "1 second" })],
    // A request that gets to go more than 25 ms after its slot (a busy machine) books again, so a
    // stalled worker never sends its overdue requests together.
    maxLateness: "25 millis",
    maxWait: "30 seconds",
    ...options
  })

/** A `ResilientClient` whose calls go through the `RateLimiter` in context. */
export const limitedClient = (baseUrl: string) =>
  ResilientClient.layer({ baseUrl, retry: { maxAttempts: 3 } }).pipe(Layer.provide(ClientRateLimit.layer))

/** The key the server counts the crawl's requests under (`ServerControl.rateLimitStats(crawlKey)`). */
export const crawlKey = "crawl"

/** The URL of page `n`. */
export const page = (n: number) => `/ratelimit?limit=${serverLimit}&window=1000&key=${crawlKey}&page=${n}`

/** Fetches `pages` with `concurrency` fibers; returns how many succeeded and the calls' total wait. */
export const crawl = (pages: ReadonlyArray<number>, concurrency: number) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.ResilientClient
    const results = yield* Effect.forEach(
      pages,
      (n) => Effect.result(client.get(page(n))),
      { concurrency }
    )
    const failures = results.flatMap((result) => result._tag === "Failure" ? [result.failure] : [])
    const errors = failures.map((failure) => failure._tag)
    return {
      fetched: results.length - errors.length,
      failed: errors.length,
      /** The failures' tags, for the report. */
      errors: [...new Set(errors)].join(", "),
      /** What the first failure of the limiter's store said (its message names no secret), if one failed. */
      storeFailure: failures.find((failure) => failure._tag === "RateLimiterUnavailableError")?.message ?? null
    }
  })

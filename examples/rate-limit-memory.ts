/**
 * One rate limit shared by many fibers in one process, on the embedded
 * memory backend: 60 pages fetched by 30 fibers at once, never faster than
 * the server allows, so the server refuses none of them.
 *
 * Run it with `npm run example -- rate-limit-memory` (starts the fault-injection
 * server embedded), or `npm run example -- rate-limit-memory --url http://127.0.0.1:PORT`
 * against one started with `npm run test-server` (it resets that server).
 */
import { LimiterStore } from "@httpkit/rate-limiter"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Layer } from "effect"
import { crawl, crawlKey, limitedClient, limiter, ourLimit, serverLimit } from "./support/crawl.ts"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- rate-limit-memory [--url URL]

30 fibers fetch 60 pages under one limit on the memory store; the server refuses none.

${serverHelp}`
const flags = serverFlags(usage)

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  const control = ServerControl.make(baseUrl)
  yield* control.reset

  const started = Date.now()
  const result = yield* crawl(Array.from({ length: 60 }, (_, n) => n), 30).pipe(
    Effect.provide(limitedClient(baseUrl).pipe(Layer.provide(limiter()), Layer.provide(LimiterStore.layerMemory())))
  )
  const seconds = (Date.now() - started) / 1_000
  const stats = yield* control.rateLimitStats(crawlKey)
  yield* Console.log(`fetched ${result.fetched} pages with 30 fibers in ${seconds.toFixed(1)} s`)
  yield* Console.log(`(${ourLimit} per second, evenly spaced; the server allows ${serverLimit})`)
  yield* Console.log(`the server admitted ${stats.allowed} and refused ${stats.refused}`)
  yield* check(stats.refused === 0 && result.fetched === 60, "60 pages fetched, none refused by the server")
})

runMain(Effect.scoped(main))

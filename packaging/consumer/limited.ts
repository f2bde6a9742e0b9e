/**
 * A user's program, run from the installed packages: six GETs in a loop
 * through `ResilientClient`, under a limit of 3 requests per second kept by
 * `@httpkit/rate-limiter` on its memory store and plugged into the client by
 * `ClientRateLimit`. Prints one JSON line per call (its status, and the
 * milliseconds since the loop began when it ended), then one with the total.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ClientRateLimit from "@httpkit/rate-limiter/ClientRateLimit"
import * as LimiterStore from "@httpkit/rate-limiter/LimiterStore"
import * as Policy from "@httpkit/rate-limiter/Policy"
import * as RateLimiter from "@httpkit/rate-limiter/RateLimiter"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { performance } from "node:perf_hooks"

const baseUrl = process.argv[2]
if (baseUrl === undefined) throw new Error("usage: node limited.ts <server url>")

const limited = ResilientClient.layer({ name: "limited", baseUrl }).pipe(
  Layer.provide(ClientRateLimit.layer),
  Layer.provide(RateLimiter.layer({ policies: [Policy.window({ limit: 3, window: "1 second", keyBy: "global" })] })),
  Layer.provide(LimiterStore.layerMemory())
)

const main = Effect.gen(function*() {
  const client = yield* ResilientClient.ResilientClient
  const started = performance.now()
  for (let call = 1; call <= 6; call++) {
    const response = yield* client.get(`/msg?call=${call}`)
    yield* Console.log(JSON.stringify({ call, status: response.status, at: Math.round(performance.now() - started) }))
  }
  yield* Console.log(JSON.stringify({ totalMillis: Math.round(performance.now() - started) }))
})

NodeRuntime.runMain(main.pipe(Effect.provide(limited)))

/**
 * A user's program for a project that installed only `@httpkit/core`,
 * `@httpkit/client`, `@httpkit/downloader` and `effect`: no Redis client and
 * no `@effect/platform-node`. It loads the three packages' roots, then makes
 * one GET through `ResilientClient` to `process.argv[2]`, retrying a 503.
 * Prints one JSON line: the status, the attempt that succeeded and the request
 * id every attempt carried.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Core from "@httpkit/core"
import * as Downloader from "@httpkit/downloader"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const url = process.argv[2]
if (url === undefined) throw new Error("usage: node client-only.ts <url>")

const main = Effect.gen(function*() {
  const client = yield* ResilientClient.make({
    name: "client-only",
    retry: { maxAttempts: 3, minDelay: "10 millis", maxDelay: "50 millis" }
  })
  const response = yield* client.get(url)
  yield* Console.log(
    JSON.stringify({
      status: response.status,
      attempt: response.attempt,
      requestId: response.requestId,
      roots: [Object.keys(Core).length > 0, Object.keys(Downloader).length > 0]
    })
  )
})

await Effect.runPromise(Effect.scoped(main))

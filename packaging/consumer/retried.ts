/**
 * A user's program, run from the installed packages: one GET through
 * `ResilientClient` to the fault-injection server at `process.argv[2]`, which
 * is told to fail the first attempt with a 503. Prints one JSON line: the
 * status, the attempt that succeeded and the request id every attempt carried.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const baseUrl = process.argv[2]
if (baseUrl === undefined) throw new Error("usage: node retried.ts <server url>")

const main = Effect.gen(function*() {
  const control = ServerControl.make(baseUrl)
  yield* control.reset
  yield* control.failNext(1, { status: 503 })
  const client = yield* ResilientClient.make({
    name: "installed",
    baseUrl,
    retry: { maxAttempts: 3, minDelay: "10 millis", maxDelay: "50 millis" }
  })
  const response = yield* client.get("/msg")
  yield* Console.log(
    JSON.stringify({ status: response.status, attempt: response.attempt, requestId: response.requestId })
  )
})

NodeRuntime.runMain(Effect.scoped(main))

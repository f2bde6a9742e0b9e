/**
 * A user's program, run from the installed packages: two GETs through
 * `ResilientClient` to the fault-injection server at `process.argv[2]`, the
 * first failed once with a 503, observed with `@httpkit/metrics`: its
 * snapshot, and a scrape of its Prometheus endpoint on a free port. Prints
 * one JSON line: the calls and retries the snapshot counted for the host,
 * and the request counter's line of the scrape.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as HttpkitMetrics from "@httpkit/metrics/HttpkitMetrics"
import * as MetricsServer from "@httpkit/metrics/MetricsServer"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const baseUrl = process.argv[2]
if (baseUrl === undefined) throw new Error("usage: node observed.ts <server url>")

const main = Effect.gen(function*() {
  const control = ServerControl.make(baseUrl)
  yield* control.reset
  yield* control.failNext(1, { status: 503 })
  const client = yield* ResilientClient.make({
    name: "installed",
    baseUrl,
    retry: { maxAttempts: 3, minDelay: "10 millis", maxDelay: "50 millis" }
  })
  yield* client.get("/msg")
  yield* client.get("/msg")
  const endpoint = yield* MetricsServer.make({ port: 0 })
  const text = yield* Effect.promise(() => fetch(endpoint.url).then((response) => response.text()))
  const snapshot = yield* HttpkitMetrics.snapshot
  const host = snapshot.clients.find((stats) => stats.name === "installed")?.hosts[0]
  yield* Console.log(JSON.stringify({
    calls: host?.requests,
    retries: host?.retries,
    scraped: text.split("\n").filter((line) => line.startsWith("httpkit_client_requests_total{"))
  }))
})

NodeRuntime.runMain(Effect.scoped(main))

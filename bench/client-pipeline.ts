/**
 * The CPU cost of `ResilientClient`'s pipeline alone, without sockets: the
 * bare Effect client and `ResilientClient` over the same in-memory transport
 * (an `HttpClient.make` answering a canned `Response`), in one run.
 *
 *   node bench/client-pipeline.ts [--requests N] [--rounds R]
 *
 * Socket benchmarks on a busy 2-core machine swing by tens of percent; this
 * one isolates what the pipeline adds per call, so an optimisation can be
 * judged before and after in minutes. It reports the minimum over rounds
 * (the least disturbed), the overhead in microseconds and the ratio.
 *
 * The client runs as `ResilientClient.make` builds it over undici: the
 * attempt deadline is left to the transport (`transportDeadlines`), which
 * here ignores it. CPU time still moves with the machine's load; for figures
 * that do not, count instructions with `bench/client-instructions.ts`.
 */
import * as ClientConfig from "@httpkit/client/ClientConfig"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Effect } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { parseArgs } from "node:util"

const { values } = parseArgs({ options: { requests: { type: "string" }, rounds: { type: "string" } } })
const requests = Number(values.requests ?? 20_000)
const rounds = Number(values.rounds ?? 9)

const body = JSON.stringify({ id: 1, name: "httpkit" })
const transport = HttpClient.make((request) =>
  Effect.succeed(
    HttpClientResponse.fromWeb(request, new Response(body, { headers: { "content-length": String(body.length) } }))
  )
)

/** The least CPU per call over the rounds, in microseconds. */
const cpuPerCall = async (call: Effect.Effect<unknown, unknown>): Promise<number> => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < requests; i++) yield* call
  })
  await Effect.runPromise(loop)
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage()
    await Effect.runPromise(loop)
    const used = process.cpuUsage(start)
    best = Math.min(best, (used.user + used.system) / requests)
  }
  return best
}

const client = await Effect.runPromise(
  Effect.scoped(
    Effect.flatMap(ClientConfig.resolve(), (resolved) => ResilientClient.makeWith(resolved, transport, undefined, true))
  )
)
const bare = await cpuPerCall(Effect.flatMap(transport.get("http://bench.test/a"), (response) => response.json))
const resilient = await cpuPerCall(Effect.flatMap(client.get("http://bench.test/a"), (response) => response.json))
console.log(`${requests} calls x ${rounds} rounds, minimum CPU per call:`)
console.log(`  bare Effect HttpClient  ${bare.toFixed(1)} µs`)
console.log(`  ResilientClient get     ${resilient.toFixed(1)} µs`)
console.log(`  pipeline overhead       ${(resilient - bare).toFixed(1)} µs (${(resilient / bare).toFixed(2)}x)`)

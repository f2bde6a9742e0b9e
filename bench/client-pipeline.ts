/**
 * The CPU cost of `ResilientClient`'s pipeline alone, without sockets: the
 * bare Effect client and `ResilientClient` over the same in-memory transport
 * (an `HttpClient.make` answering a canned `Response`), in one run.
 *
 *   npm run bench -- client-pipeline [--requests N] [--rounds R] [--help]
 *
 * Cases: `get` + `json` against the bare client's `get` + `json` (with the
 * client's metrics on, and off), and `getJson(Schema)` against the bare
 * client with `schemaBodyJson` of the same Schema.
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
import { HttpClientResponse } from "effect/http"
import { parseFlags, positiveInt } from "../scripts/args.ts"
import { memoryTransport as transport } from "./support/memoryTransport.ts"
import { Payload } from "./support/payload.ts"

const usage = `Usage: npm run bench -- client-pipeline [options]

  --requests N   calls per round (default 20000)
  --rounds R     measured rounds after one warm-up round; the least CPU per call is kept (default 9)
  --help         this text`

const { values } = parseFlags({
  options: { requests: { type: "string" }, rounds: { type: "string" }, help: { type: "boolean", default: false } }
}, usage)
const requests = positiveInt("--requests", values.requests) ?? 20_000
const rounds = positiveInt("--rounds", values.rounds) ?? 9

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

const clientWith = (options: ClientConfig.Options) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        ClientConfig.resolve(options),
        (resolved) => ResilientClient.makeWith(resolved, transport, undefined, true)
      )
    )
  )
const client = await clientWith({})
const quiet = await clientWith({ metrics: false })
const url = "http://bench.test/a"

const bare = await cpuPerCall(Effect.flatMap(transport.get(url), (response) => response.json))
const resilient = await cpuPerCall(Effect.flatMap(client.get(url), (response) => response.json))
const withoutMetrics = await cpuPerCall(Effect.flatMap(quiet.get(url), (response) => response.json))
const bareSchema = await cpuPerCall(Effect.flatMap(transport.get(url), HttpClientResponse.schemaBodyJson(Payload)))
const getJson = await cpuPerCall(client.getJson(url, Payload))

const line = (label: string, micros: number, anchor?: number) =>
  console.log(
    `  ${label.padEnd(34)} ${micros.toFixed(1).padStart(6)} µs` +
      (anchor === undefined ? "" : `  +${(micros - anchor).toFixed(1)} µs (${(micros / anchor).toFixed(2)}x)`)
  )
console.log(`${requests} calls x ${rounds} rounds, minimum CPU per call:`)
line("bare Effect HttpClient + json", bare)
line("ResilientClient get + json", resilient, bare)
line("  the same, metrics: false", withoutMetrics, bare)
line("bare Effect + schemaBodyJson", bareSchema)
line("ResilientClient getJson(Schema)", getJson, bareSchema)

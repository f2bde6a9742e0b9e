/**
 * The exporters' own HTTP client, composed from one concern per module:
 *
 * 1. `nodeTransport`: `node:http` and `node:https` with agents of the
 *    layer's own, closed with it (no socket outlives the layer).
 * 2. `exportGate`: per endpoint (one per signal), one request at a time, at
 *    most `maxPending` exports pending (later batches dropped, counted and
 *    logged), and a deadline per export shared by its retries.
 * 3. Here: the first transport failure of each endpoint (a deadline passed,
 *    a certificate or a connection refused) logged as a warning that names
 *    the endpoint (redacted) and why, once until an export there gets an
 *    answer again.
 *
 * Effect's exporter retries a transport failure three times, a second apart,
 * and logs only once it gives up; the export at shutdown is cut off by
 * `shutdownTimeout` before that, so without the warning a short program whose
 * collector is unreachable or untrusted would lose its telemetry without a
 * word. A status the receiver refuses is not a transport failure: Effect's
 * exporter logs it at once.
 */
import * as Redact from "@httpkit/core/Redact"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as ExportGate from "./exportGate.ts"
import { reasonOf } from "./failureReason.ts"
import * as NodeTransport from "./nodeTransport.ts"

/** What the client is built from. */
export interface Options {
  /** Each export's deadline, in milliseconds (`exportTimeout`). */
  readonly timeout: number
  /** Exports pending per signal before new batches are dropped. */
  readonly maxPending: number
}

/**
 * Logs the first transport failure of each endpoint, until an export there
 * gets an answer again (a batch the gate dropped is no answer).
 */
const logFailures = (client: HttpClient.HttpClient): HttpClient.HttpClient => {
  const failing = new Set<string>()
  return client.pipe(
    HttpClient.tap((response) =>
      Effect.sync(() => {
        if (!ExportGate.isDropped(response)) failing.delete(response.request.url)
      })
    ),
    HttpClient.tapError((error) => {
      const url = error.request.url
      if (error.reason._tag !== "TransportError" || failing.has(url)) return Effect.void
      failing.add(url)
      return Effect.logWarning(`OTLP export to ${Redact.url(url)} failed: ${reasonOf(error)}`)
    })
  )
}

/** The exporters' client, for the life of the layer. */
export const layer = (options: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const transport = yield* NodeTransport.make
      const gated = yield* ExportGate.make(transport, options)
      return logFailures(gated)
    })
  )

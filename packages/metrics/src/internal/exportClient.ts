/**
 * The exporters' own HTTP client: `fetch` (Effect's `FetchHttpClient`), with
 * the first transport failure of each endpoint logged as a warning that names
 * the endpoint (redacted) and why (a certificate refused, a connection
 * refused), once until an export there gets an answer again.
 *
 * Effect's exporter retries a transport failure three times, a second apart,
 * and logs only once it gives up; the export at shutdown is cut off by
 * `shutdownTimeout` before that, so without this a short program whose
 * collector is unreachable or untrusted would lose its telemetry without a
 * word. A status the receiver refuses is not a transport failure: Effect's
 * exporter logs it at once.
 */
import * as Redact from "@httpkit/core/Redact"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"

/** The innermost error of a transport failure, as `message (code)`: what Node said went wrong. */
const reasonOf = (error: HttpClientError.HttpClientError): string => {
  let inner: unknown = error.reason
  for (let depth = 0; depth < 8 && inner instanceof Object && "cause" in inner && inner.cause !== undefined; depth++) {
    inner = inner.cause
  }
  if (!(inner instanceof Error)) return String(inner)
  const code = "code" in inner && typeof inner.code === "string" ? ` (${inner.code})` : ""
  const text = `${inner.message === "" ? inner.name : inner.message}${code}`
  return text.length > 300 ? `${text.slice(0, 300)}...` : text
}

/** `fetch`, logging the first transport failure of each endpoint until it answers again. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.effect(
  HttpClient.HttpClient,
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const failing = new Set<string>()
    return client.pipe(
      HttpClient.tap((response) => Effect.sync(() => failing.delete(response.request.url))),
      HttpClient.tapError((error) => {
        const url = error.request.url
        if (error.reason._tag !== "TransportError" || failing.has(url)) return Effect.void
        failing.add(url)
        return Effect.logWarning(`OTLP export to ${Redact.url(url)} failed: ${reasonOf(error)}`)
      })
    )
  })
).pipe(Layer.provide(FetchHttpClient.layer))

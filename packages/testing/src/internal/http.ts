/**
 * Small helpers shared by the route modules of the fault-injection server.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Http from "node:http"
import type * as Net from "node:net"
import * as Respond from "./respond.ts"

/** The largest delay or duration any endpoint accepts, in milliseconds. */
export const maxDelayMillis = 120_000

/** The request's URL parsed against a dummy origin, for its path and query. */
export const requestUrl = (request: HttpServerRequest.HttpServerRequest): URL =>
  new URL(request.url, "http://test.invalid")

/** The current request's query parameters. */
export const query: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => requestUrl(request).searchParams
)

/**
 * Reads an integer query parameter; `fallback` when absent. Values outside
 * `[min, max]` or not integers answer `undefined`, which routes turn into 400.
 */
export const intParam = (
  params: URLSearchParams,
  name: string,
  fallback: number | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER
): number | undefined => {
  const raw = params.get(name)
  if (raw === null || raw === "") return fallback
  if (!/^-?\d+$/.test(raw)) return undefined
  const value = Number(raw)
  return value >= min && value <= max ? value : undefined
}

/** A JSON error answer naming the parameter that was wrong. */
export const badRequest = (message: string): HttpServerResponse.HttpServerResponse =>
  Respond.jsonUnsafe({ error: "bad_request", message }, { status: 400 })

/** 405 with the `Allow` header, for a route that answers only some methods. */
export const methodNotAllowed = (allowed: ReadonlyArray<string>): HttpServerResponse.HttpServerResponse =>
  Respond.jsonUnsafe({ error: "method_not_allowed", allowed }, {
    status: 405,
    headers: { allow: allowed.join(", ") }
  })

/** Sleeps for `millis`, interruptible when the client goes away. */
export const pause = (millis: number): Effect.Effect<void> => millis > 0 ? Effect.sleep(millis) : Effect.void

/**
 * Takes over the Node response to misbehave on purpose: `write` gets the raw
 * `ServerResponse` and must end or destroy it. Effect's response writer is
 * skipped because the response is already finished when it looks.
 *
 * Used for the faults Effect's writer rightly refuses to produce (a body that
 * disagrees with its `Content-Length`, a connection dropped after exactly N
 * bytes, a body trickled at a byte rate).
 */
export const takeOver = (
  write: (response: Http.ServerResponse, signal: AbortSignal) => Promise<void>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const response = NodeHttpServerRequest.toServerResponse(request) as Http.ServerResponse
    yield* Effect.promise((signal) =>
      write(response, signal).catch(() => {
        response.destroy()
      })
    )
    if (!response.writableEnded && !response.destroyed) response.destroy()
    return Respond.empty()
  })

/** Writes `chunk` and resolves once Node has handed it to the socket. */
export const writeChunk = (response: Http.ServerResponse, chunk: Uint8Array): Promise<void> =>
  new Promise((resolve, reject) => {
    response.write(chunk, (error) => (error ? reject(error) : resolve()))
  })

/** Ends the response and resolves once everything was flushed. */
export const endResponse = (response: Http.ServerResponse, chunk?: Uint8Array): Promise<void> =>
  new Promise((resolve) => {
    if (chunk === undefined) response.end(resolve)
    else response.end(chunk, resolve)
  })

/** Resolves after `millis` or when `signal` aborts, whichever comes first. */
export const sleepUnlessAborted = (millis: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, millis)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    signal.addEventListener("abort", done, { once: true })
  })

/** Lower-cased header record with repeated values joined, as `/__requests` and `/echo` report them. */
export const headerRecord = (request: HttpServerRequest.HttpServerRequest): Record<string, string> => {
  const out: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(request.headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value)
  }
  return out
}

/** Where a socket's connection number is kept; HTTP/2's socket proxies forward the read to the real socket. */
const connectionNumber = Symbol("@httpkit/testing/connection")

interface NumberedSocket {
  [connectionNumber]?: number
}

/**
 * Numbers every connection `server` accepts with `next()`: a plain socket when
 * accepted, a TLS socket once its handshake completes (`secureConnection`), as
 * that is the socket an https request (HTTP/1.1 or HTTP/2) reports.
 */
export const numberConnections = <S extends Net.Server>(server: S, secure: boolean, next: () => number): S =>
  server.on(secure ? "secureConnection" : "connection", (socket: Net.Socket & NumberedSocket) => {
    socket[connectionNumber] = next()
  })

/** The number of the connection that carried `request` (for HTTP/2, its session's); 0 if its socket is gone. */
export const connectionOf = (request: HttpServerRequest.HttpServerRequest): number => {
  try {
    const socket: Net.Socket & NumberedSocket = NodeHttpServerRequest.toIncomingMessage(request).socket
    return socket[connectionNumber] ?? 0
  } catch {
    // An HTTP/2 request's socket proxy throws once the session let go of its socket.
    return 0
  }
}

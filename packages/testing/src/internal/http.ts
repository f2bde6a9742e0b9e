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

/** The request target as it crossed the wire, split at its `?`. */
export interface Target {
  /** The path as sent: not decoded, `//` and dot-segments (`/./`, `/../`) kept. */
  readonly path: string
  /** The query without its `?`, as sent; `""` when there is none. */
  readonly query: string
}

/** The scheme and authority of an absolute-form target (`GET http://host:1/x`), which are not part of its path. */
const absoluteForm = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/

/**
 * Splits a raw request target into path and query, as sent: an absolute-form
 * target loses its scheme and authority (an empty path is `/`), a fragment
 * (which no client should send) is dropped, nothing is decoded or resolved.
 */
export const splitTarget = (target: string): Target => {
  const absolute = absoluteForm.exec(target)
  let rest = absolute === null ? target : target.slice(absolute[0].length)
  const hash = rest.indexOf("#")
  if (hash !== -1) rest = rest.slice(0, hash)
  const mark = rest.indexOf("?")
  const path = mark === -1 ? rest : rest.slice(0, mark)
  return { path: path === "" ? "/" : path, query: mark === -1 ? "" : rest.slice(mark + 1) }
}

/**
 * The current request's target as the client sent it (Node's `url`, which
 * Effect rewrites for an absolute-form target). Unlike `new URL(...)`, `//x`
 * stays a path, not a host, and `/a/../b` is not resolved.
 */
export const requestTarget = (request: HttpServerRequest.HttpServerRequest): Target => {
  let raw: string | undefined
  try {
    raw = NodeHttpServerRequest.toIncomingMessage(request).url
  } catch {
    // Not a Node request: Effect's URL is the next best thing.
  }
  return splitTarget(raw ?? request.url)
}

/** The current request's query parameters, parsed from the query as sent. */
export const query: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URLSearchParams(requestTarget(request).query)
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

/** The longest value a switch sent verbatim as a header (`retry_after`...) takes, in characters. */
export const maxHeaderParamLength = 1024

/** What Node accepts in a header value: tab, visible ASCII, space and U+0080-U+00FF; no CR, LF, NUL, other controls or DEL. */
const sendableHeaderValue = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * Reads a query parameter that is sent verbatim as a header value: `null` when
 * absent, the value, or `undefined` when Node could not send it (a control
 * character, a character above U+00FF, or longer than {@link maxHeaderParamLength}),
 * which routes turn into 400.
 */
export const headerParam = (params: URLSearchParams, name: string): string | null | undefined => {
  const value = params.get(name)
  if (value === null) return null
  return value.length <= maxHeaderParamLength && sendableHeaderValue.test(value) ? value : undefined
}

/** The 400 message for a {@link headerParam} that cannot be sent. */
export const headerParamProblem = (name: string): string =>
  `${name} must be at most ${maxHeaderParamLength} characters a header can carry: no CR, LF, NUL or other control characters, nothing above U+00FF (the raw-socket listener's /retry-after and /header send those)`

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

/**
 * Keeps every socket `server` accepts (for TLS, the TCP socket under it) until
 * it closes. `destroyAll` destroys them, and every one accepted after it, so
 * a closing server ends its connections at once instead of waiting for the
 * requests in flight.
 */
export const trackSockets = (server: Net.Server): { readonly destroyAll: () => void } => {
  const sockets = new Set<Net.Socket>()
  let closing = false
  server.on("connection", (socket: Net.Socket) => {
    if (closing) return socket.destroy()
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })
  return {
    destroyAll: () => {
      closing = true
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    }
  }
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

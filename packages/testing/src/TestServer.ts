/**
 * The fault-injection HTTP server that every httpkit test, example and the
 * demo talk to: failures on demand, `Retry-After`, byte ranges, dropped
 * connections, redirects, auth, API mocks, and a raw-socket mode for answers
 * no well-behaved HTTP library would produce.
 *
 * Use it three ways: as a scoped layer in tests (`TestServer.layer()` binds
 * 127.0.0.1 on a free port), as a standalone process (`pnpm test-server`), or
 * embedded in the demo.
 *
 * **Details**
 *
 * Routing, request parsing and the server lifecycle are Effect's own
 * (`effect/http`'s router on `@effect/platform-node`'s Node server). The few
 * faults that Effect's response writer rightly refuses to produce (a body
 * that disagrees with its `Content-Length`, a connection dropped after exactly
 * N bytes, a body trickled at a byte rate) are written to Node's response
 * directly; the protocol violations come from the raw-socket listener.
 *
 * Every request is recorded, with the number of the connection that carried
 * it; `GET /__requests` (or `TestServer.requests`) lists them and
 * `POST /__reset` (or `TestServer.reset`) clears the log and every switch.
 *
 * The server explains itself: `GET /` lists every route with its switches
 * (text, or JSON with `Accept: application/json`), and a path no route
 * matches answers 404 naming the closest route. Both come from the route
 * table the router is built from, which the package README documents.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import * as HttpRouter from "effect/http/HttpRouter"
import { isHttpServerError, ServeError } from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import type * as Net from "node:net"
import * as Guide from "./internal/guide.ts"
import { connectionOf, headerRecord, numberConnections, requestTarget, trackSockets } from "./internal/http.ts"
import { exactly, own, pinAbsent, pinned } from "./internal/own.ts"
import * as Raw from "./internal/raw.ts"
import * as RequestLog from "./internal/requestLog.ts"
import * as Auth from "./internal/routes/auth.ts"
import * as Basic from "./internal/routes/basic.ts"
import * as Files from "./internal/routes/files.ts"
import * as Mocks from "./internal/routes/mocks.ts"
import * as RateLimit from "./internal/routes/ratelimit.ts"
import * as Redirects from "./internal/routes/redirects.ts"
import { type RouteEntry, toRouterRoutes } from "./internal/routeTable.ts"
import { ServerState } from "./internal/state.ts"
import type { RecordedRequest } from "./RecordedRequest.ts"

/**
 * Options for one server instance.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * Address to bind.
   *
   * @default "127.0.0.1"
   */
  readonly host?: string | undefined
  /**
   * Port to bind; 0 picks a free one.
   *
   * @default 0
   */
  readonly port?: number | undefined
  /**
   * Serve HTTPS with this key and certificate (PEM) instead of plain HTTP,
   * offering HTTP/2 by ALPN with HTTP/1.1 as the fallback. `TlsTest.selfSigned`
   * makes a certificate. The download faults that take over the connection are
   * meant for HTTP/1.1; the raw-socket listener stays plain HTTP.
   */
  readonly tls?: { readonly key: string; readonly cert: string } | undefined
  /**
   * How long, in milliseconds, an idle HTTP/1.1 connection stays open before
   * the server closes it, announced in every answer as `Keep-Alive:
   * timeout=<seconds>`. `0` announces nothing and leaves idle connections to
   * the client, as many servers do; undici then applies its own
   * `keepAliveTimeout`, which the hint would otherwise override. Plain HTTP
   * only; the `tls` server keeps Node's defaults.
   *
   * @default 5000
   */
  readonly keepAliveTimeout?: number | undefined
  /**
   * Called with one line per request once its answer is sent or cut short,
   * for example `GET /status/503?x=1 -> 503 12ms`; ` (not completed)` when
   * the connection closed first, `no answer` when it closed before any, and
   * `raw ` before the requests of the raw-socket listener. No header is
   * written, and query values named like secrets (`token`, `api_key`...) and
   * user-info in values are replaced by `REDACTED`.
   */
  readonly log?: ((line: string) => void) | undefined
}

/**
 * A running fault-injection server.
 *
 * @category services
 * @since 0.1.0
 */
export class TestServer extends Context.Service<TestServer, {
  /** Base URL without a trailing slash, for example `http://127.0.0.1:40123`. */
  readonly url: string
  /** The bound port. */
  readonly port: number
  /** Base URL of the raw-socket listener (see `README.md` for its paths). */
  readonly rawUrl: string
  /** Builds an absolute URL on this server from a path such as `/msg?delay=10`. */
  readonly urlFor: (path: string) => string
  /** What the server saw so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** What the server saw on one path (without the query), oldest first. */
  readonly requestsTo: (path: string) => Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Clears the request log and every switch, as `POST /__reset` does. */
  readonly reset: Effect.Effect<void>
}>()("@httpkit/testing/TestServer") {}

/**
 * The error a server fails to start with (for example, its port is taken).
 *
 * @category errors
 * @since 0.1.0
 */
export { ServeError }

/**
 * Everything the TLS server's constructors (TLS, its secure context, HTTP/2,
 * and the HTTP/1.1 settings it copies from its options) read beyond the key
 * and certificate, given as `undefined` (Node's default) so that the copies
 * Node makes of the options cannot inherit them from a polluted
 * `Object.prototype` (RELIABILITY 10).
 */
const secureServerOptionNames: ReadonlyArray<string> = [
  "allowHalfOpen",
  "allowPartialTrustChain",
  "ALPNCallback",
  "blockList",
  "ca",
  "ciphers",
  "clientCertEngine",
  "connectionsCheckingInterval",
  "crl",
  "dhparam",
  "ecdhCurve",
  "enableTrace",
  "handshakeTimeout",
  "headersTimeout",
  "highWaterMark",
  "honorCipherOrder",
  "Http1IncomingMessage",
  "http1Options",
  "Http1ServerResponse",
  "Http2ServerRequest",
  "Http2ServerResponse",
  "httpValidation",
  "IncomingMessage",
  "insecureHTTPParser",
  "joinDuplicateHeaders",
  "keepAlive",
  "keepAliveInitialDelay",
  "keepAliveTimeout",
  "keepAliveTimeoutBuffer",
  "maxDeflateDynamicTableSize",
  "maxHeaderListPairs",
  "maxHeaderListSize",
  "maxHeaderSize",
  "maxOutstandingPings",
  "maxSendHeaderBlockLength",
  "maxSessionInvalidFrames",
  "maxSessionMemory",
  "maxSessionRejectedStreams",
  "maxSettings",
  "maxVersion",
  "minVersion",
  "noDelay",
  "optimizeEmptyRequests",
  "origins",
  "paddingStrategy",
  "passphrase",
  "pauseOnConnect",
  "peerMaxConcurrentStreams",
  "pfx",
  "privateKeyEngine",
  "privateKeyIdentifier",
  "pskCallback",
  "pskIdentityHint",
  "rejectNonStandardBodyWrites",
  "rejectUnauthorized",
  "remoteCustomSettings",
  "requestCert",
  "requestTimeout",
  "requireHostHeader",
  "secureContext",
  "secureOptions",
  "secureProtocol",
  "ServerResponse",
  "sessionIdContext",
  "sessionTimeout",
  "settings",
  "shouldUpgradeCallback",
  "sigalgs",
  "SNICallback",
  "streamResetBurst",
  "streamResetRate",
  "strictFieldWhitespaceValidation",
  "ticketKeys",
  "unknownProtocolTimeout"
]

/**
 * Settings Node's HTTP/1.1 code reads from the server object itself:
 * `http.Server` sets them all, the HTTP/2 server (which serves HTTP/1.1 too)
 * does not, so they would come from `Object.prototype`.
 */
const http1ServerFields: ReadonlyArray<string> = [
  "connectionsCheckingInterval",
  "headersTimeout",
  "httpAllowHalfOpen",
  "httpValidation",
  "insecureHTTPParser",
  "joinDuplicateHeaders",
  "keepAliveTimeout",
  "keepAliveTimeoutBuffer",
  "maxHeaderSize",
  "maxHeadersCount",
  "maxRequestsPerSocket",
  "rejectNonStandardBodyWrites",
  "requireHostHeader",
  "shouldUpgradeCallback"
]

/**
 * A server that accepts connections as Node's defaults have it, whatever
 * `Object.prototype` holds: `net.Server` sets `pauseOnConnect` from a copy of
 * its own making and reads `blockList` from the server only when one was given.
 */
const acceptFields = <S extends Net.Server>(server: S): S => {
  ;(server as { pauseOnConnect?: boolean }).pauseOnConnect = false
  pinAbsent(server, ["blockList"])
  return server
}

/** The TLS server with its HTTP/1.1 settings pinned (as they are when unpolluted: absent) and accepting as Node's defaults have it. */
const http1Fields = <S extends Net.Server>(server: S): S => {
  pinAbsent(server, http1ServerFields)
  return acceptFields(server)
}

/** Request headers Node treats as single-valued: a repeated one is dropped, as Node drops it. */
const singleValuedHeaders: ReadonlySet<string> = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent"
])

/**
 * The request's headers from Node's raw list, joined as Node joins them.
 * Node fills its own `headers` object testing `headers[name] === undefined`,
 * so with a polluted `Object.prototype.authorization` the real header would be
 * taken for a repeat and dropped, and a polluted `cookie` would be joined to
 * the real one. HTTP/2 pseudo-headers are left out, `:authority` is `host`.
 */
const ownHeaders = (request: HttpServerRequest.HttpServerRequest): Headers.Headers => {
  const raw = NodeHttpServerRequest.toIncomingMessage(request).rawHeaders
  const out: Record<string, string> = Object.create(null)
  for (let i = 0; i + 1 < raw.length; i += 2) {
    let name = raw[i]!.toLowerCase()
    const value = raw[i + 1]!
    if (name === ":authority") name = "host"
    else if (name.startsWith(":")) continue
    if (!Object.hasOwn(out, name)) out[name] = value
    else if (name === "cookie") out[name] = `${out[name]}; ${value}`
    else if (!singleValuedHeaders.has(name)) out[name] = `${out[name]}, ${value}`
  }
  return Headers.fromInput(out)
}

/** Paths that are not recorded, so that introspection does not pollute the log. */
const unrecordedPaths = new Set([Guide.indexPath, "/__requests", "/__reset"])

/**
 * The longest path parameter (decoded) a route matches, such as a file name:
 * find-my-way's default is 100, too short for the 255-byte names file
 * systems allow. Longer ones answer 404 saying so.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxParamLength = 1024

/** The router's settings: Effect's defaults but for {@link maxParamLength}. */
const routerConfig = { maxParamLength }

/** A request is routed with `//` collapsed to `/`, as the router does; introspection is recognised likewise. */
const routedPath = (path: string): string => path.replace(/\/{2,}/g, "/")

/** Why `options` cannot make a server, or `undefined` when they can. */
const invalidOption = (port: unknown, keepAliveTimeout: unknown): string | undefined => {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65_535) {
    return `port must be an integer from 0 to 65535, got ${String(port)}`
  }
  if (
    typeof keepAliveTimeout !== "number" || !Number.isInteger(keepAliveTimeout) || keepAliveTimeout < 0 ||
    keepAliveTimeout > 2_147_483_647
  ) {
    return `keepAliveTimeout must be an integer number of milliseconds from 0 to 2147483647, got ${
      String(keepAliveTimeout)
    }`
  }
  return undefined
}

/**
 * Starts a server in the current scope; it stops when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  // Own keys only, and Node gets objects with a null prototype: a polluted `Object.prototype` (`path`,
  // `exclusive`, `insecureHTTPParser`, `IncomingMessage`...) changes neither where nor how it listens.
  const host = own(options, "host") ?? "127.0.0.1"
  const tls = own(options, "tls")
  const log = own(options, "log")
  const port = own(options, "port") ?? 0
  const keepAliveTimeout = own(options, "keepAliveTimeout") ?? 5_000
  const state = new ServerState()

  // Bad options are a `ServeError` like a taken port, not a defect thrown by Node.
  const problem = invalidOption(port, keepAliveTimeout)
  if (problem !== undefined) return yield* Effect.fail(new ServeError({ cause: new RangeError(problem) }))
  const node = yield* Effect.try({
    try: () =>
      tls === undefined
        ? numberConnections(
          acceptFields(Http.createServer(exactly({ keepAliveTimeout }))),
          false,
          () => state.nextConnection()
        )
        : numberConnections(
          http1Fields(
            Http2.createSecureServer(
              pinned(secureServerOptionNames, { key: own(tls, "key"), cert: own(tls, "cert"), allowHTTP1: true })
            )
          ),
          true,
          () => state.nextConnection()
        ),
    catch: (cause) => new ServeError({ cause })
  })
  const sockets = trackSockets(node)
  // A test server closes at once: no grace period for requests in flight (its sockets are destroyed below).
  const server = yield* NodeHttpServer.make(() => node, exactly({ port, host, disablePreemptiveShutdown: true }))
  const address = server.address
  const boundPort = "port" in address ? address.port : 0
  const url = `${tls === undefined ? "http" : "https"}://${Raw.formatHost(host)}:${boundPort}`
  const raw = yield* Raw.start(state, host, Raw.defaultLimits, log)
  state.baseUrl = url
  state.rawUrl = raw.url

  // The route table: the router is built from it, and `GET /`, the 404 and the README tests read it.
  const listeners: Guide.Listeners = { url, rawUrl: raw.url, rawUsages: Raw.scenarioUsages }
  const table: ReadonlyArray<RouteEntry> = [
    Guide.indexRoute(() => table, () => listeners),
    ...Basic.routes(state),
    ...Files.routes(state),
    ...Redirects.routes(state),
    ...Auth.routes(state),
    ...Mocks.routes(state),
    ...RateLimit.routes(state)
  ]
  const router = yield* Effect.provideService(HttpRouter.make, HttpRouter.RouterConfig, routerConfig)
  yield* router.addAll(toRouterRoutes(table))

  const routed = router.asHttpEffect().pipe(
    Effect.catch((error) =>
      isHttpServerError(error) && error.reason._tag === "RouteNotFound"
        ? Guide.notFound(table, raw.url, Raw.scenarioPaths, error.reason.description)
        : Effect.fail(error)
    )
  )
  const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (received) => {
    // Headers from Node's raw list, not from its parsed object, which a polluted `Object.prototype` steers.
    const request = received.modify(exactly({ headers: ownHeaders(received) }))
    // The path as it crossed the wire (`//x`, `/a/../b` kept), not as a URL parser would normalise it.
    const target = requestTarget(request)
    if (log !== undefined) {
      const line = target.query === "" ? target.path : `${target.path}?${target.query}`
      RequestLog.watch(NodeHttpServerRequest.toServerResponse(request), request.method, line, log)
    }
    if (!unrecordedPaths.has(routedPath(target.path))) {
      state.record({
        listener: "http",
        httpVersion: NodeHttpServerRequest.toIncomingMessage(request).httpVersion,
        method: request.method,
        path: target.path,
        query: target.query,
        headers: headerRecord(request),
        arrivedAt: Date.now(),
        connection: connectionOf(request)
      })
    }
    return Effect.provideService(routed, HttpServerRequest.HttpServerRequest, request)
  })
  // Delays, windows and trickled bodies run on real time even when the server
  // is started inside a test that uses `TestClock`.
  yield* server.serve(Effect.provideService(app, Clock.Clock, Clock.Clock.defaultValue()))
  // Added last, so it runs first when the scope closes: every connection ends now (a request in
  // flight, a slow reader, a half-sent request, an idle keep-alive), then Effect stops serving.
  yield* Effect.addFinalizer(() => Effect.sync(sockets.destroyAll))

  return TestServer.of({
    url,
    port: boundPort,
    rawUrl: raw.url,
    urlFor: (path) => url + (path.startsWith("/") ? path : `/${path}`),
    requests: Effect.sync(() => state.requests.slice()),
    requestsTo: (path) => Effect.sync(() => state.requests.filter((request) => request.path === path)),
    reset: Effect.sync(() => state.reset())
  })
})

/**
 * A scoped layer that starts a server on a free loopback port.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<TestServer, ServeError> =>
  Layer.effect(TestServer, make(options))

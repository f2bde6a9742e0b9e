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
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import { ServeError } from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import { connectionOf, headerRecord, numberConnections, requestUrl } from "./internal/http.ts"
import * as Raw from "./internal/raw.ts"
import * as Auth from "./internal/routes/auth.ts"
import * as Basic from "./internal/routes/basic.ts"
import * as Files from "./internal/routes/files.ts"
import * as Mocks from "./internal/routes/mocks.ts"
import * as RateLimit from "./internal/routes/ratelimit.ts"
import * as Redirects from "./internal/routes/redirects.ts"
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

/** Paths that are not recorded, so that introspection does not pollute the log. */
const unrecordedPaths = new Set(["/__requests", "/__reset"])

/**
 * Starts a server in the current scope; it stops when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const host = options.host ?? "127.0.0.1"
  const state = new ServerState()

  const server = yield* NodeHttpServer.make(
    () =>
      options.tls === undefined
        ? numberConnections(
          Http.createServer({ keepAliveTimeout: options.keepAliveTimeout ?? 5_000 }),
          false,
          () => state.nextConnection()
        )
        : numberConnections(
          Http2.createSecureServer({ key: options.tls.key, cert: options.tls.cert, allowHTTP1: true }),
          true,
          () => state.nextConnection()
        ),
    { port: options.port ?? 0, host }
  )
  const address = server.address
  const port = "port" in address ? address.port : 0
  const url = `${options.tls === undefined ? "http" : "https"}://${Raw.formatHost(host)}:${port}`
  const raw = yield* Raw.start(state, host)
  state.baseUrl = url
  state.rawUrl = raw.url

  const router = yield* HttpRouter.make
  yield* router.addAll([
    ...Basic.routes(state),
    ...Files.routes(state),
    ...Redirects.routes(state),
    ...Auth.routes(state),
    ...Mocks.routes(state),
    ...RateLimit.routes(state)
  ])

  const routed = router.asHttpEffect()
  const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const parsed = requestUrl(request)
    if (!unrecordedPaths.has(parsed.pathname)) {
      state.record({
        listener: "http",
        httpVersion: NodeHttpServerRequest.toIncomingMessage(request).httpVersion,
        method: request.method,
        path: parsed.pathname,
        query: parsed.search.slice(1),
        headers: headerRecord(request),
        arrivedAt: Date.now(),
        connection: connectionOf(request)
      })
    }
    return routed
  })
  // Delays, windows and trickled bodies run on real time even when the server
  // is started inside a test that uses `TestClock`.
  yield* server.serve(Effect.provideService(app, Clock.Clock, Clock.Clock.defaultValue()))

  return TestServer.of({
    url,
    port,
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

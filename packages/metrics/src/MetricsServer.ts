/**
 * An endpoint Prometheus can scrape: a small `node:http` server that answers
 * `GET /metrics` with every metric of the current `Metric.MetricRegistry` in
 * the text exposition format (version 0.0.4), written by Effect's
 * `PrometheusMetrics.formatUnsafe`.
 *
 * ```ts
 * import { MetricsServer } from "@httpkit/metrics"
 *
 * // http://127.0.0.1:9464/metrics, closed with the application's scope
 * const Metrics = MetricsServer.layer({ port: 9464 })
 * ```
 *
 * **Details**
 *
 * - Other paths answer 404, other methods than GET and HEAD 405 (with
 *   `Allow: GET, HEAD`); a query string is ignored, and an absolute-form
 *   target (`GET http://host:9464/metrics`) is served as its path.
 * - The server listens when the layer is built and closes, with its open
 *   connections, when the layer's scope closes. A port that cannot be taken
 *   (in use, or not allowed) fails the layer with `MetricsServerError`, which
 *   names the address.
 * - The registry is the one in context when the layer is built: Effect's
 *   global registry unless `Metric.MetricRegistry` is provided.
 * - A connection idle for 30 s is destroyed (a scraper that stops reading
 *   cannot keep its buffered answer), headers must come within 10 s and the
 *   request within 30 s (each enforced within a second of its limit), a
 *   kept-alive connection waits 5 s for its next request, and at most 64
 *   connections are open at once (`defaultLimits`; others through
 *   `makeResolved`). A connection past the 64 closes the one idle the
 *   longest (no request in progress: nothing sent yet, part of its headers,
 *   or kept alive between requests), so connections left open by a client
 *   cannot keep a scrape out; only when all 64 have a request in progress is
 *   the newcomer closed.
 * - Formatting blocks the event loop (about 10 ms for 100 hosts, seconds for
 *   thousands): a text that took 50 ms or more is served again for ten times
 *   as long, so scrapes in a loop cannot take the whole process.
 *
 * **Gotchas**
 *
 * The default host is `127.0.0.1`: a Prometheus server on another machine
 * needs `host: "0.0.0.0"` (or `::`). The endpoint has no authentication;
 * httpkit's metrics carry no secrets (no URL paths, queries or headers), but
 * your own metrics might.
 *
 * @since 0.1.0
 */
import * as Own from "@httpkit/core/Own"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as ConnectionCap from "./internal/connectionCap.ts"
import * as MetricsConfig from "./MetricsConfig.ts"

/**
 * The running endpoint: where it listens, as bound (with `port: 0`, the port
 * the system chose).
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** The address the server is bound to (`127.0.0.1`, `::`). */
  readonly host: string
  /** The port the server is bound to. */
  readonly port: number
  /** The path that serves the metrics (`/metrics`). */
  readonly path: string
  /** The endpoint's URL (`http://127.0.0.1:9464/metrics`; an IPv6 address in brackets). */
  readonly url: string
}

/**
 * The Prometheus endpoint of the application.
 *
 * @category services
 * @since 0.1.0
 */
export class MetricsServer extends Context.Service<MetricsServer, Service>()("@httpkit/metrics/MetricsServer") {}

/**
 * The server could not listen on its address: the port is in use
 * (`EADDRINUSE`), not allowed (`EACCES`), or the host is not an address of
 * this machine (`EADDRNOTAVAIL`, `ENOTFOUND`).
 *
 * @category errors
 * @since 0.1.0
 */
export class MetricsServerError extends Own.fields(
  Schema.TaggedError<MetricsServerError>()("MetricsServerError", {
    message: Schema.String,
    host: Schema.String,
    port: Schema.Number,
    /** Node's error code (`EADDRINUSE`), when it gave one. */
    code: Schema.optionalKey(Schema.String)
  })
) {}

/**
 * The `Content-Type` of the text exposition format.
 *
 * @category constants
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const reasons: Record<string, string> = {
  EADDRINUSE: "the address is in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "the address is not available on this machine",
  ENOTFOUND: "the host name does not resolve"
}

const hostPort = (host: string, port: number): string => `${host.includes(":") ? `[${host}]` : host}:${port}`

const bindError = (host: string, port: number, cause: unknown): MetricsServerError => {
  const code = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
  const reason = code === undefined ? "the server could not listen" : reasons[code] ?? code
  const message = `cannot serve metrics on ${hostPort(host, port)}: ${reason}`
  return code === undefined
    ? new MetricsServerError({ message, host, port })
    : new MetricsServerError({ message, host, port, code })
}

/**
 * The path of a request target, without its query; an absolute-form target
 * (`http://host:9464/metrics`, as a proxy sends it) loses its scheme and
 * authority first.
 */
const pathOf = (target: string | undefined): string => {
  const raw = (target ?? "/").replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "")
  const end = raw.search(/[?#]/)
  const path = end === -1 ? raw : raw.slice(0, end)
  return path === "" ? "/" : path
}

const answer = (response: Http.ServerResponse, status: number, body: string, headers: Http.OutgoingHttpHeaders) => {
  response.writeHead(status, {
    ...headers,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store"
  })
  response.end(response.req.method === "HEAD" ? undefined : body)
}

/**
 * The exposition text of the registry in `context`. Formatting is synchronous
 * and blocks the event loop; a text that took at least `slowScrapeMillis` to
 * format is served again for ten times that long, so that scrapes in a loop
 * spend at most about a tenth of the loop's time formatting.
 */
const scrapes = (context: Context.Context<never>, slowScrapeMillis: number) => {
  let last: { readonly body: string; readonly until: number } | undefined
  return (): string => {
    const start = performance.now()
    if (last !== undefined && start < last.until) return last.body
    const body = PrometheusMetrics.formatUnsafe(context)
    const took = performance.now() - start
    last = took >= slowScrapeMillis ? { body, until: performance.now() + 10 * took } : undefined
    return body
  }
}

const handler = (scrape: () => string, path: string) =>
(
  request: Http.IncomingMessage,
  response: Http.ServerResponse
): void => {
  if (pathOf(request.url) !== path) {
    answer(response, 404, `not found; the metrics are at ${path}\n`, { "content-type": "text/plain; charset=utf-8" })
    return
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    answer(response, 405, "method not allowed; use GET or HEAD\n", {
      "content-type": "text/plain; charset=utf-8",
      allow: "GET, HEAD"
    })
    return
  }
  let body: string
  try {
    body = scrape()
  } catch {
    answer(response, 500, "the metrics could not be formatted\n", { "content-type": "text/plain; charset=utf-8" })
    return
  }
  answer(response, 200, body, { "content-type": contentType })
}

/**
 * How long and how many connections the endpoint keeps, so that clients that
 * stop reading (or never finish a request) cannot hold connections and their
 * buffered scrapes forever.
 *
 * @category models
 * @since 0.1.0
 */
export interface Limits {
  /** A connection with no bytes read or written for this many milliseconds is closed. @default 30000 */
  readonly idleTimeout: number
  /** Longest wait for a request's headers, in milliseconds. @default 10000 */
  readonly headersTimeout: number
  /** Longest wait for a whole request, in milliseconds. @default 30000 */
  readonly requestTimeout: number
  /**
   * How long a kept-alive connection waits for its next request, in
   * milliseconds (Node adds a second of grace). @default 5000
   */
  readonly keepAliveTimeout: number
  /**
   * Connections open at once. One more closes the connection idle the
   * longest (without a request in progress), or itself when every other one
   * has a request in progress. @default 64
   */
  readonly maxConnections: number
  /**
   * A scrape whose text took at least this many milliseconds to format is
   * answered again with the same text for ten times as long (formatting
   * blocks the event loop). @default 50
   */
  readonly slowScrapeMillis: number
}

/**
 * The endpoint's limits: 30 s without activity, 10 s for the headers, 30 s
 * for the request, 5 s between the requests of a kept-alive connection, 64
 * connections; a text that took 50 ms or more to format is reused for ten
 * times as long.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultLimits: Limits = {
  idleTimeout: 30_000,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxConnections: 64,
  slowScrapeMillis: 50
}

/**
 * Every option `http.createServer` reads (Node 24), each given as an own
 * property (`undefined`: Node's default): Node copies the options into
 * object literals and reads them there, so one left out would be read from a
 * polluted `Object.prototype` (`maxHeaderSize`, `insecureHTTPParser`...;
 * RELIABILITY 10).
 */
const serverOptionNames: ReadonlyArray<string> = [
  "IncomingMessage",
  "ServerResponse",
  "connectionsCheckingInterval",
  "headersTimeout",
  "highWaterMark",
  "httpValidation",
  "insecureHTTPParser",
  "joinDuplicateHeaders",
  "keepAlive",
  "keepAliveInitialDelay",
  "keepAliveTimeout",
  "keepAliveTimeoutBuffer",
  "maxHeaderSize",
  "noDelay",
  "optimizeEmptyRequests",
  "rejectNonStandardBodyWrites",
  "requestTimeout",
  "requireHostHeader",
  "shouldUpgradeCallback",
  "uniqueHeaders"
]

/** Every option `server.listen` reads (a polluted `fd` or `path` would take another socket). */
const listenOptionNames: ReadonlyArray<string> = [
  "_handle",
  "backlog",
  "exclusive",
  "fd",
  "handle",
  "host",
  "ipv6Only",
  "path",
  "port",
  "readableAll",
  "reusePort",
  "signal",
  "writableAll"
]

/** How often Node checks `headersTimeout` and `requestTimeout`: each holds within this much of its limit. */
const checkingInterval = 1_000

/**
 * Starts the endpoint with resolved options; it stops when the scope closes.
 * `limits` replaces some of `defaultLimits`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResolved = (
  options: MetricsConfig.Resolved,
  limits: Partial<Limits> = {}
): Effect.Effect<Service, MetricsServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const { headersTimeout, idleTimeout, keepAliveTimeout, maxConnections, requestTimeout, slowScrapeMillis } = {
      ...defaultLimits,
      ...Own.ownData(limits)
    }
    const server = Http.createServer(
      Own.pinned(serverOptionNames, {
        headersTimeout,
        requestTimeout,
        keepAliveTimeout,
        // Node checks both timeouts only this often (30 s by default): without it a client that sends a header
        // line every few seconds keeps its connection for 30 s, whatever `headersTimeout` says.
        connectionsCheckingInterval: checkingInterval
      }),
      handler(scrapes(context, slowScrapeMillis), options.path)
    )
    // `net.Server` reads this one from a copy of an options literal of Node's own: set, it is ours.
    Object.assign(server, { pauseOnConnect: false })
    ConnectionCap.cap(server, maxConnections)
    // Node's `timeout` only emits the event; a client that stopped reading must be cut off.
    server.setTimeout(idleTimeout, (socket) => socket.destroy())
    const address = yield* Effect.acquireRelease(
      Effect.callback<AddressInfo, MetricsServerError>((resume) => {
        const onError = (cause: unknown) => resume(Effect.fail(bindError(options.host, options.port, cause)))
        server.once("error", onError)
        server.listen(Own.pinned(listenOptionNames, { port: options.port, host: options.host }), () => {
          server.off("error", onError)
          // A later socket error must not crash the process: the server keeps serving.
          server.on("error", () => {})
          resume(Effect.succeed(server.address() as AddressInfo))
        })
        return Effect.sync(() => server.close())
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const host = address.address
    return {
      host,
      port: address.port,
      path: options.path,
      url: `http://${hostPort(host, address.port)}${options.path}`
    }
  })

/**
 * Starts the endpoint; it stops when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: MetricsConfig.Options = {}
): Effect.Effect<Service, MetricsConfig.MetricsConfigError | MetricsServerError, Scope.Scope> =>
  Effect.flatMap(MetricsConfig.resolve(options), makeResolved)

/**
 * The endpoint with the given options (port 9464, host `127.0.0.1`, path
 * `/metrics` by default), serving the registry in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: MetricsConfig.Options = {}
): Layer.Layer<MetricsServer, MetricsConfig.MetricsConfigError | MetricsServerError> =>
  Layer.effect(MetricsServer, make(options))

/**
 * The endpoint configured from the environment: `HTTPKIT_METRICS_PORT`,
 * `HTTPKIT_METRICS_HOST`, `HTTPKIT_METRICS_PATH` (see
 * `MetricsConfig.fromConfig`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  prefix = "httpkit_metrics"
): Layer.Layer<MetricsServer, MetricsConfig.MetricsConfigError | MetricsServerError> =>
  Layer.effect(MetricsServer, Effect.flatMap(MetricsConfig.fromConfig(prefix), makeResolved))

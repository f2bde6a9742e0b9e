/**
 * The default transport: Effect's `HttpClient` over an undici dispatcher
 * built from the client's options (connect timeout, pool, keep-alive, HTTP/2,
 * TLS), with responses that read their bodies without a fiber
 * (`undiciClient.ts`). Each client gets its own dispatcher, closed with the
 * client's scope.
 *
 * **Details**
 *
 * Effect's undici layer sets undici's `headersTimeout` to an hour and
 * `bodyTimeout` to 0 on every request (shown in `test/effect-traps.test.ts`). An
 * interceptor on our dispatcher enforces the client's deadlines on every
 * request whoever sends it: time to the response head, the idle gap between
 * body chunks, and the attempt's deadline, in the request's own dispatch
 * handler, with one stall-tolerant timer per request and no fiber. undici's
 * own timeouts are off (0): they fire after a stall of the event loop over
 * HTTP/2, and tick coarsely over HTTP/1.1. A call's own values, and its
 * attempt's deadline, travel as a typed value (`Deadline.TransportDeadlines`)
 * that our client puts in each request's options under a symbol.
 *
 * The durations handed to Node's timers through undici and the connector
 * (the connect timeout, the keep-alive timeouts) are clamped to the longest
 * delay one `setTimeout` takes, about 24.8 days: Node runs a longer one after
 * 1 ms. The client's own deadlines arm such waits in steps (`LagTimer`).
 */
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Scope from "effect/Scope"
import type * as Undici from "undici"
import type { Resolved } from "../ClientConfig.ts"
import * as ClientMetrics from "../ClientMetrics.ts"
import * as Connector from "./connector.ts"
import * as Deadline from "./deadline.ts"
import { DeadlineHandler, type QueuedHook } from "./deadlineHandler.ts"
import * as Metrics from "./metrics.ts"
import { exactly, own } from "./own.ts"
import * as UndiciClient from "./undiciClient.ts"
import * as UndiciParts from "./undiciParts.ts"

/**
 * The client's undici agent and Effect's `HttpClient` over it.
 *
 * **Details**
 *
 * undici copies its options into object literals on the way from the agent
 * to a pool, a client and a socket, and reads each option from whatever it
 * was given, so an option we leave out would be read from `Object.prototype`
 * (RELIABILITY 10): a polluted `factory`, `socketPath`, `connections`,
 * `keepAlive` or `maxHeaderSize` would replace or break every connection.
 * Each level therefore gets an object of ours with a null prototype: the
 * agent's `factory` builds every pool (or client) from our own options, not
 * from the agent's copy, and the pool's builds every client the same way;
 * the clients connect through `Connector`, which does the same for Node.
 */
export const makeUndici = (options: Resolved): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    // undici's pieces from their own modules, not its root, which loads all of undici (undiciParts.ts).
    const undici = UndiciParts.load()
    const connect = Connector.make({
      timeout: timerMillis(options.timeout.connect),
      allowH2: options.http2,
      rejectUnauthorized: !options.tls.dangerouslyDisableVerification,
      ca: options.tls.ca
    })
    const keepAliveTimeout = timerMillis(options.pool.keepAliveTimeout)
    const clientOptions = (allowH2: boolean): Undici.Client.Options =>
      exactly({
        allowH2,
        keepAliveTimeout,
        // An upper bound too: undici otherwise prefers a server's `Keep-Alive: timeout=` hint (minus 2 s) to ours.
        keepAliveMaxTimeout: Math.max(1, keepAliveTimeout),
        connect
      })
    const connections = options.pool.connectionsPerOrigin
    /** Builds a pool, or a single client when one connection per origin is asked for (as undici's default does). */
    const originFactory = (allowH2: boolean) => {
      const perClient = clientOptions(allowH2)
      const newClient = (origin: string | URL) => new undici.Client(origin, perClient)
      const perPool: Undici.Pool.Options = exactly({
        ...perClient,
        connections: connections ?? null,
        factory: newClient
      })
      return (origin: string | URL) => connections === 1 ? newClient(origin) : new undici.Pool(origin, perPool)
    }
    const defaultFactory = originFactory(options.http2)
    // undici keeps a separate HTTP/1.1-only pool per origin for requests that set `allowH2: false`.
    const http1Factory = options.http2 ? originFactory(false) : defaultFactory
    // As Effect's `NodeHttpClient.makeDispatcherOptions` does, with the `Agent` of `undici`.
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new undici.Agent(exactly({
          allowH2: options.http2,
          factory: (origin: string | URL, agentOptions: object) =>
            own(agentOptions as { readonly allowH2?: boolean }, "allowH2") === false
              ? http1Factory(origin)
              : defaultFactory(origin)
        }))
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const dispatcher = agent.compose(deadlineInterceptor(options.timeout))
    if (options.metrics) yield* registerPoolGauges(agent, options.name)
    return UndiciClient.make(dispatcher)
  })

/** The longest delay one `setTimeout` takes (ms); Node runs a longer one after 1 ms, with a warning. */
const maxTimerMillis = 2_147_483_647

/** A duration handed to a Node timer (the connector's, undici's keep-alive), at most `maxTimerMillis`. */
const timerMillis = (millis: number): number => Math.min(millis, maxTimerMillis)

/**
 * The interceptor that enforces a request's deadlines (`DeadlineHandler`): the headers and idle timeouts of the
 * request's `TransportDeadlines` or `defaults` (0: none, as undici reads them), and the attempt's deadline when
 * the request carries one. undici's own `headersTimeout` and `bodyTimeout` are set to 0. A request with an
 * attempt's deadline gets the handler's queued-abort hook too, so the deadline ends it while it waits for a
 * connection (in a queue, or behind a connect or TLS handshake that does not finish).
 */
export const deadlineInterceptor = (
  defaults: { readonly headers: number; readonly idle: number }
): Undici.Dispatcher.DispatcherComposeInterceptor => {
  const queuedKey = UndiciParts.load().kQueuedAbort
  return (dispatch) => (request, handler) => {
    // The options are the object our client made for this one request, with a null prototype (undiciClient.ts): set
    // in place, not copied. Options that reach here with a prototype (a request sent through undici's own
    // `request`, which copies the options of a request with a signal into a plain object) are copied into a
    // null-prototype object: undici reads `query`, `upgrade`, `reset` and more from them, and must find none of them
    // on a polluted `Object.prototype` (RELIABILITY 10). Read by own keys: a deadline on `Object.prototype` is not
    // this request's.
    const options = (Object.getPrototypeOf(request) === null
      ? request
      : Object.assign(Object.create(null), request)) as Mutable<Undici.Dispatcher.DispatchOptions> & {
        [queuedKey]?: QueuedHook | undefined
      }
    const deadlines = Deadline.ofRequest(options)
    options.headersTimeout = 0
    options.bodyTimeout = 0
    const headers = deadlines?.headersMillis ?? defaults.headers
    const idle = deadlines?.idleMillis ?? defaults.idle
    const attempt = deadlines?.attempt
    if (attempt === undefined && !(headers > 0) && !(idle > 0)) return dispatch(options, handler)
    const timed = new DeadlineHandler(handler, headers, idle, attempt)
    // Only the attempt's deadline runs before the request starts (the head's and the idle gap's begin later).
    if (attempt !== undefined) options[queuedKey] = timed.queuedHook(options[queuedKey])
    return dispatch(options, timed)
  }
}

/** What undici reports per origin: a pool's figures, or a single client's (`connectionsPerOrigin: 1`). */
interface OriginStats {
  readonly connected: number | boolean
  readonly free?: number
  readonly pending: number
  readonly queued?: number
  readonly running: number
}

/** The agent's pool, summed over origins, as the `poolConnections` and `poolRequests` gauges (read on demand). */
const registerPoolGauges = (agent: Undici.Dispatcher, client: string) => {
  const total = (read: (stats: OriginStats) => number) => () => {
    let sum = 0
    const byOrigin = (agent as unknown as { readonly stats?: Record<string, OriginStats> }).stats ?? {}
    for (const origin of Object.keys(byOrigin)) sum += read(byOrigin[origin]!)
    return sum
  }
  return Effect.all([
    Metrics.register(
      ClientMetrics.poolConnections,
      { client, state: "connected" },
      total((stats) => Number(stats.connected))
    ),
    Metrics.register(
      ClientMetrics.poolConnections,
      { client, state: "free" },
      // A single client's figures have no `free` (nor `queued`): own keys only, never `Object.prototype`'s.
      total((stats) => own(stats, "free") ?? (stats.connected === true && stats.running === 0 ? 1 : 0))
    ),
    Metrics.register(ClientMetrics.poolRequests, { client, state: "running" }, total((stats) => stats.running)),
    Metrics.register(ClientMetrics.poolRequests, { client, state: "pending" }, total((stats) => stats.pending)),
    Metrics.register(
      ClientMetrics.poolRequests,
      { client, state: "queued" },
      total((stats) => own(stats, "queued") ?? 0)
    )
  ], { discard: true })
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

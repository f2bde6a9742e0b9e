/**
 * The default transport: Effect's undici `HttpClient` over a dispatcher built
 * from the client's options (connect timeout, pool, keep-alive, HTTP/2, TLS).
 * Each client gets its own dispatcher, closed with the client's scope.
 *
 * **Details**
 *
 * Effect's undici layer sets undici's `headersTimeout` to an hour and
 * `bodyTimeout` to 0 on every request (EFFECT-4.1-NOTES trap 4). An
 * interceptor on our dispatcher puts the client's deadlines back, so undici
 * enforces time-to-headers and the idle gap between body chunks itself, with
 * no timer fiber per request. A call's own values travel in the
 * `httpkitHeadersTimeout` and `httpkitBodyTimeout` request options, set
 * through `NodeHttpClient.UndiciOptions` (which Effect spreads first, so they
 * survive).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Scope from "effect/Scope"
import type * as Undici from "undici"
import type { Resolved } from "../ClientConfig.ts"

/** Request options through which one call overrides the client's deadlines. */
export interface DeadlineOptions {
  readonly httpkitHeadersTimeout?: number
  readonly httpkitBodyTimeout?: number
  /** The attempt's deadline, enforced with a native timer instead of an Effect fiber. */
  readonly httpkitAttempt?: AttemptDeadline
}

/**
 * An attempt's deadline as the transport enforces it: after `timeoutMillis`
 * the request, or its body, is aborted with a `TimeoutError` `DOMException`.
 * The pipeline calls `cancel` when the attempt is over, so a body the caller
 * reads later (a long download) is bounded by the idle deadline only.
 */
export class AttemptDeadline {
  readonly endsAt: number
  private readonly timers: Array<ReturnType<typeof setTimeout>> = []
  private cancelled = false
  constructor(endsAt: number) {
    this.endsAt = endsAt
  }
  /** Arms a timer for one dispatch (one redirect hop); `abort` runs when the deadline passes. */
  arm(abort: (reason: Error) => void): () => void {
    if (this.cancelled) return () => {}
    const left = Math.max(1, this.endsAt - Date.now())
    const timer = setTimeout(() => abort(new DOMException(`the attempt deadline passed`, "TimeoutError")), left)
    timer.unref()
    this.timers.push(timer)
    return () => clearTimeout(timer)
  }
  cancel(): void {
    this.cancelled = true
    for (const timer of this.timers) clearTimeout(timer)
  }
}

export const makeUndici = (options: Resolved): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const agent = yield* NodeHttpClient.makeDispatcherOptions({
      allowH2: options.http2,
      keepAliveTimeout: options.pool.keepAliveTimeout,
      ...(options.pool.connectionsPerOrigin === undefined ? {} : { connections: options.pool.connectionsPerOrigin }),
      connect: {
        timeout: options.timeout.connect,
        rejectUnauthorized: !options.tls.dangerouslyDisableVerification,
        ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca })
      }
    })
    const withDeadlines: Undici.Dispatcher.DispatcherComposeInterceptor = (dispatch) => (request, handler) => {
      const own = request as Undici.Dispatcher.DispatchOptions & DeadlineOptions
      return dispatch({
        ...request,
        headersTimeout: own.httpkitHeadersTimeout ?? options.timeout.headers,
        bodyTimeout: own.httpkitBodyTimeout ?? options.timeout.idle
      }, own.httpkitAttempt === undefined ? handler : withAttemptDeadline(handler, own.httpkitAttempt))
    }
    const dispatcher = agent.compose(withDeadlines)
    return yield* Effect.provideService(NodeHttpClient.makeUndici, NodeHttpClient.Dispatcher, dispatcher)
  })

/** Forwards every handler call, aborting through undici's controller when the attempt's deadline passes. */
const withAttemptDeadline = (
  handler: Undici.Dispatcher.DispatchHandler,
  deadline: AttemptDeadline
): Undici.Dispatcher.DispatchHandler => {
  let controller: Undici.Dispatcher.DispatchController | undefined
  let reason: Error | undefined
  const disarm = deadline.arm((error) => {
    reason = error
    controller?.abort(error)
  })
  return {
    onRequestStart(c, context) {
      controller = c
      handler.onRequestStart?.(c, context)
      if (reason !== undefined) c.abort(reason)
    },
    onRequestUpgrade(c, statusCode, headers, socket) {
      disarm()
      handler.onRequestUpgrade?.(c, statusCode, headers, socket)
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      handler.onResponseStart?.(c, statusCode, headers, statusMessage)
    },
    onResponseData(c, chunk) {
      handler.onResponseData?.(c, chunk)
    },
    onResponseEnd(c, trailers) {
      disarm()
      handler.onResponseEnd?.(c, trailers)
    },
    onResponseError(c, error) {
      disarm()
      handler.onResponseError?.(c, error)
    }
  }
}

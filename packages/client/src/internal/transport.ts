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
      }, handler)
    }
    const dispatcher = agent.compose(withDeadlines)
    return yield* Effect.provideService(NodeHttpClient.makeUndici, NodeHttpClient.Dispatcher, dispatcher)
  })

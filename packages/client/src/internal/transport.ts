/**
 * The default transport: Effect's undici `HttpClient` over a dispatcher built
 * from the client's options (connect timeout, pool, keep-alive, HTTP/2, TLS).
 * Each client gets its own dispatcher, closed with the client's scope.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Scope from "effect/Scope"
import type { Resolved } from "../ClientConfig.ts"

export const makeUndici = (options: Resolved): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dispatcher = yield* NodeHttpClient.makeDispatcherOptions({
      allowH2: options.http2,
      keepAliveTimeout: options.pool.keepAliveTimeout,
      ...(options.pool.connectionsPerOrigin === undefined ? {} : { connections: options.pool.connectionsPerOrigin }),
      connect: {
        timeout: options.timeout.connect,
        rejectUnauthorized: !options.tls.dangerouslyDisableVerification,
        ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca })
      }
    })
    return yield* Effect.provideService(NodeHttpClient.makeUndici, NodeHttpClient.Dispatcher, dispatcher)
  })

/**
 * A plain `node:http` server with a handler of the test's own, on a free
 * loopback port, closed with the scope: for answers the fault-injection
 * server does not give (a `HEAD` that disagrees with the `GET`s after it, a
 * server that reads a body and never answers) and for watching the far side
 * of a connection (when a request arrived, when its connection closed).
 *
 * ```ts
 * const { url } = yield* CustomServer.make((request, response) => {
 *   response.writeHead(200, { "content-type": "text/plain" })
 *   response.end(request.method)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as Net from "node:net"

/**
 * A running server: its base URL (`http://127.0.0.1:PORT`, no trailing
 * slash), its port, and Node's server for what a test tunes or watches.
 *
 * @category models
 * @since 0.1.0
 */
export interface CustomServer {
  readonly url: string
  readonly port: number
  readonly server: Http.Server
}

/**
 * Starts a server answering every request with `handle` (`configure` runs on
 * it before it listens: `keepAliveTimeout`, `on("connection")`). Closing the
 * scope destroys every open connection, a request still waiting for its
 * answer included, and waits for the server to close.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  handle: Http.RequestListener,
  configure: (server: Http.Server) => void = () => {}
): Effect.Effect<CustomServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<CustomServer>((resolve) => {
        const server = Http.createServer(handle)
        configure(server)
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          resolve({ url: `http://127.0.0.1:${port}`, port, server })
        })
      })
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  )

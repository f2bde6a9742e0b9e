/**
 * Loopback ports for tests: one the OS picks, free right now, with nothing
 * listening on it (a server bound, noted and closed). For a "connection
 * refused" case, or a port to listen on next.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"

/**
 * A loopback port nothing listens on right now.
 *
 * @category constructors
 * @since 0.1.0
 */
export const unusedPromise = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

/**
 * `unusedPromise` as an effect.
 *
 * @category constructors
 * @since 0.1.0
 */
export const unused: Effect.Effect<number> = Effect.promise(unusedPromise)

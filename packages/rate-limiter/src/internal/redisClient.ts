/**
 * One node-redis connection of the Redis store, made here rather than by
 * `NodeRedis.layer` so that the store hears what the client reports from
 * before it connects.
 *
 * node-redis reports a reply stream it cannot read (bytes that are not RESP:
 * a server that is not Redis, an SSH or HTTP server on that port, or a stream
 * corrupted on the way) as an `error` event, and nothing else: it resets its
 * parser, keeps the socket open, and the commands waiting for their answers
 * (its handshake's among them) wait for ever. `NodeRedis.layer` only logs
 * such events, and attaches its listener inside the layer, where the store
 * cannot reach it before the layer is built; so a connection attempt to a
 * server that is not Redis waited for its deadline, and a connection whose
 * replies became garbage mid-run left every call to its wait. Here a client
 * whose reply stream broke is destroyed at once: every command waiting on it
 * fails, and its connection attempt, if it was one, with it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createClient } from "redis"

/** A node-redis client. */
export type Client = ReturnType<typeof createClient>

/** What `createClient` takes. */
export type Options = NonNullable<Parameters<typeof createClient>[0]>

/**
 * Makes a client of `options`, tells `onError` every error it reports from
 * the start, and connects it; the scope destroys it. `unreadable` is true
 * when the client's reply stream broke (it reported an error and kept its
 * socket open); the client is then destroyed right after `onError` returns.
 *
 * A client whose `reconnectStrategy` always gives up (the store's) closes
 * before it reports a socket error, so an error it reports while still open
 * is one of its reply stream: the parser's, or a reply nobody asked for.
 */
export const open = (
  options: Options,
  onError: (error: unknown, unreadable: boolean) => void
): Effect.Effect<Client, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    // node-redis cannot destroy a socket that is still connecting: the abort does (as `NodeRedis.layer`'s).
    const abort = new AbortController()
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => createClient({ ...options, socket: { ...options.socket, signal: abort.signal } } as Options)),
      (client) => Effect.sync(() => close(client, abort))
    )
    // Also keeps node-redis from rethrowing an `error` nobody listens to, which would end the process.
    client.on("error", (error: unknown) => {
      if (abort.signal.aborted) return
      const unreadable = client.isOpen
      onError(error, unreadable)
      if (unreadable) close(client)
    })
    yield* Effect.tryPromise({ try: () => client.connect(), catch: (cause) => cause })
    return client
  })

/** Destroys `client` (every command waiting fails), then aborts a socket still connecting. */
const close = (client: Client, abort?: AbortController) => {
  try {
    client.destroy()
  } catch {
    // Nothing left to destroy.
  }
  abort?.abort()
}

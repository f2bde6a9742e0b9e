/**
 * A small TCP proxy in front of a real Redis, for fault tests: it listens on a
 * fixed loopback port and pipes every connection to Redis, and it can be
 * stopped (Redis "goes away"), started again on the same port (Redis
 * "returns"), made slow, made to hang (connections accepted, commands
 * swallowed, no answer ever), or made to answer garbage.
 *
 * ```ts
 * const proxy = yield* RedisProxy.make()            // not listening yet: "down at start"
 * const layer = RedisStore.layer({ url: proxy.url })
 * yield* proxy.start                                // Redis is reachable
 * yield* proxy.slow(1_000)                          // every chunk held 1 s each way
 * yield* proxy.slow(0, { min: 50, max: 200 })        // commands at once, each reply held 50-200 ms
 * yield* proxy.hang                                 // every command swallowed, never answered
 * yield* proxy.garbage                              // every command answered with bytes that are not RESP
 * yield* proxy.restore                              // back to normal
 * yield* proxy.stop                                 // listener closed, live sockets destroyed
 * ```
 *
 * The proxy lives as long as the scope of `make`; closing the scope stops it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Ports from "./Ports.ts"
import * as RedisTest from "./RedisTest.ts"

/**
 * How long the proxy holds each chunk, in ms: a fixed number, a range
 * `{ min, max }` (each chunk drawn uniformly from it), or a function called
 * for each chunk (a number below 0, or not finite, is 0).
 *
 * @category models
 * @since 0.1.0
 */
export type Delay = number | { readonly min: number; readonly max: number } | (() => number)

/**
 * A proxy in front of Redis.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisProxy {
  /** The loopback port it listens on (fixed for its life, so clients can reconnect). */
  readonly port: number
  /** The upstream URL with host and port replaced by the proxy's (user-info and database kept). */
  readonly url: string
  /** Listens on `port` (does nothing when already listening). */
  readonly start: Effect.Effect<void>
  /** Closes the listener and destroys every live connection, both sides. */
  readonly stop: Effect.Effect<void>
  /**
   * Holds every chunk before forwarding it: `requests` for chunks towards
   * Redis, `replies` (default: `requests`) for chunks back. Order is kept
   * per connection, as on one TCP stream: a chunk never overtakes one still
   * held, so a short delay drawn after a long one waits for it.
   */
  readonly slow: (requests: Delay, replies?: Delay) => Effect.Effect<void>
  /** Accepts connections and swallows every command, answering nothing (a Redis that stopped replying). */
  readonly hang: Effect.Effect<void>
  /** Answers every command with bytes that are not RESP, forwarding nothing to Redis. */
  readonly garbage: Effect.Effect<void>
  /** Forwards at once again, neither slow, hanging nor garbage (chunks already held still leave in order). */
  readonly restore: Effect.Effect<void>
  /** How many client connections it has accepted since it was made. */
  readonly accepted: () => number
  /** How many client connections are open now. */
  readonly open: () => number
}

/** A hold in ms: 0 for a negative or non-finite one. */
const sane = (millis: number) => Number.isFinite(millis) && millis > 0 ? millis : 0

/** No hold. */
const none = () => 0

/** `delay` as a function giving each chunk's hold (ms, 0 or more). */
const delayOf = (delay: Delay): () => number => {
  if (typeof delay === "function") return () => sane(delay())
  if (typeof delay === "number") return () => sane(delay)
  const { min, max } = delay
  return () => sane(min + Math.random() * (max - min))
}

/** Bytes no RESP parser accepts: an unknown type byte, then binary noise. */
const garbageReply = Buffer.from("\u00a7\u0000garbage\r\n\u00ff\r\n", "latin1")

/**
 * Forwards chunks from `from` to `to`, each held `delay()` ms, never
 * overtaking a chunk still held.
 */
const pipe = (from: Net.Socket, to: Net.Socket, delay: () => number, fault: (data: Buffer) => boolean): void => {
  const held: Array<{ readonly data: Buffer; readonly due: number }> = []
  let timer: NodeJS.Timeout | undefined
  const flush = () => {
    timer = undefined
    const now = performance.now()
    while (held.length > 0 && held[0]!.due <= now) {
      const { data } = held.shift()!
      if (!to.destroyed) to.write(data)
    }
    if (held.length > 0) timer = setTimeout(flush, held[0]!.due - now)
  }
  from.on("data", (data: Buffer) => {
    if (fault(data)) return
    const wait = delay()
    if (wait <= 0 && held.length === 0) {
      if (!to.destroyed) to.write(data)
      return
    }
    const last = held.length === 0 ? 0 : held[held.length - 1]!.due
    held.push({ data, due: Math.max(performance.now() + wait, last) })
    if (timer === undefined) timer = setTimeout(flush, Math.max(0, held[0]!.due - performance.now()))
  })
  from.on("close", () => {
    if (timer !== undefined) clearTimeout(timer)
    held.length = 0
  })
}

/**
 * Makes a proxy to `upstream` (default `RedisTest.url`) on a free loopback
 * port, not listening yet. Closing the scope stops it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (upstream: string = RedisTest.url): Effect.Effect<RedisProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const target = new URL(upstream)
      const upstreamHost = target.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1"
      const upstreamPort = target.port === "" ? 6379 : Number(target.port)
      const port = await Ports.unusedPromise()
      const url = new URL(upstream)
      url.hostname = "127.0.0.1"
      url.port = String(port)

      let toRedis: () => number = none
      let fromRedis: () => number = none
      let mode: "forward" | "hang" | "garbage" = "forward"
      let accepted = 0
      const sockets = new Set<Net.Socket>()
      const clients = new Set<Net.Socket>()
      let server: Net.Server | undefined

      const track = (socket: Net.Socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => socket.destroy())
      }

      const onConnection = (client: Net.Socket) => {
        accepted++
        const upstreamSocket = Net.connect({ host: upstreamHost, port: upstreamPort })
        track(client)
        clients.add(client)
        client.on("close", () => clients.delete(client))
        track(upstreamSocket)
        client.setNoDelay(true)
        upstreamSocket.setNoDelay(true)
        // Towards Redis: a hanging proxy swallows the command, a garbage one answers it itself.
        pipe(client, upstreamSocket, () => toRedis(), () => {
          if (mode === "forward") return false
          if (mode === "garbage" && !client.destroyed) client.write(garbageReply)
          return true
        })
        pipe(upstreamSocket, client, () => fromRedis(), () => mode !== "forward")
        client.on("close", () => upstreamSocket.destroy())
        upstreamSocket.on("close", () => client.destroy())
      }

      const start = Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          if (server !== undefined) return resolve()
          const listening = Net.createServer(onConnection)
          listening.once("error", reject)
          listening.listen(port, "127.0.0.1", () => {
            server = listening
            resolve()
          })
        })
      )

      const stop = Effect.promise(() =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy()
          sockets.clear()
          const closing = server
          server = undefined
          if (closing === undefined) return resolve()
          closing.close(() => resolve())
        })
      )

      const proxy: RedisProxy = {
        port,
        url: url.toString().replace(/\/$/, ""),
        start,
        stop,
        slow: (requests, replies = requests) =>
          Effect.sync(() => {
            toRedis = delayOf(requests)
            fromRedis = delayOf(replies)
          }),
        hang: Effect.sync(() => void (mode = "hang")),
        garbage: Effect.sync(() => void (mode = "garbage")),
        restore: Effect.sync(() => {
          toRedis = none
          fromRedis = none
          mode = "forward"
        }),
        accepted: () => accepted,
        open: () => clients.size
      }
      return proxy
    }),
    (proxy) => proxy.stop
  )

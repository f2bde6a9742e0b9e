/**
 * A `LimiterStore` in Redis, so processes and machines share one limit.
 *
 * Every operation is one round trip, atomic on the server: `reserve`,
 * `block` and `lease` are one Lua script each (`EVALSHA`), `release` one
 * `ZREM`. The scripts port the limiter's arithmetic exactly: GCRA rates
 * with burst and debt, sliding-log windows booked in time order, every item
 * of a request booked at one instant or none, blocks from server feedback,
 * and expiring concurrency leases. Time is Redis's `TIME`, so machines with
 * skewed clocks agree. Every key expires once its state no longer matters.
 *
 * ```ts
 * import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
 *
 * const StoreLive = RedisStore.layer({ url: "redis://127.0.0.1:6379", timeout: "250 millis" })
 * // or, reading REDIS_URL:
 * const StoreFromEnv = RedisStore.layerConfig()
 * ```
 *
 * **Details**
 *
 * - Keys live under `prefix` (`httpkit:rl:` by default): `r:` rates, `w:`
 *   windows, `b:` blocks, `l:` leases, then the caller's id. Ids that are
 *   long (over 128 characters) or hold characters outside
 *   `[A-Za-z0-9_.:/@=+-]` become a readable stem and a SHA-256, so any id
 *   works and a key name is at most 130 characters past the prefix.
 * - Every call is bounded by `timeout` and fails with
 *   `RateLimiterUnavailableError` (`backend: "redis"`, `retryable: true`),
 *   whose `detail` never holds the URL's password.
 * - Faults: Redis down at start does not fail the layer; the store keeps
 *   connecting in the background with capped backoff while calls fail at
 *   once. A connection lost mid-run fails calls at once (nothing is queued
 *   to run later) and is re-established for ever. Scripts are loaded again
 *   after `SCRIPT FLUSH` or a Redis restart. Nothing needs restarting.
 *
 * **Gotchas**
 *
 * - A call that timed out may still have run on the server: a reservation
 *   that timed out may have booked its slot. The limiter counts it as
 *   unavailable, so at worst a slot goes unused.
 * - `layer` and `layerConfig` wait for the first connection attempt (at most
 *   `connectTimeout`) before the layer is ready, so a reachable Redis is used
 *   from the first call. Closing the store likewise waits for an attempt in
 *   flight (at most `connectTimeout`): a client closed mid-handshake could
 *   wait for ever.
 * - A connection on which Redis stays silent for `connectTimeout` (pings
 *   included) is dropped and made again, so a Redis slower than that is
 *   treated as away.
 * - Timeouts and backoff follow Effect's `Clock`: under `TestClock` they wait
 *   for the test to move it.
 * - An invalid `url` is a defect when the store is built.
 * - `layerRedis` uses a `Redis` service you already have; its connection
 *   policy (offline queue, reconnection) is then yours.
 *
 * @since 0.1.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { RateLimiterUnavailableError } from "@httpkit/client/ClientError"
import * as Redact from "@httpkit/client/Redact"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as Script from "./internal/redisScript.ts"
import * as LimiterStore from "./LimiterStore.ts"

/**
 * Options of a store on a `Redis` service you provide (`makeRedis`,
 * `layerRedis`).
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisOptions {
  /**
   * Prefix of every key the store writes.
   *
   * @default "httpkit:rl:"
   */
  readonly prefix?: string | undefined
  /**
   * Longest wait for one call's answer; past it the call fails with
   * `RateLimiterUnavailableError`.
   *
   * @default "250 millis"
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Options of a store that owns its connection (`make`, `layer`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends RedisOptions {
  /**
   * The Redis to use: `redis://[[user]:password@]host[:port][/db]`, or
   * `rediss://` for TLS. Pass it `Redacted` when it holds a password.
   *
   * @default "redis://127.0.0.1:6379"
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /**
   * Longest wait for one connection attempt, the TCP connect and the
   * handshake each (the layer waits for the first attempt). A connection
   * silent for this long is dropped and made again; the store pings an idle
   * connection four times as often, so a healthy one never is.
   *
   * @default "2 seconds"
   */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * Longest pause between two connection attempts while Redis is away (the
   * backoff starts at 50 ms and doubles, with jitter).
   *
   * @default "2 seconds"
   */
  readonly maxBackoff?: Duration.Input | undefined
}

const defaultUrl = "redis://127.0.0.1:6379"
const defaultPrefix = "httpkit:rl:"

type RunScript = (
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string | number>
) => Effect.Effect<Script.Reply, Redis.RedisError | RateLimiterUnavailableError>

type NodeClient = NodeRedis.NodeRedis["Service"]["client"]

/**
 * Runs `script` on node-redis directly (`EVALSHA`, then `EVAL` on `NOSCRIPT`,
 * which caches it again), bounded by a plain timer: one callback per call,
 * where `Effect.timeoutOrElse` would race a fiber (measured: most of the
 * store's tail latency).
 */
const directScript = (
  client: NodeClient,
  script: { readonly lua: string },
  timeoutMillis: number,
  failed: (cause: unknown) => RateLimiterUnavailableError
): RunScript => {
  const sha = createHash("sha1").update(script.lua).digest("hex")
  return (keys, args) =>
    Effect.callback<Script.Reply, RateLimiterUnavailableError>((resume) => {
      let settled = false
      const settle = (effect: Effect.Effect<Script.Reply, RateLimiterUnavailableError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(effect)
      }
      const timer = setTimeout(
        () => settle(Effect.fail(unavailable(`no answer from Redis within ${timeoutMillis} ms`))),
        timeoutMillis
      )
      const tail = [String(keys.length), ...keys, ...args.map(String)]
      client.sendCommand(["EVALSHA", sha, ...tail]).then(
        (reply) => settle(Effect.succeed(reply as unknown as Script.Reply)),
        (error: unknown) => {
          if (settled) return
          if (!String(error).includes("NOSCRIPT")) return settle(Effect.fail(failed(error)))
          client.sendCommand(["EVAL", script.lua, ...tail]).then(
            (reply) => settle(Effect.succeed(reply as unknown as Script.Reply)),
            (again: unknown) => settle(Effect.fail(failed(again)))
          )
        }
      )
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
      })
    })
}

/** What one connected `Redis` service offers the store: its scripts, ready to run. */
interface Session {
  readonly reserve: RunScript
  readonly block: RunScript
  readonly lease: RunScript
  readonly send: Redis.Redis["Service"]["send"]
  /** Why calls fail now, when the connection is down; `undefined` while it is up. */
  readonly down: () => string | undefined
  /** Whether the scripts bound their own calls (the direct path); otherwise the store times them. */
  readonly bounded: boolean
}

const session = (redis: Redis.Redis["Service"], down: () => string | undefined): Session => ({
  reserve: redis.eval(Script.reserve),
  block: redis.eval(Script.block),
  lease: redis.eval(Script.lease),
  send: redis.send,
  down,
  bounded: false
})

/** A session whose scripts run on node-redis directly, each bounded by `timeoutMillis`. */
const directSession = (
  redis: Redis.Redis["Service"],
  client: NodeClient,
  down: () => string | undefined,
  timeoutMillis: number,
  redact: (text: string) => string
): Session => {
  const failed = (cause: unknown) => unavailable(down() ?? describe(cause, redact))
  return {
    reserve: directScript(client, Script.reserve, timeoutMillis, failed),
    block: directScript(client, Script.block, timeoutMillis, failed),
    lease: directScript(client, Script.lease, timeoutMillis, failed),
    send: redis.send,
    down,
    bounded: true
  }
}

/** A one-line account of a failure, at most 300 characters, passed through `redact`. */
const describe = (cause: unknown, redact: (text: string) => string): string => {
  const one = (error: unknown): string => {
    if (!(error instanceof Error)) return String(error)
    if (error.message === "" && error instanceof AggregateError) return error.errors.map(one).join("; ")
    return error.message === "" ? error.name : `${error.name}: ${error.message}`
  }
  const text = redact(one(cause))
  return text.length > 300 ? `${text.slice(0, 300)}...` : text
}

/** Leaves a text as it is (a store on a caller's `Redis` has no URL of its own to redact). */
const identity = (text: string) => text

const unavailable = (detail: string) => new RateLimiterUnavailableError({ backend: "redis", retryable: true, detail })

/** Builds the store on a source of sessions. */
const makeStore = (
  current: () => Session | string,
  options: RedisOptions,
  redact: (text: string) => string
): LimiterStore.Store => {
  const names = Script.keys(options.prefix ?? defaultPrefix)
  const timeout = Duration.fromInputUnsafe(options.timeout ?? "250 millis")
  const timeoutMillis = Duration.toMillis(timeout)
  const timedOut = () => Effect.fail(unavailable(`no answer from Redis within ${timeoutMillis} ms`))

  /** Runs one call on the current session, bounded by the timeout, with failures typed. */
  const call = <A>(
    f: (session: Session) => Effect.Effect<A, Redis.RedisError | RateLimiterUnavailableError>,
    selfBounded = false
  ): Effect.Effect<A, RateLimiterUnavailableError> =>
    Effect.suspend(() => {
      const now = current()
      if (typeof now === "string") return Effect.fail(unavailable(now))
      const typed = Effect.catchTag(
        f(now),
        "RedisError",
        (error) => Effect.fail(unavailable(now.down() ?? describe(error.cause, redact)))
      )
      return selfBounded && now.bounded ? typed : Effect.timeoutOrElse(typed, { duration: timeout, orElse: timedOut })
    })

  const decoded = <A>(value: A | undefined, reply: unknown) =>
    value === undefined
      ? Effect.fail(unavailable(`unexpected reply from Redis: ${describe(JSON.stringify(reply), redact)}`))
      : Effect.succeed(value)

  return {
    backend: "redis",
    selfBounded: true,
    reserve: (request) => {
      if (request.items.length === 0 && request.blockKey === undefined) {
        return Effect.succeed({ _tag: "Granted", delayMillis: 0 })
      }
      return call((s) => {
        const [keys, args] = Script.reserveArgs(names, request.items, request.blockKey, request.maxWaitMillis)
        return Effect.flatMap(s.reserve(keys, args), (reply) => decoded(Script.decodeReservation(reply), reply))
      }, true)
    },
    block: (key, millis) =>
      call((s) => Effect.asVoid(s.block([names.block(key)], [Script.redisTime, Script.arg(millis)])), true),
    lease: (request) =>
      call((s) =>
        Effect.flatMap(
          s.lease([names.lease(request.id)], [
            Script.redisTime,
            Script.arg(request.max),
            request.token,
            Script.arg(request.leaseMillis)
          ]),
          (reply) => decoded(Script.decodeLease(reply), reply)
        ), true),
    release: (id, token) => call((s) => Effect.asVoid(s.send("ZREM", names.lease(id), token)))
  }
}

/** A delay in ms for attempt `n` (from 0): 50 ms doubling up to `max`, with equal jitter. */
const backoff = (n: number, max: number): number => {
  const base = Math.min(max, 50 * 2 ** Math.min(n, 20))
  return Math.round(base / 2 + Math.random() * (base / 2))
}

/** Redacts the URL, and its password wherever it shows up, in a text. */
const redactorFor = (url: string): (text: string) => string => {
  const secrets: Array<string> = []
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") secrets.push(parsed.password, decodeURIComponent(parsed.password))
  } catch {
    // An invalid URL is refused before anything uses the redactor.
  }
  const safeUrl = Redact.url(url)
  return (text) => {
    let out = text.replaceAll(url, safeUrl)
    for (const secret of secrets) out = out.replaceAll(secret, Redact.redacted)
    return out
  }
}

/** Suspends until node-redis gives up on `client` for good (or it is closed). */
const terminated = (client: NodeRedis.NodeRedis["Service"]["client"]): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (!client.isOpen) return resume(Effect.void)
    const done = () => resume(Effect.void)
    client.once("terminated", done)
    client.once("end", done)
    return Effect.sync(() => {
      client.off("terminated", done)
      client.off("end", done)
    })
  })

/**
 * Keeps one `NodeRedis` connection up in a background fiber for the life of
 * the scope, and says which session to use now (or why there is none).
 */
const connect = Effect.fnUntraced(function*(url: string, options: Options, redact: (text: string) => string) {
  const connectTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.connectTimeout ?? "2 seconds"))
  const maxBackoff = Duration.toMillis(Duration.fromInputUnsafe(options.maxBackoff ?? "2 seconds"))
  const where = Redact.url(url)
  let current: Session | undefined
  let lastError = "no connection attempt yet"
  const firstAttempt = yield* Deferred.make<void>()
  const log = Effect.runSyncWith(yield* Effect.context<never>())

  const attempt = Effect.gen(function*() {
    // Before the first `ready`, a failed connect fails the build (this loop
    // retries); after it, node-redis reconnects for ever with capped backoff.
    const flags = { connected: false }
    const context = yield* Layer.build(NodeRedis.layer({
      url,
      disableOfflineQueue: true,
      // Keeps an idle connection active, so only a silent server hits `socketTimeout`.
      pingInterval: Math.max(100, Math.round(connectTimeout / 4)),
      socket: {
        connectTimeout,
        // Bounds the handshake too: a server that accepts but never answers fails the attempt.
        socketTimeout: connectTimeout,
        reconnectStrategy: (retries: number, cause: Error) =>
          flags.connected ? backoff(retries, maxBackoff) : cause instanceof Error ? cause : new Error(String(cause))
      }
    })).pipe(
      // Never interrupted: closing a client mid-handshake would wait for a reply that may never come.
      // `connectTimeout` and `socketTimeout` bound the attempt instead.
      Effect.uninterruptible,
      // node-redis reports every failed reconnect; this store logs changes of state instead.
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
    flags.connected = true
    const client = Context.get(context, NodeRedis.NodeRedis).client
    let up = true
    let closing = false
    // Runs before NodeRedis's own `close()`, which would wait for in-flight commands.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
        current = undefined
        client.destroy()
      })
    )
    client.on("error", (error: unknown) => {
      if (closing) return
      lastError = describe(error, redact)
      if (!up) return
      up = false
      log(Effect.logWarning(`RedisStore: lost the connection to ${where}, reconnecting: ${lastError}`))
    })
    client.on("ready", () => {
      if (up) return
      up = true
      log(Effect.logInfo(`RedisStore: connection to ${where} restored`))
    })
    current = directSession(
      Context.get(context, Redis.Redis),
      client,
      () => up ? undefined : `not connected to Redis at ${where} (reconnecting): ${lastError}`,
      Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "250 millis")),
      redact
    )
    yield* Effect.logDebug(`RedisStore: connected to ${where}`)
    yield* Deferred.succeed(firstAttempt, undefined)
    yield* terminated(client)
    lastError = "the connection was closed"
  })

  yield* Effect.forkScoped(Effect.gen(function*() {
    let failures = 0
    while (true) {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(Effect.scoped(attempt))
      current = undefined
      yield* Deferred.succeed(firstAttempt, undefined)
      if (exit._tag === "Failure") {
        const error = Cause.squash(exit.cause)
        lastError = describe(error instanceof Redis.RedisError ? error.cause : error, redact)
        if (failures === 0) {
          yield* Effect.logWarning(`RedisStore: cannot reach Redis at ${where}, retrying: ${lastError}`)
        }
      } else if ((yield* Clock.currentTimeMillis) - started > 10_000) {
        // A connection that lasted starts a new series of attempts.
        failures = 0
      }
      yield* Effect.sleep(backoff(failures++, maxBackoff))
    }
  }))
  yield* Deferred.await(firstAttempt)
  return (): Session | string => current ?? `not connected to Redis at ${where}: ${lastError}`
})

/** The URL as a string, checked to be a Redis URL (a defect otherwise, without the URL's secrets). */
const checkedUrl = (input: string | Redacted.Redacted<string> | undefined): string => {
  const url = input === undefined ? defaultUrl : typeof input === "string" ? input : Redacted.value(input)
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch {
    throw new Error("RedisStore: url is not a URL")
  }
  if (protocol !== "redis:" && protocol !== "rediss:") {
    throw new Error(`RedisStore: url must start with redis:// or rediss://, not ${protocol}//`)
  }
  return url
}

/**
 * A store that owns its Redis connection for the life of the scope. It never
 * fails: while Redis is away, calls fail with `RateLimiterUnavailableError`
 * and the connection is retried in the background.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<LimiterStore.Store, never, Scope.Scope> =>
  Effect.suspend(() => {
    const url = checkedUrl(options.url)
    const redact = redactorFor(url)
    return Effect.map(connect(url, options, redact), (current) => makeStore(current, options, redact))
  })

/**
 * A store on a `Redis` service from the context (for users who already have
 * one; its offline queue and reconnection policy apply). Calls are still
 * bounded by `timeout`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRedis = (options: RedisOptions = {}): Effect.Effect<LimiterStore.Store, never, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Effect.service(Redis.Redis)
    // With node-redis's own client in context too (`NodeRedis.layer` provides both), scripts take the direct path.
    const node = yield* Effect.serviceOption(NodeRedis.NodeRedis)
    const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "250 millis"))
    const now = node._tag === "Some"
      ? directSession(redis, node.value.client, () => undefined, timeoutMillis, identity)
      : session(redis, () => undefined)
    return makeStore(() => now, options, identity)
  })

/**
 * The Redis store as a layer, owning its connection.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LimiterStore.LimiterStore> =>
  Layer.effect(LimiterStore.LimiterStore, make(options))

/**
 * The Redis store as a layer, reading the URL from `REDIS_URL` (default
 * `redis://127.0.0.1:6379`), kept redacted.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Omit<Options, "url"> = {}
): Layer.Layer<LimiterStore.LimiterStore, Config.ConfigError> =>
  Layer.effect(
    LimiterStore.LimiterStore,
    Effect.gen(function*() {
      const url = yield* Config.Redacted("REDIS_URL").pipe(Config.withDefault(Redacted.make(defaultUrl)))
      return yield* make({ ...options, url })
    })
  )

/**
 * The Redis store as a layer, on a `Redis` service you provide (for example
 * `NodeRedis.layer`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (options: RedisOptions = {}): Layer.Layer<LimiterStore.LimiterStore, never, Redis.Redis> =>
  Layer.effect(LimiterStore.LimiterStore, makeRedis(options))

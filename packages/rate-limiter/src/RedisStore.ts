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
 * - A window's bookings are a sorted set whose past bookings carry running
 *   totals, so a call's work grows as the log of the bookings held (plus the
 *   bookings made ahead, usually few), not with the window's limit: about
 *   0.05 ms of Redis time with 99,000 bookings. A window key written as a
 *   list by an earlier version is converted when a script first touches it.
 * - Keys live under `prefix` (`httpkit:rl:` by default): `r:` rates, `w:`
 *   windows, `b:` blocks, `l:` leases, then the caller's id. Ids that are
 *   long (over 128 characters) or hold characters outside
 *   `[A-Za-z0-9_.:/@=+-]` become a readable stem and a SHA-256, so any id
 *   works and a key name is at most 130 characters past the prefix.
 * - Every call is bounded, and fails with `RateLimiterUnavailableError`
 *   (`backend: "redis"`, `retryable: true`, a `detail` that never holds the
 *   URL's password) when Redis is really gone: at once when the connection is
 *   refused or lost or the server answers in something other than Redis's
 *   protocol (RESP), and after a silence of `timeout`, of three recent round
 *   trips when Redis has lately been slower than that, or of the caller's wait
 *   budget when that is longer; never longer than `maxTimeout`. A slow answer
 *   within that is a slow success: the call waits for the answer it asked
 *   for rather than sending the command again (Redis answers one connection in
 *   order, so a second copy would queue behind the first and could book twice).
 * - Silence is measured in time this process was free to read the answer: a
 *   timer that fires more than 50 ms late means the event loop was stalled
 *   (a busy CPU, a long synchronous task), so that span does not count and the
 *   call gets at least 100 ms more once the loop is free. However stalled the
 *   process, a call ends within `2 * wait + 1 second`.
 * - A grant's wait is evened out over the reply path: slots are booked on
 *   Redis's clock, and an answer takes its own time to come back, so waiting
 *   Redis's delay from each answer's arrival would put requests closer
 *   together than their slots whenever the reply latency varies. The store
 *   learns the spread of its answers' latency (the largest and smallest of
 *   its last 64 grants within 30 s, leaving out the extreme tenth, time the
 *   event loop was busy taken out) and, when it is 50 ms or more, holds each
 *   grant back so that every request goes at its slot plus the slowest
 *   recent latency: spaced as its slot was. A request goes up to that spread
 *   later, at most `maxJitter`; never sooner than Redis's delay from the
 *   answer.
 * - Faults: Redis down at start does not fail the layer; the store keeps
 *   connecting in the background with capped backoff while calls fail at
 *   once. A connection lost mid-run fails calls at once (nothing is queued
 *   to run later) and is re-established for ever. A reply that is not RESP
 *   (a server that is not Redis at the URL, or a stream corrupted on the way)
 *   ends its connection at once, as a lost one: the call that met it and
 *   every call until a connection answers in RESP again fail at once, their
 *   `detail` saying that the server at the URL answered in something other
 *   than Redis's protocol; a layer pointed at such a server is built at once.
 *   A connection on which Redis stays silent (the store pings it every
 *   quarter of `connectTimeout`) for `connectTimeout` is dropped and made
 *   again, timed as calls are, so a stalled process drops no healthy
 *   connection. Scripts are loaded with each connection's first round
 *   trip, and again after `SCRIPT FLUSH` or a Redis restart. Nothing needs
 *   restarting.
 *
 * **Gotchas**
 *
 * - A call that timed out may still have run on the server: a reservation
 *   that timed out may have booked its slot. The limiter counts it as
 *   unavailable, so at worst a slot goes unused.
 * - `layer` and `layerConfig` wait for the first connection attempt (at most
 *   `connectTimeout`, its TCP connect, handshake and a first `PING`) before
 *   the layer is ready, so a reachable Redis is used from the first call, and
 *   a slow one is waited for from the first call.
 * - A Redis whose round trip is longer than `connectTimeout` is treated as
 *   away: its connection is dropped as silent.
 * - Timeouts and backoff follow Effect's `Clock`: under `TestClock` they wait
 *   for the test to move it.
 * - An invalid `url` (not a URL, another scheme than `redis:` or `rediss:`,
 *   no host, port 0, a path that is not a database number) fails the store
 *   with `RedisUrlError` when it is built, credentials redacted, before
 *   anything connects.
 * - `layerRedis` uses a `Redis` service you already have; its connection
 *   policy (offline queue, reconnection) is then yours.
 * - `rediss://` verifies the certificate against Node's CAs and the host
 *   against the certificate, with no option to turn either off. For a
 *   private CA, add it to Node's (`NODE_EXTRA_CA_CERTS`) or use `layerRedis`
 *   on a `NodeRedis.layer` given `socket: { tls: true, ca }`.
 *
 * @since 0.1.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import type * as DurationInput from "@httpkit/core/DurationInput"
import * as LagTimer from "@httpkit/core/LagTimer"
import { RateLimiterUnavailableError } from "@httpkit/core/RateLimitError"
import * as Redact from "@httpkit/core/Redact"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import { checkServerIdentity } from "node:tls"
import * as GuardedStore from "./internal/guardedStore.ts"
import * as LoopIdle from "./internal/loopIdle.ts"
import * as Own from "./internal/own.ts"
import * as RedisClient from "./internal/redisClient.ts"
import * as Script from "./internal/redisScript.ts"
import * as RedisUrl from "./internal/redisUrl.ts"
import * as ReplyJitter from "./internal/replyJitter.ts"
import * as RoundTrips from "./internal/roundTrips.ts"
import * as LimiterStore from "./LimiterStore.ts"
import { PolicyError } from "./Policy.ts"

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
   * How long a call waits for Redis's answer when its caller cannot wait
   * longer (`block`, `release`, a reservation with no wait budget such as
   * `onLimit: "fail"`); past it the call fails with
   * `RateLimiterUnavailableError`. When Redis has lately taken longer than a
   * third of this to answer, such calls wait three of its recent round trips
   * instead (up to `maxTimeout`): a slow Redis is not a silent one. Measured
   * in time this process was free to read the answer: event-loop stalls do
   * not count (see **Details**).
   *
   * @default "250 millis"
   */
  readonly timeout?: DurationInput.Input | undefined
  /**
   * The longest any call waits for Redis's answer. A call whose caller has a
   * longer wait budget than `timeout` (a reservation's `maxWaitMillis`, which
   * the limiter sets to what is left of the acquisition's `maxWait` or the
   * client's total deadline, and a lease's) waits up to that budget, at most
   * this long, so a slow but healthy Redis delays requests instead of failing
   * them. Never less than `timeout`.
   *
   * @default "2 seconds"
   */
  readonly maxTimeout?: DurationInput.Input | undefined
  /**
   * The most a granted request is held back to even out the variation in
   * Redis's reply latency, so that requests go spaced as their slots were
   * booked on Redis's clock (see **Details**); a variation beyond it is
   * evened up to it. `false` (or 0) waits every delay as Redis answered it.
   *
   * @default "500 millis"
   */
  readonly maxJitter?: DurationInput.Input | false | undefined
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
   * Longest wait for one connection attempt: the TCP connect, the handshake
   * and a first `PING` together (the layer waits for the first attempt). The
   * store pings its connection every quarter of this, and drops it (and makes
   * another) when a ping goes unanswered this long. Both are counted in time
   * this process was free to read the answer, as calls are: a stall of the
   * event loop drops no connection. The socket has no idle timeout (Node's
   * would fire after a stall before reading the answer that came meanwhile).
   *
   * @default "2 seconds"
   */
  readonly connectTimeout?: DurationInput.Input | undefined
  /**
   * Longest pause between two connection attempts while Redis is away (the
   * backoff starts at 50 ms and doubles, with jitter).
   *
   * @default "2 seconds"
   */
  readonly maxBackoff?: DurationInput.Input | undefined
}

const defaultUrl = "redis://127.0.0.1:6379"
const defaultPrefix = "httpkit:rl:"
const defaultTimeoutMillis = 250
const defaultMaxTimeoutMillis = 2_000
const defaultMaxJitterMillis = 500

/** How long calls wait for Redis: at least `timeoutMillis`, up to a caller's budget, at most `maxTimeoutMillis`. */
interface Patience {
  readonly timeoutMillis: number
  readonly maxTimeoutMillis: number
  /** The cap of `ReplyJitter` (0: off). */
  readonly maxJitterMillis: number
}

/** The store's durations, in milliseconds. */
interface Durations extends Patience {
  readonly connectTimeoutMillis: number
  readonly maxBackoffMillis: number
}

/**
 * Reads `timeout`, `maxTimeout`, `maxJitter` (or `false`), `connectTimeout` and `maxBackoff` (own keys only;
 * `"250ms"`, `"2s"`, any `Duration.Input`); every one that is no duration is a problem of one `PolicyError`.
 */
const durationsOf = (options: Options): Effect.Effect<Durations, PolicyError> => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const read = (name: "timeout" | "maxTimeout" | "maxJitter" | "connectTimeout" | "maxBackoff", fallback: number) =>
    Own.checkedMillis(Own.get(options, name), fallback, name, problems)
  const timeoutMillis = read("timeout", defaultTimeoutMillis)
  const durations: Durations = {
    timeoutMillis,
    maxTimeoutMillis: Math.max(timeoutMillis, read("maxTimeout", defaultMaxTimeoutMillis)),
    maxJitterMillis: Own.get(options, "maxJitter") === false ? 0 : read("maxJitter", defaultMaxJitterMillis),
    connectTimeoutMillis: read("connectTimeout", 2_000),
    maxBackoffMillis: read("maxBackoff", 2_000)
  }
  return problems.length === 0 ? Effect.succeed(durations) : Effect.fail(PolicyError.fromProblems("(none)", problems))
}

/**
 * How long one call waits for its answer: as long as its caller can wait (`budgetMillis`, 0 for none), and at
 * least `timeout` and three recent round trips (a slow Redis is not a silent one); at most `maxTimeout`.
 */
const waitFor = (patience: Patience, roundTrips: RoundTrips.RoundTrips, budgetMillis: number | undefined): number =>
  Math.round(Math.min(
    patience.maxTimeoutMillis,
    Math.max(patience.timeoutMillis, budgetMillis ?? 0, RoundTrips.factor * roundTrips.recent())
  ))

const silent = (waitMillis: number) => unavailable(`no answer from Redis within ${waitMillis} ms`)

/** An answer from Redis, and when it came (for `ReplyJitter`). */
interface Answer<A = unknown> {
  readonly reply: A
  readonly arrival: ReplyJitter.Arrival
}

/** When an answer to a command sent at `sent` (idle time then `idleBefore`) came: now. */
const arrivalSince = (sent: number, idleBefore: number): ReplyJitter.Arrival => {
  const receivedAt = performance.now()
  return { receivedAt, busyMillis: Math.max(0, receivedAt - sent - (LoopIdle.millis() - idleBefore)) }
}

/** Runs one script on the connection, waiting for its answer at most `waitMillis` of responsive time. */
type RunScript = (
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string | number>,
  waitMillis: number
) => Effect.Effect<Answer<Script.Reply>, RateLimiterUnavailableError>

type NodeClient = NodeRedis.NodeRedis["Service"]["client"]

/**
 * Sends `args` on node-redis directly and waits for the answer at most
 * `waitMillis` of responsive time (`LagTimer.after`): one callback and one
 * timer per call, where `Effect.timeoutOrElse` would race a fiber (measured:
 * most of the store's tail latency). `retry` sees a failure first and may send
 * something else instead (`EVAL` after `NOSCRIPT`). Every answer's round trip
 * goes to `roundTrips`, one that comes after the call gave up too; the answer
 * comes with its arrival (how much of the call this process was busy).
 */
const directCommand = (
  client: NodeClient,
  args: ReadonlyArray<string>,
  waitMillis: number,
  roundTrips: RoundTrips.RoundTrips,
  failed: (cause: unknown) => RateLimiterUnavailableError,
  retry?: (error: unknown) => Promise<unknown> | undefined
): Effect.Effect<Answer, RateLimiterUnavailableError> =>
  Effect.callback<Answer, RateLimiterUnavailableError>((resume) => {
    let settled = false
    const settle = (effect: Effect.Effect<Answer, RateLimiterUnavailableError>) => {
      if (settled) return
      settled = true
      cancel()
      resume(effect)
    }
    const idleBefore = LoopIdle.millis()
    const sent = performance.now()
    const succeed = (reply: unknown) => {
      const arrival = arrivalSince(sent, idleBefore)
      roundTrips.record(arrival.receivedAt - sent)
      settle(Effect.succeed({ reply, arrival }))
    }
    const fail = (error: unknown) => settle(Effect.fail(failed(error)))
    const cancel = LagTimer.after(waitMillis, () => settle(Effect.fail(silent(waitMillis))))
    client.sendCommand([...args]).then(succeed, (error: unknown) => {
      if (settled) return
      const again = retry?.(error)
      if (again === undefined) return fail(error)
      again.then(succeed, fail)
    })
    return Effect.sync(() => {
      settled = true
      cancel()
    })
  })

/** Every script the store runs, loaded on each new connection. */
const scripts: ReadonlyArray<{ readonly lua: string }> = [Script.reserve, Script.cancel, Script.block, Script.lease]

/** Runs `script` on node-redis directly: `EVALSHA`, then `EVAL` on `NOSCRIPT` (which caches it again). */
const directScript = (
  client: NodeClient,
  script: { readonly lua: string },
  roundTrips: RoundTrips.RoundTrips,
  failed: (cause: unknown) => RateLimiterUnavailableError
): RunScript => {
  const sha = createHash("sha1").update(script.lua).digest("hex")
  return (keys, args, waitMillis) => {
    const tail = [String(keys.length), ...keys, ...args.map(String)]
    return directCommand(
      client,
      ["EVALSHA", sha, ...tail],
      waitMillis,
      roundTrips,
      failed,
      (error) => String(error).includes("NOSCRIPT") ? client.sendCommand(["EVAL", script.lua, ...tail]) : undefined
    ) as Effect.Effect<Answer<Script.Reply>, RateLimiterUnavailableError>
  }
}

/** What one connected `Redis` service offers the store: its scripts and `ZREM`, each bounded. */
interface Session {
  readonly reserve: RunScript
  readonly cancel: RunScript
  readonly block: RunScript
  readonly lease: RunScript
  readonly zrem: (key: string, member: string, waitMillis: number) => Effect.Effect<void, RateLimiterUnavailableError>
}

/**
 * A session on a `Redis` service without node-redis's own client at hand:
 * each call raced against a lag-aware deadline (a fiber per call, off the
 * store's usual path). Answers in time go to `roundTrips`.
 */
const session = (
  redis: Redis.Redis["Service"],
  redact: (text: string) => string,
  roundTrips: RoundTrips.RoundTrips
): Session => {
  const bounded = <A>(
    effect: Effect.Effect<A, Redis.RedisError>,
    waitMillis: number
  ): Effect.Effect<Answer<A>, RateLimiterUnavailableError> =>
    Effect.raceFirst(
      Effect.suspend(() => {
        const idleBefore = LoopIdle.millis()
        const sent = performance.now()
        return Effect.map(effect, (reply) => {
          const arrival = arrivalSince(sent, idleBefore)
          roundTrips.record(arrival.receivedAt - sent)
          return { reply, arrival }
        })
      }).pipe(
        Effect.catchTag("RedisError", (error) => Effect.fail(unavailable(describe(error.cause, redact))))
      ),
      Effect.flatMap(LagTimer.sleep(waitMillis), () => Effect.fail(silent(waitMillis)))
    )
  const run = (script: typeof Script.reserve): RunScript => {
    const evaluate = redis.eval(script)
    return (keys, args, waitMillis) => bounded(evaluate(keys, args), waitMillis)
  }
  return {
    reserve: run(Script.reserve),
    cancel: run(Script.cancel),
    block: run(Script.block),
    lease: run(Script.lease),
    zrem: (key, member, waitMillis) => Effect.asVoid(bounded(redis.send("ZREM", key, member), waitMillis))
  }
}

/** A session whose calls run on node-redis directly. */
const directSession = (
  client: NodeClient,
  down: () => string | undefined,
  redact: (text: string) => string,
  roundTrips: RoundTrips.RoundTrips
): Session => {
  const failed = (cause: unknown) => unavailable(down() ?? describe(cause, redact))
  return {
    reserve: directScript(client, Script.reserve, roundTrips, failed),
    cancel: directScript(client, Script.cancel, roundTrips, failed),
    block: directScript(client, Script.block, roundTrips, failed),
    lease: directScript(client, Script.lease, roundTrips, failed),
    zrem: (key, member, waitMillis) =>
      Effect.asVoid(directCommand(client, ["ZREM", key, member], waitMillis, roundTrips, failed))
  }
}

/**
 * A one-line account of a failure, at most 300 characters, passed through
 * `redact`; control characters escaped (a reply that is not RESP can put any
 * byte in node-redis's message).
 */
const describe = (cause: unknown, redact: (text: string) => string): string => {
  const one = (error: unknown): string => {
    if (!(error instanceof Error)) return String(error)
    if (error.message === "" && error instanceof AggregateError) return error.errors.map(one).join("; ")
    return error.message === "" ? error.name : `${error.name}: ${error.message}`
  }
  const text = redact(one(cause)).replace(
    /\p{Cc}/gu,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`
  )
  return text.length > 300 ? `${text.slice(0, 300)}...` : text
}

/** Leaves a text as it is (a store on a caller's `Redis` has no URL of its own to redact). */
const identity = (text: string) => text

const unavailable = (detail: string) =>
  new RateLimiterUnavailableError(Own.bare({ backend: "redis", retryable: true, detail }))

/** Builds the store on a source of sessions. */
const makeStore = (
  current: () => Session | string,
  options: RedisOptions,
  patience: Patience,
  roundTrips: RoundTrips.RoundTrips,
  redact: (text: string) => string
) => {
  /** How long a call waits, for a caller who can wait `budgetMillis` (none: `undefined`). */
  const wait = (budgetMillis?: number) => waitFor(patience, roundTrips, budgetMillis)
  const names = Script.keys(Own.get(options, "prefix") ?? defaultPrefix)
  /** Runs one call on the current session, or fails at once when there is none. */
  const call = <A>(
    f: (session: Session) => Effect.Effect<A, RateLimiterUnavailableError>
  ): Effect.Effect<A, RateLimiterUnavailableError> =>
    Effect.suspend(() => {
      const now = current()
      return typeof now === "string" ? Effect.fail(unavailable(now)) : f(now)
    })

  const decoded = <A>(value: A | undefined, reply: unknown) =>
    value === undefined
      ? Effect.fail(unavailable(`unexpected reply from Redis: ${describe(JSON.stringify(reply), redact)}`))
      : Effect.succeed(value)

  const jitter = ReplyJitter.make(patience.maxJitterMillis)

  /** A grant's delay evened out by `jitter` (see `ReplyJitter`); other answers as they are. */
  const evened = (
    answer: Answer<Script.Reply>
  ): Effect.Effect<LimiterStore.Reservation, RateLimiterUnavailableError> => {
    const reservation = Script.decodeReservation(answer.reply)
    if (reservation?._tag !== "Granted") return decoded(reservation, answer.reply)
    const redisNow = Script.redisNowOf(answer.reply)
    if (redisNow === undefined) return Effect.succeed(reservation)
    const { delayMillis, overdueMillis } = jitter.delay(
      reservation.delayMillis,
      redisNow,
      answer.arrival,
      performance.now()
    )
    return Effect.succeed({ ...reservation, delayMillis, overdueMillis })
  }

  return {
    backend: "redis",
    selfBounded: true,
    reserve: (request) => {
      const blockKey = Own.get(request, "blockKey")
      const items = Own.get(request, "items") ?? []
      if (items.length === 0 && blockKey === undefined) {
        return Effect.succeed({ _tag: "Granted", delayMillis: 0 })
      }
      const maxWaitMillis = Own.get(request, "maxWaitMillis") ?? 0
      return call((s) => {
        // A grant may be held back up to J more: the wait Redis may book leaves room for it.
        const bookable = Math.max(0, maxWaitMillis - jitter.current())
        const [keys, args] = Script.reserveArgs(names, items, blockKey, bookable)
        return Effect.flatMap(s.reserve(keys, args, wait(maxWaitMillis)), evened)
      })
    },
    cancel: (request) => {
      const items = Own.get(request, "items") ?? []
      if (items.length === 0) return Effect.void
      const [keys, args] = Script.cancelArgs(names, items, request.at)
      return call((s) => Effect.asVoid(s.cancel(keys, args, wait())))
    },
    block: (key, millis) =>
      call((s) => Effect.asVoid(s.block([names.block(key)], [Script.redisTime, Script.arg(millis)], wait()))),
    lease: (request) =>
      call((s) =>
        Effect.flatMap(
          s.lease(
            [names.lease(request.id)],
            [Script.redisTime, Script.arg(request.max), request.token, Script.arg(request.leaseMillis)],
            wait(Own.get(request, "maxWaitMillis"))
          ),
          (answer) => decoded(Script.decodeLease(answer.reply), answer.reply)
        )
      ),
    release: (id, token) => call((s) => s.zrem(names.lease(id), token, wait()))
  } satisfies LimiterStore.Store
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

/**
 * Every option node-redis reads, at the client and socket level, and every
 * connect option Node's `net` reads on what node-redis passes it: node-redis
 * and Node read options with plain property access (and node-redis tests
 * `"path" in socket`), so an absent option would be taken from a polluted
 * `Object.prototype` (a `database`, `password`, `tls`, `readonly` or Unix
 * socket `path` nobody asked for). Each is an own key here, `undefined` unless
 * meant. `RedisClient.open` and node-redis spread these objects into new
 * ones, which keeps own keys; a prototype-less object would not survive that
 * spread.
 */
const notMeant = {
  client: [
    "username",
    "password",
    "credentialsProvider",
    "name",
    "database",
    "keyPrefix",
    "commandsQueueMaxLength",
    "readonly",
    "commandOptions",
    "clientSideCache",
    "himportRegistry",
    "disableClientInfo",
    "clientInfoTag",
    "emitInvalidate",
    "maintNotifications",
    "maintEndpointType",
    "maintRelaxedCommandTimeout",
    "maintRelaxedSocketTimeout",
    "RESP",
    "modules",
    "functions",
    "scripts"
  ],
  socket: [
    // Own and `undefined`: node-redis then takes its Unix socket branch, which passes host and port to
    // `net` as they are (so both are set below), and `net` connects over TCP as `path` is empty.
    "path",
    "family",
    "localAddress",
    "localPort",
    "hints",
    "lookup",
    "autoSelectFamily",
    "autoSelectFamilyAttemptTimeout",
    "fd",
    "allowHalfOpen",
    "signal",
    "blockList",
    "servername",
    "ca",
    "cert",
    "key",
    "rejectUnauthorized",
    "checkServerIdentity",
    // No socket idle timeout: Node's timer fires after a stall of the event loop before the answer that came
    // meanwhile is read. A silent Redis is found by stall-tolerant deadlines instead (see `connect`).
    "socketTimeout"
  ]
} as const

/**
 * The TLS options of a `rediss:` connection, own keys set to what verifies:
 * the certificate checked against Node's CAs, and the host against the
 * certificate by Node's own check. `tls.connect` spreads its options over its
 * defaults, so these cannot be left `undefined` like the rest: an `undefined`
 * `checkServerIdentity` made every TLS connection fail before it was opened.
 */
const verified = { rejectUnauthorized: true, checkServerIdentity }

/** `names` as own keys, each `undefined`. */
const unset = (names: ReadonlyArray<string>) => Object.fromEntries(names.map((name) => [name, undefined]))

/**
 * The options of the store's node-redis client for `url`: `meant`, the
 * socket's host, port and TLS from the URL, and every other option node-redis
 * or `net` reads as an own key left `undefined` (see `notMeant`).
 */
const clientOptions = (
  url: string,
  meant: {
    readonly disableOfflineQueue: boolean
    readonly pingInterval: number
    readonly socket: {
      readonly connectTimeout: number
      readonly reconnectStrategy: (retries: number, cause: Error) => number | Error
    }
  }
): RedisClient.Options => {
  const parsed = new URL(url)
  const tls = parsed.protocol === "rediss:"
  return {
    ...unset(notMeant.client),
    url,
    disableOfflineQueue: meant.disableOfflineQueue,
    pingInterval: meant.pingInterval,
    socket: {
      ...unset(tls ? notMeant.socket.filter((name) => !Object.hasOwn(verified, name)) : notMeant.socket),
      ...(tls ? verified : {}),
      host: parsed.hostname.replace(/^\[|\]$/g, ""),
      port: parsed.port === "" ? 6379 : Number(parsed.port),
      tls,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 5_000,
      ...meant.socket
    }
    // The `undefined` entries are what the types call absent options.
  } as RedisClient.Options
}

/**
 * Suspends until node-redis gives up on `client` for good (or it is closed);
 * gives the error that ended it, when one did.
 */
const terminated = (client: NodeRedis.NodeRedis["Service"]["client"]): Effect.Effect<unknown> =>
  Effect.callback<unknown>((resume) => {
    if (!client.isOpen) return resume(Effect.undefined)
    const done = (cause?: unknown) => resume(Effect.succeed(cause))
    client.once("terminated", done)
    client.once("end", done)
    return Effect.sync(() => {
      client.off("terminated", done)
      client.off("end", done)
    })
  })

/**
 * Pings `client` every `everyMillis`, and calls `silent` when a ping gets no
 * answer within `waitMillis`, both in time this process was free to read the
 * answer (`LagTimer`): a stalled event loop is not a silent Redis. Answers go
 * to `roundTrips`.
 */
const watch = (
  client: NodeClient,
  everyMillis: number,
  waitMillis: number,
  roundTrips: RoundTrips.RoundTrips,
  silent: () => void
): Effect.Effect<never> =>
  Effect.forever(Effect.andThen(
    LagTimer.sleep(everyMillis),
    Effect.callback<void>((resume) => {
      let settled = false
      const settle = (then: () => void) => {
        if (settled) return
        settled = true
        cancel()
        then()
        resume(Effect.void)
      }
      const sent = performance.now()
      const cancel = LagTimer.after(waitMillis, () => settle(silent))
      client.sendCommand(["PING"]).then(
        () => {
          roundTrips.record(performance.now() - sent)
          settle(() => {})
        },
        () => settle(() => {})
      )
      return Effect.sync(() => {
        settled = true
        cancel()
      })
    })
  ))

/**
 * Why a connection attempt failed, in the words of the store's messages;
 * `notRedis` when the server answered in something other than RESP.
 */
interface AttemptFailure {
  readonly _tag: "AttemptFailure"
  readonly reason: string
  readonly notRedis: boolean
}

/**
 * What the store says of a reply stream node-redis could not read: the
 * server answered in something other than Redis's protocol (not Redis at
 * all, or a stream corrupted on the way).
 */
const notRedis = (detail: string) =>
  `the server there answered in something other than Redis's protocol (RESP): ${detail}`

const isAttemptFailure = (error: unknown): error is AttemptFailure =>
  typeof error === "object" && error !== null && (error as { readonly _tag?: unknown })._tag === "AttemptFailure"

/**
 * Keeps one node-redis connection up in a background fiber for the life of
 * the scope, and says which session to use now (or why there is none).
 *
 * Each connection is made here, node-redis never reconnecting by itself, so
 * every attempt has the same bound: `connectTimeout` for the TCP connect, the
 * handshake and a first `PING` together. Once connected, only a lost socket,
 * a reply stream node-redis cannot read, or Redis's silence drops it:
 * node-redis gets no socket idle timeout (Node's timer fires after a stall of
 * the event loop before the answer that came meanwhile is read, and dropped
 * healthy connections); a ping every quarter of `connectTimeout` left
 * unanswered for `connectTimeout` drops it instead, both timed by `LagTimer`.
 * A reply that is not RESP, during the handshake (a server that is not Redis)
 * or later, ends the connection at once (`RedisClient.open`): calls fail at
 * once, saying so, rather than wait for answers that cannot come.
 */
const connect = Effect.fnUntraced(function*(
  url: string,
  durations: Durations,
  redact: (text: string) => string,
  roundTrips: RoundTrips.RoundTrips
) {
  const connectTimeout = durations.connectTimeoutMillis
  const maxBackoff = durations.maxBackoffMillis
  const where = Redact.url(url)
  let current: Session | undefined
  let lastError = "no connection attempt yet"
  /** A connection was lost (and said so) and none is up again yet. */
  let lost = false
  const firstAttempt = yield* Deferred.make<void>()
  const log = Effect.runSyncWith(yield* Effect.context<never>())

  const attempt = Effect.gen(function*() {
    let up = false
    let closing = false
    /** What node-redis first reported on this connection, and whether its reply stream broke. */
    let fault: AttemptFailure | undefined
    /** The connection is gone, for `reason`: calls fail at once until the next one is up. */
    const gone = (reason: string) => {
      if (closing || !up) return
      up = false
      lost = true
      lastError = reason
      log(Effect.logWarning(`RedisStore: lost the connection to ${where}, reconnecting: ${lastError}`))
    }
    const failed = (cause: unknown): AttemptFailure =>
      fault ?? { _tag: "AttemptFailure", reason: describe(cause, redact), notRedis: false }
    const client = yield* Effect.raceFirst(
      RedisClient.open(
        clientOptions(url, {
          disableOfflineQueue: true,
          // The store pings itself (`watch`), with a deadline that a stalled event loop does not trip.
          pingInterval: 0,
          socket: {
            // Node's timer, a backstop only: the deadline below ends a silent attempt first.
            connectTimeout: LagTimer.ceilingMillis(connectTimeout),
            // A connection lost ends this attempt; the loop below makes the next one.
            reconnectStrategy: (_retries: number, cause: Error) =>
              cause instanceof Error ? cause : new Error(String(cause))
          }
        }),
        (error, unreadable) => {
          const reason = unreadable ? notRedis(describe(error, redact)) : describe(error, redact)
          fault ??= { _tag: "AttemptFailure", reason, notRedis: unreadable }
          gone(reason)
        }
      ).pipe(
        // A first round trip: a Redis slow from the start is waited for from the first call. The scripts are
        // loaded with it, in the same round trip, so that a first call after a `SCRIPT FLUSH` or a restart does not
        // spend two round trips of its budget (`NOSCRIPT`, then `EVAL`); a server that refuses `SCRIPT LOAD` (an
        // ACL) still runs them by `EVAL`.
        Effect.tap((client) =>
          Effect.suspend(() => {
            const sent = performance.now()
            const ping = client.sendCommand(["PING"]).then(() => roundTrips.record(performance.now() - sent))
            const loads = scripts.map((script) =>
              client.sendCommand(["SCRIPT", "LOAD", script.lua]).then(() => undefined, () => undefined)
            )
            return Effect.tryPromise({ try: () => Promise.all([ping, ...loads]), catch: (cause) => cause })
          })
        ),
        Effect.mapError(failed)
      ),
      // Interrupting the attempt leaves the half-made client to the scope, which destroys it, handshake or not.
      Effect.andThen(
        LagTimer.sleep(connectTimeout),
        Effect.suspend(() => Effect.fail(failed(new Error(`no answer within ${connectTimeout} ms while connecting`))))
      )
    )
    // node-redis may have given up on it between its first answer and here.
    if (fault !== undefined) return yield* Effect.fail(fault)
    up = true
    // Runs before the client's own finalizer.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
        current = undefined
        client.destroy()
      })
    )
    current = directSession(
      client,
      () => up ? undefined : `not connected to Redis at ${where} (reconnecting): ${lastError}`,
      redact,
      roundTrips
    )
    if (lost) {
      lost = false
      yield* Effect.logInfo(`RedisStore: connection to ${where} restored`)
    }
    yield* Effect.logDebug(`RedisStore: connected to ${where}`)
    yield* Deferred.succeed(firstAttempt, undefined)
    yield* Effect.forkScoped(
      watch(client, Math.max(100, Math.round(connectTimeout / 4)), connectTimeout, roundTrips, () => {
        gone(`no answer from Redis within ${connectTimeout} ms`)
        client.destroy()
      })
    )
    const cause = yield* terminated(client)
    // node-redis tells why before its `error` event, which may come after this attempt has ended.
    if (cause !== undefined) {
      gone(describe(cause instanceof Error && "socketError" in cause ? cause.socketError : cause, redact))
    }
    if (up) lastError = "the connection was closed"
  })

  yield* Effect.forkScoped(Effect.gen(function*() {
    let failures = 0
    while (true) {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(Effect.scoped(attempt))
      current = undefined
      let notRedisNow = false
      if (exit._tag === "Failure") {
        const error = Cause.squash(exit.cause)
        const failure = isAttemptFailure(error) ? error : undefined
        lastError = failure?.reason ?? describe(error, redact)
        notRedisNow = failure?.notRedis === true
      }
      // Only once the reason is known: a layer waiting for the first attempt then reports it.
      yield* Deferred.succeed(firstAttempt, undefined)
      if (exit._tag === "Failure") {
        // A lost connection was reported already.
        if (failures === 0 && !lost) {
          yield* Effect.logWarning(
            notRedisNow
              ? `RedisStore: no Redis at ${where}, retrying: ${lastError}`
              : `RedisStore: cannot reach Redis at ${where}, retrying: ${lastError}`
          )
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

/**
 * The Redis URL given to the store is not one it can use: not a URL, a
 * scheme other than `redis:` or `rediss:`, no host, port 0, or a path that
 * is not a database number. `url` is the text received with its credentials
 * redacted; the message is in the shape of every httpkit configuration
 * error: `invalid Redis store configuration: REDIS_URL is "http://REDACTED@host/",
 * expected a URL redis://[[user]:password@]host[:port][/db], or rediss:// for TLS, not http://`.
 *
 * @category errors
 * @since 0.1.0
 */
export class RedisUrlError extends Own.fields(
  Schema.TaggedError<RedisUrlError>()("RedisUrlError", {
    /** Where the URL came from: `url` (the option) or `REDIS_URL` (`layerConfig`). */
    setting: Schema.String,
    /** The URL received, credentials redacted. */
    url: Schema.String,
    /** What the store takes instead. */
    expected: Schema.String
  })
) {
  override get message(): string {
    return ConfigProblem.message("Redis store configuration", [{
      setting: this.setting,
      received: JSON.stringify(this.url),
      expected: this.expected
    }])
  }
}

/** The URL as a string, checked to be a Redis URL the store can use. */
const checkedUrl = (
  input: string | Redacted.Redacted<string> | undefined,
  setting: string
): Effect.Effect<string, RedisUrlError> => {
  const url = input === undefined ? defaultUrl : typeof input === "string" ? input : Redacted.value(input)
  const expected = RedisUrl.problem(url)
  return expected === undefined
    ? Effect.succeed(url)
    : Effect.fail(new RedisUrlError({ setting, url: RedisUrl.redacted(url), expected }))
}

const makeFrom = (
  options: Options,
  setting: string
): Effect.Effect<LimiterStore.Store, RedisUrlError | PolicyError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* checkedUrl(Own.get(options, "url"), setting)
    const durations = yield* durationsOf(options)
    const redact = redactorFor(url)
    const roundTrips = RoundTrips.make()
    const current = yield* connect(url, durations, redact, roundTrips)
    return GuardedStore.trusted(makeStore(current, options, durations, roundTrips, redact))
  })

/**
 * A store that owns its Redis connection for the life of the scope. Once
 * built it never fails: while Redis is away, calls fail with
 * `RateLimiterUnavailableError` and the connection is retried in the
 * background. A `url` that is not a Redis URL fails it at once with
 * `RedisUrlError`; a duration option that is no duration (`"250ms"`, `"2s"`
 * and any `Duration.Input` are) with `PolicyError`, before anything connects.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<LimiterStore.Store, RedisUrlError | PolicyError, Scope.Scope> => makeFrom(options, "url")

/**
 * A store on a `Redis` service from the context (for users who already have
 * one; its offline queue and reconnection policy apply). Calls are still
 * bounded by `timeout` and `maxTimeout`, and grants evened out up to
 * `maxJitter`; one that is no duration fails with `PolicyError`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRedis = (options: RedisOptions = {}): Effect.Effect<LimiterStore.Store, PolicyError, Redis.Redis> =>
  Effect.gen(function*() {
    // Only `timeout`, `maxTimeout` and `maxJitter` are read here: the connection is the caller's.
    const patience = yield* durationsOf({
      timeout: Own.get(options, "timeout"),
      maxTimeout: Own.get(options, "maxTimeout"),
      maxJitter: Own.get(options, "maxJitter")
    })
    const redis = yield* Effect.service(Redis.Redis)
    // With node-redis's own client in context too (`NodeRedis.layer` provides both), scripts take the direct path.
    const node = yield* Effect.serviceOption(NodeRedis.NodeRedis)
    const roundTrips = RoundTrips.make()
    const now = node._tag === "Some"
      ? directSession(node.value.client, () => undefined, identity, roundTrips)
      : session(redis, identity, roundTrips)
    return GuardedStore.trusted(makeStore(() => now, options, patience, roundTrips, identity))
  })

/**
 * The Redis store as a layer, owning its connection.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LimiterStore.LimiterStore, RedisUrlError | PolicyError> =>
  Layer.effect(LimiterStore.LimiterStore, make(options))

/**
 * The Redis store as a layer, reading the URL from `REDIS_URL` (default
 * `redis://127.0.0.1:6379`), kept redacted; a value that is not a Redis URL
 * fails it with a `RedisUrlError` naming `REDIS_URL`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Omit<Options, "url"> = {}
): Layer.Layer<LimiterStore.LimiterStore, Config.ConfigError | RedisUrlError | PolicyError> =>
  Layer.effect(
    LimiterStore.LimiterStore,
    Effect.gen(function*() {
      const url = yield* Config.Redacted("REDIS_URL").pipe(Config.withDefault(Redacted.make(defaultUrl)))
      return yield* makeFrom({ ...options, url }, "REDIS_URL")
    })
  )

/**
 * The Redis store as a layer, on a `Redis` service you provide (for example
 * `NodeRedis.layer`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (
  options: RedisOptions = {}
): Layer.Layer<LimiterStore.LimiterStore, PolicyError, Redis.Redis> =>
  Layer.effect(LimiterStore.LimiterStore, makeRedis(options))

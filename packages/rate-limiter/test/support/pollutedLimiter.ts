/**
 * Builds and uses the limiter as a user would (memory store on `TestClock`,
 * Redis, the local SQLite store, `ServerFeedback`, the client hook) and
 * describes what it saw as plain data: every outcome, the resolved policies,
 * the errors' own fields, the Redis keys written, the file created. It does
 * so once with a clean `Object.prototype`, then once per case with
 * `Object.prototype[name]` set to a hostile value (deleted again in a
 * `finally`), and prints one JSON line per run: `{ name, seen }` (`name` is
 * `null` for the clean run).
 *
 * `node pollutedLimiter.ts <redisUrl> <folder> <cases>`, where `cases` is a
 * JSON array of `{ "name": string, "value": unknown, "skipRedis"?: true }`
 * (`skipRedis` for a name that breaks Node's sockets whoever reads it). A
 * child process of its own, because a polluted prototype must not reach the
 * test runner.
 */
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { createClient } from "redis"
import * as ClientRateLimit from "../../src/ClientRateLimit.ts"
import { RateLimiterUnavailableError } from "../../src/index.ts"
import * as LimiterStore from "../../src/LimiterStore.ts"
import * as LocalStore from "../../src/LocalStore.ts"
import * as Policy from "../../src/Policy.ts"
import * as RateLimiter from "../../src/RateLimiter.ts"
import * as RedisStore from "../../src/RedisStore.ts"
import * as ServerFeedback from "../../src/ServerFeedback.ts"

const [redisUrl, folder, casesText] = process.argv.slice(2)
const cases = JSON.parse(casesText!) as ReadonlyArray<
  { readonly name: string; readonly value: unknown; readonly skipRedis?: boolean }
>

/** An error's own fields and message, or `ok`. */
const describeExit = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return exit.value === undefined ? "ok" : exit.value
  const error = Exit.isFailure(exit) ? exit.cause : undefined
  const failure = (error as { readonly reasons?: ReadonlyArray<{ readonly error?: unknown }> } | undefined)?.reasons
    ?.[0]?.error
  if (typeof failure !== "object" || failure === null) return `defect: ${String(error)}`
  const own: Record<string, unknown> = {}
  for (const key of Object.keys(failure).toSorted()) own[key] = (failure as Record<string, unknown>)[key]
  return { own, message: (failure as Error).message }
}

/** Runs `effect` and describes how it ended. */
const outcome = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.map(Effect.exit(effect), describeExit)

/** `outcome` on a real clock: the same, without the times in it (they vary from run to run). */
const liveOutcome = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(
    outcome(effect),
    (seen) =>
      JSON.parse(JSON.stringify(seen, (key, value) =>
        key === "waitedMillis" || key === "retryAfterMillis" ? typeof value : key === "message" ? undefined : value))
  )

/** What the flaky store does now. */
interface Mode {
  current: "ok" | "fail" | "hang"
}

/** `effect` while `mode` is `ok`; else a failure (its error made without a prototype) or a hang. */
const guarded = <A>(mode: Mode, effect: Effect.Effect<A, never>) =>
  Effect.suspend(() =>
    mode.current === "ok"
      ? effect
      : mode.current === "hang"
      ? Effect.never
      : Effect.fail(
        new RateLimiterUnavailableError(
          Object.assign(Object.create(null), { backend: "flaky", retryable: true, detail: "down" })
        )
      )
  )

/** A store whose calls fail or hang while `mode` says so, else a memory store; it bounds nothing itself. */
const flakyStore = (mode: Mode) =>
  Effect.map(LimiterStore.makeMemory(), (memory): LimiterStore.Store => {
    return {
      backend: "flaky",
      reserve: (request) => guarded(mode, memory.reserve(request) as Effect.Effect<LimiterStore.Reservation>),
      block: (key, millis) => guarded(mode, memory.block(key, millis) as Effect.Effect<void>),
      lease: (request) => guarded(mode, memory.lease(request) as Effect.Effect<LimiterStore.LeaseResult>),
      release: (id, token) => guarded(mode, memory.release(id, token) as Effect.Effect<void>)
    }
  })

/** The memory-store half, on `TestClock`: every outcome is exact. */
const onTestClock = Effect.gen(function*() {
  const seen: Record<string, unknown> = {}
  const memory = Layer.effect(LimiterStore.LimiterStore, LimiterStore.makeMemory())
  const policies = [
    Policy.rate({ limit: 20, window: { seconds: 1 } }),
    Policy.window({ limit: 3, window: "1 minute", keyBy: "global", name: "w3" }),
    Policy.concurrency({ max: 2 })
  ]
  seen.policies = policies

  const limiter = yield* RateLimiter.make({ policies }).pipe(Effect.provide(memory))
  const fibers = yield* Effect.forEach(
    [0, 1, 2],
    () => Effect.forkChild(outcome(Effect.scoped(limiter.acquire({ url: "http://a.test/x" }))))
  )
  yield* TestClock.adjust(1_000)
  seen.waited = yield* Fiber.joinAll(fibers)
  seen.refused = yield* outcome(Effect.scoped(limiter.acquire({ key: "k", maxWait: "10 millis" })))

  const plain = yield* RateLimiter.make({
    policies: [Policy.window({ limit: 5, window: "1 minute" })],
    onLimit: "fail"
  })
    .pipe(Effect.provide(memory))
  seen.noOptions = yield* outcome(Effect.scoped(plain.acquire()))

  const tokens = yield* RateLimiter.make({
    policies: [Policy.window({ limit: 10, window: "1 minute", unit: "tokens", keyBy: "global" })],
    onLimit: "fail"
  }).pipe(Effect.provide(memory))
  seen.tokens = [yield* outcome(Effect.scoped(tokens.acquire({}))), yield* outcome(Effect.scoped(tokens.acquire({})))]

  const feedback = yield* RateLimiter.make({
    policies: [Policy.rate({ limit: 100, window: "1 second", burst: 100 })],
    onLimit: "fail"
  }).pipe(Effect.provide(memory))
  yield* feedback.observe({ url: "http://b.test/", status: 200, headers: {} })
  seen.afterOk = yield* outcome(Effect.scoped(feedback.acquire({ url: "http://b.test/" })))
  yield* feedback.observe({ url: "http://b.test/", status: 429, headers: { "retry-after": "2" } })
  seen.after429 = yield* outcome(Effect.scoped(feedback.acquire({ url: "http://b.test/" })))

  const mode: Mode = { current: "fail" }
  const flaky = Layer.effect(LimiterStore.LimiterStore, flakyStore(mode))
  const closed = yield* RateLimiter.make({ policies: [Policy.window({ limit: 2, window: "1 minute" })] }).pipe(
    Effect.provide(flaky)
  )
  seen.failClosed = yield* outcome(Effect.scoped(closed.acquire({ key: "f" })))
  const open = yield* RateLimiter.make({
    policies: [Policy.window({ limit: 2, window: "1 minute", keyBy: "global" })],
    onStoreFailure: "local",
    onLimit: "fail"
  }).pipe(Effect.provide(flaky))
  seen.fallback = yield* Effect.forEach([0, 1, 2], () => outcome(Effect.scoped(open.acquire({ key: "f" }))))
  mode.current = "ok"
  yield* TestClock.adjust(500)
  seen.beforeRetryStoreAfter = yield* outcome(Effect.scoped(open.acquire({ key: "f" })))
  mode.current = "hang"
  const hanging = yield* Effect.forkChild(outcome(Effect.scoped(closed.acquire({ key: "h" }))))
  yield* TestClock.adjust(2_000)
  seen.hanging = hanging.pollUnsafe() === undefined ? "still waiting" : yield* Fiber.join(hanging)
  yield* Fiber.interrupt(hanging)

  const hooked = yield* RateLimiter.make({
    policies: [Policy.window({ limit: 1, window: "1 minute" })],
    onLimit: "fail"
  })
    .pipe(Effect.provide(memory))
  const hook = ClientRateLimit.hook(hooked)
  const request = {
    method: "GET",
    url: new URL("http://c.test/"),
    key: undefined,
    tokens: 1,
    attempt: 1,
    maxWaitMillis: 0,
    context: { method: "GET", url: "http://c.test/", requestId: "r1" }
  }
  seen.hook = [
    yield* outcome(hook.around(request, Effect.succeed("sent"))),
    yield* outcome(hook.around(request, Effect.succeed("sent")))
  ]
  return seen
}).pipe(Effect.provide(TestClock.layer()))

/** `ServerFeedback`, pure. */
const feedback = () => {
  const now = 1_700_000_000_000
  const empty = ServerFeedback.parse({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "5" }, { now })
  const nothing = ServerFeedback.parse({}, { now })
  return {
    empty,
    nothing,
    holdEmpty429: ServerFeedback.holdOff(empty, { status: 429 }),
    holdEmpty200: ServerFeedback.holdOff(empty, { status: 200 }),
    holdNothing429: ServerFeedback.holdOff(nothing, { status: 429 }),
    holdNothing200: ServerFeedback.holdOff(nothing, { status: 200 }),
    exhausted: ServerFeedback.isExhausted({ unit: "tokens", remaining: 5, source: "openai" })
  }
}

/**
 * The Redis and local halves, live; the Redis keys are listed after the
 * prototype is clean again. `skipRedis` leaves Redis out (for a name that
 * breaks Node's sockets themselves).
 */
const live = (run: number, skipRedis: boolean) =>
  Effect.gen(function*() {
    const seen: Record<string, unknown> = {}
    const prefix = `httpkit:test:polluted:${process.pid}:${run}:`
    if (skipRedis) {
      seen.redis = "skipped"
      return { seen, prefix, path: yield* localHalf(run, seen) }
    }
    // Stores built in this scope (a layer provided around `make` would close them when `make` returns).
    const redis = yield* RedisStore.make({ url: redisUrl!, prefix })
    const shared = yield* RateLimiter.make({
      policies: [Policy.window({ limit: 2, window: "1 minute", keyBy: "global" }), Policy.concurrency({ max: 1 })],
      onLimit: "fail"
    }).pipe(Effect.provideService(LimiterStore.LimiterStore, redis))
    seen.redis = yield* Effect.forEach([0, 1, 2], () => liveOutcome(Effect.scoped(shared.acquire({ key: "r" }))))
    return { seen, prefix, path: yield* localHalf(run, seen) }
  }).pipe(Effect.scoped)

/** The local store's part of `live`: a limiter on a fresh file; returns the file's path. */
const localHalf = (run: number, seen: Record<string, unknown>) =>
  Effect.gen(function*() {
    const path = Path.join(folder!, `run-${run}`, "limits.sqlite")
    const localStore = yield* LocalStore.make({ path })
    const local = yield* RateLimiter.make({
      policies: [Policy.window({ limit: 1, window: "1 minute" })],
      onLimit: "fail"
    })
      .pipe(Effect.provideService(LimiterStore.LimiterStore, localStore))
    seen.local = [
      yield* liveOutcome(Effect.scoped(local.acquire({ key: "l" }))),
      yield* liveOutcome(Effect.scoped(local.acquire({ key: "l" })))
    ]
    return path
  })

/** The keys under `prefix` (their kind letters), from a client made with a clean prototype. */
const keysUnder = async (prefix: string) => {
  const client = await createClient({ url: redisUrl! }).connect()
  try {
    const found: Array<string> = []
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of batch) found.push(key.slice(prefix.length, prefix.length + 2))
    }
    return found.toSorted()
  } finally {
    client.destroy()
  }
}

/** `promise`, or a rejection after `seconds` of real time (a run that hangs is an outcome too). */
const withinSeconds = <A>(seconds: number, promise: Promise<A>): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no outcome within ${seconds} s`)), seconds * 1_000)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** One run: with `Object.prototype[name]` set to `value` while the limiter is built and used, when `name` is given. */
const runOnce = async (run: number, name: string | null, value: unknown, skipRedis = false) => {
  const prototype = Object.prototype as Record<string, unknown>
  let result: { seen: Record<string, unknown>; prefix: string; path: string }
  let clock: Record<string, unknown>
  let pure: Record<string, unknown>
  if (name !== null) prototype[name] = value
  try {
    clock = await withinSeconds(20, Effect.runPromise(onTestClock))
    pure = feedback()
    result = await withinSeconds(20, Effect.runPromise(live(run, skipRedis)))
  } finally {
    if (name !== null) delete prototype[name]
  }
  const seen = {
    clock,
    feedback: JSON.parse(JSON.stringify(pure)),
    ...JSON.parse(JSON.stringify(result.seen)),
    redisKeys: skipRedis ? "skipped" : await keysUnder(result.prefix),
    localFile: Fs.existsSync(result.path)
  }
  process.stdout.write(`${JSON.stringify({ name, seen: JSON.parse(JSON.stringify(seen)) })}\n`)
}

await runOnce(0, null, undefined)
for (const [index, { name, skipRedis, value }] of cases.entries()) {
  try {
    await runOnce(index + 1, name, value, skipRedis === true)
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ name, seen: `threw: ${String(error)}` })}\n`)
  }
}
process.exit(0)

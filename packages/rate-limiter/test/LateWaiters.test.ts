/**
 * RELIABILITY 21 (a busy machine never breaks a limit): a waiter whose booked
 * slot passes while the event loop is stalled must not go on it, whether or
 * not its own wait deadline passed during the stall: by the time it wakes the
 * window may hold others booked since. It books again (without waiting, past
 * its deadline), and a refused or unanswered rebooking fails as a first
 * booking would. Real time and a real stall (a busy loop in this process),
 * since stalls are the point; the memory and the local SQLite stores.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { RateLimiterUnavailableError } from "../src/index.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as LocalStore from "../src/LocalStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import { blockEventLoop } from "./support/stall.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-late-waiters-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

const backends: ReadonlyArray<readonly [string, () => Layer.Layer<LimiterStore.LimiterStore, unknown>]> = [
  ["memory", () => LimiterStore.layerMemory()],
  ["local", () => LocalStore.layer({ path: Path.join(root, `${crypto.randomUUID()}.sqlite`) })]
]

/**
 * A window of 4 per second, global. Four go at once; three waiters with
 * `maxWait` 1.5 s book the slots at 1 s, 1.25 s and 1.5 s; the loop is then
 * blocked 2.6 s, so every booked slot (and every waiter's deadline) passes
 * during the stall, and the window is empty when it ends. Four fresh callers
 * ask right after. Returns how many went in the 900 ms after the stall (the
 * next slot after a burst of 4 is a whole window later), and the waiters'
 * outcomes.
 */
const stalledWaiters = (store: Layer.Layer<LimiterStore.LimiterStore, unknown>, maxLateness?: false) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({
      policies: [Policy.window({ limit: 4, window: "1 second", keyBy: "global" })],
      ...(maxLateness === undefined ? {} : { maxLateness })
    })
    const went: Array<number> = []
    const take = (maxWait?: number) =>
      limiter.withPermit(
        Effect.sync(() => void went.push(performance.now())),
        maxWait === undefined ? {} : { maxWait }
      ).pipe(Effect.as("ok"), Effect.catch((error) => Effect.succeed(error._tag)))
    yield* Effect.forEach([1, 2, 3, 4], () => take(), { concurrency: "unbounded" })
    const waiters = yield* Effect.forkChild(Effect.forEach([1, 2, 3], () => take(1_500), { concurrency: "unbounded" }))
    // Let the waiters book their slots, then stall past all of them.
    yield* Effect.sleep(20)
    blockEventLoop(2_600)
    const unblocked = performance.now()
    const fresh = yield* Effect.forkChild(Effect.forEach([1, 2, 3, 4], () => take(), { concurrency: "unbounded" }))
    const waited = yield* Fiber.join(waiters)
    const freshOutcomes = yield* Fiber.join(fresh)
    const afterStall = went.filter((at) => at >= unblocked && at < unblocked + 900).length
    return { afterStall, waited, freshOutcomes }
  }).pipe(Effect.provide(store))

describe("RateLimiter: a waiter whose slot passes during a stall", () => {
  for (const [name, store] of backends) {
    it.live(
      `${name}: a window of 4 per second, waiters whose maxWait (1.5 s) passes in a 2.6 s stall book again without waiting: 4 go in the 900 ms after it, not 7`,
      () =>
        Effect.gen(function*() {
          const { afterStall, freshOutcomes, waited } = yield* stalledWaiters(store())
          assert.strictEqual(afterStall, 4, `went after the stall: ${afterStall}`)
          // The fresh callers may wait; a waiter past its deadline gets a slot free at once or is refused.
          assert.deepStrictEqual(freshOutcomes, ["ok", "ok", "ok", "ok"])
          for (const outcome of waited) assert.oneOf(outcome, ["ok", "RateLimitExceededError"])
        }),
      30_000
    )
  }

  it.live(
    "the control: with maxLateness false, the waiters go on their passed slots: more than 4 (7) in the 900 ms after the stall",
    () =>
      Effect.gen(function*() {
        const { afterStall, waited } = yield* stalledWaiters(LimiterStore.layerMemory(), false)
        assert.isAbove(afterStall, 4)
        assert.deepStrictEqual(waited, ["ok", "ok", "ok"])
      }),
    30_000
  )

  it.live(
    "a waiter woken 400 ms late whose rebooking the store cannot answer fails with RateLimiterUnavailableError (onStoreFailure \"fail\"), or takes the local fallback (\"local\")",
    () =>
      Effect.gen(function*() {
        for (const onStoreFailure of ["fail", "local"] as const) {
          const failing = yield* Ref.make(false)
          const memory = yield* LimiterStore.makeMemory()
          const store: LimiterStore.Store = {
            ...memory,
            backend: "redis",
            reserve: (request) =>
              Effect.flatMap(Ref.get(failing), (fails) =>
                fails
                  ? Effect.fail(new RateLimiterUnavailableError({ backend: "redis", retryable: true, detail: "down" }))
                  : memory.reserve(request))
          }
          const limiter = yield* RateLimiter.make({
            policies: [Policy.window({ limit: 1, window: "500 millis", keyBy: "global" })],
            maxWait: "10 seconds",
            onStoreFailure
          }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))
          yield* limiter.withPermit(Effect.void)
          // Books the slot at 500 ms, then sleeps until it.
          const waiter = yield* Effect.forkChild(
            limiter.withPermit(Effect.succeed("went")).pipe(Effect.catch((error) => Effect.succeed(error._tag)))
          )
          yield* Effect.sleep(20)
          yield* Ref.set(failing, true)
          blockEventLoop(900)
          const outcome = yield* Fiber.join(waiter)
          assert.strictEqual(outcome, onStoreFailure === "fail" ? "RateLimiterUnavailableError" : "went")
        }
      }),
    30_000
  )
})

/**
 * A store whose first answer comes after the loop was busy 400 ms inside
 * the call: a grant to go in 300 ms, `overdueMillis` as given (or none);
 * later answers come at once, overdue 0. How many times a limiter with
 * `maxLateness` 250 ms (room for timers on a loaded machine) booked.
 */
const bookings = (overdueMillis: number | undefined) =>
  Effect.gen(function*() {
    let calls = 0
    const memory = yield* LimiterStore.makeMemory()
    const store: LimiterStore.Store = {
      ...memory,
      backend: "redis",
      reserve: () =>
        Effect.sync((): LimiterStore.Reservation => {
          const first = calls++ === 0
          if (first) blockEventLoop(400)
          return overdueMillis === undefined
            ? { _tag: "Granted", delayMillis: 300 }
            : { _tag: "Granted", delayMillis: 300, overdueMillis: first ? overdueMillis : 0 }
        })
    }
    const limiter = yield* RateLimiter.make({
      policies: [Policy.window({ limit: 10, window: "1 second", keyBy: "global" })],
      maxLateness: "250 millis"
    }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))
    yield* limiter.withPermit(Effect.void)
    return calls
  })

describe("RateLimiter: a store that says how overdue its answer was (overdueMillis, as the Redis store does)", () => {
  it.live(
    "a store whose delay already counts from the busy read (overdue 0) is not late: booked once; overdue 400 ms, or no overdueMillis (the limiter's own estimate), is late and books again",
    () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* bookings(0), 1)
        // Again at least: a rebooking may itself wake late on a loaded machine.
        assert.isAtLeast(yield* bookings(400), 2)
        assert.isAtLeast(yield* bookings(undefined), 2)
      }),
    30_000
  )
})

/**
 * What one `Policy.window` reservation costs Redis when the window holds a
 * long log: a window of 100,000 an hour holding 99,000 bookings of the last
 * 30 minutes (the black-box reproduction's case), and the same window full
 * (every reservation then waits, booked ahead of the last). Next to it, the
 * same on an empty window.
 *
 * - `acquire`: one `RateLimiter.withPermit` on the Redis store, sequential
 *   (ms each, median and max).
 * - `Redis per call`: 200 reservations sent at once on one connection, so
 *   Redis runs them back to back: the span over 200 is Redis's own time for
 *   one (plus a share of the reply traffic).
 * - `PING behind`: an unrelated client's `PING` sent right behind a
 *   reservation, which waits for it (Redis runs one command at a time).
 *
 * `npm run bench -- rate-limiter-window [--bookings 99000]` (Redis at `REDIS_URL`).
 */
import * as Redact from "@httpkit/client/Redact"
import { Policy, RateLimiter } from "@httpkit/rate-limiter"
import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
import { Effect, Layer } from "effect"
import { createClient } from "redis"
import { parseFlags, positiveInt } from "../scripts/args.ts"
import { requireReachable } from "../scripts/reachable.ts"

const usage =
  `Usage: npm run bench -- rate-limiter-window [options]   (Redis at REDIS_URL, default redis://127.0.0.1:6379)

  --bookings N         bookings in the long window's log (default 99000, below its limit of 100000)
  --help               this text`

const { values } = parseFlags({
  options: {
    bookings: { type: "string", default: "99000" },
    help: { type: "boolean", default: false }
  }
}, usage)

/** What the bench uses of the store's internal scripts (not exported: loaded by path). */
interface ScriptModule {
  readonly reserve: { readonly lua: string }
  readonly keys: (prefix: string) => unknown
  readonly reserveArgs: (
    keys: unknown,
    items: ReadonlyArray<unknown>,
    blockKey: string | undefined,
    maxWaitMillis: number,
    clock?: number
  ) => readonly [ReadonlyArray<string>, ReadonlyArray<string | number>]
}
const scriptPath = "../packages/rate-limiter/src/internal/redisScript.ts"
const Script = (await import(scriptPath)) as ScriptModule

const bookings = positiveInt("--bookings", values.bookings)!
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
await requireReachable("Redis", url, Redact.url)
const limit = 100_000
const windowMillis = 3_600_000
const policy = Policy.window({ limit, window: "1 hour", keyBy: "global" })
/** The window's item as the limiter books it (its state id: the policy's name, global). */
const item = { id: `${policy.name}|*`, kind: "window", limit, windowMillis, burst: 1, cost: 1 } as const
const client = await createClient({ url }).connect()
const sha = await client.scriptLoad(Script.reserve.lua)

/** Books `count` units of the window under `prefix`, at chosen instants from `from`, `step` ms apart. */
const fill = async (prefix: string, count: number, from: number, step: number) => {
  const names = Script.keys(prefix)
  for (let i = 0; i < count; i += 1_000) {
    await Promise.all(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => {
      const [keys, args] = Script.reserveArgs(names, [item], undefined, 0, from + (i + j) * step)
      return client.evalSha(sha, { keys: [...keys], arguments: args.map(String) })
    }))
  }
}

const median = (xs: ReadonlyArray<number>) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => x < 10 ? x.toFixed(2) : x.toFixed(0)

/** Measures one case: a window under `prefix` filled by `setUp`. */
const measure = async (name: string, setUp: (prefix: string) => Promise<void>) => {
  const prefix = `httpkit:bench:wc:${Date.now()}:${Math.random().toString(36).slice(2)}:`
  await setUp(prefix)
  const Live = RateLimiter.layer({
    policies: [policy],
    maxWait: "1 hour"
  }).pipe(Layer.provide(RedisStore.layer({ url, prefix, timeout: "10 seconds", maxJitter: false })))
  const acquire: Array<number> = []
  const ping: Array<number> = []
  await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const limiter = yield* RateLimiter.RateLimiter
      // `maxWait: 0`: on the full window the call is refused (after the same search a waiter's booking does).
      const take = Effect.ignore(Effect.scoped(limiter.acquire({ maxWait: 0 })))
      for (let i = 0; i < 21; i++) {
        const started = performance.now()
        yield* take
        acquire.push(performance.now() - started)
      }
      for (let i = 0; i < 5; i++) {
        const reserving = Effect.runPromise(take)
        const started = performance.now()
        yield* Effect.promise(() => client.ping())
        ping.push(performance.now() - started)
        yield* Effect.promise(() => reserving)
      }
    })).pipe(Effect.provide(Live))
  )
  // Redis's own time: 200 reservations at once on one connection, run back to back (on the full window,
  // each books ahead of the last).
  const names = Script.keys(prefix)
  const [keys, args] = Script.reserveArgs(names, [item], undefined, 3_600_000)
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 200 }, () => client.evalSha(sha, { keys: [...keys], arguments: args.map(String) }))
  )
  const perCall = (performance.now() - started) / 200
  const count = await client.zCard(keys[0]!)
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (batch.length > 0) await client.unlink(batch)
  }
  console.log(
    `${name.padEnd(44)} acquire ${round(median(acquire))} ms (max ${round(Math.max(...acquire))})` +
      `   Redis per call ${round(perCall)} ms   PING behind ${round(median(ping))} ms   log ${count}`
  )
}

console.log(`Policy.window({ limit: 100000, window: "1 hour" }) on Redis at ${url}`)
// Once unmeasured: the first connection, script loads and compilation.
await measure("(warm-up)", async () => {})
await measure("empty window", async () => {})
await measure(`${bookings} bookings in the last 30 min`, async (prefix) => {
  await fill(prefix, bookings, Date.now() - 1_800_000, 1_800_000 / bookings)
})
await measure(`full: ${limit} bookings, every call waits`, async (prefix) => {
  await fill(prefix, limit, Date.now() - 1_800_000, 1_800_000 / limit)
})
// Waiters booked ahead (a stacked per-host rate books the global window at its later slot): a request that fits
// now goes before them, checking the span that ends at each of them and counting itself in their totals.
for (const ahead of [100, 1_000]) {
  await measure(`${bookings - ahead} bookings, ${ahead} booked ahead`, async (prefix) => {
    const now = Date.now()
    await fill(prefix, bookings - ahead, now - 1_800_000, 1_800_000 / bookings)
    await fill(prefix, ahead, now + 60_000, 600_000 / ahead)
  })
}
await client.quit()

/**
 * What one `Policy.window` reservation costs when the window holds a long
 * log: a window of 100,000 an hour holding 99,000 bookings of the last 30
 * minutes (the black-box reproduction's case), and the same window full
 * (every reservation then waits, booked ahead of the last). Next to it, the
 * same on an empty window. On Redis, and on the local store's SQLite file.
 *
 * Redis:
 *
 * - `acquire`: one `RateLimiter.withPermit` on the Redis store, sequential
 *   (ms each, median and max).
 * - `Redis per call`: 200 reservations sent at once on one connection, so
 *   Redis runs them back to back: the span over 200 is Redis's own time for
 *   one (plus a share of the reply traffic).
 * - `PING behind`: an unrelated client's `PING` sent right behind a
 *   reservation, which waits for it (Redis runs one command at a time).
 *
 * Local (SQLite):
 *
 * - `open`: opening the file (the first open of a file written in the layout
 *   of schema version 1 converts it).
 * - `acquire`: as on Redis, on `LocalStore` (median of 21, and max).
 * - `per call`: 200 reservations one after another on the store itself
 *   (median): each holds the file's write lock, and blocks its thread, that
 *   long.
 *
 * The local window is filled by writing the file in the layout of schema
 * version 1 (the log as one row), which every version reads: the bench runs
 * unchanged against the store before and after its log became a table.
 *
 * `npm run bench -- rate-limiter-window [--bookings 99000] [--stores redis,local]` (Redis at `REDIS_URL`).
 */
import * as Redact from "@httpkit/client/Redact"
import { Policy, RateLimiter } from "@httpkit/rate-limiter"
import * as LocalStore from "@httpkit/rate-limiter/LocalStore"
import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { createClient } from "redis"
import { fail, parseFlags, positiveInt } from "../scripts/args.ts"
import { requireReachable } from "../scripts/reachable.ts"

const usage =
  `Usage: npm run bench -- rate-limiter-window [options]   (Redis at REDIS_URL, default redis://127.0.0.1:6379)

  --bookings N         bookings in the long window's log (default 99000, below its limit of 100000)
  --stores LIST        redis, local or both (default redis,local)
  --help               this text`

const { values } = parseFlags({
  options: {
    bookings: { type: "string", default: "99000" },
    stores: { type: "string", default: "redis,local" },
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
const stores = values.stores.split(",").map((store) => store.trim())
for (const store of stores) {
  if (store !== "redis" && store !== "local") fail(`--stores takes redis, local or both, got ${JSON.stringify(store)}`)
}
const limit = 100_000
const windowMillis = 3_600_000
const policy = Policy.window({ limit, window: "1 hour", keyBy: "global" })
/** The window's item as the limiter books it (its state id: the policy's name, global). */
const item = { id: `${policy.name}|*`, kind: "window", limit, windowMillis, burst: 1, cost: 1 } as const

const median = (xs: ReadonlyArray<number>) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => x < 10 ? x.toFixed(2) : x.toFixed(0)

/** The bookings of one case: `count` units from `from`, `step` ms apart. */
interface Run {
  readonly count: number
  readonly from: number
  readonly step: number
}

/** The cases, as runs of bookings relative to `now` (the instant the case is set up). */
const cases: ReadonlyArray<{ readonly name: string; readonly runs: (now: number) => ReadonlyArray<Run> }> = [
  { name: "empty window", runs: () => [] },
  {
    name: `${bookings} bookings in the last 30 min`,
    runs: (now) => [{ count: bookings, from: now - 1_800_000, step: 1_800_000 / bookings }]
  },
  {
    name: `full: ${limit} bookings, every call waits`,
    runs: (now) => [{ count: limit, from: now - 1_800_000, step: 1_800_000 / limit }]
  },
  // Waiters booked ahead (a stacked per-host rate books the global window at its later slot): a request that fits
  // now goes before them, checking the span that ends at each of them and counting itself in their totals.
  ...[100, 1_000].map((ahead) => ({
    name: `${bookings - ahead} bookings, ${ahead} booked ahead`,
    runs: (now: number) => [
      { count: bookings - ahead, from: now - 1_800_000, step: 1_800_000 / bookings },
      { count: ahead, from: now + 60_000, step: 600_000 / ahead }
    ]
  }))
]

/** Acquires through `layer`: 21 one after another (ms each). */
const acquireTimes = (layer: Layer.Layer<RateLimiter.RateLimiter, unknown>) =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const limiter = yield* RateLimiter.RateLimiter
      // `maxWait: 0`: on the full window the call is refused (after the same search a waiter's booking does).
      const take = Effect.ignore(Effect.scoped(limiter.acquire({ maxWait: 0 })))
      const times: Array<number> = []
      for (let i = 0; i < 21; i++) {
        const started = performance.now()
        yield* take
        times.push(performance.now() - started)
      }
      return times
    })).pipe(Effect.provide(layer))
  )

const redis = async () => {
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
  await requireReachable("Redis", url, Redact.url)
  const client = await createClient({ url }).connect()
  const sha = await client.scriptLoad(Script.reserve.lua)

  /** Books the runs of the window under `prefix`, at chosen instants. */
  const fill = async (prefix: string, runs: ReadonlyArray<Run>) => {
    const names = Script.keys(prefix)
    for (const { count, from, step } of runs) {
      for (let i = 0; i < count; i += 1_000) {
        await Promise.all(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => {
          const [keys, args] = Script.reserveArgs(names, [item], undefined, 0, from + (i + j) * step)
          return client.evalSha(sha, { keys: [...keys], arguments: args.map(String) })
        }))
      }
    }
  }

  /** Measures one case: a window under a fresh prefix filled with `runs`. */
  const measure = async (name: string, runs: ReadonlyArray<Run>) => {
    const prefix = `httpkit:bench:wc:${Date.now()}:${Math.random().toString(36).slice(2)}:`
    await fill(prefix, runs)
    const Live = RateLimiter.layer({
      policies: [policy],
      maxWait: "1 hour"
    }).pipe(Layer.provide(RedisStore.layer({ url, prefix, timeout: "10 seconds", maxJitter: false })))
    const acquire = await acquireTimes(Live)
    const ping: Array<number> = []
    await Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const take = Effect.ignore(Effect.scoped(limiter.acquire({ maxWait: 0 })))
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
  await measure("(warm-up)", [])
  for (const { name, runs } of cases) await measure(name, runs(Date.now()))
  await client.quit()
}

/** What the bench uses of the tests' writer of files in the layout of schema version 1 (loaded by path). */
interface Version1Module {
  readonly write: (path: string, contents: {
    readonly items: ReadonlyArray<
      { readonly id: string; readonly tat: number; readonly entries: ReadonlyArray<number>; readonly expiresAt: number }
    >
  }) => void
}
const version1Path = "../packages/rate-limiter/test/support/localVersion1.ts"
const Version1 = (await import(version1Path)) as Version1Module

/**
 * A store file holding the runs' bookings in the layout of schema version 1 (the log as one row), which every
 * version of the local store reads: the earlier one as it is, later ones by converting it when they open it.
 */
const writeVersion1 = (path: string, runs: ReadonlyArray<Run>) => {
  const entries = runs.flatMap(({ count, from, step }) => Array.from({ length: count }, (_, i) => [from + i * step, 1]))
    .flat()
  Version1.write(path, {
    items: entries.length === 0 ? [] : [{ id: item.id, tat: 0, entries, expiresAt: entries.at(-2)! + windowMillis }]
  })
}

const local = async () => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-bench-window-"))
  const measure = async (name: string, runs: ReadonlyArray<Run>) => {
    const path = Path.join(folder, `${Math.random().toString(36).slice(2)}.sqlite`)
    writeVersion1(path, runs)
    const opening = performance.now()
    await Effect.runPromise(Effect.scoped(Effect.asVoid(LocalStore.make({ path, timeout: "10 seconds" }))))
    const open = performance.now() - opening
    const acquire = await acquireTimes(
      RateLimiter.layer({ policies: [policy], maxWait: "1 hour" }).pipe(
        Layer.provide(LocalStore.layer({ path, timeout: "10 seconds" }))
      )
    )
    // The store's own time: 200 reservations one after another (on the full window, each books ahead of the last).
    const perCall = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* LocalStore.make({ path, timeout: "10 seconds" })
      const times: Array<number> = []
      for (let i = 0; i < 200; i++) {
        const started = performance.now()
        yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 3_600_000 })
        times.push(performance.now() - started)
      }
      return times
    })))
    console.log(
      `${name.padEnd(44)} open ${round(open)} ms   acquire ${round(median(acquire))} ms` +
        ` (max ${round(Math.max(...acquire))})   per call ${round(median(perCall))} ms` +
        ` (max ${round(Math.max(...perCall))})`
    )
  }
  console.log(`Policy.window({ limit: 100000, window: "1 hour" }) on LocalStore (SQLite) in ${folder}`)
  try {
    await measure("(warm-up)", [])
    for (const { name, runs } of cases) await measure(name, runs(Date.now()))
  } finally {
    Fs.rmSync(folder, { recursive: true, force: true })
  }
}

if (stores.includes("redis")) await redis()
if (stores.includes("local")) await local()

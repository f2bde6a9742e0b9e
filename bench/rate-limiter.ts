/**
 * Rate limiter benchmark: what one acquisition costs, next to Redis's own
 * round trip from the same client in the same run, and how closely four
 * processes sharing one limit keep to it.
 *
 * 1. Latency of one acquisition (p50, p99; sequential calls, one of each
 *    variant in turn): `RateLimiter.acquire` on the memory store and on the Redis
 *    store, the Redis store's `reserve` alone, and, on the same node-redis
 *    client, a raw `PING` and a raw `EVALSHA` of a one-line script (the
 *    anchors). The policies never make anyone wait, so this is the cost of
 *    asking.
 * 2. Four OS processes (16 fibers each) share one global limit of 100 per
 *    second for 10 seconds on Redis: the total admitted against 1,000, and
 *    the most admitted in any one-second span, for `Policy.rate` (evenly
 *    spaced) and `Policy.window` (bursts allowed).
 *
 * `npm run bench -- rate-limiter [--rounds 5] [--calls 2000] [--seconds 10] [--limit 100] [--skip-processes]`
 * (Redis at `REDIS_URL`, default `redis://127.0.0.1:6379`).
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Redact from "@httpkit/client/Redact"
import { LimiterStore, Policy, RateLimiter } from "@httpkit/rate-limiter"
import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
import { Effect, Fiber, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { parseFlags, positiveInt } from "../scripts/args.ts"
import { requireReachable } from "../scripts/reachable.ts"
import { reportToParent } from "./support/rounds.ts"
import { quantile } from "./support/stats.ts"

const usage = `Usage: npm run bench -- rate-limiter [options]   (Redis at REDIS_URL, default redis://127.0.0.1:6379)

  --rounds R           part 1: calls of each variant = R × --calls (default 5)
  --calls N            part 1: see --rounds (default 2000)
  --seconds S          part 2: how long the four processes share the limit (default 10)
  --limit L            part 2: the shared limit per second (default 100)
  --skip-processes     part 1 only
  --help               this text

Internal (the script runs itself as the processes of part 2):
  --limited KIND --key KEY
                       16 fibers acquire from Policy.rate (KIND rate) or Policy.window (KIND window) on Redis
                       for --seconds: prints ready, reads the start (epoch ms) as a line on stdin, then prints
                       { admitted } (epoch ms) as one JSON line`

const { values } = parseFlags({
  options: {
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "2000" },
    seconds: { type: "string", default: "10" },
    limit: { type: "string", default: "100" },
    "skip-processes": { type: "boolean", default: false },
    limited: { type: "string" },
    key: { type: "string" },
    help: { type: "boolean", default: false }
  }
}, usage)
const rounds = positiveInt("--rounds", values.rounds)!
const calls = positiveInt("--calls", values.calls)!
const seconds = positiveInt("--seconds", values.seconds)!
const limit = positiveInt("--limit", values.limit)!
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

/** Times `calls` sequential runs of `effect`, in microseconds each. */
const timeEach = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const started = performance.now()
      yield* effect
      samples.push((performance.now() - started) * 1_000)
    }
    return samples
  })

// Policies that never make anyone wait: the cost of asking, not of waiting.
const policies = [Policy.rate({ limit: 1_000_000, window: "1 second", burst: 1_000_000, keyBy: "global" })]

/** The store's Lua and argument builder (internal to the package, so loaded by path). */
interface ScriptModule {
  readonly reserve: { readonly lua: string }
  readonly keys: (prefix: string) => unknown
  readonly reserveArgs: (
    keys: unknown,
    items: ReadonlyArray<LimiterStore.Item>,
    blockKey: string | undefined,
    maxWaitMillis: number
  ) => readonly [ReadonlyArray<string>, ReadonlyArray<string | number>]
}
const scriptPath = "../packages/rate-limiter/src/internal/redisScript.ts"

const latency = Effect.gen(function*() {
  const Script = (yield* Effect.promise(() => import(scriptPath))) as ScriptModule
  const redis = yield* Redis.Redis
  const { client } = yield* NodeRedis.NodeRedis
  const memory = yield* RateLimiter.make({ policies }).pipe(Effect.provide(LimiterStore.layerMemory()))
  const prefix = `httpkit:bench:${process.pid}:`
  const store = yield* RedisStore.makeRedis({ prefix })
  const onRedis = yield* RateLimiter.make({ policies }).pipe(
    Effect.provideService(LimiterStore.LimiterStore, store)
  )
  const sha = yield* Effect.promise(() => client.scriptLoad("return 1"))
  const item: LimiterStore.Item = {
    id: `${policies[0]!.name}|*`,
    kind: "rate",
    limit: 1_000_000,
    windowMillis: 1_000,
    burst: 1_000_000,
    cost: 1
  }
  // The store's own script, run raw: what one acquisition costs Redis itself.
  const [keys, args] = Script.reserveArgs(Script.keys(prefix), [item], "bench", 0)
  const reserveSha = yield* Effect.promise(() => client.scriptLoad(Script.reserve.lua))
  const rawReserve = { keys: [...keys], arguments: args.map(String) }
  const variants: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
    ["raw PING (node-redis)", Effect.promise(() => client.ping())],
    ["raw EVALSHA return 1", Effect.promise(() => client.evalSha(sha))],
    ["raw EVALSHA reserve script", Effect.promise(() => client.evalSha(reserveSha, rawReserve))],
    ["PING via Effect's Redis", redis.send("PING")],
    ["RedisStore.reserve", store.reserve({ items: [item], blockKey: "bench", maxWaitMillis: 0 })],
    ["withPermit, Redis", onRedis.withPermit({ key: "bench" })(Effect.void)],
    ["acquire in a scope, Redis", Effect.scoped(onRedis.acquire({ key: "bench" }))],
    ["withPermit, memory", memory.withPermit({ key: "bench" })(Effect.void)]
  ]
  const samples = variants.map(() => [] as Array<number>)
  // Warm up, then take one call of each variant in turn (the order rotating), so load on the
  // machine, GC and CPU frequency hit every variant alike.
  for (const [, effect] of variants) yield* Effect.ignore(timeEach(effect))
  for (let call = 0; call < rounds * calls; call++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (call + k) % variants.length
      const started = performance.now()
      yield* variants[index]![1]
      samples[index]!.push((performance.now() - started) * 1_000)
    }
  }
  const stats = new Map(
    variants.map(([name], index) => {
      const sorted = samples[index]!.toSorted((a, b) => a - b)
      return [name, { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) }] as const
    })
  )
  const trivial = stats.get("raw EVALSHA return 1")!
  const same = stats.get("raw EVALSHA reserve script")!
  console.log(`\n1. One acquisition, µs (${rounds * calls} sequential calls each, variants taken in turn)\n`)
  console.log(
    `${"".padEnd(30)}${"p50".padStart(7)}${"p99".padStart(7)}   × EVALSHA return 1   × EVALSHA reserve (p50 / p99)`
  )
  for (const [name, { p50, p99 }] of stats) {
    const ratio = (anchor: { p50: number; p99: number }) =>
      `${(p50 / anchor.p50).toFixed(2)} / ${(p99 / anchor.p99).toFixed(2)}`
    console.log(
      `${name.padEnd(30)}${p50.toFixed(0).padStart(7)}${p99.toFixed(0).padStart(7)}   ${ratio(trivial).padEnd(19)}${
        ratio(same)
      }`
    )
  }
})

/** The next line on stdin, as a number. */
const readStart = Effect.promise(async () => {
  const lines = createInterface({ input: process.stdin })
  const [line] = (await once(lines, "line")) as [string]
  lines.close()
  return Number(line)
})

/**
 * One process of part 2 (`--limited KIND`): once its limiter is built it prints `ready` and reads the start time
 * (epoch ms) from stdin, so that a process slow to load on a busy machine delays the run instead of missing part of
 * it; then 16 fibers acquire permits of one global limit on Redis for `seconds`, and it reports the times each
 * acquisition was let go.
 */
const limitedProcess = (kind: "rate" | "window", key: string) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    process.stdout.write("ready\n")
    const start = yield* readStart
    const end = start + seconds * 1_000
    const admitted: Array<number> = []
    yield* Effect.sleep(Math.max(0, start - Date.now()))
    const worker = Effect.gen(function*() {
      while (Date.now() < end) {
        const exit = yield* Effect.exit(Effect.scoped(limiter.acquire({ key })))
        const at = Date.now()
        if (exit._tag === "Failure") {
          yield* Effect.sleep(10)
          continue
        }
        if (at < end) admitted.push(at)
      }
    })
    const running = yield* Effect.forEach(Array.from({ length: 16 }), () => Effect.forkChild(worker))
    yield* Effect.sleep(Math.max(0, end - Date.now()))
    yield* Effect.forEach(running, Fiber.interrupt)
    reportToParent({ admitted })
  }).pipe(
    Effect.provide(
      RateLimiter.layer({
        policies: [
          kind === "window"
            ? Policy.window({ limit, window: "1 second", keyBy: "global" })
            : Policy.rate({ limit, window: "1 second", keyBy: "global" })
        ],
        maxWait: `${seconds * 2} seconds`
      }).pipe(Layer.provide(RedisStore.layer({ url: redisUrl, prefix: `httpkit:bench:${key}:` })))
    )
  )

/** One process of part 2 running: it has printed `ready`; `go` sends the start time and resolves with its report. */
interface Limited {
  readonly go: (start: number) => Promise<ReadonlyArray<number>>
}

/** Spawns one limited process (this script with `--limited`) and resolves once it is ready. */
const startLimited = async (kind: "rate" | "window", key: string): Promise<Limited> => {
  const args = ["--limited", kind, "--key", key, "--limit", String(limit), "--seconds", String(seconds)]
  const child = spawn(process.execPath, [import.meta.filename, ...args], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout })
  const exited = once(child, "close") as Promise<[number | null]>
  const [first] = (await Promise.race([once(lines, "line"), exited.then(([code]) => [`exit ${code}`])])) as [string]
  if (first !== "ready") throw new Error(`a ${kind} process did not start: ${first}`)
  return {
    go: async (start) => {
      const report = once(lines, "line") as Promise<[string]>
      child.stdin.end(`${start}\n`)
      const [[line], [code]] = await Promise.all([report, exited])
      if (code !== 0) throw new Error(`a ${kind} process exited with ${code}`)
      return (JSON.parse(line) as { admitted: Array<number> }).admitted
    }
  }
}

const busiestSecond = (times: ReadonlyArray<number>) => {
  let busiest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! < times[i]! - 999) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  return busiest
}

const processes = async () => {
  console.log(`\n2. Four processes × 16 fibers sharing ${limit}/s on Redis for ${seconds} s\n`)
  console.log(`${"policy".padEnd(34)}${"admitted".padStart(9)}${"× target".padStart(10)}${"busiest 1 s".padStart(13)}`)
  for (const kind of ["rate", "window"] as const) {
    const key = `bench-${kind}-${process.pid}-${Date.now()}`
    const ready = await Promise.all([0, 1, 2, 3].map(() => startLimited(kind, key)))
    const start = Date.now() + 500
    const runs = await Promise.all(ready.map((limited) => limited.go(start)))
    const times = runs.flat().map((t) => t - start).toSorted((a, b) => a - b)
    const target = limit * seconds
    const busiest = busiestSecond(times)
    const name = kind === "rate" ? `Policy.rate ${limit}/1s (burst 1)` : `Policy.window ${limit}/1s`
    console.log(
      `${name.padEnd(34)}${String(times.length).padStart(9)}${(times.length / target).toFixed(3).padStart(10)}${
        `${busiest} (${(busiest / limit).toFixed(2)}×)`.padStart(13)
      }`
    )
  }
}

if (values.limited !== undefined) {
  const kind = values.limited === "window" ? "window" : "rate"
  await Effect.runPromise(limitedProcess(kind, values.key ?? "bench"))
  process.exit(0)
} else {
  await requireReachable("Redis", redisUrl, Redact.url)
  await Effect.runPromise(
    latency.pipe(Effect.provide(NodeRedis.layer({ url: redisUrl }) as Layer.Layer<Redis.Redis | NodeRedis.NodeRedis>))
  )
  if (!values["skip-processes"]) await processes()
}

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
 * `node bench/rate-limiter.ts [--rounds 5] [--calls 2000] [--seconds 10] [--limit 100] [--skip-processes]`
 * (Redis at `REDIS_URL`, default `redis://127.0.0.1:6379`).
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { LimiterStore, Policy, RateLimiter, RedisStore } from "@httpkit/rate-limiter"
import { Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "2000" },
    seconds: { type: "string", default: "10" },
    limit: { type: "string", default: "100" },
    "skip-processes": { type: "boolean", default: false }
  }
})
const rounds = Number(values.rounds)
const calls = Number(values.calls)
const seconds = Number(values.seconds)
const limit = Number(values.limit)
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

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
const Script = (await import(scriptPath)) as ScriptModule

const latency = Effect.gen(function*() {
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

const processScript = fileURLToPath(
  new URL("../packages/rate-limiter/test/support/limitedProcess.ts", import.meta.url)
)

/** Runs one limited process; its admission times. */
const runProcess = (args: ReadonlyArray<string>) =>
  new Promise<ReadonlyArray<number>>((resolve, reject) => {
    const child = spawn(process.execPath, [processScript, ...args], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out.trim()) as Array<number>) : reject(new Error(`exit ${code}`)))
  })

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
    const start = Date.now() + 3_000
    const runs = await Promise.all(
      [0, 1, 2, 3].map(() =>
        runProcess(["redis", redisUrl, key, String(limit), String(seconds), String(start), "16", kind])
      )
    )
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

await Effect.runPromise(
  latency.pipe(Effect.provide(NodeRedis.layer({ url: redisUrl }) as Layer.Layer<Redis.Redis | NodeRedis.NodeRedis>))
)
if (!values["skip-processes"]) await processes()

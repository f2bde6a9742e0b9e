/**
 * Client CPU per request, side by side in one run: raw undici (the anchor),
 * Effect's `HttpClient` on undici, Effect's own resilience combinators stacked,
 * httpkit's `ResilientClient` with its defaults, and got, axios, ky and fetch.
 *
 * The server (a keep-alive HTTP/1.1 server answering a small JSON body) runs
 * in a child process on 127.0.0.1, so only the client's CPU is counted. Every
 * case (client x concurrency) warms up, then sends N requests; a round runs
 * every case once, clients in a rotated order; figures are medians over the
 * rounds. Ratios are medians of per-round ratios (each case against the
 * anchor measured in the same round), which cancels slow drift on a noisy box.
 *
 *   node bench/client.ts                 # the full run (5 rounds, a few minutes)
 *   node bench/client.ts --quick         # a smoke run in seconds
 *   node bench/client.ts --help          # every flag
 *
 * See bench/README.md for how to read the output.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Context, Effect, Exit, Layer, Schedule, Schema, Scope } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { spawn } from "node:child_process"
import { once } from "node:events"
import * as Http from "node:http"
import * as Os from "node:os"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as Undici from "undici"

// ---------------------------------------------------------------------------
// The server (child process)
// ---------------------------------------------------------------------------

const payload = { id: 1, name: "httpkit", tags: ["bench", "json"], ok: true }

const Payload = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  tags: Schema.Array(Schema.String),
  ok: Schema.Boolean
})

const serve = (): void => {
  const body = Buffer.from(JSON.stringify(payload))
  const headers = { "content-type": "application/json", "content-length": String(body.byteLength) }
  const server = Http.createServer((request, response) => {
    request.resume()
    response.writeHead(200, headers)
    response.end(body)
  })
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 130_000
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`)
  })
  // The parent closes our stdin when it ends (even if it crashes): stop then.
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
  process.on("SIGTERM", () => process.exit(0))
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const usage = (clientIds: ReadonlyArray<string>): string =>
  `Usage: node bench/client.ts [options]

  --quick                 smoke run: 1 round, about 0.3 s per case (under 15 s in all)
  --seconds S             target measured time per case; N is calibrated from the warm-up in
                          round 1 and kept for later rounds (env BENCH_SECONDS; default 3, quick 0.2)
  --requests N            fixed N per case instead of calibrating (env BENCH_REQUESTS)
  --warmup N              warm-up requests per case (env BENCH_WARMUP; default: as many as fit
                          in 0.5 s, quick 0.1 s, in batches of 4 per connection)
  --rounds R              rounds (env BENCH_ROUNDS; default 5, quick 1)
  --concurrency LIST      comma-separated (env BENCH_CONCURRENCY; default 1,64)
  --clients LIST          comma-separated client ids (env BENCH_CLIENTS; default all):
                          ${clientIds.join(", ")}
  --isolate               every case in a fresh process of its own, with only its client running
                          (env BENCH_ISOLATE=1; warm-up 5 s unless --warmup): no client's JIT state or
                          garbage is shared with another's
  --help                  this text`

interface Settings {
  readonly quick: boolean
  readonly seconds: number
  readonly warmupSeconds: number
  readonly requests: number | undefined
  readonly warmup: number | undefined
  readonly rounds: number
  readonly concurrency: ReadonlyArray<number>
  readonly clients: ReadonlyArray<string> | undefined
  readonly isolate: boolean
}

const positiveInt = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined || value === "") return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`${name} must be a positive integer, got ${JSON.stringify(value)}\n`)
    process.exit(2)
  }
  return n
}

const readSettings = (clientIds: ReadonlyArray<string>): Settings => {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        seconds: { type: "string" },
        requests: { type: "string" },
        warmup: { type: "string" },
        rounds: { type: "string" },
        concurrency: { type: "string" },
        clients: { type: "string" },
        isolate: { type: "boolean", default: false },
        help: { type: "boolean", default: false }
      },
      strict: true
    }).values
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage(clientIds)}\n`)
    process.exit(2)
  }
  if (parsed.help) {
    process.stdout.write(`${usage(clientIds)}\n`)
    process.exit(0)
  }
  const env = process.env
  const quick = parsed.quick || env["BENCH_QUICK"] === "1"
  const concurrency = (parsed.concurrency ?? env["BENCH_CONCURRENCY"] ?? "1,64")
    .split(",")
    .map((item) => positiveInt("--concurrency", item.trim())!)
  const clientList = parsed.clients ?? env["BENCH_CLIENTS"]
  const clients = clientList === undefined ? undefined : clientList.split(",").map((item) => item.trim())
  for (const id of clients ?? []) {
    if (!clientIds.includes(id)) {
      process.stderr.write(`unknown client ${JSON.stringify(id)}; known: ${clientIds.join(", ")}\n`)
      process.exit(2)
    }
  }
  const seconds = Number(parsed.seconds ?? env["BENCH_SECONDS"] ?? (quick ? 0.2 : 3))
  if (!(seconds > 0)) {
    process.stderr.write(`--seconds must be a positive number\n`)
    process.exit(2)
  }
  const isolate = parsed.isolate || env["BENCH_ISOLATE"] === "1"
  return {
    quick,
    seconds,
    isolate,
    // A fresh process starts cold: its warm-up must reach the optimised code a shared process already has.
    warmupSeconds: quick ? 0.1 : isolate ? 5 : 0.5,
    requests: positiveInt("--requests", parsed.requests ?? env["BENCH_REQUESTS"]),
    warmup: positiveInt("--warmup", parsed.warmup ?? env["BENCH_WARMUP"]),
    rounds: positiveInt("--rounds", parsed.rounds ?? env["BENCH_ROUNDS"]) ?? (quick ? 1 : 5),
    concurrency,
    clients
  }
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/** Sends `n` requests with `c` in flight. */
type Runner = (n: number, c: number) => Promise<void>

interface Client {
  readonly id: string
  readonly label: string
  readonly run: Runner
}

const check = (body: unknown): void => {
  if ((body as { id?: unknown } | null)?.id !== 1) throw new Error(`unexpected body: ${JSON.stringify(body)}`)
}

/** `c` async workers taking requests from a shared counter. */
const promiseRunner = (send: () => Promise<unknown>): Runner => async (n, c) => {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      check(await send())
    }
  }
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker))
}

/** `c` fibers taking requests from a shared counter, in one `runPromise` per case. */
const effectRunner = (send: Effect.Effect<unknown, unknown>): Runner => (n, c) => {
  let next = 0
  const worker = Effect.gen(function*() {
    while (next < n) {
      next++
      check(yield* send)
    }
  })
  return Effect.runPromise(
    c === 1 ? worker : Effect.forEach(Array.from({ length: Math.min(c, n) }), () => worker, {
      concurrency: "unbounded",
      discard: true
    })
  )
}

const clientIds = [
  "undici",
  "effect",
  "effect-schema",
  "effect-stack",
  "resilient-getJson",
  "resilient-get",
  "fetch",
  "got",
  "axios",
  "ky"
] as const

const makeClients = async (url: string, scope: Scope.Scope): Promise<ReadonlyArray<Client>> => {
  const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Scope.Scope, scope))

  // 1. Raw undici: its own keep-alive Agent (default options, as layerUndici's).
  const agent = new Undici.Agent()
  const undici: Client = {
    id: "undici",
    label: "undici request (raw)",
    run: promiseRunner(async () => {
      const { statusCode, body } = await Undici.request(url, { dispatcher: agent })
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
      return body.json()
    })
  }

  // 2. Bare Effect HttpClient on undici (its own Agent, from layerUndici).
  const bare = Context.get(await inScope(Layer.build(NodeHttpClient.layerUndici)), HttpClient.HttpClient)
  const effect: Client = {
    id: "effect",
    label: "Effect HttpClient (undici)",
    run: effectRunner(Effect.flatMap(bare.get(url), (response) => response.json))
  }
  const effectSchema: Client = {
    id: "effect-schema",
    label: "Effect + schemaBodyJson",
    run: effectRunner(Effect.flatMap(bare.get(url), HttpClientResponse.schemaBodyJson(Payload)))
  }

  // 3. Effect's own pieces stacked in the documented order: status, limiter, retry, breaker.
  const stack = await inScope(Effect.gen(function*() {
    const limiter = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
    const breaker = yield* CircuitBreaker.make({
      tripPolicy: CircuitBreaker.consecutive(5),
      openDuration: "30 seconds"
    }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
    return bare.pipe(
      HttpClient.filterStatusOk,
      HttpClient.withRateLimiter({ limiter, key: "bench", limit: 1_000_000_000, window: "1 second", times: 3 }),
      HttpClient.retryTransient({ times: 3, schedule: Schedule.exponential("100 millis") }),
      HttpClient.withCircuitBreaker({ breaker })
    )
  }))
  const effectStack: Client = {
    id: "effect-stack",
    label: "Effect + limiter+retry+breaker",
    run: effectRunner(Effect.flatMap(stack.get(url), (response) => response.json))
  }

  // 4. httpkit ResilientClient, defaults (retries, breaker, request id, timeouts), its own undici Agent.
  const resilient = await inScope(ResilientClient.make())
  const resilientGetJson: Client = {
    id: "resilient-getJson",
    label: "ResilientClient getJson(Schema)",
    run: effectRunner(resilient.getJson(url, Payload))
  }
  const resilientGet: Client = {
    id: "resilient-get",
    label: "ResilientClient get + json",
    // A retried call would bill two requests to one: the attempt number proves there was none.
    run: effectRunner(
      Effect.flatMap(
        resilient.get(url),
        (response) => response.attempt === 1 ? response.json : Effect.die(new Error(`attempt ${response.attempt}`))
      )
    )
  }

  // 5. Others, with their defaults; got and axios over one keep-alive node:http Agent.
  const httpAgent = new Http.Agent({ keepAlive: true })
  const { default: got } = await import("got")
  const { default: axios } = await import("axios")
  const { default: ky } = await import("ky")
  const gotClient = got.extend({ agent: { http: httpAgent } })
  const axiosClient = axios.create({ httpAgent })
  const others: ReadonlyArray<Client> = [
    { id: "fetch", label: "global fetch", run: promiseRunner(() => fetch(url).then((r) => r.json())) },
    { id: "got", label: "got", run: promiseRunner(() => gotClient(url).json()) },
    { id: "axios", label: "axios", run: promiseRunner(() => axiosClient.get(url).then((r) => r.data)) },
    { id: "ky", label: "ky", run: promiseRunner(() => ky.get(url).json()) }
  ]

  return [undici, effect, effectSchema, effectStack, resilientGetJson, resilientGet, ...others]
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

/** A full GC between cases, outside the measurement, so one client's garbage is not billed to the next. */
const gc: () => void = (() => {
  V8.setFlagsFromString("--expose-gc")
  const fn = Vm.runInNewContext("gc") as (() => void) | undefined
  return typeof fn === "function" ? fn : () => {}
})()

interface Sample {
  readonly rps: number
  readonly cpuMicros: number
  /** The share of that CPU time spent in the kernel (system calls: the sockets, timers). */
  readonly systemShare: number
}

/**
 * Warms up (a fixed count, or batches until `warmupSeconds` passed) and
 * returns the warm-up rate in requests per second.
 */
const warmUp = async (client: Client, c: number, settings: CaseSettings): Promise<number> => {
  const started = performance.now()
  if (settings.warmup !== undefined) {
    await client.run(settings.warmup, c)
    return settings.warmup / ((performance.now() - started) / 1000)
  }
  const batch = Math.max(4 * c, 50)
  let sent = 0
  while (sent === 0 || performance.now() - started < settings.warmupSeconds * 1000) {
    await client.run(batch, c)
    sent += batch
  }
  return sent / ((performance.now() - started) / 1000)
}

const measure = async (client: Client, n: number, c: number): Promise<Sample> => {
  gc()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await client.run(n, c)
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  return {
    rps: n / seconds,
    cpuMicros: (used.user + used.system) / n,
    systemShare: used.system / (used.user + used.system)
  }
}

/** One case: warm up, then `n` requests (calibrated from the warm-up rate when not given). */
const runCase = async (
  client: Client,
  c: number,
  given: number | undefined,
  settings: CaseSettings
): Promise<{ readonly n: number; readonly sample: Sample }> => {
  const rate = await warmUp(client, c, settings)
  const n = given ?? Math.max(4 * c, 100, Math.round((rate * settings.seconds) / 100) * 100)
  return { n, sample: await measure(client, n, c) }
}

/** What one case needs of the settings. */
type CaseSettings = Pick<Settings, "seconds" | "warmupSeconds" | "warmup">

/** Arguments of a case run in a process of its own (`--isolate`). */
interface IsolatedCase extends CaseSettings {
  readonly client: string
  readonly c: number
  readonly n: number | undefined
  readonly url: string
}

/** Runs one case in a fresh process with only its client, and reads back what it measured. */
const runIsolated = async (
  client: string,
  c: number,
  n: number | undefined,
  url: string,
  settings: Settings
): Promise<{ readonly n: number; readonly sample: Sample }> => {
  const job: IsolatedCase = {
    client,
    c,
    n,
    url,
    seconds: settings.seconds,
    warmupSeconds: settings.warmupSeconds,
    warmup: settings.warmup
  }
  const child = spawn(process.execPath, [import.meta.filename, "--case", JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk
  })
  const [status] = (await once(child, "close")) as [number | null]
  if (status !== 0) throw new Error(`the case ${client} at c=${c} exited with ${status}: ${output.slice(-500)}`)
  return JSON.parse(output) as { n: number; sample: Sample }
}

/** The child's side of `--isolate`: build the clients, run one of them, print `{ n, sample }`. */
const isolatedCase = async (job: IsolatedCase): Promise<void> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const client = (await makeClients(job.url, scope)).find((candidate) => candidate.id === job.client)
    if (client === undefined) throw new Error(`unknown client ${job.client}`)
    process.stdout.write(JSON.stringify(await runCase(client, job.c, job.n, job)))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const fixed = (value: number, digits: number): string => Number.isFinite(value) ? value.toFixed(digits) : "-"

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)).join("  ")
      .trimEnd()
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const startServer = async () => {
  const child = spawn(process.execPath, [import.meta.filename, "--serve"], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const [chunk] = (await Promise.race([
    once(child.stdout, "data"),
    once(child, "exit").then(() => {
      throw new Error("the server process exited before it listened")
    })
  ])) as [Buffer]
  const port = Number.parseInt(chunk.toString("utf8"), 10)
  if (!(port > 0)) throw new Error(`the server printed no port: ${JSON.stringify(chunk.toString("utf8"))}`)
  return {
    url: `http://127.0.0.1:${port}/payload`,
    stop: () => {
      child.stdin.end()
      child.kill("SIGTERM")
    }
  }
}

const main = async (): Promise<void> => {
  const settings = readSettings(clientIds)
  const server = await startServer()
  const scope = Effect.runSync(Scope.make())
  try {
    const all = await makeClients(server.url, scope)
    const clients = settings.clients === undefined ? all : all.filter((c) => settings.clients!.includes(c.id))

    const cpus = Os.cpus()
    process.stdout.write(
      `bench/client.ts: node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? "?"}, ` +
        `load ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n` +
        `server: child process, ${server.url}, ${JSON.stringify(payload).length}-byte JSON, keep-alive\n` +
        `rounds ${settings.rounds}${settings.isolate ? ", every case in its own process" : ""}; N per case ${
          settings.requests === undefined ? `calibrated for ${settings.seconds} s` : settings.requests
        }; clients ${clients.map((c) => c.id).join(", ")}\n\n`
    )

    // samples[clientId][c] = one Sample per round; requests[clientId][c] = N, fixed after round 1
    const samples = new Map<string, Map<number, Array<Sample>>>()
    const requests = new Map<string, Map<number, number>>()
    for (const client of clients) {
      samples.set(client.id, new Map(settings.concurrency.map((c) => [c, []])))
      requests.set(client.id, new Map())
    }

    for (let round = 0; round < settings.rounds; round++) {
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!)
      const started = performance.now()
      for (const c of round % 2 === 0 ? settings.concurrency : settings.concurrency.toReversed()) {
        for (const client of order) {
          const fixedN = requests.get(client.id)!
          const { n, sample } = settings.isolate
            ? await runIsolated(client.id, c, fixedN.get(c) ?? settings.requests, server.url, settings)
            : await runCase(client, c, fixedN.get(c) ?? settings.requests, settings)
          fixedN.set(c, n)
          samples.get(client.id)!.get(c)!.push(sample)
        }
      }
      process.stderr.write(
        `round ${round + 1}/${settings.rounds} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`
      )
    }

    // Per-round ratio against a reference client in the same round, then the median.
    const ratio = (id: string, reference: string, c: number): number => {
      const mine = samples.get(id)?.get(c)
      const theirs = samples.get(reference)?.get(c)
      if (mine === undefined || theirs === undefined) return Number.NaN
      return median(mine.map((s, i) => s.cpuMicros / theirs[i]!.cpuMicros))
    }

    const rows: Array<Array<string>> = [[
      "client",
      "c",
      "N",
      "req/s",
      "CPU µs/req",
      "CPU min-max",
      "sys",
      "× undici",
      "× Effect"
    ]]
    for (const c of settings.concurrency) {
      for (const client of clients) {
        const runs = samples.get(client.id)!.get(c)!
        const cpu = runs.map((s) => s.cpuMicros)
        rows.push([
          client.label,
          String(c),
          String(requests.get(client.id)!.get(c)),
          fixed(median(runs.map((s) => s.rps)), 0),
          fixed(median(cpu), 0),
          `${fixed(Math.min(...cpu), 0)}-${fixed(Math.max(...cpu), 0)}`,
          `${fixed(median(runs.map((s) => s.systemShare)) * 100, 0)}%`,
          fixed(ratio(client.id, "undici", c), 2),
          fixed(ratio(client.id, "effect", c), 2)
        ])
      }
    }
    process.stdout.write(`${table(rows, new Set([1, 2, 3, 4, 5, 6, 7, 8]))}\n\n`)
    process.stdout.write(
      "Medians over rounds; ratios are medians of per-round CPU ratios (same round, same conditions).\n"
    )

    // Verdicts.
    const budget = 1.15
    const pct = (r: number) => `${r >= 1 ? "+" : ""}${fixed((r - 1) * 100, 0)}%`
    for (const id of ["resilient-get", "resilient-getJson"]) {
      // getJson decodes with a Schema: its like-for-like anchor is the bare client with schemaBodyJson.
      const anchor = id === "resilient-getJson" && samples.has("effect-schema") ? "effect-schema" : "effect"
      if (!samples.has(id) || !samples.has(anchor)) continue
      const label = clients.find((c) => c.id === id)!.label
      const anchorLabel = anchor === "effect" ? "bare Effect" : "bare Effect + schemaBodyJson"
      const parts = settings.concurrency.map((c) => ({ c, r: ratio(id, anchor, c) }))
      const within = parts.every((p) => p.r <= budget)
      process.stdout.write(
        `${label} vs ${anchorLabel}: ${parts.map((p) => `c=${p.c} ${pct(p.r)}`).join(", ")}` +
          ` -> ${within ? "WITHIN" : "OVER"} the +15% CPU budget\n`
      )
      const rivals = ["effect-stack", "got", "axios", "ky"].filter((r) => samples.has(r))
      for (const c of rivals.length === 0 ? [] : settings.concurrency) {
        const against = rivals.map((r) => `${r} ${fixed(ratio(id, r, c), 2)}×`).join(", ")
        const beaten = rivals.filter((r) => ratio(id, r, c) < 1)
        process.stdout.write(
          `  c=${c} CPU against ${against}: cheaper than ${beaten.length === 0 ? "none" : beaten.join(", ")}\n`
        )
      }
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    server.stop()
  }
}

const caseIndex = process.argv.indexOf("--case")
if (process.argv.includes("--serve")) {
  serve()
} else if (caseIndex !== -1) {
  isolatedCase(JSON.parse(process.argv[caseIndex + 1]!) as IsolatedCase).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench/client.ts --case failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    }
  )
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench/client.ts failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    }
  )
}

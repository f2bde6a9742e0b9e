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
 *   npm run bench -- client                 # the full run (5 rounds, a few minutes)
 *   npm run bench -- client --quick         # a smoke run in seconds
 *   npm run bench -- client --help          # every flag
 *
 * See bench/README.md for how to read the output.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Context, Effect, Exit, Layer, Schedule, Scope } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as Http from "node:http"
import * as Os from "node:os"
import { performance } from "node:perf_hooks"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as Undici from "undici"
import { fail, idList, parseFlags, positiveInt } from "../scripts/args.ts"
import { serveJson, startJsonServer } from "./support/jsonServer.ts"
import { Payload, payload } from "./support/payload.ts"
import { inFreshProcess, pairedRounds, reportRound, reportToParent, rotated } from "./support/rounds.ts"
import { effectRunner, promiseRunner, type Runner } from "./support/runners.ts"
import { median, medianOfRatios } from "./support/stats.ts"
import { fixed, table } from "./support/table.ts"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const usage = (clientIds: ReadonlyArray<string>): string =>
  `Usage: npm run bench -- client [options]

  --quick                 smoke run: 1 round, about 0.3 s per case (about a minute in all)
  --seconds S             target measured time per case; N is calibrated from the warm-up in
                          round 1 and kept for later rounds (env BENCH_SECONDS; default 3, quick 0.2)
  --requests N            fixed N per case instead of calibrating (env BENCH_REQUESTS)
  --warmup N              warm-up requests per case (env BENCH_WARMUP; default: as many as fit
                          in 5 s, --shared 0.5 s, quick 0.1 s, in batches of 4 per connection)
  --rounds R              rounds (env BENCH_ROUNDS; default 5, quick 1)
  --concurrency LIST      comma-separated (env BENCH_CONCURRENCY; default 1,64)
  --clients LIST          comma-separated client ids (env BENCH_CLIENTS; default all):
                          ${clientIds.join(", ")}
  --isolate               every case in a fresh process of its own, with only its client built and
                          running (env BENCH_ISOLATE=1): the default, and the canonical method for CPU
                          per request (see bench/README.md); no client's JIT state or garbage is
                          shared with another's
  --shared                every case in this one process instead (env BENCH_SHARED=1): quicker, but
                          a client's figures then move with which other clients share the process
  --help                  this text`

interface Settings {
  readonly quick: boolean
  readonly seconds: number
  readonly warmupSeconds: number
  readonly requests: number | undefined
  readonly warmup: number | undefined
  readonly rounds: number
  readonly concurrency: ReadonlyArray<number>
  readonly clients: ReadonlyArray<ClientId> | undefined
  readonly isolate: boolean
}

const readSettings = (): Settings => {
  const { values: parsed } = parseFlags({
    options: {
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      requests: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      concurrency: { type: "string" },
      clients: { type: "string" },
      isolate: { type: "boolean", default: false },
      shared: { type: "boolean", default: false },
      help: { type: "boolean", default: false }
    },
    strict: true
  }, usage(clientIds))
  const env = process.env
  const quick = parsed.quick || env["BENCH_QUICK"] === "1"
  const concurrency = (parsed.concurrency ?? env["BENCH_CONCURRENCY"] ?? "1,64")
    .split(",")
    .map((item) => positiveInt("--concurrency", item.trim())!)
  const clients = idList("client", parsed.clients ?? env["BENCH_CLIENTS"], clientIds)
  const seconds = Number(parsed.seconds ?? env["BENCH_SECONDS"] ?? (quick ? 0.2 : 3))
  if (!(seconds > 0)) fail(`--seconds must be a positive number`)
  const shared = parsed.shared || env["BENCH_SHARED"] === "1"
  if (shared && (parsed.isolate || env["BENCH_ISOLATE"] === "1")) fail("--isolate and --shared exclude each other")
  const isolate = !shared
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

interface Client {
  readonly id: ClientId
  readonly run: Runner
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
type ClientId = typeof clientIds[number]

/** How each client is named in the table. */
const clientLabels: Record<ClientId, string> = {
  undici: "undici request (raw)",
  effect: "Effect HttpClient (undici)",
  "effect-schema": "Effect + schemaBodyJson",
  "effect-stack": "Effect + limiter+retry+breaker",
  "resilient-getJson": "ResilientClient getJson(Schema)",
  "resilient-get": "ResilientClient get + json",
  fetch: "global fetch",
  got: "got",
  axios: "axios",
  ky: "ky"
}

/**
 * The clients asked for, built in `scope`, in the order of `clientIds`. Only these are built and only their
 * libraries loaded, so a fresh process that runs one client holds nothing of the others.
 */
const makeClients = async (
  url: string,
  scope: Scope.Scope,
  wanted: ReadonlyArray<ClientId>
): Promise<ReadonlyArray<Client>> => {
  const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Scope.Scope, scope))

  // The bare Effect HttpClient on undici (its own Agent, from layerUndici), built once for the clients that use it.
  let bareClient: Promise<HttpClient.HttpClient> | undefined
  const bare = () =>
    bareClient ??= inScope(Layer.build(NodeHttpClient.layerUndici)).then((context) =>
      Context.get(context, HttpClient.HttpClient)
    )
  // got and axios share one keep-alive node:http Agent.
  let httpAgentShared: Http.Agent | undefined
  const httpAgent = () => httpAgentShared ??= new Http.Agent({ keepAlive: true })

  const builders: Record<ClientId, () => Promise<Client>> = {
    // 1. Raw undici: its own keep-alive Agent (default options, as layerUndici's).
    undici: async () => {
      const agent = new Undici.Agent()
      return {
        id: "undici",
        run: promiseRunner(async () => {
          const { statusCode, body } = await Undici.request(url, { dispatcher: agent })
          if (statusCode !== 200) throw new Error(`status ${statusCode}`)
          return body.json()
        })
      }
    },
    // 2. Bare Effect HttpClient on undici.
    effect: async () => {
      const client = await bare()
      return {
        id: "effect",
        run: effectRunner(Effect.flatMap(client.get(url), (response) => response.json))
      }
    },
    "effect-schema": async () => {
      const client = await bare()
      return {
        id: "effect-schema",
        run: effectRunner(Effect.flatMap(client.get(url), HttpClientResponse.schemaBodyJson(Payload)))
      }
    },
    // 3. Effect's own pieces stacked in the documented order: status, limiter, retry, breaker.
    "effect-stack": async () => {
      const client = await bare()
      const stack = await inScope(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
        const breaker = yield* CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(5),
          openDuration: "30 seconds"
        }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
        return client.pipe(
          HttpClient.filterStatusOk,
          HttpClient.withRateLimiter({ limiter, key: "bench", limit: 1_000_000_000, window: "1 second", times: 3 }),
          HttpClient.retryTransient({ times: 3, schedule: Schedule.exponential("100 millis") }),
          HttpClient.withCircuitBreaker({ breaker })
        )
      }))
      return {
        id: "effect-stack",
        run: effectRunner(Effect.flatMap(stack.get(url), (response) => response.json))
      }
    },
    // 4. httpkit ResilientClient, defaults (retries, breaker, request id, timeouts), its own undici Agent.
    "resilient-getJson": async () => {
      const resilient = await inScope(ResilientClient.make())
      return {
        id: "resilient-getJson",
        run: effectRunner(resilient.getJson(url, Payload))
      }
    },
    "resilient-get": async () => {
      const resilient = await inScope(ResilientClient.make())
      return {
        id: "resilient-get",
        // A retried call would bill two requests to one: the attempt number proves there was none.
        run: effectRunner(
          Effect.flatMap(
            resilient.get(url),
            (response) => response.attempt === 1 ? response.json : Effect.die(new Error(`attempt ${response.attempt}`))
          )
        )
      }
    },
    // 5. Others, with their defaults.
    fetch: async () => ({
      id: "fetch",
      run: promiseRunner(() => fetch(url).then((r) => r.json()))
    }),
    got: async () => {
      const { default: got } = await import("got")
      const client = got.extend({ agent: { http: httpAgent() } })
      return { id: "got", run: promiseRunner(() => client(url).json()) }
    },
    axios: async () => {
      const { default: axios } = await import("axios")
      const client = axios.create({ httpAgent: httpAgent() })
      return { id: "axios", run: promiseRunner(() => client.get(url).then((r) => r.data)) }
    },
    ky: async () => {
      const { default: ky } = await import("ky")
      return { id: "ky", run: promiseRunner(() => ky.get(url).json()) }
    }
  }
  const clients: Array<Client> = []
  for (const id of clientIds) if (wanted.includes(id)) clients.push(await builders[id]())
  return clients
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

/** What one case needs of the settings. */
type CaseSettings = Pick<Settings, "seconds" | "warmupSeconds" | "warmup">

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

/** What one case measured, with the N it ran (calibrated in round 1, then kept). */
interface CaseResult {
  readonly n: number
  readonly sample: Sample
}

/** One case: warm up, then `n` requests (calibrated from the warm-up rate when not given). */
const runCase = async (
  client: Client,
  c: number,
  given: number | undefined,
  settings: CaseSettings
): Promise<CaseResult> => {
  const rate = await warmUp(client, c, settings)
  const n = given ?? Math.max(4 * c, 100, Math.round((rate * settings.seconds) / 100) * 100)
  return { n, sample: await measure(client, n, c) }
}

/** Arguments of a case run in a process of its own (`--case`, the default). */
interface IsolatedCase extends CaseSettings {
  readonly client: ClientId
  readonly c: number
  readonly n: number | undefined
  readonly url: string
}

/** The child's side of a fresh-process case: build its one client, run it, report `{ n, sample }`. */
const isolatedCase = async (job: IsolatedCase): Promise<void> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const [client] = await makeClients(job.url, scope, [job.client])
    if (client === undefined) throw new Error(`unknown client ${job.client}`)
    reportToParent(await runCase(client, job.c, job.n, job))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/** A ratio as a signed percentage: 1.12 is `+12%`. */
const pct = (r: number) => `${r >= 1 ? "+" : ""}${fixed((r - 1) * 100, 0)}%`

const main = async (): Promise<void> => {
  const settings = readSettings()
  const server = await startJsonServer()
  const scope = Effect.runSync(Scope.make())
  try {
    const wanted = settings.clients ?? clientIds
    const ids = clientIds.filter((id) => wanted.includes(id))
    // With --shared every client is built here; by default each case builds its own client in its own process.
    const clients = settings.isolate ? [] : await makeClients(server.url, scope, ids)

    const cpus = Os.cpus()
    process.stdout.write(
      `bench/client.ts: node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? "?"}, ` +
        `load ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n` +
        `server: child process, ${server.url}, ${JSON.stringify(payload).length}-byte JSON, keep-alive\n` +
        `rounds ${settings.rounds}${
          settings.isolate ? ", every case in its own process" : ", every case in this one process (--shared)"
        }; N per case ${
          settings.requests === undefined ? `calibrated for ${settings.seconds} s` : settings.requests
        }; clients ${ids.join(", ")}\n\n`
    )

    // One case per client and concurrency; N per case fixed after round 1.
    const cases = settings.concurrency.flatMap((c) => ids.map((id) => ({ id, c })))
    const requests = new Map<(typeof cases)[number], number>()
    const samples = await pairedRounds({
      cases,
      rounds: settings.rounds,
      // Clients in a rotated order each round; the concurrency order alternates.
      order: (all, round) =>
        (round % 2 === 0 ? settings.concurrency : settings.concurrency.toReversed()).flatMap((c) =>
          rotated(all.filter((item) => item.c === c), round)
        ),
      run: async (item) => {
        const given = requests.get(item) ?? settings.requests
        const { n, sample } = settings.isolate
          ? await inFreshProcess<CaseResult>([
            import.meta.filename,
            "--case",
            JSON.stringify(
              {
                client: item.id,
                c: item.c,
                n: given,
                url: server.url,
                seconds: settings.seconds,
                warmupSeconds: settings.warmupSeconds,
                warmup: settings.warmup
              } satisfies IsolatedCase
            )
          ], `the case ${item.id} at c=${item.c}`)
          : await runCase(clients.find((client) => client.id === item.id)!, item.c, given, settings)
        requests.set(item, n)
        return sample
      },
      onRound: reportRound(settings.rounds)
    })
    const find = (id: string, c: number) => cases.find((item) => item.id === id && item.c === c)
    const runsOf = (id: string, c: number) => {
      const item = find(id, c)
      return item === undefined ? undefined : samples.get(item)
    }

    // Per-round ratio against a reference client in the same round, then the median.
    const ratio = (id: string, reference: string, c: number): number =>
      medianOfRatios(runsOf(id, c)?.map((s) => s.cpuMicros), runsOf(reference, c)?.map((s) => s.cpuMicros))
    const has = (id: string) => (ids as ReadonlyArray<string>).includes(id)

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
      for (const id of ids) {
        const runs = runsOf(id, c)!
        const cpu = runs.map((s) => s.cpuMicros)
        rows.push([
          clientLabels[id],
          String(c),
          String(requests.get(find(id, c)!)),
          fixed(median(runs.map((s) => s.rps)), 0),
          fixed(median(cpu), 0),
          `${fixed(Math.min(...cpu), 0)}-${fixed(Math.max(...cpu), 0)}`,
          `${fixed(median(runs.map((s) => s.systemShare)) * 100, 0)}%`,
          fixed(ratio(id, "undici", c), 2),
          fixed(ratio(id, "effect", c), 2)
        ])
      }
    }
    process.stdout.write(`${table(rows, new Set([1, 2, 3, 4, 5, 6, 7, 8]))}\n\n`)
    process.stdout.write(
      "Medians over rounds; ratios are medians of per-round CPU ratios (same round, same conditions).\n"
    )

    // Verdicts.
    const budget = 1.15
    for (const id of ["resilient-get", "resilient-getJson"] as const) {
      // getJson decodes with a Schema: its like-for-like anchor is the bare client with schemaBodyJson.
      const anchor = id === "resilient-getJson" && has("effect-schema") ? "effect-schema" : "effect"
      if (!has(id) || !has(anchor)) continue
      const anchorLabel = anchor === "effect" ? "bare Effect" : "bare Effect + schemaBodyJson"
      const parts = settings.concurrency.map((c) => ({ c, r: ratio(id, anchor, c) }))
      const within = parts.every((p) => p.r <= budget)
      process.stdout.write(
        `${clientLabels[id]} vs ${anchorLabel}: ${parts.map((p) => `c=${p.c} ${pct(p.r)}`).join(", ")}` +
          ` -> ${within ? "WITHIN" : "OVER"} the +15% CPU budget\n`
      )
      const rivals = ["effect-stack", "got", "axios", "ky"].filter(has)
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
    await server.stop()
  }
}

const caseIndex = process.argv.indexOf("--case")
if (process.argv.includes("--serve")) {
  serveJson()
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

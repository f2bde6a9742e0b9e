/**
 * What seeing the traffic costs: `ResilientClient` with its metrics and
 * tracing on against the same client with both off, and what one snapshot
 * of a registry with 100 hosts costs.
 *
 *   npm run bench -- metrics                          # both parts, defaults
 *   npm run bench -- metrics --part overhead --rounds 11 --concurrency 64
 *   npm run bench -- metrics --part overhead --instructions   # callgrind instead of CPU time
 *   npm run bench -- metrics --part snapshot --hosts 100
 *
 * **overhead**: the cases `off` (`metrics: false, tracing: false`),
 * `metrics` (metrics only), `tracing` (spans only, Effect's native tracer),
 * `on` (both, the default client, no tracing backend installed) and
 * `recorded` (both, with a tracer installed that is not Effect's
 * `nativeTracer`, as an exporter is: every attribute, event and time is
 * recorded; it keeps no span, so no exporter's own cost is counted), each
 * `get` + `json` of a small JSON
 * body over loopback to a keep-alive server in a child process, `--concurrency`
 * calls in flight. CPU time: every case in a fresh process per round, paired
 * rounds (`support/rounds.ts`), the median of the per-round ratios to `off`
 * printed. `--instructions`: machine instructions per call counted by
 * callgrind (`support/callgrind.ts`), which do not move with the machine's
 * load. `--memory` runs the same cases over an in-memory transport: the
 * pipeline alone, no socket.
 *
 * **snapshot**: a registry filled by calls to `--hosts` hosts (every host
 * answering 200, 404 and 503, so each has several series), then the median
 * time of `HttpkitMetrics.snapshot`, of `MetricsTable.render`, and of Effect's
 * own `PrometheusMetrics.format` of the same registry (the anchor: a plain
 * read of every series).
 */
import * as ClientConfig from "@httpkit/client/ClientConfig"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as HttpkitMetrics from "@httpkit/metrics/HttpkitMetrics"
import * as MetricsTable from "@httpkit/metrics/MetricsTable"
import { Context, Effect, Metric, Tracer } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { performance } from "node:perf_hooks"
import { fail, idList, parseFlags, positiveInt } from "../scripts/args.ts"
import { callgrindInstructions } from "./support/callgrind.ts"
import { clientModules, srcArguments } from "./support/clientSources.ts"
import { serveJson, startJsonServer } from "./support/jsonServer.ts"
import { measureCalls, runArguments as childArguments, runScope } from "./support/measuredRun.ts"
import { memoryTransport } from "./support/memoryTransport.ts"
import { inFreshProcess, pairedRounds, reportRound } from "./support/rounds.ts"
import { median, medianOfRatios } from "./support/stats.ts"

const cases = ["off", "metrics", "tracing", "on", "recorded"] as const
type Case = typeof cases[number]
const parts = ["overhead", "snapshot"] as const

const usage = `Usage: npm run bench -- metrics [options]

  --part LIST          overhead, snapshot or both (default both)
  --cases LIST         overhead cases (default every one): ${cases.join(", ")}
  --concurrency C      calls in flight (default 64)
  --rounds R           CPU rounds, every case in a fresh process per round (default 7)
  --calls N            measured calls per run (default 40,000; callgrind 1,500 and 3,000)
  --warmup N           warm-up calls before them (default 20,000, callgrind too)
  --instructions       callgrind instructions per call instead of CPU time
  --memory             the overhead cases over an in-memory transport (the pipeline alone)
  --src DIR            the overhead cases with another copy of packages/client/src (a variant to compare)
  --hosts H            hosts in the snapshot's registry (default 100)
  --help               this text

Internal (the script runs itself as child processes):
  --run CASE           one run of an overhead case; with --cpu it prints { cpuMicros } as one JSON line
  --serve              the keep-alive JSON server; prints its port`

const { values } = parseFlags({
  options: {
    part: { type: "string" },
    cases: { type: "string" },
    concurrency: { type: "string" },
    rounds: { type: "string" },
    calls: { type: "string" },
    warmup: { type: "string" },
    instructions: { type: "boolean", default: false },
    memory: { type: "boolean", default: false },
    hosts: { type: "string" },
    src: { type: "string" },
    run: { type: "string" },
    cpu: { type: "boolean", default: false },
    serve: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
}, usage)
const concurrency = positiveInt("--concurrency", values.concurrency) ?? 64
const rounds = positiveInt("--rounds", values.rounds) ?? 7
const callsFlag = positiveInt("--calls", values.calls)
const warmupFlag = positiveInt("--warmup", values.warmup)
const hosts = positiveInt("--hosts", values.hosts) ?? 100

/** The client options of a case. */
const optionsOf = (which: Case): ClientConfig.Options => ({
  metrics: which === "metrics" || which === "on" || which === "recorded",
  tracing: which === "tracing" || which === "on" || which === "recorded"
})

/** A tracing backend that exports nothing: Effect's in-memory spans, from a tracer that is not `nativeTracer`. */
const recordingTracer: Tracer.Tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

// ---------------------------------------------------------------------------
// overhead: one run of a case
// ---------------------------------------------------------------------------

const runOne = async (which: Case, calls: number, warmup: number): Promise<void> => {
  // `--src DIR`: another copy of the client's sources (a variant to compare), instead of the workspace's.
  const variant = await clientModules(values.src)
  const scope = runScope()
  const server = values.memory ? undefined : await startJsonServer()
  const url = server?.url ?? "http://bench.test/payload"
  const client = values.memory
    ? await scope.build(
      Effect.flatMap(
        variant.ClientConfig.resolve(optionsOf(which)),
        (resolved) => variant.ResilientClient.makeWith(resolved, memoryTransport, undefined, true)
      )
    )
    : await scope.build(variant.ResilientClient.make(optionsOf(which)))
  await measureCalls(Effect.flatMap(client.get(url), (response) => response.json), {
    warmup,
    calls,
    concurrency,
    reportCpu: values.cpu === true,
    around: (program) => which === "recorded" ? Effect.withTracer(program, recordingTracer) : program
  })
  await scope.close()
  await server?.stop()
}

const runArguments = (which: Case, calls: number, warmup: number): Array<string> => [
  ...childArguments(import.meta.filename, which, { calls, warmup, concurrency }),
  ...(values.memory ? ["--memory"] : []),
  ...srcArguments(values.src)
]

const selectedCases = (): ReadonlyArray<Case> => idList("case", values.cases, cases) ?? cases

const overheadCpu = async (): Promise<void> => {
  const selected = selectedCases()
  const calls = callsFlag ?? 40_000
  const warmup = warmupFlag ?? 20_000
  process.stdout.write(
    `overhead: CPU µs per call, ${rounds} rounds of fresh processes, concurrency ${concurrency}, ${
      values.memory ? "in-memory transport" : "loopback"
    }\n`
  )
  const samples = await pairedRounds({
    cases: selected,
    rounds,
    run: (id) =>
      inFreshProcess<{ cpuMicros: number }>([...runArguments(id, calls, warmup), "--cpu"], id).then((r) => r.cpuMicros),
    onRound: reportRound(rounds)
  })
  const off = samples.get("off")
  for (const id of selected) {
    const mine = samples.get(id)!
    const ratio = off === undefined || id === "off" ? undefined : medianOfRatios(mine, off)
    process.stdout.write(
      `  ${id.padEnd(8)} ${median(mine).toFixed(1).padStart(7)} µs/call` +
        (ratio === undefined ? "\n" : `  ${ratio.toFixed(3)}x off (median of per-round ratios)\n`)
    )
  }
}

const overheadInstructions = async (): Promise<void> => {
  const selected = selectedCases()
  const calls = callsFlag ?? 1_500
  // A shorter warm-up left the JIT still compiling in the measured calls: runs of one tree spread by 10-20%.
  const warmup = warmupFlag ?? 20_000
  process.stdout.write(
    `overhead: callgrind instructions per call (difference of runs of ${calls} and ${
      2 * calls
    } calls), concurrency ${concurrency}\n`
  )
  const perCase = new Map<Case, number>()
  for (const id of selected) {
    const [one, two] = await Promise.all([
      callgrindInstructions(runArguments(id, calls, warmup), id),
      callgrindInstructions(runArguments(id, 2 * calls, warmup), id)
    ])
    perCase.set(id, (two - one) / calls)
  }
  const off = perCase.get("off")
  for (const id of selected) {
    const per = perCase.get(id)!
    process.stdout.write(
      `  ${id.padEnd(8)} ${(per / 1000).toFixed(1).padStart(8)} k instr/call` +
        (off === undefined || id === "off" ? "\n" : `  ${(per / off).toFixed(3)}x off\n`)
    )
  }
}

// ---------------------------------------------------------------------------
// snapshot: a registry with `hosts` hosts
// ---------------------------------------------------------------------------

/** A transport answering `/ok` 200, `/missing` 404 and anything else 503, for any host. */
const statusTransport: HttpClient.HttpClient = HttpClient.make((request) => {
  const path = new URL(request.url).pathname
  const status = path === "/ok" ? 200 : path === "/missing" ? 404 : 503
  return Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status })))
})

/** The median of `times` runs of `f`, in µs. */
const timeIt = (times: number, f: () => unknown): number => {
  const samples: Array<number> = []
  for (let i = 0; i < times; i++) {
    const started = performance.now()
    f()
    samples.push((performance.now() - started) * 1000)
  }
  return median(samples)
}

const snapshotPart = async (): Promise<void> => {
  const registry: Metric.MetricRegistry = new Map()
  const context = Context.make(Metric.MetricRegistry, registry)
  const scope = runScope()
  const fill = Effect.gen(function*() {
    const resolved = yield* ClientConfig.resolve({ retry: { maxAttempts: 2, minDelay: 0, maxDelay: 0 } })
    const client = yield* ResilientClient.makeWith(resolved, statusTransport, undefined, true)
    for (let host = 0; host < hosts; host++) {
      for (const path of ["/ok", "/ok", "/missing", "/fail"]) {
        yield* Effect.ignore(client.get(`http://host-${host}.bench.test${path}`))
      }
    }
  }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  await scope.build(fill)
  const series = Metric.snapshotUnsafe(context).length
  const times = 200
  const snapshot = () => Effect.runSync(Effect.provideService(HttpkitMetrics.snapshot, Metric.MetricRegistry, registry))
  const taken = snapshot()
  for (let i = 0; i < 50; i++) {
    snapshot()
    MetricsTable.render(taken)
    PrometheusMetrics.formatUnsafe(context)
  }
  const prometheus = timeIt(times, () => PrometheusMetrics.formatUnsafe(context))
  const snapshotTime = timeIt(times, snapshot)
  const render = timeIt(times, () => MetricsTable.render(taken))
  process.stdout.write(`snapshot: ${hosts} hosts, ${series} series in the registry, median of ${times} runs\n`)
  process.stdout.write(`  PrometheusMetrics.format  ${(prometheus / 1000).toFixed(2).padStart(7)} ms (anchor)\n`)
  process.stdout.write(
    `  HttpkitMetrics.snapshot   ${(snapshotTime / 1000).toFixed(2).padStart(7)} ms  ${
      (snapshotTime / prometheus).toFixed(2)
    }x the anchor\n`
  )
  process.stdout.write(
    `  MetricsTable.render       ${(render / 1000).toFixed(2).padStart(7)} ms  ${
      (render / prometheus).toFixed(2)
    }x the anchor\n`
  )
  await scope.close()
}

if (values.serve) {
  serveJson()
} else if (values.run !== undefined) {
  await runOne(idList("case", values.run, cases)![0]!, callsFlag ?? 1000, warmupFlag ?? 1000)
  process.exit(0)
} else {
  const selectedParts = idList("part", values.part, parts) ?? parts
  if (selectedParts.length === 0) fail("--part: name at least one part")
  if (selectedParts.includes("overhead")) await (values.instructions ? overheadInstructions() : overheadCpu())
  if (selectedParts.includes("snapshot")) await snapshotPart()
}

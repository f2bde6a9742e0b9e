/**
 * Machine instructions per request, counted by valgrind's callgrind: a figure
 * that does not move with the machine's load, for comparing variants of the
 * client on a busy box where CPU times swing by tens of percent.
 *
 *   npm run bench -- client-instructions                       # every case
 *   npm run bench -- client-instructions --cases memory-bare,memory-get
 *   npm run bench -- client-instructions --run memory-get --calls 2000   # one run, no valgrind
 *   npm run bench -- client-instructions --cases socket-bare,socket-get --cpu-pairs 11   # CPU time, no valgrind
 *
 * Each case runs twice under `valgrind --tool=callgrind` in a fresh process,
 * with the same warm-up and `--calls` then `2 × --calls` measured calls; the
 * difference of the two totals divided by the extra calls is the cost of one
 * call, start-up, module loading and JIT warm-up cancelled out. A full
 * collection runs between the warm-up and the measured calls; the scavenges
 * the measured calls cause are included (part of what a call costs). Only user-space
 * instructions of the client process count: the socket cases' server runs in
 * a child process that valgrind does not trace, and system calls are not
 * counted.
 *
 * The cases:
 *
 * - `memory-*`: over an in-memory transport (an `HttpClient.make` answering a
 *   canned `Response`): what the pipeline itself costs. `memory-get` and
 *   `memory-getJson` run `ResilientClient` with `transportDeadlines` on, as
 *   `ResilientClient.make` does (the attempt deadline is left to the
 *   transport, which here ignores it).
 * - `memory-get-untraced`, `memory-getJson-untraced`: the same with
 *   `tracing: false` (no span, no trace header); `memory-get-off`,
 *   `memory-getJson-off`: with `metrics: false` too, everything off.
 * - `socket-*`: over loopback, one request at a time: the bare Effect client
 *   (`NodeHttpClient.layerUndici`) and `ResilientClient.make()` with its own
 *   undici dispatcher, as `bench/client.ts` runs them.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Context, Effect, Layer } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { idList, parseFlags, positiveInt } from "../scripts/args.ts"
import { callgrindInstructions } from "./support/callgrind.ts"
import { clientModules, srcArguments } from "./support/clientSources.ts"
import { serveJson, startJsonServer } from "./support/jsonServer.ts"
import { measureCalls, runArguments as childArguments, runScope } from "./support/measuredRun.ts"
import { memoryTransport } from "./support/memoryTransport.ts"
import { Payload } from "./support/payload.ts"
import { inFreshProcess, pairedRounds } from "./support/rounds.ts"
import { median, medianOfRatios } from "./support/stats.ts"

const cases = [
  "memory-bare",
  "memory-schema",
  "memory-get",
  "memory-getJson",
  "memory-get-untraced",
  "memory-getJson-untraced",
  "memory-get-off",
  "memory-getJson-off",
  "socket-bare",
  "socket-schema",
  "socket-get",
  "socket-getJson"
] as const
type Case = typeof cases[number]

const usage = `Usage: npm run bench -- client-instructions [options]

  --cases LIST         comma-separated cases (default every one):
                       ${cases.join(", ")}
  --concurrency C      calls in flight (default 1)
  --calls N            measured calls per run (callgrind: runs of N and 2N; default socket 1,500, memory 4,000;
                       --cpu-pairs: socket 8,000 at c=1 and 40,000 above, memory 100,000)
  --warmup N           warm-up calls before them (callgrind: socket 4,000, memory 30,000; --cpu-pairs: socket
                       12,000 at c=1 and 20,000 above, memory 30,000)
  --src DIR            run ResilientClient from another copy of packages/client/src (a variant to compare)
  --cpu-pairs R        CPU time instead of instructions: R rounds, every case in a fresh process, ratios taken
                       within each round, their median printed (no valgrind)
  --help               this text

Internal (the script runs itself as child processes):
  --run CASE           one run of a case, no valgrind; with --cpu it prints { cpuMicros } as one JSON line
  --serve              the keep-alive JSON server for the socket cases; prints its port`

const { values } = parseFlags({
  options: {
    run: { type: "string" },
    serve: { type: "boolean", default: false },
    cases: { type: "string" },
    calls: { type: "string" },
    warmup: { type: "string" },
    concurrency: { type: "string" },
    src: { type: "string" },
    "cpu-pairs": { type: "string" },
    cpu: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
}, usage)
const concurrencyFlag = positiveInt("--concurrency", values.concurrency) ?? 1
const callsFlag = positiveInt("--calls", values.calls)
const warmupFlag = positiveInt("--warmup", values.warmup)
const cpuPairs = positiveInt("--cpu-pairs", values["cpu-pairs"])

// ---------------------------------------------------------------------------
// One run: warm up, then the measured calls
// ---------------------------------------------------------------------------

const runOne = async (which: Case, calls: number, warmup: number, concurrency: number): Promise<void> => {
  const scope = runScope()
  const server = which.startsWith("socket-") ? await startJsonServer() : undefined
  const url = server?.url ?? "http://bench.test/payload"
  const memory = memoryTransport
  // `--src DIR`: another copy of the client's sources (a variant to compare), instead of the workspace's.
  const { ClientConfig, ResilientClient } = await clientModules(values.src)
  let call: Effect.Effect<unknown, unknown>
  if (which.endsWith("-bare") || which.endsWith("-schema")) {
    const client = which.startsWith("memory-")
      ? memory
      : Context.get(await scope.build(Layer.build(NodeHttpClient.layerUndici)), HttpClient.HttpClient)
    call = which.endsWith("-bare")
      ? Effect.flatMap(client.get(url), (response) => response.json)
      : Effect.flatMap(client.get(url), HttpClientResponse.schemaBodyJson(Payload))
  } else {
    // `-untraced`: tracing off; `-off`: tracing and metrics off.
    const options = which.endsWith("-off")
      ? { tracing: false, metrics: false }
      : which.endsWith("-untraced")
      ? { tracing: false }
      : {}
    const client = which.startsWith("memory-")
      ? await scope.build(
        Effect.flatMap(
          ClientConfig.resolve(options),
          (resolved) => ResilientClient.makeWith(resolved, memory, undefined, true)
        )
      )
      : await scope.build(ResilientClient.make(options))
    call = which.includes("getJson")
      ? client.getJson(url, Payload)
      : Effect.flatMap(
        client.get(url),
        (response) => response.attempt === 1 ? response.json : Effect.die(new Error(`attempt ${response.attempt}`))
      )
  }
  await measureCalls(call, { warmup, calls, concurrency, reportCpu: values.cpu === true })
  await scope.close()
  await server?.stop()
}

// ---------------------------------------------------------------------------
// The driver: each case twice under callgrind
// ---------------------------------------------------------------------------

/** The arguments of one run of a case in a child process (`--run`), with the variant's sources if any. */
const runArguments = (which: Case, calls: number, warmup: number, concurrency: number): Array<string> => [
  ...childArguments(import.meta.filename, which, { calls, warmup, concurrency }),
  ...srcArguments(values.src)
]

/** The cases asked for with `--cases` (every case by default), refused if one is unknown. */
const selectedCases = (): ReadonlyArray<Case> => idList("case", values.cases, cases) ?? cases

/**
 * What a case is compared with: get + json with the bare client; getJson (which decodes with a Schema) with the
 * bare client and `schemaBodyJson` when that was measured too. Undefined for the anchors themselves.
 */
const anchorOf = (id: Case, measured: (id: Case) => boolean): Case | undefined => {
  if (id.endsWith("-bare") || id.endsWith("-schema")) return undefined
  const kind = id.startsWith("socket-") ? "socket" : "memory"
  return id.includes("getJson") && measured(`${kind}-schema`) ? `${kind}-schema` : `${kind}-bare`
}

/** Total instructions of one run under callgrind (`support/callgrind.ts`). */
const instructions = (which: Case, calls: number, warmup: number, concurrency: number): Promise<number> =>
  callgrindInstructions(runArguments(which, calls, warmup, concurrency), which)

/**
 * `--cpu-pairs R`: CPU time instead of instructions, by the benchmarks' one method for it (`support/rounds.ts`). R
 * rounds; each runs every case once in a fresh process (no valgrind, V8's own defaults), in the order given; each
 * case's ratio to its anchor is taken within the round and the median over rounds is printed. Isolated processes
 * and per-round ratios are what make CPU time usable on a noisy machine: no case shares JIT state or garbage with
 * another, and a slow spell hits the cases of one round alike.
 */
const cpuTime = async (which: Case, calls: number, warmup: number, concurrency: number): Promise<number> =>
  (await inFreshProcess<{ cpuMicros: number }>([...runArguments(which, calls, warmup, concurrency), "--cpu"], which))
    .cpuMicros

const driveCpu = async (rounds: number): Promise<void> => {
  const selected = selectedCases()
  const concurrency = concurrencyFlag
  process.stdout.write(`CPU µs per call, ${rounds} rounds of fresh processes, concurrency ${concurrency}\n`)
  const samples = await pairedRounds({
    cases: selected,
    rounds,
    order: (all) => all,
    run: (id) => {
      const socket = id.startsWith("socket-")
      const calls = callsFlag ?? (socket ? (concurrency === 1 ? 8_000 : 40_000) : 100_000)
      const warmup = warmupFlag ?? (socket ? (concurrency === 1 ? 12_000 : 20_000) : 30_000)
      return cpuTime(id, calls, warmup, concurrency)
    }
  })
  for (const id of selected) {
    const mine = samples.get(id)!
    const anchorId = anchorOf(id, (other) => samples.has(other))
    const anchor = anchorId === undefined ? undefined : samples.get(anchorId)
    const ratio = anchor === undefined ? undefined : medianOfRatios(mine, anchor)
    process.stdout.write(
      `  ${id.padEnd(16)} ${median(mine).toFixed(1).padStart(7)} µs/call` +
        (ratio === undefined ? "\n" : `  ${ratio.toFixed(3)}x ${anchorId} (median of per-round ratios)\n`)
    )
  }
}

const drive = async (): Promise<void> => {
  const selected = selectedCases()
  const concurrency = concurrencyFlag
  process.stdout.write(`callgrind instructions per call (difference of two runs), concurrency ${concurrency}\n`)
  const perCase = new Map<Case, number>()
  const report = (id: Case) => {
    const per = perCase.get(id)!
    const anchorId = anchorOf(id, (other) => perCase.has(other))
    const anchor = anchorId === undefined ? undefined : perCase.get(anchorId)
    process.stdout.write(
      `  ${id.padEnd(16)} ${(per / 1000).toFixed(1).padStart(8)} k instr/call` +
        (anchor === undefined
          ? "\n"
          : `  ${(per / anchor).toFixed(3)}x ${anchorId}, ${per >= anchor ? "+" : ""}${
            ((per - anchor) / 1000).toFixed(1)
          } k\n`)
    )
  }
  // Two runs at a time (callgrind counts do not depend on load), in the order the cases were given.
  const jobs = selected.flatMap((id) => {
    const socket = id.startsWith("socket-")
    const calls = callsFlag ?? (socket ? 1_500 : 4_000)
    const warmup = warmupFlag ?? (socket ? 4_000 : 30_000)
    return [{ id, calls, warmup, n: calls }, { id, calls, warmup, n: 2 * calls }]
  })
  const totals = new Map<string, number>()
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!
      totals.set(`${job.id}/${job.n}`, await instructions(job.id, job.n, job.warmup, concurrency))
    }
  }
  await Promise.all([worker(), worker()])
  for (const job of jobs) {
    if (job.n !== job.calls) continue
    perCase.set(job.id, (totals.get(`${job.id}/${2 * job.calls}`)! - totals.get(`${job.id}/${job.calls}`)!) / job.calls)
  }
  for (const id of selected) report(id)
}

if (values.serve) {
  serveJson()
} else if (values.run !== undefined) {
  await runOne(
    idList("case", values.run, cases)![0]!,
    callsFlag ?? 1000,
    warmupFlag ?? 1000,
    concurrencyFlag
  )
  process.exit(0)
} else if (cpuPairs !== undefined) {
  await driveCpu(cpuPairs)
} else {
  await drive()
}

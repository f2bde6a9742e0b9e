/**
 * The measuring half of `memory.test.ts`, run as a child process with
 * `--expose-gc` so that the heap is measured after forced full collections, in
 * a process that holds nothing but one `ResilientClient` and its calls.
 *
 * It makes `warmup` calls, collects and measures the heap, makes the rest up
 * to `total`, collects and measures again, then waits (at most 10 s) until the
 * server's end of the connections to it (the kernel's table, `/proc/net/tcp`)
 * are no more than the pool holds, closes the client's scope, waits (at most
 * 10 s) for them to be gone, and prints one JSON line: the heap figures, the
 * outcomes of the calls, the server's open connections before and after the
 * close, and every process warning (a `MaxListenersExceededWarning` among
 * them).
 *
 * Modes: `ok` (GET `/health`, body read), `interrupted` (GET `/delay/1000`
 * under `Effect.timeout` of 15 ms: every call interrupted, most after their
 * request reached the server, the rest while connecting), `failing`
 * (GET `/msg` while the parent has armed 503s there: every call fails after
 * `retry.maxAttempts` 3).
 *
 * Usage: `node --expose-gc memory-child.ts <json>` with `{ url, mode, warmup,
 * total, concurrency, pool }`.
 */
import { Effect, Exit, Option } from "effect"
import { readFileSync } from "node:fs"
import { getHeapSpaceStatistics } from "node:v8"
import * as ResilientClient from "../src/ResilientClient.ts"

interface Input {
  readonly url: string
  readonly mode: "ok" | "interrupted" | "failing"
  readonly warmup: number
  readonly total: number
  readonly concurrency: number
  readonly pool: number
}

const input = JSON.parse(process.argv[2]!) as Input
const port = Number(new URL(input.url).port)

const warnings: Array<string> = []
process.on("warning", (warning) => warnings.push(`${warning.name}: ${warning.message}`))

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

/** Heap in use after full collections, with turns of the event loop between them for finalizers. */
const settledHeap = async (): Promise<number> => {
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

/** Bytes in use per V8 heap space (old, code, large objects...), to tell data from compiled code. */
const spaces = (): Record<string, number> =>
  Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size]))

/** The server's end of the established connections to it, as the kernel lists them. */
const serverConnections = (): number => {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).filter((line) => {
    const fields = line.trim().split(/\s+/)
    return fields[1] === local && fields[3] === "01"
  }).length
}

/** Polls `serverConnections` every 50 ms until it is at most `limit` or 10 s have passed; the last count. */
const connectionsDownTo = async (limit: number): Promise<number> => {
  const started = Date.now()
  let connections = serverConnections()
  while (connections > limit && Date.now() - started < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    connections = serverConnections()
  }
  return connections
}

const outcomes = { ok: 0, failed: 0, interrupted: 0 }
const tags: Record<string, number> = {}

const program = Effect.gen(function*() {
  const client = yield* ResilientClient.make({
    retry: input.mode === "failing" ? { maxAttempts: 3, minDelay: 1, maxDelay: 5 } : { maxAttempts: 1 },
    // Every call to `/msg` fails in `failing`: an open circuit would refuse them before any retry.
    circuitBreaker: { enabled: input.mode !== "failing" },
    // Idle connections outlive the test (the server keeps them as long): only closing the client ends them.
    pool: { connectionsPerOrigin: input.pool, keepAliveTimeout: "60 seconds" }
  })
  const call = (): Effect.Effect<void> => {
    switch (input.mode) {
      case "ok":
        return client.get(`${input.url}/health`).pipe(
          Effect.flatMap((response) => response.text),
          Effect.exit,
          Effect.map((exit) => {
            if (Exit.isSuccess(exit)) outcomes.ok++
            else outcomes.failed++
          })
        )
      case "interrupted":
        return client.get(`${input.url}/delay/1000`).pipe(
          Effect.flatMap((response) => response.text),
          Effect.timeoutOption("15 millis"),
          Effect.exit,
          Effect.map((exit) => {
            if (Exit.isFailure(exit)) outcomes.failed++
            else if (Option.isNone(exit.value)) outcomes.interrupted++
            else outcomes.ok++
          })
        )
      case "failing":
        return client.get(`${input.url}/msg`).pipe(
          Effect.flip,
          Effect.exit,
          Effect.map((exit) => {
            if (Exit.isSuccess(exit)) {
              outcomes.failed++
              tags[exit.value._tag] = (tags[exit.value._tag] ?? 0) + 1
            } else outcomes.ok++
          })
        )
    }
  }
  const calls = (n: number) =>
    Effect.forEach(Array.from({ length: n }), call, { concurrency: input.concurrency, discard: true })

  const started = Date.now()
  yield* calls(input.warmup)
  const afterWarmup = yield* Effect.promise(settledHeap)
  const spacesWarm = spaces()
  yield* calls(input.total - input.warmup)
  const afterAll = yield* Effect.promise(settledHeap)
  const spacesAll = spaces()
  const spaceGrowth = Object.fromEntries(
    Object.entries(spacesAll).map(([name, used]) => [name, used - (spacesWarm[name] ?? 0)]).filter(([, d]) => d !== 0)
  )
  const millis = Date.now() - started

  // Every interrupted call's socket is closed; otherwise the pool keeps its own.
  const connections = yield* Effect.promise(() => connectionsDownTo(input.mode === "interrupted" ? 0 : input.pool))
  return { afterWarmup, afterAll, spaceGrowth, millis, connections }
})

const result = await Effect.runPromise(Effect.scoped(program))
// The client's scope is closed: so is every connection of its pool.
const connectionsAfterClose = await connectionsDownTo(0)
process.stdout.write(
  `${
    JSON.stringify({
      ...result,
      growth: result.afterAll - result.afterWarmup,
      outcomes,
      tags,
      connectionsAfterClose,
      warnings
    })
  }\n`
)

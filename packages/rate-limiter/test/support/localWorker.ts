/**
 * One participant of the local store's multi-thread and multi-process tests,
 * run by Node directly (type stripping) as a worker thread or as a child
 * process started with `fork`.
 *
 * It opens the store on the shared file, says `Ready`, waits for `Go` (a
 * wall-clock start time shared by every participant), then reserves one
 * window item until `runMillis` have passed, and answers `Done` with what it
 * was admitted. Every reservation may wait (large `maxWaitMillis`): the
 * participant sleeps the delay and records the time it was let through, and
 * the bounds of the instant the store booked (see `Admission`).
 *
 * Configuration comes as `workerData` (thread) or as the first argument, in
 * JSON (process).
 */
import * as Effect from "effect/Effect"
import { parentPort, workerData } from "node:worker_threads"
import * as LocalStore from "../../src/LocalStore.ts"

/** What a participant is asked to do. */
export interface WorkerConfig {
  readonly path: string
  readonly id: string
  readonly limit: number
  readonly windowMillis: number
  readonly runMillis: number
}

/**
 * One admitted request. The store books the slot at its own
 * `Date.now()` plus the delay; that instant is not returned, but it lies
 * between the clock read just before and just after `reserve` (plus the
 * delay): `[bookedFrom, bookedTo]`.
 */
export interface Admission {
  /** When the participant woke up from the delay and let the request go. */
  readonly woke: number
  readonly bookedFrom: number
  readonly bookedTo: number
}

/** Messages between the test and a participant. */
export type WorkerMessage =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Go"; readonly at: number }
  | {
    readonly _tag: "Done"
    readonly admitted: ReadonlyArray<Admission>
  }
  | { readonly _tag: "Failed"; readonly error: string }

interface Channel {
  readonly config: WorkerConfig
  readonly send: (message: WorkerMessage) => Promise<void>
  readonly onMessage: (handler: (message: WorkerMessage) => void) => void
  readonly close: () => void
}

const channel = (): Channel => {
  const port = parentPort
  if (port !== null) {
    return {
      config: workerData as WorkerConfig,
      send: (message) => Promise.resolve(port.postMessage(message)),
      onMessage: (handler) => port.on("message", handler),
      close: () => port.close()
    }
  }
  const send = process.send
  if (send === undefined) throw new Error("localWorker.ts runs as a worker thread or a forked process")
  return {
    config: JSON.parse(process.argv[2] ?? "{}") as WorkerConfig,
    send: (message) =>
      new Promise((resolve, reject) => {
        send.call(process, message, (error: Error | null) => error === null ? resolve() : reject(error))
      }),
    onMessage: (handler) => process.on("message", (message) => handler(message as WorkerMessage)),
    close: () => process.disconnect()
  }
}

const { close, config, onMessage, send } = channel()

const goAt = new Promise<number>((resolve) =>
  onMessage((message) => {
    if (message._tag === "Go") resolve(message.at)
  })
)

const program = Effect.gen(function*() {
  const store = yield* LocalStore.make({ path: config.path, timeout: "10 seconds" })
  yield* Effect.promise(() => send({ _tag: "Ready" }))
  const start = yield* Effect.promise(() => goAt)
  yield* Effect.sleep(Math.max(0, start - Date.now()))
  const end = start + config.runMillis
  const item = {
    id: config.id,
    kind: "window",
    limit: config.limit,
    windowMillis: config.windowMillis,
    burst: 1,
    cost: 1
  } as const
  const admitted: Array<Admission> = []
  while (Date.now() < end) {
    const before = Date.now()
    const reservation = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 60_000 })
    const after = Date.now()
    if (reservation._tag === "Refused") return yield* Effect.die(new Error(`refused: ${JSON.stringify(reservation)}`))
    if (reservation.delayMillis > 0) yield* Effect.sleep(reservation.delayMillis)
    admitted.push({
      woke: Date.now(),
      bookedFrom: before + reservation.delayMillis,
      bookedTo: after + reservation.delayMillis
    })
  }
  return { _tag: "Done", admitted } as const
})

const result: WorkerMessage = await Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.catchCause((cause) => Effect.succeed({ _tag: "Failed", error: String(cause) } as const))
  )
)
await send(result)
close()

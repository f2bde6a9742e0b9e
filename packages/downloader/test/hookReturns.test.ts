/**
 * Hooks that return something other than an effect (`undefined` from a
 * JavaScript caller or an `as any`, a number, the Promise of an `async`
 * hook), over the memory queue and over Redis: Effect 4.1 ends a fiber that
 * runs such a value past every handler, which left the task in flight for
 * ever and `runWorkers({ until: "idle" })` waiting. Now `onStart` and
 * `onError` count it as a throw, `onSuccess` fails the attempt with it, and
 * a throw still does what it did. `download()`'s `onProgress` that throws,
 * or an `async` one that rejects, changes nothing in the download.
 */
import { assert, describe, it } from "@effect/vitest"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Context, Effect, Layer, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as Path from "node:path"
import * as Downloader from "../src/Downloader.ts"
import * as DownloadQueue from "../src/DownloadQueue.ts"
import type * as DownloadQueueStore from "../src/DownloadQueueStore.ts"
import * as TestQueue from "./support/queueRedis.ts"
import { assertContent, listing, setup } from "./support/setup.ts"

/** What a misbehaving hook returns, and how its `HookReturnError` describes it. */
const returns = [
  { name: "undefined", value: (): unknown => undefined, described: "undefined" },
  { name: "a number", value: (): unknown => 42, described: "a number" },
  { name: "a Promise", value: (): unknown => Promise.resolve(), described: "a Promise (an async function?)" },
  { name: "a rejected Promise", value: (): unknown => Promise.reject(new Error("late")), described: "a Promise" }
] as const

/** A hook that throws where it should return an effect. */
const boom = (): never => {
  throw new TypeError("boom")
}

/** Far above what a task takes on a loaded machine; a hang fails the test here instead of at vitest's timeout. */
const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, {
    duration: "60 seconds",
    orElse: () => Effect.die(new Error("runWorkers({ until: \"idle\" }) did not return within 60 s"))
  })

interface Backend {
  readonly layer: (
    name: string,
    options: DownloadQueueStore.StoreOptions
  ) => Layer.Layer<DownloadQueue.DownloadQueue, unknown>
  readonly cleanup: (name: string) => Effect.Effect<void, never, Scope.Scope>
}

const suite = (backendName: string, backend: Backend) => {
  const makeQueue = Effect.gen(function*() {
    const name = `hookret-${randomUUID()}`
    yield* backend.cleanup(name)
    const options = { maxAttempts: 2, retryDelay: "20 millis", maxRetryDelay: "200 millis" } as const
    const context = yield* Layer.build(backend.layer(name, options))
    return Context.get(context, DownloadQueue.DownloadQueue)
  })

  /** One task over the test server, run by `runWorkers` with `hooks`, its warnings kept. */
  const runOne = (path: string, hooks: DownloadQueue.WorkerOptions<unknown>) =>
    LoggingTest.withLines((lines) =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup({ client: { retry: { maxAttempts: 1 } } })
        const queue = yield* makeQueue
        const destination = Path.join(folder, "a.bin")
        yield* queue.offer({ id: "a", url: server.urlFor(path), destination })
        const report = yield* bounded(
          queue.runWorkers({ concurrency: 1, until: "idle", ...hooks }).pipe(
            Effect.provideService(Downloader.Downloader, downloader)
          )
        )
        const stats = yield* queue.stats
        const letters = yield* queue.deadLetters
        const warnings = lines.filter((line) => line.startsWith("runWorkers:"))
        return { report, stats, letters, warnings, destination, folder }
      })
    )

  describe(`hooks that return no effect: ${backendName}`, () => {
    for (const bad of returns) {
      it.live(`an onStart that returns ${bad.name} changes nothing: the task succeeds, one warning counts it`, () =>
        Effect.gen(function*() {
          const run = yield* runOne("/files/a.bin?size=1000&seed=1", { onStart: bad.value as never })
          assert.deepStrictEqual(run.report, { succeeded: 1, skipped: 0, retried: 0, deadLettered: 0, parked: 0 })
          assert.strictEqual(run.stats.inFlight, 0)
          yield* assertContent(run.destination, 1, 1000)
          assert.strictEqual(run.warnings.length, 1, run.warnings.join("\n"))
          assert.include(run.warnings[0]!, `onStart threw HookReturnError (returned ${bad.described}`)
          assert.include(run.warnings[0]!, "1 time(s)")
        }).pipe(Effect.scoped))

      it.live(`an onError that returns ${bad.name} changes nothing: a 503 is retried once, then a dead letter, the two calls counted`, () =>
        Effect.gen(function*() {
          const run = yield* runOne("/status/503", { onError: bad.value as never })
          assert.deepStrictEqual(run.report, { succeeded: 0, skipped: 0, retried: 1, deadLettered: 1, parked: 0 })
          assert.strictEqual(run.stats.inFlight, 0)
          assert.strictEqual(run.letters.length, 1)
          assert.strictEqual(run.letters[0]!.error._tag, "ServiceUnavailableError")
          assert.strictEqual(run.warnings.length, 1, run.warnings.join("\n"))
          assert.include(run.warnings[0]!, `onError threw HookReturnError (returned ${bad.described}`)
          assert.include(run.warnings[0]!, "2 time(s)")
        }).pipe(Effect.scoped))

      it.live(`an onSuccess that returns ${bad.name} fails each attempt (TaskAbandonedError naming it): retried once, then a dead letter`, () =>
        Effect.gen(function*() {
          const run = yield* runOne("/files/a.bin?size=1000&seed=2", { onSuccess: bad.value as never })
          assert.deepStrictEqual(run.report, { succeeded: 0, skipped: 0, retried: 1, deadLettered: 1, parked: 0 })
          assert.strictEqual(run.stats.inFlight, 0)
          assert.strictEqual(run.letters.length, 1)
          const error = run.letters[0]!.error
          assert.strictEqual(error._tag, "TaskAbandonedError")
          assert.include(
            (error as { readonly reason: string }).reason,
            `onSuccess failed: HookReturnError: onSuccess returned ${bad.described}`
          )
          // The file is in place (the hook runs after it): only the task's end failed.
          yield* assertContent(run.destination, 2, 1000)
        }).pipe(Effect.scoped))
    }

    it.live("hooks that throw behave as before: onStart and onError are counted, onSuccess's throw fails the attempt", () =>
      Effect.gen(function*() {
        const started = yield* runOne("/files/a.bin?size=1000&seed=3", { onStart: boom })
        assert.deepStrictEqual(started.report, { succeeded: 1, skipped: 0, retried: 0, deadLettered: 0, parked: 0 })
        assert.deepStrictEqual(started.warnings.map((line) => line.split(";")[0]), [
          "runWorkers: onStart threw TypeError 1 time(s)"
        ])
        const failed = yield* runOne("/status/503", { onError: boom })
        assert.deepStrictEqual(failed.report, { succeeded: 0, skipped: 0, retried: 1, deadLettered: 1, parked: 0 })
        assert.deepStrictEqual(failed.warnings.map((line) => line.split(";")[0]), [
          "runWorkers: onError threw TypeError 2 time(s)"
        ])
        const succeeded = yield* runOne("/files/a.bin?size=1000&seed=4", { onSuccess: boom })
        assert.deepStrictEqual(succeeded.report, { succeeded: 0, skipped: 0, retried: 1, deadLettered: 1, parked: 0 })
        assert.include(
          (succeeded.letters[0]!.error as { readonly reason: string }).reason,
          "onSuccess failed: TypeError: boom"
        )
      }).pipe(Effect.scoped))

    it.live("hooks that return effects still run and decide: onStart, onSuccess and onError each called, the task done", () =>
      Effect.gen(function*() {
        const calls: Array<string> = []
        const run = yield* runOne("/files/a.bin?size=1000&seed=5", {
          onStart: () => Effect.sync(() => calls.push("start")),
          onSuccess: () => Effect.sync(() => calls.push("success")),
          onError: () => Effect.sync(() => calls.push("error"))
        })
        assert.deepStrictEqual(run.report, { succeeded: 1, skipped: 0, retried: 0, deadLettered: 0, parked: 0 })
        assert.deepStrictEqual(calls, ["start", "success"])
        assert.deepStrictEqual(run.warnings, [])
      }).pipe(Effect.scoped))
  })
}

suite("memory", {
  layer: (_name, options) => DownloadQueue.layerMemory(options),
  cleanup: () => Effect.void
})

await RedisTest.describeWithRedis("hook returns on Redis", () => {
  suite("redis", {
    layer: (name, options) => TestQueue.queueLayer(name, options),
    cleanup: TestQueue.cleanup
  })
})

describe("Downloader.download: onProgress", () => {
  for (
    const [name, onProgress] of [
      ["throws at its second event", (n: number) => {
        if (n === 2) throw new TypeError("boom")
      }],
      ["is async and rejects", async (n: number) => {
        if (n >= 1) throw new TypeError("boom")
      }]
    ] as const
  ) {
    it.live(`an onProgress that ${name} changes nothing: the file is complete, one warning counts the throws`, () =>
      LoggingTest.withLines((lines) =>
        Effect.gen(function*() {
          const unhandled: Array<unknown> = []
          const onUnhandled = (reason: unknown) => unhandled.push(reason)
          process.on("unhandledRejection", onUnhandled)
          yield* Effect.addFinalizer(() => Effect.sync(() => process.off("unhandledRejection", onUnhandled)))
          const { downloader, folder, server } = yield* setup()
          const destination = Path.join(folder, "p.bin")
          let events = 0
          const result = yield* downloader.download(
            server.urlFor("/files/p.bin?size=400000&seed=6&rate=2000000"),
            destination,
            { onProgress: () => onProgress(++events) as void }
          )
          assert.strictEqual(result.bytes, 400_000)
          yield* assertContent(destination, 6, 400_000)
          assert.deepStrictEqual(yield* listing(folder), ["p.bin"])
          assert.isAtLeast(events, 2)
          // Rejections are counted when they settle: give the last one a turn of the event loop.
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
          const warnings = lines.filter((line) => line.startsWith("Downloader.download:"))
          assert.strictEqual(warnings.length, 1, lines.join("\n"))
          assert.include(warnings[0]!, "onProgress threw TypeError")
          assert.include(warnings[0]!, "the download went on")
          assert.deepStrictEqual(unhandled, [])
        })
      ).pipe(Effect.scoped))
  }
})

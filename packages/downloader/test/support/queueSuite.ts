/**
 * The contract every `DownloadQueue` store keeps, written once and run for
 * each backend (memory, Redis): real downloads from the fault-injection
 * server into a temporary folder, with the real `Downloader`.
 *
 * Each test makes its own queue with a fresh name (`makeQueue`), so runs on
 * a shared Redis never meet; the backend's `cleanup` removes what a queue
 * left once the test's scope closes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Logger, Schema, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../../src/Downloader.ts"
import * as DownloadQueue from "../../src/DownloadQueue.ts"
import * as DownloadQueueStore from "../../src/DownloadQueueStore.ts"
import type { DownloadResult } from "../../src/DownloadResult.ts"
import * as QueueTask from "../../src/QueueTask.ts"
import { assertContent, expectedSha256, listing, setup } from "./setup.ts"

/** How a backend makes a queue (and cleans up after it). */
export interface Backend<E> {
  /** A queue layer named `name` with these store options. */
  readonly layer: (
    name: string,
    options: DownloadQueueStore.StoreOptions
  ) => Layer.Layer<DownloadQueue.DownloadQueue, E>
  /** Registers, in the current scope, the removal of what queue `name` left (run after the queue closed). */
  readonly cleanup: (name: string) => Effect.Effect<void, never, Scope.Scope>
  /** Whether tasks outlive a queue: a later queue of the same name sees what an earlier one kept. */
  readonly persistent: boolean
}

/** Fast retries: the tests are about what is retried, not how long it waits. */
const quick: DownloadQueueStore.StoreOptions = { retryDelay: "20 millis", maxRetryDelay: "200 millis" }

const sleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** The GETs of one file the server saw (the precheck's HEAD is not one). */
const getsOf = (requests: ReadonlyArray<{ readonly method: string; readonly path: string }>, name: string) =>
  requests.filter((request) => request.method === "GET" && request.path === `/files/${name}`).length

const hostOf = (task: QueueTask.QueueTask) => new URL(task.url).hostname

/** A hook that throws where it should return an effect (it type-checks: `never` is every type). */
const boom = (): never => {
  throw new TypeError("boom")
}

/** The warnings `effect` logs that start with `prefix`, beside its value. */
const warningsOf = <A, E, R>(prefix: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make((options) => {
      const text = [options.message].flat().join(" ")
      if (options.logLevel === "Warn" && text.startsWith(prefix)) warnings.push(text)
    })
    const value = yield* Effect.provideService(effect, Logger.CurrentLoggers, new Set([logger]))
    return { value, warnings: warnings.toSorted() }
  })

/** Runs the queue contract against `backend`. */
export const queueSuite = <E>(name: string, backend: Backend<E>) => {
  /**
   * A queue alive until the current scope closes: a fresh one (removed after the test), or the one
   * named `given` (whose removal the caller registered).
   */
  const makeQueue = (options: DownloadQueueStore.StoreOptions = {}, given?: string) =>
    Effect.gen(function*() {
      const queueName = given ?? `test-${randomUUID()}`
      if (given === undefined) yield* backend.cleanup(queueName)
      const context = yield* Layer.build(backend.layer(queueName, { ...quick, ...options }))
      return { queue: Context.get(context, DownloadQueue.DownloadQueue), queueName }
    })

  describe(`DownloadQueue contract: ${name}`, () => {
    it.live("12 tasks over two hosts arrive once each, verified, 3 at once and 2 per host; an id offered twice is fetched once", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue()
        const hosts = [server.url, server.url.replace("127.0.0.1", "localhost")]
        const tasks = Array.from({ length: 12 }, (_, i) => ({
          id: `file-${i}`,
          url: `${hosts[i % 2]}/files/f${i}.bin?size=200000&seed=${i}&rate=2000000`,
          destination: Path.join(folder, `f${i}.bin`),
          checksum: `sha256:${expectedSha256(i, 200_000)}`
        }))
        yield* queue.offerAll(tasks)
        yield* queue.offer(tasks[0]!)
        assert.strictEqual((yield* queue.stats).queued, 12)
        // Downloading: from a file's first progress event (bytes flow) to its last (the whole file).
        const counted = new Set<string>()
        const perHost = new Map<string, number>()
        const mostPerHost = new Map<string, number>()
        let total = 0
        let most = 0
        const report = yield* queue.runWorkers({
          concurrency: 3,
          perHostConcurrency: 2,
          until: "idle",
          onProgress: (task, progress) => {
            const host = hostOf(task)
            if (!counted.has(task.id)) {
              counted.add(task.id)
              perHost.set(host, (perHost.get(host) ?? 0) + 1)
              mostPerHost.set(host, Math.max(mostPerHost.get(host) ?? 0, perHost.get(host)!))
              most = Math.max(most, ++total)
            }
            if (progress.done && !counted.has(`${task.id}:end`)) {
              counted.add(`${task.id}:end`)
              perHost.set(host, perHost.get(host)! - 1)
              total--
            }
          }
        }).pipe(Effect.provideService(Downloader.Downloader, downloader))
        assert.deepStrictEqual(report, { succeeded: 12, skipped: 0, retried: 0, deadLettered: 0, parked: 0 })
        for (let i = 0; i < 12; i++) yield* assertContent(Path.join(folder, `f${i}.bin`), i, 200_000)
        assert.deepStrictEqual(yield* listing(folder), tasks.map((task) => Path.basename(task.destination)).toSorted())
        const requests = yield* server.requests
        for (let i = 0; i < 12; i++) assert.strictEqual(getsOf(requests, `f${i}.bin`), 1, `GETs of f${i}.bin`)
        assert.isAtMost(most, 3)
        assert.strictEqual(mostPerHost.size, 2)
        for (const [host, count] of mostPerHost) assert.isAtMost(count, 2, host)
        const stats = yield* queue.stats
        assert.deepStrictEqual(
          [stats.queued, stats.delayed, stats.inFlight, stats.deadLetters, yield* queue.size],
          [0, 0, 0, 0, 0]
        )
      }).pipe(Effect.scoped))

    it.live("capacity 2: a third offer waits until a worker takes a task, then all three arrive", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue({ capacity: 2 })
        const task = (i: number) => ({
          id: `c${i}`,
          url: server.urlFor(`/files/c${i}.bin?size=1000&seed=${i}`),
          destination: Path.join(folder, `c${i}.bin`)
        })
        yield* queue.offer(task(0))
        yield* queue.offer(task(1))
        const third = yield* Effect.forkChild(queue.offer(task(2)))
        yield* sleep(400)
        assert.isUndefined(third.pollUnsafe(), "the third offer returned while the queue was full")
        assert.strictEqual((yield* queue.stats).queued, 2)
        const workers = yield* Effect.forkChild(
          queue.runWorkers({ concurrency: 1, until: "shutdown" }).pipe(
            Effect.provideService(Downloader.Downloader, downloader)
          )
        )
        yield* Fiber.join(third)
        yield* queue.shutdown({ mode: "drain" })
        const report = yield* Fiber.join(workers)
        assert.strictEqual(report.succeeded, 3)
        for (let i = 0; i < 3; i++) yield* assertContent(Path.join(folder, `c${i}.bin`), i, 1000)
      }).pipe(Effect.scoped))

    it.live("a 503 is tried maxAttempts (3) times, later attempts after growing delays, then is a dead letter with its typed error", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup({ client: { retry: { maxAttempts: 1 } } })
        const { queue } = yield* makeQueue({ maxAttempts: 3, retryDelay: "100 millis", maxRetryDelay: "1 second" })
        const url = server.urlFor("/status/503?access_token=s3cr3t")
        yield* queue.offer({ id: "unavailable", url, destination: Path.join(folder, "u.bin") })
        const starts: Array<number> = []
        const errors: Array<string> = []
        const report = yield* queue.runWorkers({
          until: "idle",
          onStart: () => Effect.sync(() => starts.push(Date.now())),
          onError: (_, error, attempt) =>
            Effect.sync(() => errors.push(`${attempt.attempt}:${error._tag}:${attempt.final}`))
        }).pipe(Effect.provideService(Downloader.Downloader, downloader))
        assert.deepStrictEqual(errors, [
          "1:ServiceUnavailableError:false",
          "2:ServiceUnavailableError:false",
          "3:ServiceUnavailableError:true"
        ])
        assert.deepStrictEqual(report, { succeeded: 0, skipped: 0, retried: 2, deadLettered: 1, parked: 0 })
        // 100 ms, then 200 ms (less a little for timer granularity); no upper bound on a busy machine.
        assert.isAtLeast(starts[1]! - starts[0]!, 90)
        assert.isAtLeast(starts[2]! - starts[1]!, 190)
        const letters = yield* queue.deadLetters
        assert.strictEqual(letters.length, 1)
        const letter = letters[0]!
        assert.strictEqual(letter.task.id, "unavailable")
        assert.strictEqual(letter.attempts, 3)
        assert.strictEqual(letter.error._tag, "ServiceUnavailableError")
        assert.notInclude(JSON.stringify(letter), "s3cr3t")
        const decoded = Schema.decodeUnknownSync(QueueTask.DeadLetter)(
          Schema.encodeSync(QueueTask.DeadLetter)(letter)
        )
        assert.strictEqual(decoded.error._tag, "ServiceUnavailableError")
        assert.strictEqual((yield* queue.stats).deadLetters, 1)
        assert.deepStrictEqual(yield* listing(folder), [])
      }).pipe(Effect.scoped))

    it.live("a 404 is not retryable: one attempt, then a dead letter (NotFoundError)", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue({ maxAttempts: 5 })
        yield* queue.offer({
          id: "missing",
          url: server.urlFor("/status/404"),
          destination: Path.join(folder, "m.bin")
        })
        const report = yield* queue.runWorkers({ until: "idle" }).pipe(
          Effect.provideService(Downloader.Downloader, downloader)
        )
        assert.strictEqual(report.deadLettered, 1)
        assert.strictEqual(report.retried, 0)
        const letters = yield* queue.deadLetters
        assert.deepStrictEqual(letters.map((letter) => [letter.task.id, letter.attempts, letter.error._tag]), [
          ["missing", 1, "NotFoundError"]
        ])
      }).pipe(Effect.scoped))

    it.live("onStart, onProgress and onError that throw change nothing: the file arrives, the 404 is one dead letter (NotFoundError), the report counts 1 succeeded and 1 dead letter, one warning per hook", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue()
        yield* queue.offer({
          id: "good",
          url: server.urlFor("/files/good.bin?size=100000&seed=1"),
          destination: Path.join(folder, "good.bin")
        })
        yield* queue.offer({
          id: "gone",
          url: server.urlFor("/status/404"),
          destination: Path.join(folder, "gone.bin")
        })
        const { value: report, warnings } = yield* warningsOf(
          "runWorkers:",
          queue.runWorkers({ until: "idle", onStart: boom, onProgress: boom, onError: boom }).pipe(
            Effect.provideService(Downloader.Downloader, downloader)
          )
        )
        assert.deepStrictEqual(report, { succeeded: 1, skipped: 0, retried: 0, deadLettered: 1, parked: 0 })
        yield* assertContent(Path.join(folder, "good.bin"), 1, 100_000)
        const letters = yield* queue.deadLetters
        assert.deepStrictEqual(letters.map((letter) => [letter.task.id, letter.error._tag]), [[
          "gone",
          "NotFoundError"
        ]])
        assert.strictEqual(warnings.length, 3, warnings.join("\n"))
        assert.strictEqual(warnings[0], "runWorkers: onError threw TypeError 1 time(s); the workers went on")
        assert.match(warnings[1]!, /^runWorkers: onProgress threw TypeError \d+ time\(s\); the workers went on$/)
        assert.strictEqual(warnings[2], "runWorkers: onStart threw TypeError 2 time(s); the workers went on")
      }).pipe(Effect.scoped))

    it.live("an onSuccess that throws fails its attempt as a failed onSuccess does: with maxAttempts 2, 1 retried and 1 dead letter (TaskAbandonedError), in the report", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue({ maxAttempts: 2 })
        yield* queue.offer({
          id: "thrown",
          url: server.urlFor("/files/t.bin?size=1000&seed=1"),
          destination: Path.join(folder, "t.bin")
        })
        const report = yield* queue.runWorkers({ until: "idle", onSuccess: boom }).pipe(
          Effect.provideService(Downloader.Downloader, downloader)
        )
        assert.deepStrictEqual(report, { succeeded: 0, skipped: 0, retried: 1, deadLettered: 1, parked: 0 })
        const letters = yield* queue.deadLetters
        assert.deepStrictEqual(
          letters.map((letter) => [letter.task.id, letter.attempts, letter.error._tag]),
          [["thrown", 2, "TaskAbandonedError"]]
        )
        assert.include(letters[0]!.error.message, "onSuccess failed: TypeError: boom")
      }).pipe(Effect.scoped))

    it.live("requeueDeadLetters after the cause is fixed: by id (1 of 3), then all (2 more); attempts from zero, the ids ignored by offer meanwhile, the fixed ones downloaded, the 404 a dead letter again", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue({ maxAttempts: 3 })
        // A folder that does not exist yet: not retryable, each task a dead letter after 1 attempt.
        const missing = Path.join(folder, "missing")
        const tasks = [
          { id: "a", url: server.urlFor("/files/a.bin?size=2000&seed=1"), destination: Path.join(missing, "a.bin") },
          { id: "b", url: server.urlFor("/files/b.bin?size=2000&seed=2"), destination: Path.join(missing, "b.bin") },
          { id: "c", url: server.urlFor("/status/404"), destination: Path.join(folder, "c.bin") }
        ]
        yield* queue.offerAll(tasks)
        const run = () => {
          const attempts: Array<string> = []
          return queue.runWorkers({
            concurrency: 1,
            until: "idle",
            onStart: (task, attempt) => Effect.sync(() => attempts.push(`${task.id}:${attempt.attempt}`))
          }).pipe(
            Effect.provideService(Downloader.Downloader, downloader),
            Effect.map((report) => ({ report, attempts: attempts.toSorted() }))
          )
        }
        const first = yield* run()
        assert.strictEqual(first.report.deadLettered, 3)
        yield* Effect.promise(() => Fs.mkdir(missing))

        assert.strictEqual(yield* queue.requeueDeadLetters({ ids: ["a", "never-queued"] }), 1)
        assert.deepStrictEqual((yield* queue.deadLetters).map((letter) => letter.task.id).toSorted(), ["b", "c"])
        assert.isFalse(yield* queue.offer(tasks[0]!), "an id requeued is queued: offering it again does nothing")
        assert.strictEqual(yield* queue.requeueDeadLetters(), 2)
        const stats = yield* queue.stats
        assert.deepStrictEqual([stats.queued, stats.deadLetters], [3, 0])

        const second = yield* run()
        assert.deepStrictEqual(second.report, { succeeded: 2, skipped: 0, retried: 0, deadLettered: 1, parked: 0 })
        assert.deepStrictEqual(second.attempts, ["a:1", "b:1", "c:1"])
        yield* assertContent(Path.join(missing, "a.bin"), 1, 2000)
        yield* assertContent(Path.join(missing, "b.bin"), 2, 2000)
        const letters = yield* queue.deadLetters
        assert.deepStrictEqual(letters.map((letter) => [letter.task.id, letter.attempts, letter.error._tag]), [
          ["c", 1, "NotFoundError"]
        ])
      }).pipe(Effect.scoped))

    it.live("a crawler with capacity 1 and one worker: onSuccess offers what each page links to; 15 pages, each fetched once", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue({ capacity: 1 })
        const page = (i: number) => ({
          id: `page-${i}`,
          url: server.urlFor(`/files/p${i}.bin?size=2000&seed=${i}`),
          destination: Path.join(folder, `p${i}.bin`),
          checksum: `sha256:${expectedSha256(i, 2000)}`
        })
        yield* queue.offer(page(0))
        const seen: Array<string> = []
        const report = yield* queue.runWorkers({
          concurrency: 1,
          until: "idle",
          onSuccess: (task) => {
            const i = Number(task.id.slice("page-".length))
            seen.push(task.id)
            // Page i links to 2i+1 and 2i+2 (a binary tree of 15 pages), and back to the first page.
            const links = [2 * i + 1, 2 * i + 2, 0].filter((n) => n < 15)
            return Effect.forEach(links, (n) => queue.offer(page(n)), { discard: true })
          }
        }).pipe(Effect.provideService(Downloader.Downloader, downloader))
        assert.strictEqual(report.succeeded, 15)
        assert.strictEqual(new Set(seen).size, 15)
        const requests = yield* server.requests
        for (let i = 0; i < 15; i++) {
          assert.strictEqual(getsOf(requests, `p${i}.bin`), 1, `GETs of p${i}.bin`)
          yield* assertContent(Path.join(folder, `p${i}.bin`), i, 2000)
        }
      }).pipe(Effect.scoped))

    it.live("drain: new offers fail with QueueShutdownError, the 4 tasks queued and in flight finish, the workers return", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue()
        const task = (i: number) => ({
          id: `d${i}`,
          url: server.urlFor(`/files/d${i}.bin?size=300000&seed=${i}&rate=1000000`),
          destination: Path.join(folder, `d${i}.bin`)
        })
        yield* queue.offerAll([0, 1, 2, 3].map(task))
        const started = yield* Deferred.make<void>()
        const workers = yield* Effect.forkChild(
          queue.runWorkers({ concurrency: 2, onStart: () => Deferred.succeed(started, undefined) }).pipe(
            Effect.provideService(Downloader.Downloader, downloader)
          )
        )
        yield* Deferred.await(started)
        const shutdown = yield* Effect.forkChild(queue.shutdown({ mode: "drain" }))
        yield* sleep(50)
        const refused = yield* Effect.flip(queue.offer(task(4)))
        assert.strictEqual(refused._tag, "QueueShutdownError")
        const result = yield* Fiber.join(shutdown)
        assert.deepStrictEqual(result, { mode: "drain", parked: [] })
        const report = yield* Fiber.join(workers)
        assert.strictEqual(report.succeeded, 4)
        for (let i = 0; i < 4; i++) yield* assertContent(Path.join(folder, `d${i}.bin`), i, 300_000)
        assert.strictEqual((yield* queue.stats).state, "closed")
        // Shut down is shut down: a second call gives the first result, workers return at once.
        assert.deepStrictEqual(yield* queue.shutdown({ mode: "park" }), result)
        const again = yield* queue.runWorkers().pipe(Effect.provideService(Downloader.Downloader, downloader))
        assert.strictEqual(again.succeeded, 0)
      }).pipe(Effect.scoped))

    it.live(
      "park: the download in flight stops with a resumable .part, the unstarted tasks are kept; the next run resumes the .part",
      () =>
        Effect.gen(function*() {
          const { downloader, folder, server } = yield* setup({ downloader: { checkpointInterval: 50 } })
          const big = {
            id: "big",
            url: server.urlFor("/files/big.bin?size=3000000&seed=7&rate=1000000"),
            destination: Path.join(folder, "big.bin"),
            checksum: `sha256:${expectedSha256(7, 3_000_000)}`
          }
          const small = (i: number) => ({
            id: `s${i}`,
            url: server.urlFor(`/files/s${i}.bin?size=1000&seed=${i}`),
            destination: Path.join(folder, `s${i}.bin`)
          })
          const queueName = `test-${randomUUID()}`
          yield* backend.cleanup(queueName)
          const first = yield* Effect.scoped(Effect.gen(function*() {
            const { queue } = yield* makeQueue({}, queueName)
            yield* queue.offerAll([big, small(1), small(2)])
            const flowing = yield* Deferred.make<void>()
            const workers = yield* Effect.forkChild(
              queue.runWorkers({
                concurrency: 1,
                onProgress: (task, progress) => {
                  if (task.id === "big" && progress.bytes >= 500_000) Deferred.doneUnsafe(flowing, Effect.void)
                }
              }).pipe(Effect.provideService(Downloader.Downloader, downloader))
            )
            yield* Deferred.await(flowing)
            const result = yield* queue.shutdown({ mode: "park" })
            const report = yield* Fiber.join(workers)
            return { result, report }
          }))
          assert.strictEqual(first.report.parked, 1)
          assert.strictEqual(first.report.succeeded, 0)
          const parkedIds = first.result.parked.map((task) => task.id).toSorted()
          assert.deepStrictEqual(parkedIds, backend.persistent ? ["big"] : ["big", "s1", "s2"])
          const names = yield* listing(folder)
          assert.include(names, "big.bin.part")
          assert.notInclude(names, "big.bin")
          const partSize = (yield* Effect.promise(() => Fs.stat(Path.join(folder, "big.bin.part")))).size
          assert.isAbove(partSize, 0)

          // The next run: the same queue (Redis keeps its tasks), or a new one given what the park returned.
          const { queue } = yield* makeQueue({}, backend.persistent ? queueName : `test-${randomUUID()}`)
          if (!backend.persistent) yield* queue.offerAll(first.result.parked)
          const results = new Map<string, DownloadResult>()
          const report = yield* queue.runWorkers({
            until: "idle",
            onSuccess: (task, result) => Effect.sync(() => results.set(task.id, result))
          }).pipe(Effect.provideService(Downloader.Downloader, downloader))
          assert.strictEqual(report.succeeded, 3)
          assert.strictEqual(results.get("big")?.resumed, true)
          yield* assertContent(Path.join(folder, "big.bin"), 7, 3_000_000)
          assert.deepStrictEqual(yield* listing(folder), ["big.bin", "s1.bin", "s2.bin"])
          const ranged = (yield* server.requests).filter((request) =>
            request.method === "GET" && request.path === "/files/big.bin" && request.headers.range !== undefined &&
            request.headers.range !== "bytes=0-0"
          )
          assert.strictEqual(ranged.length, 1, "one GET continued the .part with a Range")
        }).pipe(Effect.scoped)
    )

    it.live("a task whose file is already complete and matches its checksum is skipped, not fetched", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const { queue } = yield* makeQueue()
        const destination = Path.join(folder, "done.bin")
        const bytes = yield* Effect.promise(async () => {
          const response = await fetch(server.urlFor("/files/done.bin?size=5000&seed=3"))
          return new Uint8Array(await response.arrayBuffer())
        })
        yield* Effect.promise(() => Fs.writeFile(destination, bytes))
        yield* server.reset
        yield* queue.offer({
          id: "done",
          url: server.urlFor("/files/done.bin?size=5000&seed=3"),
          destination,
          checksum: `sha256:${expectedSha256(3, 5000)}`
        })
        const report = yield* queue.runWorkers({ until: "idle" }).pipe(
          Effect.provideService(Downloader.Downloader, downloader)
        )
        assert.deepStrictEqual([report.succeeded, report.skipped], [1, 1])
        assert.strictEqual(getsOf(yield* server.requests, "done.bin"), 0)
      }).pipe(Effect.scoped))

    it.live("stats count what waits, what waits for a retry and the dead letters", () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup({ client: { retry: { maxAttempts: 1 } } })
        const { queue } = yield* makeQueue({ maxAttempts: 2, retryDelay: "10 seconds" })
        yield* queue.offer({ id: "flaky", url: server.urlFor("/status/503"), destination: Path.join(folder, "x.bin") })
        yield* queue.offer({ id: "gone", url: server.urlFor("/status/404"), destination: Path.join(folder, "y.bin") })
        yield* queue.offer({
          id: "later",
          url: server.urlFor("/files/z.bin?size=10"),
          destination: Path.join(folder, "z")
        })
        assert.deepStrictEqual(yield* queue.size, 3)
        let outcomes = 0
        const settled = yield* Deferred.make<void>()
        const outcome = Effect.suspend(() => ++outcomes === 3 ? Deferred.succeed(settled, undefined) : Effect.void)
        const workers = yield* Effect.forkChild(
          queue.runWorkers({
            concurrency: 1,
            onError: () => Effect.asVoid(outcome),
            onSuccess: () => Effect.asVoid(outcome)
          }).pipe(Effect.provideService(Downloader.Downloader, downloader))
        )
        yield* Deferred.await(settled)
        // A hook runs while its task is in flight; the task is settled right after.
        while ((yield* queue.stats).inFlight > 0) yield* sleep(10)
        const stats = yield* queue.stats
        assert.deepStrictEqual(
          { queued: stats.queued, delayed: stats.delayed, inFlight: stats.inFlight, deadLetters: stats.deadLetters },
          { queued: 0, delayed: 1, inFlight: 0, deadLetters: 1 }
        )
        assert.strictEqual(stats.backend, name)
        assert.strictEqual(yield* queue.size, 1)
        yield* queue.shutdown({ mode: "park" })
        yield* Fiber.join(workers)
      }).pipe(Effect.scoped))

    it.live("offer refuses a task without an id or with a bad checksum (DownloadConfigError); nothing is queued", () =>
      Effect.gen(function*() {
        const { queue } = yield* makeQueue()
        const noId = yield* Effect.flip(queue.offer({ id: "", url: "http://127.0.0.1/x", destination: "x" }))
        assert.strictEqual(noId._tag, "DownloadConfigError")
        const badSum = yield* Effect.flip(
          queue.offer({ id: "a", url: "http://127.0.0.1/x", destination: "x", checksum: "sha256:zz" })
        )
        assert.strictEqual(badSum._tag, "DownloadConfigError")
        assert.strictEqual(yield* queue.size, 0)
      }).pipe(Effect.scoped))
  })
}

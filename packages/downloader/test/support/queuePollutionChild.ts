/**
 * The polluted half of `queuePollution.test.ts`, run as a child process
 * (polluting `Object.prototype` inside the vitest worker would reach vitest
 * itself).
 *
 * For each key named on the command line, and for each store (memory, and
 * Redis under the prefix it is given), it queues tasks without their optional
 * fields (no `checksum`, a checksum object without `expected`) and two that
 * fail (a 404, and a task whose checksum the worker refuses, put straight
 * into the store as another producer could), sets `Object.prototype[key]` to
 * a hostile value, queues two more (one that keeps failing with 503) and
 * records a dead letter by hand (its error without the optional `problems`),
 * runs the workers until the queue is idle and reads the dead letters, then
 * deletes the key and reads the dead letters again (on Redis, also as they
 * are stored). It prints one line per key: the tasks as the workers saw them
 * (their own fields), the results, the dead letters, the report, and the files
 * on disk. The parent owns the test server, which records the requests, and
 * judges.
 *
 * Usage: `node queuePollutionChild.ts <json>` with `{ url, folder, redisUrl, prefix, keys }`; `keys` may include `""`
 * for an unpolluted baseline.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { exactly } from "@httpkit/core/Own"
import { Context, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { DownloadConfigError } from "../../src/DownloadConfig.ts"
import * as Downloader from "../../src/Downloader.ts"
import * as DownloadQueue from "../../src/DownloadQueue.ts"
import * as DownloadQueueStore from "../../src/DownloadQueueStore.ts"
import * as QueueRedis from "../../src/internal/queueRedis.ts"
import { DeadLetter } from "../../src/QueueTask.ts"
import type * as QueueTask from "../../src/QueueTask.ts"
import * as Kit from "./pollutionChildKit.ts"

interface Input {
  /** The test server. */
  readonly url: string
  /** Where each key gets a folder of its own. */
  readonly folder: string
  readonly redisUrl: string
  /** The prefix of every Redis key (the parent removes them). */
  readonly prefix: string
  readonly keys: ReadonlyArray<string>
}

const input = Kit.input<Input>()

/** A hostile value for `key`: what would change a queued download most if it were picked up. */
const hostile = (key: string): unknown => {
  switch (key) {
    case "checksum":
      return `sha256:${"0".repeat(64)}`
    case "expected":
      return "0".repeat(64)
    case "algorithm":
      return "md5"
    case "retryable":
      return true
    case "requestId":
      return "polluted-request-id"
    case "status":
      return 599
    case "retryAfterMillis":
      return 1
    case "problems":
      return [{ setting: "polluted", received: "x", expected: "y" }]
    default:
      return "polluted"
  }
}

/** A call's result or its error's tag, given up after 60 s. */
const outcome = <A>(effect: Effect.Effect<A, unknown, never>) => Kit.outcome(effect, 60, false)

const { fields } = Kit

/** A task as a worker got it: its own fields, and its own checksum. */
const taskView = (task: QueueTask.QueueTask) => ({
  fields: fields(task),
  checksum: Object.hasOwn(task, "checksum") ? task.checksum : null
})

/** Every file under `folder` with its sha256 (a `.part` by name only), sorted. */
const contents = async (folder: string): Promise<Array<string>> => {
  const out: Array<string> = []
  for (const entry of await Fs.readdir(folder)) {
    const full = Path.join(folder, entry)
    if (entry.includes(".part")) out.push(entry)
    else out.push(`${entry} ${createHash("sha256").update(await Fs.readFile(full)).digest("hex").slice(0, 16)}`)
  }
  return out.toSorted()
}

/** Sets `Object.prototype[key]` to its hostile value; returns the undo. */
const pollute = (key: string): () => void => {
  const proto = Object.prototype as Record<string, unknown>
  if (key === "") return () => {}
  proto[key] = hostile(key)
  return () => {
    delete proto[key]
  }
}

/** Sorts by `id`. */
const byId = (a: { readonly id: string }, b: { readonly id: string }) => a.id.localeCompare(b.id)

/** A dead letter as read: its task and the own fields of its error. */
const letterView = (letter: DeadLetter) => ({
  id: letter.task.id,
  attempts: letter.attempts,
  error: letter.error._tag,
  errorFields: fields(letter.error),
  task: taskView(letter.task)
})

/** One backend's run for one key. */
const runBackend = (key: string, marker: string, backend: "memory" | "redis", dir: string) => {
  const file = (name: string, query: string) =>
    `${input.url}/files/${marker}-${backend}-${name}?${query}&probe=${marker}`
  const at = (name: string) => Path.join(dir, name)
  return Effect.scoped(Effect.gen(function*() {
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 2, minDelay: 1, maxDelay: 5 } })
    const downloader = yield* Effect.provideService(
      Downloader.make({ checkpointInterval: 50 }),
      ResilientClient.ResilientClient,
      client
    )
    const storeOptions = { maxAttempts: 3, retryDelay: "20 millis", maxRetryDelay: "50 millis" } as const
    const name = `${marker}-queue`
    const redis = backend === "memory"
      ? undefined
      : Context.get(yield* Layer.build(NodeRedis.layer({ url: input.redisUrl })), Redis.Redis)
    const store = redis === undefined
      ? yield* DownloadQueueStore.makeMemory(storeOptions)
      : yield* Effect.provideService(
        DownloadQueueStore.makeRedis({ ...storeOptions, name, prefix: input.prefix, pollInterval: "20 millis" }),
        Redis.Redis,
        redis
      )
    const queue = yield* Effect.provideService(DownloadQueue.make, DownloadQueueStore.DownloadQueueStore, store)

    // Queued before the pollution: no checksum, a checksum without `expected`, a 404.
    const before = yield* outcome(queue.offerAll([
      { id: "plain", url: file("plain.bin", "size=200000&seed=31"), destination: at("plain.bin") },
      {
        id: "computed",
        url: file("computed.bin", "size=100000&seed=32"),
        destination: at("computed.bin"),
        checksum: { algorithm: "sha256" }
      },
      { id: "missing", url: `${input.url}/status/404?probe=${marker}`, destination: at("missing.bin") }
    ]))
    // Straight into the store, as another producer could put it: a checksum the worker refuses.
    const refused = yield* outcome(store.offer({
      id: "refused",
      url: file("refused.bin", "size=1000&seed=33"),
      destination: at("refused.bin"),
      checksum: "sha256:not-hex"
    }))

    const unpollute = pollute(key)
    const seen: Array<{ readonly id: string; readonly attempt: number; readonly task: unknown }> = []
    const results: Array<{ readonly id: string; readonly [field: string]: unknown }> = []
    const errors: Array<{ readonly id: string; readonly attempt: number; readonly [field: string]: unknown }> = []
    let polluted: Record<string, unknown>
    try {
      // Queued while polluted: no checksum, and a 503 that keeps failing.
      const during = yield* outcome(queue.offerAll([
        { id: "late", url: file("late.bin", "size=150000&seed=34"), destination: at("late.bin") },
        { id: "unavailable", url: `${input.url}/status/503?probe=${marker}`, destination: at("unavailable.bin") }
      ]))
      // A dead letter recorded by hand (`Store.addDeadLetter`), its error without the optional `problems`.
      const recorded = yield* outcome(store.addDeadLetter(
        new DeadLetter({
          task: { id: "by-hand", url: file("by-hand.bin", "size=10"), destination: at("by-hand.bin") },
          attempts: 1,
          error: new DownloadConfigError(exactly({ message: "recorded by hand" })),
          failedAt: 0
        })
      ))
      const report = yield* outcome(
        queue.runWorkers({
          concurrency: 2,
          until: "idle",
          onStart: (task, attempt) =>
            Effect.sync(() => seen.push({ id: task.id, attempt: attempt.attempt, task: taskView(task) })),
          onSuccess: (task, result) =>
            Effect.sync(() =>
              results.push({
                id: task.id,
                name: Path.basename(result.path),
                bytes: result.bytes,
                verified: result.verified,
                skipped: result.skipped,
                checksum: Object.hasOwn(result, "checksum") && result.checksum !== undefined
                  ? `${result.checksum.algorithm}:${result.checksum.digest}`
                  : null
              })
            ),
          onError: (task, error, attempt) =>
            Effect.sync(() =>
              errors.push({ id: task.id, error: error._tag, attempt: attempt.attempt, final: attempt.final })
            )
        }).pipe(Effect.provideService(Downloader.Downloader, downloader))
      )
      const letters = yield* outcome(
        Effect.map(queue.deadLetters, (letters) => letters.map(letterView).toSorted(byId))
      )
      polluted = { during, recorded, report, letters }
    } finally {
      unpollute()
    }

    // Read again unpolluted: what the dead letters hold, and on Redis what is stored.
    const lettersAfter = yield* outcome(
      Effect.map(queue.deadLetters, (letters) => letters.map(letterView).toSorted(byId))
    )
    const stored = redis === undefined ? null : yield* outcome(Effect.gen(function*() {
      const keys = QueueRedis.keysFor(input.prefix, name)
      const texts = yield* redis.send<Array<string>>("LRANGE", keys.dead, "0", "-1")
      return texts.map((text) => {
        const letter = JSON.parse(text) as { task: object; error: object; attempts: number }
        return { task: fields(letter.task), error: fields(letter.error), attempts: letter.attempts }
      }).toSorted((a, b) => a.task.localeCompare(b.task) || a.error.localeCompare(b.error))
    }))
    const shutdown = yield* queue.shutdown({})
    return {
      before,
      refused,
      during: polluted["during"],
      recorded: polluted["recorded"],
      report: polluted["report"],
      letters: polluted["letters"],
      lettersAfter,
      stored,
      seen: seen.toSorted((a, b) => byId(a, b) || a.attempt - b.attempt),
      results: results.toSorted(byId),
      errors: errors.toSorted((a, b) => byId(a, b) || a.attempt - b.attempt),
      parked: shutdown.parked.length,
      files: yield* Effect.promise(() => contents(dir))
    }
  }))
}

await Kit.forEachKey(input.keys, "q", "@@queue-pollution ", async (key, marker) => {
  const outcomes: Record<string, unknown> = {}
  for (const backend of ["memory", "redis"] as const) {
    const dir = Path.join(input.folder, marker, backend)
    await Fs.mkdir(dir, { recursive: true })
    outcomes[backend] = await Kit.settled(() => Effect.runPromise(runBackend(key, marker, backend, dir)))
  }
  return outcomes
})
// The Redis connections are closed with their scopes; nothing else keeps the process.
process.exit(0)

/**
 * A download worker: takes tasks from a download queue in Redis and downloads
 * them, sharing one rate limit with every other worker of the queue. Start
 * as many as you like, on as many machines; `download-producer.ts` fills the
 * queue. A worker killed mid-file loses its task to another worker once its
 * lease lapses, and that worker continues the `.part` it left (when the
 * destination folder is shared).
 *
 * Run it with `npm run example -- download-worker --redis redis://127.0.0.1:6379`
 * (`--help` lists the options). It prints one JSON object per line: `start`,
 * `take`, `progress`, `done`, `error`, and `stopped` with its report. Ctrl-C
 * or SIGTERM parks: downloads in flight stop, their `.part` files stay, and
 * their tasks go back to the queue. The downloader reads `HTTPKIT_DOWNLOAD_*`
 * (`Downloader.layerConfig`). Every download passes `createFolders: true`: a
 * task's destination folder (such as the producer's default `downloads/`,
 * which is not in the checkout) is created when it does not exist yet.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as Redact from "@httpkit/core/Redact"
import * as Downloader from "@httpkit/downloader/Downloader"
import * as DownloadQueue from "@httpkit/downloader/DownloadQueue"
import * as ClientRateLimit from "@httpkit/rate-limiter/ClientRateLimit"
import * as Policy from "@httpkit/rate-limiter/Policy"
import * as RateLimiter from "@httpkit/rate-limiter/RateLimiter"
import * as RedisStore from "@httpkit/rate-limiter/RedisStore"
import { Effect, Layer } from "effect"
import * as Os from "node:os"
import { fail, parseFlags, positiveInt, redisUrlOf } from "../scripts/args.ts"
import { runMain } from "./support/outcome.ts"
import { requireRedis } from "./support/redis.ts"

const usage = `Usage: npm run example -- download-worker --redis URL [options]

Takes download tasks from a Redis queue (filled by download-producer) and downloads them.

  --redis URL          the Redis holding the queue (default: REDIS_URL)
  --queue NAME         the queue's name (default: downloads)
  --concurrency N      downloads at once in this process (default: 2)
  --per-host N         downloads at once per host in this process (default: 2)
  --rate N             requests per second to a host, shared by every worker of the queue (default: no limit)
  --until WHEN         "shutdown": run until Ctrl-C or SIGTERM (default); "idle": stop once the queue is empty
  --lease DURATION     how long the task of a worker that died waits before another worker takes it,
                       such as 30s, 2s or "1.5 min" (default: 30s)
  --max-attempts N     attempts per task before it becomes a dead letter (default: 5)
  --id NAME            this worker's name in its output (default: host:pid)
  -h, --help           this text

Prints one JSON object per line. Ctrl-C or SIGTERM parks the downloads in flight: their .part files stay and
their tasks go back to the queue.`

const parsed = parseFlags({
  options: {
    redis: { type: "string" },
    queue: { type: "string" },
    concurrency: { type: "string" },
    "per-host": { type: "string" },
    rate: { type: "string" },
    until: { type: "string" },
    lease: { type: "string" },
    "max-attempts": { type: "string" },
    id: { type: "string" },
    help: { type: "boolean", short: "h" }
  }
}, usage).values

const redisUrl = parsed.redis !== undefined
  ? redisUrlOf("--redis", parsed.redis)
  : redisUrlOf("REDIS_URL", process.env.REDIS_URL ?? fail("--redis URL is required (or set REDIS_URL)"))
const queueName = parsed.queue ?? "downloads"
const concurrency = positiveInt("--concurrency", parsed.concurrency) ?? 2
const perHost = positiveInt("--per-host", parsed["per-host"]) ?? 2
const rate = positiveInt("--rate", parsed.rate)
const until = parsed.until ?? "shutdown"
if (until !== "idle" && until !== "shutdown") fail(`--until must be "idle" or "shutdown", got "${until}"`)
// Durations as people write them (`2s`, `30 seconds`, `1.5 min`), as the rest of the configuration reads them.
const lease = DurationInput.parseMillis(parsed.lease ?? "30 seconds") ?? 0
if (lease <= 0) fail(`--lease must be a duration above 0 such as 30s or "2 min", got ${JSON.stringify(parsed.lease)}`)
const maxAttempts = positiveInt("--max-attempts", parsed["max-attempts"]) ?? 5
const worker = parsed.id ?? `${Os.hostname()}:${process.pid}`

/** One line on stdout (a pipe on Linux is written synchronously: a kill never cuts a line). */
const line = (fields: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...fields, worker })}\n`)
}

const main = Effect.gen(function*() {
  const queue = yield* DownloadQueue.DownloadQueue
  line({ event: "start", pid: process.pid, queue: queueName, concurrency, rate: rate ?? null, leaseMillis: lease })
  const report = yield* queue.runWorkers({
    concurrency,
    perHostConcurrency: perHost,
    until: until as "idle" | "shutdown",
    // A task's folder (the producer's default `downloads/` is not in the checkout) is created when missing.
    options: { createFolders: true },
    onStart: (task, attempt) => Effect.sync(() => line({ event: "take", id: task.id, attempt: attempt.attempt })),
    onProgress: (task, progress) => line({ event: "progress", id: task.id, bytes: progress.bytes }),
    onSuccess: (task, result, attempt) =>
      Effect.sync(() =>
        line({
          event: "done",
          id: task.id,
          attempt: attempt.attempt,
          path: result.path,
          bytes: result.bytes,
          verified: result.verified,
          resumed: result.resumed,
          skipped: result.skipped
        })
      ),
    onError: (task, error, attempt) =>
      Effect.sync(() =>
        line({
          event: "error",
          id: task.id,
          attempt: attempt.attempt,
          final: attempt.final,
          error: error._tag,
          message: error.message
        })
      )
  }).pipe(Effect.onInterrupt(() => Effect.sync(() => line({ event: "parked" }))))
  line({ event: "stopped", report })
})

await requireRedis(redisUrl, Redact.url)

const Client = rate === undefined
  ? ResilientClient.layer({ retry: { maxAttempts: 3 }, timeout: { idle: "30 seconds" } })
  : ResilientClient.layer({ retry: { maxAttempts: 3 }, timeout: { idle: "30 seconds" } }).pipe(
    Layer.provide(ClientRateLimit.layer),
    Layer.provide(RateLimiter.layer({ policies: [Policy.rate({ limit: rate, window: "1 second" })] })),
    // One limit for every worker of this queue, whatever machine it runs on.
    Layer.provide(RedisStore.layer({ url: redisUrl, prefix: `httpkit:rl:dq:${queueName}:` }))
  )

const Live = Layer.mergeAll(
  Downloader.layerConfig().pipe(Layer.provide(Client)),
  DownloadQueue.layerRedis({ name: queueName, lease, maxAttempts }).pipe(
    Layer.provide(NodeRedis.layer({ url: redisUrl }))
  )
)

runMain(main.pipe(Effect.provide(Live)))

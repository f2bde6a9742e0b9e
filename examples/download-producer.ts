/**
 * Fills a download queue in Redis for `download-worker.ts`: one task per URL,
 * into one destination folder. A URL may end with `#sha256=<hex>` (or
 * `#sha512=`, `#sha1=`, `#md5=`; the fragment is never sent to the server):
 * the worker verifies the file, and a task delivered twice keeps the complete
 * file instead of fetching it again. Each task's id is a hash of its URL and
 * folder, so offering the same URLs again queues nothing new (their lines
 * say `known` instead of `offered`). `--stats`
 * prints the queue's counts and its dead letters instead; `--requeue` puts
 * the dead letters (all, or the ids given) back in the queue, once their
 * cause is fixed, each with its attempts from zero. The folder is
 * `--dest`, taken from the folder the command is run in when relative
 * (default `downloads`: from the repository's root, `downloads/`, which git
 * ignores); each `offered` line prints it as an absolute path. The folder
 * need not exist: the worker creates it (`createFolders: true`).
 *
 * Run it with `npm run example -- download-producer --redis redis://127.0.0.1:6379
 * --dest downloads/ https://example.com/a.bin#sha256=...` (`--help` lists the
 * options). It prints one JSON object per line.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Redact from "@httpkit/core/Redact"
import * as Checksum from "@httpkit/downloader/Checksum"
import * as DownloadQueue from "@httpkit/downloader/DownloadQueue"
import * as QueueTask from "@httpkit/downloader/QueueTask"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"
import { fail, parseFlags, redisUrlOf } from "../scripts/args.ts"
import { runMain } from "./support/outcome.ts"
import { requireRedis } from "./support/redis.ts"

const usage = `Usage: npm run example -- download-producer --redis URL [--queue NAME] [--dest DIR] URL[#sha256=HEX]...
       npm run example -- download-producer --redis URL [--queue NAME] --stats
       npm run example -- download-producer --redis URL [--queue NAME] --requeue [ID...]

Offers one download task per URL to a Redis queue; download-worker processes take them.

  --redis URL     the Redis holding the queue (default: REDIS_URL)
  --queue NAME    the queue's name (default: downloads)
  --dest DIR      the folder the files go to, the same path for every worker; a relative DIR is taken from the
                  folder the command is run in (default: downloads there: from the repository's root,
                  downloads/, which git ignores); each "offered" line prints it in full; each file is named by
                  the server (Content-Disposition) or the URL
  --stats         print the queue's counts and dead letters, and offer nothing
  --requeue       put the dead letters back in the queue (every one, or those of the task ids given instead of
                  URLs), each with its attempts from zero, and offer nothing: once their cause is fixed
  -h, --help      this text

A URL may end with #sha256=<hex> (or #sha512=, #sha1=, #md5=): the file is verified, and a task delivered twice
keeps the complete file. Offering a URL again for the same folder does nothing.`

const parsed = parseFlags({
  options: {
    redis: { type: "string" },
    queue: { type: "string" },
    dest: { type: "string" },
    stats: { type: "boolean" },
    requeue: { type: "boolean" },
    help: { type: "boolean", short: "h" }
  },
  allowPositionals: true
}, usage)

const redisUrl = parsed.values.redis !== undefined
  ? redisUrlOf("--redis", parsed.values.redis)
  : redisUrlOf("REDIS_URL", process.env.REDIS_URL ?? fail("--redis URL is required (or set REDIS_URL)"))
const queueName = parsed.values.queue ?? "downloads"
// A folder (the trailing separator): the downloader names each file.
const folder = `${Path.resolve(parsed.values.dest ?? "downloads")}${Path.sep}`
const statsOnly = parsed.values.stats === true
const requeue = parsed.values.requeue === true
if (!statsOnly && !requeue && parsed.positionals.length === 0) {
  fail("give at least one URL to download (or --stats, or --requeue)")
}

/** A task from `URL[#algorithm=hex]`. */
const taskOf = (argument: string): QueueTask.TaskInput => {
  let url: URL
  try {
    url = new URL(argument)
  } catch {
    return fail(`not a URL: ${JSON.stringify(argument)}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`not an http(s) URL: ${Redact.url(url)}`)
  const fragment = /^#(md5|sha1|sha256|sha512)=([0-9a-fA-F]+)$/.exec(url.hash)
  if (url.hash !== "" && fragment === null) {
    fail(`the fragment of ${Redact.url(url)} must be #sha256=<hex> (or #sha512=, #sha1=, #md5=)`)
  }
  url.hash = ""
  const checksum = fragment === null ? undefined : `${fragment[1]}:${fragment[2]!.toLowerCase()}`
  if (checksum !== undefined) {
    const problem = Checksum.resolve(checksum)
    if (typeof problem === "string") fail(`${Redact.url(url)}: ${problem}`)
  }
  const id = createHash("sha256").update(`${url.href}\n${folder}`).digest("hex").slice(0, 32)
  return { id, url: url.href, destination: folder, ...(checksum === undefined ? {} : { checksum }) }
}

// With --requeue, the arguments are the ids of dead letters (as --stats prints them), not URLs.
const tasks = requeue ? [] : parsed.positionals.map(taskOf)

const line = (fields: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(fields)}\n`)
}

const main = Effect.gen(function*() {
  const queue = yield* DownloadQueue.DownloadQueue
  for (const task of tasks) {
    // `false`: the id is known (queued, in flight or done), so nothing was queued.
    const queued = yield* queue.offer(task)
    line({ event: queued ? "offered" : "known", id: task.id, url: Redact.url(task.url), destination: task.destination })
  }
  if (requeue) {
    const ids = parsed.positionals.length === 0 ? undefined : parsed.positionals
    // Each letter leaves the dead letters in the step that queues its task: a run stopped midway loses none.
    const requeued = yield* queue.requeueDeadLetters({ ids })
    line({ event: "requeued", queue: queueName, tasks: requeued })
  }
  const stats = yield* queue.stats
  line({
    event: "stats",
    queue: queueName,
    queued: stats.queued,
    delayed: stats.delayed,
    inFlight: stats.inFlight,
    deadLetters: stats.deadLetters
  })
  if (statsOnly) {
    for (const letter of yield* queue.deadLetters) line({ event: "dead", ...(letter.toJSON() as object) })
  }
})

await requireRedis(redisUrl, Redact.url)

const Live = DownloadQueue.layerRedis({ name: queueName }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))

runMain(main.pipe(Effect.provide(Live)))

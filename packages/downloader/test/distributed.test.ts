/**
 * The distributed download queue (issue point 10), end to end with real
 * processes: `examples/download-producer.ts` queues 9 files in Redis, three
 * `examples/download-worker.ts` processes share the queue and one rate limit
 * (the rate limiter's `RedisStore`), and the one downloading the large,
 * trickled file is killed with SIGKILL mid-file. The test server runs here
 * and records every request.
 *
 * What must hold, whatever the timing: every file arrives once at its
 * destination with the right sha256 and nothing else is left in the folder;
 * each task is completed (not skipped) by exactly one worker; the killed
 * worker's task is completed by another worker, which continues the `.part`
 * with a `Range`; no dead letters; and the three workers together stay under
 * the shared limit (three limits of their own would send three times as
 * much).
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Path from "node:path"

import { listing, sha256Of, tempFolder } from "./support/setup.ts"

const root = Path.join(import.meta.dirname, "..", "..", "..")
const workerScript = Path.join(root, "examples", "download-worker.ts")
const producerScript = Path.join(root, "examples", "download-producer.ts")

const MiB = 1024 * 1024

/** Requests per second the workers share. */
const rate = 8

/** The largest number of `times` (milliseconds) inside any span of `spanMillis`. */
const busiest = (times: ReadonlyArray<number>, spanMillis: number): number => {
  const sorted = times.toSorted((a, b) => a - b)
  let most = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= spanMillis) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

await RedisTest.describeWithRedis("a download queue shared by worker processes through Redis", () => {
  it.live(
    "3 workers, 9 files, the worker downloading the 4 MiB file SIGKILLed mid-file: every file arrives once, verified; another worker resumes the killed task; no dead letters; one shared rate limit",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const folder = yield* tempFolder
        const queue = `dist-${randomUUID()}`
        yield* RedisPrefix.cleanupUnder(`httpkit:dq:${queue}`)
        yield* RedisPrefix.cleanupUnder(`httpkit:rl:dq:${queue}:`)
        const files = [
          // Trickled at 1 MiB/s: about 4 s, so the kill lands mid-file.
          { name: "big.bin", size: 4 * MiB, seed: 100, rate: MiB },
          ...Array.from({ length: 8 }, (_, i) => ({ name: `f${i}.bin`, size: 300_000, seed: i, rate: 600_000 }))
        ]
        const urls = files.map((file) =>
          `${server.url}/files/${file.name}?size=${file.size}&seed=${file.seed}&rate=${file.rate}#sha256=${
            Content.digest(file.seed, 0, file.size)
          }`
        )

        // The producer queues the 9 tasks, and exits.
        const produce = [producerScript, "--redis", RedisTest.url, "--queue", queue, "--dest", folder, ...urls]
        const producer = yield* NodeChild.start(produce)
        const produced = yield* producer.ended
        assert.strictEqual(produced.code, 0, producer.diagnostics())
        const offered = producer.lines.filter((line) => line.event === "offered")
        assert.strictEqual(offered.length, 9, producer.diagnostics())
        const idOf = (name: string) => offered.find((line) => String(line.url).includes(`/files/${name}?`))!.id
        const bigId = idOf("big.bin")

        // The same URLs again: every id is known, nothing is queued, and the lines say so.
        const again = yield* NodeChild.start(produce)
        assert.strictEqual((yield* again.ended).code, 0, again.diagnostics())
        assert.deepStrictEqual(
          again.lines.filter((line) => line.event !== "stats").map((line) => line.event),
          Array(9).fill("known")
        )

        // Three workers; small write batches and frequent checkpoints, so the killed worker leaves bytes to resume.
        const names = ["w1", "w2", "w3"]
        const workers = yield* Effect.forEach(names, (id) =>
          NodeChild.start([
            workerScript,
            "--redis",
            RedisTest.url,
            "--queue",
            queue,
            "--concurrency",
            "2",
            "--rate",
            String(rate),
            "--until",
            "idle",
            "--lease",
            "3 seconds",
            "--max-attempts",
            "4",
            "--id",
            id
          ], {
            env: { HTTPKIT_DOWNLOAD_CHECKPOINT_INTERVAL: "100 millis", HTTPKIT_DOWNLOAD_WRITE_BATCH: "64 KiB" }
          }))

        // Kill the worker downloading the big file once over 1 MiB of it has arrived.
        const victim = yield* Effect.raceAll(
          workers.map((worker, index) =>
            worker.until(
              "progress past 1 MiB of big.bin",
              (line) => line.event === "progress" && line.id === bigId && Number(line.bytes) >= 1.2 * MiB
            ).pipe(Effect.as(index))
          )
        )
        const gets = (yield* server.requestsTo("/files/big.bin")).filter((request) => request.method === "GET")
        assert.isAtLeast(gets.length, 1, "the server saw the big file's GET before the kill")
        yield* workers[victim]!.kill("SIGKILL")
        const killed = yield* workers[victim]!.ended
        assert.strictEqual(killed.signal, "SIGKILL")

        // The others run until the queue is idle: the killed worker's tasks included, once its lease lapses.
        for (const [index, worker] of workers.entries()) {
          if (index === victim) continue
          const ended = yield* worker.ended
          assert.strictEqual(ended.code, 0, `${names[index]}: ${worker.diagnostics()}`)
        }

        // Every file once, whole and verified; nothing else in the folder. When not, what each worker said (its
        // lines other than progress, and its other output) tells which task went where.
        const story = () =>
          workers.map((worker, index) =>
            [
              ...worker.lines.filter((line) => line.event !== "progress").map((line) =>
                `${names[index]} ${JSON.stringify(line)}`
              ),
              `${names[index]} output: ${worker.diagnostics()}`
            ].join("\n")
          ).join("\n")
        assert.deepStrictEqual(yield* listing(folder), files.map((file) => file.name).toSorted(), story())
        for (const file of files) {
          assert.strictEqual(
            yield* sha256Of(Path.join(folder, file.name)),
            Content.digest(file.seed, 0, file.size),
            file.name
          )
        }

        // Each task completed (not skipped) by exactly one worker; the big one by a survivor, resumed.
        const lines = workers.flatMap((worker) => worker.lines)
        const completed = lines.filter((line) => line.event === "done" && line.skipped === false)
        for (const line of offered) {
          assert.strictEqual(
            completed.filter((done) => done.id === line.id).length,
            1,
            `task ${String(line.url)} completed once`
          )
        }
        const bigDone = completed.find((line) => line.id === bigId)!
        assert.notStrictEqual(bigDone.worker, names[victim], "the killed worker's task was completed by another")
        assert.strictEqual(bigDone.resumed, true, "the .part the killed worker left was continued")
        assert.isAtLeast(Number(bigDone.attempt), 2)
        assert.isTrue(
          workers[victim]!.lines.some((line) => line.event === "take" && line.id === bigId),
          "the killed worker had taken the big file"
        )
        assert.deepStrictEqual(lines.filter((line) => line.event === "error" && line.final === true), [])

        // The server: the big file from 0 once, then continued past 0 with a Range.
        const bigGets = (yield* server.requestsTo("/files/big.bin")).filter((request) =>
          request.method === "GET" && request.headers.range !== "bytes=0-0"
        )
        const starts = bigGets.map((request) => Number(/^bytes=(\d+)-/.exec(request.headers.range ?? "")?.[1] ?? 0))
        assert.strictEqual(starts.filter((start) => start === 0).length, 1, `GETs of big.bin from: ${starts}`)
        assert.isTrue(starts.some((start) => start > 0), `GETs of big.bin from: ${starts}`)

        // Nothing left in the queue, no dead letters (read by the producer example's --stats).
        const inspector = yield* NodeChild.start([
          producerScript,
          "--redis",
          RedisTest.url,
          "--queue",
          queue,
          "--stats"
        ])
        assert.strictEqual((yield* inspector.ended).code, 0, inspector.diagnostics())
        const stats = inspector.lines.find((line) => line.event === "stats")
        assert.deepStrictEqual(
          stats === undefined ? undefined : [stats.queued, stats.delayed, stats.inFlight, stats.deadLetters],
          [0, 0, 0, 0]
        )
        assert.deepStrictEqual(inspector.lines.filter((line) => line.event === "dead"), [])

        // One limit for the three: a rate of 8 per second evenly spaced holds any second to about 8 (arrivals
        // jitter by tens of milliseconds); three limits of their own would allow 24.
        const arrivals = (yield* server.requests).filter((request) => request.path.startsWith("/files/"))
          .map((request) => request.arrivedAt)
        assert.isAtMost(busiest(arrivals, 1_000), rate + 2, "requests in the busiest second")
      }).pipe(Effect.scoped),
    180_000
  )
})

/**
 * RELIABILITY 10 for the download queue: a task crosses Effect's Schema on
 * its way into a store and back to a worker (Effect's `PersistedQueue`
 * encodes it to JSON in Redis and decodes every task it takes), and its dead
 * letter likewise. Schema reads an absent optional field with `in`, so under
 * a polluted `Object.prototype` a task queued without a `checksum` came back
 * from Redis with the polluted one, and the worker downloaded with it (here:
 * a checksum mismatch and a dead letter instead of the file). The same goes
 * for a checksum object without `expected`, and for the dead letters' errors
 * (an error without `retryable` was retried; `requestId` and `status` were
 * written into Redis).
 *
 * One child process (`support/queuePollutionChild.ts`) takes each name below
 * in turn, on the memory store and on real Redis (a prefix of this test's
 * own): tasks queued before and while polluted, taken by workers against the
 * test server while polluted. Each name must leave everything as the
 * unpolluted baseline had it: the tasks as workers saw them (own fields),
 * the requests the server recorded, the results, the dead letters (read while
 * polluted, after, and as Redis stores them) and the files on disk.
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect, Scope } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Runs from "./support/pollutionRuns.ts"
import { assertLikeBaseline } from "./support/pollutionRuns.ts"

/**
 * The task's optional fields (and the checksum object's), and the optional
 * or absent fields of the errors a dead letter holds. `retryAfterMillis` is
 * left out: `@httpkit/client`'s `ClientError.fromStatus` reads it from its
 * context object with a plain read, so a 503's error is made with the
 * polluted value before the queue sees it (on either store).
 */
const names = ["checksum", "expected", "algorithm", "retryable", "requestId", "status", "problems"]

/** How long the child may take over every name. */
const childTimeout = 400_000

interface Outcome extends Runs.Outcome {
  readonly [backend: string]: unknown
}

/** A file as the child lists it: its name and the start of its sha256. */
const file = (name: string, seed: number, size: number) => `${name} ${Content.digest(seed, 0, size).slice(0, 16)}`

const dir = mkdtempSync(join(tmpdir(), "httpkit-dq-pollution-"))

await RedisTest.describeWithRedis(
  "a polluted Object.prototype changes nothing a queue worker does (RELIABILITY 10)",
  () => {
    /** The child over the baseline and every name, its Redis keys under a prefix removed with the server. */
    const world = Runs.pollutionWorld<Outcome>(["", ...names], dir, async (url, scope) => {
      const prefix = RedisPrefix.fresh("dq-pollution")
      await Effect.runPromise(RedisPrefix.cleanupUnder(prefix).pipe(Scope.provide(scope)))
      return {
        script: join(import.meta.dirname, "support", "queuePollutionChild.ts"),
        input: (remaining) => ({ url, folder: dir, redisUrl: RedisTest.url, prefix, keys: remaining }),
        tag: "@@queue-pollution ",
        timeoutMillis: childTimeout,
        crashed: (key, stderr) => ({ key, marker: "", crashed: stderr })
      }
    })

    it(
      "the unpolluted baseline, on both stores: the files, results and dead letters expected, so the comparisons below mean something",
      {
        timeout: childTimeout
      },
      async () => {
        const { outcomes, stderr } = await world()
        const baseline = outcomes.get("")
        assert.isDefined(baseline, stderr.slice(-2_000))
        const shown = Runs.view(baseline!)
        for (const backend of ["memory", "redis"]) {
          const run = shown[backend] as Record<string, unknown>
          assert.isUndefined(run["threw"] ?? run["hung"], `${backend}: ${JSON.stringify(run)} ${stderr.slice(-2_000)}`)
          assert.deepStrictEqual(run["before"], { ok: true, value: 3 }, backend)
          assert.deepStrictEqual(run["during"], { ok: true, value: 2 }, backend)
          assert.deepStrictEqual(run["recorded"], { ok: true }, backend)
          assert.deepStrictEqual(run["report"], {
            ok: true,
            value: { succeeded: 3, skipped: 0, retried: 2, deadLettered: 3, parked: 0 }
          }, backend)
          // The tasks reached the workers with the fields they were queued with, and no others.
          const seenTasks = run["seen"] as Array<{ id: string; task: { fields: string; checksum: unknown } }>
          const taskOf = (id: string) => seenTasks.find((entry) => entry.id === id)?.task
          assert.deepStrictEqual(taskOf("plain"), { fields: "destination,id,url", checksum: null }, backend)
          assert.deepStrictEqual(taskOf("late"), { fields: "destination,id,url", checksum: null }, backend)
          assert.deepStrictEqual(
            taskOf("computed"),
            { fields: "checksum,destination,id,url", checksum: { algorithm: "sha256" } },
            backend
          )
          const results = run["results"] as Array<{ id: string; verified: boolean; checksum: string | null }>
          assert.deepStrictEqual(results.map((result) => [result.id, result.verified, result.checksum?.slice(0, 7)]), [
            ["computed", false, "sha256:"],
            ["late", false, undefined],
            ["plain", false, undefined]
          ], backend)
          const letters = (run["letters"] as { value: Array<{ id: string; attempts: number; error: string }> }).value
          assert.deepStrictEqual(letters.map((letter) => [letter.id, letter.attempts, letter.error]), [
            ["by-hand", 1, "DownloadConfigError"],
            ["missing", 1, "NotFoundError"],
            ["refused", 1, "DownloadConfigError"],
            ["unavailable", 3, "ServiceUnavailableError"]
          ], backend)
          assert.deepStrictEqual(run["lettersAfter"], run["letters"], backend)
          if (backend === "redis") {
            // As Redis stores them: each error with its own fields only.
            assert.deepStrictEqual(run["stored"], {
              ok: true,
              value: [
                { task: "checksum,destination,id,url", error: "_tag,message,problems", attempts: 1 },
                { task: "destination,id,url", error: "_tag,message", attempts: 1 },
                { task: "destination,id,url", error: "_tag,method,requestId,retryable,status,url", attempts: 1 },
                { task: "destination,id,url", error: "_tag,method,requestId,retryable,status,url", attempts: 3 }
              ]
            })
          }
          // Whole, as served (a polluted checksum would have left nothing: a mismatch removes the part).
          assert.deepStrictEqual(run["files"], [
            file("computed.bin", 32, 100_000),
            file("late.bin", 34, 150_000),
            file("plain.bin", 31, 200_000)
          ], backend)
        }
      }
    )

    for (const name of names) {
      it(
        `Object.prototype[${
          JSON.stringify(name)
        }]: the workers see the same tasks, the server the same requests, the dead letters and files are the same`,
        { timeout: childTimeout },
        async () => {
          const run = await world()
          assertLikeBaseline(run, name, (marker) => Runs.seen(run.records, marker))
        }
      )
    }
  }
)

/**
 * One limit held by four separate OS processes: on Redis, and on the local
 * SQLite store. Each process records when its requests were admitted, how
 * many times a request woke too late and booked again (each leaves a booked
 * slot unused), and every failure; the test merges and counts what they
 * recorded. The processes start together once all four have opened their
 * store, so a slow start on a loaded machine does not shorten the run.
 */
import { assert, it } from "@effect/vitest"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { runTogether } from "./support/processes.ts"

/**
 * Four processes share `limit` per second for `seconds`, started together
 * once all are ready; every admission time (from the start, sorted), and the
 * late and failed counts of all four.
 */
const fourProcesses = (backend: "redis" | "local", target: string, limit: number, seconds: number) =>
  Effect.gen(function*() {
    const key = `multi-${crypto.randomUUID()}`
    const { records: runs, start } = yield* runTogether(
      Array.from({ length: 4 }, () => [backend, target, key, String(limit), String(seconds)])
    )
    assert.ok(runs.every((run) => run.admitted.length > 0), "every process was admitted at least once")
    return {
      times: runs.flatMap((run) => run.admitted).map((t) => t - start).toSorted((a, b) => a - b),
      late: runs.reduce((sum, run) => sum + run.late, 0),
      failed: runs.reduce((sum, run) => sum + run.failed, 0),
      errors: runs.flatMap((run) => run.errors)
    }
  })

/**
 * The limit held, from what the processes recorded: no acquisition failed;
 * the slots booked (admitted, plus those left unused by a late request that
 * booked again) are the limit's worth within 5%; and no second admitted more
 * than the slots of 1.1 seconds plus one: slots are booked evenly apart, and
 * a request may wake up to `maxLateness` (100 ms) after its slot before it
 * books again, so a second of wake-ups can hold the slots of 1.1 seconds.
 */
const assertHeld = (
  label: string,
  run: Effect.Success<ReturnType<typeof fourProcesses>>,
  limit: number,
  seconds: number
) => {
  const { errors, failed, late, times } = run
  const expected = limit * seconds
  let busiest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! < times[i]! - 999) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  console.info(`${label}: ${times.length} admitted, ${late} rebooked late, ${failed} failed; busiest second ${busiest}`)
  assert.strictEqual(failed, 0, `${failed} acquisitions failed: ${errors.join("; ")}`)
  const booked = times.length + late
  assert.ok(
    Math.abs(booked - expected) <= expected * 0.05,
    `booked ${booked} (${times.length} admitted, ${late} left unused by late requests), expected ${expected} ±5%`
  )
  // The benchmark (bench/rate-limiter.ts) measures the busiest second on a quiet machine.
  assert.ok(busiest <= limit * 1.1 + 1, `${busiest} admitted in one second, limit ${limit}`)
}

await RedisTest.describeWithRedis("four OS processes sharing one Redis limit", () => {
  it.live(
    "50 per second for 5 seconds: none fails, 250 slots booked within 5%, and no second holds more than 56",
    () =>
      Effect.gen(function*() {
        assertHeld("redis", yield* fourProcesses("redis", RedisTest.url, 50, 5), 50, 5)
      }),
    60_000
  )
})

it.live(
  "four OS processes sharing one local SQLite file at 50 per second for 5 seconds: none fails, 250 booked within 5%",
  () =>
    Effect.gen(function*() {
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-multi-"))
      try {
        assertHeld("local", yield* fourProcesses("local", Path.join(folder, "limits.sqlite"), 50, 5), 50, 5)
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    }),
  60_000
)

/**
 * One limit held by four separate OS processes: on Redis, and on the local
 * SQLite store. Each process records when its requests were admitted; the
 * test merges the times and counts.
 */
import { assert, it } from "@effect/vitest"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./support/limitedProcess.ts", import.meta.url))

/** Runs one `limitedProcess.ts` and returns its admission times. */
const runProcess = (args: ReadonlyArray<string>) =>
  Effect.callback<ReadonlyArray<number>, Error>((resume) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      if (code !== 0) return resume(Effect.fail(new Error(`limitedProcess exited ${code}: ${err}`)))
      try {
        resume(Effect.succeed(JSON.parse(out.trim()) as ReadonlyArray<number>))
      } catch (cause) {
        resume(Effect.fail(new Error(`bad output ${out.slice(0, 200)}: ${String(cause)}`)))
      }
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Four processes share `limit` per second for `seconds`; returns every admission time, from `start`. */
const fourProcesses = (backend: "redis" | "local", target: string, limit: number, seconds: number) =>
  Effect.gen(function*() {
    const key = `multi-${crypto.randomUUID()}`
    // Give the processes time to boot, then start them together.
    const start = Date.now() + 3_000
    const runs = yield* Effect.all(
      Array.from(
        { length: 4 },
        () => runProcess([backend, target, key, String(limit), String(seconds), String(start), "16"])
      ),
      { concurrency: "unbounded" }
    )
    assert.ok(runs.every((times) => times.length > 0), "every process was admitted at least once")
    return runs.flat().map((t) => t - start).toSorted((a, b) => a - b)
  })

const assertHeld = (times: ReadonlyArray<number>, limit: number, seconds: number) => {
  const expected = limit * seconds
  assert.ok(Math.abs(times.length - expected) <= expected * 0.05, `admitted ${times.length}, expected ${expected} ±5%`)
  let busiest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! < times[i]! - 999) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  // Slots are booked evenly apart; a loaded machine can wake a few together, hence 10% here. The
  // benchmark (bench/rate-limiter.ts) measures the busiest second on a quiet machine.
  assert.ok(busiest <= limit * 1.1, `${busiest} admitted in one second, limit ${limit}`)
}

await RedisTest.describeWithRedis("four OS processes sharing one Redis limit", () => {
  it.live(
    "50 per second for 5 seconds admits 250 within 5%, and no second holds more than 55",
    () =>
      Effect.gen(function*() {
        const times = yield* fourProcesses("redis", RedisTest.url, 50, 5)
        assertHeld(times, 50, 5)
      }),
    60_000
  )
})

it.live(
  "four OS processes sharing one local SQLite file: 250 in 5 seconds at 50 per second, within 5%",
  () =>
    Effect.gen(function*() {
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-multi-"))
      try {
        const times = yield* fourProcesses("local", Path.join(folder, "limits.sqlite"), 50, 5)
        assertHeld(times, 50, 5)
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    }),
  60_000
)

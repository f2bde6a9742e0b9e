import { assert, describe, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect, Stream } from "effect"
import * as Path from "node:path"
import { DownloadResult } from "../src/DownloadResult.ts"
import * as Progress from "../src/Progress.ts"
import { assertContent, setup } from "./support/setup.ts"

/** Eleven instants 100 ms apart from `from`: one event per interval over a second. */
const everyTenth = (from: number) => Array.from({ length: 11 }, (_, i) => from + i * 100)

/**
 * Asserts that the events not marked done from `afterMillis` after the first of `events` have a speed within a
 * factor of 4 of the server's `rate` (generous bounds: a loaded machine delivers a trickle in bursts), and that
 * there is at least one.
 */
const assertNearRate = (
  events: ReadonlyArray<Progress.Progress>,
  rate: number,
  afterMillis: number,
  check: (event: Progress.Progress) => void = () => {}
) => {
  const measured = events.filter((event) =>
    !event.done && event.elapsedMillis - events[0]!.elapsedMillis >= afterMillis
  )
  assert.isAtLeast(measured.length, 1)
  for (const event of measured) {
    assert.isAtLeast(event.bytesPerSecond, rate / 4, JSON.stringify(event))
    assert.isAtMost(event.bytesPerSecond, rate * 4)
    check(event)
  }
}

describe("Progress.meter", () => {
  const base = { url: "u", destination: "d", total: 10_000, startedAt: 0, initialBytes: 0 }

  /** A meter of `options` fed `updates` (bytes, then the instant): what its last event says. */
  const speeds: ReadonlyArray<{
    readonly name: string
    readonly options: Partial<Parameters<typeof Progress.meter>[0]>
    readonly updates: ReadonlyArray<readonly [bytes: number, now: number]>
    readonly expected: Partial<Record<"bytes" | "bytesPerSecond" | "etaSeconds" | "total", number | undefined>>
  }> = [
    {
      name: "speed is bytes per second over the window; ETA is what is left at that speed",
      options: { intervalMillis: 100, windowMillis: 1000 },
      updates: [[0, 0], [1000, 500], [2000, 1000]],
      expected: { bytesPerSecond: 2000, etaSeconds: 4, total: 10_000 }
    },
    {
      name: "the window forgets old samples: a stall brings the speed down to 0",
      options: { intervalMillis: 100, windowMillis: 1000 },
      updates: [[0, 0], [5000, 1000], [5000, 2000], [5000, 3000]],
      expected: { bytesPerSecond: 0, etaSeconds: undefined }
    },
    {
      name: "resumed bytes count in bytes but not in the speed",
      options: { initialBytes: 8000, windowMillis: 1000 },
      updates: [[8500, 500], [9500, 1500]],
      expected: { bytes: 9500, bytesPerSecond: 1000 }
    },
    {
      // New content: the download starts over; the old samples (5,000 bytes) would make every speed negative.
      name: "a restart from zero (fewer bytes than before) counts the speed afresh, not 0 until the window has passed",
      options: { intervalMillis: 100, windowMillis: 5000 },
      updates: [[1000, 0], [5000, 1000], [500, 1100], [1500, 1600]],
      expected: { bytes: 1500, bytesPerSecond: 2000, etaSeconds: 4.3 }
    },
    {
      name: "after a resume, a restart from zero counts every new byte: the resumed ones are gone",
      options: { initialBytes: 8000, intervalMillis: 100, windowMillis: 5000 },
      updates: [[8500, 0], [300, 500], [1300, 1000]],
      expected: { bytesPerSecond: 2000 }
    }
  ]
  for (const { expected, name, options, updates } of speeds) {
    it(`${name}`, () => {
      const meter = Progress.meter({ ...base, ...options })
      let event: Progress.Progress | undefined
      for (const [bytes, now] of updates) event = meter.update(bytes, now)
      assert.isDefined(event, "the last update emits")
      for (const [field, value] of Object.entries(expected)) assert.strictEqual(event![field as "bytes"], value, field)
    })
  }

  it("emits at most one event per interval, whatever the number of updates", () => {
    const meter = Progress.meter({ ...base, intervalMillis: 100 })
    const events = []
    for (let now = 0; now <= 1000; now += 1) {
      const event = meter.update(now * 10, now)
      if (event !== undefined) events.push(event)
    }
    assert.strictEqual(events.length, 11)
    assert.deepStrictEqual(events.map((event) => event.elapsedMillis), everyTenth(0))
  })

  it("the speed counts from the first byte: 2 s of connecting, then 1 MB/s, shows 1 MB/s and its ETA at once, not 52 kB/s", () => {
    const meter = Progress.meter({ ...base, total: 10_000_000, intervalMillis: 100, windowMillis: 5000 })
    // Connecting and waiting for headers until 2000 ms; then 10 kB every 10 ms (1 MB/s), the first chunk at 2000.
    const events: Array<Progress.Progress> = []
    for (let now = 2000; now <= 3000; now += 10) {
      const event = meter.update(((now - 2000) / 10 + 1) * 10_000, now)
      if (event !== undefined) events.push(event)
    }
    // The throttle holds: one event per 100 ms.
    assert.deepStrictEqual(events.map((event) => event.elapsedMillis), everyTenth(2000))
    // The first byte alone says nothing of the speed: 0, no ETA (before: 10 kB over 2 s, 5 kB/s, ETA 2000 s).
    assert.strictEqual(events[0]!.bytesPerSecond, 0)
    assert.isUndefined(events[0]!.etaSeconds)
    // Every event after it: 1 MB/s and the ETA at that speed (before: 52-337 kB/s, ETAs of 27-189 s).
    for (const event of events.slice(1)) {
      assert.strictEqual(event.bytesPerSecond, 1_000_000)
      assert.strictEqual(event.etaSeconds, Math.round((10_000_000 - event.bytes) / 100_000) / 10)
    }
  })

  it("once the window has filled, the speed is over the window only: the first byte drops out", () => {
    const meter = Progress.meter({ ...base, total: undefined, intervalMillis: 100, windowMillis: 1000 })
    // First byte at 1000; 1 kB/s until 3000, then 4 kB/s.
    meter.update(1, 1000)
    for (let now = 1100; now <= 3000; now += 100) meter.update(1 + (now - 1000), now)
    let event: Progress.Progress | undefined
    for (let now = 3100; now <= 4100; now += 100) event = meter.update(2001 + 4 * (now - 3000), now)
    // 4 kB/s over the last second, whatever came before.
    assert.strictEqual(event!.bytesPerSecond, 4000)
  })

  it("finish always emits, marked done, without an ETA", () => {
    const meter = Progress.meter({ ...base, intervalMillis: 100 })
    meter.update(10, 0)
    const last = meter.finish(10_000, 1)
    assert.isTrue(last.done)
    assert.strictEqual(last.bytes, 10_000)
    assert.isUndefined(last.etaSeconds)
  })

  it("format prints share, bytes, speed and ETA", () => {
    const meter = Progress.meter({ ...base, total: 4 * 1024 * 1024, windowMillis: 1000 })
    meter.update(1, 0)
    const event = meter.update(1024 * 1024 + 1, 1000)!
    assert.strictEqual(Progress.format(event), "25.0% 1.0 MiB / 4.0 MiB 1.0 MiB/s ETA 3 s")
  })
})

it.live("a trickled download reports throttled progress (at most about 10 a second), ending with the whole length", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1024 * 1024
    const rate = 2 * 1024 * 1024
    const events: Array<Progress.Progress> = []
    const result = yield* downloader.download(
      server.urlFor(`/files/p.bin?size=${size}&seed=1&rate=${rate}`),
      Path.join(folder, "p.bin"),
      { onProgress: (event) => events.push(event) }
    )
    const last = events.at(-1)!
    assert.isTrue(last.done)
    assert.strictEqual(last.bytes, size)
    assert.strictEqual(last.total, size)
    // About 500 ms of transfer in 64 KiB pieces or smaller: far more chunks than events.
    assert.isAtMost(events.length, Math.ceil(result.durationMillis / 100) + 2)
    assert.isAtLeast(events.length, 2)
    for (let index = 1; index < events.length - 1; index++) {
      assert.isAtLeast(events[index]!.elapsedMillis - events[index - 1]!.elapsedMillis, 100)
      assert.isAtLeast(events[index]!.bytes, events[index - 1]!.bytes)
    }
    // The first event is the first byte: no speed yet. Later ones measure from it, near the server's rate
    // (generous bounds: a loaded machine delivers the trickle in bursts).
    assert.strictEqual(events[0]!.bytesPerSecond, 0)
    assert.isUndefined(events[0]!.etaSeconds)
    assertNearRate(events, rate, 200)
  }).pipe(Effect.scoped))

it.live("a restart from zero on new content of another size: speed measured afresh at once, the new total, the new file", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1536 * 1024
    const newSize = 1024 * 1024
    const rate = 1024 * 1024
    // The first GET drops after 512 KiB; the resume (If-Range) meets the new, shorter file and gets it whole.
    const url = server.urlFor(
      `/files/r.bin?size=${size}&seed=23&rate=${rate}&mutate=1&mutate_size=${newSize}&drop_after=524288&drop_times=1`
    )
    const path = Path.join(folder, "r.bin")
    const events: Array<Progress.Progress> = []
    const result = yield* downloader.download(url, path, { onProgress: (event) => events.push(event) })
    assert.strictEqual(result.restarts, 1)
    yield* assertContent(path, Content.mutatedSeed(23), newSize)
    const restartAt = events.findIndex((event, index) => index > 0 && event.bytes < events[index - 1]!.bytes)
    assert.isAbove(restartAt, 0, "no event after the restart")
    const before = events.slice(0, restartAt)
    const after = events.slice(restartAt)
    assert.isTrue(before.every((event) => event.total === size))
    assert.isTrue(after.every((event) => event.total === newSize), JSON.stringify(after.map((event) => event.total)))
    assert.strictEqual(after.at(-1)!.bytes, newSize)
    // About a second of transfer after the restart: from 300 ms after it on, every event has a speed (the old
    // samples would have held it at 0 for the whole 5 s window), near the server's rate (generous bounds).
    assertNearRate(after, rate, 300, (event) => assert.isDefined(event.etaSeconds))
  }).pipe(Effect.scoped))

it.live("downloadWithProgress is a stream of progress events that ends with the result", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 512 * 1024
    const events = yield* Stream.runCollect(
      downloader.downloadWithProgress(
        server.urlFor(`/files/s.bin?size=${size}&seed=2&rate=${2 * 1024 * 1024}`),
        Path.join(folder, "s.bin")
      )
    )
    const all = Array.from(events)
    const result = all.at(-1)
    assert.instanceOf(result, DownloadResult)
    assert.strictEqual((result as DownloadResult).bytes, size)
    assert.isTrue(all.slice(0, -1).every((event) => event instanceof Progress.Progress))
    assert.isAtLeast(all.length, 3)
  }).pipe(Effect.scoped))

it.live("downloadWithProgress fails the stream with the download's typed error", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const error = yield* Effect.flip(
      Stream.runDrain(downloader.downloadWithProgress(server.urlFor("/status/404"), Path.join(folder, "x.bin")))
    )
    assert.strictEqual(error._tag, "NotFoundError")
  }).pipe(Effect.scoped))

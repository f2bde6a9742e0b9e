import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Path from "node:path"
import { DownloadResult } from "../src/DownloadResult.ts"
import * as Progress from "../src/Progress.ts"
import { setup } from "./support/setup.ts"

describe("Progress.meter", () => {
  const base = { url: "u", destination: "d", total: 10_000, startedAt: 0, initialBytes: 0 }

  it("emits at most one event per interval, whatever the number of updates", () => {
    const meter = Progress.meter({ ...base, intervalMillis: 100 })
    const events = []
    for (let now = 0; now <= 1000; now += 1) {
      const event = meter.update(now * 10, now)
      if (event !== undefined) events.push(event)
    }
    assert.strictEqual(events.length, 11)
    assert.deepStrictEqual(events.map((event) => event.elapsedMillis), [
      0,
      100,
      200,
      300,
      400,
      500,
      600,
      700,
      800,
      900,
      1000
    ])
  })

  it("speed is bytes per second over the window; ETA is what is left at that speed", () => {
    const meter = Progress.meter({ ...base, intervalMillis: 100, windowMillis: 1000 })
    meter.update(0, 0)
    meter.update(1000, 500)
    const event = meter.update(2000, 1000)!
    assert.strictEqual(event.bytesPerSecond, 2000)
    assert.strictEqual(event.etaSeconds, 4)
    assert.strictEqual(event.total, 10_000)
  })

  it("the window forgets old samples: a stall brings the speed down to 0", () => {
    const meter = Progress.meter({ ...base, intervalMillis: 100, windowMillis: 1000 })
    meter.update(0, 0)
    meter.update(5000, 1000)
    meter.update(5000, 2000)
    const stalled = meter.update(5000, 3000)!
    assert.strictEqual(stalled.bytesPerSecond, 0)
    assert.isUndefined(stalled.etaSeconds)
  })

  it("resumed bytes count in bytes but not in the speed", () => {
    const meter = Progress.meter({ ...base, initialBytes: 8000, windowMillis: 1000 })
    const event = meter.update(9000, 1000)!
    assert.strictEqual(event.bytes, 9000)
    assert.strictEqual(event.bytesPerSecond, 1000)
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
    meter.update(0, 0)
    const event = meter.update(1024 * 1024, 1000)!
    assert.strictEqual(Progress.format(event), "25.0% 1.0 MiB / 4.0 MiB 1.0 MiB/s ETA 3 s")
  })
})

it.live("a trickled download reports throttled progress (at most about 10 a second), ending with the whole length", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1024 * 1024
    const events: Array<Progress.Progress> = []
    const result = yield* downloader.download(
      server.urlFor(`/files/p.bin?size=${size}&seed=1&rate=${2 * 1024 * 1024}`),
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

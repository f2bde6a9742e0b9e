import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as Settings from "@httpkit/core/Settings"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import * as Path from "node:path"
import * as DownloadConfig from "../src/DownloadConfig.ts"
import * as Downloader from "../src/Downloader.ts"
import { assertContent, setup } from "./support/setup.ts"

const withEnv = <A, E, R>(env: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const invalid = (problems: string) => `invalid downloader configuration: ${problems}`

describe("DownloadConfig", () => {
  it.effect("HTTPKIT_DOWNLOAD_* variables are read, sizes and durations in the forms people write", () =>
    Effect.gen(function*() {
      const resolved = yield* withEnv({
        HTTPKIT_DOWNLOAD_SEGMENTS: "8",
        HTTPKIT_DOWNLOAD_SEGMENT_THRESHOLD: "256 MiB",
        HTTPKIT_DOWNLOAD_IF_EXISTS: "overwrite",
        HTTPKIT_DOWNLOAD_RESUME: "false",
        HTTPKIT_DOWNLOAD_PROGRESS_INTERVAL: "250 millis",
        HTTPKIT_DOWNLOAD_WRITE_BATCH: "4MiB",
        HTTPKIT_DOWNLOAD_MAX_STALLS: "7"
      }, DownloadConfig.fromConfig())
      assert.strictEqual(resolved.segments, 8)
      assert.strictEqual(resolved.segmentThreshold, 256 * 1024 * 1024)
      assert.strictEqual(resolved.ifExists, "overwrite")
      assert.isFalse(resolved.resume)
      assert.strictEqual(resolved.progressInterval, 250)
      assert.strictEqual(resolved.writeBatch, 4 * 1024 * 1024)
      assert.strictEqual(resolved.maxStalls, 7)
    }))

  it.effect("an option given as undefined is not set: the default holds (it was 'absent, expected a number')", () =>
    Effect.gen(function*() {
      const options = { segments: undefined, writeBatch: undefined } as unknown as DownloadConfig.Options
      const resolved = yield* DownloadConfig.resolve(options)
      const defaults = yield* DownloadConfig.resolve()
      assert.strictEqual(resolved.segments, defaults.segments)
      assert.strictEqual(resolved.writeBatch, defaults.writeBatch)
    }))

  it.effect("no variables give the defaults", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* withEnv({}, DownloadConfig.fromConfig()), DownloadConfig.defaults)
    }))

  it.effect("a bad value fails with DownloadConfigError naming the variable or option path, the value and what is expected", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv({ HTTPKIT_DOWNLOAD_SEGMENTS: "0" }, DownloadConfig.fromConfig()))
      assert.strictEqual(error._tag, "DownloadConfigError")
      assert.strictEqual(error.message, invalid(`HTTPKIT_DOWNLOAD_SEGMENTS is "0", expected an integer of at least 1`))
      assert.deepStrictEqual(error.problems, [
        { setting: "HTTPKIT_DOWNLOAD_SEGMENTS", received: "\"0\"", expected: "an integer of at least 1" }
      ])
      const interval = yield* Effect.flip(
        withEnv({ HTTPKIT_DOWNLOAD_PROGRESS_INTERVAL: "often" }, DownloadConfig.fromConfig())
      )
      assert.strictEqual(
        interval.message,
        invalid(`HTTPKIT_DOWNLOAD_PROGRESS_INTERVAL is "often", expected ${DurationInput.accepted}`)
      )
      const tooMany = yield* Effect.flip(withEnv({ HTTPKIT_DOWNLOAD_SEGMENTS: "65" }, DownloadConfig.fromConfig()))
      assert.strictEqual(
        tooMany.message,
        invalid(`HTTPKIT_DOWNLOAD_SEGMENTS is "65", expected an integer from 1 to 64`)
      )
      const ifExists = yield* Effect.flip(DownloadConfig.resolve({ ifExists: "sometimes" as "fail" }))
      assert.strictEqual(
        ifExists.message,
        invalid(`ifExists is "sometimes", expected "fail" | "overwrite" | "skip-if-match"`)
      )
      const batch = yield* Effect.flip(DownloadConfig.resolve({ writeBatch: 10 }))
      assert.strictEqual(batch.message, invalid("writeBatch is 10, expected a size from 4096 bytes to 256 MiB"))
      const size = yield* Effect.flip(DownloadConfig.resolve({ segmentThreshold: "lots", maxStalls: 0 }))
      assert.strictEqual(
        size.message,
        invalid(
          `segmentThreshold is "lots", expected a size in bytes, or with a unit such as 64 MiB or 1.5GB ` +
            `(B, KB, KiB, MB, MiB, GB, GiB, TB, TiB); maxStalls is 0, expected an integer of at least 1`
        )
      )
    }))

  it.effect("durations in the forms people write: 250ms, 1.5 min, bare milliseconds", () =>
    Effect.gen(function*() {
      const resolved = yield* withEnv({
        HTTPKIT_DOWNLOAD_PROGRESS_INTERVAL: "250ms",
        HTTPKIT_DOWNLOAD_CHECKPOINT_INTERVAL: "1.5 min"
      }, DownloadConfig.fromConfig())
      assert.strictEqual(resolved.progressInterval, 250)
      assert.strictEqual(resolved.checkpointInterval, 90_000)
      assert.strictEqual((yield* DownloadConfig.resolve({ progressInterval: "2s" })).progressInterval, 2_000)
    }))

  it.effect("an unknown HTTPKIT_DOWNLOAD_* variable is a warning with the closest known name; the client's are not its", () =>
    Effect.gen(function*() {
      const lines: Array<unknown> = []
      const logger = Logger.make((options) => {
        if (options.logLevel === "Warn") lines.push(options.message)
      })
      const resolved = yield* withEnv(
        { HTTPKIT_DOWNLOAD_SEGMENT: "8", HTTPKIT_RETRY_MAX_ATEMPTS: "2", HTTPKIT_DOWNLOAD_RESUME: "false" },
        DownloadConfig.fromConfig()
      ).pipe(Effect.provideService(Logger.CurrentLoggers, new Set([logger])))
      assert.deepStrictEqual(lines, [[
        "HTTPKIT_DOWNLOAD_SEGMENT is not a known setting of @httpkit/downloader and is ignored; " +
        "did you mean HTTPKIT_DOWNLOAD_SEGMENTS?"
      ]])
      assert.strictEqual(resolved.segments, DownloadConfig.defaults.segments)
      assert.isFalse(resolved.resume)
    }))

  it("@httpkit/core's table lists exactly the variables DownloadConfig.Options reads", () => {
    assert.deepStrictEqual(Settings.namesOf(DownloadConfig.Options), Settings.downloader.names)
  })

  it("bytesOf reads decimal and binary units", () => {
    assert.strictEqual(DownloadConfig.bytesOf("1.5GB"), 1_500_000_000)
    assert.strictEqual(DownloadConfig.bytesOf("2 KiB"), 2048)
    assert.strictEqual(DownloadConfig.bytesOf("17"), 17)
  })
})

it.live("Downloader.layerConfig builds a downloader from the environment over the client in context", () =>
  Effect.gen(function*() {
    const { server, folder } = yield* setup()
    const program = Effect.gen(function*() {
      const downloader = yield* Downloader.Downloader
      assert.strictEqual(downloader.config.ifExists, "overwrite")
      return yield* downloader.download(server.urlFor("/files/c.bin?size=1000&seed=1"), Path.join(folder, "c.bin"))
    })
    const layer = Downloader.layerConfig().pipe(Layer.provideMerge(ResilientClient.layer()))
    yield* withEnv({ HTTPKIT_DOWNLOAD_IF_EXISTS: "overwrite" }, Effect.provide(program, layer))
    yield* assertContent(Path.join(folder, "c.bin"), 1, 1000)
  }).pipe(Effect.scoped))

it.live("a bad per-call option fails with DownloadConfigError before any request, in the configuration errors' shape", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const checksum = yield* Effect.flip(
      downloader.download(server.urlFor("/files/b.bin"), Path.join(folder, "b.bin"), { checksum: "sha256:xyz" })
    )
    assert.strictEqual(checksum._tag, "DownloadConfigError")
    assert.strictEqual(
      checksum.message,
      `invalid download options: checksum is "sha256:xyz", expected a sha256 digest of 64 hex digits`
    )
    const algorithm = yield* Effect.flip(
      downloader.download(server.urlFor("/files/b.bin"), Path.join(folder, "b.bin"), { checksum: "crc32:00" })
    )
    assert.strictEqual(
      algorithm.message,
      `invalid download options: checksum is "crc32:00", expected an algorithm of md5, sha1, sha256 or sha512`
    )
    const both = yield* Effect.flip(
      downloader.download(server.urlFor("/files/b.bin"), Path.join(folder, "b.bin"), { checksum: "x", segments: 0 })
    )
    assert.strictEqual(both._tag, "DownloadConfigError")
    const problems = both._tag === "DownloadConfigError" ? both.problems : undefined
    assert.deepStrictEqual(problems?.map((problem) => [problem.setting, problem.received]), [
      ["checksum", `"x"`],
      ["segments", "0"]
    ])
    assert.strictEqual((yield* server.requestsTo("/files/b.bin")).length, 0)
  }).pipe(Effect.scoped))

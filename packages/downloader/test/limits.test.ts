/**
 * The two limits curl users expect: `maxBytes` (curl's `--max-filesize`) and
 * `timeout`, one deadline for a whole download (curl's `--max-time`). Over
 * real sockets: the test server's `/files` (`chunked=1&ignore_range=1` is a
 * body of unknown length, `rate` a slow one), and a small `node:http` server
 * that breaks a body, answers 503, then never answers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { ConfigProvider, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import * as DownloadConfig from "../src/DownloadConfig.ts"
import * as Downloader from "../src/Downloader.ts"
import * as Deadline from "../src/internal/deadline.ts"
import { assertContent, expectedSha256, listing, quickRetry, setup, sha256Of, tempFolder } from "./support/setup.ts"

const withEnv = <A, E, R>(env: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const readSidecar = (path: string) =>
  Effect.promise(async () =>
    JSON.parse(await Fs.readFile(`${path}.part.json`, "utf8")) as {
      readonly segments: ReadonlyArray<{ readonly start: number; readonly done: number }>
    }
  )

describe("maxBytes", () => {
  it.live("a file announced above maxBytes fails with FileTooLargeError after the HEAD: no GET, nothing in the folder", () =>
    Effect.gen(function*() {
      const { downloader, folder, server } = yield* setup({ downloader: { maxBytes: "1 MiB" } })
      const url = server.urlFor("/files/big.bin?size=2000000&seed=1")
      const error = yield* Effect.flip(downloader.download(url, Path.join(folder, "big.bin")))
      assert.strictEqual(error._tag, "FileTooLargeError")
      if (error._tag !== "FileTooLargeError") return
      assert.strictEqual(error.limit, 1024 * 1024)
      assert.strictEqual(error.announced, 2_000_000)
      assert.isFalse(error.retryable)
      assert.include(error.message, "larger than maxBytes (1048576 bytes): 2000000 bytes announced")
      const methods = (yield* server.requestsTo("/files/big.bin")).map((request) => request.method)
      assert.deepStrictEqual(methods, ["HEAD"])
      assert.deepStrictEqual(yield* listing(folder), [])
    }).pipe(Effect.scoped))

  it.live("a per-call maxBytes above the announced size lets the file through, and one below refuses it", () =>
    Effect.gen(function*() {
      const { downloader, folder, server } = yield* setup({ downloader: { maxBytes: 100 } })
      const url = server.urlFor("/files/ok.bin?size=300000&seed=2")
      const path = Path.join(folder, "ok.bin")
      assert.strictEqual((yield* Effect.flip(downloader.download(url, path)))._tag, "FileTooLargeError")
      const result = yield* downloader.download(url, path, { maxBytes: 300_000 })
      assert.strictEqual(result.bytes, 300_000)
      yield* assertContent(path, 2, 300_000)
    }).pipe(Effect.scoped))

  it.live("a body of unknown length passing maxBytes fails with FileTooLargeError: never more than maxBytes written, the .part and sidecar removed", () =>
    Effect.gen(function*() {
      const { downloader, folder, server } = yield* setup()
      const limit = 1_000_000
      // Chunked and ranges ignored: neither the HEAD nor the ranged probe tells the length.
      const url = server.urlFor("/files/endless.bin?size=3000000&seed=3&chunked=1&ignore_range=1")
      const path = Path.join(folder, "endless.bin")
      let most = 0
      const error = yield* Effect.flip(downloader.download(url, path, {
        maxBytes: limit,
        onProgress: (progress) => {
          most = Math.max(most, progress.bytes)
        }
      }))
      assert.strictEqual(error._tag, "FileTooLargeError")
      if (error._tag !== "FileTooLargeError") return
      assert.strictEqual(error.limit, limit)
      assert.isUndefined(error.announced)
      assert.isAbove(error.received ?? 0, limit)
      // Counted before the writer gets them: the bytes handed to the file never passed the limit.
      assert.isAtMost(most, limit)
      assert.deepStrictEqual(yield* listing(folder), [])
      const gets = (yield* server.requestsTo("/files/endless.bin")).filter((request) => request.method === "GET")
      // The probe (bytes=0-0, answered 200 and dropped) and the download; no continuation.
      assert.strictEqual(gets.length, 2)
    }).pipe(Effect.scoped))

  it.live("a body of unknown length of exactly maxBytes is taken whole", () =>
    Effect.gen(function*() {
      const { downloader, folder, server } = yield* setup()
      const url = server.urlFor("/files/exact.bin?size=500000&seed=4&chunked=1&ignore_range=1")
      const path = Path.join(folder, "exact.bin")
      const result = yield* downloader.download(url, path, { maxBytes: 500_000 })
      assert.strictEqual(result.bytes, 500_000)
      yield* assertContent(path, 4, 500_000)
      const error = yield* Effect.flip(
        downloader.download(url, Path.join(folder, "short.bin"), { maxBytes: 499_999 })
      )
      assert.strictEqual(error._tag, "FileTooLargeError")
      assert.deepStrictEqual(yield* listing(folder), ["exact.bin"])
    }).pipe(Effect.scoped))
})

describe("timeout", () => {
  it.live(
    "a slow body past the timeout fails with DownloadTimeoutError; the .part is kept with its sidecar and a rerun without it resumes to the right sha256",
    () =>
      Effect.gen(function*() {
        const { downloader, folder, server } = yield* setup()
        const size = 200_000
        // 40 kB/s: 5 s for the whole file; the deadline passes after 2 s.
        const url = server.urlFor(`/files/slow.bin?size=${size}&seed=5&rate=40000`)
        const path = Path.join(folder, "slow.bin")
        const error = yield* Effect.flip(downloader.download(url, path, { timeout: "2s" }))
        assert.strictEqual(error._tag, "DownloadTimeoutError")
        if (error._tag !== "DownloadTimeoutError") return
        assert.strictEqual(error.timeoutMillis, 2000)
        assert.strictEqual(error.phase, "transfer")
        assert.isTrue(error.retryable)
        assert.deepStrictEqual(yield* listing(folder), ["slow.bin.part", "slow.bin.part.json"])
        const done = (yield* readSidecar(path)).segments[0]?.done ?? 0
        assert.isAbove(done, 0)
        assert.isBelow(done, size)
        const result = yield* downloader.download(url, path)
        assert.isTrue(result.resumed)
        assert.strictEqual(result.bytesTransferred, size - done)
        assert.strictEqual(yield* sha256Of(path), expectedSha256(5, size))
        const gets = (yield* server.requestsTo("/files/slow.bin")).filter((request) => request.method === "GET")
        assert.strictEqual(gets.at(-1)?.headers["range"], `bytes=${done}-${size - 1}`)
        assert.deepStrictEqual(yield* listing(folder), ["slow.bin"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the timeout covers continuations and the client's retries: a body that breaks, a 503, then a request never answered",
    () =>
      Effect.gen(function*() {
        const size = 100_000
        const sent = 30_000
        const body = new Uint8Array(size).map((_, i) => (i * 7) & 0xff)
        const gets: Array<{ readonly range: string | undefined; closed: boolean }> = []
        const server = Http.createServer((request, response) => {
          const headers = {
            etag: "\"v1\"",
            "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            date: new Date().toUTCString(),
            "accept-ranges": "bytes"
          }
          if (request.method === "HEAD") {
            response.writeHead(200, { ...headers, "content-length": String(size) }).end()
            return
          }
          const entry = { range: request.headers.range, closed: false }
          gets.push(entry)
          request.socket.on("close", () => {
            entry.closed = true
          })
          if (gets.length === 1) {
            // The first body breaks after 30,000 bytes.
            response.writeHead(200, { ...headers, "content-length": String(size) })
            response.write(body.subarray(0, sent), () => request.socket.destroy())
          } else if (gets.length === 2) {
            response.writeHead(503, { "content-length": "0" }).end()
          }
          // Later: never answered.
        })
        yield* Effect.acquireRelease(
          Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
          () =>
            Effect.promise(() =>
              new Promise<void>((resolve) => {
                server.closeAllConnections()
                server.close(() => resolve())
              })
            )
        )
        const port = (server.address() as AddressInfo).port
        const folder = yield* tempFolder
        // Generous client timeouts: without the download's own deadline, the last request would wait a minute.
        const client = yield* ResilientClient.make({
          retry: quickRetry,
          timeout: { headers: "60 seconds", attempt: "60 seconds", total: "120 seconds", idle: "60 seconds" }
        })
        const downloader = yield* Effect.provideService(Downloader.make(), ResilientClient.ResilientClient, client)
        const path = Path.join(folder, "f.bin")
        const error = yield* Effect.flip(
          downloader.download(`http://127.0.0.1:${port}/f.bin`, path, { timeout: "5s" })
        )
        assert.strictEqual(error._tag, "DownloadTimeoutError")
        if (error._tag !== "DownloadTimeoutError") return
        assert.strictEqual(error.phase, "transfer")
        assert.strictEqual(gets.length, 3)
        assert.deepStrictEqual(gets.map((get) => get.range), [
          undefined,
          `bytes=${sent}-${size - 1}`,
          `bytes=${sent}-${size - 1}`
        ])
        // The request never answered had its socket closed (given generous time to show).
        for (let i = 0; i < 100 && !gets[2]!.closed; i++) {
          yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
        }
        assert.isTrue(gets[2]!.closed)
        // The bytes that came are kept and recorded: a rerun resumes from them.
        const stats = yield* Effect.promise(() => Fs.stat(`${path}.part`))
        assert.isAtLeast(stats.size, sent)
        assert.strictEqual((yield* readSidecar(path)).segments[0]?.done, sent)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("the deadline runs on Effect's clock: TestClock passes it, the work is interrupted and its phase named", () =>
    Effect.gen(function*() {
      const stage = Deadline.stage()
      let finalized = false
      const work = Effect.gen(function*() {
        yield* Deadline.enter(stage, "prepare")
        yield* Effect.never
      }).pipe(Effect.ensuring(Effect.sync(() => {
        finalized = true
      })))
      const fiber = yield* Effect.forkChild(Effect.flip(Deadline.within("http://x/a", 60_000, stage, work)))
      yield* TestClock.adjust(59_999)
      assert.isFalse(finalized)
      yield* TestClock.adjust(1)
      const error = yield* Fiber.join(fiber)
      assert.isTrue(finalized)
      assert.strictEqual(error._tag, "DownloadTimeoutError")
      assert.strictEqual(error.phase, "prepare")
      assert.strictEqual(error.timeoutMillis, 60_000)
    }))
})

describe("configuration", () => {
  it.effect("HTTPKIT_DOWNLOAD_MAX_BYTES and HTTPKIT_DOWNLOAD_TIMEOUT are read, absent means no limit", () =>
    Effect.gen(function*() {
      const resolved = yield* withEnv(
        { HTTPKIT_DOWNLOAD_MAX_BYTES: "10 GiB", HTTPKIT_DOWNLOAD_TIMEOUT: "1h30m" },
        DownloadConfig.fromConfig()
      )
      assert.strictEqual(resolved.maxBytes, 10 * 1024 ** 3)
      assert.strictEqual(resolved.timeout, 5_400_000)
      const none = yield* withEnv({}, DownloadConfig.fromConfig())
      assert.isUndefined(none.maxBytes)
      assert.isUndefined(none.timeout)
    }))

  it.effect("bad HTTPKIT_DOWNLOAD_MAX_BYTES and HTTPKIT_DOWNLOAD_TIMEOUT fail layerConfig with DownloadConfigError naming both", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        withEnv(
          { HTTPKIT_DOWNLOAD_MAX_BYTES: "lots", HTTPKIT_DOWNLOAD_TIMEOUT: "0" },
          Layer.build(Downloader.layerConfig().pipe(Layer.provide(ResilientClient.layer())))
        )
      )
      assert.strictEqual(error._tag, "DownloadConfigError")
      const settings = (error.problems ?? []).map((problem) => problem.setting).toSorted()
      assert.deepStrictEqual(settings, ["HTTPKIT_DOWNLOAD_MAX_BYTES", "HTTPKIT_DOWNLOAD_TIMEOUT"])
      assert.include(error.message, "HTTPKIT_DOWNLOAD_MAX_BYTES is \"lots\", expected")
      assert.include(error.message, "HTTPKIT_DOWNLOAD_TIMEOUT is 0, expected")
      const zero = yield* Effect.flip(DownloadConfig.resolve({ maxBytes: 0 }))
      assert.deepStrictEqual(zero.problems?.map((problem) => problem.setting), ["maxBytes"])
    }).pipe(Effect.scoped))

  it.live("bad per-call maxBytes and timeout fail with DownloadConfigError naming both, before any request", () =>
    Effect.gen(function*() {
      const { downloader, folder, server } = yield* setup()
      const url = server.urlFor("/files/o.bin?size=1000")
      const error = yield* Effect.flip(
        downloader.download(url, Path.join(folder, "o.bin"), { maxBytes: "huge", timeout: "soon" })
      )
      assert.strictEqual(error._tag, "DownloadConfigError")
      if (error._tag !== "DownloadConfigError") return
      assert.include(error.message, "invalid download options: ")
      assert.deepStrictEqual(error.problems?.map((problem) => problem.setting).toSorted(), ["maxBytes", "timeout"])
      const negative = yield* Effect.flip(downloader.download(url, Path.join(folder, "o.bin"), { timeout: -5 }))
      assert.deepStrictEqual(
        negative._tag === "DownloadConfigError" ? negative.problems?.map((problem) => problem.setting) : [],
        ["timeout"]
      )
      const batch = yield* downloader.downloadAll([{ url, destination: Path.join(folder, "o.bin") }], {
        options: { maxBytes: 0 }
      })
      assert.strictEqual(batch.failed.length, 1)
      assert.include(batch.failed[0]?.error.message ?? "", "options.maxBytes is 0, expected")
      assert.deepStrictEqual(yield* server.requestsTo("/files/o.bin"), [])
      assert.deepStrictEqual(yield* listing(folder), [])
    }).pipe(Effect.scoped))
})

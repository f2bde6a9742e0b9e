/**
 * Downloads over what sits between the downloader and the file: redirects
 * (a CDN's signed URL, followed on every request, resumes included) and
 * HTTPS with HTTP/2 offered by ALPN.
 */
import { assert, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as TestServer from "@httpkit/testing/TestServer"
import * as TlsTest from "@httpkit/testing/TlsTest"
import { Effect } from "effect"
import * as Path from "node:path"
import * as Downloader from "../src/Downloader.ts"
import { assertContent, expectedSha256, quickRetry, setup, tempFolder } from "./support/setup.ts"

it.live("a URL that redirects (307) to the file is followed on every request, and a broken body resumes through it", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 3 * 1024 * 1024
    const target = `/files/cdn.bin?size=${size}&seed=50&drop_after=1048576&drop_times=2`
    const url = server.urlFor(`/redirect/2?status=307&to=${encodeURIComponent(target)}`)
    const path = Path.join(folder, "cdn.bin")
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(50, size)}` })
    yield* assertContent(path, 50, size)
    assert.isTrue(result.verified)
    assert.strictEqual(result.continuations, 2)
    // The resumed requests reached the file with their Range and If-Range intact after two redirects.
    const gets = (yield* server.requestsTo("/files/cdn.bin")).filter((request) => request.method === "GET")
    assert.deepStrictEqual(gets.map((request) => request.headers["range"]), [
      undefined,
      `bytes=1048576-${size - 1}`,
      `bytes=2097152-${size - 1}`
    ])
    assert.isTrue(gets.slice(1).every((request) => request.headers["if-range"]?.startsWith("\"") === true))
  }).pipe(Effect.scoped))

it.live(
  "over HTTPS with HTTP/2: a 24 MiB file in 4 segments arrives verified, every request on h2",
  () =>
    Effect.gen(function*() {
      const certificate = yield* TlsTest.selfSigned()
      const server = yield* TestServer.make({ tls: certificate })
      const client = yield* ResilientClient.make({ retry: quickRetry, tls: { ca: certificate.cert } })
      const downloader = yield* Effect.provideService(Downloader.make(), ResilientClient.ResilientClient, client)
      const folder = yield* tempFolder
      const size = 24 * 1024 * 1024
      const path = Path.join(folder, "h2.bin")
      const result = yield* downloader.download(server.urlFor(`/files/h2.bin?size=${size}&seed=51`), path, {
        segments: 4,
        checksum: `sha256:${expectedSha256(51, size)}`
      })
      yield* assertContent(path, 51, size)
      assert.strictEqual(result.segments, 4)
      const versions = new Set((yield* server.requestsTo("/files/h2.bin")).map((request) => request.httpVersion))
      assert.deepStrictEqual([...versions], ["2.0"])
    }).pipe(Effect.scoped),
  60_000
)

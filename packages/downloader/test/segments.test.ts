import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as CustomServer from "@httpkit/testing/CustomServer"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

const ranges = (requests: ReadonlyArray<{ readonly method: string; readonly headers: Record<string, string> }>) =>
  requests.filter((request) => request.method === "GET").map((request) => request.headers["range"]).toSorted()

it.live("segments: 4 fetches a 8 MiB file over 4 ranges into one file, verified", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 8 * 1024 * 1024
    const path = Path.join(folder, "seg.bin")
    const result = yield* downloader.download(server.urlFor(`/files/seg.bin?size=${size}&seed=30`), path, {
      segments: 4,
      checksum: `sha256:${expectedSha256(30, size)}`
    })
    yield* assertContent(path, 30, size)
    assert.strictEqual(result.segments, 4)
    assert.isTrue(result.verified)
    const quarter = size / 4
    assert.deepStrictEqual(
      ranges(yield* server.requestsTo("/files/seg.bin")),
      [0, 1, 2, 3].map((i) => `bytes=${i * quarter}-${(i + 1) * quarter - 1}`).toSorted()
    )
    assert.deepStrictEqual(yield* listing(folder), ["seg.bin"])
  }).pipe(Effect.scoped))

it.live("a 64 MiB file over 2 connections is fetched as 16 segments of 4 MiB, taken in file order, never more than 2 at once", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 64 * 1024 * 1024
    const piece = 4 * 1024 * 1024
    const path = Path.join(folder, "pieces.bin")
    const result = yield* downloader.download(server.urlFor(`/files/pieces.bin?size=${size}&seed=44`), path, {
      segments: 2,
      checksum: `sha256:${expectedSha256(44, size)}`
    })
    yield* assertContent(path, 44, size)
    assert.strictEqual(result.segments, 2)
    assert.isTrue(result.verified)
    const gets = (yield* server.requestsTo("/files/pieces.bin")).filter((request) => request.method === "GET")
    const starts = gets.map((request) => Number(/^bytes=(\d+)-/.exec(request.headers["range"] ?? "")?.[1]))
    assert.deepStrictEqual(
      gets.map((request) => request.headers["range"]).toSorted(),
      Array.from({ length: 16 }, (_, i) => `bytes=${i * piece}-${(i + 1) * piece - 1}`).toSorted()
    )
    // Each request asks for the next piece not yet taken; two started together may reach the server either way round.
    starts.forEach((start, k) => assert.isAtMost(Math.abs(start / piece - k), 1, `request ${k}: ${starts}`))
    assert.isAtMost(new Set(gets.map((request) => request.connection)).size, 2)
  }).pipe(Effect.scoped))

it.live("files at or above segmentThreshold are segmented automatically; smaller ones are one stream", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { segments: 3, segmentThreshold: "4 MiB" } })
    const big = yield* downloader.download(
      server.urlFor("/files/big.bin?size=6291456&seed=31"),
      Path.join(folder, "big.bin")
    )
    assert.strictEqual(big.segments, 3)
    yield* assertContent(Path.join(folder, "big.bin"), 31, 6_291_456)
    const small = yield* downloader.download(
      server.urlFor("/files/small.bin?size=1048576&seed=32"),
      Path.join(folder, "small.bin")
    )
    assert.strictEqual(small.segments, 1)
  }).pipe(Effect.scoped))

it.live("each segment continues from its own last byte when its connection drops", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 8 * 1024 * 1024
    const path = Path.join(folder, "sd.bin")
    const result = yield* downloader.download(
      server.urlFor(`/files/sd.bin?size=${size}&seed=33&drop_after=700000&drop_times=4`),
      path,
      { segments: 4, checksum: `sha256:${expectedSha256(33, size)}` }
    )
    yield* assertContent(path, 33, size)
    assert.strictEqual(result.restarts, 0)
    assert.strictEqual(result.continuations, 4)
    const starts = ranges(yield* server.requestsTo("/files/sd.bin")).map((range) => Number(/=(\d+)-/.exec(range!)![1]))
    const quarter = size / 4
    for (const i of [0, 1, 2, 3]) assert.include(starts, i * quarter + 700_000)
  }).pipe(Effect.scoped))

it.live("a server that announces ranges but ignores them falls back to one stream, nothing corrupted", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 4 * 1024 * 1024
    const path = Path.join(folder, "ig.bin")
    const result = yield* downloader.download(
      server.urlFor(`/files/ig.bin?size=${size}&seed=34&ignore_range=1`),
      path,
      {
        segments: 4,
        checksum: `sha256:${expectedSha256(34, size)}`
      }
    )
    yield* assertContent(path, 34, size)
    assert.strictEqual(result.segments, 1)
    assert.isTrue(result.verified)
  }).pipe(Effect.scoped))

it.live("a server without ranges (gzip, Accept-Ranges: none) is fetched in one stream even when segments are asked for", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const result = yield* downloader.download(
      server.urlFor("/files/gz.bin?size=3000000&gzip=1"),
      Path.join(folder, "gz.bin"),
      {
        segments: 4
      }
    )
    assert.strictEqual(result.segments, 1)
    // HEAD has no length (chunked), so a one-byte probe asks again; then one plain GET.
    assert.deepStrictEqual(ranges(yield* server.requestsTo("/files/gz.bin")), ["bytes=0-0", undefined])
  }).pipe(Effect.scoped))

it.live("a segmented part left by an earlier run resumes every segment where its sidecar says", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 4 * 1024 * 1024
    const url = server.urlFor(`/files/sr.bin?size=${size}&seed=35&drop_after=300000&drop_times=2`)
    const path = Path.join(folder, "sr.bin")
    // A first run that may not continue a broken body gets 300000 bytes of each segment, then fails.
    const impatient = yield* setup({ downloader: { maxStalls: 1 } })
    const strict = yield* Effect.flip(impatient.downloader.download(url, path, { segments: 2 }))
    assert.include(["ConnectionError", "BodyLengthError"], strict._tag)
    const sidecar = JSON.parse(yield* Effect.promise(() => Fs.readFile(`${path}.part.json`, "utf8")))
    assert.strictEqual(sidecar.segments.length, 2)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(35, size)}` })
    yield* assertContent(path, 35, size)
    assert.isTrue(result.resumed)
    assert.strictEqual(result.segments, 2)
    assert.isBelow(result.bytesTransferred, size)
  }).pipe(Effect.scoped))

it.live("a 32 MiB file over 8 segments is verified by the hashing worker that follows the bytes on disk", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 32 * 1024 * 1024
    const path = Path.join(folder, "big8.bin")
    const result = yield* downloader.download(
      server.urlFor(`/files/big8.bin?size=${size}&seed=36&drop_after=3000000&drop_times=3`),
      path,
      { segments: 8, checksum: `sha256:${expectedSha256(36, size)}` }
    )
    yield* assertContent(path, 36, size)
    assert.isTrue(result.verified)
    assert.strictEqual(result.segments, 8)
  }).pipe(Effect.scoped))

it.live("a file that changes during a segmented download starts over as one stream: the new version arrives whole", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 8 * 1024 * 1024
    const path = Path.join(folder, "mut.bin")
    // From the second GET on the content (and its ETag) change: the segments' 206s disagree with the precheck.
    const result = yield* downloader.download(server.urlFor(`/files/mut.bin?size=${size}&seed=37&mutate=1`), path, {
      segments: 4,
      checksum: `sha256:${expectedSha256(Content.mutatedSeed(37), size)}`
    })
    yield* assertContent(path, Content.mutatedSeed(37), size)
    assert.strictEqual(result.segments, 1)
    assert.isAtLeast(result.restarts, 1)
  }).pipe(Effect.scoped))

/**
 * A server of `/files`-like content without an `ETag`, honouring single byte
 * ranges, and sending a `Last-Modified` `modifiedAgoMillis` before its start
 * (the same in every answer), or with 0 equal to each answer's `Date` (a file
 * modified in the second it is served, every time). The GETs it answered,
 * with their `Range`.
 */
const lastModifiedServer = (seed: number, size: number, modifiedAgoMillis: number) =>
  Effect.suspend(() => {
    const ranges: Array<string> = []
    // Fixed: a `Last-Modified` taken from each answer's second would change when two answers straddle one.
    const modifiedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - modifiedAgoMillis)
    return Effect.map(
      CustomServer.make((request, response) => {
        const now = new Date(Math.floor(Date.now() / 1000) * 1000)
        response.setHeader("date", now.toUTCString())
        response.setHeader("last-modified", (modifiedAgoMillis === 0 ? now : modifiedAt).toUTCString())
        response.setHeader("accept-ranges", "bytes")
        const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "")
        if (request.method === "GET") ranges.push(request.headers.range ?? "(none)")
        if (range === null) {
          response.writeHead(200, { "content-length": size })
          response.end(request.method === "HEAD" ? undefined : Content.bytesAt(seed, 0, size))
          return
        }
        const first = Number(range[1])
        const last = range[2] === "" ? size - 1 : Math.min(size - 1, Number(range[2]))
        response.writeHead(206, {
          "content-length": last - first + 1,
          "content-range": `bytes ${first}-${last}/${size}`
        })
        response.end(request.method === "HEAD" ? undefined : Content.bytesAt(seed, first, last - first + 1))
      }),
      ({ url }) => ({ url: `${url}/lm.bin`, ranges })
    )
  })

it.live("without an ETag, segments join under Last-Modified only when the Date is a second or more after it (RFC 9110 8.8.2.2); a file modified in the second it is served is one stream", () =>
  Effect.gen(function*() {
    const { downloader, folder } = yield* setup()
    const size = 4 * 1024 * 1024
    const fresh = yield* lastModifiedServer(32, size, 0)
    const same = yield* downloader.download(fresh.url, Path.join(folder, "fresh.bin"), { segments: 4 })
    yield* assertContent(Path.join(folder, "fresh.bin"), 32, size)
    assert.strictEqual(same.segments, 1)
    assert.deepStrictEqual(fresh.ranges, ["(none)"])

    const older = yield* lastModifiedServer(33, size, 3_600_000)
    const joined = yield* downloader.download(older.url, Path.join(folder, "older.bin"), { segments: 4 })
    yield* assertContent(Path.join(folder, "older.bin"), 33, size)
    assert.strictEqual(joined.segments, 4)
    // Every GET was a range (a segment retried on a busy machine adds one more).
    assert.isAtLeast(older.ranges.length, 4)
    assert.isFalse(older.ranges.includes("(none)"))
  }).pipe(Effect.scoped))

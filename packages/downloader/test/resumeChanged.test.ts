/**
 * RELIABILITY 3: bytes resumed from a `.part` belong to the same file. A
 * `416` whose `Content-Range` names another total, or a `206` under the same
 * strong `ETag` whose total differs from the sidecar's, means the file
 * changed: the download restarts from zero (never appends), the result
 * counts the restart, and the destination appears only once the whole new
 * file is verified.
 *
 * The test server's `HEAD` always tells the truth, so the plan would restart
 * before any `GET`; these answers (a `HEAD` from before the change, `GET`s
 * from after) come from a small server inside this file.
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as CustomServer from "@httpkit/testing/CustomServer"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import * as Fs from "node:fs/promises"
import type * as Http from "node:http"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

/** One request as the server saw it, and whether the destination existed when it arrived. */
interface Seen {
  readonly method: string
  readonly range: string | undefined
  readonly ifRange: string | undefined
  readonly destinationExisted: boolean
}

/**
 * A server whose `handle` answers every request to `/f.bin`; what it saw is
 * in `seen`. Closed with the scope.
 */
const customServer = (
  destination: string,
  handle: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
) =>
  Effect.suspend(() => {
    const seen: Array<Seen> = []
    return Effect.map(
      CustomServer.make((request, response) => {
        seen.push({
          method: request.method ?? "",
          range: request.headers.range,
          ifRange: typeof request.headers["if-range"] === "string" ? request.headers["if-range"] : undefined,
          destinationExisted: existsSync(destination)
        })
        handle(request, response)
      }),
      ({ url }) => ({ url: `${url}/f.bin`, seen })
    )
  })

/** A `.part` holding the first `done` bytes of `seed`'s content and a sidecar naming `size` and `etag`. */
const leavePart = (
  path: string,
  sidecar: { readonly url: string; readonly size?: number; readonly etag: string; readonly done: number },
  seed: number,
  partBytes: Uint8Array = Content.bytesAt(seed, 0, sidecar.done)
) =>
  Effect.promise(async () => {
    await Fs.writeFile(`${path}.part`, partBytes)
    await Fs.writeFile(
      `${path}.part.json`,
      JSON.stringify({
        version: 1,
        url: sidecar.url,
        ...(sidecar.size === undefined ? {} : { size: sidecar.size }),
        etag: sidecar.etag,
        segments: [{ start: 0, ...(sidecar.size === undefined ? {} : { end: sidecar.size }), done: sidecar.done }]
      })
    )
  })

/** `onProgress` that records whether the destination existed at any event before the last. */
const watchDestination = (path: string) => {
  const state = { early: 0, events: 0 }
  return {
    state,
    onProgress: (progress: { readonly done: boolean }) => {
      state.events++
      if (!progress.done && existsSync(path)) state.early++
    }
  }
}

const headers = (etag: string, more: Record<string, string | number> = {}) => ({
  etag,
  "accept-ranges": "bytes",
  "content-type": "application/octet-stream",
  ...more
})

/** A file's length and the seed of its content. */
interface Version {
  readonly size: number
  readonly seed: number
}

/**
 * A `.part` of 200000 bytes of `before`, under the strong ETag `etag`, resumed against a server whose `HEAD` still
 * describes `before` (a cache, or the file replaced between the two requests), whose ranged `GET` is answered by
 * `ranged`, and whose plain `GET` serves `after` under `newEtag`. The download must restart
 * from zero (never append), count the restart, verify the new file and show nothing at the destination before it.
 */
const assertRestartsFromZero = (options: {
  readonly before: Version
  readonly after: Version
  readonly etag: string
  readonly newEtag: string
  readonly ranged: (range: string, response: Http.ServerResponse) => void
}) =>
  Effect.gen(function*() {
    const { after, before, etag, newEtag } = options
    const { downloader, folder } = yield* setup()
    const path = Path.join(folder, "f.bin")
    const server = yield* customServer(path, (request, response) => {
      if (request.method === "HEAD") {
        response.writeHead(200, headers(etag, { "content-length": before.size }))
        response.end()
      } else if (request.headers.range !== undefined) {
        options.ranged(request.headers.range, response)
      } else {
        response.writeHead(200, headers(newEtag, { "content-length": after.size }))
        response.end(Content.bytesAt(after.seed, 0, after.size))
      }
    })
    yield* leavePart(path, { url: server.url, size: before.size, etag, done: 200_000 }, before.seed)
    const watch = watchDestination(path)
    const result = yield* downloader.download(server.url, path, {
      checksum: `sha256:${expectedSha256(after.seed, after.size)}`,
      onProgress: watch.onProgress
    })
    yield* assertContent(path, after.seed, after.size)
    assert.strictEqual(result.restarts, 1)
    assert.isTrue(result.verified)
    assert.isFalse(result.resumed)
    assert.strictEqual(result.bytes, after.size)
    // Only the plain GET's bytes were taken: the ranged answer's body was never read into the file.
    assert.strictEqual(result.bytesTransferred, after.size)
    assert.deepStrictEqual(
      server.seen.map(({ ifRange, method, range }) => [method, range, ifRange]),
      [["HEAD", undefined, undefined], ["GET", `bytes=200000-${before.size - 1}`, etag], ["GET", undefined, undefined]]
    )
    assert.isFalse(server.seen.some((request) => request.destinationExisted))
    assert.strictEqual(watch.state.early, 0)
    assert.deepStrictEqual(yield* listing(folder), ["f.bin"])
  }).pipe(Effect.scoped)

it.live("a resumed .part (200000 of 600000 bytes) answered 416 with Content-Range bytes */150000 restarts from zero: restarts 1, the 150000-byte file verified, nothing at the destination before", () =>
  assertRestartsFromZero({
    before: { size: 600_000, seed: 50 },
    after: { size: 150_000, seed: 51 },
    etag: "\"v1\"",
    newEtag: "\"v2\"",
    ranged: (_range, response) => {
      response.writeHead(416, headers("\"v2\"", { "content-range": "bytes */150000", "content-length": 0 }))
      response.end()
    }
  }))

it.live("a resumed .part (200000 of 600000 bytes) answered 206 under the same strong ETag with Content-Range total 800000 restarts from zero: the 206 body is never appended, restarts 1, 800000 bytes verified", () =>
  assertRestartsFromZero({
    before: { size: 600_000, seed: 52 },
    after: { size: 800_000, seed: 53 },
    etag: "\"same\"",
    newEtag: "\"same\"",
    ranged: (range, response) => {
      // The same strong ETag, but the range of a file of another length: bytes that must never be joined.
      const [first, last] = /^bytes=(\d+)-(\d+)$/.exec(range)!.slice(1).map(Number) as [number, number]
      response.writeHead(
        206,
        headers("\"same\"", { "content-range": `bytes ${first}-${last}/800000`, "content-length": last - first + 1 })
      )
      response.end(Buffer.alloc(last - first + 1, 0xee))
    }
  }))

it.live("a sidecar naming the server's strong ETag but 500000 bytes where HEAD says 300000 restarts from zero without a Range: restarts 1, verified", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 300_000
    const url = server.urlFor(`/files/len.bin?size=${size}&seed=54`)
    const path = Path.join(folder, "len.bin")
    const etag = Content.entityTag({ name: "len.bin", size, seed: 54, encoding: "identity" })
    yield* leavePart(path, { url, size: 500_000, etag, done: 200_000 }, 54)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(54, size)}` })
    yield* assertContent(path, 54, size)
    assert.strictEqual(result.restarts, 1)
    assert.isTrue(result.verified)
    assert.strictEqual(result.bytesTransferred, size)
    const gets = (yield* server.requestsTo("/files/len.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 1)
    assert.isUndefined(gets[0]!.headers["range"])
  }).pipe(Effect.scoped))

it.live("a .part of unknown length claiming 305000 bytes, answered 416 bytes */300000 (not its offset), restarts from zero: restarts 1, 300000 bytes verified; at 300000 the same 416 completes it with all 300000 bytes (never an empty file)", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 300_000
    // Chunked, and 206s give their total as `*`: the precheck learns no length, so the sidecar has none either.
    const url = server.urlFor(`/files/unk.bin?size=${size}&seed=55&chunked=1&range_total_unknown=1`)
    const etag = Content.entityTag({ name: "unk.bin", size, seed: 55, encoding: "identity" })

    const longer = Path.join(folder, "longer.bin")
    const junk = Buffer.concat([Content.bytesAt(55, 0, size), Buffer.alloc(5_000, 0xee)])
    yield* leavePart(longer, { url, etag, done: size + 5_000 }, 55, junk)
    const restarted = yield* downloader.download(url, longer, { checksum: `sha256:${expectedSha256(55, size)}` })
    yield* assertContent(longer, 55, size)
    assert.strictEqual(restarted.restarts, 1)
    assert.isTrue(restarted.verified)
    assert.strictEqual(restarted.bytesTransferred, size)

    const whole = Path.join(folder, "whole.bin")
    yield* leavePart(whole, { url, etag, done: size }, 55)
    // Without a checksum: nothing but the downloader's own bookkeeping stands between the part and the destination.
    const completed = yield* downloader.download(url, whole)
    yield* assertContent(whole, 55, size)
    assert.strictEqual(completed.bytes, size)
    assert.strictEqual(completed.restarts, 0)
    assert.isTrue(completed.resumed)
    assert.strictEqual(completed.bytesTransferred, 0)

    const ranges = (yield* server.requestsTo("/files/unk.bin"))
      .filter((request) => request.method === "GET")
      .map((request) => request.headers["range"] ?? null)
    // Each: the precheck's one byte, then the range from the part's end; the first restarts with a plain GET.
    assert.deepStrictEqual(ranges, ["bytes=0-0", "bytes=305000-", null, "bytes=0-0", "bytes=300000-"])
    assert.deepStrictEqual(yield* listing(folder), ["longer.bin", "whole.bin"])
  }).pipe(Effect.scoped))

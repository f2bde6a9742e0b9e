import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

/** What a run interrupted at `bytes` leaves: the first `bytes` of the content in `.part`, and its sidecar. */
const leavePart = (
  path: string,
  sidecar: { readonly url: string; readonly size: number; readonly etag?: string; readonly done: number },
  seed: number
) =>
  Effect.promise(async () => {
    await Fs.writeFile(`${path}.part`, Content.bytesAt(seed, 0, sidecar.done))
    await Fs.writeFile(
      `${path}.part.json`,
      JSON.stringify({
        version: 1,
        url: sidecar.url,
        size: sidecar.size,
        ...(sidecar.etag === undefined ? {} : { etag: sidecar.etag }),
        segments: [{ start: 0, end: sidecar.size, done: sidecar.done }]
      })
    )
  })

const etagOf = (name: string, size: number, seed: number) =>
  Content.entityTag({ name, size, seed, encoding: "identity" })

it.live("a part left by an earlier run is continued with Range and If-Range, and the checksum covers the resumed bytes", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2_000_000
    const url = server.urlFor(`/files/r.bin?size=${size}&seed=4`)
    const path = Path.join(folder, "r.bin")
    yield* leavePart(path, { url, size, etag: etagOf("r.bin", size, 4), done: 750_000 }, 4)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(4, size)}` })
    yield* assertContent(path, 4, size)
    assert.isTrue(result.resumed)
    assert.isTrue(result.verified)
    assert.strictEqual(result.bytesTransferred, size - 750_000)
    assert.strictEqual(result.restarts, 0)
    const [get] = (yield* server.requestsTo("/files/r.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(get?.headers["range"], `bytes=750000-${size - 1}`)
    assert.strictEqual(get?.headers["if-range"], etagOf("r.bin", size, 4))
    assert.deepStrictEqual(yield* listing(folder), ["r.bin"])
  }).pipe(Effect.scoped))

it.live("a resumed part whose bytes were tampered with fails the checksum: nothing at the destination, the part removed", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 500_000
    const url = server.urlFor(`/files/t.bin?size=${size}&seed=5`)
    const path = Path.join(folder, "t.bin")
    yield* leavePart(path, { url, size, etag: etagOf("t.bin", size, 5), done: 200_000 }, 6)
    const error = yield* Effect.flip(downloader.download(url, path, { checksum: `sha256:${expectedSha256(5, size)}` }))
    assert.strictEqual(error._tag, "ChecksumMismatchError")
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("a part whose sidecar names another ETag starts over from zero and the result counts the restart", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 600_000
    const url = server.urlFor(`/files/c.bin?size=${size}&seed=8`)
    const path = Path.join(folder, "c.bin")
    yield* leavePart(path, { url, size, etag: "\"an-older-version\"", done: 300_000 }, 9)
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 8, size)
    assert.isFalse(result.resumed)
    assert.strictEqual(result.restarts, 1)
    assert.strictEqual(result.bytesTransferred, size)
    const [get] = (yield* server.requestsTo("/files/c.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(get?.headers["range"], undefined)
  }).pipe(Effect.scoped))

it.live("resume: false ignores a part and downloads from zero", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 300_000
    const url = server.urlFor(`/files/n.bin?size=${size}&seed=3`)
    const path = Path.join(folder, "n.bin")
    yield* leavePart(path, { url, size, etag: etagOf("n.bin", size, 3), done: 100_000 }, 3)
    const result = yield* downloader.download(url, path, { resume: false })
    yield* assertContent(path, 3, size)
    assert.isFalse(result.resumed)
    assert.strictEqual(result.bytesTransferred, size)
  }).pipe(Effect.scoped))

it.live("a part that already holds every byte is finished without a body: the 416 with the same total completes it", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 400_000
    const url = server.urlFor(`/files/w.bin?size=${size}&seed=2`)
    const path = Path.join(folder, "w.bin")
    yield* leavePart(path, { url, size, etag: etagOf("w.bin", size, 2), done: size }, 2)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(2, size)}` })
    yield* assertContent(path, 2, size)
    assert.isTrue(result.resumed)
    assert.strictEqual(result.bytesTransferred, 0)
    assert.deepStrictEqual(yield* listing(folder), ["w.bin"])
  }).pipe(Effect.scoped))

it.live("a file that changes between two GETs (mutate=1) restarts from zero: the new content arrives whole, one restart", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 3 * 1024 * 1024
    // The first GET drops after 1 MiB; the second (a range with If-Range) meets the new version and gets a 200.
    const url = server.urlFor(`/files/m.bin?size=${size}&seed=20&mutate=1&drop_after=1048576&drop_times=1`)
    const path = Path.join(folder, "m.bin")
    const result = yield* downloader.download(url, path, { checksum: { algorithm: "sha256" } })
    yield* assertContent(path, Content.mutatedSeed(20), size)
    assert.strictEqual(result.restarts, 1)
    assert.strictEqual(result.checksum?.digest, expectedSha256(Content.mutatedSeed(20), size))
    assert.isFalse(result.verified)
  }).pipe(Effect.scoped))

it.live("with restartOnChange: false a changed file fails with ContentChangedError and the destination stays absent", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 3 * 1024 * 1024
    const url = server.urlFor(`/files/k.bin?size=${size}&seed=21&mutate=1&drop_after=1048576&drop_times=1`)
    const path = Path.join(folder, "k.bin")
    const error = yield* Effect.flip(downloader.download(url, path, { restartOnChange: false }))
    assert.strictEqual(error._tag, "ContentChangedError")
    assert.isFalse((yield* listing(folder)).includes("k.bin"))
  }).pipe(Effect.scoped))

it.live("a server that answers a resumed range with 200 (ignore_range=1) restarts from zero with that body", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2 * 1024 * 1024
    const url = server.urlFor(`/files/i.bin?size=${size}&seed=22&ignore_range=1&drop_after=1048576&drop_times=1`)
    const path = Path.join(folder, "i.bin")
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 22, size)
    assert.strictEqual(result.restarts, 1)
    const gets = (yield* server.requestsTo("/files/i.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 2)
    assert.strictEqual(gets[1]?.headers["range"], `bytes=1048576-${size - 1}`)
  }).pipe(Effect.scoped))

it.live("a 206 that starts earlier than asked (range_early) fails with RangeNotHonouredError and writes nothing at a wrong offset", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2 * 1024 * 1024
    const url = server.urlFor(`/files/e.bin?size=${size}&seed=23&range_early=100&drop_after=1048576&drop_times=1`)
    const path = Path.join(folder, "e.bin")
    const error = yield* Effect.flip(downloader.download(url, path))
    assert.strictEqual(error._tag, "RangeNotHonouredError")
    assert.isFalse((yield* listing(folder)).includes("e.bin"))
    // The part holds exactly the first MiB, correct, and nothing else.
    const part = yield* Effect.promise(() => Fs.readFile(`${path}.part`))
    assert.strictEqual(part.length, 1024 * 1024)
    assert.deepStrictEqual(new Uint8Array(part), Content.bytesAt(23, 0, 1024 * 1024))
  }).pipe(Effect.scoped))

it.live("a weak ETag never lets bytes be joined: a broken body restarts from zero", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2 * 1024 * 1024
    const url = server.urlFor(`/files/wk.bin?size=${size}&seed=24&weak_etag=1&drop_after=1048576&drop_times=1`)
    const path = Path.join(folder, "wk.bin")
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 24, size)
    assert.strictEqual(result.restarts, 1)
  }).pipe(Effect.scoped))

it.live("a 20 MiB file that changes mid-way restarts the hashing worker too: the digest is the new content's", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 20 * 1024 * 1024
    const url = server.urlFor(`/files/mb.bin?size=${size}&seed=40&mutate=1&drop_after=9000000&drop_times=1`)
    const path = Path.join(folder, "mb.bin")
    const result = yield* downloader.download(url, path, {
      checksum: `sha256:${expectedSha256(Content.mutatedSeed(40), size)}`
    })
    yield* assertContent(path, Content.mutatedSeed(40), size)
    assert.strictEqual(result.restarts, 1)
    assert.isTrue(result.verified)
  }).pipe(Effect.scoped))

it.live("a 20 MiB chunked body (length unknown until the end) is hashed while it arrives and verified", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 20 * 1024 * 1024
    const path = Path.join(folder, "ch.bin")
    const result = yield* downloader.download(server.urlFor(`/files/ch.bin?size=${size}&seed=41&chunked=1`), path, {
      checksum: `sha256:${expectedSha256(41, size)}`
    })
    yield* assertContent(path, 41, size)
    assert.isTrue(result.verified)
    assert.strictEqual(result.bytes, size)
  }).pipe(Effect.scoped))

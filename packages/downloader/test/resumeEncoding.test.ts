/**
 * Bytes of two content codings are never joined (RELIABILITY 3 and 4): a
 * `206` whose `Content-Encoding` differs from the coding of the bytes already
 * in the `.part` (identity when absent) is another representation, whatever
 * its `ETag` and `Content-Range` say. It is treated as changed content: a
 * restart from zero, counted, or `ContentChangedError` when restarts are
 * off. The sidecar records the coding of the bytes in the `.part`; one of an
 * earlier version, without it, reads as identity. Over the test server's
 * `range_gzip=1` (206 answers gzip-encoded, 200s plain, one strong `ETag`).
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Remote from "../src/internal/remote.ts"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

const etagOf = (name: string, size: number, seed: number) =>
  Content.entityTag({ name, size, seed, encoding: "identity" })

const getsTo = (server: { readonly requestsTo: (path: string) => Effect.Effect<ReadonlyArray<any>> }, path: string) =>
  Effect.map(
    server.requestsTo(path),
    (requests) => requests.filter((request) => request.method === "GET").map((request) => request.headers["range"])
  )

it("content codings compare normalised: absent, empty and identity are one; gzip, GZIP, x-gzip and ' gzip ' are one; gzip and br are two", () => {
  assert.strictEqual(Remote.codingOf(undefined), "identity")
  assert.strictEqual(Remote.codingOf(""), "identity")
  assert.strictEqual(Remote.codingOf("Identity"), "identity")
  for (const gzip of ["gzip", "GZIP", "x-gzip", " gzip ", "identity, gzip"]) {
    assert.strictEqual(Remote.codingOf(gzip), "gzip")
  }
  assert.strictEqual(Remote.codingOf("gzip, br"), "gzip,br")
  assert.strictEqual(Remote.codingOf("constructor"), "constructor")
  const plain = { size: 10, etag: "\"a\"", lastModified: undefined, coding: "identity" }
  assert.strictEqual(
    Remote.joinChange(plain, { ...plain, coding: "gzip" }),
    "the content coding changed from identity to gzip"
  )
  assert.strictEqual(
    Remote.joinChange({ ...plain, coding: "gzip" }, { ...plain, coding: Remote.codingOf("X-Gzip") }),
    undefined
  )
})

it.live("a gzip-encoded 206 (same strong ETag, right Content-Range) after 300000 plain bytes is not appended: the file starts over from zero, restarts 1, and arrives plain and whole", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1_000_000
    const path = Path.join(folder, "g.bin")
    const url = server.urlFor(`/files/g.bin?size=${size}&seed=41&drop_after=300000&drop_times=1&range_gzip=1`)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(41, size)}` })
    yield* assertContent(path, 41, size)
    assert.strictEqual(result.restarts, 1)
    assert.isFalse(result.resumed)
    assert.isTrue(result.verified)
    // The plain 200 broke, its continuation came gzip-encoded and was dropped, the plain GET from zero completed.
    assert.deepStrictEqual(yield* getsTo(server, "/files/g.bin"), [undefined, `bytes=300000-${size - 1}`, undefined])
    assert.deepStrictEqual(yield* listing(folder), ["g.bin"])
  }).pipe(Effect.scoped))

it.live("with restartOnChange: false a gzip-encoded 206 after plain bytes fails with ContentChangedError naming the coding; the .part keeps only plain bytes and its sidecar says identity", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1_000_000
    const path = Path.join(folder, "n.bin")
    const url = server.urlFor(`/files/n.bin?size=${size}&seed=42&drop_after=300000&drop_times=1&range_gzip=1`)
    const error = yield* Effect.flip(downloader.download(url, path, { restartOnChange: false }))
    assert.strictEqual(error._tag, "ContentChangedError")
    assert.include(error.message, "the content coding changed from identity to gzip")
    const sidecar = JSON.parse(yield* Effect.promise(() => Fs.readFile(`${path}.part.json`, "utf8")))
    assert.strictEqual(sidecar.contentCoding, "identity")
    const done: number = sidecar.segments[0].done
    assert.isAtMost(done, 300_000)
    const part = yield* Effect.promise(() => Fs.readFile(`${path}.part`))
    assert.isAtMost(part.length, 300_000)
    assert.isTrue(Buffer.from(Content.bytesAt(42, 0, part.length)).equals(part), "the .part holds plain bytes only")
    assert.deepStrictEqual(yield* getsTo(server, "/files/n.bin"), [undefined, `bytes=300000-${size - 1}`])
  }).pipe(Effect.scoped))

/** A `.part` of `done` bytes and its sidecar, for the file `/files/NAME?size&seed` (its ETag), with `extra` fields. */
const leavePart = (path: string, url: string, size: number, seed: number, bytes: Uint8Array, extra: object) =>
  Effect.promise(async () => {
    await Fs.writeFile(`${path}.part`, bytes)
    await Fs.writeFile(
      `${path}.part.json`,
      JSON.stringify({
        version: 1,
        url,
        size,
        etag: etagOf(Path.basename(path), size, seed),
        ...extra,
        segments: [{ start: 0, end: size, done: bytes.length }]
      })
    )
  })

it.live("a .part whose sidecar says its bytes are gzip is not continued by a plain 206: the file starts over from zero, restarts 1", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 600_000
    const path = Path.join(folder, "z.bin")
    const url = server.urlFor(`/files/z.bin?size=${size}&seed=44`)
    // What a run that met a gzip-encoded 200 left: 250000 coded bytes (here, other bytes), recorded as gzip.
    yield* leavePart(path, url, size, 44, Content.bytesAt(45, 0, 250_000), { contentCoding: "gzip" })
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 44, size)
    assert.strictEqual(result.restarts, 1)
    assert.isFalse(result.resumed)
    assert.deepStrictEqual(yield* getsTo(server, "/files/z.bin"), [`bytes=250000-${size - 1}`, undefined])
  }).pipe(Effect.scoped))

it.live("a sidecar of an earlier version, without contentCoding, reads as identity: its plain .part is continued by a plain 206", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 600_000
    const path = Path.join(folder, "o.bin")
    const url = server.urlFor(`/files/o.bin?size=${size}&seed=46`)
    yield* leavePart(path, url, size, 46, Content.bytesAt(46, 0, 250_000), {})
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(46, size)}` })
    yield* assertContent(path, 46, size)
    assert.isTrue(result.resumed)
    assert.strictEqual(result.restarts, 0)
    assert.strictEqual(result.bytesTransferred, size - 250_000)
  }).pipe(Effect.scoped))

it.live("segments share one coding: gzip-encoded 206s to the segments' ranges (HEAD and 200 plain) fall back to one plain stream, restarts 1, the file whole", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2_200_000
    const path = Path.join(folder, "s.bin")
    const url = server.urlFor(`/files/s.bin?size=${size}&seed=47&range_gzip=1`)
    const result = yield* downloader.download(url, path, {
      segments: 2,
      checksum: `sha256:${expectedSha256(47, size)}`
    })
    yield* assertContent(path, 47, size)
    assert.strictEqual(result.segments, 1)
    assert.strictEqual(result.restarts, 1)
    const gets = yield* getsTo(server, "/files/s.bin")
    // The last GET is the plain stream from zero; every ranged one before it was refused, nothing of it kept.
    assert.strictEqual(gets.at(-1), undefined)
    assert.isTrue(gets.slice(0, -1).every((range) => typeof range === "string" && range.startsWith("bytes=")))
    assert.deepStrictEqual(yield* listing(folder), ["s.bin"])
  }).pipe(Effect.scoped))

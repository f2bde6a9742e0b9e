import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

it.live("a body shorter than its Content-Length on every GET is never accepted: it fails typed, the destination absent", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "s.bin")
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/s.bin?size=500000&short_by=1000"), path))
    assert.include(["ConnectionError", "BodyLengthError"], error._tag)
    assert.isFalse((yield* listing(folder)).includes("s.bin"))
  }).pipe(Effect.scoped))

it.live("a body shorter than its Content-Length once is continued from its last byte and completes", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 500_000
    const path = Path.join(folder, "s1.bin")
    // short_by applies to every answer; drop_times=1 with drop_after cuts only the first one short.
    const result = yield* downloader.download(
      server.urlFor(`/files/s1.bin?size=${size}&seed=3&drop_after=123457&drop_times=1`),
      path,
      { checksum: `sha256:${expectedSha256(3, size)}` }
    )
    yield* assertContent(path, 3, size)
    assert.strictEqual(result.continuations, 1)
  }).pipe(Effect.scoped))

it.live("a server that cuts every body after one byte costs maxStalls requests, not one per byte: it fails typed, the part kept", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { maxStalls: 4 } })
    const path = Path.join(folder, "drip.bin")
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/drip.bin?size=3000&drop_after=1"), path))
    assert.include(["ConnectionError", "BodyLengthError"], error._tag)
    // Each broken body brought a byte, under 64 KiB: no progress, so four GETs in all (it took 3,000).
    const gets = (yield* server.requestsTo("/files/drip.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 4)
    const files = yield* listing(folder)
    assert.isFalse(files.includes("drip.bin"))
    assert.isTrue(files.includes("drip.bin.part"))
  }).pipe(Effect.scoped))

it.live("a body longer than its Content-Length fails or is cut at the announced length, never written past it", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "l.bin")
    const exit = yield* Effect.exit(
      downloader.download(server.urlFor("/files/l.bin?size=300000&seed=5&long_by=5000"), path)
    )
    if (exit._tag === "Success") {
      // Then exactly the announced bytes, which are the content's first 295000.
      const bytes = yield* Effect.promise(() => Fs.readFile(path))
      assert.strictEqual(bytes.length, 295_000)
      assert.deepStrictEqual(new Uint8Array(bytes), Content.bytesAt(5, 0, 295_000))
    } else {
      assert.isFalse((yield* listing(folder)).includes("l.bin"))
    }
  }).pipe(Effect.scoped))

it.live("a body that stalls fails with TimeoutError (phase idle) at the stall limit; the part stays for a resume", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({
      client: { timeout: { idle: 300 } },
      downloader: { maxStalls: 1 }
    })
    const path = Path.join(folder, "idle.bin")
    // One byte a second: the first byte comes at once, the next one after the 300 ms idle deadline.
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/idle.bin?size=100000&rate=1"), path))
    assert.strictEqual(error._tag, "TimeoutError")
    if (error._tag === "TimeoutError") assert.strictEqual(error.phase, "idle")
    assert.isFalse((yield* listing(folder)).includes("idle.bin"))
    assert.isTrue((yield* listing(folder)).includes("idle.bin.part"))
  }).pipe(Effect.scoped))

it.live("a HEAD refused with 405 falls back to a ranged GET of one byte, which still gives the length for the space check", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 700_000
    const path = Path.join(folder, "h.bin")
    const result = yield* downloader.download(server.urlFor(`/files/h.bin?size=${size}&seed=6&head_status=405`), path)
    yield* assertContent(path, 6, size)
    assert.strictEqual(result.bytes, size)
    const requests = yield* server.requestsTo("/files/h.bin")
    assert.deepStrictEqual(
      requests.map((request) => `${request.method} ${request.headers["range"] ?? ""}`),
      ["HEAD ", "GET bytes=0-0", "GET "]
    )
  }).pipe(Effect.scoped))

it.live("a HEAD that announces more than the disk holds fails with InsufficientSpaceError before any body is fetched", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "huge.bin")
    const error = yield* Effect.flip(
      downloader.download(server.urlFor(`/files/huge.bin?size=1000&head_length=${2 ** 52}`), path)
    )
    assert.strictEqual(error._tag, "InsufficientSpaceError")
    if (error._tag === "InsufficientSpaceError") {
      assert.strictEqual(error.needed, 2 ** 52)
      assert.isBelow(error.available, 2 ** 52)
    }
    const gets = (yield* server.requestsTo("/files/huge.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 0)
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("a HEAD that lies about the length is corrected by the GET: the file has the GET's length", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 400_000
    const path = Path.join(folder, "lie.bin")
    const result = yield* downloader.download(server.urlFor(`/files/lie.bin?size=${size}&seed=7&head_length=100`), path)
    yield* assertContent(path, 7, size)
    assert.strictEqual(result.bytes, size)
  }).pipe(Effect.scoped))

it.live("a gzip-encoded body is stored as sent (compressed), never inflated: a gzip bomb stays small", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "g.bin")
    const result = yield* downloader.download(server.urlFor("/files/g.bin?size=200000&seed=8&gzip=1"), path)
    const stored = yield* Effect.promise(() => Fs.readFile(path))
    assert.strictEqual(result.bytes, stored.length)
    assert.deepStrictEqual(new Uint8Array(Zlib.gunzipSync(stored)), Content.bytesAt(8, 0, 200_000))
    const bombPath = Path.join(folder, "bomb.gz")
    const bomb = yield* downloader.download(server.urlFor(`/files/bomb.gz?bomb=${1024 ** 3}`), bombPath)
    assert.strictEqual(bomb.bytes, Content.gzipBombLength(1024 ** 3))
    assert.isBelow(bomb.bytes, 5 * 1024 * 1024)
  }).pipe(Effect.scoped))

it.live("a 404 fails with the client's NotFoundError before anything is opened", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const error = yield* Effect.flip(downloader.download(server.urlFor("/status/404"), Path.join(folder, "x.bin")))
    assert.strictEqual(error._tag, "NotFoundError")
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("secrets in the URL and headers never reach the sidecar, the result or an error", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({
      client: { timeout: { idle: 300 } },
      downloader: { maxStalls: 1 }
    })
    const secret = "s3cr3t-t0ken-value"
    const path = Path.join(folder, "sec.bin")
    const url = server.urlFor(`/files/sec.bin?size=100000&seed=9&rate=1&access_token=${secret}`)
    const error = yield* Effect.flip(downloader.download(url, path, { headers: { authorization: `Bearer ${secret}` } }))
    assert.notInclude(JSON.stringify(error), secret)
    assert.notInclude(String(error), secret)
    assert.notInclude(error.message, secret)
    const sidecar = yield* Effect.promise(() => Fs.readFile(`${path}.part.json`, "utf8"))
    assert.notInclude(sidecar, secret)
    assert.include(sidecar, "REDACTED")
    const done = yield* downloader.download(
      server.urlFor(`/files/ok.bin?size=1000&token=${secret}`),
      Path.join(folder, "ok.bin")
    )
    assert.notInclude(JSON.stringify(done), secret)
    const digest = createHash("sha256").update(yield* Effect.promise(() => Fs.readFile(Path.join(folder, "ok.bin"))))
      .digest("hex")
    assert.strictEqual(digest, expectedSha256(0, 1000))
  }).pipe(Effect.scoped))

it.live("a HEAD that announces an empty file is checked by a GET: the file has the GET's bytes", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "zero.bin")
    const result = yield* downloader.download(server.urlFor("/files/zero.bin?size=5000&seed=3&head_length=0"), path)
    yield* assertContent(path, 3, 5000)
    assert.strictEqual(result.bytes, 5000)
    const empty = yield* downloader.download(server.urlFor("/files/empty.bin?size=0"), Path.join(folder, "empty.bin"))
    assert.strictEqual(empty.bytes, 0)
    assert.strictEqual((yield* Effect.promise(() => Fs.stat(Path.join(folder, "empty.bin")))).size, 0)
  }).pipe(Effect.scoped))

import { assert, describe, it as plainIt, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Zlib from "node:zlib"
import * as Content from "../src/Content.ts"
import { maxHitKeys, ServerState } from "../src/internal/state.ts"
import * as TestServer from "../src/TestServer.ts"

// --- clients ------------------------------------------------------------------

interface Received {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
  /** The body ended as its framing said it would. */
  readonly complete: boolean
  /** What the client library reported when the body did not end properly. */
  readonly error: string | undefined
  readonly millis: number
}

/** A request through `node:http`, without decoding and without a shared pool. */
const httpGet = (
  url: string,
  options: { readonly method?: string; readonly headers?: Record<string, string> } = {}
): Promise<Received> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const request = Http.request(url, { method: options.method ?? "GET", headers: options.headers, agent: false })
    request.on("error", reject)
    request.on("response", (response) => {
      const parts: Array<Buffer> = []
      let complete = false
      let error: string | undefined
      response.on("data", (chunk: Buffer) => parts.push(chunk))
      response.on("end", () => {
        complete = true
      })
      response.on("error", (cause) => {
        error = cause.message
      })
      response.on("close", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(parts),
          complete: complete && response.complete,
          error,
          millis: performance.now() - started
        }))
    })
    request.end()
  })

interface RawAnswer {
  /** The status line and header lines, as sent. */
  readonly head: string
  /** Every byte after the blank line, until the server closed the connection. */
  readonly body: Buffer
}

/** Sends a request over a plain socket and reads until the server closes it. */
const rawGet = (port: number, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1")
    const parts: Array<Buffer> = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error("the server did not close the connection within 10 s"))
    }, 10_000)
    socket.on("connect", () => {
      const lines = Object.entries({ host: "127.0.0.1", connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}`)
      socket.write(`GET ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`)
    })
    socket.on("data", (chunk) => parts.push(chunk))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      const all = Buffer.concat(parts)
      const split = all.indexOf("\r\n\r\n")
      if (split < 0) return reject(new Error(`no response head in ${JSON.stringify(all.toString("latin1"))}`))
      resolve({ head: all.subarray(0, split).toString("latin1"), body: all.subarray(split + 4) })
    })
  })

/** A header of a raw head, by lower-case name. */
const rawHeader = (head: string, name: string): string | undefined => {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":")
    if (line.slice(0, colon).toLowerCase() === name) return line.slice(colon + 1).trim()
  }
  return undefined
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")
const expected = (seed: number, offset: number, length: number): Buffer =>
  Buffer.from(Content.bytesAt(seed, offset, length))
const promise = <A>(evaluate: () => Promise<A>) => Effect.promise(evaluate)
const server = TestServer.TestServer

/** The requests the server recorded for one path. */
const seen = (path: string) =>
  Effect.gen(function*() {
    const requests = yield* (yield* server).requests
    return requests.filter((request) => request.path === path)
  })

// --- Content, pure -----------------------------------------------------------

describe("content", () => {
  plainIt("bytesAt is a function of (seed, offset) only", () => {
    const full = Content.bytesAt(7, 0, 300_000)
    for (const [offset, length] of [[0, 10], [5, 100], [16, 17], [65_535, 3], [100_000, 150_000], [299_999, 1]]) {
      assert.deepStrictEqual(Content.bytesAt(7, offset!, length!), full.subarray(offset!, offset! + length!))
    }
    assert.notDeepEqual(Content.bytesAt(8, 0, 64), full.subarray(0, 64))
    assert.strictEqual(Content.bytesAt(7, 10, 0).length, 0)
    assert.throws(() => Content.bytesAt(-1, 0, 1))
    assert.throws(() => Content.bytesAt(1, 0.5, 1))
  })

  plainIt("chunks are at most 64 KiB, end on 64 KiB boundaries and join to bytesAt", () => {
    const parts = [...Content.chunks(3, 100, 200_000)]
    assert.deepStrictEqual(parts.map((part) => part.length), [65_436, 65_536, 65_536, 3_392])
    assert.deepStrictEqual(Buffer.concat(parts), expected(3, 100, 199_900))
    assert.deepStrictEqual([...Content.chunks(3, 10, 10)], [])
  })

  plainIt("digest streams the same sha256 as hashing bytesAt", () => {
    assert.strictEqual(Content.digest(9, 0, 200_000), sha256(Content.bytesAt(9, 0, 200_000)))
    assert.strictEqual(
      Content.digest(9, 1_000, 5, "sha1"),
      createHash("sha1").update(expected(9, 1_000, 5)).digest("hex")
    )
  })

  plainIt("a range far into a 16 GiB file costs only its length", () => {
    const offset = Content.maxSize - 100
    assert.deepStrictEqual(Content.bytesAt(1, offset, 100).subarray(40), Content.bytesAt(1, offset + 40, 60))
  })

  plainIt("crc32OfZeros agrees with zlib.crc32", () => {
    for (const n of [0, 1, 15, 16, 1_000, 65_536, 1_048_576, 3_000_001]) {
      assert.strictEqual(Content.crc32OfZeros(n), Zlib.crc32(new Uint8Array(n)) >>> 0, `n = ${n}`)
    }
  })

  plainIt("gzipBomb inflates to exactly n zeros and is as long as gzipBombLength", () => {
    for (const n of [0, 1, 1_048_576, 2_097_152 + 12_345]) {
      const body = Buffer.concat([...Content.gzipBomb(n)])
      assert.strictEqual(body.length, Content.gzipBombLength(n))
      const inflated = Zlib.gunzipSync(body)
      assert.strictEqual(inflated.length, n)
      assert.isTrue(inflated.every((byte) => byte === 0))
    }
    assert.isBelow(Content.gzipBombLength(2 ** 30), 1_100_000)
  })

  plainIt("mutatedSeed changes the content, the ETag and Last-Modified", () => {
    for (const seed of [0, 5, 2 ** 28 - 1, Content.maxSeed]) {
      const other = Content.mutatedSeed(seed)
      assert.notStrictEqual(other, seed)
      assert.notStrictEqual(Content.lastModified(other).getTime(), Content.lastModified(seed).getTime())
      assert.notStrictEqual(
        Content.entityTag({ name: "a", size: 1, seed, encoding: "identity" }),
        Content.entityTag({ name: "a", size: 1, seed: other, encoding: "identity" })
      )
    }
  })
})

// --- the endpoint, over sockets ----------------------------------------------------

layer(TestServer.layer())("GET /files/:name", (it) => {
  it.effect("serves size bytes equal to bytesAt, with validators and sha256", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() => fetch(urlFor("/files/full.bin?size=300000&seed=42")))
      const body = Buffer.from(yield* promise(() => response.arrayBuffer()))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(body, expected(42, 0, 300_000))
      assert.strictEqual(sha256(body), Content.digest(42, 0, 300_000))
      assert.strictEqual(response.headers.get("content-length"), "300000")
      assert.strictEqual(response.headers.get("content-type"), "application/octet-stream")
      assert.strictEqual(response.headers.get("accept-ranges"), "bytes")
      assert.strictEqual(
        response.headers.get("etag"),
        Content.entityTag({ name: "full.bin", size: 300_000, seed: 42, encoding: "identity" })
      )
      assert.match(response.headers.get("etag")!, /^"[0-9a-f]{32}"$/)
      assert.strictEqual(response.headers.get("last-modified"), Content.lastModified(42).toUTCString())
      assert.match(
        response.headers.get("last-modified")!,
        /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/
      )
      assert.strictEqual(response.headers.get("x-content-seed"), "42")
      assert.isNull(response.headers.get("content-disposition"))
    }))

  it.effect("defaults to 1 MiB with seed 0, and the same request gives the same bytes and ETag", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const first = yield* promise(() => httpGet(urlFor("/files/default.bin")))
      const second = yield* promise(() => httpGet(urlFor("/files/default.bin")))
      assert.strictEqual(first.body.length, 1_048_576)
      assert.strictEqual(sha256(first.body), Content.digest(0, 0, 1_048_576))
      assert.deepStrictEqual(second.body, first.body)
      assert.strictEqual(second.headers.etag, first.headers.etag)
      const empty = yield* promise(() => httpGet(urlFor("/files/empty.bin?size=0")))
      assert.strictEqual(empty.status, 200)
      assert.strictEqual(empty.headers["content-length"], "0")
      assert.strictEqual(empty.body.length, 0)
    }))

  it.effect("the ETag depends on name, size and seed", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const tag = (path: string) =>
        promise(() => httpGet(urlFor(path), { method: "HEAD" })).pipe(Effect.map((r) => r.headers.etag))
      const base = yield* tag("/files/tags.bin?size=10&seed=1")
      assert.notStrictEqual(yield* tag("/files/tags2.bin?size=10&seed=1"), base)
      assert.notStrictEqual(yield* tag("/files/tags.bin?size=11&seed=1"), base)
      assert.notStrictEqual(yield* tag("/files/tags.bin?size=10&seed=2"), base)
      assert.strictEqual(yield* tag("/files/tags.bin?size=10&seed=1"), base)
    }))

  it.effect("Range bytes=a-b gives 206 with the slice, and the server saw the Range header", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() =>
        httpGet(urlFor("/files/range.bin?size=200000&seed=3"), { headers: { range: "bytes=1000-70999" } })
      )
      assert.strictEqual(response.status, 206)
      assert.strictEqual(response.headers["content-range"], "bytes 1000-70999/200000")
      assert.strictEqual(response.headers["content-length"], "70000")
      assert.deepStrictEqual(response.body, expected(3, 1000, 70_000))
      assert.isDefined(response.headers.etag)
      const requests = yield* seen("/files/range.bin")
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0]!.headers.range, "bytes=1000-70999")
      assert.strictEqual(requests[0]!.query, "size=200000&seed=3")
    }))

  it.effect("Range bytes=a-, bytes=-n and an end past the size", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/forms.bin?size=5000&seed=4")
      const open = yield* promise(() => httpGet(url, { headers: { range: "bytes=4000-" } }))
      assert.strictEqual(open.status, 206)
      assert.strictEqual(open.headers["content-range"], "bytes 4000-4999/5000")
      assert.deepStrictEqual(open.body, expected(4, 4000, 1000))
      const suffix = yield* promise(() => httpGet(url, { headers: { range: "bytes=-300" } }))
      assert.strictEqual(suffix.status, 206)
      assert.strictEqual(suffix.headers["content-range"], "bytes 4700-4999/5000")
      assert.deepStrictEqual(suffix.body, expected(4, 4700, 300))
      const longSuffix = yield* promise(() => httpGet(url, { headers: { range: "bytes=-9999" } }))
      assert.strictEqual(longSuffix.headers["content-range"], "bytes 0-4999/5000")
      assert.strictEqual(longSuffix.body.length, 5000)
      const past = yield* promise(() => httpGet(url, { headers: { range: "bytes=4990-9999" } }))
      assert.strictEqual(past.headers["content-range"], "bytes 4990-4999/5000")
      assert.deepStrictEqual(past.body, expected(4, 4990, 10))
      const single = yield* promise(() => httpGet(url, { headers: { range: "bytes=0-0" } }))
      assert.strictEqual(single.headers["content-range"], "bytes 0-0/5000")
      assert.deepStrictEqual(single.body, expected(4, 0, 1))
    }))

  it.effect("an unsatisfiable range gives 416 with Content-Range bytes */size", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/unsatisfiable.bin?size=5000")
      for (const range of ["bytes=5000-", "bytes=5000-6000", "bytes=-0"]) {
        const response = yield* promise(() => httpGet(url, { headers: { range } }))
        assert.strictEqual(response.status, 416, range)
        assert.strictEqual(response.headers["content-range"], "bytes */5000")
        assert.strictEqual(response.headers["content-length"], "0")
        assert.strictEqual(response.body.length, 0)
      }
      const empty = yield* promise(() =>
        httpGet(urlFor("/files/unsatisfiable0.bin?size=0"), { headers: { range: "bytes=-5" } })
      )
      assert.strictEqual(empty.status, 416)
      assert.strictEqual(empty.headers["content-range"], "bytes */0")
    }))

  it.effect("a multi-range or malformed Range header is ignored: 200 with the full body", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/malformed.bin?size=3000&seed=5")
      for (const range of ["bytes=0-9,20-29", "bytes=abc", "items=0-9", "bytes=20-10", "bytes=-", "bytes 0-9"]) {
        const response = yield* promise(() => httpGet(url, { headers: { range } }))
        assert.strictEqual(response.status, 200, range)
        assert.isUndefined(response.headers["content-range"])
        assert.deepStrictEqual(response.body, expected(5, 0, 3000))
      }
    }))

  it.effect("If-Range with the current ETag or Last-Modified honours the range, otherwise 200", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/ifrange.bin?size=4000&seed=6")
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      const etag = head.headers.etag!
      const modified = head.headers["last-modified"]!
      const ask = (ifRange: string) =>
        promise(() => httpGet(url, { headers: { range: "bytes=100-199", "if-range": ifRange } }))
      const byTag = yield* ask(etag)
      assert.strictEqual(byTag.status, 206)
      assert.deepStrictEqual(byTag.body, expected(6, 100, 100))
      const byDate = yield* ask(modified)
      assert.strictEqual(byDate.status, 206)
      const otherTag = yield* ask("\"0000\"")
      assert.strictEqual(otherTag.status, 200)
      assert.deepStrictEqual(otherTag.body, expected(6, 0, 4000))
      assert.strictEqual((yield* ask(`W/${etag}`)).status, 200)
      assert.strictEqual((yield* ask("Thu, 01 Jan 1970 00:00:00 GMT")).status, 200)
      assert.strictEqual((yield* ask("not a date")).status, 200)
    }))

  it.effect("HEAD answers the GET's headers without a body, and honours Range", () =>
    Effect.gen(function*() {
      const { port } = yield* server
      const get = yield* promise(() => httpGet(`http://127.0.0.1:${port}/files/head.bin?size=70000&seed=8`))
      const head = yield* promise(() =>
        httpGet(`http://127.0.0.1:${port}/files/head.bin?size=70000&seed=8`, { method: "HEAD" })
      )
      assert.strictEqual(head.status, 200)
      assert.strictEqual(head.body.length, 0)
      for (const name of ["content-length", "etag", "last-modified", "accept-ranges", "content-type"]) {
        assert.strictEqual(head.headers[name], get.headers[name], name)
      }
      const ranged = yield* promise(() =>
        httpGet(`http://127.0.0.1:${port}/files/head.bin?size=70000&seed=8`, {
          method: "HEAD",
          headers: { range: "bytes=10-19" }
        })
      )
      assert.strictEqual(ranged.status, 206)
      assert.strictEqual(ranged.headers["content-range"], "bytes 10-19/70000")
      assert.strictEqual(ranged.headers["content-length"], "10")
      // On the wire: a head and nothing after it.
      const raw = yield* promise(() =>
        new Promise<Buffer>((resolve) => {
          const socket = Net.connect(
            port,
            "127.0.0.1",
            () => socket.write("HEAD /files/head.bin?size=70000 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
          )
          const parts: Array<Buffer> = []
          socket.on("data", (chunk) => parts.push(chunk))
          socket.on("close", () => resolve(Buffer.concat(parts)))
        })
      )
      assert.isTrue(raw.toString("latin1").endsWith("\r\n\r\n"))
      const other = yield* promise(() => fetch(`http://127.0.0.1:${port}/files/head.bin`, { method: "POST" }))
      assert.strictEqual(other.status, 405)
      assert.strictEqual(other.headers.get("allow"), "GET, HEAD")
    }))

  it.effect("serves 16 GiB files without holding them: HEAD and a range at the end", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor(`/files/huge.bin?size=${Content.maxSize}&seed=11`)
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      assert.strictEqual(head.headers["content-length"], String(Content.maxSize))
      const tail = yield* promise(() => httpGet(url, { headers: { range: "bytes=-1000" } }))
      assert.strictEqual(tail.status, 206)
      assert.strictEqual(
        tail.headers["content-range"],
        `bytes ${Content.maxSize - 1000}-${Content.maxSize - 1}/${Content.maxSize}`
      )
      assert.deepStrictEqual(tail.body, expected(11, Content.maxSize - 1000, 1000))
      const tooBig = yield* promise(() => httpGet(urlFor(`/files/huge.bin?size=${Content.maxSize + 1}`)))
      assert.strictEqual(tooBig.status, 400)
    }))

  it.effect("ignore_range=1 answers 200 with the full body", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() =>
        httpGet(urlFor("/files/ignore.bin?size=3000&seed=9&ignore_range=1"), { headers: { range: "bytes=100-199" } })
      )
      assert.strictEqual(response.status, 200)
      assert.isUndefined(response.headers["content-range"])
      assert.deepStrictEqual(response.body, expected(9, 0, 3000))
    }))

  it.effect("chunked=1 sends no Content-Length and a chunked body", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      const response = yield* promise(() => httpGet(urlFor("/files/chunked.bin?size=150000&seed=10&chunked=1")))
      assert.isUndefined(response.headers["content-length"])
      assert.strictEqual(response.headers["transfer-encoding"], "chunked")
      assert.isTrue(response.complete)
      assert.deepStrictEqual(response.body, expected(10, 0, 150_000))
      const raw = yield* promise(() => rawGet(port, "/files/chunked.bin?size=10&seed=10&chunked=1"))
      assert.isTrue(raw.body.toString("latin1").endsWith("0\r\n\r\n"))
    }))

  it.effect("drop_after=N: the client gets exactly N body bytes, then the connection closes", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      const raw = yield* promise(() => rawGet(port, "/files/drop.bin?size=200000&seed=12&drop_after=70001"))
      assert.match(raw.head, /^HTTP\/1\.1 200 /)
      assert.strictEqual(rawHeader(raw.head, "content-length"), "200000")
      assert.strictEqual(raw.body.length, 70_001)
      assert.deepStrictEqual(raw.body, expected(12, 0, 70_001))
      const viaHttp = yield* promise(() => httpGet(urlFor("/files/drop.bin?size=200000&seed=12&drop_after=70001")))
      assert.isFalse(viaHttp.complete)
      assert.isDefined(viaHttp.error)
      assert.strictEqual(viaHttp.body.length, 70_001)
      const viaFetch = yield* promise(() =>
        fetch(urlFor("/files/drop.bin?size=200000&seed=12&drop_after=70001")).then((r) => r.arrayBuffer()).then(
          () => "completed",
          (error: unknown) => `failed: ${String(error)}`
        )
      )
      assert.match(viaFetch, /^failed/)
    }))

  it.effect("drop_after=0 sends the head only; drop_after with a range counts the range's bytes", () =>
    Effect.gen(function*() {
      const { port } = yield* server
      const none = yield* promise(() => rawGet(port, "/files/drop0.bin?size=1000&drop_after=0"))
      assert.strictEqual(rawHeader(none.head, "content-length"), "1000")
      assert.strictEqual(none.body.length, 0)
      const ranged = yield* promise(() =>
        rawGet(port, "/files/dropr.bin?size=100000&seed=13&drop_after=500", { range: "bytes=2000-" })
      )
      assert.match(ranged.head, /^HTTP\/1\.1 206 /)
      assert.strictEqual(rawHeader(ranged.head, "content-range"), "bytes 2000-99999/100000")
      assert.strictEqual(rawHeader(ranged.head, "content-length"), "98000")
      assert.deepStrictEqual(ranged.body, expected(13, 2000, 500))
    }))

  it.effect("drop_after with chunked=1 ends without the last chunk", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      const raw = yield* promise(() => rawGet(port, "/files/dropc.bin?size=1000&chunked=1&drop_after=1000"))
      assert.strictEqual(rawHeader(raw.head, "transfer-encoding"), "chunked")
      assert.isFalse(raw.body.toString("latin1").endsWith("0\r\n\r\n"))
      const viaHttp = yield* promise(() => httpGet(urlFor("/files/dropc.bin?size=1000&chunked=1&drop_after=1000")))
      assert.isFalse(viaHttp.complete)
      assert.strictEqual(viaHttp.body.length, 1000)
    }))

  it.effect("drop_times=k drops only the first k GETs of that name", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/droptimes.bin?size=10000&seed=14&drop_after=100&drop_times=2")
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      assert.strictEqual(head.status, 200)
      const first = yield* promise(() => httpGet(url))
      const second = yield* promise(() => httpGet(url))
      const third = yield* promise(() => httpGet(url))
      assert.deepStrictEqual([first.complete, second.complete, third.complete], [false, false, true])
      assert.deepStrictEqual([first.body.length, second.body.length], [100, 100])
      assert.deepStrictEqual(third.body, expected(14, 0, 10_000))
      assert.strictEqual((yield* seen("/files/droptimes.bin")).length, 4)
    }))

  it.effect("reset clears the hit counts", () =>
    Effect.gen(function*() {
      const { reset, urlFor } = yield* server
      const url = urlFor("/files/resetdrop.bin?size=1000&drop_after=10&drop_times=1")
      assert.isFalse((yield* promise(() => httpGet(url))).complete)
      assert.isTrue((yield* promise(() => httpGet(url))).complete)
      yield* reset
      assert.isFalse((yield* promise(() => httpGet(url))).complete)
    }))

  it.effect("names up to 1024 characters are served (255, a file system's limit, too); a longer one is 404 saying why", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      assert.strictEqual(TestServer.maxParamLength, 1024)
      for (const length of [101, 255, 1024]) {
        const name = `${"n".repeat(length - 4)}.bin`
        const got = yield* promise(() => httpGet(urlFor(`/files/${name}?size=100&seed=3`)))
        assert.strictEqual(got.status, 200, `${length} characters`)
        assert.deepStrictEqual(got.body, expected(3, 0, 100))
        assert.strictEqual((yield* seen(`/files/${name}`)).length, 1)
      }
      // Decoded length counts: 255 two-byte UTF-8 characters are 510 bytes, 1530 characters percent-encoded.
      const utf8 = yield* promise(() => httpGet(urlFor(`/files/${encodeURIComponent("é".repeat(255))}?size=10`)))
      assert.strictEqual(utf8.status, 200)
      const tooLong = yield* promise(() =>
        httpGet(urlFor(`/files/${"n".repeat(1025)}?size=100`), { headers: { accept: "application/json" } })
      )
      assert.strictEqual(tooLong.status, 404)
      assert.include(JSON.parse(tooLong.body.toString()).detail, "maxParamLength (1024)")
    }))

  it.effect("rate=B sends slowly: 20 KB at 40 KB/s takes about half a second", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() => httpGet(urlFor("/files/rate.bin?size=20000&seed=15&rate=40000")))
      assert.isTrue(response.complete)
      assert.deepStrictEqual(response.body, expected(15, 0, 20_000))
      assert.isAtLeast(response.millis, 400)
      assert.isBelow(response.millis, 5_000)
      const ranged = yield* promise(() =>
        httpGet(urlFor("/files/rate.bin?size=20000&seed=15&rate=20000"), { headers: { range: "bytes=10000-" } })
      )
      assert.strictEqual(ranged.status, 206)
      assert.deepStrictEqual(ranged.body, expected(15, 10_000, 10_000))
      assert.isAtLeast(ranged.millis, 400)
    }))

  it.effect("rate stops when the client goes away, and the server stays healthy", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const received = yield* promise(() =>
        new Promise<number>((resolve, reject) => {
          const request = Http.get(urlFor("/files/rateabort.bin?size=10000000&rate=10000"), { agent: false })
          request.on("error", () => {})
          request.on("response", (response) => {
            let bytes = 0
            response.on("error", () => {})
            response.on("data", (chunk: Buffer) => {
              bytes += chunk.length
              if (bytes >= 1000) {
                request.destroy()
                resolve(bytes)
              }
            })
          })
          setTimeout(() => reject(new Error("no bytes within 5 s")), 5_000)
        })
      )
      assert.isAtLeast(received, 1000)
      const health = yield* promise(() => httpGet(urlFor("/health")))
      assert.strictEqual(health.status, 200)
    }))

  it.effect("mutate=1: from the second GET on the content, ETag and Last-Modified change", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/mutate.bin?size=5000&seed=16&mutate=1")
      const first = yield* promise(() => httpGet(url))
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      const second = yield* promise(() => httpGet(url))
      const third = yield* promise(() => httpGet(url))
      const other = Content.mutatedSeed(16)
      assert.deepStrictEqual(first.body, expected(16, 0, 5000))
      assert.deepStrictEqual(second.body, expected(other, 0, 5000))
      assert.deepStrictEqual(third.body, second.body)
      assert.notStrictEqual(second.headers.etag, first.headers.etag)
      assert.strictEqual(third.headers.etag, second.headers.etag)
      assert.strictEqual(head.headers.etag, second.headers.etag)
      assert.notStrictEqual(second.headers["last-modified"], first.headers["last-modified"])
      assert.strictEqual(second.headers["x-content-seed"], String(other))
      // A resume with the old validator gets the new file whole.
      const resumed = yield* promise(() =>
        httpGet(url, { headers: { range: "bytes=1000-", "if-range": first.headers.etag! } })
      )
      assert.strictEqual(resumed.status, 200)
      assert.deepStrictEqual(resumed.body, expected(other, 0, 5000))
    }))

  it.effect("mutate_size: from the second GET on the changed content has that length; without mutate=1, a 400", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/resized.bin?size=5000&seed=17&mutate=1&mutate_size=3000")
      const first = yield* promise(() => httpGet(url))
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      const second = yield* promise(() => httpGet(url))
      const other = Content.mutatedSeed(17)
      assert.deepStrictEqual(first.body, expected(17, 0, 5000))
      assert.strictEqual(head.headers["content-length"], "3000")
      assert.strictEqual(second.headers["content-length"], "3000")
      assert.deepStrictEqual(second.body, expected(other, 0, 3000))
      assert.notStrictEqual(second.headers.etag, first.headers.etag)
      const alone = yield* promise(() => httpGet(urlFor("/files/alone.bin?size=10&mutate_size=5")))
      assert.strictEqual(alone.status, 400)
      assert.include(alone.body.toString(), "mutate_size needs mutate=1")
    }))

  it.effect("weak_etag=1 sends only a weak ETag, which If-Range never matches", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/weak.bin?size=1000&weak_etag=1")
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      assert.match(head.headers.etag!, /^W\/"[0-9a-f]{32}"$/)
      const ranged = yield* promise(() =>
        httpGet(url, { headers: { range: "bytes=0-9", "if-range": head.headers.etag! } })
      )
      assert.strictEqual(ranged.status, 200)
      const strongForm = yield* promise(() =>
        httpGet(url, { headers: { range: "bytes=0-9", "if-range": head.headers.etag!.slice(2) } })
      )
      assert.strictEqual(strongForm.status, 200)
    }))

  it.effect("no_etag=1 and no_last_modified=1 leave the validators out", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() =>
        httpGet(urlFor("/files/novalidators.bin?size=10&no_etag=1&no_last_modified=1"))
      )
      assert.strictEqual(response.status, 200)
      assert.isUndefined(response.headers.etag)
      assert.isUndefined(response.headers["last-modified"])
      const withoutTag = yield* promise(() =>
        httpGet(urlFor("/files/novalidators.bin?size=10&no_etag=1"), {
          headers: { range: "bytes=0-1", "if-range": Content.lastModified(0).toUTCString() }
        })
      )
      assert.strictEqual(withoutTag.status, 206)
    }))

  it.effect("range_early=N answers a 206 starting N bytes earlier, honestly labelled", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/early.bin?size=5000&seed=17&range_early=100")
      const response = yield* promise(() => httpGet(url, { headers: { range: "bytes=1000-1999" } }))
      assert.strictEqual(response.status, 206)
      assert.strictEqual(response.headers["content-range"], "bytes 900-1999/5000")
      assert.deepStrictEqual(response.body, expected(17, 900, 1100))
      const nearStart = yield* promise(() => httpGet(url, { headers: { range: "bytes=50-" } }))
      assert.strictEqual(nearStart.headers["content-range"], "bytes 0-4999/5000")
      const plain = yield* promise(() => httpGet(url))
      assert.strictEqual(plain.status, 200)
    }))

  it.effect("range_200=1 answers a range with 200, a Content-Range and the full body", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const response = yield* promise(() =>
        httpGet(urlFor("/files/r200.bin?size=5000&seed=18&range_200=1"), { headers: { range: "bytes=1000-" } })
      )
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers["content-range"], "bytes 1000-4999/5000")
      assert.strictEqual(response.headers["content-length"], "5000")
      assert.deepStrictEqual(response.body, expected(18, 0, 5000))
    }))

  it.effect("range_short=N labels a 206 N bytes short of the range asked and sends zeros to its end", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/rshort.bin?size=5000&seed=21&range_short=100")
      const response = yield* promise(() => httpGet(url, { headers: { range: "bytes=1000-1999" } }))
      assert.strictEqual(response.status, 206)
      assert.strictEqual(response.headers["content-range"], "bytes 1000-1899/5000")
      assert.strictEqual(response.headers["content-length"], "1000")
      assert.deepStrictEqual(response.body, Buffer.concat([expected(21, 1000, 900), Buffer.alloc(100)]))
      const plain = yield* promise(() => httpGet(url))
      assert.strictEqual(plain.status, 200)
      assert.deepStrictEqual(plain.body, expected(21, 0, 5000))
    }))

  it.effect("range_no_validators=1 sends 206 answers without ETag or Last-Modified, 200s with both", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/rnv.bin?size=5000&seed=22&range_no_validators=1")
      const ranged = yield* promise(() => httpGet(url, { headers: { range: "bytes=10-19" } }))
      assert.strictEqual(ranged.status, 206)
      assert.isUndefined(ranged.headers.etag)
      assert.isUndefined(ranged.headers["last-modified"])
      assert.deepStrictEqual(ranged.body, expected(22, 10, 10))
      const plain = yield* promise(() => httpGet(url))
      assert.isDefined(plain.headers.etag)
      assert.isDefined(plain.headers["last-modified"])
    }))

  it.effect("get_length=N makes a GET announce Content-Length N, send the real body and close; HEAD tells the truth", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      const raw = yield* promise(() => rawGet(port, "/files/glen.bin?size=3000&seed=23&get_length=9007199254740991"))
      assert.strictEqual(rawHeader(raw.head, "content-length"), "9007199254740991")
      assert.deepStrictEqual(raw.body, expected(23, 0, 3000))
      const head = yield* promise(() => httpGet(urlFor("/files/glen.bin?size=3000&get_length=10"), { method: "HEAD" }))
      assert.strictEqual(head.headers["content-length"], "3000")
      const ranged = yield* promise(() =>
        httpGet(urlFor("/files/glen.bin?size=3000&seed=23&get_length=10"), { headers: { range: "bytes=0-9" } })
      )
      assert.strictEqual(ranged.status, 206)
      assert.strictEqual(ranged.headers["content-length"], "10")
    }))

  it.effect("range_max=N caps a 206 at N bytes, honestly labelled; range_total_unknown=1 gives its total as *; head_no_etag=1 drops HEAD's ETag", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/rmax.bin?size=5000&seed=24&range_max=300&range_total_unknown=1&head_no_etag=1")
      const ranged = yield* promise(() => httpGet(url, { headers: { range: "bytes=1000-" } }))
      assert.strictEqual(ranged.status, 206)
      assert.strictEqual(ranged.headers["content-range"], "bytes 1000-1299/*")
      assert.deepStrictEqual(ranged.body, expected(24, 1000, 300))
      const past = yield* promise(() => httpGet(url, { headers: { range: "bytes=5000-" } }))
      assert.strictEqual(past.status, 416)
      assert.strictEqual(past.headers["content-range"], "bytes */5000")
      const head = yield* promise(() => httpGet(url, { method: "HEAD" }))
      assert.isUndefined(head.headers.etag)
      assert.isDefined(head.headers["last-modified"])
      assert.isDefined(ranged.headers.etag)
    }))

  it.effect("filename=NAME sets Content-Disposition, escaped, with filename* for non-ASCII", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const disposition = (filename: string) =>
        promise(() => httpGet(urlFor(`/files/named.bin?size=10&filename=${encodeURIComponent(filename)}`))).pipe(
          Effect.map((response) => response.headers["content-disposition"])
        )
      assert.strictEqual(yield* disposition("report.pdf"), "attachment; filename=\"report.pdf\"")
      assert.strictEqual(yield* disposition("../../etc/passwd"), "attachment; filename=\"../../etc/passwd\"")
      assert.strictEqual(yield* disposition("a\"b\\c.txt"), "attachment; filename=\"a\\\"b\\\\c.txt\"")
      assert.strictEqual(
        yield* disposition("résumé €.pdf"),
        "attachment; filename=\"r_sum_ _.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
      )
      assert.strictEqual(
        yield* disposition("it's (1)*.txt\t"),
        "attachment; filename=\"it's (1)*.txt_\"; filename*=UTF-8''it%27s%20%281%29%2A.txt%09"
      )
      assert.strictEqual(yield* disposition(""), "attachment; filename=\"\"")
      for (const hostile of ["a\r\nSet-Cookie: x=1", "a\nb", "a\u0000b"]) {
        const response = yield* promise(() =>
          httpGet(urlFor(`/files/named.bin?filename=${encodeURIComponent(hostile)}`))
        )
        assert.strictEqual(response.status, 400)
        assert.isUndefined(response.headers["set-cookie"])
        assert.include(JSON.parse(response.body.toString()).message, "filename")
      }
    }))

  it.effect("short_by=N announces the full length, sends N bytes less and closes", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      const raw = yield* promise(() => rawGet(port, "/files/short.bin?size=100000&seed=19&short_by=10"))
      assert.strictEqual(rawHeader(raw.head, "content-length"), "100000")
      assert.deepStrictEqual(raw.body, expected(19, 0, 99_990))
      const viaHttp = yield* promise(() => httpGet(urlFor("/files/short.bin?size=100000&seed=19&short_by=10")))
      assert.isFalse(viaHttp.complete)
      assert.isDefined(viaHttp.error)
      const ranged = yield* promise(() =>
        rawGet(port, "/files/short.bin?size=100000&seed=19&short_by=10", { range: "bytes=0-99" })
      )
      assert.strictEqual(rawHeader(ranged.head, "content-length"), "100")
      assert.deepStrictEqual(ranged.body, expected(19, 0, 90))
    }))

  it.effect("long_by=N announces N bytes less than it writes; Node sends them all, then closes", () =>
    Effect.gen(function*() {
      const { port, urlFor } = yield* server
      // The client asks to keep the connection; the server closes it anyway after the excess.
      const raw = yield* promise(() =>
        rawGet(port, "/files/long.bin?size=10000&seed=20&long_by=100", { connection: "keep-alive" })
      )
      assert.strictEqual(rawHeader(raw.head, "content-length"), "9900")
      assert.strictEqual(rawHeader(raw.head, "connection"), "close")
      assert.deepStrictEqual(raw.body, expected(20, 0, 10_000))
      const viaFetch = yield* promise(() => fetch(urlFor("/files/long.bin?size=10000&seed=20&long_by=100")))
      const body = Buffer.from(yield* promise(() => viaFetch.arrayBuffer()))
      assert.deepStrictEqual(body, expected(20, 0, 9900))
    }))

  it.effect("gzip=1 encodes the content; decoded it equals bytesAt", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const url = urlFor("/files/gzip.bin?size=200000&seed=21&gzip=1")
      const response = yield* promise(() => fetch(url))
      const decoded = Buffer.from(yield* promise(() => response.arrayBuffer()))
      assert.strictEqual(response.headers.get("content-encoding"), "gzip")
      assert.deepStrictEqual(decoded, expected(21, 0, 200_000))
      const raw = yield* promise(() => httpGet(url, { headers: { range: "bytes=0-99" } }))
      assert.strictEqual(raw.status, 200)
      assert.isUndefined(raw.headers["content-length"])
      assert.strictEqual(raw.headers["accept-ranges"], "none")
      assert.deepStrictEqual(Zlib.gunzipSync(raw.body), expected(21, 0, 200_000))
      const identity = yield* promise(() => httpGet(urlFor("/files/gzip.bin?size=200000&seed=21"), { method: "HEAD" }))
      assert.notStrictEqual(raw.headers.etag, identity.headers.etag)
    }))

  it.effect("bomb=N is a small gzip body that inflates to N zeros", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const gib = 2 ** 30
      const big = yield* promise(() => httpGet(urlFor(`/files/bomb.bin?bomb=${gib}`)))
      assert.strictEqual(big.headers["content-encoding"], "gzip")
      assert.strictEqual(big.headers["content-length"], String(Content.gzipBombLength(gib)))
      assert.strictEqual(big.body.length, Content.gzipBombLength(gib))
      assert.isBelow(big.body.length, 1_100_000)
      assert.deepStrictEqual(big.body, Buffer.concat([...Content.gzipBomb(gib)]))
      // Inflate a 64 MiB one in a stream, counting instead of keeping.
      const n = 64 * 1024 * 1024 + 7
      const small = yield* promise(() => httpGet(urlFor(`/files/bomb.bin?bomb=${n}`)))
      const inflated = yield* promise(() =>
        new Promise<{ bytes: number; zeros: boolean }>((resolve, reject) => {
          const gunzip = Zlib.createGunzip()
          let bytes = 0
          let zeros = true
          gunzip.on("data", (chunk: Buffer) => {
            bytes += chunk.length
            zeros &&= chunk.every((byte) => byte === 0)
          })
          gunzip.on("end", () => resolve({ bytes, zeros }))
          gunzip.on("error", reject)
          gunzip.end(small.body)
        })
      )
      assert.deepStrictEqual(inflated, { bytes: n, zeros: true })
    }))

  it.effect("answers 400 naming the parameter on bad values and contradictory switches", () =>
    Effect.gen(function*() {
      const { urlFor } = yield* server
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["size=-1", "size"],
        ["size=abc", "size"],
        ["size=1.5", "size"],
        ["seed=4294967296", "seed"],
        ["ignore_range=2", "ignore_range"],
        ["chunked=yes", "chunked"],
        ["drop_after=-5", "drop_after"],
        ["drop_times=2", "drop_times"],
        ["drop_after=1&drop_times=0", "drop_times"],
        ["rate=0", "rate"],
        ["mutate=x", "mutate"],
        ["weak_etag=3", "weak_etag"],
        ["range_early=x", "range_early"],
        ["range_200=1&ignore_range=1", "range_200"],
        ["range_short=1&range_early=1", "range_short"],
        ["range_no_validators=2", "range_no_validators"],
        ["get_length=-1", "get_length"],
        ["get_length=10&chunked=1", "get_length"],
        ["range_max=0", "range_max"],
        ["range_total_unknown=2", "range_total_unknown"],
        ["head_no_etag=x", "head_no_etag"],
        ["short_by=x", "short_by"],
        ["short_by=1&long_by=1", "long_by"],
        ["long_by=1&chunked=1", "long_by"],
        ["long_by=1&gzip=1", "long_by"],
        ["short_by=1&gzip=1", "short_by"],
        ["gzip=on", "gzip"],
        ["bomb=-1", "bomb"],
        ["no_etag=2", "no_etag"],
        ["no_last_modified=2", "no_last_modified"],
        [`filename=${"a".repeat(1025)}`, "filename"]
      ]
      for (const [search, parameter] of cases) {
        const response = yield* promise(() => httpGet(urlFor(`/files/bad.bin?${search}`)))
        assert.strictEqual(response.status, 400, search)
        const body = JSON.parse(response.body.toString()) as { error: string; message: string }
        assert.strictEqual(body.error, "bad_request")
        assert.include(body.message, parameter, search)
      }
    }))
})

describe("the per-file hit counters", () => {
  plainIt(`keep at most ${maxHitKeys} names, forgetting the one hit longest ago`, () => {
    const state = new ServerState()
    assert.strictEqual(state.hit("files/first"), 1)
    assert.strictEqual(state.hit("files/kept"), 1)
    for (let i = 0; i < maxHitKeys; i++) {
      state.hit(`files/${i}`)
      // Hit again now and then: a name in use is not the one forgotten.
      if (i % 1000 === 0) assert.strictEqual(state.hit("files/kept"), 2 + i / 1000)
    }
    assert.strictEqual(state.hits.size, maxHitKeys)
    assert.isFalse(state.hits.has("files/first"))
    assert.isTrue(state.hits.has("files/kept"))
    assert.strictEqual(state.hit("files/first"), 1)
    assert.strictEqual(state.hits.size, maxHitKeys)
  })
})

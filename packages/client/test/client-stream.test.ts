import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Stream } from "effect"
import * as ResilientClient from "../src/ResilientClient.ts"

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Array.from(chunks)))

it.live("stream reads a whole file, and a byte range as a 206, in constant memory chunks", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url })
    const whole = yield* collect(client.stream("/files/s.bin?size=300000&seed=3"))
    assert.strictEqual(whole.length, 300_000)
    assert.strictEqual(Content.digest(3, 0, 300_000), yield* Effect.promise(() => sha256(whole)))

    const part = yield* collect(client.stream("/files/s.bin?size=300000&seed=3", { range: { start: 1000, end: 1999 } }))
    assert.deepStrictEqual(new Uint8Array(part), Content.bytesAt(3, 1000, 1000))
    const tail = yield* collect(client.stream("/files/s.bin?size=300000&seed=3", { range: { start: 299_990 } }))
    assert.deepStrictEqual(new Uint8Array(tail), Content.bytesAt(3, 299_990, 10))
    const ranges = (yield* server.requests).map((request) => request.headers["range"]).filter(Boolean)
    assert.deepStrictEqual(ranges, ["bytes=1000-1999", "bytes=299990-"])
  }).pipe(Effect.scoped))

it.live("an unsatisfiable range fails with a typed error, and a stream cut mid-way fails rather than ending", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url, retry: { maxAttempts: 1 } })
    const unsatisfiable = yield* Effect.flip(collect(client.stream("/files/u.bin?size=100", { range: { start: 500 } })))
    assert.strictEqual((unsatisfiable as { _tag: string; status: number })._tag, "ClientStatusError")
    assert.strictEqual((unsatisfiable as { status: number }).status, 416)
    const cut = yield* Effect.flip(collect(client.stream("/files/c.bin?size=200000&drop_after=50000")))
    assert.strictEqual((cut as { _tag: string })._tag, "ConnectionError")
  }).pipe(Effect.scoped))

it.live("with a range, a 200 (Range ignored) or a 206 from another byte fails with DecodeError, one request each", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url, retry: { maxAttempts: 3 } })
    for (const switches of ["ignore_range=1", "range_early=3", "range_200=1"]) {
      yield* server.reset
      const path = `/files/r.bin?size=1000&${switches}`
      const error = yield* Effect.flip(collect(client.stream(path, { range: { start: 500, end: 599 } })))
      assert.strictEqual((error as { _tag: string })._tag, "DecodeError", switches)
      assert.isFalse((error as { retryable: boolean }).retryable, switches)
      assert.include((error as { issue: string }).issue, "from 500", switches)
      assert.lengthOf(yield* server.requestsTo("/files/r.bin"), 1, switches)
    }
  }).pipe(Effect.scoped))

it.live("with a range, a 206 whose Content-Range ends early but whose body runs on (Content-Length or chunked) fails with DecodeError, not with the wrong bytes", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url, retry: { maxAttempts: 3 } })
    const cases = [
      ["range_short=10", "bytes 100-189 (90 bytes) but its Content-Length is 100"],
      ["range_short=10&chunked=1", "holds more than the 90 bytes of its Content-Range"]
    ] as const
    for (const [switches, issue] of cases) {
      yield* server.reset
      const error = yield* Effect.flip(
        collect(client.stream(`/files/r.bin?size=1000&${switches}`, { range: { start: 100, end: 199 } }))
      )
      assert.strictEqual((error as { _tag: string })._tag, "DecodeError", switches)
      assert.include((error as { issue: string }).issue, issue, switches)
      assert.lengthOf(yield* server.requestsTo("/files/r.bin"), 1, switches)
    }
  }).pipe(Effect.scoped))

it.live("an invalid range (NaN, negative, fractional, end before start) is InvalidRequestError, nothing sent", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url })
    const ranges = [{ start: Number.NaN }, { start: -5 }, { start: 1.5 }, { start: 5, end: 2 }, {
      start: 0,
      end: Infinity
    }]
    for (const range of ranges) {
      const error = yield* Effect.flip(collect(client.stream("/files/v.bin?size=100", { range })))
      assert.strictEqual((error as { _tag: string })._tag, "InvalidRequestError", JSON.stringify(range))
    }
    assert.deepStrictEqual(yield* server.requests, [])
  }).pipe(Effect.scoped))

const sha256 = async (bytes: Uint8Array): Promise<string> => {
  const { createHash } = await import("node:crypto")
  return createHash("sha256").update(bytes).digest("hex")
}

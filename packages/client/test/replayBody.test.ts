/**
 * A request body is never resent empty (RELIABILITY 20): a body that can be
 * read only once is refused a retry or a 307/308 resend with
 * `BodyNotReplayableError`, unless the caller gives a factory, over real
 * sockets against the fault-injection server, which echoes what it received.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { assert, describe, it, layer } from "@effect/vitest"
import { ServerControl, TestServer } from "@httpkit/testing"
import { Effect, Schema, Stream } from "effect"
import { HttpBody } from "effect/http"
import { Readable } from "node:stream"
import type { ClientError } from "../src/ClientError.ts"
import * as ReplayBody from "../src/internal/replayBody.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

const upload = "every byte of this upload must reach the server"

/** A stream body over a Node stream: it yields its bytes once, and nothing when run again. */
const oneShot = () =>
  HttpBody.stream(
    NodeStream.fromReadable({ evaluate: () => Readable.from([Buffer.from(upload)]), onError: (error) => error }),
    "text/plain"
  )

const makeClient = (options: ResilientClient.Options = {}) =>
  ResilientClient.make({
    ...options,
    retry: { minDelay: 10, maxDelay: 20, jitter: false, ...options.retry },
    circuitBreaker: { enabled: false }
  })

/** Arms the server: its next request to `/msg` is answered 503 (the control request goes unrecorded by tests). */
const failNext = (server: TestServer.TestServer["Service"]) =>
  ServerControl.make(server.url).failNext(1, { status: 503 })

const Message = Schema.Struct({ body: Schema.Unknown })
const Echo = Schema.Struct({ method: Schema.String, body: Schema.String })

const assertNotReplayable = (
  error: ClientError,
  expected: { readonly reason: "retry" | "redirect"; readonly status: number; readonly after: string }
) => {
  assert.strictEqual(error._tag, "BodyNotReplayableError", `got ${error._tag}: ${error.message}`)
  if (error._tag !== "BodyNotReplayableError") return
  assert.strictEqual(error.reason, expected.reason)
  assert.strictEqual(error.status, expected.status)
  assert.strictEqual(error.after, expected.after)
  assert.isFalse(error.retryable)
}

layer(TestServer.layer(), { excludeTestServices: true })("request bodies on a resend, over sockets", (it) => {
  it.effect("a one-shot stream POST answered 503 is not retried empty: BodyNotReplayableError with 503, one request", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      yield* failNext(server)
      const client = yield* makeClient()
      const error = yield* Effect.flip(client.post(server.urlFor("/msg"), { body: oneShot(), idempotencyKey: true }))
      assertNotReplayable(error, { reason: "retry", status: 503, after: "ServiceUnavailableError" })
      assert.lengthOf(yield* server.requestsTo("/msg"), 1, "nothing was sent again")
    }))

  it.effect("a one-shot stream PUT answered 503 is not retried empty either", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const client = yield* makeClient({ retry: { maxAttempts: 3 } })
      const error = yield* Effect.flip(client.put(server.urlFor("/status/503"), { body: oneShot() }))
      assertNotReplayable(error, { reason: "retry", status: 503, after: "ServiceUnavailableError" })
      assert.lengthOf(yield* server.requestsTo("/status/503"), 1)
    }))

  it.effect("a body factory makes a fresh stream for the retry: the server stores the whole upload", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      yield* failNext(server)
      const client = yield* makeClient()
      let made = 0
      const response = yield* client.post(server.urlFor("/msg"), {
        body: () => {
          made++
          return oneShot()
        },
        idempotencyKey: true
      })
      const { body } = yield* Schema.decodeUnknownEffect(Message)(yield* response.json)
      assert.strictEqual(body, upload)
      assert.strictEqual(response.attempt, 2)
      assert.strictEqual(made, 2)
      assert.lengthOf(yield* server.requestsTo("/msg"), 2)
    }))

  it.effect("a body factory that throws or makes no body, or a body that is no HttpBody, is InvalidRequestError before anything is sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const client = yield* makeClient()
      const bodies: ReadonlyArray<readonly [unknown, string]> = [
        [() => {
          throw new TypeError("boom with a s3cr3t")
        }, "the body factory threw TypeError"],
        [() => undefined, "the body factory returned undefined, not an HttpBody"],
        ["plain text", "body is string, expected an HttpBody or a function making one"]
      ]
      for (const [body, detail] of bodies) {
        const error = yield* Effect.flip(client.put(server.urlFor("/echo"), { body: body as HttpBody.HttpBody }))
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.include(error.message, detail)
        assert.notInclude(error.message, "s3cr3t")
      }
      assert.lengthOf(yield* server.requestsTo("/echo"), 0)
    }))

  it.effect("a one-shot stream POST redirected by 307 is not followed empty: BodyNotReplayableError with 307", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const client = yield* makeClient()
      const error = yield* Effect.flip(
        client.post(server.urlFor("/redirect/1?status=307&to=/echo"), { body: oneShot() })
      )
      assertNotReplayable(error, { reason: "redirect", status: 307, after: "RedirectError" })
      assert.lengthOf(yield* server.requestsTo("/echo"), 0, "the redirect was not followed")
    }))

  it.effect("a 308 with a body factory is followed with the whole body", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const client = yield* makeClient()
      const response = yield* client.post(server.urlFor("/redirect/1?status=308&to=/echo"), { body: oneShot })
      const echo = yield* Schema.decodeUnknownEffect(Echo)(yield* response.json)
      assert.strictEqual(echo.method, "POST")
      assert.strictEqual(echo.body, upload)
    }))

  it.effect("a body of bytes is replayed as before: retried after a 503 with every byte", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      yield* failNext(server)
      const client = yield* makeClient()
      const response = yield* client.post(server.urlFor("/msg"), {
        body: HttpBody.text(upload),
        idempotencyKey: true
      })
      const { body } = yield* Schema.decodeUnknownEffect(Message)(yield* response.json)
      assert.strictEqual(body, upload)
      assert.strictEqual(response.attempt, 2)
    }))
})

describe("ReplayBody", () => {
  it.effect("a stream nobody read can be sent again; once read, it cannot", () =>
    Effect.gen(function*() {
      const made = ReplayBody.make(oneShot())
      assert.isTrue(ReplayBody.isSource(made))
      if (!ReplayBody.isSource(made)) return
      const first = made.next()
      assert.isTrue(made.replayable(), "handed to a send that failed before reading it")
      if (first._tag !== "Stream") return assert.fail("a stream body stays a stream")
      yield* Stream.runDrain(first.stream)
      assert.isFalse(made.replayable())
    }))

  it.effect("a raw Node stream cannot be sent again once handed to a send; bytes and text always can", () =>
    Effect.sync(() => {
      const raw = ReplayBody.make(HttpBody.raw(Readable.from(["x"])))
      assert.isTrue(ReplayBody.isSource(raw))
      if (ReplayBody.isSource(raw)) {
        raw.next()
        assert.isFalse(raw.replayable())
      }
      assert.isFalse(ReplayBody.isSource(ReplayBody.make(HttpBody.text("x"))))
      assert.isFalse(ReplayBody.isSource(ReplayBody.make(HttpBody.raw("x"))))
      assert.isFalse(ReplayBody.isSource(ReplayBody.make(HttpBody.uint8Array(new Uint8Array([1])))))
    }))
})

import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import type { TLSSocket } from "node:tls"
import * as TestServer from "../src/TestServer.ts"
import * as TlsTest from "../src/TlsTest.ts"

const h2Get = (url: string, ca: string) =>
  Effect.callback<{ status: number; body: string }, Error>((resume) => {
    const session = Http2.connect(url, { ca })
    session.on("error", (error) => resume(Effect.fail(error)))
    const stream = session.request({ ":path": "/health" })
    let status = 0
    let body = ""
    stream.on("response", (headers) => (status = Number(headers[":status"])))
    stream.on("data", (chunk: Buffer) => (body += chunk.toString()))
    stream.on("end", () => {
      session.close()
      resume(Effect.succeed({ status, body }))
    })
    stream.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => session.destroy())
  })

const h1Get = (url: string, ca: string) =>
  Effect.callback<{ status: number; alpn: string | false | null }, Error>((resume) => {
    const request = Https.get(
      `${url}/health`,
      { ca, ALPNProtocols: ["http/1.1"] } as Https.RequestOptions,
      (response) => {
        const alpn = (response.socket as TLSSocket).alpnProtocol
        response.resume()
        response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, alpn })))
      }
    )
    request.on("error", (error) => resume(Effect.fail(error)))
  })

it.effect(
  "with tls, the server negotiates HTTP/2 by ALPN and still serves HTTP/1.1 clients",
  () =>
    Effect.gen(function*() {
      const certificate = yield* TlsTest.selfSigned()
      assert.include(certificate.cert, "BEGIN CERTIFICATE")
      const server = yield* TestServer.make({ tls: certificate })
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)

      const h2 = yield* h2Get(server.url, certificate.cert)
      assert.strictEqual(h2.status, 200)
      assert.deepStrictEqual(JSON.parse(h2.body), { status: "ok" })

      const h1 = yield* h1Get(server.url, certificate.cert)
      assert.strictEqual(h1.status, 200)
      assert.strictEqual(h1.alpn, "http/1.1")

      const versions = (yield* server.requests).map((request) => request.httpVersion)
      assert.deepStrictEqual(versions, ["2.0", "1.1"])
    }).pipe(Effect.scoped),
  30_000
)

it.effect("a client that does not trust the certificate is refused", () =>
  Effect.gen(function*() {
    const certificate = yield* TlsTest.selfSigned()
    const other = yield* TlsTest.selfSigned()
    const server = yield* TestServer.make({ tls: certificate })
    const error = yield* Effect.flip(h1Get(server.url, other.cert))
    assert.match(error.message, /self.signed|unable to verify|certificate/i)
    assert.strictEqual((yield* server.requests).length, 0)
  }).pipe(Effect.scoped), 30_000)

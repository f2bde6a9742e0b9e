/**
 * Redirect safety of `ResilientClient` (RELIABILITY 6, 7, 10, 13), over real
 * sockets: what the fault-injection servers saw is the truth, not what the
 * client believes it sent.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ClientStatusError, RedirectError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer, TlsTest } from "@httpkit/testing"
import { Effect } from "effect"
import { type Echo, failsWith, noRetry } from "./support.ts"

type Server = TestServer.TestServer["Service"]

const paths = (server: Server) => Effect.map(server.requests, (requests) => requests.map((request) => request.path))

const redirectTo = (server: Server, target: string, status = 302) =>
  server.urlFor(`/redirect-to?url=${encodeURIComponent(target)}&status=${status}`)

/** Headers that must never cross an origin, with the client configured to treat `x-tenant-secret` as secret. */
const credentials = {
  authorization: "Bearer secret-token",
  cookie: "session=secret-cookie",
  "proxy-authorization": "Basic c2VjcmV0",
  "x-api-key": "secret-api-key",
  "x-tenant-secret": "secret-tenant",
  // Not listed anywhere: secret by their form (`Redact.secretHeaderPattern`).
  "x-goog-api-key": "secret-goog",
  "private-token": "secret-gitlab",
  "ocp-apim-subscription-key": "secret-azure",
  apikey: "secret-supabase",
  "x-access-token": "secret-access"
} as const
const secretNames = Object.keys(credentials)

describe("following redirects", () => {
  it.live("/redirect/3 is followed to /echo", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const response = yield* client.get(server.urlFor("/redirect/3"))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.url.href, server.urlFor("/echo"))
      assert.strictEqual(((yield* response.json) as Echo).path, "/echo")
      assert.deepStrictEqual(yield* paths(server), ["/redirect/3", "/redirect/2", "/redirect/1", "/echo"])
      // Every hop carries the same request id.
      const ids = new Set((yield* server.requests).map((request) => request.headers["x-request-id"]))
      assert.strictEqual(ids.size, 1)
      assert.isTrue(ids.has(response.requestId))
    }).pipe(Effect.scoped))

  it.live("absolute and relative Locations, and maxHops exactly reached, are followed", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, redirects: { maxHops: 3 } })
      const absolute = yield* client.get(server.urlFor("/redirect/3?absolute=1&status=301"))
      assert.strictEqual(absolute.url.pathname, "/echo")
      const relative = yield* client.get(server.urlFor(`/redirect-to?url=${encodeURIComponent("echo?x=1")}`))
      assert.strictEqual(relative.url.href, server.urlFor("/echo?x=1"))
    }).pipe(Effect.scoped))

  it.live("more than maxHops fails with RedirectError too-many, and the next hop is never requested", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, redirects: { maxHops: 2 } })
      const error = (yield* failsWith(client.get(server.urlFor("/redirect/3")), "RedirectError")) as RedirectError
      assert.strictEqual(error.reason, "too-many")
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(yield* paths(server), ["/redirect/3", "/redirect/2", "/redirect/1"])

      // A loop stops at the default of 10 hops: 11 requests.
      yield* server.reset
      const loop = yield* ResilientClient.make({ retry: noRetry })
      const looped = (yield* failsWith(loop.get(server.urlFor("/redirect/loop")), "RedirectError")) as RedirectError
      assert.strictEqual(looped.reason, "too-many")
      assert.strictEqual((yield* server.requestsTo("/redirect/loop")).length, 11)

      // maxHops 0: no redirect is followed.
      yield* server.reset
      const none = yield* ResilientClient.make({ retry: noRetry, redirects: { maxHops: 0 } })
      const refused = (yield* failsWith(none.get(server.urlFor("/redirect/1")), "RedirectError")) as RedirectError
      assert.strictEqual(refused.reason, "too-many")
      assert.deepStrictEqual(yield* paths(server), ["/redirect/1"])
    }).pipe(Effect.scoped))
})

describe("method and body across redirects", () => {
  const body = { order: 42, note: "keep me" }

  const post = (status: number, method = "POST") =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const response = yield* client.request(method, server.urlFor(`/redirect/1?status=${status}`), { json: body })
      const echo = (yield* response.json) as Echo
      const [first, second] = yield* server.requests
      assert.strictEqual(first!.method, method)
      assert.strictEqual(second!.path, "/echo")
      return { echo, followed: second! }
    }).pipe(Effect.scoped)

  it.live("303 turns POST into GET without body or body headers", () =>
    Effect.gen(function*() {
      const { echo, followed } = yield* post(303)
      assert.strictEqual(echo.method, "GET")
      assert.strictEqual(echo.body, "")
      assert.isUndefined(followed.headers["content-type"])
      assert.isUndefined(followed.headers["content-length"])
      assert.isUndefined(followed.headers["transfer-encoding"])
    }))

  it.live("303 turns PUT into GET too", () =>
    Effect.gen(function*() {
      const { echo } = yield* post(303, "PUT")
      assert.strictEqual(echo.method, "GET")
      assert.strictEqual(echo.body, "")
    }))

  it.live("303 keeps HEAD as HEAD", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const response = yield* client.head(server.urlFor("/redirect/1?status=303"))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual((yield* server.requests).map((request) => request.method), ["HEAD", "HEAD"])
    }).pipe(Effect.scoped))

  for (const status of [307, 308]) {
    it.live(`${status} keeps the method and the body`, () =>
      Effect.gen(function*() {
        const { echo, followed } = yield* post(status)
        assert.strictEqual(echo.method, "POST")
        assert.deepStrictEqual(JSON.parse(echo.body), body)
        assert.strictEqual(followed.headers["content-type"], "application/json")
        const put = yield* post(status, "PUT")
        assert.strictEqual(put.echo.method, "PUT")
        assert.deepStrictEqual(JSON.parse(put.echo.body), body)
      }))
  }

  for (const status of [301, 302]) {
    it.live(`${status} turns POST into GET without body, and keeps PUT with its body`, () =>
      Effect.gen(function*() {
        const { echo, followed } = yield* post(status)
        assert.strictEqual(echo.method, "GET")
        assert.strictEqual(echo.body, "")
        assert.isUndefined(followed.headers["content-type"])
        const put = yield* post(status, "PUT")
        assert.strictEqual(put.echo.method, "PUT")
        assert.deepStrictEqual(JSON.parse(put.echo.body), body)
      }))
  }
})

describe("credentials never cross an origin (RELIABILITY 6)", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it.live(`a cross-origin ${status} drops authorization, cookie, proxy-authorization, x-api-key, headers of a secret's form (x-goog-api-key, private-token...) and secretHeaders`, () =>
      Effect.gen(function*() {
        const first = yield* TestServer.make()
        const second = yield* TestServer.make()
        const client = yield* ResilientClient.make({ retry: noRetry, secretHeaders: ["X-Tenant-Secret"] })
        const method = status === 307 || status === 308 ? "POST" : "GET"
        const response = yield* client.request(method, redirectTo(first, second.urlFor("/echo"), status), {
          headers: { ...credentials, "x-trace-me": "kept", "idempotency-key": "kept-key" },
          ...(method === "POST" ? { json: { a: 1 } } : {})
        })
        assert.strictEqual(response.url.origin, second.url)

        // The first origin got everything.
        const [sent] = yield* first.requests
        for (const name of secretNames) {
          assert.strictEqual(sent!.headers[name], credentials[name as keyof typeof credentials])
        }

        // The second origin got none of the secrets, and the rest as usual.
        const received = yield* second.requestsTo("/echo")
        assert.strictEqual(received.length, 1)
        const headers = received[0]!.headers
        for (const name of secretNames) assert.isUndefined(headers[name], `${name} crossed to another origin`)
        const everything = JSON.stringify(received[0])
        for (const value of Object.values(credentials)) assert.notInclude(everything, value)
        assert.strictEqual(headers["x-trace-me"], "kept")
        assert.strictEqual(headers["idempotency-key"], "kept-key")
        assert.strictEqual(received[0]!.method, method)
      }).pipe(Effect.scoped))
  }

  it.live("a same-origin redirect keeps them", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, secretHeaders: ["x-tenant-secret"] })
      for (const status of [301, 302, 303, 307, 308]) {
        yield* server.reset
        yield* client.get(redirectTo(server, server.urlFor("/echo"), status), { headers: credentials })
        const received = yield* server.requestsTo("/echo")
        assert.strictEqual(received.length, 1)
        for (const name of secretNames) {
          assert.strictEqual(
            received[0]!.headers[name],
            credentials[name as keyof typeof credentials],
            `${status} ${name}`
          )
        }
      }
    }).pipe(Effect.scoped))

  it.live("once dropped, credentials stay dropped when a chain comes back to the first origin", () =>
    Effect.gen(function*() {
      const first = yield* TestServer.make()
      const second = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, secretHeaders: ["x-tenant-secret"] })
      const back = redirectTo(second, first.urlFor("/echo"), 307)
      const response = yield* client.get(redirectTo(first, back, 307), { headers: credentials })
      assert.strictEqual(response.url.href, first.urlFor("/echo"))
      const [echo] = yield* first.requestsTo("/echo")
      for (const name of secretNames) assert.isUndefined(echo!.headers[name], `${name} came back`)
    }).pipe(Effect.scoped))
})

describe("refused targets (RELIABILITY 7)", () => {
  for (
    const target of [
      "file:///etc/passwd",
      "data:text/plain;base64,aGVsbG8=",
      "javascript:alert(1)",
      "ftp://127.0.0.1/x",
      "gopher://127.0.0.1:70/x"
    ]
  ) {
    it.live(`a redirect to ${target.split(":")[0]}: fails with RedirectError scheme, nothing else requested`, () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = yield* ResilientClient.make({ redirects: { maxHops: 5 } })
        const error = (yield* failsWith(client.get(redirectTo(server, target)), "RedirectError")) as RedirectError
        assert.strictEqual(error.reason, "scheme")
        assert.isFalse(error.retryable)
        // Not retried, nothing else requested.
        assert.deepStrictEqual(yield* paths(server), ["/redirect-to"])
        // The refused Location is reported by its scheme only.
        assert.isTrue(error.location.startsWith(`${target.split(":")[0]}:`), error.location)
        assert.notInclude(error.location, target.slice(target.indexOf(":") + 4))
      }).pipe(Effect.scoped))
  }

  it.live(
    "https to http is refused (downgrade) unless allowDowngrade, which still drops credentials",
    () =>
      Effect.gen(function*() {
        const certificate = yield* TlsTest.selfSigned()
        const secure = yield* TestServer.make({ tls: certificate })
        const plain = yield* TestServer.make()
        const strict = yield* ResilientClient.make({ retry: noRetry, tls: { ca: certificate.cert } })
        const error = (yield* failsWith(
          strict.get(redirectTo(secure, plain.urlFor("/echo"), 307), { headers: credentials }),
          "RedirectError"
        )) as RedirectError
        assert.strictEqual(error.reason, "downgrade")
        assert.strictEqual((yield* plain.requests).length, 0)
        assert.strictEqual((yield* secure.requests).length, 1)

        const lenient = yield* ResilientClient.make({
          retry: noRetry,
          tls: { ca: certificate.cert },
          redirects: { allowDowngrade: true },
          secretHeaders: ["x-tenant-secret"]
        })
        const response = yield* lenient.get(redirectTo(secure, plain.urlFor("/echo"), 307), { headers: credentials })
        assert.strictEqual(response.url.protocol, "http:")
        const [echo] = yield* plain.requestsTo("/echo")
        for (const name of secretNames) assert.isUndefined(echo!.headers[name], `${name} crossed to http`)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("a Location with CR, LF or NUL is never followed and injects nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const to = encodeURIComponent(server.urlFor("/echo"))
      const inject = encodeURIComponent("X-Injected: 1")
      for (const form of ["cr", "lf", "nul"]) {
        yield* server.reset
        // The transport refuses the malformed head (or the client refuses the Location): a typed error either way.
        const error = yield* Effect.flip(
          client.get(`${server.rawUrl}/location-crlf?form=${form}&to=${to}&inject=${inject}`)
        )
        assert.include(["RedirectError", "ConnectionError"], error._tag, `${form}: ${String(error)}`)
        const seen = yield* server.requests
        assert.deepStrictEqual(seen.map((request) => request.listener), ["raw"], form)
      }
      // CR LF ends the header on the wire: the Location is `to` and the rest is another response header.
      // The followed request is exactly `to`, with no header taken from the response.
      yield* server.reset
      const response = yield* client.get(`${server.rawUrl}/location-crlf?form=crlf&to=${to}&inject=${inject}`)
      assert.strictEqual(response.url.href, server.urlFor("/echo"))
      const [echo] = yield* server.requestsTo("/echo")
      assert.strictEqual(echo!.query, "")
      assert.isUndefined(echo!.headers["x-injected"])
    }).pipe(Effect.scoped))

  it.live("a second Location smuggled in by CR LF is not followed", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const other = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const to = encodeURIComponent(server.urlFor("/echo"))
      for (const injected of [`Location: ${other.urlFor("/echo")}`, "Location: file:///etc/passwd"]) {
        yield* server.reset
        const url = `${server.rawUrl}/location-crlf?form=crlf&to=${to}&inject=${encodeURIComponent(injected)}`
        const error = (yield* failsWith(client.get(url), "RedirectError")) as RedirectError
        assert.strictEqual(error.reason, "invalid-location")
        assert.deepStrictEqual((yield* server.requests).map((request) => request.listener), ["raw"])
        assert.strictEqual((yield* other.requests).length, 0)
      }
    }).pipe(Effect.scoped))
})

describe("redirects.follow: false", () => {
  it.live("a 3xx is not accepted by default: ClientStatusError with the status, the target never requested", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ redirects: { follow: false } })
      for (const status of [301, 302, 303, 307, 308]) {
        yield* server.reset
        const error = (yield* failsWith(
          client.get(server.urlFor(`/redirect/1?status=${status}`)),
          "ClientStatusError"
        )) as ClientStatusError
        assert.strictEqual(error.status, status)
        assert.isFalse(error.retryable)
        assert.deepStrictEqual(yield* paths(server), ["/redirect/1"])
      }
    }).pipe(Effect.scoped))

  it.live("with acceptStatus, the 3xx itself is returned with its Location", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ redirects: { follow: false } })
      const response = yield* client.get(server.urlFor("/redirect/1?status=307"), {
        acceptStatus: (status) => status < 400
      })
      assert.strictEqual(response.status, 307)
      assert.strictEqual(response.headers["location"], "/echo")
      assert.strictEqual(response.url.pathname, "/redirect/1")
      assert.deepStrictEqual(yield* paths(server), ["/redirect/1"])
    }).pipe(Effect.scoped))
})

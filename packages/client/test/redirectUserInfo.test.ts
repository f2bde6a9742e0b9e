/**
 * User-info in a redirect's `Location` (`http://bob:pw@host/path`, RELIABILITY
 * 6 and 8). The followed URL never keeps it: it is not sent in the URL, and
 * neither the response's URL, the errors, the log lines nor the spans show
 * it. When the `Location` stays on the origin that sent it, its user-info is
 * sent as `Authorization: Basic`, as a request URL's is, unless the hop
 * already carries an `Authorization` (the call's own, the request URL's
 * user-info, an auth provider's), which wins. To another origin it is
 * dropped: a server cannot make the client authenticate to a third party.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import type { RedirectError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { recordingTracer } from "@httpkit/testing/TracingTest"
import { Effect } from "effect"
import { inspect } from "node:util"
import { decide } from "../src/internal/redirect.ts"
import { captureLogs, type Echo, failsWith, noRetry } from "./support.ts"

const basic = (pair: string) => `Basic ${Buffer.from(pair, "utf8").toString("base64")}`

/** `url` with the user-info `bob:LOC-SECRET:x` (the colon in the password percent-encoded). */
const withLocationUserInfo = (url: string) => {
  const parsed = new URL(url)
  parsed.username = "bob"
  parsed.password = "LOC-SECRET%3Ax"
  return parsed.href
}

/** `server`'s `/redirect-to` a `Location` of `target` (with user-info), answered with `status`. */
const redirectTo = (server: TestServer.TestServer["Service"], target: string, status = 302) =>
  server.urlFor(`/redirect-to?url=${encodeURIComponent(withLocationUserInfo(target))}&status=${status}`)

/** The `Authorization` each request to `path` carried, in order. */
const authorizations = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.map(
    server.requestsTo(path),
    (requests): Array<string | undefined> => requests.map((request) => request.headers["authorization"])
  )

describe("user-info in a redirect's Location", () => {
  it.live("to the same origin: followed without it in the URL, sent as Authorization: Basic bob:LOC-SECRET:x; the response's URL has none", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      for (const status of [302, 307]) {
        const response = yield* client.get(redirectTo(server, server.urlFor(`/echo?status=${status}`), status))
        const echo = (yield* response.json) as Echo
        assert.strictEqual(echo.headers["authorization"], basic("bob:LOC-SECRET:x"))
        assert.strictEqual(echo.path, "/echo")
        assert.strictEqual(echo.query["status"], String(status))
        assert.strictEqual(response.url.username, "")
        assert.strictEqual(response.url.password, "")
        assert.notInclude(response.url.href, "LOC-SECRET")
      }
      // The redirecting request itself carried nothing.
      assert.deepStrictEqual(yield* authorizations(server, "/redirect-to"), [undefined, undefined])
    }).pipe(Effect.scoped))

  it.live("to the same origin, the hop's own Authorization wins: the call's header, the request URL's user-info, an auth provider's", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const target = redirectTo(server, server.urlFor("/echo"))

      yield* client.get(target, { headers: { authorization: "Bearer own-token" } })
      const ownUserInfo = new URL(target)
      ownUserInfo.username = "alice"
      ownUserInfo.password = "alice-pw"
      yield* client.get(ownUserInfo.href)
      const provided = yield* ResilientClient.make({ retry: noRetry }).pipe(
        Effect.provide(Auth.layerBearer("provider-token"))
      )
      yield* provided.get(target)

      assert.deepStrictEqual(yield* authorizations(server, "/echo"), [
        "Bearer own-token",
        basic("alice:alice-pw"),
        "Bearer provider-token"
      ])
    }).pipe(Effect.scoped))

  it.live("to another origin (302 and 307): followed without it, and no Authorization reaches the other origin", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const other = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      for (const status of [302, 307]) {
        const response = yield* client.get(redirectTo(server, other.urlFor("/echo"), status))
        const echo = (yield* response.json) as Echo
        assert.isUndefined(echo.headers["authorization"])
        assert.notInclude(response.url.href, "LOC-SECRET")
        assert.strictEqual(response.url.origin, new URL(other.url).origin)
      }
      // The request URL's own user-info stays with its origin too.
      const own = new URL(redirectTo(server, other.urlFor("/echo")))
      own.username = "alice"
      own.password = "alice-pw"
      yield* client.get(own.href)
      assert.deepStrictEqual(yield* authorizations(other, "/echo"), [undefined, undefined, undefined])
      assert.deepStrictEqual(yield* authorizations(server, "/redirect-to"), [
        undefined,
        undefined,
        basic("alice:alice-pw")
      ])
    }).pipe(Effect.scoped))

  it.live("back to the first origin after another: the first origin's Location user-info is not carried over the hop between", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const other = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      // A -> A (with user-info: Basic to A) -> B -> A: the Basic is dropped at B, and B's Location has none.
      const backToA = other.urlFor(`/redirect-to?url=${encodeURIComponent(server.urlFor("/echo"))}`)
      const viaB = server.urlFor(`/redirect-to?url=${encodeURIComponent(backToA)}`)
      yield* client.get(redirectTo(server, viaB))
      assert.deepStrictEqual(yield* authorizations(server, "/redirect-to"), [undefined, basic("bob:LOC-SECRET:x")])
      assert.deepStrictEqual(yield* authorizations(other, "/redirect-to"), [undefined])
      assert.deepStrictEqual(yield* authorizations(server, "/echo"), [undefined])
    }).pipe(Effect.scoped))

  it.live("never shown: not in a log line, a span attribute, an error (404 after the hop, too many hops) or its JSON", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const other = yield* TestServer.make()
      const { spans, tracer } = recordingTracer()
      const { lines, value: errors } = yield* captureLogs(
        Effect.gen(function*() {
          const client = yield* ResilientClient.make({ retry: noRetry, logging: { level: "info" } })
          yield* client.get(redirectTo(server, server.urlFor("/echo")))
          yield* client.get(redirectTo(server, other.urlFor("/echo")))
          const notFound = yield* failsWith(
            client.get(redirectTo(server, other.urlFor("/status/404"))),
            "NotFoundError"
          )
          const tooMany = (yield* failsWith(
            ResilientClient.make({ retry: noRetry, redirects: { maxHops: 0 } }).pipe(
              Effect.flatMap((strict) => strict.get(redirectTo(server, other.urlFor("/echo"))))
            ),
            "RedirectError"
          )) as RedirectError
          assert.strictEqual(tooMany.reason, "too-many")
          return [notFound, tooMany]
        }).pipe(Effect.withTracer(tracer))
      )
      const attributes = spans.flatMap((span) => [...span.attributes].map(([key, value]) => `${key}=${String(value)}`))
      assert.isAbove(lines.length, 0)
      assert.isAbove(attributes.length, 0)
      const shown = [
        ...lines,
        ...attributes,
        ...errors.flatMap((error) => [error.message, JSON.stringify(error), inspect(error, { depth: 5 })])
      ]
      for (const text of shown) {
        assert.notInclude(text, "LOC-SECRET", text)
        assert.notInclude(text, basic("bob:LOC-SECRET:x").slice(6), text)
      }
    }).pipe(Effect.scoped))
})

describe("redirect.decide with user-info in the Location", () => {
  const from = new URL("http://example.test:8080/a")

  it("same origin: the URL loses it, `basic` holds it percent-decoded; a password alone counts; a scheme-relative Location too", () => {
    for (
      const [location, pair] of [
        ["http://bob:p%40ss@example.test:8080/b", "bob:p@ss"],
        ["http://:only-pw@example.test:8080/b", ":only-pw"],
        ["//bob:pw@example.test:8080/b", "bob:pw"]
      ] as const
    ) {
      const decision = decide(from, 302, location, "GET", false)
      assert.strictEqual(decision._tag, "Follow")
      if (decision._tag !== "Follow") return
      assert.strictEqual(decision.url.href, "http://example.test:8080/b")
      assert.strictEqual(decision.basic, basic(pair))
      assert.isFalse(decision.crossOrigin)
    }
  })

  it("another origin (host, port, or scheme even with allowDowngrade): the URL loses it and `basic` is undefined", () => {
    const secure = new URL("https://example.test/a")
    for (
      const [origin, location, allowDowngrade] of [
        [from, "http://bob:pw@other.test:8080/b", false],
        [from, "http://bob:pw@example.test:9090/b", false],
        [secure, "http://bob:pw@example.test/b", true]
      ] as const
    ) {
      const decision = decide(origin, 307, location, "POST", allowDowngrade)
      assert.strictEqual(decision._tag, "Follow")
      if (decision._tag !== "Follow") return
      assert.strictEqual(decision.url.username + decision.url.password, "")
      assert.isUndefined(decision.basic)
      assert.isTrue(decision.crossOrigin)
    }
  })

  it("a refused downgrade names the Location without its user-info", () => {
    const decision = decide(new URL("https://example.test/a"), 302, "http://bob:pw@example.test/b", "GET", false)
    assert.deepStrictEqual(decision, { _tag: "Refuse", reason: "downgrade", location: "http://example.test/b" })
  })
})

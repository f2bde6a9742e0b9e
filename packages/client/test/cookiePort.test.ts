/**
 * RELIABILITY 6: jar cookies never cross an origin. A cookie is scoped to
 * the port of the origin that set it (explicit, or 80/443 by scheme), on top
 * of RFC 6265's domain, path and Secure rules: a redirect to another port of
 * the same host carries none of the first port's cookies. A jar file written
 * before ports were recorded keeps working: its cookies go to any port.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, it } from "@effect/vitest"
import * as CookieJar from "@httpkit/client/CookieJar"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect, FileSystem } from "effect"

const cookiesOf = (response: ResilientClient.ClientResponse) =>
  Effect.map(response.json, (body) => (body as { cookies: Record<string, string> }).cookies)

it.live("a cookie set by 127.0.0.1:A is not sent to 127.0.0.1:B, followed there by a redirect or called directly; A still gets it", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const b = yield* TestServer.make()
    const jar = yield* CookieJar.makeMemory()
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } }).pipe(
      Effect.provideService(CookieJar.ClientCookies, jar)
    )
    yield* client.get(a.urlFor("/cookies/set?sid=from-a"))
    assert.deepStrictEqual((yield* jar.cookies).map((cookie) => [cookie.name, cookie.port]), [["sid", a.port]])

    const redirected = yield* client.get(
      a.urlFor(`/redirect-to?url=${encodeURIComponent(b.urlFor("/cookies"))}&status=307`)
    )
    assert.deepStrictEqual(yield* cookiesOf(redirected), {})
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(b.urlFor("/cookies"))), {})
    assert.isTrue((yield* b.requests).every((request) => request.headers["cookie"] === undefined))
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(a.urlFor("/cookies"))), { sid: "from-a" })

    // B's own cookie of the same name replaces nothing of A's.
    yield* client.get(b.urlFor("/cookies/set?sid=from-b"))
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(a.urlFor("/cookies"))), { sid: "from-a" })
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(b.urlFor("/cookies"))), { sid: "from-b" })
  }).pipe(Effect.scoped))

it.live("a jar file without ports (written before) still sends its cookies, to any port of their host", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const b = yield* TestServer.make()
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cookieport-" })
    const file = `${dir}/cookies.json`
    const old = {
      version: 1,
      cookies: [{
        name: "legacy",
        value: "1",
        domain: "127.0.0.1",
        hostOnly: true,
        path: "/",
        secure: false,
        httpOnly: false,
        expires: Date.now() + 3_600_000
      }]
    }
    yield* fs.writeFileString(file, JSON.stringify(old))
    const jar = yield* CookieJar.make({ file })
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } }).pipe(
      Effect.provideService(CookieJar.ClientCookies, jar)
    )
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(a.urlFor("/cookies"))), { legacy: "1" })
    assert.deepStrictEqual(yield* cookiesOf(yield* client.get(b.urlFor("/cookies"))), { legacy: "1" })
  }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))

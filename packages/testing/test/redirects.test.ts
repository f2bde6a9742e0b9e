import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as TestServer from "../src/TestServer.ts"

const send = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const manual = (url: string, init?: RequestInit) => send(url, { ...init, redirect: "manual" })
const json = (response: Response) => Effect.promise((): Promise<any> => response.json())

const statuses = [301, 302, 303, 307, 308] as const

layer(TestServer.layer())("TestServer redirects", (it) => {
  it.effect("each redirect status points one hop down, keeping the query", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const status of statuses) {
        const response = yield* manual(server.urlFor(`/redirect/3?status=${status}&x=1`))
        assert.strictEqual(response.status, status)
        assert.strictEqual(response.headers.get("location"), `/redirect/2?status=${status}&x=1`)
      }
    }))

  it.effect("the default status is 302 and /redirect/1 points at /echo", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* manual(server.urlFor("/redirect/1"))
      assert.strictEqual(response.status, 302)
      assert.strictEqual(response.headers.get("location"), "/echo")
      assert.deepStrictEqual(yield* json(response), { redirect: "/echo", status: 302 })
    }))

  it.effect("/redirect/1 points at `to` verbatim", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const to = "/status/204?retry_after=1"
      const response = yield* manual(server.urlFor(`/redirect/1?to=${encodeURIComponent(to)}`))
      assert.strictEqual(response.headers.get("location"), to)
    }))

  it.effect("a followed chain of n makes exactly n redirects and lands on the target", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const response = yield* send(server.urlFor("/redirect/5?to=%2Fecho%3Fdone%3D1"))
      assert.strictEqual(response.status, 200)
      assert.isTrue(response.redirected)
      assert.strictEqual(response.url, server.urlFor("/echo?done=1"))
      const body = yield* json(response)
      assert.strictEqual(body.path, "/echo")
      assert.deepStrictEqual(body.query, { done: "1" })
      const paths = (yield* server.requests).map((request) => request.path)
      assert.deepStrictEqual(paths, [
        "/redirect/5",
        "/redirect/4",
        "/redirect/3",
        "/redirect/2",
        "/redirect/1",
        "/echo"
      ])
    }))

  it.effect("307 and 308 keep the method and body, 303 turns them into GET", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const status of [307, 308]) {
        const response = yield* send(server.urlFor(`/redirect/2?status=${status}`), { method: "PUT", body: "payload" })
        const body = yield* json(response)
        assert.strictEqual(body.method, "PUT")
        assert.strictEqual(body.body, "payload")
      }
      const seeOther = yield* json(yield* send(server.urlFor("/redirect/2?status=303"), { method: "POST", body: "x" }))
      assert.strictEqual(seeOther.method, "GET")
      assert.strictEqual(seeOther.body, "")
    }))

  it.effect("HEAD and other methods are redirected too", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const method of ["HEAD", "DELETE", "PATCH", "OPTIONS"]) {
        const response = yield* manual(server.urlFor("/redirect/2?status=307"), { method })
        assert.strictEqual(response.status, 307, method)
        assert.strictEqual(response.headers.get("location"), "/redirect/1?status=307", method)
      }
    }))

  it.effect("absolute=1 makes every Location absolute on this server", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const first = yield* manual(server.urlFor("/redirect/2?absolute=1"))
      assert.strictEqual(first.headers.get("location"), server.urlFor("/redirect/1?absolute=1"))
      const last = yield* manual(server.urlFor("/redirect/1?absolute=1&to=%2Fecho%3Fa%3D1"))
      assert.strictEqual(last.headers.get("location"), server.urlFor("/echo?a=1"))
      const elsewhere = yield* manual(server.urlFor("/redirect/1?absolute=1&to=http%3A%2F%2Fexample.test%2Fx"))
      assert.strictEqual(elsewhere.headers.get("location"), "http://example.test/x")
      const relative = yield* manual(server.urlFor("/redirect/2?absolute=0"))
      assert.strictEqual(relative.headers.get("location"), "/redirect/1?absolute=0")
    }))

  it.effect("/redirect/loop points at itself and a following client gives up", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* manual(server.urlFor("/redirect/loop?status=308"))
      assert.strictEqual(response.status, 308)
      assert.strictEqual(response.headers.get("location"), "/redirect/loop?status=308")
      const absolute = yield* manual(server.urlFor("/redirect/loop?absolute=1"))
      assert.strictEqual(absolute.headers.get("location"), server.urlFor("/redirect/loop?absolute=1"))
      const error = yield* Effect.flip(Effect.tryPromise(() => fetch(server.urlFor("/redirect/loop"))))
      assert.include(String((error.cause as Error).cause), "redirect count exceeded")
    }))

  it.effect("bad chain parameters answer 400", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const bad = [
        "/redirect/0",
        "/redirect/101",
        "/redirect/-1",
        "/redirect/abc",
        "/redirect/1.5",
        "/redirect/1?status=200",
        "/redirect/1?status=304",
        "/redirect/1?status=300",
        "/redirect/1?status=abc",
        "/redirect/1?absolute=yes",
        "/redirect/1?to=%2Fecho%0D%0ASet-Cookie%3A%20x%3D1",
        "/redirect/1?to=%2Fecho%00",
        "/redirect/1?to=%2F%C3%A9",
        "/redirect/1?to=",
        "/redirect/loop?status=201",
        "/redirect/loop?absolute=2"
      ]
      for (const path of bad) {
        const response = yield* manual(server.urlFor(path))
        assert.strictEqual(response.status, 400, path)
        assert.strictEqual(response.headers.get("location"), null, path)
        assert.strictEqual((yield* json(response)).error, "bad_request", path)
      }
      assert.strictEqual((yield* manual(server.urlFor("/redirect/100"))).status, 302)
    }))

  it.effect("/redirect-to sends any URL verbatim, hostile schemes included", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const targets = [
        "file:///etc/passwd",
        "data:text/plain;base64,aGk=",
        "javascript:alert(1)",
        "ftp://example.test/file.bin",
        "gopher://example.test/",
        "//evil.test/path",
        "../echo?x=1",
        "/echo?a=1&b=2",
        "https://user:pass@example.test:8443/p?q#frag",
        "http://[::1]:1/x"
      ]
      for (const target of targets) {
        const response = yield* manual(server.urlFor(`/redirect-to?url=${encodeURIComponent(target)}`))
        assert.strictEqual(response.status, 302, target)
        assert.strictEqual(response.headers.get("location"), target, target)
      }
    }))

  it.effect("/redirect-to takes any 3xx status", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const status of [300, 301, 302, 303, 304, 305, 307, 308, 399]) {
        const response = yield* manual(server.urlFor(`/redirect-to?url=%2Fecho&status=${status}`), { method: "POST" })
        assert.strictEqual(response.status, status)
        assert.strictEqual(response.headers.get("location"), "/echo")
      }
    }))

  it.effect("/redirect-to refuses CR, LF, NUL, non-ASCII, a missing url and non-3xx statuses", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const bad = [
        "/redirect-to",
        "/redirect-to?url=",
        "/redirect-to?url=%2Fa%0Db",
        "/redirect-to?url=%2Fa%0Ab",
        "/redirect-to?url=http%3A%2F%2Fx.test%2F%0D%0ASet-Cookie%3A%20a%3Db",
        "/redirect-to?url=%2Fa%00b",
        "/redirect-to?url=%2Fa%09b",
        "/redirect-to?url=%2Fa%7Fb",
        "/redirect-to?url=http%3A%2F%2F%E4%BE%8B.test%2F",
        `/redirect-to?url=${"a".repeat(8 * 1024 + 1)}`,
        "/redirect-to?url=%2Fecho&status=200",
        "/redirect-to?url=%2Fecho&status=400",
        "/redirect-to?url=%2Fecho&status=3xx"
      ]
      for (const path of bad) {
        const response = yield* manual(server.urlFor(path))
        assert.strictEqual(response.status, 400, path)
        assert.strictEqual(response.headers.get("location"), null, path)
      }
    }))

  it.effect("a relative /redirect-to is followed on this server", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* send(server.urlFor("/redirect-to?url=%2Fecho%3Ffrom%3Dredirect-to&status=307"), {
        method: "POST",
        body: "kept"
      })
      const body = yield* json(response)
      assert.strictEqual(body.path, "/echo")
      assert.deepStrictEqual(body.query, { from: "redirect-to" })
      assert.strictEqual(body.body, "kept")
    }))

  it.effect("/redirect-to reaches another origin, and the second server logs what arrived", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const other = yield* TestServer.make()
      assert.notStrictEqual(other.url, server.url)
      const target = other.urlFor("/echo?hop=cross")
      const response = yield* send(server.urlFor(`/redirect-to?url=${encodeURIComponent(target)}`), {
        headers: { authorization: "Bearer secret", "x-trace": "t-1" }
      })
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.url, target)
      const arrived = yield* other.requests
      assert.strictEqual(arrived.length, 1)
      assert.strictEqual(arrived[0].method, "GET")
      assert.strictEqual(arrived[0].path, "/echo")
      assert.strictEqual(arrived[0].query, "hop=cross")
      assert.strictEqual(arrived[0].headers["x-trace"], "t-1")
      // Node's fetch drops credentials across origins, as httpkit's clients must.
      assert.isUndefined(arrived[0].headers["authorization"])
    }).pipe(Effect.scoped))

  it.effect("an absolute chain can end on another origin", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const other = yield* TestServer.make()
      const target = other.urlFor("/echo")
      const response = yield* send(server.urlFor(`/redirect/3?absolute=1&status=307&to=${encodeURIComponent(target)}`))
      assert.strictEqual(response.url, target)
      assert.deepStrictEqual((yield* server.requests).map((request) => request.path), [
        "/redirect/3",
        "/redirect/2",
        "/redirect/1"
      ])
      assert.deepStrictEqual((yield* other.requests).map((request) => request.path), ["/echo"])
    }).pipe(Effect.scoped))
})

import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { parseCookieHeader } from "../src/internal/routes/auth.ts"
import * as TestServer from "../src/TestServer.ts"

const send = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const manual = (url: string, init?: RequestInit) => send(url, { ...init, redirect: "manual" })
const json = (response: Response) => Effect.promise((): Promise<any> => response.json())
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

const challenge = `Bearer realm="httpkit-test", error="invalid_token"`

layer(TestServer.layer())("TestServer bearer auth", (it) => {
  it.effect("no, malformed or wrong credentials get 401 with a Bearer challenge", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const attempts: Array<RequestInit> = [
        {},
        { headers: { authorization: "Basic dXNlcjpwYXNz" } },
        { headers: { authorization: "Bearer" } },
        { headers: { authorization: "Bearer token-1 extra" } },
        bearer("token-2"),
        bearer("token-1x"),
        { method: "POST", ...bearer("wrong") }
      ]
      for (const init of attempts) {
        const response = yield* send(server.urlFor("/auth/bearer"), init)
        assert.strictEqual(response.status, 401)
        assert.strictEqual(response.headers.get("www-authenticate"), challenge)
        const body = yield* json(response)
        assert.strictEqual(body.error, "invalid_token")
        assert.isString(body.message)
      }
    }))

  it.effect("the current token is accepted with any method and a case-insensitive scheme", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      for (const [method, scheme] of [["GET", "Bearer"], ["POST", "bearer"], ["DELETE", "BEARER"]]) {
        const response = yield* send(server.urlFor("/auth/bearer"), {
          method,
          headers: { authorization: `${scheme} token-1` }
        })
        assert.strictEqual(response.status, 200, method)
        assert.isNull(response.headers.get("www-authenticate"))
        assert.deepStrictEqual(yield* json(response), { authenticated: true, token_generation: 1 })
      }
    }))

  it.effect("/auth/token reports the current token", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const response = yield* send(server.urlFor("/auth/token"))
      assert.deepStrictEqual(yield* json(response), { token: "token-1", token_generation: 1 })
    }))

  it.effect("rotate: the old token is refused, the new one accepted, and /auth/token tells a refresh hook", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const rotated = yield* json(yield* send(server.urlFor("/auth/rotate"), { method: "POST" }))
      assert.deepStrictEqual(rotated, { token: "token-2", token_generation: 2 })
      assert.strictEqual((yield* send(server.urlFor("/auth/bearer"), bearer("token-1"))).status, 401)
      const fresh = yield* json(yield* send(server.urlFor("/auth/token")))
      assert.deepStrictEqual(fresh, { token: "token-2", token_generation: 2 })
      const accepted = yield* send(server.urlFor("/auth/bearer"), bearer(fresh.token))
      assert.strictEqual(accepted.status, 200)
      assert.deepStrictEqual(yield* json(accepted), { authenticated: true, token_generation: 2 })
      const again = yield* json(yield* send(server.urlFor("/auth/rotate"), { method: "POST" }))
      assert.deepStrictEqual(again, { token: "token-3", token_generation: 3 })
    }))

  it.effect("rotate to a chosen token", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const chosen = "abc.DEF-123_~+/=!\"#"
      const response = yield* send(server.urlFor(`/auth/rotate?token=${encodeURIComponent(chosen)}`), {
        method: "POST"
      })
      assert.deepStrictEqual(yield* json(response), { token: chosen, token_generation: 2 })
      assert.strictEqual((yield* send(server.urlFor("/auth/bearer"), bearer(chosen))).status, 200)
      assert.strictEqual((yield* send(server.urlFor("/auth/bearer"), bearer("token-1"))).status, 401)
      const longest = "t".repeat(512)
      const long = yield* send(server.urlFor(`/auth/rotate?token=${longest}`), { method: "POST" })
      assert.deepStrictEqual(yield* json(long), { token: longest, token_generation: 3 })
    }))

  it.effect("an invalid token is refused with 400 and changes nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      for (const token of ["", "with space", "tab%09", "new%0Aline", "nul%00", "%C3%A9", "t".repeat(513)]) {
        const response = yield* send(server.urlFor(`/auth/rotate?token=${token}`), { method: "POST" })
        assert.strictEqual(response.status, 400, token)
      }
      assert.deepStrictEqual(yield* json(yield* send(server.urlFor("/auth/token"))), {
        token: "token-1",
        token_generation: 1
      })
      assert.strictEqual((yield* send(server.urlFor("/auth/rotate"))).status, 404)
    }))

  it.effect("reset restores token-1 and generation 1", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* send(server.urlFor("/auth/rotate?token=other"), { method: "POST" })
      yield* send(server.urlFor("/auth/rotate"), { method: "POST" })
      yield* server.reset
      assert.deepStrictEqual(yield* json(yield* send(server.urlFor("/auth/bearer"), bearer("token-1"))), {
        authenticated: true,
        token_generation: 1
      })
      yield* send(server.urlFor("/auth/rotate"), { method: "POST" })
      yield* send(server.urlFor("/__reset"), { method: "POST" })
      assert.deepStrictEqual(yield* json(yield* send(server.urlFor("/auth/token"))), {
        token: "token-1",
        token_generation: 1
      })
    }))

  it.effect("two servers keep separate tokens", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const other = yield* TestServer.make()
      yield* send(other.urlFor("/auth/rotate?token=elsewhere"), { method: "POST" })
      assert.strictEqual((yield* send(server.urlFor("/auth/bearer"), bearer("token-1"))).status, 200)
      assert.strictEqual((yield* send(other.urlFor("/auth/bearer"), bearer("token-1"))).status, 401)
      assert.strictEqual((yield* send(other.urlFor("/auth/bearer"), bearer("elsewhere"))).status, 200)
    }).pipe(Effect.scoped))
})

layer(TestServer.layer())("TestServer cookies", (it) => {
  it.effect("/cookies/set sets each parameter verbatim with Path=/ and answers what it set", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* send(server.urlFor("/cookies/set?a=1&b=two&c=x%2Fy%3Az%3D%25&empty="))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(response.headers.getSetCookie(), [
        "a=1; Path=/",
        "b=two; Path=/",
        "c=x/y:z=%; Path=/",
        "empty=; Path=/"
      ])
      assert.deepStrictEqual(yield* json(response), { cookies: { a: "1", b: "two", c: "x/y:z=%", empty: "" } })
    }))

  it.effect("/cookies/set with redirect=1 answers 302 to /cookies with the cookies", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* manual(server.urlFor("/cookies/set?session=abc&redirect=1"))
      assert.strictEqual(response.status, 302)
      assert.strictEqual(response.headers.get("location"), "/cookies")
      assert.deepStrictEqual(response.headers.getSetCookie(), ["session=abc; Path=/"])
    }))

  it.effect("/cookies/set refuses names and values that are not cookie tokens", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const bad = [
        "/cookies/set?a%20b=1",
        "/cookies/set?a%3Bb=1",
        "/cookies/set?a%3Db=1",
        "/cookies/set?=1",
        "/cookies/set?a(b)=1",
        "/cookies/set?%C3%A9=1",
        "/cookies/set?a=with%20space",
        "/cookies/set?a=semi%3Bcolon",
        "/cookies/set?a=com%2Cma",
        "/cookies/set?a=%22quoted%22",
        "/cookies/set?a=back%5Cslash",
        "/cookies/set?a=cr%0Dlf%0A",
        "/cookies/set?a=nul%00",
        "/cookies/set?a=%C3%A9",
        "/cookies/set?good=1&bad%20name=2",
        "/cookies/set?a=1&redirect=yes"
      ]
      for (const path of bad) {
        const response = yield* send(server.urlFor(path))
        assert.strictEqual(response.status, 400, path)
        assert.deepStrictEqual(response.headers.getSetCookie(), [], path)
      }
    }))

  it.effect("/cookies echoes the Cookie header verbatim, first of a name winning", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const none = yield* json(yield* send(server.urlFor("/cookies")))
      assert.deepStrictEqual(none, { cookies: {} })
      const response = yield* send(server.urlFor("/cookies"), {
        headers: { cookie: "a=1; b=x=y;c=%20enc; a=2; novalue; d=\"q\"; =anonymous" }
      })
      assert.deepStrictEqual(yield* json(response), { cookies: { a: "1", b: "x=y", c: "%20enc", d: "\"q\"" } })
    }))

  it.effect("a __proto__ cookie is an ordinary key and pollutes nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* send(server.urlFor("/cookies"), {
        headers: { cookie: "__proto__=polluted; constructor=c; toString=t; hasOwnProperty=h" }
      })
      const body = yield* json(response)
      assert.isTrue(Object.hasOwn(body.cookies, "__proto__"))
      assert.strictEqual(Object.getOwnPropertyDescriptor(body.cookies, "__proto__")?.value, "polluted")
      assert.strictEqual(body.cookies.constructor, "c")
      assert.strictEqual(body.cookies.toString, "t")
      assert.deepStrictEqual(Object.keys(body.cookies), ["__proto__", "constructor", "toString", "hasOwnProperty"])
      // The server runs in this process: nothing reached Object.prototype.
      assert.isUndefined((({}) as Record<string, unknown>)["polluted"])
      assert.strictEqual(({}).toString, Object.prototype.toString)

      const parsed = parseCookieHeader("__proto__=x; a=1")
      assert.isNull(Object.getPrototypeOf(parsed))
      assert.deepStrictEqual(Object.entries(parsed), [["__proto__", "x"], ["a", "1"]])

      const set = yield* send(server.urlFor("/cookies/set?__proto__=p"))
      assert.deepStrictEqual(set.headers.getSetCookie(), ["__proto__=p; Path=/"])
      const setBody = yield* json(set)
      assert.strictEqual(Object.getOwnPropertyDescriptor(setBody.cookies, "__proto__")?.value, "p")
    }))

  it.effect("/cookies/delete expires each named cookie", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* send(server.urlFor("/cookies/delete?a&b"))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(response.headers.getSetCookie(), [
        "a=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "b=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
      ])
      assert.deepStrictEqual(yield* json(response), { deleted: ["a", "b"] })
      const redirected = yield* manual(server.urlFor("/cookies/delete?a&redirect=1"))
      assert.strictEqual(redirected.status, 302)
      assert.strictEqual(redirected.headers.get("location"), "/cookies")
      assert.strictEqual(redirected.headers.getSetCookie().length, 1)
      assert.strictEqual((yield* send(server.urlFor("/cookies/delete?bad%20name"))).status, 400)
    }))

  it.effect("/cookies/set-with sends every attribute exactly as asked", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const params = new URLSearchParams({
        name: "sid",
        value: "abc123",
        domain: "co.uk",
        path: "/api",
        max_age: "60",
        expires: "Wed, 21 Oct 2037 07:28:00 GMT",
        secure: "1",
        httponly: "1",
        samesite: "strict",
        partitioned: "1"
      })
      const response = yield* send(server.urlFor(`/cookies/set-with?${params}`))
      assert.strictEqual(response.status, 200)
      const expected =
        "sid=abc123; Domain=co.uk; Path=/api; Max-Age=60; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure; HttpOnly; SameSite=Strict; Partitioned"
      assert.deepStrictEqual(response.headers.getSetCookie(), [expected])
      assert.deepStrictEqual(yield* json(response), { set_cookie: expected })
    }))

  it.effect("/cookies/set-with defaults and edge values", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["name=x", "x=; Path=/"],
        ["name=x&value=1&path=", "x=1"],
        ["name=x&value=1&max_age=0", "x=1; Path=/; Max-Age=0"],
        ["name=x&value=1&max_age=-1", "x=1; Path=/; Max-Age=-1"],
        [
          "name=x&value=1&domain=.example.test&samesite=None&secure=1",
          "x=1; Domain=.example.test; Path=/; Secure; SameSite=None"
        ],
        ["name=x&value=1&expires=not%20a%20date", "x=1; Path=/; Expires=not a date"],
        ["name=x&value=1&secure=0&httponly=0&samesite=lax", "x=1; Path=/; SameSite=Lax"],
        ["name=x&value=1&path=relative", "x=1; Path=relative"]
      ]
      for (const [query, expected] of cases) {
        const response = yield* send(server.urlFor(`/cookies/set-with?${query}`))
        assert.strictEqual(response.status, 200, query)
        assert.deepStrictEqual(response.headers.getSetCookie(), [expected], query)
      }
    }))

  it.effect("/cookies/set-with refuses bad attributes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const bad = [
        "",
        "name=",
        "name=a%20b",
        "name=x&value=a%3Bb",
        "name=x&domain=a%3Bb",
        "name=x&domain=a%0Db",
        "name=x&path=%2Fa%3BSecure",
        "name=x&expires=x%0Ay",
        "name=x&max_age=soon",
        "name=x&max_age=1.5",
        "name=x&secure=yes",
        "name=x&httponly=true",
        "name=x&partitioned=2",
        "name=x&samesite=bogus",
        "name=x&samesite=__proto__",
        "name=x&samesite=constructor"
      ]
      for (const query of bad) {
        const response = yield* send(server.urlFor(`/cookies/set-with?${query}`))
        assert.strictEqual(response.status, 400, query)
        assert.deepStrictEqual(response.headers.getSetCookie(), [], query)
      }
    }))

  it.effect("a cookie set by the server comes back through /cookies", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const set = yield* send(server.urlFor("/cookies/set?theme=dark&sid=s%2F1"))
      const cookie = set.headers.getSetCookie().map((header) => header.split(";")[0]).join("; ")
      const echoed = yield* json(yield* send(server.urlFor("/cookies"), { headers: { cookie } }))
      assert.deepStrictEqual(echoed, { cookies: { theme: "dark", sid: "s/1" } })
    }))
})

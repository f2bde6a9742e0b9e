import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, it } from "@effect/vitest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Layer } from "effect"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as CookieJar from "../src/CookieJar.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

const withTempDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "httpkit-session-"))),
    use,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

const cookiesSeen = (client: ResilientClient.Service) =>
  client.get("/cookies").pipe(
    Effect.flatMap((response) => response.json),
    Effect.map((body) => (body as { cookies: Record<string, string> }).cookies)
  )

it.live("a client with a cookie jar keeps its session across calls, redirects and a restart from file", () =>
  withTempDir((dir) =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const file = join(dir, "jar.json")
      const clientWithJar = Effect.scoped(
        Effect.gen(function*() {
          const client = yield* ResilientClient.make({ baseUrl: server.url })
          // Max-Age makes the cookie persistent, so it is saved.
          yield* client.get("/cookies/set-with?name=session&value=abc123&max_age=3600")
          yield* client.get("/cookies/set?redirect=1&theme=dark") // Set-Cookie on a redirect hop
          return yield* cookiesSeen(client)
        }).pipe(Effect.provide(CookieJar.ClientCookies.layer({ file }).pipe(Layer.provide(NodeFileSystem.layer))))
      )
      const first = yield* clientWithJar
      assert.strictEqual(first.session, "abc123")
      assert.strictEqual(first.theme, "dark")

      // The scope closed: the jar was saved (persistent cookies only), mode 0600.
      const saved = JSON.parse(yield* Effect.promise(() => readFile(file, "utf8")))
      assert.deepStrictEqual(saved.cookies.map((cookie: { name: string }) => cookie.name), ["session"])

      const restarted = yield* Effect.scoped(
        Effect.gen(function*() {
          const client = yield* ResilientClient.make({ baseUrl: server.url })
          return yield* cookiesSeen(client)
        }).pipe(Effect.provide(CookieJar.ClientCookies.layer({ file }).pipe(Layer.provide(NodeFileSystem.layer))))
      )
      assert.deepStrictEqual({ ...restarted }, { session: "abc123" })

      // Without a jar, nothing is sent.
      const bare = yield* Effect.scoped(Effect.flatMap(ResilientClient.make({ baseUrl: server.url }), cookiesSeen))
      assert.deepStrictEqual({ ...bare }, {})
    }).pipe(Effect.scoped)
  ))

it.live("cookies never cross to another host", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const b = yield* TestServer.make()
    const client = yield* ResilientClient.make().pipe(Effect.provide(CookieJar.ClientCookies.layerMemory))
    yield* client.get(`${a.url}/cookies/set?token=for-a`)
    // Same IP, other port: RFC 6265 cookies do not isolate by port, so test by host name.
    const viaLocalhost = b.url.replace("127.0.0.1", "localhost")
    const seen = yield* cookiesSeen({ ...client, get: (url, options) => client.get(`${viaLocalhost}${url}`, options) })
    assert.deepStrictEqual({ ...seen }, {})
  }).pipe(Effect.scoped))

it.live("with a jar, the caller's own Cookie header is sent with the jar's (the caller's wins a name), and not to another origin on a redirect", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const b = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: a.url }).pipe(
      Effect.provide(CookieJar.ClientCookies.layerMemory)
    )
    yield* client.get("/cookies/set?theme=dark&lang=en")
    const sent = (cookie: string) =>
      client.get("/cookies", { headers: { cookie } }).pipe(
        Effect.flatMap((response) => response.json),
        Effect.map((body) => ({ ...(body as { cookies: Record<string, string> }).cookies }))
      )
    assert.deepStrictEqual(yield* sent("mine=1"), { mine: "1", theme: "dark", lang: "en" })
    assert.deepStrictEqual(yield* sent("theme=light"), { theme: "light", lang: "en" })
    const [last] = (yield* a.requestsTo("/cookies")).slice(-1)
    assert.strictEqual(last!.headers["cookie"], "theme=light; lang=en")
    // Redirected to another origin (the other server, by host name): neither the caller's cookie nor the jar's.
    const other = b.url.replace("127.0.0.1", "localhost")
    yield* client.get(`/redirect-to?url=${encodeURIComponent(`${other}/cookies`)}`, { headers: { cookie: "mine=1" } })
    const [atB] = yield* b.requestsTo("/cookies")
    assert.isUndefined(atB!.headers["cookie"])
  }).pipe(Effect.scoped))

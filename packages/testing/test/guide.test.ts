import { assert, describe, it as plain } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { closest, editDistance, wantsJson } from "../src/internal/guide.ts"
import * as Raw from "../src/internal/raw.ts"
import type { RouteEntry } from "../src/internal/routeTable.ts"
import * as ServerSuite from "../src/ServerSuite.ts"
import * as TestServer from "../src/TestServer.ts"

const call = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const body = (response: Response) => Effect.promise(() => response.text())
const asJson = { headers: { accept: "application/json" } }

/** A route as `GET /` describes it in JSON. */
interface Listed {
  readonly methods: ReadonlyArray<string>
  readonly path: string
  readonly summary: string
  readonly switches: Readonly<Record<string, string>>
}

/** The route table as the server serves it: `GET /` with `Accept: application/json`. */
const servedTable = Effect.gen(function*() {
  const server = yield* TestServer.TestServer
  const response = yield* call(server.urlFor("/"), asJson)
  assert.strictEqual(response.status, 200)
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/)
  return (yield* Effect.promise(() => response.json())) as {
    url: string
    routes: ReadonlyArray<Listed>
    raw: { url: string; scenarios: ReadonlyArray<string> }
  }
})

/** How the README names a route's methods: `any`, or the list. */
const label = (route: Listed): string => route.methods.includes("*") ? "any" : route.methods.join(", ")

const readme = Fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")

/** A part of the README from its `## title` (or `### title`) heading to the next heading of that level or above. */
const section = (heading: string): string => {
  const start = readme.indexOf(`\n${heading}`)
  assert.isAtLeast(start, 0, `the README has no "${heading}" heading`)
  const level = heading.indexOf(" ")
  const rest = readme.slice(start + heading.length + 1)
  const end = rest.search(new RegExp(`\\n#{1,${level}} `))
  return end === -1 ? rest : rest.slice(0, end)
}

/**
 * The HTTP routes the README documents, with the text that documents each: a
 * table row `| methods | \`path\` | ...`, or a heading `### Title: \`path\` (methods)`
 * followed by its section.
 */
const documented = (): ReadonlyArray<{ methods: string; path: string; text: string }> => {
  const endpoints = section("## Endpoints").split("\n### The raw-socket listener")[0]!
  const rows = [...endpoints.matchAll(/^\| ([A-Za-z, ]+?) +\| `(\/[^`]*)` +\|.*$/gm)].map((match) => ({
    methods: match[1]!,
    path: match[2]!,
    text: match[0]
  }))
  const headed = [...endpoints.matchAll(/^### [^\n]*`(\/[^`]*)` \(([A-Z, ]+)\)\n/gm)].map((match) => ({
    methods: match[2]!,
    path: match[1]!,
    text: section(match[0].trim())
  }))
  return [...rows, ...headed]
}

/** Whether `text` names the switch: `` `name` ``, `` `name=... `` or `` `?name=... ``. */
const names = (text: string, name: string): boolean =>
  new RegExp(`\`\\??${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\`= ]`).test(text)

ServerSuite.describe("the server explains itself", (it) => {
  it.effect("GET / lists every route with its summary and switches, as text by default", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { routes } = yield* servedTable
      const response = yield* call(server.urlFor("/"))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), "text/plain; charset=utf-8")
      const text = yield* body(response)
      assert.isTrue(text.startsWith(`httpkit fault-injection server at ${server.url}\n`))
      assert.isAtLeast(routes.length, 25)
      for (const route of routes) {
        assert.include(text, `\n${label(route)} ${route.path}\n    ${route.summary}\n`)
        for (const [name, hint] of Object.entries(route.switches)) assert.include(text, `    ?${name}  ${hint}\n`)
      }
      assert.include(text, "\n    ?drop_after  N: the connection drops after N body bytes\n")
      assert.include(text, `Raw-socket listener at ${server.rawUrl}`)
      for (const usage of Raw.scenarioUsages) assert.include(text, `\n    ${usage}\n`)
    }))

  it.effect("GET / in JSON lists the routes the router answers: each listed path is served, none is a 404", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const table = yield* servedTable
      assert.strictEqual(table.url, server.url)
      assert.deepStrictEqual(table.raw, { url: server.rawUrl, scenarios: Raw.scenarioUsages })
      const files = table.routes.find((route) => route.path === "/files/:name")!
      assert.deepStrictEqual(files.methods, ["GET", "HEAD"])
      assert.deepStrictEqual(Object.keys(files.switches).slice(0, 3), ["size", "seed", "ignore_range"])
      // A HEAD (or the route's own method) with its path parameters filled in; redirects not followed.
      for (const route of table.routes) {
        const method = route.methods.includes("*") || route.methods.includes("GET") ? "HEAD" : route.methods[0]!
        const path = route.path.replace(":n", "0").replace(":code", "200").replace(":ms", "0").replace(":name", "x")
        const response = yield* call(server.urlFor(path), { method, redirect: "manual" })
        assert.notStrictEqual(response.status, 404, `${method} ${path}`)
        yield* Effect.promise(() => response.arrayBuffer())
      }
      yield* server.reset
    }))

  it.effect("an unknown path answers 404 in text naming the path, the closest route and GET /", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const typo = yield* call(server.urlFor("/statu/503?retry_after=1"))
      assert.strictEqual(typo.status, 404)
      assert.strictEqual(typo.headers.get("content-type"), "text/plain; charset=utf-8")
      assert.strictEqual(
        yield* body(typo),
        "404: no route for GET /statu/503\n" +
          "closest route: any /status/:code (that status (200-599) with a JSON body (none for 204, 205, 304))\n" +
          "GET / lists every route and its switches.\n"
      )

      const wrongMethod = yield* body(yield* call(server.urlFor("/auth/rotate")))
      assert.include(wrongMethod, "closest route: POST /auth/rotate (")

      const postIndex = yield* call(server.urlFor("/"), { method: "POST" })
      assert.strictEqual(postIndex.status, 404)
      assert.include(yield* body(postIndex), "closest route: GET / (")

      const far = yield* body(yield* call(server.urlFor("/favicon.ico")))
      assert.strictEqual(far, "404: no route for GET /favicon.ico\nGET / lists every route and its switches.\n")

      const raw = yield* body(yield* call(server.urlFor("/hang")))
      assert.include(raw, `/hang is a scenario of the raw-socket listener: ${server.rawUrl}/hang\n`)
    }))

  it.effect("with Accept: application/json the 404 is JSON: error, message, closest route and index", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* call(server.urlFor("/file/a.bin?size=10"), asJson)
      assert.strictEqual(response.status, 404)
      const answer = (yield* Effect.promise(() => response.json())) as Record<string, any>
      assert.strictEqual(answer.error, "not_found")
      assert.strictEqual(answer.message, "no route for GET /file/a.bin")
      assert.strictEqual(answer.index, "GET /")
      assert.strictEqual(answer.closest.path, "/files/:name")
      assert.deepStrictEqual(answer.closest.methods, ["GET", "HEAD"])
      assert.property(answer.closest.switches, "drop_after")

      const none = (yield* Effect.promise(() =>
        fetch(server.urlFor("/favicon.ico"), asJson).then((r) => r.json())
      )) as Record<string, any>
      assert.isNull(none.closest)
    }))

  it.effect("GET / honours q in Accept: application/json;q=0, text/plain is text", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const refused = yield* call(server.urlFor("/"), { headers: { accept: "application/json;q=0, text/plain" } })
      assert.match(refused.headers.get("content-type") ?? "", /^text\/plain/)
      yield* body(refused)
      const preferred = yield* call(server.urlFor("/"), { headers: { accept: "text/plain;q=0.5, application/json" } })
      assert.match(preferred.headers.get("content-type") ?? "", /^application\/json/)
      yield* body(preferred)
    }))

  it.effect("GET / is not recorded in the request log; a 404 is, as any request", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      yield* body(yield* call(server.urlFor("/")))
      yield* body(yield* call(server.urlFor("/nope")))
      assert.deepStrictEqual((yield* server.requests).map((request) => request.path), ["/nope"])
    }))

  it.effect("the README documents every route of the table with each of its switches, and no other route", () =>
    Effect.gen(function*() {
      const { routes } = yield* servedTable
      const docs = documented()
      const missing: Array<string> = []
      for (const route of routes) {
        const doc = docs.find((candidate) => candidate.path === route.path)
        if (doc === undefined) {
          missing.push(`${label(route)} ${route.path}: no row`)
          continue
        }
        if (doc.methods !== label(route)) {
          missing.push(`${route.path}: README says ${doc.methods}, served ${label(route)}`)
        }
        for (const name of Object.keys(route.switches)) {
          if (!names(doc.text, name)) missing.push(`${route.path}: switch ${name} undocumented`)
        }
        // And the other way: every switch the README's switch table names is one `GET /` lists.
        for (const row of doc.text.matchAll(/^\| (`[^|]*`) +\|/gm)) {
          for (const [, name = ""] of row[1]!.matchAll(/`\??([a-z0-9_]+)=/g)) {
            if (!Object.hasOwn(route.switches, name)) missing.push(`${route.path}: switch ${name} not in GET /`)
          }
        }
      }
      assert.deepStrictEqual(missing, [])
      const served = new Set(routes.map((route) => route.path))
      assert.deepStrictEqual(docs.filter((doc) => !served.has(doc.path)).map((doc) => doc.path), [])
      assert.strictEqual(docs.length, routes.length)
    }))

  it("the README documents every raw-socket scenario, and no other", () => {
    const table = section("### The raw-socket listener")
    const paths = [...table.matchAll(/^\| `(\/[^`]*)` +\|/gm)].map((match) => match[1]!)
    assert.deepStrictEqual(paths.toSorted(), Raw.scenarioPaths.toSorted())
  })
})

const entry = (methods: RouteEntry["methods"], path: `/${string}`): RouteEntry => ({
  methods,
  path,
  summary: path,
  handler: Effect.die("unused")
})

describe("closest route", () => {
  const table = [
    entry(["GET"], "/"),
    entry(["GET"], "/health"),
    entry("*", "/status/:code"),
    entry(["POST"], "/auth/rotate"),
    entry(["GET"], "/auth/token"),
    entry("*", "/files/:name")
  ]
  const pick = (method: string, path: string) => closest(table, method, path)?.path

  plain("a typo in a literal segment, a missing parameter, a wrong method and a case slip find their route", () => {
    assert.strictEqual(pick("GET", "/statu/503"), "/status/:code")
    assert.strictEqual(pick("GET", "/files"), "/files/:name")
    assert.strictEqual(pick("GET", "/auth/rotate"), "/auth/rotate")
    assert.strictEqual(pick("GET", "/HEALTH"), "/health")
    assert.strictEqual(pick("GET", "/auth/tokne"), "/auth/token")
  })

  plain(
    "a path far from every route (over a third of its length away) has no closest route, and / is never one",
    () => {
      assert.isUndefined(pick("GET", "/favicon.ico"))
      assert.isUndefined(pick("GET", "/x"))
      assert.isUndefined(pick("GET", "/a/b/c/d/e"))
    }
  )

  plain("edit distance counts insertions, deletions and substitutions", () => {
    assert.strictEqual(editDistance("status", "statu"), 1)
    assert.strictEqual(editDistance("kitten", "sitting"), 3)
    assert.strictEqual(editDistance("", "abc"), 3)
  })
})

plain("wantsJson: a JSON type with a weight above 0 and at least text's", () => {
  assert.isTrue(wantsJson("application/json"))
  assert.isTrue(wantsJson("application/problem+json, */*"))
  assert.isTrue(wantsJson("text/plain;q=0.5, application/json"))
  assert.isFalse(wantsJson(undefined))
  assert.isFalse(wantsJson("*/*"))
  assert.isFalse(wantsJson("application/json;q=0, text/plain"))
  assert.isFalse(wantsJson("application/json; q=0"))
  assert.isFalse(wantsJson("application/json;q=0.2, text/*"))
})

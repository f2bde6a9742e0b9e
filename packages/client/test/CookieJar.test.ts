import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import { Effect, Exit, FileSystem, Layer, PlatformError } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import * as CookieJar from "../src/CookieJar.ts"

const day = 24 * 60 * 60 * 1000

/** Stores `setCookie` as if answered by `from`, then returns the header for `to`. */
const roundTrip = (jar: CookieJar.CookieJar, from: string, setCookie: ReadonlyArray<string>, to: string) =>
  Effect.andThen(jar.store(new URL(from), setCookie), jar.cookieHeader(new URL(to)))

const headerFor = (jar: CookieJar.CookieJar, url: string) => jar.cookieHeader(new URL(url))

const names = (jar: CookieJar.CookieJar) => Effect.map(jar.cookies, (cookies) => cookies.map((cookie) => cookie.name))

describe("CookieJar scoping", () => {
  it.effect("a cookie without Domain is host-only", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), ["a=1"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/anything"), "a=1")
      assert.isUndefined(yield* headerFor(jar, "http://www.example.com/"))
      assert.isUndefined(yield* headerFor(jar, "http://other.com/"))
      assert.isUndefined(yield* headerFor(jar, "http://ample.com/"))
      const [cookie] = yield* jar.cookies
      assert.strictEqual(cookie?.domain, "example.com")
      assert.isTrue(cookie?.hostOnly)
    }))

  it.effect("a Domain cookie goes to the domain and its subdomains, and only when the host domain-matches", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://www.example.com/"), ["d=1; Domain=.Example.COM", "x=1; Domain=other.com"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "d=1")
      assert.strictEqual(yield* headerFor(jar, "http://www.example.com/"), "d=1")
      assert.strictEqual(yield* headerFor(jar, "http://a.b.example.com/"), "d=1")
      assert.isUndefined(yield* headerFor(jar, "http://notexample.com/"))
      assert.isUndefined(yield* headerFor(jar, "http://example.org/"))
      assert.isUndefined(yield* headerFor(jar, "http://other.com/"))
      assert.deepStrictEqual(yield* names(jar), ["d"])
      // A subdomain cannot set a cookie for a sibling.
      yield* jar.store(new URL("http://www.example.com/"), ["s=1; Domain=api.example.com"])
      assert.deepStrictEqual(yield* names(jar), ["d"])
    }))

  it.effect("paths: explicit, default (the request's folder), and no prefix confusion", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/a/b/c"), ["p=1; Path=/api", "q=2"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/api"), "p=1")
      assert.strictEqual(yield* headerFor(jar, "http://example.com/api/v1/x"), "p=1")
      assert.isUndefined(yield* headerFor(jar, "http://example.com/apix"))
      assert.isUndefined(yield* headerFor(jar, "http://example.com/"))
      assert.strictEqual(yield* headerFor(jar, "http://example.com/a/b/other"), "q=2")
      assert.isUndefined(yield* headerFor(jar, "http://example.com/a/"))
      // Longer paths first.
      yield* jar.store(new URL("http://example.com/"), ["r=3; Path=/"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/api/x"), "p=1; r=3")
    }))

  it.effect("the same name on two paths in one response keeps both", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      const header = yield* roundTrip(
        jar,
        "http://example.com/",
        ["n=root; Path=/", "n=deep; Path=/deep"],
        "http://example.com/deep/x"
      )
      assert.strictEqual(header, "n=deep; n=root")
    }))

  it.effect("Secure cookies go over https only, and only https sets them", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("https://example.com/"), ["s=1; Secure", "p=2"])
      assert.strictEqual(yield* headerFor(jar, "https://example.com/"), "s=1; p=2")
      // Another scheme is another port (80, not 443): not even the plain cookie crosses (RELIABILITY 6).
      assert.isUndefined(yield* headerFor(jar, "http://example.com/"))
      yield* jar.store(new URL("http://example.com/"), ["q=3"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "q=3")
      yield* jar.store(new URL("http://plain.example.com/"), ["t=1; Secure"])
      assert.isUndefined(yield* headerFor(jar, "https://plain.example.com/"))
    }))

  it.effect("an http response can neither overwrite nor delete a Secure cookie", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("https://example.com/"), ["sid=good; Secure; Path=/"])
      yield* jar.store(new URL("http://example.com/"), ["sid=evil; Path=/", "sid=; Max-Age=0"])
      assert.strictEqual(yield* headerFor(jar, "https://example.com/"), "sid=good")
    }))

  it.effect("__Host- and __Secure- prefixes are enforced", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("https://www.example.com/x/"), [
        "__Host-ok=1; Secure; Path=/",
        "__Host-domain=1; Secure; Path=/; Domain=example.com",
        "__Host-path=1; Secure; Path=/x",
        "__Host-insecure=1; Path=/",
        "__Secure-ok=1; Secure",
        "__Secure-no=1"
      ])
      assert.deepStrictEqual(yield* names(jar), ["__Host-ok", "__Secure-ok"])
    }))

  it.effect("a Set-Cookie line folded with commas is split back, Expires dates included", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), [
        "a=1; Path=/; Expires=Thu, 01 Jan 1970 01:00:00 GMT, b=2; Path=/, c=3; Expires=Fri, 02 Jan 1970 00:00:00 GMT"
      ])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "a=1; b=2; c=3")
      const cookies = yield* jar.cookies
      assert.deepStrictEqual(cookies.map((cookie) => cookie.expires), [3_600_000, undefined, day])
    }))
})

describe("CookieJar expiry", () => {
  it.effect("Max-Age and Expires expire on the Clock", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), [
        "m=1; Max-Age=60",
        "e=2; Expires=Thu, 01 Jan 1970 00:02:00 GMT",
        "both=3; Max-Age=30; Expires=Thu, 01 Jan 1970 01:00:00 GMT"
      ])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "m=1; e=2; both=3")
      yield* TestClock.adjust("31 seconds")
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "m=1; e=2")
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "e=2")
      yield* TestClock.adjust("1 minute")
      assert.isUndefined(yield* headerFor(jar, "http://example.com/"))
      assert.deepStrictEqual(yield* jar.cookies, [])
    }))

  it.effect("Max-Age=0, a negative Max-Age or a past Expires deletes the cookie", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      const jar = yield* CookieJar.makeMemory()
      const url = new URL("http://example.com/")
      yield* jar.store(url, ["a=1; Path=/", "b=2; Path=/", "c=3; Path=/", "d=4; Path=/"])
      yield* jar.store(url, [
        "a=; Path=/; Max-Age=0",
        "b=; Path=/; Max-Age=-1",
        "c=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
      ])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "d=4")
      // A deletion on another path leaves the cookie alone.
      yield* jar.store(url, ["d=; Path=/other; Max-Age=0"])
      assert.strictEqual(yield* headerFor(jar, "http://example.com/"), "d=4")
    }))

  it.effect("lifetimes are capped at 400 days, huge Max-Age included", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), [
        "far=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        "huge=2; Max-Age=999999999999999999999999"
      ])
      const cookies = yield* jar.cookies
      assert.deepStrictEqual(cookies.map((cookie) => cookie.expires), [400 * day, 400 * day])
      yield* TestClock.adjust(400 * day)
      assert.isUndefined(yield* headerFor(jar, "http://example.com/"))
    }))
})

describe("CookieJar public suffixes", () => {
  it.effect("a Domain that is a public suffix is refused (co.uk, com, github.io)", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://foo.co.uk/"), ["uk=1; Domain=co.uk"])
      yield* jar.store(new URL("http://shop.example.com/"), ["com=1; Domain=com", "dotcom=1; Domain=.com"])
      yield* jar.store(new URL("http://me.github.io/"), ["io=1; Domain=github.io"])
      assert.deepStrictEqual(yield* jar.cookies, [])
      assert.isUndefined(yield* headerFor(jar, "http://bar.co.uk/"))
      assert.isUndefined(yield* headerFor(jar, "http://evil.github.io/"))
    }))

  it.effect("a Domain just under a public suffix is accepted and shared by its subdomains", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://www.foo.co.uk/"), ["uk=1; Domain=foo.co.uk"])
      yield* jar.store(new URL("http://me.github.io/"), ["io=1; Domain=me.github.io"])
      assert.strictEqual(yield* headerFor(jar, "http://shop.foo.co.uk/"), "uk=1")
      assert.strictEqual(yield* headerFor(jar, "http://blog.me.github.io/"), "io=1")
      assert.isUndefined(yield* headerFor(jar, "http://you.github.io/"))
    }))

  it.effect("a public suffix or an IP naming the host itself makes a host-only cookie", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://github.io/"), ["self=1; Domain=github.io"])
      yield* jar.store(new URL("http://localhost:8080/"), ["local=1; Domain=localhost"])
      yield* jar.store(new URL("http://127.0.0.1/"), ["ip=1; Domain=127.0.0.1", "other=1; Domain=0.0.1"])
      assert.strictEqual(yield* headerFor(jar, "http://github.io/"), "self=1")
      assert.isUndefined(yield* headerFor(jar, "http://me.github.io/"))
      assert.strictEqual(yield* headerFor(jar, "http://localhost:8080/"), "local=1")
      assert.isUndefined(yield* headerFor(jar, "http://localhost:9090/"), "another port of the host")
      assert.isUndefined(yield* headerFor(jar, "http://a.localhost/"))
      assert.strictEqual(yield* headerFor(jar, "http://127.0.0.1/"), "ip=1")
      assert.isTrue((yield* jar.cookies).every((cookie) => cookie.hostOnly))
    }))
})

describe("CookieJar hostile input", () => {
  it.effect("__proto__ and constructor names are ordinary cookies and pollute nothing", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      const header = yield* roundTrip(
        jar,
        "http://example.com/",
        ["__proto__=polluted; Path=/", "constructor=x; Path=/", "toString=y; Path=/"],
        "http://example.com/"
      )
      assert.strictEqual(header, "__proto__=polluted; constructor=x; toString=y")
      assert.deepStrictEqual(yield* names(jar), ["__proto__", "constructor", "toString"])
      assert.isUndefined((({}) as Record<string, unknown>)["polluted"])
      assert.strictEqual(Object.getPrototypeOf({}), Object.prototype)
      assert.strictEqual(typeof ({}).toString, "function")
    }))

  it("a polluted Object.prototype (expires, maxAge, domain, secure, path...) changes nothing stored or sent", () => {
    const pollutions: ReadonlyArray<readonly [string, unknown]> = [
      ["expires", new Date(0)],
      ["expires", "x"],
      ["maxAge", 0],
      ["secure", true],
      ["domain", "evil.example"],
      ["path", "/elsewhere"],
      ["hostOnly", false]
    ]
    for (const [key, value] of pollutions) {
      const label = `${key}=${String(value)}`
      try {
        ;(Object.prototype as Record<string, unknown>)[key] = value
        const [first, second, stored] = Effect.runSync(Effect.gen(function*() {
          const jar = yield* CookieJar.makeMemory()
          const first = yield* roundTrip(jar, "http://example.com/a", ["s=1; Path=/"], "http://example.com/b")
          // A second response on the same jar: the stored cookie is merged again.
          const second = yield* roundTrip(jar, "http://example.com/a", ["t=2; Path=/"], "http://www.example.com/")
          return [first, second, yield* jar.cookies] as const
        }))
        assert.strictEqual(first, "s=1", label)
        assert.isUndefined(second, label)
        assert.deepStrictEqual(
          stored.map((
            cookie
          ) => [cookie.name, cookie.domain, cookie.path, cookie.secure, Object.hasOwn(cookie, "expires")]),
          [["s", "example.com", "/", false, false], ["t", "example.com", "/", false, false]],
          label
        )
      } finally {
        delete (Object.prototype as Record<string, unknown>)[key]
      }
    }
  })

  it.effect("values with CR, LF or NUL, and malformed lines, are refused", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), [
        "a=b\r\nX-Injected: 1",
        "n=nul\u0000",
        "t=tab\tbed",
        "noequals",
        "=novalue",
        "bad name=1",
        "p=1; Path=/x\ny"
      ])
      assert.deepStrictEqual(yield* jar.cookies, [])
    }))

  it.effect("non-http URLs neither set nor receive cookies", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("file:///etc/passwd"), ["a=1"])
      yield* jar.store(new URL("http://example.com/"), ["b=1"])
      assert.deepStrictEqual(yield* names(jar), ["b"])
      assert.isUndefined(yield* headerFor(jar, "ftp://example.com/"))
    }))
})

describe("CookieJar bounds", () => {
  it.effect("a cookie larger than maxCookieBytes (name plus value) is refused", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), [`fits=${"v".repeat(4096 - 4)}`, `big=${"v".repeat(4096 - 2)}`])
      assert.deepStrictEqual(yield* names(jar), ["fits"])
    }))

  it.effect("at most maxCookiesPerDomain per registrable domain, oldest evicted first", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      for (let i = 0; i < 40; i++) yield* jar.store(new URL("http://a.example.com/"), [`a${i}=1`])
      for (let i = 0; i < 20; i++) yield* jar.store(new URL("http://b.example.com/"), [`b${i}=1`])
      yield* jar.store(new URL("http://other.com/"), ["keep=1"])
      const kept = yield* names(jar)
      assert.strictEqual(kept.length, 51)
      assert.strictEqual(kept[0], "a10")
      assert.isTrue(kept.includes("b0") && kept.includes("b19") && kept.includes("keep"))
      // Replacing a cookie keeps its age.
      yield* jar.store(new URL("http://a.example.com/"), ["a10=2"])
      yield* jar.store(new URL("http://b.example.com/"), ["b20=1"])
      assert.isFalse((yield* names(jar)).includes("a10"))
    }))

  it.effect("at most maxCookies in total, oldest evicted first", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory({ maxCookies: 5, maxCookiesPerDomain: 3 })
      for (let i = 0; i < 4; i++) yield* jar.store(new URL(`http://host${i}.test/`), [`c${i}=1`, `d${i}=1`])
      assert.deepStrictEqual(yield* names(jar), ["d1", "c2", "d2", "c3", "d3"])
    }))

  it.effect("expired cookies are purged before they count", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory({ maxCookiesPerDomain: 2 })
      yield* jar.store(new URL("http://example.com/"), ["old=1; Max-Age=1", "keep=1"])
      yield* TestClock.adjust("2 seconds")
      yield* jar.store(new URL("http://example.com/"), ["new=1"])
      assert.deepStrictEqual(yield* names(jar), ["keep", "new"])
    }))

  it.effect("clear empties the jar", () =>
    Effect.gen(function*() {
      const jar = yield* CookieJar.makeMemory()
      yield* jar.store(new URL("http://example.com/"), ["a=1"])
      yield* jar.clear
      assert.deepStrictEqual(yield* jar.cookies, [])
    }))
})

// ---------------------------------------------------------------------------
// Files

const readBytes = (path: string) => Effect.flatMap(Effect.service(FileSystem.FileSystem), (fs) => fs.readFile(path))
const listDir = (path: string) => Effect.flatMap(Effect.service(FileSystem.FileSystem), (fs) => fs.readDirectory(path))
const modeOf = (path: string) =>
  Effect.flatMap(Effect.service(FileSystem.FileSystem), (fs) => Effect.map(fs.stat(path), (info) => info.mode & 0o777))

const tempJar = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cookiejar-" })
  return { fs, dir, file: `${dir}/cookies.json` }
})

/** Uses a jar in its own scope, so that closing it saves. */
const withJar = <A, E, R>(options: CookieJar.Options, use: (jar: CookieJar.CookieJar) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(CookieJar.make(options), use))

const sampleCookie = {
  name: "a",
  value: "1",
  domain: "example.com",
  hostOnly: true,
  path: "/",
  secure: false,
  httpOnly: false
}

describe("CookieJar files", () => {
  it.effect("round trip through a real file: persistent cookies saved, session cookies not, mode 0600", () =>
    Effect.gen(function*() {
      const { file } = yield* tempJar
      yield* withJar({ file }, (jar) =>
        jar.store(new URL("https://example.com/"), [
          "keep=1; Max-Age=3600; Secure; HttpOnly; SameSite=Strict",
          "session=2",
          "__proto__=3; Max-Age=3600"
        ]))
      assert.strictEqual(yield* modeOf(file), 0o600)
      const saved = JSON.parse(new TextDecoder().decode(yield* readBytes(file)))
      assert.strictEqual(saved.version, 1)
      assert.deepStrictEqual(saved.cookies.map((cookie: { name: string }) => cookie.name), ["keep", "__proto__"])
      assert.deepStrictEqual(saved.cookies[0], {
        name: "keep",
        value: "1",
        domain: "example.com",
        hostOnly: true,
        path: "/",
        secure: true,
        httpOnly: true,
        sameSite: "strict",
        expires: 3_600_000,
        port: 443
      })
      const header = yield* withJar({ file }, (jar) => headerFor(jar, "https://example.com/"))
      assert.strictEqual(header, "keep=1; __proto__=3")
      assert.isUndefined((({}) as Record<string, unknown>)["3"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("persistSessionCookies keeps session cookies; expired cookies are neither saved nor loaded", () =>
    Effect.gen(function*() {
      const { fs, file } = yield* tempJar
      yield* withJar({ file, persistSessionCookies: true }, (jar) =>
        Effect.gen(function*() {
          yield* jar.store(new URL("http://example.com/"), ["session=1", "short=2; Max-Age=10", "long=3; Max-Age=100"])
          yield* TestClock.adjust("20 seconds")
        }))
      const saved = JSON.parse(yield* fs.readFileString(file))
      assert.deepStrictEqual(saved.cookies.map((cookie: { name: string }) => cookie.name), ["session", "long"])
      yield* TestClock.adjust("100 seconds")
      const loaded = yield* withJar({ file, persistSessionCookies: true }, names)
      assert.deepStrictEqual(loaded, ["session"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a missing file is an empty jar, and nothing is written when nothing changed", () =>
    Effect.gen(function*() {
      const { fs, dir, file } = yield* tempJar
      assert.deepStrictEqual(yield* withJar({ file }, (jar) => jar.cookies), [])
      assert.isFalse(yield* fs.exists(file))
      // `save` writes even an empty jar, creating missing folders.
      const nested = `${dir}/a/b/cookies.json`
      yield* withJar({ file: nested }, (jar) => jar.save)
      assert.deepStrictEqual(JSON.parse(yield* fs.readFileString(nested)), { version: 1, cookies: [] })
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a save replaces an existing file of another mode with a 0600 one, leaving no temporary file", () =>
    Effect.gen(function*() {
      const { fs, dir, file } = yield* tempJar
      yield* fs.writeFileString(file, JSON.stringify({ version: 1, cookies: [] }), { mode: 0o644 })
      yield* fs.chmod(file, 0o644)
      yield* withJar({ file }, (jar) => jar.store(new URL("http://example.com/"), ["a=1; Max-Age=60"]))
      assert.strictEqual(yield* modeOf(file), 0o600)
      assert.deepStrictEqual(yield* listDir(dir), ["cookies.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a failed write leaves the previous file intact and no temporary file behind", () =>
    Effect.gen(function*() {
      const { fs, dir, file } = yield* tempJar
      yield* withJar({ file }, (jar) => jar.store(new URL("http://example.com/"), ["old=1; Max-Age=600"]))
      const before = yield* fs.readFile(file)
      const failingRename = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(Effect.service(FileSystem.FileSystem), (real) =>
          FileSystem.FileSystem.of({
            ...real,
            rename: (_from, to) =>
              Effect.fail(
                PlatformError.systemError({
                  _tag: "PermissionDenied",
                  module: "FileSystem",
                  method: "rename",
                  pathOrDescriptor: to
                })
              )
          }))
      ).pipe(Layer.provide(NodeFileSystem.layer))
      const error = yield* withJar({ file }, (jar) =>
        Effect.andThen(
          jar.store(new URL("http://example.com/"), ["new=SECRET; Max-Age=600"]),
          Effect.flip(jar.save)
        )).pipe(Effect.provide(failingRename))
      assert.strictEqual(error._tag, "CookieJarError")
      assert.strictEqual(error.reason, "io")
      assert.strictEqual(error.path, file)
      assert.notInclude(error.message, "SECRET")
      assert.deepStrictEqual(yield* fs.readFile(file), before)
      assert.deepStrictEqual(yield* listDir(dir), ["cookies.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a corrupt or schema-invalid file fails with CookieJarError and stays byte for byte", () =>
    Effect.gen(function*() {
      const { fs, file } = yield* tempJar
      const contents = [
        "{not json SECRET",
        JSON.stringify({ version: 2, cookies: [] }),
        JSON.stringify({ version: 1, cookies: [{ ...sampleCookie, value: "SECRET\r\nX-Injected: 1" }] }),
        JSON.stringify({ version: 1, cookies: [{ ...sampleCookie, name: "bad name", value: "SECRET" }] }),
        JSON.stringify({ version: 1, cookies: [{ ...sampleCookie, value: "SECRET", expires: "soon" }] }),
        ""
      ]
      for (const content of contents) {
        yield* fs.writeFileString(file, content)
        const before = yield* fs.readFile(file)
        const exit = yield* Effect.exit(withJar({ file }, (jar) => jar.cookies))
        assert.isTrue(Exit.isFailure(exit), content)
        const error = yield* Effect.flip(withJar({ file }, (jar) => jar.cookies))
        assert.strictEqual(error.reason, "corrupt")
        assert.strictEqual(error.path, file)
        assert.notInclude(error.message, "SECRET")
        assert.notInclude(JSON.stringify(error), "SECRET")
        assert.deepStrictEqual(yield* fs.readFile(file), before)
      }
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("onCorrupt: \"empty\" starts empty and leaves the file untouched until the first save", () =>
    Effect.gen(function*() {
      const { fs, dir, file } = yield* tempJar
      yield* fs.writeFileString(file, "{garbage")
      const before = yield* fs.readFile(file)
      const options = { file, onCorrupt: "empty" } as const
      // Made, read, closed without a change: untouched.
      assert.deepStrictEqual(yield* withJar(options, (jar) => jar.cookies), [])
      assert.deepStrictEqual(yield* fs.readFile(file), before)
      yield* withJar(options, (jar) =>
        Effect.gen(function*() {
          yield* jar.store(new URL("http://example.com/"), ["a=1; Max-Age=60"])
          assert.deepStrictEqual(yield* fs.readFile(file), before)
          yield* jar.save
        }))
      assert.strictEqual(JSON.parse(yield* fs.readFileString(file)).cookies[0].name, "a")
      assert.deepStrictEqual(yield* fs.readFile(`${file}.corrupt`), before)
      assert.strictEqual(yield* modeOf(`${file}.corrupt`), 0o600)
      assert.deepStrictEqual((yield* listDir(dir)).toSorted(), ["cookies.json", "cookies.json.corrupt"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("ClientCookies.layer loads and saves with its scope; layerMemory needs no file system", () =>
    Effect.gen(function*() {
      const { file } = yield* tempJar
      yield* Effect.gen(function*() {
        const jar = yield* CookieJar.ClientCookies
        yield* jar.store(new URL("http://example.com/"), ["a=1; Max-Age=60"])
      }).pipe(Effect.provide(CookieJar.ClientCookies.layer({ file })))
      const header = yield* Effect.flatMap(
        Effect.service(CookieJar.ClientCookies),
        (jar) => headerFor(jar, "http://example.com/")
      ).pipe(Effect.provide(CookieJar.ClientCookies.layer({ file })))
      assert.strictEqual(header, "a=1")
      const memory = yield* Effect.flatMap(Effect.service(CookieJar.ClientCookies), (jar) => jar.save).pipe(
        Effect.provide(CookieJar.ClientCookies.layerMemory),
        Effect.exit
      )
      assert.isTrue(Exit.isSuccess(memory))
      // `make` without a file is a memory jar whose `save` does nothing.
      const plain = yield* CookieJar.make()
      yield* plain.store(new URL("http://example.com/"), ["b=2; Max-Age=60"])
      yield* plain.save
      assert.strictEqual(yield* headerFor(plain, "http://example.com/"), "b=2")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

// ---------------------------------------------------------------------------
// Over real sockets

/** One request through undici with the jar applied by hand, as the pipeline does. */
const send = (jar: CookieJar.CookieJar, url: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const target = new URL(url)
    const cookie = yield* jar.cookieHeader(target)
    const request = cookie === undefined
      ? HttpClientRequest.get(target)
      : HttpClientRequest.setHeader(HttpClientRequest.get(target), "cookie", cookie)
    const response = yield* client.execute(request)
    const setCookie = response.headers["set-cookie"]
    yield* jar.store(target, setCookie === undefined ? [] : [setCookie])
    return (yield* response.json) as { readonly cookies?: Record<string, string> }
  })

/** The same server under another host name: `localhost` instead of `127.0.0.1`. */
const viaLocalhost = (url: string) => url.replace("//127.0.0.1:", "//localhost:")

describe("CookieJar over sockets", () => {
  it.effect("a cookie set by /cookies/set is echoed by /cookies, several at once too", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const jar = yield* CookieJar.makeMemory()
      yield* send(jar, server.urlFor("/cookies/set?a=1"))
      assert.deepStrictEqual((yield* send(jar, server.urlFor("/cookies"))).cookies, { a: "1" })
      yield* send(jar, server.urlFor("/cookies/set?b=2&c=3"))
      assert.deepStrictEqual((yield* send(jar, server.urlFor("/cookies"))).cookies, { a: "1", b: "2", c: "3" })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("host-only cookies stay with their origin: another port and another host name get none", () =>
    Effect.gen(function*() {
      const first = yield* TestServer.make()
      const second = yield* TestServer.make()
      const jar = yield* CookieJar.makeMemory()
      yield* send(jar, first.urlFor("/cookies/set?a=1"))
      yield* send(jar, viaLocalhost(second.urlFor("/cookies/set?b=2")))
      // Same host name, other server: cookies isolate by port, unlike RFC 6265 and browsers (RELIABILITY 6).
      assert.deepStrictEqual((yield* send(jar, second.urlFor("/cookies"))).cookies, {})
      // Other host name: only that host's cookies, and only from the port that set them.
      assert.deepStrictEqual((yield* send(jar, viaLocalhost(first.urlFor("/cookies")))).cookies, {})
      assert.deepStrictEqual((yield* send(jar, viaLocalhost(second.urlFor("/cookies")))).cookies, { b: "2" })
      assert.deepStrictEqual((yield* send(jar, first.urlFor("/cookies"))).cookies, { a: "1" })
      const sent = (yield* second.requests).filter((request) => request.path === "/cookies")
      assert.deepStrictEqual(sent.map((request) => request.headers["cookie"]), [undefined, "b=2"])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("/cookies/delete removes the cookie (Max-Age=0 and an Expires in 1970)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const server = yield* TestServer.make()
      const jar = yield* CookieJar.makeMemory()
      yield* send(jar, server.urlFor("/cookies/set?a=1&b=2"))
      yield* send(jar, server.urlFor("/cookies/delete?a"))
      assert.deepStrictEqual((yield* send(jar, server.urlFor("/cookies"))).cookies, { b: "2" })
      assert.deepStrictEqual(yield* names(jar), ["b"])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("/cookies/set-with: Domain=co.uk is refused, Max-Age is honoured on the Clock", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const jar = yield* CookieJar.makeMemory()
      yield* send(jar, server.urlFor("/cookies/set-with?name=psl&value=1&domain=co.uk"))
      yield* send(jar, server.urlFor("/cookies/set-with?name=short&value=1&max_age=5&httponly=1&samesite=Lax"))
      yield* send(jar, server.urlFor("/cookies/set-with?name=sec&value=1&secure=1"))
      assert.deepStrictEqual((yield* send(jar, server.urlFor("/cookies"))).cookies, { short: "1" })
      yield* TestClock.adjust("6 seconds")
      assert.deepStrictEqual((yield* send(jar, server.urlFor("/cookies"))).cookies, {})
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})

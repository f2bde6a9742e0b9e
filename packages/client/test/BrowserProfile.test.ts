import { assert, describe, it } from "@effect/vitest"
import * as ServerSuite from "@httpkit/testing/ServerSuite"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Random } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import * as Zlib from "node:zlib"
import * as BrowserProfile from "../src/BrowserProfile.ts"

const draws = (options: BrowserProfile.Options, count: number) =>
  Effect.gen(function*() {
    const service = yield* BrowserProfile.BrowserProfiles
    const out: Array<BrowserProfile.Profile> = []
    for (let i = 0; i < count; i++) out.push(yield* service.next)
    return out
  }).pipe(Effect.provide(BrowserProfile.layer(options)))

const names = (profiles: ReadonlyArray<BrowserProfile.Profile>) => profiles.map((profile) => profile.name)

const header = (profile: BrowserProfile.Profile, name: string) =>
  profile.headers.find(([candidate]) => candidate === name)?.[1]

const withHeader = (profile: BrowserProfile.Profile, name: string, value: string): BrowserProfile.Profile => ({
  ...profile,
  headers: profile.headers.map(([n, v]) => [n, n === name ? value : v] as const)
})

const { validate } = BrowserProfile

const assertProblem = (profile: BrowserProfile.Profile, fragment: string) =>
  assert.isTrue(validate(profile).some((problem) => problem.includes(fragment)), fragment)

const desktopNamesWithRandomSeed = (seed: string) =>
  draws({ family: "desktop" }, 20).pipe(Effect.map(names), Random.withSeed(seed))

const named = (name: string) => BrowserProfile.profiles.find((profile) => profile.name === name)!

describe("BrowserProfile", () => {
  it("every profile passes validate, and names are unique", () => {
    for (const profile of BrowserProfile.profiles) {
      assert.deepStrictEqual(validate(profile), [], profile.name)
    }
    assert.strictEqual(new Set(names(BrowserProfile.profiles)).size, BrowserProfile.profiles.length)
    const kinds = new Set(BrowserProfile.profiles.map((profile) => profile.name.split("-")[0]))
    for (const kind of ["chrome", "edge", "firefox", "safari", "samsung", "httpkit", "curl"]) {
      assert.isTrue(kinds.has(kind))
    }
  })

  it("Chromium brand lists match real Chrome", () => {
    // As Chrome 131 on Windows and Edge 136 send them.
    assert.strictEqual(
      header(named("chrome-131-windows"), "sec-ch-ua"),
      "\"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""
    )
    assert.strictEqual(
      header(named("edge-136-windows"), "sec-ch-ua"),
      "\"Chromium\";v=\"136\", \"Microsoft Edge\";v=\"136\", \"Not.A/Brand\";v=\"99\""
    )
    assert.strictEqual(header(named("chrome-140-android"), "sec-ch-ua-mobile"), "?1")
    assert.strictEqual(header(named("chrome-140-macos"), "sec-ch-ua-platform"), "\"macOS\"")
  })

  it("validate catches inconsistent profiles", () => {
    const chrome = named("chrome-131-windows")

    assertProblem(
      withHeader(chrome, "sec-ch-ua", "\"Google Chrome\";v=\"130\", \"Chromium\";v=\"130\", \"Not?A_Brand\";v=\"99\""),
      "Chromium is not version 131"
    )
    assertProblem(withHeader(chrome, "sec-ch-ua-mobile", "?1"), "sec-ch-ua-mobile")
    assertProblem(withHeader(chrome, "sec-ch-ua-platform", "\"macOS\""), "sec-ch-ua-platform")
    assertProblem(withHeader(chrome, "accept-encoding", "gzip, deflate, br, zstd, dcb"), "offers dcb")
    assertProblem({ ...chrome, family: "mobile" }, "family is mobile")
    assertProblem({ ...chrome, headers: chrome.headers.toReversed() }, "out of order")
    assertProblem(
      { ...chrome, headers: chrome.headers.filter(([name]) => name !== "sec-fetch-user") },
      "no sec-fetch-user"
    )
    assertProblem({ ...chrome, headers: [["host", "example.com"], ...chrome.headers] }, "transport")
    assertProblem({ ...chrome, headers: [...chrome.headers, ["Accept", "*/*"]] }, "lower-case")

    const firefox = named("firefox-140-linux")
    assertProblem(
      { ...firefox, headers: [["sec-ch-ua", header(chrome, "sec-ch-ua")!], ...firefox.headers] },
      "client hints"
    )
    assertProblem({ ...firefox, headers: firefox.headers.filter(([name]) => name !== "user-agent") }, "no user-agent")

    const bot = named("httpkit-bot")
    assertProblem(
      withHeader(bot, "user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
      "search engine"
    )
    assertProblem({ ...bot, headers: [...bot.headers, ["sec-fetch-mode", "navigate"]] }, "browser-only")
    assertProblem({ ...bot, family: "desktop" }, "unrecognised browser")
  })

  it("zstd is only advertised because node:zlib decodes it", () => {
    assert.strictEqual(typeof Zlib.zstdDecompressSync, "function")
    const text = "httpkit ".repeat(100)
    assert.strictEqual(Zlib.zstdDecompressSync(Zlib.zstdCompressSync(text)).toString(), text)
    for (const profile of BrowserProfile.profiles) {
      for (const coding of (header(profile, "accept-encoding") ?? "").split(", ").filter((c) => c !== "")) {
        assert.include(BrowserProfile.decodableEncodings, coding, profile.name)
      }
    }
  })

  it.effect("the same seed gives the same sequence; different seeds differ", () =>
    Effect.gen(function*() {
      const a = yield* draws({ family: "mixed", seed: 42 }, 50)
      const b = yield* draws({ family: "mixed", seed: 42 }, 50)
      const c = yield* draws({ family: "mixed", seed: 43 }, 50)
      assert.deepStrictEqual(names(a), names(b))
      assert.notDeepEqual(names(a), names(c))
      assert.isAbove(new Set(names(a)).size, 5)
    }))

  it.effect("each family yields only its own kind", () =>
    Effect.gen(function*() {
      for (const family of ["desktop", "mobile", "bot"] as const) {
        const drawn = yield* draws({ family, seed: 7 }, 300)
        assert.isTrue(drawn.every((profile) => profile.family === family), family)
        // Over 300 draws every profile of the family comes up.
        assert.deepStrictEqual(
          new Set(names(drawn)),
          new Set(names(BrowserProfile.profilesOf(family))),
          family
        )
      }
    }))

  it.effect("mixed yields every kind, mostly desktop", () =>
    Effect.gen(function*() {
      const drawn = yield* draws({ family: "mixed", seed: 2024 }, 4000)
      const count = (family: BrowserProfile.Profile["family"]) =>
        drawn.filter((profile) => profile.family === family).length
      assert.isAbove(count("bot"), 0)
      assert.isAbove(count("mobile"), 0)
      assert.isAbove(count("desktop"), count("mobile") + count("bot"))
      assert.approximately(count("desktop") / drawn.length, 0.65, 0.05)
      assert.approximately(count("bot") / drawn.length, 0.05, 0.02)
    }))

  it.effect("sticky keeps one profile; per-request rotates", () =>
    Effect.gen(function*() {
      const sticky = yield* draws({ family: "mixed", seed: 1, rotate: "sticky" }, 30)
      assert.strictEqual(new Set(names(sticky)).size, 1)
      const rotating = yield* draws({ family: "mixed", seed: 1 }, 30)
      assert.isAbove(new Set(names(rotating)).size, 1)
      // A sticky layer starts where a rotating one with the same seed does.
      assert.strictEqual(sticky[0]!.name, rotating[0]!.name)
    }))

  it.effect("without a seed, Effect's Random decides, so a seeded Random reproduces the sequence", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* desktopNamesWithRandomSeed("a"), yield* desktopNamesWithRandomSeed("a"))
      assert.notDeepEqual(yield* desktopNamesWithRandomSeed("a"), yield* desktopNamesWithRandomSeed("b"))
    }))
})

ServerSuite.describe("BrowserProfile over a socket", (it) => {
  it.effect("the server sees each profile's headers, values and relative order", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
      for (const profile of BrowserProfile.profiles) {
        const response = yield* http.execute(
          HttpClientRequest.get(server.urlFor("/echo")).pipe(HttpClientRequest.setHeaders(profile.headers))
        )
        const echoed = (yield* response.json) as { readonly headers: Record<string, string> }
        const sent = new Set(profile.headers.map(([name]) => name))
        const seen = Object.entries(echoed.headers).filter(([name]) => sent.has(name))
        assert.deepStrictEqual(seen, profile.headers.map(([name, value]) => [name, value]), profile.name)
      }
    }).pipe(Effect.provideService(HttpClient.TracerPropagationEnabled, false)))
})

/**
 * RELIABILITY 6, 7 and 8 for downloads, end to end: the downloader's
 * requests (the precheck's `HEAD`, the `GET`s, a resume's `Range`) go
 * through `ResilientClient`, which follows redirects. Two test servers (two
 * ports, two origins) and one over TLS record what reached them: credentials
 * given in `headers` never reach another origin, https to http and schemes
 * other than http(s) are refused before a byte is written, and neither the
 * sidecar nor an error carries the credentials or secret query parameters of
 * the original or the redirected URL. A resume after a redirect asks the
 * original URL again and re-validates against whatever it now redirects to.
 */
import { assert, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Redact from "@httpkit/core/Redact"
import * as Content from "@httpkit/testing/Content"
import * as TestServer from "@httpkit/testing/TestServer"
import * as TlsTest from "@httpkit/testing/TlsTest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { inspect } from "node:util"
import type * as DownloadConfig from "../src/DownloadConfig.ts"
import * as Downloader from "../src/Downloader.ts"
import { assertContent, expectedSha256, listing, quickRetry, tempFolder } from "./support/setup.ts"

type Server = TestServer.TestServer["Service"]

/** What the user hands the downloader: credentials, one header the client is told is secret, and one that is not. */
const credentials = {
  authorization: "Bearer s3cret-auth",
  cookie: "session=s3cret-cookie",
  "proxy-authorization": "Basic s3cret-proxy",
  "x-api-key": "s3cret-api-key",
  "x-tenant": "s3cret-tenant"
} as const
const secretNames = Object.keys(credentials)
const headers = { ...credentials, "x-trace": "visible" }

/** Two origins over plain HTTP, one over TLS, a client that trusts it and treats `x-tenant` as secret, a folder. */
const world = (downloaderOptions: DownloadConfig.Options = {}) =>
  Effect.gen(function*() {
    const certificate = yield* TlsTest.selfSigned()
    const first = yield* TestServer.make()
    const second = yield* TestServer.make()
    const secure = yield* TestServer.make({ tls: certificate })
    const client = yield* ResilientClient.make({
      retry: quickRetry,
      tls: { ca: certificate.cert },
      secretHeaders: ["x-tenant"]
    })
    const make = (options: DownloadConfig.Options) =>
      Effect.provideService(Downloader.make(options), ResilientClient.ResilientClient, client)
    const downloader = yield* make(downloaderOptions)
    const folder = yield* tempFolder
    return { first, second, secure, downloader, make, folder }
  })

const redirectTo = (server: Server, target: string, status: number, extra = "") =>
  server.urlFor(`/redirect-to?url=${encodeURIComponent(target)}&status=${status}${extra}`)

/** The requests a server saw for `path`, as method and the credentials among their headers. */
const credentialsSeen = (server: Server, path: string) =>
  Effect.map(server.requestsTo(path), (requests) =>
    requests.map((request) => ({
      method: request.method,
      secrets: secretNames.filter((name) => request.headers[name] !== undefined),
      trace: request.headers["x-trace"]
    })))

/** `url` with user-info (`user:password@`). */
const withUserInfo = (url: string, userInfo: string): string => url.replace("://", `://${userInfo}@`)

/** Everything a caller can print of an error: its message, `toString`, its encoding and `inspect`. */
const shown = (error: unknown): string =>
  [String(error), (error as Error).message, JSON.stringify(error), inspect(error, { depth: 10 })].join("\n")

it.live("a download with Authorization, Cookie, Proxy-Authorization, X-Api-Key and a header marked secret, redirected 301, 302, 307 and 308 to another origin: that origin's HEAD and GET carry none of them (X-Trace kept), the file arrives verified", () =>
  Effect.gen(function*() {
    const { downloader, first, folder, second } = yield* world()
    for (const [i, status] of [301, 302, 307, 308].entries()) {
      const name = `x${status}.bin`
      const target = second.urlFor(`/files/${name}?size=200000&seed=${70 + i}`)
      const path = Path.join(folder, name)
      const result = yield* downloader.download(redirectTo(first, target, status), path, {
        headers,
        checksum: `sha256:${expectedSha256(70 + i, 200_000)}`
      })
      yield* assertContent(path, 70 + i, 200_000)
      assert.isTrue(result.verified)
      const there = yield* credentialsSeen(second, `/files/${name}`)
      assert.deepStrictEqual(
        there,
        [{ method: "HEAD", secrets: [], trace: "visible" }, { method: "GET", secrets: [], trace: "visible" }],
        `status ${status}`
      )
    }
    // The first origin, where the user sent them, received every one on every request.
    const here = yield* credentialsSeen(first, "/redirect-to")
    assert.strictEqual(here.length, 8)
    for (const request of here) assert.deepStrictEqual(request.secrets, secretNames)
  }).pipe(Effect.scoped))

it.live("a same-origin redirect (307 to a relative path, 302 to an absolute one) keeps every header the user gave on the HEAD and the GET", () =>
  Effect.gen(function*() {
    const { downloader, first, folder } = yield* world()
    const relative = yield* downloader.download(
      redirectTo(first, "/files/same1.bin?size=100000&seed=74", 307),
      Path.join(folder, "same1.bin"),
      { headers }
    )
    const absolute = yield* downloader.download(
      redirectTo(first, first.urlFor("/files/same2.bin?size=100000&seed=75"), 302),
      Path.join(folder, "same2.bin"),
      { headers }
    )
    yield* assertContent(relative.path, 74, 100_000)
    yield* assertContent(absolute.path, 75, 100_000)
    for (const name of ["same1.bin", "same2.bin"]) {
      const seen = yield* credentialsSeen(first, `/files/${name}`)
      assert.deepStrictEqual(seen, [
        { method: "HEAD", secrets: secretNames, trace: "visible" },
        { method: "GET", secrets: secretNames, trace: "visible" }
      ])
    }
  }).pipe(Effect.scoped))

it.live("a redirect from https to http is refused with RedirectError (downgrade) at the precheck: the http origin sees nothing, nothing is written, no secret in the error", () =>
  Effect.gen(function*() {
    const { downloader, folder, second, secure } = yield* world()
    const target = second.urlFor("/files/down.bin?size=1000&seed=76&token=s3cret-target")
    const url = redirectTo(secure, target, 307, "&access_token=s3cret-origin")
    const error = yield* Effect.flip(downloader.download(url, Path.join(folder, "down.bin"), { headers }))
    assert.strictEqual(error._tag, "RedirectError")
    if (error._tag === "RedirectError") assert.strictEqual(error.reason, "downgrade")
    assert.notInclude(shown(error), "s3cret")
    assert.deepStrictEqual(yield* second.requests, [])
    assert.deepStrictEqual(yield* listing(folder), [])
    // The refusal came from the HEAD: no GET was sent to the https origin either.
    assert.deepStrictEqual((yield* secure.requests).map((request) => request.method), ["HEAD"])
  }).pipe(Effect.scoped))

it.live("redirects to file:, data:, ftp: and javascript: are refused with RedirectError (scheme): nothing is written, the target file untouched, no secret in the error", () =>
  Effect.gen(function*() {
    const { downloader, first, folder } = yield* world()
    const outside = yield* tempFolder
    const victim = Path.join(outside, "victim.txt")
    yield* Effect.promise(() => Fs.writeFile(victim, "keep me"))
    const targets = [
      `file://${victim}`,
      "data:application/octet-stream;base64,AAAA",
      "ftp://127.0.0.1/x.bin",
      "javascript:alert(1)"
    ]
    for (const [i, target] of targets.entries()) {
      const error = yield* Effect.flip(
        downloader.download(redirectTo(first, target, 302, "&token=s3cret-origin"), Path.join(folder, `s${i}.bin`), {
          headers
        })
      )
      assert.strictEqual(error._tag, "RedirectError", target)
      if (error._tag === "RedirectError") assert.strictEqual(error.reason, "scheme", target)
      assert.notInclude(shown(error), "s3cret", target)
    }
    assert.deepStrictEqual(yield* listing(folder), [])
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(victim, "utf8")), "keep me")
  }).pipe(Effect.scoped))

it.live("a download broken after a cross-origin redirect leaves a sidecar without secrets (user-info, token parameters) of either URL, none in errors, progress or the result either; the resume asks the original URL again and sends Range and the final file's ETag as If-Range to the redirected origin, which answers 206", () =>
  Effect.gen(function*() {
    const { downloader, first, folder, make, second } = yield* world()
    const size = 2_000_000
    // User-info and token-like parameters in both URLs.
    const target = withUserInfo(
      second.urlFor(`/files/r.bin?size=${size}&seed=77&drop_after=600000&drop_times=1&token=s3cret-target`),
      "bob:s3cret-target-password"
    )
    const url = withUserInfo(
      redirectTo(first, target, 302, "&access_token=s3cret-origin"),
      "alice:s3cret-origin-password"
    )
    const path = Path.join(folder, "r.bin")
    // A first run that may not continue a broken body stops at the first break, its part and sidecar left.
    const impatient = yield* make({ maxStalls: 1 })
    const broken = yield* Effect.flip(impatient.download(url, path, { headers }))
    assert.include(["ConnectionError", "BodyLengthError"], broken._tag)
    assert.notInclude(shown(broken), "s3cret")
    const sidecarText = yield* Effect.promise(() => Fs.readFile(`${path}.part.json`, "utf8"))
    assert.notInclude(sidecarText, "s3cret")
    const sidecar = JSON.parse(sidecarText) as { url: string; etag: string; segments: Array<{ done: number }> }
    // The sidecar names the URL the user gave (redacted), and the validator of the file the redirect reached.
    assert.strictEqual(sidecar.url, Redact.url(url))
    const etag = Content.entityTag({ name: "r.bin", size, seed: 77, encoding: "identity" })
    assert.strictEqual(sidecar.etag, etag)
    const done = sidecar.segments[0]!.done
    assert.isAbove(done, 0)

    const progress: Array<string> = []
    const result = yield* downloader.download(url, path, {
      headers,
      checksum: `sha256:${expectedSha256(77, size)}`,
      onProgress: (event) => progress.push(JSON.stringify(event))
    })
    yield* assertContent(path, 77, size)
    assert.notInclude([...progress, JSON.stringify(result), inspect(result)].join("\n"), "s3cret")
    assert.isTrue(result.resumed)
    assert.strictEqual(result.restarts, 0)
    assert.strictEqual(result.bytesTransferred, size - done)
    const originGets = (yield* first.requestsTo("/redirect-to")).filter((request) => request.method === "GET")
    assert.strictEqual(originGets.length, 2)
    assert.strictEqual(originGets[1]!.headers["range"], `bytes=${done}-${size - 1}`)
    const targetGets = (yield* second.requestsTo("/files/r.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(targetGets.length, 2)
    assert.strictEqual(targetGets[1]!.headers["range"], `bytes=${done}-${size - 1}`)
    assert.strictEqual(targetGets[1]!.headers["if-range"], etag)
    for (const request of yield* second.requests) {
      assert.deepStrictEqual(secretNames.filter((name) => name in request.headers), [])
    }
    assert.deepStrictEqual(yield* listing(folder), ["r.bin"])
  }).pipe(Effect.scoped))

it.live("a resume after a redirect whose target changed meanwhile (mutate=1) re-validates against the redirected file: it restarts from zero, restarts 1, the new content verified", () =>
  Effect.gen(function*() {
    const { first, folder, make, second } = yield* world()
    const size = 2_000_000
    const target = second.urlFor(`/files/rm.bin?size=${size}&seed=78&mutate=1&drop_after=600000&drop_times=1`)
    const url = redirectTo(first, target, 307)
    const path = Path.join(folder, "rm.bin")
    const impatient = yield* make({ maxStalls: 1 })
    yield* Effect.flip(impatient.download(url, path))
    const result = yield* (yield* make({})).download(url, path, {
      checksum: `sha256:${expectedSha256(Content.mutatedSeed(78), size)}`
    })
    yield* assertContent(path, Content.mutatedSeed(78), size)
    assert.strictEqual(result.restarts, 1)
    assert.isFalse(result.resumed)
    assert.isTrue(result.verified)
  }).pipe(Effect.scoped))
